package sprag

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/petermattis/goid"
)

// Start starts the service: it runs the OnStart hook of the struct that
// embeds the Service, if it has one, and moves the service to Running.
//
// Start is idempotent and safe from any goroutine: every call, also one
// made while another runs, returns the result of the one start there is.
// A service that was stopped does not start again ([ErrStopped]). When
// OnStart returns an error or panics, everything it registered is torn
// down (bounded by ctx), the service is Failed, and Start returns the
// error wrapped with the service's name. So it is when OnStart ends its
// goroutine (runtime.Goexit, as a test's FailNow does): the service is
// Failed and torn down before that goroutine ends. A managed method that was called
// before Start (in a constructor, say) makes Start fail too, with an
// error naming the call and its file and line: what it asked for never
// existed. When Stop arrives while OnStart runs, OnStart's ctx is
// cancelled and Start returns an error wrapping [ErrStopped].
func (s *Service) Start(ctx context.Context) error {
	sc := s.sc()
	sc.mu.Lock()
	if s.self == nil {
		sc.mu.Unlock()
		return fmt.Errorf("start service: %w: call sprag.Bind first", ErrNotBound)
	}
	switch s.State() {
	case Created:
	case Running:
		sc.mu.Unlock()
		return nil
	case Stopping, Stopped:
		if s.startErr == nil {
			sc.mu.Unlock()
			return fmt.Errorf("start service %q: %w", sc.name, ErrStopped)
		}
		fallthrough
	default: // Starting, Failed: the one start's result
		done := s.startDone
		sc.mu.Unlock()
		select {
		case <-done:
			return s.startResult()
		case <-ctx.Done():
			return fmt.Errorf("start service %q: waiting for another Start: %w", s.Name(), context.Cause(ctx))
		}
	}
	sc.observed.Store(sc.obs.Resolve(ctx)) // the global providers as they are now, for the service's life and its figures
	s.setState(Starting)
	s.scope.obs.Began()
	refused := errors.Join(sc.refused...)
	sc.refused = nil
	sc.phase.Store(phaseOpen)
	startCtx, cancelStart := context.WithCancel(ctx)
	s.startCancel = cancelStart
	sc.mu.Unlock()

	err := refused
	if err == nil {
		exited := true
		defer func() {
			if exited { // OnStart ended the goroutine: runtime.Goexit, as t.FailNow does
				cancelStart()
				_ = s.finishStart(ctx, errGoexit)
			}
		}()
		err = s.runOnStart(startCtx)
		exited = false
	}
	cancelStart()
	return s.finishStart(ctx, err)
}

// errGoexit is the start's error when OnStart ended its goroutine.
var errGoexit = errors.New("OnStart ended its goroutine (runtime.Goexit, as a test's FailNow does)")

