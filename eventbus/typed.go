package eventbus

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
)

// Topic is a topic whose payloads have type T. Its listeners receive a T,
// with no type assertion in user code, and its Emit accepts only a T: the
// compiler checks both sides.
//
// A Topic is a descriptor, not a subscription list: declare it once, where
// the producers and consumers of the event can both import it, and use it
// with any number of buses. It shares its name with the string API, so a
// [Bus.Listen] of the same name receives typed emits as an any, and a typed
// listener receives string emits whose payload is a T (others are reported
// as [ErrPayloadType]).
//
// A Topic remembers the bus it was last emitted on and the topic's entry
// there, so that emitting on it again skips the topic lookup; emitting
// alternately on several buses works and costs a lookup each time. The
// entry stays on that bus for the bus's lifetime, also without listeners:
// a typed topic costs its bus one entry (see "Cost" in the package
// documentation). Its methods are safe for concurrent use.
type Topic[T any] struct {
	name  string
	err   error
	cache atomic.Pointer[typedCache] // the last bus emitted on and the entry found there
}

// typedCache is what a Topic remembers of the bus it was last emitted on.
type typedCache struct {
	bus *Bus
	e   *entry // pinned: never leaves the bus's table
}

// NewTopic returns the typed topic name. The name follows the rules of
// [Bus.Listen]: it may be a pattern, which typed listeners can subscribe to
// but nothing can emit. A malformed name is reported, wrapping
// [ErrInvalidTopic], by every Listen and Emit of the topic.
func NewTopic[T any](name string) *Topic[T] {
	t := &Topic[T]{name: name}
	if IsPattern(name) {
		_, t.err = compilePattern(name)
	} else {
		t.err = validateTopic(name)
	}
	return t
}

// Name returns the topic's name.
func (t *Topic[T]) Name() string { return t.name }

// String returns the topic's name and payload type, as in
// "order:completed (main.Order)".
func (t *Topic[T]) String() string {
	return fmt.Sprintf("%s (%s)", t.name, reflect.TypeFor[T]())
}

// Listen subscribes fn to the topic on b; see [Bus.Listen]. A payload of
// another type emitted through the string API is reported as an error
// wrapping [ErrPayloadType] and fn is not called. A nil payload is passed
// as the zero T when T is a pointer, interface, map, slice, func or channel
// type, and is otherwise a wrong type.
func (t *Topic[T]) Listen(b *Bus, fn func(ctx context.Context, payload T) error, opts ...ListenOption) (*Subscription, error) {
	if err := t.check(b); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, fmt.Errorf("listen to %q: %w", t.name, ErrNilListener)
	}
	nilOK := nilable(reflect.TypeFor[T]())
	sub := &Subscription{
		call: fn,
		fn: func(ctx context.Context, payload any) error {
			v, ok := payload.(T)
			if !ok && (payload != nil || !nilOK) {
				return fmt.Errorf("%w: got %T, listener of %q wants %s", ErrPayloadType, payload, t.name, reflect.TypeFor[T]())
			}
			return fn(ctx, v)
		},
	}
	return b.subscribe(t.name, sub, fn, opts)
}

// Emit calls the topic's listeners on b with payload; see [Bus.Emit] for
// the ordering and error guarantees. Typed listeners receive payload as is;
// string listeners receive it converted to an any, which allocates when T
// is larger than a pointer. Emitting on a pattern is refused with an error
// wrapping [ErrInvalidTopic].
//
// The first emit on a bus (and each one on another bus than the last)
// takes the bus's mutex to find the topic's entry, and allocates once to
// remember the bus; later emits take no lock and allocate nothing while
// the listeners succeed (see [Bus.Emit] for the exceptions).
func (t *Topic[T]) Emit(ctx context.Context, b *Bus, payload T) error {
	c := t.cache.Load()
	if c == nil || c.bus != b {
		return t.emitResolving(ctx, b, payload)
	}
	if b.observer != nil {
		return emitObserved(ctx, b, t.name, payload, c.e)
	}
	s := c.e.list.cur.Load()
	n := int(s.n.Load())
	next, failed, err := runFrom(ctx, t.name, payload, s, n, 0)
	if err == nil {
		return nil
	}
	return finish(ctx, b, t.name, payload, s, n, false, next, failed, err)
}

// emitResolving is Emit when the cache is empty or of another bus.
func (t *Topic[T]) emitResolving(ctx context.Context, b *Bus, payload T) error {
	e, err := t.resolve(b)
	if err != nil {
		return err
	}
	t.cache.Store(&typedCache{bus: b, e: e})
	if b.observer != nil {
		return emitObserved(ctx, b, t.name, payload, e)
	}
	return emitEntry(ctx, b, e, payload)
}

// resolve finds or makes the topic's entry on b and pins it there.
func (t *Topic[T]) resolve(b *Bus) (*entry, error) {
	if err := t.check(b); err != nil {
		return nil, err
	}
	if IsPattern(t.name) {
		return nil, fmt.Errorf("%w: topic %q is a pattern: patterns can be listened to, not emitted", ErrInvalidTopic, t.name)
	}
	b.mu.Lock()
	e := b.entryLocked(t.name)
	e.pinned = true
	b.mu.Unlock()
	return e, nil
}

func (t *Topic[T]) check(b *Bus) error {
	if t.err != nil {
		return t.err
	}
	if b == nil {
		return fmt.Errorf("topic %q: nil *eventbus.Bus", t.name)
	}
	return nil
}

func nilable(rt reflect.Type) bool {
	switch rt.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return true
	default:
		return false
	}
}
