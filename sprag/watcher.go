package sprag

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

const (
	defaultRetryBackoff    = time.Second
	defaultMaxRetryBackoff = time.Minute
)

// Watcher follows a value that lives outside the program (a file, a
// remote configuration, a health endpoint) and tells subscribers when it
// changes: a polling loop ([NewWatcher]) or a stream follower
// ([NewStreamWatcher]) owned by a service. Its methods are safe for
// concurrent use.
//
// After a failure (an error or a panic, logged with the service's name and
// the watcher's label, and counted) the watcher retries with exponential
// backoff ([RetryBackoff]); a success resets the backoff, which the
// original forgot to do. With [Dedupe] a value equal to the last one is
// not a change. Subscribers ([Watcher.Subscribe], [Watcher.Watch]) get
// each new value with the guarantees of an [Observable]; the last value,
// the error count and the last error are in [Watcher.Stats] and in the
// service's [Status.Details] under "watcher <label>".
//
// The watcher stops with its service: a poll in progress, or the stream
// follower, sees its context cancelled and Stop waits for it.
type Watcher[T any] struct {
	s              *Service
	label          string
	obs            *Observable[T]
	equal          func(a, b T) bool
	backoff        time.Duration
	maxBackoff     time.Duration
	interval       time.Duration // a poller's
	unhealthyAfter int

	mu          sync.Mutex
	failures    int // consecutive failures
	quiet       int // a stream's consecutive connections without a value
	lastErr     error
	lastSuccess time.Time
	polls       int64
	changes     int64
	errors      int64
	attempt     atomic.Uint64 // the stream attempt whose send is open
}

// WatcherStats are a watcher's figures at one moment.
type WatcherStats struct {
	Value       any       `json:"value,omitempty"` // the last value (its fmt form if it does not encode as JSON); nil before the first
	HasValue    bool      `json:"has_value"`
	Polls       int64     `json:"polls"`   // polls made, or stream connections that ended
	Changes     int64     `json:"changes"` // values that reached the subscribers
	Errors      int64     `json:"errors"`  // failures in all
	Failures    int       `json:"consecutive_failures"`
	LastError   string    `json:"last_error,omitempty"`
	LastSuccess time.Time `json:"last_success,omitzero"`
}

// NewWatcher creates a watcher owned by svc that calls poll every interval,
// the first time at once, and notifies subscribers of each new value. The
// next poll is scheduled when poll returns, so polls never overlap; after
// a failure it comes after the retry backoff instead of the interval.
// Waiting costs no goroutine: the watcher is an interval of its service,
// labelled "watcher <label>". poll receives the service's context.
//
// Options: [Label] (default: poll's function name), [RetryBackoff],
// [Dedupe] or [DedupeFunc], [UnhealthyAfter]. NewWatcher fails, creating
// nothing, with an error wrapping [ErrNotRunning] when svc is not starting
// or running, [ErrDuplicateName] when svc has a watcher of that label, and
// [ErrInvalidArgument] for a nil svc or poll, an interval that is not
// positive, or a bad option.
func NewWatcher[T any](svc Interface, poll func(ctx context.Context) (T, error), interval time.Duration, opts ...WatcherOption) (*Watcher[T], error) {
	w, err := newWatcher[T](svc, poll, poll == nil, opts)
	if err != nil {
		return nil, err
	}
	w.interval = interval
	if interval <= 0 {
		return nil, w.s.invalidPrimitive("watcher", w.label, "interval must be positive, got %v", interval)
	}
	detach, err := w.attach()
	if err != nil {
		return nil, err
	}
	t := &Timer{s: w.s, d: interval, repeat: true}
	t.fn = func(ctx context.Context) error {
		v, err := callPoll(ctx, poll)
		next := w.record(ctx, v, err)
		w.s.mu.Lock()
		t.d = next // read by fire when this returns: see Timer.nextDelay
		w.s.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			return err // logged by the timer as a failure of the watcher
		}
		return nil
	}
	if err := w.s.scheduleTimer(t, KindInterval, timerConfig{label: "watcher " + w.label, immediately: true}).Err(); err != nil {
		detach()
		return nil, err
	}
	return w, nil
}