// finishStart records the result of OnStart, err: the service runs, or
// it fails and is torn down. It returns Start's result.
func (s *Service) finishStart(ctx context.Context, err error) error {
	sc := s.sc()
	sc.mu.Lock()
	s.startCancel = nil
	if err == nil && s.State() == Starting {
		s.setState(Running)
		s.onStartOK = true
		s.startedAt = time.Now()
		close(s.startDone)
		sc.mu.Unlock()
		s.scope.obs.Started(nil)
		s.Logger().Info("service started")
		return nil
	}
	if s.State() != Starting { // Stop began while OnStart ran
		s.onStartOK = err == nil
		if err == nil {
			s.startErr = fmt.Errorf("start service %q: %w while starting", sc.name, ErrStopped)
		} else {
			s.startErr = fmt.Errorf("start service %q: %w while starting: %w", sc.name, ErrStopped, err)
		}
		selfStop := s.selfStop
		close(s.startDone)
		sc.mu.Unlock()
		if selfStop { // OnStart called Stop, which cannot wait for it: tear down here
			_ = s.teardown(ctx)
		}
		return s.startResult()
	}
	s.setState(Failed)
	s.startErr = fmt.Errorf("start service %q: %w", sc.name, err)
	sc.phase.Store(phaseClosing)
	sc.mu.Unlock()

	if teardownErr := sc.teardown(ctx, nil, nil); teardownErr != nil {
		sc.mu.Lock()
		s.startErr = fmt.Errorf("start service %q: %w", sc.name, errors.Join(err, teardownErr))
		sc.mu.Unlock()
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	close(s.startDone)
	s.scope.obs.Started(s.startErr)
	return s.startErr
}

// runOnStart calls the OnStart hook with panic recovery, as work of the
// scope.
func (s *Service) runOnStart(ctx context.Context) error {
	st, ok := s.self.(Starter)
	if !ok {
		return nil
	}
	slot := s.scope.runs.Enter(&s.startAct.Work)
	defer s.scope.runs.Leave(&s.startAct.Work, slot)
	err := Safely(func() error { return st.OnStart(ctx) })
	var pe *PanicError
	if errors.As(err, &pe) {
		s.scope.logFailure(KindOnStart, "", "", err) // Start returns the error; only the log shows the stack
	}
	return err
}

func (s *Service) startResult() error {
	s.scope.mu.Lock()
	defer s.scope.mu.Unlock()
	return s.startErr
}

// Stop stops the service: OnStop runs first, if the struct has it and
// OnStart succeeded, then the service's [Scope] is closed. In full:
//
//  1. OnStop(ctx); from this moment the service accepts no new work and
//     none of its listeners is called;
//  2. intervals and timeouts are cancelled;
//  3. the service's context, seen by timer runs, and every task's own
//     context are cancelled;
//  4. listeners and other callbacks are removed;
//  5. running timer runs, tasks and callbacks are waited for, until ctx
//     ends;
//  6. adopted children are stopped, the last adopted first;
//  7. cleanups run, the last added first.
//
// Every step runs even when an earlier one failed, and Stop returns all
// their errors joined, wrapped with the service's name. Work still running
// when ctx ends is named in a *[StuckError]; Stop does not wait past ctx's
// end. With a context that has already ended, steps 2 to 4 still happen at
// once and steps 6 and 7 still run, in order, on a goroutine of their own
// that [Service.Done] tracks; Stop only skips the waiting. The service is
// Stopped, and Done closes, once everything it started has returned.
//
// Stop is safe from any goroutine, also from the service's own work: Stop
// called from an interval, a timeout, a task, a listener or a primitive's
// callback of the service does not wait for the run it was called from
// (nor for OnStart, when OnStart calls it); it does the rest and returns,
// and that run's own return is what completes the stop. Called from the
// work of an adopted child, Stop returns once steps 1 to 5 are done:
// stopping the children and the cleanups, which wait for that work, go
// on in the background until Done. Stop is
// idempotent: a second Stop waits for the first, until its own ctx ends,
// and returns nil; from the service's own work it returns nil at once. So
// does Stop on a stopped or failed service. Stop while Start runs cancels
// OnStart's context and waits for Start to return before it tears down;
// when ctx ends first, Stop names OnStart in its *[StuckError] and does
// the rest as with an ended ctx, and OnStop still runs once OnStart has
// returned, if it succeeded.
func (s *Service) Stop(ctx context.Context) error {
	sc := s.sc()
	sc.mu.Lock()
	if s.self == nil {
		sc.mu.Unlock()
		return nil
	}
	switch s.State() {
	case Created:
		s.setState(Stopped)
		s.startErr = fmt.Errorf("start service %q: %w", sc.name, ErrStopped)
		close(s.startDone)
		sc.phase.Store(phaseClosing)
		sc.mu.Unlock()
		return s.teardown(ctx)
	case Starting:
		s.setState(Stopping)
		sc.phase.Store(phaseClosing)
		s.startCancel()
		if s.startAct.On(goid.Get()) > 0 {
			s.selfStop = true // Start tears down once OnStart returns
			sc.mu.Unlock()
			return nil
		}
		startDone := s.startDone
		sc.mu.Unlock()
		select {
		case <-startDone:
		case <-ctx.Done(): // teardown names OnStart, and runs OnStop after it if it succeeds
		}
		return s.teardown(ctx)
	case Running:
		s.setState(Stopping)
		sc.phase.Store(phaseClosing)
		sc.mu.Unlock()
		return s.teardown(ctx)
	default: // Stopping, Stopped, Failed
		sc.mu.Unlock()
		return sc.waitDone(ctx)
	}
}

// teardown runs OnStop, when OnStart succeeded, and closes the scope; the
// error is wrapped with the service's name.
func (s *Service) teardown(ctx context.Context) (err error) {
	s.scope.obs.Began()
	defer func() { s.scope.obs.Stopped(err) }()
	sc := &s.scope
	sc.mu.Lock()
	// Read together: finishStart sets onStartOK and closes startDone under mu.
	onStop, startDone, starting := s.onStartOK, s.startDone, !closed(s.startDone)
	sc.mu.Unlock()
	st, _ := s.self.(Stopper)
	first, fn := &s.stopAct, (func(context.Context) error)(nil)
	switch {
	case onStop && st != nil:
		fn = st.OnStop
	case starting:
		// Stop's ctx ended while OnStart ran: the first step waits for
		// OnStart, and is named after it, then runs OnStop if it succeeded.
		// Stop has returned by then: a failure of OnStop is logged.
		first = &s.startAct
		fn = func(ctx context.Context) error {
			<-startDone
			sc.mu.Lock()
			ok := s.onStartOK
			sc.mu.Unlock()
			if !ok || st == nil {
				return nil
			}
			slot := sc.runs.Enter(&s.stopAct.Work)
			defer sc.runs.Leave(&s.stopAct.Work, slot)
			_ = sc.call(ctx, &s.stopAct, st.OnStop)
			return nil
		}
	}
	if err := sc.teardown(ctx, first, fn); err != nil {
		return fmt.Errorf("stop service %q: %w", s.Name(), err)
	}
	return nil
}

// finished is the scope's last word: the service is Stopped, or stays
// Failed, when everything it started has returned.
func (s *Service) finished() {
	if s.State() != Failed {
		s.setState(Stopped)
	}
	s.Logger().Info("service " + s.State().String())
}

// setState changes the state, and records it; the caller holds scope.mu
// or is the scope's last step.
func (s *Service) setState(st State) {
	s.state.Store(int32(st))
	s.scope.obs.State(int(st))
}
