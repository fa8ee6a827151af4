package sprag

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Start starts the service: it runs the OnStart hook of the struct that
// embeds the Service, if it has one, and moves the service to Running.
//
// Start is idempotent and safe from any goroutine: a second call waits for
// the first to finish and returns its result. A service that was stopped
// does not start again ([ErrStopped]). When OnStart returns an error or
// panics, everything it registered is torn down (bounded by ctx), the
// service is Failed, and Start returns the error wrapped with the service's
// name. When Stop arrives while OnStart runs, OnStart's ctx is cancelled
// and Start returns an error wrapping [ErrStopped].
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.self == nil {
		s.mu.Unlock()
		return fmt.Errorf("start service: %w: call sprag.Bind first", ErrNotBound)
	}
	switch s.State() {
	case Created:
	case Starting:
		done := s.startDone
		s.mu.Unlock()
		select {
		case <-done:
			return s.startResult()
		case <-ctx.Done():
			return fmt.Errorf("start service %q: waiting for another Start: %w", s.Name(), context.Cause(ctx))
		}
	case Running:
		s.mu.Unlock()
		return nil
	case Failed:
		defer s.mu.Unlock()
		return s.startErr
	default: // Stopping, Stopped
		defer s.mu.Unlock()
		return fmt.Errorf("start service %q: %w", s.name, ErrStopped)
	}
	s.setState(Starting)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	startCtx, cancelStart := context.WithCancel(ctx)
	s.startCancel = cancelStart
	s.mu.Unlock()

	err := s.runOnStart(startCtx)
	cancelStart()

	s.mu.Lock()
	s.startCancel = nil
	switch {
	case err == nil && s.State() == Starting:
		s.setState(Running)
		s.startedAt = time.Now()
		close(s.startDone)
		s.mu.Unlock()
		s.Logger().Info("service started")
		return nil
	case err == nil:
		// Stop began while OnStart ran; Stop tears down and runs OnStop.
		s.onStartOK = true
		s.startErr = fmt.Errorf("start service %q: %w while starting", s.name, ErrStopped)
		close(s.startDone)
		defer s.mu.Unlock()
		return s.startErr
	}
	if s.State() != Starting {
		// Stop began while OnStart ran; Stop tears down.
		s.startErr = fmt.Errorf("start service %q: %w", s.name, err)
		close(s.startDone)
		defer s.mu.Unlock()
		return s.startErr
	}
	s.setState(Failed)
	s.mu.Unlock()

	teardownErr := s.teardown(ctx, false, Failed)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startErr = fmt.Errorf("start service %q: %w", s.name, errors.Join(err, teardownErr))
	close(s.startDone)
	return s.startErr
}

// runOnStart calls the OnStart hook with panic recovery.
func (s *Service) runOnStart(ctx context.Context) error {
	st, ok := s.self.(Starter)
	if !ok {
		return nil
	}
	err := safely(func() error { return st.OnStart(ctx) })
	var pe *PanicError
	if errors.As(err, &pe) {
		s.logFailure(KindOnStart, "", "", err) // Start returns the error; only the log shows the stack
	}
	return err
}

func (s *Service) startResult() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startErr
}

// Stop stops the service and tears down everything its managed methods
// created, in this order:
//
//  1. OnStop(ctx), if the struct has it and OnStart succeeded;
//  2. intervals and timeouts are cancelled;
//  3. the service's context, seen by tasks and callbacks, is cancelled;
//  4. listeners are removed from the bus;
//  5. running callbacks and tasks are waited for, until ctx ends;
//  6. adopted children are stopped, the last adopted first;
//  7. cleanups run, the last added first.
//
// Every step runs even when an earlier one failed, and Stop returns all
// their errors joined, wrapped with the service's name. Work still running
// when ctx ends is named in a *[StuckError]; Stop does not wait past ctx's
// end. With a context that has already ended, steps 2 to 4 still happen at
// once and steps 6 and 7 still run, in order, on a goroutine of their own
// that [Service.Done] tracks; Stop only skips the waiting.
//
// Stop is idempotent and safe from any goroutine, also while Start runs: it
// then cancels OnStart's context and waits for Start to return before it
// tears down. A second Stop waits for the first, until its own ctx ends,
// and returns nil; so does Stop on a stopped or failed service.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.self == nil {
		s.mu.Unlock()
		return nil
	}
	switch s.State() {
	case Created:
		s.setState(Stopped)
		s.startErr = fmt.Errorf("start service %q: %w", s.name, ErrStopped)
		close(s.startDone)
		close(s.stopDone)
		s.mu.Unlock()
		return nil
	case Starting:
		s.setState(Stopping)
		s.startCancel()
		startDone := s.startDone
		s.mu.Unlock()
		var stuck error
		select {
		case <-startDone:
		case <-ctx.Done():
			stuck = &StuckError{Service: s.Name(), Running: []Activity{{Kind: KindOnStart}}}
		}
		s.mu.Lock()
		runOnStop := s.onStartOK
		s.mu.Unlock()
		return s.wrapStop(errors.Join(stuck, s.teardown(ctx, runOnStop, Stopped)))
	case Running:
		s.setState(Stopping)
		s.mu.Unlock()
		return s.wrapStop(s.teardown(ctx, true, Stopped))
	default: // Stopping, Stopped, Failed
		done := s.stopDone
		s.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		return nil
	}
}

