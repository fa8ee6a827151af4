package sprag

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/petermattis/goid"

	"github.com/sprag-go/sprag/sprag/internal/timerq"
	"go.opentelemetry.io/otel/trace"
)

// Timer is the handle of an interval, a timeout or a scheduled job. Its
// methods are safe for concurrent use; they do nothing on a nil Timer.
type Timer struct {
	s     *Scope
	act   activity
	fn    func(context.Context) error
	sched Schedule
	slot  timerq.Slot        // its place in the scope's queue of waiting timers; guarded by s.mu
	n     int32              // runs ended; read and written by the run, which never overlaps itself
	ended bool               // cancelled, stopped, or its schedule is over; guarded by s.mu
	final bool               // a timeout whose one run has begun: ended, counted out when the run ends; guarded by s.mu
	link  *trace.SpanContext // LinkTo's, or nil
}

// Interval calls fn every d until the scope closes or the handle is
// cancelled. The interval has a fixed delay ([FixedDelay]): the next wait
// starts when fn returns, so runs never overlap; [Immediately], [Jitter]
// and [Label] apply, and [Scope.Schedule] with [FixedRate] keeps a fixed
// rate instead.
//
// fn receives the scope's context. An error it returns or a panic is
// logged with the scope's name and the interval's label, and the interval
// keeps ticking. A run that returns the context's error (or one wrapping
// it) once the scope is closing has ended cleanly: it is not logged. Waiting costs no goroutine: each run gets a goroutine of
// its own, as with time.AfterFunc, and the time package measures the
// delay, so the interval runs on virtual time inside a testing/synctest
// bubble.
//
// A d that is not positive, a nil fn, or a call when the scope is not open
// schedules nothing: the error says why ([ErrInvalidArgument],
// [ErrNotRunning]; see the package doc for how each is reported).
func (s *Scope) Interval(d time.Duration, fn func(ctx context.Context) error, opts ...TimerOption) (*Timer, error) {
	return s.schedule(KindInterval, fixedDelay(d), fn, timerConfigOf(opts))
}

// Timeout calls fn once after d, unless the scope closes or the handle is
// cancelled first; the scope forgets it once it has run. Its errors,
// panics and bad arguments are handled as [Scope.Interval]'s are.
func (s *Scope) Timeout(d time.Duration, fn func(ctx context.Context) error, opts ...TimerOption) (*Timer, error) {
	return s.schedule(KindTimeout, after(d), fn, timerConfigOf(opts))
}

// Schedule calls fn at the times sched gives, until the scope closes, the
// handle is cancelled or sched returns the zero time; see [Schedule]. It
// is the general form of [Scope.Interval]: runs never overlap, waiting
// costs no goroutine, and errors and panics are handled as Interval's are.
func (s *Scope) Schedule(sched Schedule, fn func(ctx context.Context) error, opts ...TimerOption) (*Timer, error) {
	c := timerConfigOf(opts)
	if isNil(sched) {
		return nil, s.invalid(KindInterval.String(), labelOf(c.label, fn), "nil schedule")
	}
	return s.schedule(KindInterval, sched, fn, c)
}

// schedule validates the options and starts the timer.
func (s *Scope) schedule(kind Kind, sched Schedule, fn func(context.Context) error, c timerConfig) (*Timer, error) {
	label := labelOf(c.label, fn)
	switch {
	case fn == nil:
		return nil, s.invalid(kind.String(), label, "nil function")
	case c.jitter < 0:
		return nil, s.invalid(kind.String(), label, "jitter must not be negative, got %v", c.jitter)
	}
	if ch, ok := sched.(checker); ok {
		if err := ch.check(); err != nil {
			return nil, s.invalid(kind.String(), label, "%v", err)
		}
	}
	if c.jitter > 0 {
		sched = &jittered{inner: sched, max: c.jitter}
	}
	if c.immediately {
		sched = &atOnce{inner: sched}
	}
	t := &Timer{s: s, fn: fn, sched: sched, act: activity{kind: kind, label: label}, link: c.link}
	t.slot.Init()

	// The schedule is user code: called without the scope's lock, its
	// panic an error.
	now := time.Now()
	first, err := t.next(now, Run{})
	if err != nil {
		return nil, s.invalid(kind.String(), label, "the schedule's Next: %v", err)
	}
	s.lock()
	defer s.mu.Unlock()
	if !s.open() {
		return nil, s.refuseLocked(kind.String(), label)
	}
	if first.IsZero() {
		t.ended = true
		return t, nil // a schedule with no time at all
	}
	s.obs.TimerAdded()
	s.timers.Push(t, &t.slot, s.due(first, now))
	s.armLocked()
	return t, nil
}

