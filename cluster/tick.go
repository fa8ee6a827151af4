package cluster

import (
	"fmt"
	"time"
)

// The arithmetic of singleton jobs, kept apart from I/O so that it can be
// checked on its own.

// tickOf returns the tick a run that fires at now is for: the multiple of
// period (counted from the Unix epoch) nearest to now. Timers fire at a
// tick or a little after; rounding keeps a late or early fire, or a clock
// that is off by less than half a period, on its tick.
func tickOf(now time.Time, period time.Duration) time.Time {
	n := now.UnixNano()
	p := int64(period)
	k := n / p
	if n-k*p >= p-(n-k*p) {
		k++
	}
	return time.Unix(0, k*p)
}

// nextTick returns when the run after the one for tick is due: the first
// multiple of period after now, and never tick itself again. Ticks missed
// while a run overran are skipped.
func nextTick(tick, now time.Time, period time.Duration) time.Time {
	p := int64(period)
	next := time.Unix(0, (now.UnixNano()/p+1)*p)
	if !next.After(tick) {
		next = tick.Add(period)
	}
	return next
}

// runDeadline returns when the work done under a grant requested at start
// must end: the grant lasts ttl from the engine's receipt of the request,
// which is after start, and margin absorbs the difference between the
// clocks' rates and the servers' clock skew.
func runDeadline(start time.Time, ttl, margin time.Duration) time.Time {
	return start.Add(ttl - margin)
}

// tickKey names the record of a job's tick.
func tickKey(job string, tick time.Time) string {
	return fmt.Sprintf("%s.tick.%d", job, tick.UnixMilli())
}

// leaseKey names the record of a job's lease.
func leaseKey(job string) string { return job + ".lease" }

// wholeSeconds rounds d up to whole seconds: JetStream's per-message TTLs
// are counted in whole seconds and cut fractions off.
func wholeSeconds(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}