// NewStreamWatcher creates a watcher owned by svc that follows a stream:
// follow runs on a task of the service, labelled "watcher <label>", and
// calls send for each value it receives (from any goroutine, until it
// returns). When follow returns, with an error or not, it is called again
// after the retry backoff, which grows with each call that sent nothing
// and is reset by a value. follow receives the service's context and
// should return when it ends.
//
// Its options and errors are those of [NewWatcher].
func NewStreamWatcher[T any](svc Interface, follow func(ctx context.Context, send func(T)) error, opts ...WatcherOption) (*Watcher[T], error) {
	w, err := newWatcher[T](svc, follow, follow == nil, opts)
	if err != nil {
		return nil, err
	}
	detach, err := w.attach()
	if err != nil {
		return nil, err
	}
	task := w.s.Spawn(func(ctx context.Context) error {
		w.follow(ctx, follow)
		return nil
	}, Label("watcher "+w.label))
	if err := task.Err(); err != nil {
		detach()
		return nil, err
	}
	return w, nil
}

// newWatcher checks the arguments common to both kinds of watcher.
// fn is the poll or follow function, nil when isNil.
func newWatcher[T any](svc Interface, fn any, isNil bool, opts []WatcherOption) (*Watcher[T], error) {
	s, err := primitiveService(svc, "watcher")
	if err != nil {
		return nil, err
	}
	c := watcherConfig{backoff: defaultRetryBackoff, maxBackoff: defaultMaxRetryBackoff}
	for _, o := range opts {
		o.applyWatcher(&c)
	}
	if c.label == "" && !isNil {
		c.label = funcLabel(fn)
	}
	w := &Watcher[T]{s: s, label: c.label, backoff: c.backoff, maxBackoff: c.maxBackoff, unhealthyAfter: c.unhealthyAfter}
	if isNil {
		return nil, s.invalidPrimitive("watcher", w.label, "nil function")
	}
	if c.backoff <= 0 || c.maxBackoff < c.backoff {
		return nil, s.invalidPrimitive("watcher", w.label, "retry backoff must be positive and at most its maximum, got %v and %v", c.backoff, c.maxBackoff)
	}
	if c.unhealthyAfter < 0 {
		return nil, s.invalidPrimitive("watcher", w.label, "UnhealthyAfter must be positive, got %d", c.unhealthyAfter)
	}
	if w.equal, err = equalFunc[T](c.dedupe); err != nil {
		return nil, s.invalidPrimitive("watcher", w.label, "%v", err)
	}
	w.obs = &Observable[T]{s: s, label: "watcher " + w.label}
	return w, nil
}

// attach registers the watcher's health report and the cleanup that
// removes its subscribers.
func (w *Watcher[T]) attach() (func(), error) {
	_, detach, err := w.s.attach("watcher", w.label, w.report)
	if err != nil {
		return nil, err
	}
	if err := w.s.addCleanup("watcher "+w.label, w.obs.closeAll); err != nil {
		detach()
		return nil, err
	}
	return detach, nil
}

func callPoll[T any](ctx context.Context, poll func(context.Context) (T, error)) (v T, err error) {
	err = safely(func() (e error) {
		v, e = poll(ctx)
		return e
	})
	return v, err
}

// record counts a poll's result, passes a new value on, and returns the
// wait before the next poll. A failure caused by the service stopping is
// not counted.
func (w *Watcher[T]) record(ctx context.Context, v T, err error) time.Duration {
	w.mu.Lock()
	w.polls++
	if err != nil {
		if ctx.Err() != nil {
			w.mu.Unlock()
			return w.backoff
		}
		wait := w.failLocked(err)
		w.mu.Unlock()
		return wait
	}
	w.mu.Unlock()
	w.succeed(v)
	return w.interval
}

// failLocked counts a failure and returns the backoff before the retry.
// The caller holds mu.
func (w *Watcher[T]) failLocked(err error) time.Duration {
	w.errors++
	w.failures++
	w.lastErr = err
	return w.backoffFor(w.failures)
}

