package queue

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sprag-go/sprag/sprag"
)

var (
	// ErrFull is returned by [Queue.TryEnqueue] when the queue has no
	// room, and wrapped with the context's error by [Queue.Enqueue] when
	// its context ended before room was made.
	ErrFull = errors.New("queue: full")

	// ErrDropped is wrapped by the error a queue without an [Overflow]
	// callback reports when it stops with items it could not process
	// before the stop deadline; the error gives their count. It is logged
	// at error level with the owner's name and the queue's label.
	ErrDropped = errors.New("queue: items dropped at stop")
)

// Queue is a bounded queue of items of type T with a pool of worker
// goroutines owned by a service or a scope, as the original's
// QueueService. Build it with [New]. Its methods are safe for concurrent
// use.
//
// Workers call the handler with one item at a time; several workers run
// concurrently, so items are not handled in a strict order, though each
// worker takes them in the order they were enqueued. A handler error or
// panic is logged with the owner's name and the queue's label (and the
// stack for a panic), counted, and the worker goes on with the next item.
//
// When its owner stops, the queue stops accepting once the owner's
// callbacks are closed (step 4 of sprag.Scope.Close; OnStop may still
// enqueue). Its workers then drain what was accepted until Stop's context
// ends; from then on they take no more items. Handlers get a context that
// is not cancelled when the owner begins to stop but when Stop's context
// ends; with a Stop context that has no deadline the drain lasts until the
// queue is empty.
//
// Once the last worker has returned, what is still queued is handed to
// the [Overflow] callback, or, without one, counted as Dropped in [Stats]
// and logged at error level with its count, wrapping [ErrDropped]. So no
// accepted item is lost silently: handled + overflowed + dropped equals
// accepted, exactly, and Overflow never runs while a handler of its queue
// runs. The owner's Done closes after all of that; a handler that never
// returns keeps it open, and Stop's error names its worker.
//
// With [BackedBy], the items live in a [Backend], such as a store that
// several processes share: Enqueue and TryEnqueue push to it, workers
// pull from it and report each result to it. When the owner begins to
// stop, the workers pull no more; they finish the items they hold until
// Stop's context ends (an item the deadline cut is reported with an error
// wrapping [ErrHandedBack]), and what the backend's Drain returns then
// goes to Overflow or is counted as dropped, as above.
type Queue[T any] struct {
	scope    *sprag.Scope
	label    string
	handler  func(context.Context, T) error
	overflow func(context.Context, []T) error
	workers  int
	ch       chan T     // the items, without a backend
	backend  Backend[T] // the items, with one

	// mu is read-locked by an enqueue while it may add an item and
	// write-locked when the queue stops accepting, so that once closed is
	// set no item can arrive; ch is closed then, which ends the workers'
	// loops once it is empty.
	mu          sync.RWMutex
	closed      bool
	accepted    chan struct{}   // closed once closed is set: no item can arrive any more
	finishLate  bool            // stopAccepting runs finish: the workers returned before it; guarded by mu
	intake      context.Context // ends first when the queue stops accepting, so that a blocked enqueue lets go
	closeIntake context.CancelFunc

	workCtx    context.Context // the handlers': ends at the drain deadline
	cancelWork context.CancelFunc
	expired    atomic.Bool  // the drain deadline has passed: take no more items
	unwatch    func() bool  // releases the watch of the drain deadline; guarded by mu
	live       atomic.Int64 // workers still running
	meter      throughput
	metrics    metric.Registration // the figures' OpenTelemetry callback
	leftAtStop leftCounters        // the items overflowed or dropped at stop, counted once the callback is gone

	inFlight                                         atomic.Int64
	processed, failed, rejected, overflowed, dropped atomic.Int64
}

// Stats are a queue's figures, also reported in its owner's health
// details under "queue <label>".
type Stats struct {
	Workers    int     `json:"workers"`
	Capacity   int     `json:"capacity"`   // of the queue's own buffer; 0 with a Backend
	Pending    int     `json:"pending"`    // accepted and waiting for a worker; 0 with a Backend
	InFlight   int64   `json:"in_flight"`  // being handled
	Processed  int64   `json:"processed"`  // handled without error
	Failed     int64   `json:"failed"`     // the handler returned an error or panicked
	Rejected   int64   `json:"rejected"`   // refused because the queue was full
	Overflowed int64   `json:"overflowed"` // handed to the Overflow callback at stop
	Dropped    int64   `json:"dropped"`    // left at stop without an Overflow callback
	Throughput float64 `json:"throughput"` // items handled per second over the last minute
}

