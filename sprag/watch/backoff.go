package watch

import (
	"fmt"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

const (
	defaultRetryBackoff    = time.Second
	defaultMaxRetryBackoff = time.Minute
)

// Backoff is the schedule of a polling watcher, usable by any timer
// ([sprag.Scope.Schedule]) that retries: it runs every Interval while runs
// succeed; after n consecutive failures it waits Initial × 2^(n-1),
// capped at Max; a success goes back to Interval. It keeps the count of
// failures, so give each timer a Backoff of its own.
type Backoff struct {
	Interval time.Duration // the wait after a success
	Initial  time.Duration // the wait after the first failure
	Max      time.Duration // the longest wait after failures

	failures int // consecutive failures; read and written by the timer's runs, which never overlap
}

// Next implements [sprag.Schedule].
func (b *Backoff) Next(now time.Time, last sprag.Run) time.Time {
	if last.Err == nil {
		b.failures = 0
		return now.Add(b.Interval)
	}
	b.failures++
	return now.Add(b.delay(b.failures))
}

// delay returns the wait after n consecutive failures.
func (b *Backoff) delay(n int) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		if d > b.Max/2 { // doubling would pass Max, or overflow
			return b.Max
		}
		d *= 2
	}
	return min(d, b.Max)
}

// String describes the schedule.
func (b *Backoff) String() string {
	return fmt.Sprintf("watch.Backoff{Interval: %v, Initial: %v, Max: %v}", b.Interval, b.Initial, b.Max)
}
