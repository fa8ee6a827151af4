package sprag

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/sprag-go/sprag/eventbus"
)

// Listen subscribes fn to topic (or a pattern such as "order:*") on the
// runtime's bus, for as long as the scope is open. Close removes the
// listener, and from the moment the scope begins to close fn is no longer
// called, also by an emit already under way. fn runs on the emitter's
// goroutine, possibly on several at once: guard the service's fields.
//
// An error or panic from fn is logged with the scope's name, the topic
// and the listener's label, and reaches the emitter as part of Emit's
// error. The subscription is named "<service> <function>" in the bus's
// reports, unless opts hold an eventbus.WithName. A listener that is
// removed (Unsubscribe, a Once listener that fired) leaves the scope's
// bookkeeping too: listening and unsubscribing for ever keeps memory flat.
//
// A call when the scope is not open subscribes nothing and returns an
// error wrapping [ErrNotRunning]; a bad topic or a nil fn returns the
// bus's error or one wrapping [ErrInvalidArgument].
func (s *Scope) Listen(topic string, fn func(ctx context.Context, payload any) error, opts ...eventbus.ListenOption) (*eventbus.Subscription, error) {
	if fn == nil {
		return nil, s.invalid(KindListener.String(), topic, "nil function")
	}
	return s.subscribe(topic, FuncLabel(fn), func(bus *eventbus.Bus, cb *Callback, own ...eventbus.ListenOption) (*eventbus.Subscription, error) {
		return bus.Listen(topic, func(ctx context.Context, payload any) error {
			return Call(ctx, cb, fn, payload)
		}, append(own, opts...)...)
	})
}

// ListenTopic is [Scope.Listen] for a typed topic, on the scope of o: fn
// receives the payload as a T. A payload of another type emitted through
// the string API is reported to the emitter as an error wrapping
// [eventbus.ErrPayloadType]. A nil o, topic or fn is an error wrapping
// [ErrInvalidArgument].
func ListenTopic[T any](o Owner, topic *eventbus.Topic[T], fn func(ctx context.Context, payload T) error, opts ...eventbus.ListenOption) (*eventbus.Subscription, error) {
	s, err := ScopeOf(o, "listener")
	switch {
	case err != nil:
		return nil, err
	case topic == nil:
		return nil, s.invalid(KindListener.String(), FuncLabel(fn), "nil topic")
	case fn == nil:
		return nil, s.invalid(KindListener.String(), topic.Name(), "nil function")
	}
	return s.subscribe(topic.Name(), FuncLabel(fn), func(bus *eventbus.Bus, cb *Callback, own ...eventbus.ListenOption) (*eventbus.Subscription, error) {
		return topic.Listen(bus, func(ctx context.Context, payload T) error {
			return Call(ctx, cb, fn, payload)
		}, append(own, opts...)...)
	})
}

// subscribe registers a callback for the subscription that listen makes.
func (s *Scope) subscribe(topic, label string, listen func(*eventbus.Bus, *Callback, ...eventbus.ListenOption) (*eventbus.Subscription, error)) (*eventbus.Subscription, error) {
	var subscribed atomic.Pointer[eventbus.Subscription] // set once listen returns
	cb, err := s.callback(KindListener, label, topic, func() {
		if sub := subscribed.Load(); sub != nil {
			sub.Unsubscribe()
		}
	})
	if err != nil {
		return nil, err
	}
	// The bus tells when the subscription goes (Unsubscribe, Clear, a Once
	// listener that fired): the scope forgets the callback then.
	sub, err := listen(s.Runtime().Bus, cb, eventbus.WithName(s.Name()+" "+label), eventbus.OnRemoved(func() { cb.Close() }))
	if err != nil {
		cb.Close()
		return nil, fmt.Errorf("service %q: listen: %w", s.Name(), err)
	}
	subscribed.Store(sub)
	if !s.open() { // Close began meanwhile, and may have missed sub
		sub.Unsubscribe()
	}
	return sub, nil
}

// Emit emits payload on topic through the runtime's bus; see
// [eventbus.Bus.Emit]. A scope may emit while it is open or closing (a
// service's OnStop may announce its departure), not before its service
// starts nor once it has closed: it then returns an error wrapping
// [ErrNotRunning].
func (s *Scope) Emit(ctx context.Context, topic string, payload any) error {
	bus, err := s.emitter(topic)
	if err != nil {
		return err
	}
	return bus.Emit(ctx, topic, payload)
}

// EmitTopic is [Scope.Emit] for a typed topic, on the scope of o. A nil
// o or topic is an error wrapping [ErrInvalidArgument].
func EmitTopic[T any](ctx context.Context, o Owner, topic *eventbus.Topic[T], payload T) error {
	switch {
	case isNil(o):
		return fmt.Errorf("emit: %w: nil owner", ErrInvalidArgument)
	case topic == nil:
		return fmt.Errorf("service %q: emit: %w: nil topic", o.Scope().Name(), ErrInvalidArgument)
	}
	bus, err := o.Scope().emitter(topic.Name())
	if err != nil {
		return err
	}
	return topic.Emit(ctx, bus, payload)
}

func (s *Scope) emitter(topic string) (*eventbus.Bus, error) {
	s.lock()
	defer s.mu.Unlock()
	if p := s.phase.Load(); p == phaseHeld || p == phaseClosed {
		return nil, fmt.Errorf("service %q: emit %q: %w", s.name, topic, ErrNotRunning)
	}
	return s.rt.Bus, nil
}
