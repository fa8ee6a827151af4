package sprag

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
)

// Observable is a value of type T held by a service, whose changes other
// services can follow: the original's observable service state. Build it
// with [NewObservable]. Its methods are safe for concurrent use.
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
// is called with that service's context, it is no longer called once that
// service has begun to stop, and it is removed when that service stops;
// its Stop waits for a call in progress and names it if it outlives the
// deadline. An error or a panic in a subscriber is logged with its
// service's name and label, and the next subscriber is still called.
//
// When the observable's own service stops, every subscriber is removed and
// every channel of [Observable.Watch] is closed. The value stays readable
// and settable, with nobody left to notify.
type Observable[T any] struct {
	s     *Service
	label string
	equal func(a, b T) bool // Dedupe; nil to notify every Set

	mu         sync.Mutex
	value      T
	version    uint64         // 0: no value yet (a watcher's); bumped by every stored value
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
	owner *Service
	ctx   context.Context
	act   *activity
	fn    func(context.Context, T) error

	// A Watch channel.
	chMu     sync.Mutex
	ch       chan T
	chClosed bool
	stop     func() bool // releases the context.AfterFunc of Watch
}

// Subscriber is the handle of a function subscribed to an [Observable] or
// a [Watcher]. Its methods are safe for concurrent use.
type Subscriber struct {
	cancel  func() bool
	removed *atomic.Bool
}

// Cancel removes the subscriber: it is not called by notifications that
// begin after Cancel returns, though one under way may still call it. It
// reports whether this call removed it.
func (h *Subscriber) Cancel() bool {
	if h == nil {
		return false
	}
	return h.cancel()
}

// Active reports whether the subscriber is still subscribed.
func (h *Subscriber) Active() bool { return h != nil && !h.removed.Load() }

// ObservableStats are an observable's figures, also reported in its
// service's [Status.Details] under "observable <label>".
type ObservableStats struct {
	Value       any    `json:"value"`   // the current value, or its fmt form if it does not encode as JSON
	Version     uint64 `json:"version"` // 1 for the initial value, then one more per stored value
	Subscribers int    `json:"subscribers"`
}

// NewObservable creates an observable value owned by svc, holding initial.
// Options: [Label] (default: the name of the type T), which names it in
// logs and health, and [Dedupe] or [DedupeFunc], which make a Set of a
// value equal to the current one change nothing.
//
// NewObservable fails, creating nothing, with an error wrapping
// [ErrNotRunning] when svc is not starting or running, [ErrDuplicateName]
// when svc already has an observable of that label, and
// [ErrInvalidArgument] for a nil svc or a DedupeFunc of another type.
func NewObservable[T any](svc Interface, initial T, opts ...ObservableOption) (*Observable[T], error) {
	s, err := primitiveService(svc, "observable")
	if err != nil {
		return nil, err
	}
	var c observableConfig
	for _, o := range opts {
		o.applyObservable(&c)
	}
	if c.label == "" {
		c.label = reflect.TypeFor[T]().String()
	}
	equal, err := equalFunc[T](c.dedupe)
	if err != nil {
		return nil, s.invalidPrimitive("observable", c.label, "%v", err)
	}
	o := &Observable[T]{s: s, label: c.label, equal: equal, value: initial, version: 1}
	_, detach, err := s.attach("observable", o.label, func() (any, error) { return o.Stats(), nil })
	if err != nil {
		return nil, err
	}
	if err := s.addCleanup("observable "+o.label, o.closeAll); err != nil {
		detach()
		return nil, err
	}
	return o, nil
}

// Label returns the label the observable logs with.
func (o *Observable[T]) Label() string { return o.label }

// Get returns the current value.
func (o *Observable[T]) Get() T {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.value
}

// Version returns how many values the observable has held: 1 for its
// initial value, one more for every value stored since.
func (o *Observable[T]) Version() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.version
}

// Set stores v and notifies the subscribers; see [Observable] for the
// order. With Dedupe, a v equal to the current value changes nothing.
func (o *Observable[T]) Set(v T) {
	o.mu.Lock()
	if o.version > 0 && o.same(o.value, v) {
		o.mu.Unlock()
		return
	}
	o.storeLocked(v)
}

