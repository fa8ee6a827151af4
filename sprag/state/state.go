package state

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/sprag-go/sprag/sprag"
)

// Observable is a value of type T owned by a service (or any
// [sprag.Owner]), whose changes other services can follow: the original's
// observable service state. Build it with [New]. Its methods are safe for
// concurrent use.
//
// [Observable.Set] and [Observable.Update] store a new value at once, and
// notify the subscribers in subscription order. Notifications of one
// observable are serialized: each subscriber sees values in the order they
// were stored, never an older one after a newer one, and always the latest
// in the end. A Set made while a notification is under way (from another
// goroutine, or from inside a subscriber) returns at once, and the
// goroutine already notifying delivers its value next; values stored in
// the meantime are skipped, so a slow subscriber makes values coalesce
// rather than pile up.
//
// A subscriber belongs to a service ([Observable.Subscribe] takes it): it
// is called with that service's context as work of its scope (a
// [sprag.Callback]): it is no longer called once that service has begun
// to stop, it is removed when that service stops, its Stop waits for a
// call in progress and names it if it outlives the deadline. An error or
// a panic in a subscriber is logged with its service's name and label, and
// the next subscriber is still called.
//
// When the observable's own owner stops, every subscriber is removed and
// every channel of [Observable.Watch] is closed. The value stays readable
// and settable, with nobody left to notify.
type Observable[T any] struct {
	scope *sprag.Scope
	label string
	equal func(a, b T) bool // Dedupe; nil to notify every Set

	mu         sync.Mutex
	value      T
	version    uint64         // 0: no value yet (Unset); bumped by every stored value
	subs       []*observer[T] // copied on write: a notification iterates over a snapshot
	delivering bool           // a goroutine is notifying
	dirty      bool           // there is something to notify that the notifying goroutine has not seen
	closed     bool           // the owner stopped
}

// observer is a subscriber function or a Watch channel.
type observer[T any] struct {
	o       *Observable[T]
	removed atomic.Bool
	seen    uint64 // the version notified last; read and written by the notifying goroutine

	// A subscriber function.
	cb  *sprag.Callback
	ctx context.Context
	fn  func(context.Context, T) error

	// A Watch channel.
	chMu     sync.Mutex
	ch       chan T
	chClosed bool
	stop     func() bool // releases the context.AfterFunc of Watch
}

// Subscriber is the handle of a function subscribed to an [Observable].
// Its methods are safe for concurrent use.
type Subscriber struct {
	cancel  func() bool
	removed *atomic.Bool
}

// Cancel removes the subscriber: it is not called by notifications that
// begin after Cancel returns, though one under way may still call it. It
// reports whether this call removed it. A cancelled subscriber leaves no
// trace in its service: subscribing and cancelling for ever keeps memory
// flat.
func (h *Subscriber) Cancel() bool {
	if h == nil {
		return false
	}
	return h.cancel()
}

// Active reports whether the subscriber is still subscribed.
func (h *Subscriber) Active() bool { return h != nil && !h.removed.Load() }

// Stats are an observable's figures, also reported in its owner's
// [sprag.Status] Details under "observable <label>".
type Stats struct {
	Value       any    `json:"value"`   // the current value, or its fmt form if it does not encode as JSON
	Version     uint64 `json:"version"` // 1 for the initial value, then one more per stored value
	Subscribers int    `json:"subscribers"`
}

// New creates an observable value owned by o, holding initial. Options:
// [Label] (default: the name of the type T), which names it in logs and
// health, [Dedupe] or [DedupeFunc], which make a Set of a value equal to
// the current one change nothing, [Unset], which starts it without a
// value, and [Hidden].
//
// New fails, creating nothing, with an error wrapping
// [sprag.ErrNotRunning] when o's scope is not open,
// [sprag.ErrDuplicateName] when o already has an observable of that
// label (unless it is [Hidden]), and [sprag.ErrInvalidArgument] for a nil
// o, or a DedupeFunc of another type or with a nil function.
func New[T any](o sprag.Owner, initial T, opts ...Option) (*Observable[T], error) {
	sc, err := sprag.ScopeOf(o, "observable")
	if err != nil {
		return nil, err
	}
	var c config
	for _, opt := range opts {
		if opt != nil {
			opt.applyObservable(&c)
		}
	}
	if c.label == "" {
		c.label = reflect.TypeFor[T]().String()
	}
	if err := sc.Accepting("observable", c.label); err != nil {
		return nil, err
	}
	equal, err := EqualFunc[T](c.dedupe)
	if err != nil {
		return nil, sc.Invalid("observable", c.label, "%v", err)
	}
	ob := &Observable[T]{scope: sc, label: c.label, equal: equal, value: initial, version: 1}
	if c.unset {
		var zero T
		ob.value, ob.version = zero, 0 // initial is ignored: there is no value until the first Set
	}
	remove := func() {}
	if !c.hidden {
		if remove, err = sc.Report("observable "+ob.label, func() (any, error) { return ob.Stats(), nil }); err != nil {
			return nil, err
		}
	}
	if err := sc.AddCleanup(ob.closeAll); err != nil {
		remove()
		return nil, err
	}
	return ob, nil
}