func (s *Service) wrapStop(err error) error {
	if err != nil {
		return fmt.Errorf("stop service %q: %w", s.Name(), err)
	}
	return nil
}

// Done returns a channel that is closed when the service has stopped and
// all of its teardown has finished, including steps that outlived Stop's
// context. It is also closed when Start failed, once its teardown is over.
// Before Bind it returns nil.
func (s *Service) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopDone
}

// teardown runs the stop sequence; at its very end the service moves to
// the state end and Done's channel closes. Only the first call tears down:
// a Stop whose context ended while OnStart ran and a failing OnStart may
// both get here.
func (s *Service) teardown(ctx context.Context, runOnStop bool, end State) error {
	s.mu.Lock()
	if s.tearingDown {
		s.mu.Unlock()
		return nil
	}
	s.tearingDown = true
	s.mu.Unlock()

	var errs []error
	var bg sync.WaitGroup // OnStop, when it outlives ctx

	// 1. OnStop.
	if st, ok := s.self.(Stopper); ok && runOnStop {
		errs = append(errs, s.bounded(ctx, &bg, &activity{kind: KindOnStop}, st.OnStop))
	}

	// 2-4. Timers, the service context, listeners.
	s.mu.Lock()
	timers, subs, cancel := s.timers, s.subs, s.cancel
	s.stopCtx = ctx // work that drains at stop (queues, processes) learns the deadline
	candidates := s.candidatesLocked(timers, subs)
	s.timers, s.subs, s.tasks = nil, nil, nil
	s.mu.Unlock()
	for t := range timers {
		t.cancel()
	}
	if cancel != nil {
		cancel()
	}
	for _, sub := range subs {
		sub.sub.Unsubscribe()
	}

	// 5. Wait for running work.
	errs = append(errs, s.waitIdle(ctx, candidates))

	// 6-7. Children and cleanups, on a goroutine that outlives ctx if it
	// must, so that they run in order even when Stop returns early.
	s.mu.Lock()
	children, cleanups := s.children, s.cleanups
	s.children, s.cleanups = nil, nil
	s.mu.Unlock()
	chainDone := make(chan error, 1)
	go func() {
		bg.Wait() // OnStop, if it outlived ctx, still comes first
		err := s.stopChildrenAndCleanups(ctx, children, cleanups)
		s.mu.Lock()
		s.setState(end)
		close(s.stopDone)
		s.mu.Unlock()
		s.Logger().Info("service " + end.String())
		chainDone <- err
	}()
	select {
	case err := <-chainDone:
		errs = append(errs, err)
	case <-ctx.Done():
		s.mu.Lock()
		if s.current != nil {
			errs = append(errs, &StuckError{Service: s.name, Running: []Activity{{Kind: s.current.kind, Label: s.current.label}}})
		}
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

// stopChildrenAndCleanups stops children, the last adopted first, then runs
// cleanups, the last added first. Each goes on after a failure.
func (s *Service) stopChildrenAndCleanups(ctx context.Context, children []*Service, cleanups []cleanup) error {
	var errs []error
	for i := len(children) - 1; i >= 0; i-- {
		c := children[i]
		s.setCurrent(&activity{kind: KindChild, label: c.Name()})
		errs = append(errs, c.Stop(ctx))
		<-c.Done() // a child's teardown may outlive ctx; the next step waits for it
	}
	for i := len(cleanups) - 1; i >= 0; i-- {
		c := cleanups[i]
		s.setCurrent(c.activity)
		errs = append(errs, s.call(ctx, c.activity, c.fn))
	}
	s.setCurrent(nil)
	return errors.Join(errs...)
}

func (s *Service) setCurrent(a *activity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = a
}

// bounded runs fn on its own goroutine and waits for it until ctx ends.
// When ctx ends first it returns a *StuckError; fn goes on, bg tracks it,
// and a failure it reports later is logged.
func (s *Service) bounded(ctx context.Context, bg *sync.WaitGroup, a *activity, fn func(context.Context) error) error {
	done := make(chan error, 1)
	bg.Add(1)
	go func() {
		defer bg.Done()
		done <- s.call(ctx, a, fn)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return &StuckError{Service: s.Name(), Running: []Activity{{Kind: a.kind, Label: a.label}}}
	}
}
