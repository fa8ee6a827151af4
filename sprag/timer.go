package sprag

import (
	"context"
	"time"

	"github.com/petermattis/goid"
)

// Timer is the handle of an interval, a timeout or a scheduled job. Its
// methods are safe for concurrent use; they do nothing on a nil Timer.
type Timer struct {
	s     *Scope
	act   activity
	fn    func(context.Context) error
	sched Schedule
	due   time.Duration // when the next run is due, since the scope's epoch; guarded by s.mu
	index int32         // in the scope's queue of waiting timers, or -1; guarded by s.mu
	n     int32         // runs ended; read and written by the run, which never overlaps itself
	ended bool          // cancelled, stopped, or its schedule is over; guarded by s.mu
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
	t := &Timer{s: s, fn: fn, sched: sched, act: activity{kind: kind, label: label}, index: -1}

	s.lock()
	defer s.mu.Unlock()
	if !s.open() {
		return nil, s.refuseLocked(kind.String(), label)
	}
	first := sched.Next(time.Now(), Run{})
	if first.IsZero() {
		t.ended = true
		return t, nil // a schedule with no time at all
	}
	s.obs.TimerAdded()
	s.timers.push(t, s.since(first))
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
	for len(s.timers.q) > 0 && s.timers.q[0].due <= now {
		t := s.timers.pop()
		if !s.open() { // closing: the timer ends here rather than run
			t.ended = true
			s.obs.TimerEnded()
			continue
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
	ctx, obs := s.observe(ctx, &t.act, t.Label)
	err := s.call(ctx, &t.act, t.fn) // call logs a failure; the timer goes on
	obs.End(ctx, err, isPanic(err))
	t.n++
	next := t.sched.Next(time.Now(), Run{N: int(t.n), Start: start, Err: err})

	s.mu.Lock()
	delete(s.running, t)
	switch {
	case t.ended:
	case next.IsZero() || !s.open():
		t.ended = true
		s.obs.TimerEnded()
	default:
		s.timers.push(t, s.since(next))
		s.armLocked()
	}
	s.mu.Unlock()
	t.act.Release(slot, g)
	s.runs.End(&t.act.Work)
}

// since returns the time from the scope's epoch to at.
func (s *Scope) since(at time.Time) time.Duration { return at.Sub(s.epoch) }

// armLocked sets the scope's time.Timer to the first due timer, or stops
// it when none waits. The caller holds mu.
func (s *Scope) armLocked() {
	if len(s.timers.q) == 0 {
		if s.wheel != nil {
			s.wheel.Stop()
		}
		return
	}
	d := s.timers.q[0].due - s.since(time.Now())
	if s.wheel == nil {
		s.wheel = time.AfterFunc(d, s.fireDue)
		return
	}
	s.wheel.Reset(d)
}

// timerQueue is the min-heap of a scope's waiting timers, by due time.
type timerQueue struct{ q []*Timer }

func (h *timerQueue) push(t *Timer, due time.Duration) {
	t.due, t.index = due, int32(len(h.q))
	h.q = append(h.q, t)
	h.up(len(h.q) - 1)
}

func (h *timerQueue) pop() *Timer {
	t := h.q[0]
	h.remove(0)
	return t
}

// remove takes the timer at i out of the queue.
func (h *timerQueue) remove(i int) {
	last := len(h.q) - 1
	h.q[i].index = -1
	if i != last {
		h.q[i] = h.q[last]
		h.q[i].index = int32(i)
	}
	h.q[last] = nil
	h.q = h.q[:last]
	if i < last {
		h.down(i)
		h.up(i)
	}
	if cap(h.q) > 64 && len(h.q) < cap(h.q)/4 { // give memory back after a burst
		h.q = append([]*Timer(nil), h.q...)
	}
}

func (h *timerQueue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h.q[p].due <= h.q[i].due {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *timerQueue) down(i int) {
	for {
		l, small := 2*i+1, i
		if l < len(h.q) && h.q[l].due < h.q[small].due {
			small = l
		}
		if r := l + 1; r < len(h.q) && h.q[r].due < h.q[small].due {
			small = r
		}
		if small == i {
			return
		}
		h.swap(i, small)
		i = small
	}
}

func (h *timerQueue) swap(i, j int) {
	h.q[i], h.q[j] = h.q[j], h.q[i]
	h.q[i].index, h.q[j].index = int32(i), int32(j)
}

// endLocked ends the timer: it leaves the queue, and a run under way
// does not reschedule it. It reports whether this call ended it. The
// caller holds s.mu.
func (t *Timer) endLocked() bool {
	if t.ended {
		return false
	}
	t.ended = true
	if t.index >= 0 {
		t.s.timers.remove(int(t.index))
	}
	t.s.obs.TimerEnded()
	return true
}

// Cancel stops the timer: no run begins after Cancel returns, though one
// already running finishes. It reports whether this call cancelled it; it
// returns false for a timer that was already cancelled or whose schedule
// was over (a timeout that ran).
func (t *Timer) Cancel() bool {
	if t == nil {
		return false
	}
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.endLocked()
}

// Active reports whether the timer will run again: it was not cancelled,
// its scope is open and its schedule is not over.
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
