package sprag

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrQueueFull is returned by [Queue.TryEnqueue] when the queue has no
	// room, and wrapped with the context's error by [Queue.Enqueue] when
	// its context ended before room was made.
	ErrQueueFull = errors.New("sprag: queue full")

	// ErrQueueDropped is wrapped by the error a queue without an
	// [Overflow] callback reports when it stops with items it could not
	// process before the stop deadline; the error gives their count. It is
	// logged as a failed cleanup of the queue's service, and is part of
	// Stop's error if Stop is still waiting then (see [Service.Done]).
	ErrQueueDropped = errors.New("sprag: queue items dropped at stop")
)

// Queue is a bounded queue of items of type T with a pool of worker
// goroutines owned by a service, as the original's QueueService. Build it
// with [NewQueue]. Its methods are safe for concurrent use.
//
// Workers call the handler with one item at a time; several workers run
// concurrently, so items are not handled in a strict order, though each
// worker takes them in the order they were enqueued. A handler error or
// panic is logged with the service's name and the queue's label (and the
// stack for a panic), counted, and the worker goes on with the next item.
//
// When its service stops, the queue stops accepting once the service's
// context is cancelled (step 3 of [Service.Stop]; OnStop may still
// enqueue). Its workers then drain what was accepted until Stop's context
// ends. Whatever is still queued then is handed to the [Overflow]
// callback, or, without one, counted as Dropped in [QueueStats] and logged
// at error level with its count, wrapping [ErrQueueDropped]: no accepted
// item is lost silently. That happens among the service's cleanups, which
// may outlive Stop's return when its context has ended; [Service.Done]
// closes after it. Handlers get a context that is not cancelled when the service
// begins to stop but when Stop's context ends; with a Stop context that
// has no deadline the drain lasts until the queue is empty.
type Queue[T any] struct {
	s        *Service
	label    string
	handler  func(context.Context, T) error
	overflow func(context.Context, []T) error
	workers  int
	ch       chan T

	// mu is read-locked by an Enqueue while it may add an item and
	// write-locked at stop, so that once the service's context is
	// cancelled and mu was taken once, no item can arrive.
	mu         sync.RWMutex
	svcCtx     context.Context // the service's: cancelled at stop, ends acceptance
	workCtx    context.Context // the handlers': ends at the drain deadline
	cancelWork context.CancelFunc
	drainOnce  sync.Once
	stopCtx    context.Context // Stop's, set by drainOnce
	stopWatch  func() bool     // cancels workCtx when stopCtx ends; set by drainOnce

	inFlight                                         atomic.Int64
	processed, failed, rejected, overflowed, dropped atomic.Int64
	rate                                             *rateMeter
}

// QueueStats are a queue's figures, also reported in its service's
// [Status.Details] under "queue <label>".
type QueueStats struct {
	Workers    int     `json:"workers"`
	Capacity   int     `json:"capacity"`
	Pending    int     `json:"pending"`    // accepted and waiting for a worker
	InFlight   int64   `json:"in_flight"`  // being handled
	Processed  int64   `json:"processed"`  // handled without error
	Failed     int64   `json:"failed"`     // the handler returned an error or panicked
	Rejected   int64   `json:"rejected"`   // refused because the queue was full
	Overflowed int64   `json:"overflowed"` // handed to the Overflow callback at stop
	Dropped    int64   `json:"dropped"`    // left at stop without an Overflow callback
	Throughput float64 `json:"throughput"` // items handled per second over the last minute
}

// NewQueue creates a queue of items of type T owned by svc, and starts its
// workers, which call handler for each item; see [Queue] for the
// guarantees. Options: [Workers] (default 1), [Capacity] (default 100),
// [Overflow] and [Label] (default: the handler's function name), which
// names the queue in logs, errors and health.
//
// NewQueue fails, creating nothing, with an error wrapping
// [ErrNotRunning] when svc is not starting or running, [ErrDuplicateName]
// when svc already has a queue of that label, and [ErrInvalidArgument]
// for a nil svc or handler, a count that is not positive, or an Overflow
// callback for items of another type.
func NewQueue[T any](svc Interface, handler func(ctx context.Context, item T) error, opts ...QueueOption) (*Queue[T], error) {
	s, err := primitiveService(svc, "queue")
	if err != nil {
		return nil, err
	}
	c := queueConfig{workers: 1, capacity: 100}
	for _, o := range opts {
		o.applyQueue(&c)
	}
	if c.label == "" && handler != nil {
		c.label = funcLabel(handler)
	}
	q := &Queue[T]{s: s, label: c.label, handler: handler, workers: c.workers}
	switch {
	case handler == nil:
		return nil, s.invalidPrimitive("queue", c.label, "nil handler")
	case c.workers <= 0:
		return nil, s.invalidPrimitive("queue", c.label, "workers must be positive, got %d", c.workers)
	case c.capacity <= 0:
		return nil, s.invalidPrimitive("queue", c.label, "capacity must be positive, got %d", c.capacity)
	}
	if c.overflow != nil {
		fn, ok := c.overflow.(func(context.Context, []T) error)
		switch {
		case !ok:
			return nil, s.invalidPrimitive("queue", c.label, "Overflow takes %s, the queue holds %T", c.overflowType, *new(T))
		case fn == nil:
			return nil, s.invalidPrimitive("queue", c.label, "nil Overflow function")
		}
		q.overflow = fn
	}
	q.ch = make(chan T, c.capacity)
	q.rate = newRateMeter(time.Now())

	svcCtx, detach, err := s.attach("queue", q.label, func() (any, error) { return q.Stats(), nil })
	if err != nil {
		return nil, err
	}
	q.svcCtx = svcCtx
	q.workCtx, q.cancelWork = context.WithCancel(context.WithoutCancel(svcCtx))
	if err := s.addCleanup("queue "+q.label, q.finish); err != nil {
		detach()
		q.cancelWork()
		return nil, err
	}
	for i := range q.workers {
		label := "queue " + q.label + " worker " + strconv.Itoa(i+1)
		if t := s.Spawn(q.work, Label(label)); t.Err() != nil {
			// The service began to stop meanwhile: the cleanup above
			// takes care of the workers already started.
			return nil, t.Err()
		}
	}
	return q, nil
}

