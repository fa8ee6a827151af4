package sprag

import (
	"context"
	"time"
)

// Timer is the handle of an interval, a timeout or a scheduled job. Its
// methods are safe for concurrent use; they do nothing on a nil Timer.
type Timer struct {
	s     *Scope
	act   activity
	fn    func(context.Context) error
	sched Schedule
	t     *time.Timer
	n     int  // runs ended; read and written by the run, which never overlaps itself
	ended bool // cancelled, stopped, or its schedule is over; guarded by s.mu
}

// Interval calls fn every d until the scope closes or the handle is
// cancelled. The interval has a fixed delay ([FixedDelay]): the next wait
// starts when fn returns, so runs never overlap; [Immediately], [Jitter]
// and [Label] apply, and [Scope.Schedule] with [FixedRate] keeps a fixed
// rate instead.
//
// fn receives the scope's context. An error it returns or a panic is
// logged with the scope's name and the interval's label, and the interval
// keeps ticking. Waiting costs no goroutine: each run gets a goroutine of
// its own, as with time.AfterFunc, and the time package measures the
// delay, so the interval runs on virtual time inside a testing/synctest
// bubble.
//
// A d that is not positive, a nil fn, or a call when the scope is not open
// schedules nothing: the error says why ([ErrInvalidArgument],
// [ErrNotRunning]) and is logged.
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
	if sched == nil {
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
	t := &Timer{s: s, fn: fn, sched: sched, act: activity{kind: kind, label: label}}

	s.lock()
	defer s.mu.Unlock()
	if !s.open() {
		return nil, s.refuseLocked(kind.String(), label)
	}
	first := sched.Next(time.Now(), Run{})
	if first.IsZero() {
		return t, nil // a schedule with no time at all
	}
	if s.timers == nil {
		s.timers = make(map[*Timer]struct{})
	}
	s.timers[t] = struct{}{}
	s.obs.TimerAdded()
	t.t = time.AfterFunc(time.Until(first), t.fire)
	return t, nil
}

// fire runs one tick on the time package's goroutine and schedules the
// next one. A timer stays in its scope's set until its last run ends, so
// that Close can name it if it outlives the deadline.
func (t *Timer) fire() {
	s := t.s
	s.mu.Lock()
	if t.ended || !s.open() {
		s.mu.Unlock()
		return
	}
	slot := s.runs.Enter(&t.act.Work)
	ctx := s.ctx
	s.mu.Unlock()

	start := time.Now()
	ctx, obs := s.observe(ctx, &t.act, t.Label)
	err := s.call(ctx, &t.act, t.fn) // call logs a failure; the timer goes on
	obs.End(ctx, err, isPanic(err))
	t.n++
	next := t.sched.Next(time.Now(), Run{N: t.n, Start: start, Err: err})

	s.mu.Lock()
	switch {
	case next.IsZero():
		t.ended = true
		delete(s.timers, t)
		s.obs.TimerEnded()
	case !t.ended && s.open():
		t.t.Reset(time.Until(next))
	}
	s.mu.Unlock()
	s.runs.Leave(&t.act.Work, slot)
}

// stop ends the timer because its scope closes; the caller does not hold
// s.mu.
func (t *Timer) stop() {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.endLocked()
}

func (t *Timer) endLocked() bool {
	if t.ended || t.t == nil {
		return false
	}
	t.ended = true
	t.t.Stop()
	t.s.obs.TimerEnded()
	return true
}

// Cancel stops the timer: no run begins after Cancel returns, though one
// already running finishes. It reports whether this call cancelled it; it
// returns false for a timer that was already cancelled or whose schedule
// was over (a timeout that ran).
func (t *Timer) Cancel() bool {
	if t == nil || t.t == nil {
		return false
	}
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	delete(t.s.timers, t)
	return t.endLocked()
}

// Active reports whether the timer will run again: it was not cancelled,
// its scope is open and its schedule is not over.
func (t *Timer) Active() bool {
	if t == nil || t.t == nil {
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