// Label returns the label the observable logs with.
func (o *Observable[T]) Label() string { return o.label }

// Get returns the current value; the zero T while an [Unset] observable
// has none.
func (o *Observable[T]) Get() T {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.value
}

// Load returns the current value and true, or the zero T and false while
// an [Unset] observable has none.
func (o *Observable[T]) Load() (T, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.value, o.version > 0
}

// Version returns how many values the observable has held: 1 for its
// initial value, one more for every value stored since (0 while an
// [Unset] observable has none).
func (o *Observable[T]) Version() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.version
}

// Set stores v and notifies the subscribers; see [Observable] for the
// order. With Dedupe, a v equal to the current value changes nothing.
// It reports whether v was stored.
func (o *Observable[T]) Set(v T) bool {
	o.mu.Lock()
	if o.version > 0 && o.same(o.value, v) {
		o.mu.Unlock()
		return false
	}
	o.storeLocked(v)
	return true
}

// Update stores fn(current) as one atomic step, then notifies as Set does,
// and reports whether it stored a value. fn runs while the observable is
// locked: keep it short and do not call the observable from it. A panic
// in fn leaves the value as it was and reaches the caller.
func (o *Observable[T]) Update(fn func(current T) T) bool {
	o.mu.Lock()
	locked := true
	defer func() {
		if locked {
			o.mu.Unlock()
		}
	}()
	v := fn(o.value)
	if o.version > 0 && o.same(o.value, v) {
		return false
	}
	locked = false
	o.storeLocked(v)
	return true
}

// storeLocked stores v and notifies. The caller holds mu, which it
// releases.
func (o *Observable[T]) storeLocked(v T) {
	o.value = v
	o.version++
	o.dirty = true
	o.deliverLocked()
}

// deliverLocked notifies the subscribers of what changed, unless another
// goroutine is doing so, which then delivers it. The caller holds mu,
// which it releases.
func (o *Observable[T]) deliverLocked() {
	if o.delivering {
		o.mu.Unlock()
		return
	}
	o.delivering = true
	for o.dirty {
		o.dirty = false
		v, version, subs := o.value, o.version, o.subs
		o.mu.Unlock()
		if version > 0 {
			for _, ob := range subs {
				if ob.seen < version {
					ob.seen = version
					ob.notify(v)
				}
			}
		}
		o.mu.Lock()
	}
	o.delivering = false
	o.mu.Unlock()
}

// same reports whether Dedupe says a and b are equal. A panicking
// equality is logged and the values count as different.
func (o *Observable[T]) same(a, b T) bool {
	if o.equal == nil {
		return false
	}
	var eq bool
	if err := sprag.Safely(func() error { eq = o.equal(a, b); return nil }); err != nil {
		o.scope.LogFailure("observable", o.label+" equality", err)
		return false
	}
	return eq
}

