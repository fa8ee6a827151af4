package sprag

import (
	"context"
	"time"
)

// taskCtx is a Task seen as the context its function receives: no values,
// no deadline, cancelled by Task.Cancel, by the scope's Close, or when
// the function returns. Being the Task itself, it costs a Spawn no
// allocation; its Done channel is made when first asked for. It
// implements the AfterFunc method that context.AfterFunc and the context
// package's children look for, so that a context derived from it costs no
// goroutine either. Its state is guarded by the task's mu.
type taskCtx Task

func (t *Task) context() *taskCtx { return (*taskCtx)(t) }

// ctxWatch is what those who watch a task's context wait with.
type ctxWatch struct {
	done   chan struct{}      // made by the first Done
	afters map[*func()]func() // AfterFunc's functions still to call
}

// watched returns c's ctxWatch, made on demand. The caller holds mu.
func (c *taskCtx) watched() *ctxWatch {
	if c.watch == nil {
		c.watch = &ctxWatch{}
	}
	return c.watch
}

func (c *taskCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c *taskCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return (*Task)(c).lazyDone(&c.watched().done, ctxWatched, ctxEnded)
}

func (c *taskCtx) Err() error {
	if c.state.Load()&ctxEnded != 0 {
		return context.Canceled
	}
	return nil
}

func (c *taskCtx) Value(any) any { return nil }

func (c *taskCtx) String() string { return "sprag task context" }

// AfterFunc arranges for f to run in its own goroutine once c is
// cancelled, at once if it is; the returned function stops that, and
// reports whether it did, as context.AfterFunc's does.
func (c *taskCtx) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	if c.state.Or(ctxWatched)&ctxEnded != 0 {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	key, w := &f, c.watched()
	if w.afters == nil {
		w.afters = make(map[*func()]func())
	}
	w.afters[key] = f
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := w.afters[key]
		delete(w.afters, key)
		return ok
	}
}

// cancel cancels c; only the first call counts. The caller does not hold
// the task's mu. While nobody asked for Done or AfterFunc, which is the
// common case, it takes no lock: of cancel and the first of those, the
// one that sets its bit of state second sees the other's and closes the
// channel or runs the functions.
func (c *taskCtx) cancel() {
	old := c.state.Or(ctxEnded)
	if old&ctxEnded != 0 || old&ctxWatched == 0 {
		return
	}
	c.mu.Lock()
	w := c.watched()
	if w.done != nil {
		close(w.done)
	}
	afters := w.afters
	w.afters = nil
	c.mu.Unlock()
	for _, f := range afters {
		go f()
	}
}
