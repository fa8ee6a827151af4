package watch

import (
	"fmt"
	"time"

	"github.com/sprag-go/sprag/sprag/state"
)

// An Option configures [Poll] and [Stream].
type Option interface {
	applyWatcher(*config)
	String() string
}

type config struct {
	label          string
	backoff        time.Duration
	maxBackoff     time.Duration
	dedupe         state.DedupeOption
	unhealthyAfter int
}

type labelOption string

func (o labelOption) applyWatcher(c *config) { c.label = string(o) }
func (o labelOption) String() string         { return fmt.Sprintf("watch.Label(%q)", string(o)) }

// Label names a watcher in logs, errors and its owner's health details
// ("watcher <label>"). The default is its function's name.
func Label(label string) Option { return labelOption(label) }

type backoffOption struct{ initial, max time.Duration }

func (o backoffOption) applyWatcher(c *config) { c.backoff, c.maxBackoff = o.initial, o.max }
func (o backoffOption) String() string {
	return fmt.Sprintf("watch.RetryBackoff(%v, %v)", o.initial, o.max)
}

// RetryBackoff sets how a watcher retries after a failure: the first retry
// waits initial, each further consecutive failure twice as long, up to
// maxDelay. A success resets the backoff, and a poller goes back to its
// interval. The default is RetryBackoff(time.Second, time.Minute); both
// must be positive and initial must not exceed maxDelay.
func RetryBackoff(initial, maxDelay time.Duration) Option {
	return backoffOption{initial: initial, max: maxDelay}
}

type dedupeOption struct{ state.DedupeOption }

func (o dedupeOption) applyWatcher(c *config) { c.dedupe = o.DedupeOption }
func (o dedupeOption) String() string {
	return "watch." + o.DedupeOption.String()[len("state."):]
}

// Dedupe makes a watcher skip a value equal to the last one, as
// reflect.DeepEqual says: subscribers are not notified and it does not
// count as a change.
func Dedupe() Option { return dedupeOption{state.Dedupe()} }

// DedupeFunc is [Dedupe] with equal deciding whether two values are the
// same. T must be the watcher's value type; another one is refused with an
// error wrapping sprag.ErrInvalidArgument.
func DedupeFunc[T any](equal func(a, b T) bool) Option { return dedupeOption{state.DedupeFunc(equal)} }

type unhealthyAfterOption int

func (o unhealthyAfterOption) applyWatcher(c *config) { c.unhealthyAfter = int(o) }
func (o unhealthyAfterOption) String() string         { return fmt.Sprintf("watch.UnhealthyAfter(%d)", int(o)) }

// UnhealthyAfter makes a watcher report its owner unhealthy, in its
// health, while its last n or more attempts failed. Without it, or with
// n = 0, a watcher's failures show only in its figures; n must not be
// negative.
func UnhealthyAfter(n int) Option { return unhealthyAfterOption(n) }
