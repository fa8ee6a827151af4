package sprag

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/petermattis/goid"

	"github.com/sprag-go/sprag/sprag/internal/runs"
)

// Close closes the scope and tears down everything it owns, in this
// order:
//
//  1. no new work is accepted (managed methods report [ErrNotRunning]);
//  2. intervals and timeouts are cancelled;
//  3. the scope's context, seen by timer runs, and every task's own
//     context are cancelled;
//  4. callbacks are closed: bus listeners are removed, and none is called
//     from then on, also by an emit already under way;
//  5. running timer runs, tasks and callback calls are waited for, until
//     ctx ends;
//  6. adopted children are stopped, the last adopted first;
//  7. cleanups run, the last added first.
//
// Every step runs even when an earlier one failed, and Close returns all
// their errors joined. Work still running when ctx ends is named in a
// *[StuckError]; Close never waits past ctx's end. With a context that
// has already ended, steps 2 to 4 still happen at once and steps 6 and 7
// still run, in order, on a goroutine of their own that [Scope.Done]
// tracks; Close only skips the waiting.
//
// Close called from the scope's own work (a timer run, a task, a
// callback) does not wait for the runs on its caller's goroutine, which
// cannot end before Close returns: it waits for the others, does the rest,
// and returns; Done closes once those runs have returned too. Called from
// the work of an adopted child (or of its children), Close returns after
// step 5: steps 6 and 7, which wait for that work, go on in the
// background, and Done closes once they have run.
//
// Close is idempotent and safe from any goroutine: a second call waits
// for the first, until its own ctx ends, and returns nil. The scope of a
// [Service] is closed by the service's Stop, which runs OnStop first;
// Close on it returns an error wrapping [ErrInvalidArgument].
func (s *Scope) Close(ctx context.Context) error {
	s.lock()
	if s.owner != nil {
		name := s.name
		s.mu.Unlock()
		return fmt.Errorf("close the scope of service %q: %w: stop the service instead", name, ErrInvalidArgument)
	}
	if s.closing {
		s.mu.Unlock()
		return s.waitDone(ctx)
	}
	s.phase.Store(phaseClosing)
	s.mu.Unlock()
	return s.teardown(ctx, nil, nil)
}