// Update stores fn(current) as one atomic step, then notifies as Set does.
// fn runs while the observable is locked: keep it short and do not call
// the observable from it. A panic in fn leaves the value as it was and
// reaches the caller.
func (o *Observable[T]) Update(fn func(current T) T) {
	o.mu.Lock()
	locked := true
	defer func() {
		if locked {
			o.mu.Unlock()
		}
	}()
	v := fn(o.value)
	if o.same(o.value, v) {
		return
	}
	locked = false
	o.storeLocked(v)
}

// storeLocked stores v and notifies; the caller holds mu, which it
// releases.
func (o *Observable[T]) storeLocked(v T) {
	o.value = v
	o.version++
	o.dirty = true
	o.deliverLocked()
}

// same reports whether Dedupe says a and b are equal. A panicking
// equality is logged and the values count as different.
func (o *Observable[T]) same(a, b T) (eq bool) {
	if o.equal == nil {
		return false
	}
	if err := safely(func() error { eq = o.equal(a, b); return nil }); err != nil {
		o.s.logFailure(KindListener, "observable "+o.label+" equality", "", err)
		return false
	}
	return eq
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

// Subscribe calls fn with every value the observable stores from now on,
// and with the current one first with [NotifyCurrent]. fn belongs to the
// service subscriber: see [Observable] for what that means, and for the
// order of calls. Cancel the returned handle to unsubscribe earlier.
//
// The subscription holds a small entry in subscriber's stop bookkeeping
// until subscriber stops, also after Cancel: subscribe once, in OnStart,
// rather than per request.
//
// Subscribe fails, with nothing subscribed, with an error wrapping
// [ErrNotRunning] when subscriber is not starting or running or the
// observable's own service has stopped, and [ErrInvalidArgument] for a nil
// subscriber or fn.
func (o *Observable[T]) Subscribe(subscriber Interface, fn func(ctx context.Context, value T) error, opts ...SubscribeOption) (*Subscriber, error) {
	if isNil(subscriber) {
		return nil, o.s.invalidPrimitive("observable", o.label, "nil subscriber service")
	}
	if fn == nil {
		return nil, o.s.invalidPrimitive("observable", o.label, "nil subscriber function")
	}
	var c subscribeConfig
	for _, opt := range opts {
		opt.applySubscribe(&c)
	}
	owner := subscriber.service()
	ob := &observer[T]{o: o, owner: owner, fn: fn}
	ob.act = &activity{kind: KindListener, label: "observable " + o.label + " " + funcLabel(fn)}

	// The subscriber's service names the call if its Stop waits for it,
	// and removes the subscriber when it stops.
	owner.mu.Lock()
	if !owner.State().active() {
		defer owner.mu.Unlock()
		return nil, owner.notRunningLocked(KindListener, ob.act.label)
	}
	ob.ctx = owner.ctx
	owner.subs = append(owner.subs, subscription{act: ob.act})
	owner.cleanups = append(owner.cleanups, cleanup{
		activity: &activity{kind: KindCleanup, label: "unsubscribe " + ob.act.label},
		fn:       func(context.Context) error { ob.cancel(); return nil },
	})
	owner.mu.Unlock()

	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		ob.removed.Store(true)
		return nil, fmt.Errorf("service %q: observable %s: %w: its service stopped", o.s.Name(), o.label, ErrNotRunning)
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
// observable's service stops; then it is closed. The channel holds one
// value: a receiver that falls behind skips to the latest value, and never
// sees an older one after a newer one. Watch costs no goroutine; a
// watcher's channel receives nothing until its first value.
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
func (o *Observable[T]) Stats() ObservableStats {
	o.mu.Lock()
	v, version, n := o.value, o.version, len(o.subs)
	o.mu.Unlock()
	return ObservableStats{Value: reportable(v), Version: version, Subscribers: n}
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
	s := ob.owner
	s.enter(ob.act)
	defer s.leave(ob.act)
	if !s.State().active() {
		return // its service has begun to stop
	}
	if err := callListener(ob.ctx, ob.fn, v); err != nil {
		s.logFailure(KindListener, ob.act.label, "", err)
	}
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

// cancel removes the observer and closes its channel; it reports whether
// this call removed it.
func (ob *observer[T]) cancel() bool {
	if ob.removed.Swap(true) {
		return false
	}
	o := ob.o
	o.mu.Lock()
	o.subs = slices.DeleteFunc(slices.Clone(o.subs), func(x *observer[T]) bool { return x == ob })
	o.mu.Unlock()
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

// closeAll is the cleanup of the observable's service: it removes every
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
