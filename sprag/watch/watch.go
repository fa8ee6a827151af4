package watch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/state"
)

// Watcher follows a value that lives outside the program (a file, a
// remote configuration, a health endpoint) and tells subscribers when it
// changes: a polling loop ([Poll]) or a stream follower ([Stream]) owned
// by a service or a scope. Its methods are safe for concurrent use.
//
// After a failure (an error or a panic, logged with the owner's name and
// the watcher's label, and counted) the watcher retries with exponential
// backoff ([RetryBackoff]); a success resets the backoff, which the
// original forgot to do. With [Dedupe] a value equal to the last one is
// not a change. Subscribers ([Watcher.Subscribe], [Watcher.Watch]) get
// each new value with the guarantees of a state.Observable; the last
// value, the error count and the last error are in [Watcher.Stats] and in
// the owner's health details under "watcher <label>".
//
// The watcher stops with its owner: a poll in progress, or the stream
// follower, sees its context cancelled and the owner's Stop waits for it.
// [Watcher.Cancel] stops it earlier: no poll begins after it returns,
// though one under way finishes, and a stream follower's context is
// cancelled.
type Watcher[T any] struct {
	scope          *sprag.Scope
	label          string
	obs            *state.Observable[T]
	backoff        *Backoff
	unhealthyAfter int
	timer          *sprag.Timer // a poller's
	task           *sprag.Task  // a stream follower's

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

// Stats are a watcher's figures at one moment.
type Stats struct {
	Value       any       `json:"value,omitempty"` // the last value (its fmt form if it does not encode as JSON); nil before the first
	HasValue    bool      `json:"has_value"`
	Polls       int64     `json:"polls"`   // polls made, or stream connections that ended
	Changes     int64     `json:"changes"` // values that reached the subscribers
	Errors      int64     `json:"errors"`  // failures in all
	Failures    int       `json:"consecutive_failures"`
	LastError   string    `json:"last_error,omitempty"`
	LastSuccess time.Time `json:"last_success,omitzero"`
}

// Poll creates a watcher owned by o that calls poll every interval, the
// first time at once, and notifies subscribers of each new value. The
// next poll is scheduled when poll returns, so polls never overlap; after
// a failure it comes after the retry backoff instead of the interval (the
// watcher's timer runs on a [Backoff] schedule). Waiting costs no
// goroutine: the watcher is a timer of o's scope, labelled
// "watcher <label>". poll receives the scope's context.
//
// Options: [Label] (default: poll's function name), [RetryBackoff],
// [Dedupe] or [DedupeFunc], [UnhealthyAfter]. Poll fails, creating
// nothing, with an error wrapping sprag.ErrNotRunning when o's scope is
// not open, sprag.ErrDuplicateName when o has a watcher of that label,
// and sprag.ErrInvalidArgument for a nil o or poll, an interval that is
// not positive, or a bad option.
func Poll[T any](o sprag.Owner, poll func(ctx context.Context) (T, error), interval time.Duration, opts ...Option) (*Watcher[T], error) {
	w, err := newWatcher[T](o, poll, poll == nil, &interval, opts)
	if err != nil {
		return nil, err
	}
	w.backoff.Interval = interval
	detach, err := w.attach()
	if err != nil {
		return nil, err
	}
	w.timer, err = w.scope.Schedule(w.backoff, func(ctx context.Context) error {
		var v T
		err := sprag.Safely(func() (err error) { v, err = poll(ctx); return err })
		w.record(ctx, v, err)
		if err != nil && ctx.Err() == nil {
			return err // logged by the timer as a failure; the schedule backs off
		}
		return nil
	}, sprag.Label("watcher "+w.label), sprag.Immediately())
	if err != nil {
		detach()
		return nil, err
	}
	return w, nil
}

// Stream creates a watcher owned by o that follows a stream: follow runs
// on a task of o's scope, labelled "watcher <label>", and calls send for
// each value it receives (from any goroutine, until it returns). When
// follow returns, with an error or not, it is called again after the
// retry backoff, which grows with each call that sent nothing and is reset
// by a value. follow receives the task's context and should return when it
// ends.
//
// Its options and errors are those of [Poll].
func Stream[T any](o sprag.Owner, follow func(ctx context.Context, send func(T)) error, opts ...Option) (*Watcher[T], error) {
	w, err := newWatcher[T](o, follow, follow == nil, nil, opts)
	if err != nil {
		return nil, err
	}
	detach, err := w.attach()
	if err != nil {
		return nil, err
	}
	w.task, err = w.scope.Spawn(func(ctx context.Context) error {
		w.follow(ctx, follow)
		return nil
	}, sprag.Label("watcher "+w.label))
	if err != nil {
		detach()
		return nil, err
	}
	return w, nil
}

// newWatcher checks the arguments, then makes the watcher's observable:
// a call refused makes nothing. fn is the poll or follow function, nil
// when isNil; interval is a poller's, nil for a stream.
func newWatcher[T any](o sprag.Owner, fn any, isNil bool, interval *time.Duration, opts []Option) (*Watcher[T], error) {
	sc, err := sprag.ScopeOf(o, "watcher")
	if err != nil {
		return nil, err
	}
	c := config{backoff: defaultRetryBackoff, maxBackoff: defaultMaxRetryBackoff}
	for _, opt := range opts {
		if opt != nil {
			opt.applyWatcher(&c)
		}
	}
	if c.label == "" && !isNil {
		c.label = sprag.FuncLabel(fn)
	}
	if err := sc.Accepting("watcher", c.label); err != nil {
		return nil, err
	}
	w := &Watcher[T]{scope: sc, label: c.label, unhealthyAfter: c.unhealthyAfter}
	switch {
	case isNil:
		return nil, sc.Invalid("watcher", w.label, "nil function")
	case interval != nil && *interval <= 0:
		return nil, sc.Invalid("watcher", w.label, "interval must be positive, got %v", *interval)
	case c.backoff <= 0 || c.maxBackoff < c.backoff:
		return nil, sc.Invalid("watcher", w.label, "retry backoff must be positive and at most its maximum, got %v and %v", c.backoff, c.maxBackoff)
	case c.unhealthyAfter < 0:
		return nil, sc.Invalid("watcher", w.label, "UnhealthyAfter must not be negative, got %d", c.unhealthyAfter)
	}
	if _, err := state.EqualFunc[T](c.dedupe); err != nil {
		return nil, sc.Invalid("watcher", w.label, "%v", err)
	}
	w.backoff = &Backoff{Initial: c.backoff, Max: c.maxBackoff}
	obs, err := state.New(o, *new(T), state.Unset(), state.Hidden(), state.Label("watcher "+w.label), c.dedupe)
	if err != nil {
		return nil, err
	}
	w.obs = obs
	return w, nil
}

// attach registers the watcher's health report and its metrics:
// sprag.watch.polls and sprag.watch.failures, with the attributes
// sprag.service and sprag.watcher (the label), read when metrics are
// collected. The metrics go when the owner stops.
func (w *Watcher[T]) attach() (func(), error) {
	remove, err := w.scope.Report("watcher "+w.label, w.report)
	if err != nil {
		return nil, err
	}
	m := w.scope.Meter()
	polls, err1 := m.Int64ObservableCounter("sprag.watch.polls", metric.WithUnit("{poll}"), metric.WithDescription("Polls made, or stream connections that ended."))
	failures, err2 := m.Int64ObservableCounter("sprag.watch.failures", metric.WithUnit("{poll}"), metric.WithDescription("Polls or stream connections that failed."))
	if err := errors.Join(err1, err2); err != nil {
		remove()
		return nil, w.scope.Invalid("watcher", w.label, "instruments: %v", err)
	}
	attrs := metric.WithAttributes(attribute.String("sprag.service", w.scope.Name()), attribute.String("sprag.watcher", w.label))
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		w.mu.Lock()
		p, f := w.polls, w.errors
		w.mu.Unlock()
		o.ObserveInt64(polls, p, attrs)
		o.ObserveInt64(failures, f, attrs)
		return nil
	}, polls, failures)
	if err != nil {
		remove()
		return nil, err
	}
	if err := w.scope.AddCleanup(func(context.Context) error { return reg.Unregister() }); err != nil {
		_ = reg.Unregister()
		remove()
		return nil, err
	}
	return func() { _ = reg.Unregister(); remove() }, nil
}