// fireDue is the scope's one time.Timer's function: it starts the run of
// every timer that is due, on a goroutine each, and rearms for the next.
// Waiting timers cost no goroutine and no runtime timer of their own.
func (s *Scope) fireDue() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.since(time.Now())
	for s.timers.Len() > 0 && s.timers.FirstDue() <= now {
		t := s.timers.Pop()
		if !s.open() { // closing: the timer ends here rather than run
			t.ended = true
			s.obs.TimerEnded()
			continue
		}
		if t.act.kind == KindTimeout { // its one run: it will not run again
			t.ended, t.final = true, true
		}
		s.running[t] = struct{}{}
		s.runs.Begin(&t.act.Work)
		go t.run(s.ctx)
	}
	s.armLocked()
}

// run is one run of t, on a goroutine of its own; then t waits for its
// next run in its scope's queue, unless it ended.
func (t *Timer) run(ctx context.Context) {
	s := t.s
	g := goid.Get()
	slot := t.act.Claim(g)
	start := time.Now()
	ctx, obs := s.observe(ctx, &t.act, t.Label, t.link)
	err := Safely(func() error { return t.fn(ctx) })
	switch {
	case err == nil:
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		err = nil // the run ended because the scope is closing: a clean end
	default:
		err = s.failed(&t.act, err) // logged; the timer goes on
	}
	obs.End(ctx, err, isPanic(err))
	t.n++
	now := time.Now()
	next, nextErr := t.next(now, Run{N: int(t.n), Start: start, Err: err})
	if nextErr != nil { // the timer ends: it has no next time
		_ = s.failed(&t.act, fmt.Errorf("the schedule's Next: %w", nextErr))
	}

	s.mu.Lock()
	delete(s.running, t)
	switch {
	case t.final:
		s.obs.TimerEnded()
	case t.ended:
	case next.IsZero() || !s.open():
		t.ended = true
		s.obs.TimerEnded()
	default:
		s.timers.Push(t, &t.slot, s.due(next, now))
		s.armLocked()
	}
	s.mu.Unlock()
	t.act.Release(slot, g)
	s.runs.End(&t.act.Work)
}

// next calls the schedule's Next, recovering a panic: then it returns the
// zero time and the *PanicError.
func (t *Timer) next(now time.Time, last Run) (next time.Time, err error) {
	err = Safely(func() error { next = t.sched.Next(now, last); return nil })
	if err != nil {
		return time.Time{}, err
	}
	return next, nil
}

// since returns the time from the scope's epoch to at.
func (s *Scope) since(at time.Time) time.Duration { return at.Sub(s.epoch) }

// due returns the place in the scope's queue of a run at at, asked for
// at now: a time already past is due now, so that no due time lies before
// the epoch, where the subtractions of armLocked would overflow.
func (s *Scope) due(at, now time.Time) time.Duration {
	if at.Before(now) {
		at = now
	}
	return s.since(at)
}

// armLocked sets the scope's time.Timer to the first due timer, or stops
// it when none waits. The caller holds mu.
func (s *Scope) armLocked() {
	if s.timers.Len() == 0 {
		if s.wheel != nil {
			s.wheel.Stop()
		}
		return
	}
	d := s.timers.FirstDue() - s.since(time.Now())
	if s.wheel == nil {
		s.wheel = time.AfterFunc(d, s.fireDue)
		return
	}
	s.wheel.Reset(d)
}

// endLocked ends the timer: it leaves the queue, and a run under way
// does not reschedule it. It reports whether this call ended it. The
// caller holds s.mu.
func (t *Timer) endLocked() bool {
	if t.ended {
		return false
	}
	t.ended = true
	t.s.timers.Remove(&t.slot)
	t.s.obs.TimerEnded()
	return true
}

// Cancel stops the timer: no run begins after Cancel returns, though one
// already running finishes. It reports whether this call cancelled it; it
// returns false for a timer that was already cancelled or whose schedule
// was over (a timeout whose one run has begun).
func (t *Timer) Cancel() bool {
	if t == nil {
		return false
	}
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.endLocked()
}

// Active reports whether the timer will run again: it was not cancelled,
// its scope is open and its schedule is not over. A timeout is no longer
// active once its one run has begun.
func (t *Timer) Active() bool {
	if t == nil {
		return false
	}
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return !t.ended && t.s.open()
}

// Label returns the label the timer logs with: its [Label] option, or its
// function's name.
func (t *Timer) Label() string {
	if t == nil {
		return ""
	}
	return t.act.label
}

// labelOf returns label, or the name of fn when label is empty.
func labelOf(label string, fn any) string {
	if label != "" {
		return label
	}
	return FuncLabel(fn)
}
