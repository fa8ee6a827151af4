package sprag

import (
	"context"
	"runtime/debug"
	"sync/atomic"

	"github.com/petermattis/goid"

	"github.com/sprag-go/sprag/sprag/internal/runs"
	"github.com/sprag-go/sprag/sprag/internal/telemetry"
)

// Callback is a scope's side of a function that others call on their own
// goroutines: a bus listener ([Scope.Listen] is built on it), an
// observable's subscriber, a primitive's hook. A call made through it
// ([Call]) is a run of the scope: Close waits for it and names it if it
// outlives the deadline, no call begins once the scope has begun to close,
// a panic is recovered and a failure logged with the scope's name. Make
// one with [Scope.Callback]. Its methods are safe for concurrent use.
type Callback struct {
	s       *Scope
	act     activity
	topic   string // for a listener's logs
	onClose func() // run when the scope closes it

	closed    atomic.Bool
	forgotten atomic.Bool // closed by Close: it leaves the scope once no call runs
}

// Callback registers a callback labelled label with the scope. onClose, if
// not nil, runs once when the scope closes (step 4 of [Scope.Close]): that
// is where the callback leaves whoever calls it (a listener is removed
// from its bus). [Callback.Close] forgets the callback earlier, when the
// caller side goes away first.
//
// It fails with an error wrapping [ErrNotRunning] when the scope is not
// open.
func (s *Scope) Callback(label string, onClose func()) (*Callback, error) {
	return s.callback(KindCallback, label, "", onClose)
}

func (s *Scope) callback(kind Kind, label, topic string, onClose func()) (*Callback, error) {
	cb := &Callback{s: s, act: activity{Work: runs.Work{Uncounted: true}, kind: kind, label: label}, topic: topic, onClose: onClose}
	s.lock()
	defer s.mu.Unlock()
	if !s.open() {
		return nil, s.refuseLocked(kind.String(), label)
	}
	if s.callbacks == nil {
		s.callbacks = make(map[*Callback]struct{})
	}
	s.callbacks[cb] = struct{}{}
	return cb, nil
}

// Call calls fn with ctx and v as a run of cb's scope, and returns fn's
// error as a *[CallbackError] (a panic as a *[PanicError] inside it),
// logged with the scope's name and the callback's label. It calls nothing
// and returns nil once cb is closed or its scope has begun to close, or
// for a nil cb. It allocates nothing of its own.
func Call[T any](ctx context.Context, cb *Callback, fn func(context.Context, T) error, v T) (err error) {
	var c call
	if cb == nil || !cb.begin(ctx, &c) {
		return nil
	}
	defer cb.exit(&c, &err)
	return fn(c.ctx, v) //nolint:contextcheck // c.ctx is ctx, or ctx with the run's span: begin derives it
}

// call is the state of one Call, on its caller's stack.
type call struct {
	ctx  context.Context
	obs  telemetry.Run
	g    int64
	slot bool
}

// begin claims a run of cb for the calling goroutine, unless cb is closed
// or its scope is closing, and begins its telemetry.
func (cb *Callback) begin(ctx context.Context, c *call) bool {
	c.g = goid.Get()
	c.slot = cb.act.Claim(c.g)
	if !cb.s.open() || cb.closed.Load() {
		cb.done(c.slot, c.g)
		return false
	}
	c.ctx = ctx
	if cb.s.observed.Load().On() {
		c.ctx, c.obs = cb.s.observe(ctx, &cb.act, cb.Label, nil)
	}
	return true
}

// exit ends a call: it recovers a panic, ends the telemetry, releases the
// run, and reports a failure.
func (cb *Callback) exit(c *call, err *error) {
	panicked := false
	if r := recover(); r != nil {
		*err, panicked = &PanicError{Value: r, Stack: debug.Stack()}, true
	}
	c.obs.End(c.ctx, *err, panicked)
	if *err != nil { // reported before the run ends: nothing of the scope runs after its Done
		s := cb.s
		s.logFailure(cb.act.kind, cb.act.label, cb.topic, *err)
		*err = &CallbackError{Service: s.Name(), Kind: cb.act.kind, Label: cb.act.label, Err: *err}
	}
	cb.done(c.slot, c.g)
}

// done releases a run and wakes a Close that waits for it.
func (cb *Callback) done(slot bool, g int64) {
	cb.act.Release(slot, g)
	if cb.forgotten.Load() {
		cb.forget()
	}
	cb.s.runs.Released()
}

// Close forgets the callback: later calls are skipped and the scope will
// not run its onClose. A call under way finishes, and the scope's Close
// still waits for it. It reports whether this call closed it.
func (cb *Callback) Close() bool {
	if cb == nil || cb.closed.Swap(true) {
		return false
	}
	cb.forgotten.Store(true)
	cb.forget()
	return true
}

// forget takes a callback closed by Close out of its scope once no call
// of it runs; the last call to end does it otherwise. The scope finds the
// calls it waits for among its callbacks.
func (cb *Callback) forget() {
	s := cb.s
	s.mu.Lock()
	if cb.act.Running() == 0 {
		delete(s.callbacks, cb)
	}
	s.mu.Unlock()
}

// close is the scope's close of the callback: it runs onClose.
func (cb *Callback) close() {
	if cb.closed.Swap(true) {
		return
	}
	if cb.onClose != nil {
		if err := Safely(func() error { cb.onClose(); return nil }); err != nil {
			cb.s.logFailure(KindCleanup, cb.act.label, cb.topic, err)
		}
	}
}

// Label returns the callback's label, or "" for a nil Callback.
func (cb *Callback) Label() string {
	if cb == nil {
		return ""
	}
	return cb.act.label
}