// record counts a poll's result and passes a new value on. A failure
// caused by the owner stopping is not counted.
func (w *Watcher[T]) record(ctx context.Context, v T, err error) {
	w.mu.Lock()
	w.polls++
	if err != nil {
		if ctx.Err() == nil {
			w.failLocked(err)
		}
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	w.succeed(v)
}

// failLocked counts a failure. The caller holds mu.
func (w *Watcher[T]) failLocked(err error) {
	w.errors++
	w.failures++
	w.lastErr = err
}

// succeed records a value, resets the backoff and notifies subscribers of
// a change.
func (w *Watcher[T]) succeed(v T) {
	w.mu.Lock()
	w.failures, w.quiet = 0, 0
	w.lastSuccess = time.Now()
	w.mu.Unlock()
	if w.obs.Set(v) {
		w.mu.Lock()
		w.changes++
		w.mu.Unlock()
	}
}

// follow runs the stream follower until ctx ends, reconnecting after the
// backoff.
func (w *Watcher[T]) follow(ctx context.Context, follow func(context.Context, func(T)) error) {
	for attempt := uint64(1); ; attempt++ {
		w.attempt.Store(attempt)
		send := func(v T) {
			if w.attempt.Load() == attempt {
				w.succeed(v)
			}
		}
		err := sprag.Safely(func() error { return follow(ctx, send) })
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
		wait := w.backoff.delay(w.quiet)
		w.mu.Unlock()
		if err != nil {
			w.scope.LogFailure("task", "watcher "+w.label, err) // as a poll logs as its timer, "watcher <label>"
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

// Label returns the label the watcher logs with.
func (w *Watcher[T]) Label() string { return w.label }

// Value returns the last value and true, or the zero T and false before
// the first value.
func (w *Watcher[T]) Value() (T, bool) { return w.obs.Load() }

// Subscribe calls fn with each new value, and with the last one first
// with state.NotifyCurrent; fn belongs to the service subscriber. See
// state.Observable.Subscribe for the guarantees and errors.
func (w *Watcher[T]) Subscribe(subscriber sprag.Owner, fn func(ctx context.Context, value T) error, opts ...state.SubscribeOption) (*state.Subscriber, error) {
	return w.obs.Subscribe(subscriber, fn, opts...)
}

// Watch returns a channel of the watcher's values, as
// state.Observable.Watch: it receives the last value at once if there is
// one.
func (w *Watcher[T]) Watch(ctx context.Context) <-chan T { return w.obs.Watch(ctx) }

// Cancel stops the watcher before its owner stops: no poll begins after
// Cancel returns, and a stream follower's context is cancelled. The value
// stays readable. It reports whether this call stopped the watcher.
func (w *Watcher[T]) Cancel() bool {
	if w.timer != nil {
		return w.timer.Cancel()
	}
	return w.task.Cancel()
}

// Stats returns the watcher's figures at this moment.
func (w *Watcher[T]) Stats() Stats {
	obs := w.obs.Stats()
	w.mu.Lock()
	defer w.mu.Unlock()
	st := Stats{
		HasValue:    obs.Version > 0,
		Polls:       w.polls,
		Changes:     w.changes,
		Errors:      w.errors,
		Failures:    w.failures,
		LastSuccess: w.lastSuccess,
	}
	if st.HasValue {
		st.Value = obs.Value
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
