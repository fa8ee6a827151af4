package cluster

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag"
)

// A ConsumeOption configures [Consume].
type ConsumeOption interface {
	applyConsume(*consumeConfig)
	String() string
}

type consumeConfig struct{ workers int }

type workersOption int

func (o workersOption) applyConsume(c *consumeConfig) { c.workers = int(o) }
func (o workersOption) String() string                { return fmt.Sprintf("cluster.Workers(%d)", int(o)) }

// Workers sets how many items a replica handles at once; the default is 1.
func Workers(n int) ConsumeOption { return workersOption(n) }

// Consume runs workers on svc's managed tasks that pull items of q and
// call handler with each, until svc stops: handler's nil acknowledges the
// item, an error or a panic has it delivered again or dead-lettered (see
// [Queue]). Failures are logged with the service's name.
//
// When svc stops, the workers pull no more and finish the items they
// hold until the stop's deadline; handler's context is cancelled then,
// and the items still in progress are handed back for another replica at
// once, as are the items pulled ahead. Consume must be called while svc
// starts or runs; it fails with an error wrapping
// sprag.ErrInvalidArgument for a nil queue or handler or a count that is
// not positive.
func Consume[T any](svc sprag.Interface, q *Queue[T], handler func(ctx context.Context, item T) error, opts ...ConsumeOption) error {
	c := consumeConfig{workers: 1}
	for _, o := range opts {
		if o != nil {
			o.applyConsume(&c)
		}
	}
	m, err := asManaged(svc)
	if err != nil {
		return fmt.Errorf("cluster.Consume: %w", err)
	}
	switch {
	case q == nil:
		return fmt.Errorf("cluster.Consume: %w: nil queue", sprag.ErrInvalidArgument)
	case handler == nil:
		return fmt.Errorf("cluster.Consume(%q): %w: nil handler", q.name, sprag.ErrInvalidArgument)
	case c.workers < 1:
		return fmt.Errorf("cluster.Consume(%q): %w: Workers must be positive, got %d", q.name, sprag.ErrInvalidArgument, c.workers)
	}
	w := &workers[T]{q: q, handler: handler, log: loggerOf(m).With(zap.String("queue", q.name)), held: make(map[*pulled]struct{})}
	w.ctx, w.cancel = context.WithCancel(context.WithoutCancel(m.Context()))
	if err := m.AddCleanup(w.finish); err != nil {
		w.cancel()
		return err
	}
	for i := range c.workers {
		if _, err := spawn(m, fmt.Sprintf("queue %s worker %d", q.name, i+1), w.work); err != nil {
			return err // the cleanup above stops the workers already started
		}
	}
	return nil
}

// workers are the worker tasks of one Consume.
type workers[T any] struct {
	q       *Queue[T]
	handler func(context.Context, T) error
	log     *zap.Logger

	// ctx is the handlers': cancelled when the stop's deadline has passed,
	// not when the service begins to stop.
	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex
	held map[*pulled]struct{} // items being handled; guarded by mu
}

// work is one worker: it pulls and handles items until ctx, the
// service's, ends.
func (w *workers[T]) work(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		p, err := w.q.pull(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, sprag.ErrNotRunning) {
				return err // the node stopped under the service
			}
			failures++
			if failures == 1 || failures%20 == 0 {
				w.log.Warn("pull from the queue", zap.Int("failures", failures), zap.Error(err))
			}
			sleep(ctx, backoff(failures, 100*time.Millisecond, 5*time.Second))
			continue
		}
		failures = 0
		w.handle(p) // once pulled, an item is handled even if the stop began meanwhile
	}
	return nil
}

func (w *workers[T]) handle(p *pulled) {
	w.mu.Lock()
	w.held[p] = struct{}{}
	w.mu.Unlock()
	err := call(w.ctx, w.handler, p.data.(T))
	w.mu.Lock()
	delete(w.held, p)
	w.mu.Unlock()
	if err != nil {
		fields := []zap.Field{zap.Int("attempt", p.attempt), zap.Error(err)}
		var pe *sprag.PanicError
		if errors.As(err, &pe) {
			fields = append(fields, zap.ByteString("stack", pe.Stack))
		}
		w.log.Warn("queue item failed", fields...)
	}
	w.q.settle(p, err)
}

// call runs the handler and turns a panic into a *sprag.PanicError.
func call[T any](ctx context.Context, fn func(context.Context, T) error, item T) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &sprag.PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(ctx, item)
}

// finish is the workers' cleanup, run once the service's tasks ended or
// its stop's deadline passed: the handlers' context ends, the items still
// in progress and those pulled ahead go back to the engine.
func (w *workers[T]) finish(ctx context.Context) error {
	defer w.cancel() // after the abandon: a handler that returns on it settles nothing
	w.mu.Lock()
	held := make([]*pulled, 0, len(w.held))
	for p := range w.held {
		held = append(held, p)
	}
	w.mu.Unlock()
	for _, p := range held {
		w.q.abandon(p)
	}
	if _, ok := ctx.Deadline(); !ok || ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	return w.q.in.release(ctx)
}