// New creates a queue of items of type T owned by o, and starts its
// workers, which call handler for each item; see [Queue] for the
// guarantees. Options: [Workers] (default 1), [Capacity] (default 100),
// [Overflow], [BackedBy] and [Label] (default: the handler's function
// name), which names the queue in logs, errors and health.
//
// New fails, creating nothing, with an error wrapping
// sprag.ErrNotRunning when o's scope is not open, sprag.ErrDuplicateName
// when o already has a queue of that label, and sprag.ErrInvalidArgument
// for a nil o or handler, a count that is not positive or is above its
// maximum ([MaxWorkers], [MaxCapacity]), or an Overflow
// callback or a backend for items of another type, or a nil backend.
func New[T any](o sprag.Owner, handler func(ctx context.Context, item T) error, opts ...Option) (*Queue[T], error) {
	sc, err := sprag.ScopeOf(o, "queue")
	if err != nil {
		return nil, err
	}
	c := config{workers: 1, capacity: 100}
	for _, opt := range opts {
		if opt != nil {
			opt.applyQueue(&c)
		}
	}
	if c.label == "" {
		c.label = sprag.FuncLabel(handler)
	}
	if err := sc.Accepting("queue", c.label); err != nil {
		return nil, err
	}
	q := &Queue[T]{scope: sc, label: c.label, handler: handler, workers: c.workers, accepted: make(chan struct{})}
	switch {
	case handler == nil:
		return nil, sc.Invalid("queue", c.label, "nil handler")
	case c.workers <= 0 || c.workers > MaxWorkers:
		return nil, sc.Invalid("queue", c.label, "workers must be positive and at most %d, got %d", MaxWorkers, c.workers)
	case c.capacity <= 0 || c.capacity > MaxCapacity:
		return nil, sc.Invalid("queue", c.label, "capacity must be positive and at most %d, got %d", MaxCapacity, c.capacity)
	}
	if c.overflow != nil {
		fn, ok := c.overflow.(func(context.Context, []T) error)
		switch {
		case !ok:
			return nil, sc.Invalid("queue", c.label, "Overflow takes %s, the queue holds %T", c.overflowType, *new(T))
		case fn == nil:
			return nil, sc.Invalid("queue", c.label, "nil Overflow function")
		}
		q.overflow = fn
	}
	if c.backendType != "" {
		b, ok := c.backend.(Backend[T])
		switch {
		case c.backendType != reflect.TypeFor[T]().String():
			return nil, sc.Invalid("queue", c.label, "BackedBy takes a Backend[%s], the queue holds %T", c.backendType, *new(T))
		case !ok || isNil(b):
			return nil, sc.Invalid("queue", c.label, "nil backend")
		}
		q.backend = b
	} else {
		q.ch = make(chan T, c.capacity)
	}
	q.intake, q.closeIntake = context.WithCancel(context.Background()) //nolint:gosec // closeIntake is called when the queue stops accepting
	if err := q.start(sc); err != nil {
		return nil, err
	}
	return q, nil
}

// start attaches the queue to its scope and starts its workers; on
// failure it undoes what it did.
func (q *Queue[T]) start(sc *sprag.Scope) (err error) {
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	remove, err := sc.Report("queue "+q.label, func() (any, error) { return q.Stats(), nil })
	if err != nil {
		return err
	}
	undo = append(undo, remove)
	cb, err := sc.Callback("queue "+q.label, q.stopAccepting)
	if err != nil {
		return err
	}
	undo = append(undo, func() { cb.Close() })
	meter, err := q.meter.start(sc, "queue "+q.label, q.handled)
	if err != nil {
		return err
	}
	undo = append(undo, func() { meter.Cancel() })
	if q.metrics, err = q.observe(sc); err != nil {
		return err
	}
	undo = append(undo, func() { _ = q.metrics.Unregister() })
	q.workCtx, q.cancelWork = context.WithCancel(context.WithoutCancel(sc.Context()))
	undo = append(undo, q.cancelWork)
	q.live.Store(int64(q.workers))
	work := q.work
	if q.backend != nil {
		work = q.pullWork
	}
	for i := range q.workers {
		label := "queue " + q.label + " worker " + strconv.Itoa(i+1)
		if _, err := sc.Spawn(work, sprag.Label(label)); err != nil {
			// The owner began to stop meanwhile: the workers already
			// started end with the queue's intake, and the last one
			// reports what is left.
			undo = nil
			if i == 0 {
				q.live.Store(0)
				q.cancelWork()
				remove()
				_ = q.metrics.Unregister() // nothing was accepted: no figure to report
				return err
			}
			if q.live.Add(int64(i-q.workers)) == 0 {
				q.finishAtClose() // the workers started have all returned already
			}
			return err
		}
	}
	return nil
}

