package eventbus_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
)

// Bugs once found by edge-case hunting. Each test asserts the documented
// behaviour.
//
// Root cause of the three tests below, fixed with the eventsFunc type: the
// bus told a ListenEvents
// listener from a typed one by the dynamic type of the function it holds
// (func(context.Context, eventbus.Event) error), in runFrom, call and
// makeOnce (emit.go, subscription.go). A listener of a typed
// Topic[eventbus.Event] has exactly that type, so:
//   - a string Emit hands it Event{Topic, Payload} built by the bus instead
//     of the payload (and never reports ErrPayloadType);
//   - a typed Emit of Topic[eventbus.Event] matches the first case
//     `func(context.Context, T) error` for a ListenEvents listener, which then
//     receives the payload itself rather than Event{Topic: topic, Payload:
//     payload}.
// Suggested fix: record the kind of listener in the Subscription (a small
// enum set by Listen / ListenEvents / Topic.Listen, or wrap the ListenEvents
// function in a named type such as `type eventsFunc func(context.Context,
// Event) error` stored in call) and switch on that named type, so that the
// form of the call never depends on the listener's structural type; makeOnce
// must test the same marker.

// Topic.Listen promises: "A payload of another type emitted through the
// string API is reported as an error wrapping ErrPayloadType and fn is not
// called", and a payload that is a T is passed as is.
func TestRegressTypedEventTopicGetsWrappedPayload(t *testing.T) {
	b := eventbus.New()
	topic := eventbus.NewTopic[eventbus.Event]("audit:replay")
	var got []eventbus.Event
	_, err := topic.Listen(b, func(_ context.Context, e eventbus.Event) error {
		got = append(got, e)
		return nil
	})
	require.NoError(t, err)

	// A string emit whose payload is an Event: the typed listener must get it as is.
	orig := eventbus.Event{Topic: "order:completed", Payload: 7}
	require.NoError(t, b.Emit(context.Background(), "audit:replay", orig))
	require.Len(t, got, 1)
	assert.Equal(t, orig, got[0], "typed Topic[Event] listener must receive the payload, not an Event wrapping it")

	// A string emit whose payload is not an Event: ErrPayloadType, listener not called.
	err = b.Emit(context.Background(), "audit:replay", 42)
	require.ErrorIs(t, err, eventbus.ErrPayloadType, "payload of another type must be refused")
	assert.Len(t, got, 1, "listener must not be called with a payload of another type")
}

// Same, for a Once listener: makeOnce also takes the typed listener for a
// ListenEvents one.
func TestRegressTypedEventTopicOnceGetsWrappedPayload(t *testing.T) {
	b := eventbus.New()
	topic := eventbus.NewTopic[eventbus.Event]("audit:replay")
	var got []eventbus.Event
	_, err := topic.Listen(b, func(_ context.Context, e eventbus.Event) error {
		got = append(got, e)
		return nil
	}, eventbus.Once())
	require.NoError(t, err)

	// A string emit of another type: refused, the listener not called.
	err = b.Emit(context.Background(), "audit:replay", "not an event")
	require.ErrorIs(t, err, eventbus.ErrPayloadType)
	assert.Empty(t, got, "typed Once listener must not be called with a payload of another type")
}

// ListenEvents promises: "fn receives the topic with the payload" (Event{Topic:
// emitted topic, Payload: payload}). A typed emit of Topic[Event] gives the
// ListenEvents listener the payload itself: the emitted topic is lost.
func TestRegressListenEventsGetsRawPayloadOfTypedEventEmit(t *testing.T) {
	for _, observed := range []bool{false, true} {
		var opts []eventbus.Option
		if observed {
			opts = append(opts, eventbus.WithObserver(nopObserver{}))
		}
		b := eventbus.New(opts...)
		topic := eventbus.NewTopic[eventbus.Event]("audit:replay")
		var got []eventbus.Event
		_, err := b.ListenEvents("audit:*", func(_ context.Context, e eventbus.Event) error {
			got = append(got, e)
			return nil
		})
		require.NoError(t, err)

		orig := eventbus.Event{Topic: "order:completed", Payload: 7}
		require.NoError(t, topic.Emit(context.Background(), b, orig))
		require.Len(t, got, 1)
		assert.Equal(t, "audit:replay", got[0].Topic, "observed=%v: the emitted topic", observed)
		assert.Equal(t, any(orig), got[0].Payload, "observed=%v: the payload", observed)
	}
}

type nopObserver struct{}

func (nopObserver) EmitStart(ctx context.Context, _ string, _ int) context.Context { return ctx }
func (nopObserver) EmitEnd(context.Context, string, error)                         {}
func (nopObserver) ListenerStart(ctx context.Context, _ string, _ *eventbus.Subscription) context.Context {
	return ctx
}
func (nopObserver) ListenerEnd(context.Context, string, *eventbus.Subscription, error) {}