// Subscribe calls fn with every value the observable stores from now on,
// and with the current one first with [NotifyCurrent]. fn belongs to the
// service subscriber: see [Observable] for what that means, and for the
// order of calls. Cancel the returned handle to unsubscribe earlier.
//
// Subscribe fails, with nothing subscribed, with an error wrapping
// [sprag.ErrNotRunning] when subscriber's scope is not open or the
// observable's own owner has stopped, and [sprag.ErrInvalidArgument] for a
// nil subscriber or fn.
func (o *Observable[T]) Subscribe(subscriber sprag.Owner, fn func(ctx context.Context, value T) error, opts ...SubscribeOption) (*Subscriber, error) {
	owner, err := sprag.ScopeOf(subscriber, "subscriber")
	if err != nil {
		return nil, o.scope.Invalid("observable", o.label, "nil subscriber service")
	}
	if fn == nil {
		return nil, o.scope.Invalid("observable", o.label, "nil subscriber function")
	}
	var c subscribeConfig
	for _, opt := range opts {
		if opt != nil {
			opt.applySubscribe(&c)
		}
	}
	ob := &observer[T]{o: o, fn: fn, ctx: owner.Context()}
	cb, err := owner.Callback("observable "+o.label+" "+sprag.FuncLabel(fn), func() { ob.cancel() })
	if err != nil {
		return nil, err
	}

	o.mu.Lock()
	ob.cb = cb
	if o.closed || ob.removed.Load() {
		o.mu.Unlock()
		ob.removed.Store(true)
		cb.Close()
		if o.closed {
			return nil, fmt.Errorf("service %q: observable %s: %w: its owner stopped", o.scope.Name(), o.label, sprag.ErrNotRunning)
		}
		// The subscriber's scope began to close since its Callback was made.
		return nil, fmt.Errorf("service %q: observable %s: %w: the subscriber is stopping", o.scope.Name(), o.label, sprag.ErrNotRunning)
	}
	ob.seen = o.version
	o.subs = append(slices.Clip(o.subs), ob)
	if c.current && o.version > 0 {
		ob.seen = o.version - 1
		o.dirty = true
		o.deliverLocked()
	} else {
		o.mu.Unlock()
	}
	return &Subscriber{cancel: ob.cancel, removed: &ob.removed}, nil
}

// Watch returns a channel that receives the current value at once and
// then the values the observable stores, until ctx ends or the
// observable's owner stops; then it is closed. The channel holds one
// value: a receiver that falls behind skips to the latest value, and never
// sees an older one after a newer one. Watch costs no goroutine; an
// [Unset] observable's channel receives nothing until its first value.
func (o *Observable[T]) Watch(ctx context.Context) <-chan T {
	ob := &observer[T]{o: o, ch: make(chan T, 1)}
	o.mu.Lock()
	if o.closed || ctx.Err() != nil {
		o.mu.Unlock()
		close(ob.ch)
		return ob.ch
	}
	if o.version > 0 {
		ob.ch <- o.value
	}
	ob.seen = o.version
	o.subs = append(slices.Clip(o.subs), ob)
	o.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { ob.cancel() })
	ob.chMu.Lock()
	if ob.chClosed {
		ob.chMu.Unlock()
		stop()
	} else {
		ob.stop = stop
		ob.chMu.Unlock()
	}
	return ob.ch
}

// Stats returns the observable's figures at this moment.
func (o *Observable[T]) Stats() Stats {
	o.mu.Lock()
	v, version, n := o.value, o.version, len(o.subs)
	o.mu.Unlock()
	return Stats{Value: reportable(v), Version: version, Subscribers: n}
}

// notify calls the subscriber with v, or puts v on the Watch channel.
func (ob *observer[T]) notify(v T) {
	if ob.removed.Load() {
		return
	}
	if ob.ch != nil {
		ob.send(v)
		return
	}
	_ = sprag.Call(ob.ctx, ob.cb, ob.fn, v) // Call logs a failure; the next subscriber is called
}

// send puts v on the Watch channel, replacing a value not yet received.
func (ob *observer[T]) send(v T) {
	ob.chMu.Lock()
	defer ob.chMu.Unlock()
	if ob.chClosed {
		return
	}
	select {
	case <-ob.ch:
	default:
	}
	ob.ch <- v // the only sender holds chMu and the channel has room
}

// cancel removes the observer, forgets its callback and closes its
// channel; it reports whether this call removed it.
func (ob *observer[T]) cancel() bool {
	if ob.removed.Swap(true) {
		return false
	}
	o := ob.o
	o.mu.Lock()
	o.subs = slices.DeleteFunc(slices.Clone(o.subs), func(x *observer[T]) bool { return x == ob })
	cb := ob.cb // set under mu by Subscribe, which closes it itself when this ran first
	o.mu.Unlock()
	if cb != nil {
		cb.Close()
	}
	if ob.ch != nil {
		ob.chMu.Lock()
		ob.chClosed = true
		close(ob.ch)
		stop := ob.stop
		ob.chMu.Unlock()
		if stop != nil {
			stop()
		}
	}
	return true
}

// closeAll is the cleanup of the observable's owner: it removes every
// subscriber and closes every Watch channel.
func (o *Observable[T]) closeAll(context.Context) error {
	o.mu.Lock()
	o.closed = true
	subs := o.subs
	o.mu.Unlock()
	for _, ob := range subs {
		ob.cancel()
	}
	return nil
}

// reportable returns v as it can appear in a JSON health report: v itself
// when it encodes, and its fmt form otherwise.
func reportable(v any) any {
	if _, err := json.Marshal(v); err != nil {
		return fmt.Sprint(v)
	}
	return v
}