// Label returns the label the queue logs with.
func (q *Queue[T]) Label() string { return q.label }

// TryEnqueue adds item to the queue if it has room, without waiting. It
// returns an error wrapping [ErrFull] when the queue is full, and one
// wrapping sprag.ErrNotRunning once the queue has stopped accepting.
func (q *Queue[T]) TryEnqueue(item T) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return q.closedErr()
	}
	if q.backend != nil {
		return q.tryPush(item)
	}
	select {
	case q.ch <- item:
		return nil
	default:
		q.rejected.Add(1)
		return fmt.Errorf("service %q: queue %s: %w (capacity %d)", q.scope.Name(), q.label, ErrFull, cap(q.ch))
	}
}

// Enqueue adds item to the queue, waiting for room until ctx ends. When
// ctx ends first it returns an error wrapping both [ErrFull] and ctx's
// error; when the queue stops accepting, also while Enqueue waits, one
// wrapping sprag.ErrNotRunning.
func (q *Queue[T]) Enqueue(ctx context.Context, item T) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return q.closedErr()
	}
	if q.backend != nil {
		return q.push(ctx, item)
	}
	select {
	case q.ch <- item:
		return nil
	default:
	}
	select {
	case q.ch <- item:
		return nil
	case <-ctx.Done():
		q.rejected.Add(1)
		err := fmt.Errorf("service %q: queue %s: %w: %w", q.scope.Name(), q.label, ErrFull, ctx.Err())
		if cause := context.Cause(ctx); cause != ctx.Err() { //nolint:errorlint // a cause of its own, set with WithCancelCause or WithTimeoutCause
			err = fmt.Errorf("%w: %w", err, cause)
		}
		return err
	case <-q.intake.Done():
		return q.closedErr()
	}
}

func (q *Queue[T]) closedErr() error {
	return fmt.Errorf("service %q: queue %s: %w: the queue stopped accepting", q.scope.Name(), q.label, sprag.ErrNotRunning)
}

// stopAccepting is the queue's callback's onClose, at step 4 of its
// scope's Close: it lets blocked Enqueue calls go, waits for the ones in
// progress, closes the intake, and arms the drain deadline.
func (q *Queue[T]) stopAccepting() {
	q.closeIntake()
	unwatch := context.AfterFunc(q.scope.CloseContext(), func() {
		q.expired.Store(true)
		q.cancelWork()
	})
	q.mu.Lock()
	q.closed = true
	q.unwatch = unwatch
	if q.ch != nil {
		close(q.ch)
	}
	finish := q.finishLate
	q.mu.Unlock()
	close(q.accepted)
	if finish {
		q.finish()
	}
}

// finishAtClose runs finish, for a New whose later workers the stop
// refused after the first ones had returned: now if the queue has stopped
// accepting, else when it does. Not on New's goroutine then, which may be
// the owner's OnStart, which the stop waits for.
func (q *Queue[T]) finishAtClose() {
	q.mu.Lock()
	closed := q.closed
	q.finishLate = !closed
	q.mu.Unlock()
	if closed {
		q.finish()
	}
}

// Stats returns the queue's figures at this moment.
func (q *Queue[T]) Stats() Stats {
	return Stats{
		Workers:    q.workers,
		Capacity:   cap(q.ch),
		Pending:    len(q.ch),
		InFlight:   q.inFlight.Load(),
		Processed:  q.processed.Load(),
		Failed:     q.failed.Load(),
		Rejected:   q.rejected.Load(),
		Overflowed: q.overflowed.Load(),
		Dropped:    q.dropped.Load(),
		Throughput: q.meter.perSecond(q.handled()),
	}
}

func (q *Queue[T]) handled() int64 { return q.processed.Load() + q.failed.Load() }

// work is a worker: it handles items until the intake is closed and
// empty, or the drain deadline has passed. The last worker to return
// hands over what is left.
func (q *Queue[T]) work(context.Context) error {
	defer func() {
		if q.live.Add(-1) == 0 {
			q.finish()
		}
	}()
	for item := range q.ch {
		_ = q.handle(item) // an item a worker took is handled, also at the deadline
		if q.expired.Load() {
			return nil
		}
	}
	return nil
}

