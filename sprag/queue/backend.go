package queue

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

// ErrHandedBack is wrapped by the error a [Backend]'s done function
// receives for an item whose handler the stop's deadline cut short: the
// item was not handled for a reason of this process, not of the item, so
// a backend that others consume hands it back at once, without counting
// a failure.
var ErrHandedBack = errors.New("queue: item handed back at the stop's deadline")

// Backend keeps a queue's items somewhere else than in the queue's own
// buffer: a store that several processes share, such as a JetStream
// work-queue stream (cluster.Queue). A queue built with [BackedBy]
// enqueues to it and its workers pull from it; Capacity then does not
// apply and Stats reports no Pending items. A Backend serves one queue.
//
// The queue's guarantees hold with the backend's part of them: the queue
// accepts an item once Push or TryPush returned nil, hands it to one
// worker, and calls done once with the handler's result; what the
// backend does with a failure (deliver it again, set it aside) is its
// own, as is what it holds at the stop: Drain returns what it will not
// keep, for Overflow.
type Backend[T any] interface {
	// Push stores item, waiting for room until ctx ends. An error means
	// the item was not stored; it wraps ErrFull when there was no room.
	// Push must return soon once ctx ends, which happens when the queue
	// stops accepting: the owner's Stop waits for the pushes in progress,
	// also past its own deadline.
	Push(ctx context.Context, item T) error

	// TryPush stores item if there is room now; an error means it was not
	// stored, and wraps ErrFull when there was no room.
	TryPush(item T) error

	// Pull waits until ctx ends for the next item and returns it with
	// done, which the queue calls once, with nil when the handler
	// succeeded, and with its error (a *sprag.PanicError for a panic,
	// wrapped with ErrHandedBack when the stop's deadline cut it) when it
	// did not. An error wrapping sprag.ErrNotRunning means the backend
	// has stopped: the worker ends. Other errors are retried after a
	// pause that grows up to five seconds.
	Pull(ctx context.Context) (item T, done func(err error), err error)

	// Drain is called once, after the queue's last worker returned, with
	// the stop's context: it returns the items the backend holds for this
	// queue that no worker will handle, which go to Overflow or are
	// counted as dropped. A backend that keeps its items for other
	// processes hands them back there and returns none.
	Drain(ctx context.Context) []T
}

type backedByOption[T any] struct{ b Backend[T] }

func (o backedByOption[T]) applyQueue(c *config) {
	c.backend = o.b
	c.backendType = reflect.TypeFor[T]().String()
}

func (o backedByOption[T]) String() string {
	return fmt.Sprintf("queue.BackedBy(%T)", o.b)
}

// BackedBy keeps the queue's items in b instead of the queue's own
// buffer; see [Backend]. T must be the queue's item type; [New] refuses
// another one, and a nil b, with an error wrapping
// sprag.ErrInvalidArgument.
func BackedBy[T any](b Backend[T]) Option { return backedByOption[T]{b} }

// push adds item to the backend, waiting for room until ctx ends or the
// queue stops accepting.
func (q *Queue[T]) push(ctx context.Context, item T) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(q.intake, cancel) //nolint:contextcheck // the queue's intake, not the caller, decides when the queue stops accepting: a stop lets a waiting push go
	defer stop()
	return q.pushed(sprag.Safely(func() error { return q.backend.Push(ctx, item) }))
}

// tryPush adds item to the backend if it has room now.
func (q *Queue[T]) tryPush(item T) error {
	return q.pushed(sprag.Safely(func() error { return q.backend.TryPush(item) }))
}

// pushed returns the error of a push to the backend, counted and named.
func (q *Queue[T]) pushed(err error) error {
	switch {
	case err == nil:
		return nil
	case q.intake.Err() != nil:
		return q.closedErr()
	case errors.Is(err, ErrFull):
		q.rejected.Add(1)
	}
	return fmt.Errorf("service %q: queue %s: %w", q.scope.Name(), q.label, err)
}

// pullWork is a worker of a queue with a backend: it pulls and handles
// items until ctx, the task's, ends when the owner begins to stop, the
// stop's deadline passes or the backend stops. The last worker to return
// hands over what is left.
func (q *Queue[T]) pullWork(ctx context.Context) error {
	defer func() {
		if q.live.Add(-1) == 0 {
			q.finish()
		}
	}()
	failures := 0
	for ctx.Err() == nil {
		var (
			item T
			done func(error)
		)
		err := sprag.Safely(func() (err error) {
			item, done, err = q.backend.Pull(ctx)
			return err
		})
		switch {
		case ctx.Err() != nil && err != nil:
			return nil
		case errors.Is(err, sprag.ErrNotRunning):
			q.scope.LogFailure("queue", q.label, fmt.Errorf("pull: %w", err))
			return nil
		case err != nil:
			if failures++; failures == 1 || failures%20 == 0 {
				q.scope.LogFailure("queue", q.label, fmt.Errorf("pull (failure %d in a row, retried): %w", failures, err))
			}
			pause(ctx, min(100*time.Millisecond<<min(failures-1, 6), 5*time.Second))
			continue
		}
		failures = 0
		err = q.handle(item) // an item a worker took is handled, also once the stop began
		if err != nil && q.expired.Load() {
			err = fmt.Errorf("%w: %w", ErrHandedBack, err)
		}
		if done != nil {
			_ = sprag.Safely(func() error { done(err); return nil })
		}
		if q.expired.Load() {
			return nil
		}
	}
	return nil
}

// pause waits for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// drained returns what the backend gives back at the stop; a panic in
// Drain is logged and gives nothing.
func (q *Queue[T]) drained() []T {
	var rest []T
	if err := sprag.Safely(func() error { rest = q.backend.Drain(q.scope.CloseContext()); return nil }); err != nil {
		q.scope.LogFailure("queue", q.label+" drain", err)
	}
	return rest
}

// isNil reports whether b is nil or a nil pointer.
func isNil(b any) bool {
	if b == nil {
		return true
	}
	v := reflect.ValueOf(b)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
