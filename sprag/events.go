package sprag

import (
	"context"
	"fmt"

	"github.com/sprag-go/sprag/eventbus"
)

// subscription is a listener the service registered: what Stop removes and
// what it waits for.
type subscription struct {
	sub *eventbus.Subscription
	act *activity
}

// Listen subscribes fn to topic (or a pattern such as "order:*") on the
// runtime's bus, for as long as the service runs. Stop removes the
// listener, and from the moment Stop begins fn is no longer called, also by
// an emit already under way. fn runs on the emitter's goroutine, possibly on
// several at once: guard the service's fields.
//
// An error or panic from fn is logged with the service's name, the topic
// and the listener's label, and reaches the emitter as part of Emit's error.
// The subscription is named "<service> <function>" in the bus's reports,
// unless opts hold an eventbus.WithName.
// A call when the service is not starting or running subscribes nothing
// and returns an error wrapping [ErrNotRunning]; a bad topic or a nil fn
// returns the bus's error.
func (s *Service) Listen(topic string, fn func(ctx context.Context, payload any) error, opts ...eventbus.ListenOption) (*eventbus.Subscription, error) {
	if fn == nil {
		return nil, s.invalid(KindListener, topic, "nil function")
	}
	return s.subscribe(topic, funcLabel(fn), func(bus *eventbus.Bus, act *activity, name eventbus.ListenOption) (*eventbus.Subscription, error) {
		return bus.Listen(topic, guard(s, topic, act, fn), append([]eventbus.ListenOption{name}, opts...)...)
	})
}

// ListenTopic is [Service.Listen] for a typed topic: fn receives the
// payload as a T. A payload of another type emitted through the string API
// is reported to the emitter as an error wrapping [eventbus.ErrPayloadType].
func ListenTopic[T any](svc Interface, topic *eventbus.Topic[T], fn func(ctx context.Context, payload T) error, opts ...eventbus.ListenOption) (*eventbus.Subscription, error) {
	s := svc.service()
	if fn == nil {
		return nil, s.invalid(KindListener, topic.Name(), "nil function")
	}
	return s.subscribe(topic.Name(), funcLabel(fn), func(bus *eventbus.Bus, act *activity, name eventbus.ListenOption) (*eventbus.Subscription, error) {
		return topic.Listen(bus, guard(s, topic.Name(), act, fn), append([]eventbus.ListenOption{name}, opts...)...)
	})
}

// subscribe registers the subscription that listen makes, if the service
// is active before and after.
func (s *Service) subscribe(topic, label string, listen func(*eventbus.Bus, *activity, eventbus.ListenOption) (*eventbus.Subscription, error)) (*eventbus.Subscription, error) {
	s.mu.Lock()
	if !s.State().active() {
		defer s.mu.Unlock()
		return nil, s.notRunningLocked(KindListener, topic)
	}
	bus, name := s.rt.Bus, eventbus.WithName(s.name+" "+label)
	s.mu.Unlock()

	act := &activity{kind: KindListener, label: label}
	sub, err := listen(bus, act, name)
	if err != nil {
		return nil, fmt.Errorf("service %q: listen: %w", s.Name(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.State().active() { // Stop began meanwhile
		sub.Unsubscribe()
		return nil, s.notRunningLocked(KindListener, topic)
	}
	s.subs = append(s.subs, subscription{sub: sub, act: act})
	return sub, nil
}

// guard wraps a listener so that it runs only while the service is active,
// is waited for by Stop, and has its failures logged with the service's
// fields. It takes no lock: see activity.go.
func guard[T any](s *Service, topic string, act *activity, fn func(context.Context, T) error) func(context.Context, T) error {
	return func(ctx context.Context, payload T) error {
		s.enter(act)
		defer s.leave(act)
		if !s.State().active() {
			return nil // stop has begun
		}
		err := callListener(ctx, fn, payload)
		if err == nil {
			return nil
		}
		s.logFailure(KindListener, act.label, topic, err)
		return &CallbackError{Service: s.Name(), Kind: KindListener, Label: act.label, Err: err}
	}
}

func callListener[T any](ctx context.Context, fn func(context.Context, T) error, payload T) error {
	return safely(func() error { return fn(ctx, payload) })
}

// Emit emits payload on topic through the runtime's bus; see
// [eventbus.Bus.Emit]. A service may emit while it starts, runs or stops
// (OnStop may announce its departure), not before or after: it then
// returns an error wrapping [ErrNotRunning].
func (s *Service) Emit(ctx context.Context, topic string, payload any) error {
	bus, err := s.emitter(topic)
	if err != nil {
		return err
	}
	return bus.Emit(ctx, topic, payload)
}

// EmitTopic is [Service.Emit] for a typed topic.
func EmitTopic[T any](ctx context.Context, svc Interface, topic *eventbus.Topic[T], payload T) error {
	bus, err := svc.service().emitter(topic.Name())
	if err != nil {
		return err
	}
	return topic.Emit(ctx, bus, payload)
}

func (s *Service) emitter(topic string) (*eventbus.Bus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.State(); !st.active() && st != Stopping {
		return nil, fmt.Errorf("service %q: emit %q: %w (state %s)", s.name, topic, ErrNotRunning, st)
	}
	return s.rt.Bus, nil
}