// Label returns the label the queue logs with.
func (q *Queue[T]) Label() string { return q.label }

// TryEnqueue adds item to the queue if it has room, without waiting. It
// returns an error wrapping [ErrQueueFull] when the queue is full, and one
// wrapping [ErrNotRunning] once the queue has stopped accepting.
func (q *Queue[T]) TryEnqueue(item T) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if err := q.closed(); err != nil {
		return err
	}
	select {
	case q.ch <- item:
		return nil
	default:
		q.rejected.Add(1)
		return fmt.Errorf("service %q: queue %s: %w (capacity %d)", q.s.Name(), q.label, ErrQueueFull, cap(q.ch))
	}
}

// Enqueue adds item to the queue, waiting for room until ctx ends. When
// ctx ends first it returns an error wrapping both [ErrQueueFull] and
// ctx's error; when the queue stops accepting, also while Enqueue waits,
// one wrapping [ErrNotRunning].
func (q *Queue[T]) Enqueue(ctx context.Context, item T) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if err := q.closed(); err != nil {
		return err
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
		return fmt.Errorf("service %q: queue %s: %w: %w", q.s.Name(), q.label, ErrQueueFull, context.Cause(ctx))
	case <-q.svcCtx.Done():
		return q.closed()
	}
}

// closed returns the error of an Enqueue once the queue stopped accepting.
func (q *Queue[T]) closed() error {
	if q.svcCtx.Err() == nil {
		return nil
	}
	return fmt.Errorf("service %q: queue %s: %w: the queue stopped accepting", q.s.Name(), q.label, ErrNotRunning)
}

// Stats returns the queue's figures at this moment.
func (q *Queue[T]) Stats() QueueStats {
	return QueueStats{
		Workers:    q.workers,
		Capacity:   cap(q.ch),
		Pending:    len(q.ch),
		InFlight:   q.inFlight.Load(),
		Processed:  q.processed.Load(),
		Failed:     q.failed.Load(),
		Rejected:   q.rejected.Load(),
		Overflowed: q.overflowed.Load(),
		Dropped:    q.dropped.Load(),
		Throughput: q.rate.perSecond(time.Now()),
	}
}

// work is a worker: it handles items until the service's context is
// cancelled, then drains.
func (q *Queue[T]) work(ctx context.Context) error {
	for ctx.Err() == nil {
		select {
		case item := <-q.ch:
			q.handle(item)
		case <-ctx.Done():
		}
	}
	q.drain()
	return nil
}

// drain handles what is left until the queue is empty or Stop's context
// ends.
func (q *Queue[T]) drain() {
	q.drainOnce.Do(q.beginDrain)
	for q.stopCtx.Err() == nil && q.workCtx.Err() == nil {
		select {
		case item := <-q.ch:
			q.handle(item)
		default:
			return // empty, and nothing more can arrive: see beginDrain
		}
	}
}

// beginDrain runs once, after the service's context was cancelled: it
// waits for the Enqueue calls in progress, after which none adds an item,
// and arranges for the handlers' context to end with Stop's.
func (q *Queue[T]) beginDrain() {
	q.mu.Lock()
	q.mu.Unlock() //nolint:staticcheck // SA2001: an empty critical section is the barrier that waits for Enqueue calls in progress
	q.stopCtx = q.s.stopContext()
	q.stopWatch = context.AfterFunc(q.stopCtx, q.cancelWork)
}

// handle calls the handler for one item and counts the result.
func (q *Queue[T]) handle(item T) {
	q.inFlight.Add(1)
	err := q.call(item)
	q.inFlight.Add(-1)
	q.rate.add(time.Now())
	if err != nil {
		q.failed.Add(1)
		q.s.logFailure(KindTask, "queue "+q.label, "", err)
		return
	}
	q.processed.Add(1)
}

func (q *Queue[T]) call(item T) error {
	return safely(func() error { return q.handler(q.workCtx, item) })
}

// finish is the queue's cleanup, run by Stop after its workers ended or
// its deadline passed: it takes what is left and hands it to the overflow
// callback, or reports it.
func (q *Queue[T]) finish(ctx context.Context) error {
	q.drainOnce.Do(q.beginDrain)
	q.stopWatch()
	q.cancelWork()

	q.mu.Lock()
	var rest []T
	for taking := true; taking; {
		select {
		case item := <-q.ch: // a worker past the deadline may take one too: then it handles it
			rest = append(rest, item)
		default:
			taking = false
		}
	}
	q.mu.Unlock()
	if len(rest) == 0 {
		return nil
	}
	if q.overflow != nil {
		q.overflowed.Add(int64(len(rest)))
		return q.overflow(ctx, rest)
	}
	q.dropped.Add(int64(len(rest)))
	return fmt.Errorf("%w: %d unprocessed (set sprag.Overflow to keep them)", ErrQueueDropped, len(rest))
}
