package sprag

import (
	"context"
	"math/rand/v2"
	"time"
)

// Timer is the handle of an interval or a timeout. Its methods are safe for
// concurrent use.
type Timer struct {
	s         *Service
	act       activity
	fn        func(context.Context) error
	d         time.Duration
	t         *time.Timer
	opt       *timerOpt // nil for a plain interval or timeout: idle timers stay small
	repeat    bool
	cancelled bool // guarded by s.mu
}

// timerOpt holds what most timers do not need.
type timerOpt struct {
	jitter    time.Duration
	fixedRate bool
	next      time.Time // fixed rate: when the next run is due
	err       error     // why the timer was not scheduled
	onDrop    func()    // SpawnAfter's hook: the service stopped before the timer fired
}

func (t *Timer) options() *timerOpt {
	if t.opt == nil {
		t.opt = &timerOpt{}
	}
	return t.opt
}

// fail records why the timer was not scheduled and returns it.
func (t *Timer) fail(err error) *Timer {
	t.options().err = err
	return t
}

// Interval calls fn every d until the service stops or the handle is
// cancelled. By default the interval has a fixed delay: the next wait
// starts when fn returns, so runs never overlap. [FixedRate], [Immediately],
// [Jitter] and [Label] change that.
//
// fn receives the service's context. An error it returns or a panic is
// logged with the service's name and the interval's label, and the interval
// keeps ticking. Waiting costs no goroutine: each run gets a goroutine of
// its own, as with time.AfterFunc, and the time package measures the
// delay, so the interval runs on virtual time inside a testing/synctest
// bubble.
//
// A d that is not positive, a nil fn, or a call when the service is not
// starting or running schedules nothing: the handle's Err reports why
// ([ErrInvalidArgument], [ErrNotRunning]) and the error is logged.
func (s *Service) Interval(d time.Duration, fn func(ctx context.Context) error, opts ...IntervalOption) *Timer {
	var c timerConfig
	if len(opts) > 0 {
		c = intervalConfig(opts)
	}
	return s.schedule(KindInterval, d, fn, c, true)
}

// Timeout calls fn once after d, unless the service stops or the handle is
// cancelled first; the service forgets it once it has run. Its errors,
// panics and bad arguments are handled as [Service.Interval]'s are.
func (s *Service) Timeout(d time.Duration, fn func(ctx context.Context) error, opts ...TimeoutOption) *Timer {
	var c timerConfig
	if len(opts) > 0 {
		c = timeoutConfig(opts)
	}
	return s.schedule(KindTimeout, d, fn, c, false)
}

// intervalConfig, timeoutConfig and taskConfigOf apply options to a
// configuration that escapes to the heap, since options are interfaces;
// the callers copy it out only when there are options, so that a plain
// Interval, Timeout or Spawn allocates no configuration.
func intervalConfig(opts []IntervalOption) timerConfig {
	c := new(timerConfig)
	for _, o := range opts {
		o.applyInterval(c)
	}
	return *c
}

func timeoutConfig(opts []TimeoutOption) timerConfig {
	c := new(timerConfig)
	for _, o := range opts {
		o.applyTimeout(c)
	}
	return *c
}

func (s *Service) schedule(kind Kind, d time.Duration, fn func(context.Context) error, c timerConfig, repeat bool) *Timer {
	return s.scheduleTimer(&Timer{s: s, fn: fn, d: d, repeat: repeat}, kind, c)
}

// scheduleTimer validates t and starts it.
func (s *Service) scheduleTimer(t *Timer, kind Kind, c timerConfig) *Timer {
	fn, d := t.fn, t.d
	t.act = activity{kind: kind, label: c.label}
	if t.act.label == "" && fn != nil {
		t.act.label = funcLabel(fn)
	}
	switch {
	case fn == nil:
		return t.fail(s.invalid(kind, t.act.label, "nil function"))
	case d <= 0:
		return t.fail(s.invalid(kind, t.act.label, "duration must be positive, got %v", d))
	case c.jitter < 0:
		return t.fail(s.invalid(kind, t.act.label, "jitter must not be negative, got %v", c.jitter))
	}
	if c.jitter > 0 || c.fixedRate {
		o := t.options()
		o.jitter, o.fixedRate = c.jitter, c.fixedRate
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.State().active() {
		return t.fail(s.notRunningLocked(kind, t.act.label))
	}
	first := d
	if c.immediately {
		first = 0
	}
	if c.fixedRate {
		t.opt.next = time.Now().Add(first)
	}
	if s.timers == nil {
		s.timers = make(map[*Timer]struct{})
	}
	s.timers[t] = struct{}{}
	if !c.immediately {
		first += t.jitterDelay() // Immediately means now: no jitter on the first run
	}
	t.t = time.AfterFunc(first, t.fire)
	return t
}

// fire runs one tick on the time package's goroutine and schedules the
// next one. A timeout stays in the service's timer set until its run ends,
// so that Stop can name it if it outlives the stop.
func (t *Timer) fire() {
	s := t.s
	s.mu.Lock()
	if t.cancelled || !s.State().active() {
		s.mu.Unlock()
		return
	}
	if !t.repeat {
		t.cancelled = true
	}
	s.enter(&t.act)
	ctx := s.ctx
	s.mu.Unlock()

	_ = s.call(ctx, &t.act, t.fn) // call logs a failure; the interval goes on

	s.mu.Lock()
	switch {
	case !t.repeat:
		delete(s.timers, t)
	case !t.cancelled && s.State().active():
		t.t.Reset(t.nextDelay())
	}
	s.mu.Unlock()
	s.leave(&t.act)
}

// nextDelay returns the wait before the next run. The caller holds s.mu.
func (t *Timer) nextDelay() time.Duration {
	if t.opt == nil || !t.opt.fixedRate {
		return t.d + t.jitterDelay()
	}
	now := time.Now()
	o := t.opt
	o.next = o.next.Add(t.d)
	if !o.next.After(now) { // overran: skip the ticks that were missed
		missed := now.Sub(o.next)/t.d + 1
		o.next = o.next.Add(missed * t.d)
	}
	return o.next.Sub(now) + t.jitterDelay()
}

func (t *Timer) jitterDelay() time.Duration {
	if t.opt == nil || t.opt.jitter <= 0 {
		return 0
	}
	return rand.N(t.opt.jitter) //nolint:gosec // jitter spreads load; it needs no cryptographic randomness
}

// cancel stops the timer for good because its service stops; the caller
// does not hold s.mu.
func (t *Timer) cancel() {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.cancelLocked() && t.opt != nil && t.opt.onDrop != nil {
		t.opt.onDrop()
	}
}

func (t *Timer) cancelLocked() bool {
	if t.cancelled || t.t == nil {
		return false
	}
	t.cancelled = true
	t.t.Stop()
	return true
}

// Cancel stops the interval or timeout: no run begins after Cancel returns,
// though one already running finishes. It reports whether this call
// cancelled it; it returns false for a timer that was already cancelled,
// whose timeout already ran, or that never started (see Err).
func (t *Timer) Cancel() bool {
	if t == nil || t.t == nil {
		return false
	}
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	delete(t.s.timers, t)
	return t.cancelLocked()
}

// Err returns why the interval or timeout was not scheduled, or nil.
func (t *Timer) Err() error {
	if t == nil || t.opt == nil {
		return nil
	}
	return t.opt.err
}

// Label returns the label the timer logs with.
func (t *Timer) Label() string { return t.act.label }
