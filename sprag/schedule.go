package sprag

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// A Schedule decides when a timer runs: [Scope.Interval], [Scope.Timeout]
// and [Scope.Schedule] all run on one. This file is the one place that
// says how timers are scheduled: a fixed delay, a fixed rate, a timeout,
// [Jitter] and [Immediately] are Schedules here; so are the cron schedules
// of sprag/cron and a watcher's retry backoff in sprag/watch.
//
// A Schedule may keep state (a backoff counts failures): give each timer
// a value of its own. The timer calls Next from one goroutine at a time,
// since its runs never overlap.
type Schedule interface {
	// Next returns when the timer runs next. now is the current time. last
	// is the run that just ended; before the first run it is the zero Run.
	// A zero time ends the timer.
	Next(now time.Time, last Run) time.Time
}

// Run describes a run of a timer that has ended, for [Schedule.Next].
type Run struct {
	N     int       // how many runs have ended, this one included; 0 before the first
	Start time.Time // when it began
	Err   error     // what it returned: an error, a *PanicError for a panic, or nil
}

// FixedDelay runs every d, the next wait starting when a run returns, so
// that runs never overlap; it is the schedule of a plain [Scope.Interval].
// d must be positive.
func FixedDelay(d time.Duration) Schedule { return fixedDelay(d) }

type fixedDelay time.Duration

// checker is a schedule that can tell it is malformed: [Scope.Schedule]
// refuses it with ErrInvalidArgument.
type checker interface{ check() error }

func (d fixedDelay) check() error { return positive(time.Duration(d)) }
func (r *fixedRate) check() error { return positive(r.d) }

func positive(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("duration must be positive, got %v", d)
	}
	return nil
}

func (d fixedDelay) Next(now time.Time, _ Run) time.Time { return now.Add(time.Duration(d)) }
func (d fixedDelay) String() string                      { return fmt.Sprintf("FixedDelay(%v)", time.Duration(d)) }

// FixedRate runs on a fixed grid, d apart from the first run (due d after
// the timer was created, or at once with [Immediately]), instead of d
// after each run returns. A run that overruns makes the timer skip the
// ticks it missed: runs never overlap and never pile up. d must be
// positive.
func FixedRate(d time.Duration) Schedule { return &fixedRate{d: d} }

type fixedRate struct {
	d    time.Duration
	next time.Time // the tick last returned
}

func (r *fixedRate) Next(now time.Time, last Run) time.Time {
	if last.N == 0 && r.next.IsZero() {
		r.next = now.Add(r.d)
		return r.next
	}
	r.next = r.next.Add(r.d)
	if !r.next.After(now) { // overran: skip the ticks that were missed
		missed := now.Sub(r.next)/r.d + 1
		r.next = r.next.Add(missed * r.d)
	}
	return r.next
}

func (r *fixedRate) String() string { return fmt.Sprintf("FixedRate(%v)", r.d) }

// anchor puts the grid's first tick at now: a run at once is on the grid.
func (r *fixedRate) anchor(now time.Time) bool {
	r.next = now
	return true
}

// jittered adds a random delay in [0, max) to every time inner returns,
// so that many timers with one schedule do not fire in step ([Jitter]).
// inner sees the times without the jitter: a jittered fixed rate keeps
// its grid.
type jittered struct {
	inner Schedule
	max   time.Duration
}

func (j *jittered) Next(now time.Time, last Run) time.Time {
	t := j.inner.Next(now, last)
	if t.IsZero() {
		return t
	}
	return t.Add(rand.N(j.max)) //nolint:gosec // jitter spreads load; it needs no cryptographic randomness
}

func (j *jittered) anchor(now time.Time) bool {
	a, ok := j.inner.(anchored)
	return ok && a.anchor(now)
}

// anchored is a schedule whose times count from the timer's creation: a
// fixed rate's grid, a timeout's one run. When [Immediately] runs it at
// once, that run is its first: anchor tells it so, and reports true.
type anchored interface{ anchor(now time.Time) bool }

// atOnce runs the first run as soon as the timer is created, then follows
// inner ([Immediately]): an anchored inner schedule counts that run as its
// first (a fixed rate keeps the grid of the creation, a timeout does not
// run again); any other starts from the end of that run (a fixed delay
// waits d after it).
type atOnce struct {
	inner    Schedule
	anchored bool
}

func (a *atOnce) Next(now time.Time, last Run) time.Time {
	if last.N == 0 {
		if an, ok := a.inner.(anchored); ok {
			a.anchored = an.anchor(now)
		}
		return now
	}
	if last.N == 1 && !a.anchored {
		last.N = 0 // the inner schedule starts from here
	}
	return a.inner.Next(now, last)
}

// after runs once, d after the timer was created: a timeout.
type after time.Duration

func (d after) check() error { return positive(time.Duration(d)) }

// anchor makes a timeout run at once its one run.
func (after) anchor(time.Time) bool { return true }

func (d after) Next(now time.Time, last Run) time.Time {
	if last.N > 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(d))
}