// backoffFor returns the wait after n consecutive failures.
func (w *Watcher[T]) backoffFor(n int) time.Duration {
	d := w.backoff
	for i := 1; i < n && d < w.maxBackoff; i++ {
		d *= 2
	}
	return min(d, w.maxBackoff)
}

// succeed records a value, resets the backoff and notifies subscribers of
// a change.
func (w *Watcher[T]) succeed(v T) {
	w.mu.Lock()
	w.failures, w.quiet = 0, 0
	w.lastSuccess = time.Now()
	w.mu.Unlock()

	o := w.obs
	o.mu.Lock()
	if o.version > 0 && w.equal != nil && w.same(o.value, v) {
		o.mu.Unlock()
		return
	}
	w.mu.Lock()
	w.changes++
	w.mu.Unlock()
	o.storeLocked(v)
}

// same reports whether Dedupe says a and b are equal; a panicking equality
// is logged and the values count as different.
func (w *Watcher[T]) same(a, b T) bool {
	var eq bool
	if err := safely(func() error { eq = w.equal(a, b); return nil }); err != nil {
		w.s.logFailure(KindInterval, "watcher "+w.label+" equality", "", err)
		return false
	}
	return eq
}

// follow runs the stream follower until the service stops, reconnecting
// after the backoff.
func (w *Watcher[T]) follow(ctx context.Context, follow func(context.Context, func(T)) error) {
	for attempt := uint64(1); ; attempt++ {
		w.attempt.Store(attempt)
		send := func(v T) {
			if w.attempt.Load() != attempt {
				w.s.Logger().Debug("value sent after its stream follower returned", zap.String("label", "watcher "+w.label))
				return
			}
			w.succeed(v)
		}
		err := callFollow(ctx, follow, send)
		w.attempt.Store(0)
		if ctx.Err() != nil {
			return
		}

		w.mu.Lock()
		w.polls++
		if err != nil {
			w.failLocked(err)
		}
		w.quiet++ // reset by a value: the backoff grows only while the stream sends nothing
		wait := w.backoffFor(w.quiet)
		w.mu.Unlock()
		if err != nil {
			w.s.logFailure(KindTask, "watcher "+w.label, "", err)
		}

		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
	}
}

func callFollow[T any](ctx context.Context, follow func(context.Context, func(T)) error, send func(T)) error {
	return safely(func() error { return follow(ctx, send) })
}

// Label returns the label the watcher logs with.
func (w *Watcher[T]) Label() string { return w.label }

// Value returns the last value and true, or the zero T and false before
// the first value.
func (w *Watcher[T]) Value() (T, bool) {
	o := w.obs
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.value, o.version > 0
}

// Subscribe calls fn with each new value, and with the last one first
// with [NotifyCurrent]; fn belongs to the service subscriber. See
// [Observable.Subscribe] for the guarantees and errors.
func (w *Watcher[T]) Subscribe(subscriber Interface, fn func(ctx context.Context, value T) error, opts ...SubscribeOption) (*Subscriber, error) {
	return w.obs.Subscribe(subscriber, fn, opts...)
}

// Watch returns a channel of the watcher's values, as [Observable.Watch]:
// it receives the last value at once if there is one.
func (w *Watcher[T]) Watch(ctx context.Context) <-chan T { return w.obs.Watch(ctx) }

// Stats returns the watcher's figures at this moment.
func (w *Watcher[T]) Stats() WatcherStats {
	v, ok := w.Value()
	w.mu.Lock()
	defer w.mu.Unlock()
	st := WatcherStats{
		HasValue:    ok,
		Polls:       w.polls,
		Changes:     w.changes,
		Errors:      w.errors,
		Failures:    w.failures,
		LastSuccess: w.lastSuccess,
	}
	if ok {
		st.Value = reportable(v)
	}
	if w.lastErr != nil {
		st.LastError = w.lastErr.Error()
	}
	return st
}

// report is the watcher's health report.
func (w *Watcher[T]) report() (any, error) {
	st := w.Stats()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unhealthyAfter > 0 && w.failures >= w.unhealthyAfter {
		return st, fmt.Errorf("%d consecutive failures: %w", w.failures, w.lastErr)
	}
	return st, nil
}