// waitDone waits, for a second Close or Stop, until the first has torn
// down and returned, or ctx ends. Called from the scope's own work it
// returns at once: that work is what the first one may be waiting for.
func (s *Scope) waitDone(ctx context.Context) error {
	if s.ownWork(goid.Get()) {
		return nil
	}
	for _, ch := range []chan struct{}{s.tornDown, s.stopped} {
		select {
		case <-ch:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// descendantWork reports whether goroutine g runs work of a child of the
// scope, or of a child's child.
func (s *Scope) descendantWork(g int64) bool {
	s.mu.Lock()
	children := slices.Clone(s.children)
	s.mu.Unlock()
	for _, c := range children {
		if c.scope.ownWork(g) || c.scope.descendantWork(g) {
			return true
		}
	}
	return false
}

// ownWork reports whether goroutine g runs work of the scope.
func (s *Scope) ownWork(g int64) bool {
	if s.chainG.Load() == g {
		return true
	}
	s.mu.Lock()
	acts := s.activitiesLocked()
	s.mu.Unlock()
	for _, a := range acts {
		if a.On(g) > 0 {
			return true
		}
	}
	return false
}

// teardown runs steps 2 to 7 of Close, after first, OnStop for a service,
// which runs as work of the scope with ctx. Only the first call tears
// down. The scope's done channel closes once everything has returned.
func (s *Scope) teardown(ctx context.Context, firstAct *activity, first func(context.Context) error) error {
	s.lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.mu.Unlock()

	g := goid.Get()
	var errs []error
	firstDone := make(chan struct{})
	if first != nil {
		errs = append(errs, s.bounded(ctx, firstAct, first, firstDone))
	} else {
		close(firstDone)
	}

	// 2-4. Timers, the scope's context, callbacks.
	s.mu.Lock()
	// A copy: Callback.Close deletes from the map while step 4 runs.
	callbacks := slices.Collect(maps.Keys(s.callbacks))
	s.stopCtx = ctx // work that drains at stop (queues, processes) learns the deadline
	acts := s.activitiesLocked()
	// Close waits for OnStop (first) and OnStart (which a Stop during the
	// start waits for itself) on their own, and names them there.
	waitFor := slices.DeleteFunc(slices.Clone(acts), func(a *activity) bool {
		return a == firstAct || s.owner != nil && a == &s.owner.startAct
	})
	tasks := s.tasks // kept in s.tasks and s.callbacks: ownWork finds a Stop from them
	for s.timers.Len() > 0 {
		s.timers.First().endLocked()
	}
	for t := range s.running {
		t.endLocked()
	}
	if s.wheel != nil {
		s.wheel.Stop()
	}
	s.mu.Unlock()
	s.cancel()
	for _, t := range tasks {
		t.cancelRun()
	}
	for _, cb := range callbacks {
		cb.close()
	}

	// 5. Wait for running work, but the runs of the caller's goroutine.
	var self int32
	for _, a := range acts {
		self += a.On(g)
	}
	errs = append(errs, s.waitIdle(ctx, waitFor, g, tasks))
	// Called from the work of a child (or a child's child), which step 6
	// waits for: that work cannot end before Close returns.
	fromChild := s.descendantWork(g)

	// 6-7. Children and cleanups, on a goroutine that outlives ctx if it
	// must, so that they run in order even when Close returns early.
	s.mu.Lock()
	children, cleanups := s.children, s.cleanups
	s.children, s.cleanups, s.names = nil, nil, nil
	s.mu.Unlock()
	chainErr := make(chan error, 1) // the steps' errors, sent as current becomes nil
	chainDone := make(chan struct{}, 1)
	go func() {
		s.chainG.Store(goid.Get())
		<-firstDone // OnStop, if it outlived ctx, still comes first
		s.stopChildrenAndCleanups(ctx, children, cleanups, chainErr)
		s.chainG.Store(0)
		if parent := s.parentScope(); parent != nil {
			parent.forget(s.ownerOf()) // its name is free once Close returns
		}
		close(s.tornDown)
		if self > 0 { // the caller's runs end only once Close has returned
			chainDone <- struct{}{}
		}
		_ = s.waitIdle(context.WithoutCancel(ctx), acts, 0, nil) // every run has returned, however long it takes
		for _, c := range children {
			<-c.Done()
		}
		s.finish()
		if self == 0 {
			chainDone <- struct{}{}
		}
	}()
	if fromChild { // steps 6 and 7 go on in the background, as after an ended ctx; Done tracks them
		close(s.stopped)
		return errors.Join(errs...)
	}
	select {
	case <-chainDone:
		errs = append(errs, <-chainErr)
	case <-ctx.Done():
		s.mu.Lock()
		if s.current != nil {
			errs = append(errs, &StuckError{Service: s.name, Running: []Activity{{Kind: s.current.kind, Label: s.current.label}}})
		} else {
			select {
			case err := <-chainErr: // the steps had ended: only the wait for runs was left
				errs = append(errs, err)
			default: // OnStop still runs: its own step reports it
			}
		}
		s.mu.Unlock()
	}
	close(s.stopped)
	return errors.Join(errs...)
}

// finish ends the scope: the owner records its final state, and done
// closes.
func (s *Scope) finish() {
	s.mu.Lock()
	onDone, atDone := s.onDone, s.atDone
	s.phase.Store(phaseClosed)
	s.atDone = nil
	s.mu.Unlock()
	if onDone != nil {
		onDone()
	}
	for _, fn := range atDone { // before done closes: a name freed at Done is free when Done closes
		fn()
	}
	close(s.done)
}

// stopChildrenAndCleanups stops children, the last adopted first, then runs
// cleanups, the last added first. Each goes on after a failure.
func (s *Scope) stopChildrenAndCleanups(ctx context.Context, children []*Service, cleanups []cleanup, result chan<- error) {
	var errs []error
	for i := len(children) - 1; i >= 0; i-- {
		c := children[i]
		s.setCurrent(&activity{kind: KindChild, label: c.Name()})
		errs = append(errs, c.Stop(ctx))
		<-c.scope.tornDown // a child's teardown may outlive ctx; the next step waits for it
	}
	for i := len(cleanups) - 1; i >= 0; i-- {
		c := cleanups[i]
		s.setCurrent(c.activity)
		errs = append(errs, s.call(ctx, c.activity, c.fn))
	}
	s.mu.Lock()
	s.current = nil
	result <- errors.Join(errs...) // with current, so that a Close whose ctx ends now finds one or the other
	s.mu.Unlock()
}

func (s *Scope) setCurrent(a *activity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = a
}

// bounded runs fn as work of the scope on a goroutine of its own, and
// waits for it until ctx ends; then it returns a *StuckError, and fn goes
// on. done closes when fn has returned.
func (s *Scope) bounded(ctx context.Context, a *activity, fn func(context.Context) error, done chan struct{}) error {
	result := make(chan error, 1)
	go func() {
		defer close(done)
		slot := s.runs.Enter(&a.Work)
		defer s.runs.Leave(&a.Work, slot)
		result <- s.call(ctx, a, fn)
	}()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return &StuckError{Service: s.Name(), Running: []Activity{{Kind: a.kind, Label: a.label}}}
	}
}

// waitIdle waits until no run of acts is in progress but the runs on
// goroutine g (none for g = 0), or ctx ends. When ctx ends first it
// returns a *StuckError naming what still runs; tasks (the first
// len(tasks) of acts), whose labels are made on demand, are named through
// their handles.
func (s *Scope) waitIdle(ctx context.Context, acts []*activity, g int64, tasks []*Task) error {
	works := make([]*runs.Work, len(acts))
	for i, a := range acts {
		works[i] = &a.Work
	}
	stuck := s.runs.Wait(ctx, works, g)
	if stuck == nil {
		return nil
	}
	err := &StuckError{Service: s.Name()}
	for _, i := range stuck {
		if i < len(tasks) {
			err.Running = append(err.Running, Activity{Kind: KindTask, Label: tasks[i].Label()})
		} else {
			err.Running = append(err.Running, Activity{Kind: acts[i].kind, Label: acts[i].label})
		}
	}
	return err
}

// activitiesLocked returns every activity that may be running: the tasks,
// the timers (by label) and the callbacks, in that order, and OnStart's
// and OnStop's. The caller holds mu.
func (s *Scope) activitiesLocked() []*activity {
	var acts []*activity
	for _, t := range s.tasks {
		acts = append(acts, &t.act)
	}
	var ts []*activity
	for t := range s.running { // a waiting timer does not run
		ts = append(ts, &t.act)
	}
	slices.SortFunc(ts, func(a, b *activity) int { return strings.Compare(a.label, b.label) })
	acts = append(acts, ts...)
	for cb := range s.callbacks {
		acts = append(acts, &cb.act)
	}
	if o := s.owner; o != nil {
		acts = append(acts, &o.startAct, &o.stopAct)
	}
	return acts
}

// CloseContext returns the context Close (or the owner's Stop) was called
// with, once closing has begun; before, context.Background(). It is set
// before the scope's context is cancelled, so work that sees that
// cancellation can learn how long it may still drain: a queue's workers,
// a process's grace period.
func (s *Scope) CloseContext() context.Context {
	s.lock()
	defer s.mu.Unlock()
	if s.stopCtx == nil {
		return context.Background()
	}
	return s.stopCtx
}