// handle calls the handler for one item, counts the result and returns
// it.
func (q *Queue[T]) handle(item T) error {
	q.inFlight.Add(1)
	err := sprag.Safely(func() error { return q.handler(q.workCtx, item) })
	q.inFlight.Add(-1)
	if err != nil {
		q.failed.Add(1)
		q.scope.LogFailure("queue", q.label, err)
		return err
	}
	q.processed.Add(1)
	return nil
}

// finish runs once, when the last worker has returned: it takes what is
// left and hands it to the overflow callback, or reports it.
func (q *Queue[T]) finish() {
	defer func() { _ = q.metrics.Unregister() }() // the figures are final; the callback goes
	q.mu.RLock()
	unwatch := q.unwatch
	q.mu.RUnlock()
	if unwatch != nil {
		unwatch()
	}
	q.cancelWork()
	var rest []T
	if q.backend != nil {
		// Backed workers end at step 3 of the close, the intake at step 4:
		// a push under way then still reaches the backend before Drain.
		<-q.accepted
		rest = q.drained()
	} else {
		for item := range q.ch { // closed: this ends once it is empty
			rest = append(rest, item)
		}
	}
	if len(rest) == 0 {
		return
	}
	ctx := q.scope.CloseContext()
	if q.overflow != nil {
		q.overflowed.Add(int64(len(rest)))
		q.leftAtStop.overflowed.Add(context.Background(), int64(len(rest)), q.leftAtStop.attrs)
		if err := sprag.Safely(func() error { return q.overflow(ctx, rest) }); err != nil {
			q.scope.LogFailure("queue", q.label+" overflow", err)
		}
		return
	}
	q.dropped.Add(int64(len(rest)))
	q.leftAtStop.dropped.Add(context.Background(), int64(len(rest)), q.leftAtStop.attrs)
	q.scope.LogFailure("queue", q.label, fmt.Errorf("%w: %d unprocessed (set queue.Overflow to keep them)", ErrDropped, len(rest)))
}

// leftCounters are the counters of the items left at stop. They count
// once, when the last worker has returned, and then the callback of the
// other figures goes: synchronous counters keep their sums for the
// collections that follow.
type leftCounters struct {
	overflowed, dropped metric.Int64Counter
	attrs               metric.AddOption
}

// observe registers the queue's figures with its scope's meter, read when
// metrics are collected: sprag.queue.depth, sprag.queue.handled and
// sprag.queue.failed, and the counters sprag.queue.overflowed and
// sprag.queue.dropped, with the attributes sprag.service and sprag.queue
// (the label). They cost the items nothing.
func (q *Queue[T]) observe(sc *sprag.Scope) (metric.Registration, error) {
	m := sc.Meter()
	depth, err1 := m.Int64ObservableGauge("sprag.queue.depth", metric.WithUnit("{item}"), metric.WithDescription("Items accepted and waiting for a worker."))
	handled, err2 := m.Int64ObservableCounter("sprag.queue.handled", metric.WithUnit("{item}"), metric.WithDescription("Items handled without error."))
	failed, err3 := m.Int64ObservableCounter("sprag.queue.failed", metric.WithUnit("{item}"), metric.WithDescription("Items whose handler failed or panicked."))
	overflowed, err4 := m.Int64Counter("sprag.queue.overflowed", metric.WithUnit("{item}"), metric.WithDescription("Items handed to Overflow at stop."))
	dropped, err5 := m.Int64Counter("sprag.queue.dropped", metric.WithUnit("{item}"), metric.WithDescription("Items left at stop without Overflow."))
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, sc.Invalid("queue", q.label, "instruments: %v", err)
	}
	set := attribute.NewSet(attribute.String("sprag.service", sc.Name()), attribute.String("sprag.queue", q.label))
	q.leftAtStop = leftCounters{overflowed: overflowed, dropped: dropped, attrs: metric.WithAttributeSet(set)}
	overflowed.Add(context.Background(), 0, q.leftAtStop.attrs) // reported, as zero, from the start
	dropped.Add(context.Background(), 0, q.leftAtStop.attrs)
	attrs := metric.WithAttributeSet(set)
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(depth, int64(len(q.ch)), attrs)
		o.ObserveInt64(handled, q.processed.Load(), attrs)
		o.ObserveInt64(failed, q.failed.Load(), attrs)
		return nil
	}, depth, handled, failed)
}
