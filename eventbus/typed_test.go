package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
)

func TestTypedTopicDeliversThePayloadAsItsType(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	topic := eventbus.NewTopic[order]("order:completed")
	var got []order
	_, err := topic.Listen(b, func(_ context.Context, o order) error {
		got = append(got, o)
		return nil
	})
	require.NoError(t, err)

	require.NoError(t, topic.Emit(context.Background(), b, order{ID: 1, Total: 10}))
	require.NoError(t, b.Emit(context.Background(), "order:completed", order{ID: 2, Total: 20}),
		"a string emit of the right type reaches typed listeners")
	assert.Equal(t, []order{{1, 10}, {2, 20}}, got)
}

func TestTypedAndStringListenersShareTheTopicInSubscriptionOrder(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	topic := eventbus.NewTopic[int]("n")
	var rec recorder
	mustListen(t, b, "n", rec.listener("string"))
	_, err := topic.Listen(b, func(_ context.Context, n int) error {
		rec.add("typed")
		return nil
	})
	require.NoError(t, err)
	mustListen(t, b, "*", rec.listener("pattern"))

	require.NoError(t, topic.Emit(context.Background(), b, 5))
	assert.Equal(t, []string{"string:5", "typed", "pattern:5"}, rec.get())
}

func TestTypedListenerGivenTheWrongPayloadIsReportedAndOthersRun(t *testing.T) {
	t.Parallel()
	var reported []*eventbus.ListenerError
	b := eventbus.New(eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.ListenerError) {
		reported = append(reported, err)
	}))
	topic := eventbus.NewTopic[order]("order:completed")
	called := false
	_, err := topic.Listen(b, func(context.Context, order) error {
		called = true
		return nil
	}, eventbus.WithName("typed"))
	require.NoError(t, err)
	var rec recorder
	mustListen(t, b, "order:completed", rec.listener("string"))

	var emitErr error
	require.NotPanics(t, func() { emitErr = b.Emit(context.Background(), "order:completed", "not an order") })

	assert.False(t, called)
	assert.Equal(t, []string{"string:not an order"}, rec.get())
	require.ErrorIs(t, emitErr, eventbus.ErrPayloadType)
	assert.Contains(t, emitErr.Error(), "got string")
	assert.Contains(t, emitErr.Error(), "eventbus_test.order")
	require.Len(t, reported, 1)
	assert.Equal(t, "typed", reported[0].Listener)
}

func TestTypedListenerNilPayload(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	ptr := eventbus.NewTopic[*order]("ptr")
	val := eventbus.NewTopic[order]("val")
	gotPtr := &order{}
	_, err := ptr.Listen(b, func(_ context.Context, o *order) error {
		gotPtr = o
		return nil
	})
	require.NoError(t, err)
	_, err = val.Listen(b, func(context.Context, order) error { return nil })
	require.NoError(t, err)

	require.NoError(t, b.Emit(context.Background(), "ptr", nil), "nil is a *order")
	assert.Nil(t, gotPtr)
	assert.ErrorIs(t, b.Emit(context.Background(), "val", nil), eventbus.ErrPayloadType, "nil is not an order")
}

func TestTypedTopicErrorsAndPanics(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	topic := eventbus.NewTopic[int]("n")
	boom := errors.New("boom")
	var after []int
	_, err := topic.Listen(b, func(context.Context, int) error { return boom })
	require.NoError(t, err)
	_, err = topic.Listen(b, func(context.Context, int) error { panic("typed") })
	require.NoError(t, err)
	_, err = topic.Listen(b, func(_ context.Context, n int) error {
		after = append(after, n)
		return nil
	})
	require.NoError(t, err)

	err = topic.Emit(context.Background(), b, 3)
	require.ErrorIs(t, err, boom)
	var pe *eventbus.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "typed", pe.Value)
	assert.Equal(t, []int{3}, after)
}

func TestTypedTopicBadInput(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	ctx := context.Background()
	noop := func(context.Context, int) error { return nil }

	bad := eventbus.NewTopic[int]("a::b")
	_, err := bad.Listen(b, noop)
	require.ErrorIs(t, err, eventbus.ErrInvalidTopic)
	assert.Contains(t, err.Error(), `"a::b"`)
	require.ErrorIs(t, bad.Emit(ctx, b, 1), eventbus.ErrInvalidTopic)

	pattern := eventbus.NewTopic[int]("n:*")
	_, err = pattern.Listen(b, noop)
	require.NoError(t, err, "typed listeners may subscribe to a pattern")
	err = pattern.Emit(ctx, b, 1)
	require.ErrorIs(t, err, eventbus.ErrInvalidTopic, "but nothing emits one")
	assert.Contains(t, err.Error(), `"n:*"`)

	good := eventbus.NewTopic[int]("n")
	_, err = good.Listen(b, nil)
	require.ErrorIs(t, err, eventbus.ErrNilListener)
	_, err = good.Listen(nil, noop)
	require.ErrorContains(t, err, "nil *eventbus.Bus")
	require.ErrorContains(t, good.Emit(ctx, nil, 1), "nil *eventbus.Bus")
}

func TestTypedTopicReachesPatternListenersAndWorksOnSeveralBuses(t *testing.T) {
	t.Parallel()
	topic := eventbus.NewTopic[int]("order:completed")
	first, second := eventbus.New(), eventbus.New()
	var rec recorder
	mustListen(t, first, "order:*", rec.listener("first"))
	for range 2 { // alternate so that the topic's cached bus changes
		require.NoError(t, topic.Emit(context.Background(), first, 1))
		require.NoError(t, topic.Emit(context.Background(), second, 2))
	}
	mustListen(t, second, "order:*", rec.listener("second"))
	require.NoError(t, topic.Emit(context.Background(), second, 3))
	require.NoError(t, topic.Emit(context.Background(), first, 4))
	assert.Equal(t, []string{"first:1", "first:1", "second:3", "first:4"}, rec.get())
}

func TestTypedTopicDescribesItself(t *testing.T) {
	t.Parallel()
	topic := eventbus.NewTopic[order]("order:completed")
	assert.Equal(t, "order:completed", topic.Name())
	assert.Equal(t, "order:completed (eventbus_test.order)", topic.String())
}

func TestPinnedTypedTopicIsNotListedWithoutListeners(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	topic := eventbus.NewTopic[int]("n")
	require.NoError(t, topic.Emit(context.Background(), b, 1))
	assert.Empty(t, b.Topics())
	assert.False(t, b.HasListeners("n"))
}

func TestTypedEmitFollowsChangesOfTheListenerSet(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	topic := eventbus.NewTopic[int]("n")
	var got []string
	listener := func(name string) func(context.Context, int) error {
		return func(_ context.Context, n int) error {
			got = append(got, fmt.Sprintf("%s:%d", name, n))
			return nil
		}
	}
	first, err := topic.Listen(b, listener("a"))
	require.NoError(t, err)
	require.NoError(t, topic.Emit(context.Background(), b, 1))
	_, err = topic.Listen(b, listener("b"))
	require.NoError(t, err)
	require.NoError(t, topic.Emit(context.Background(), b, 2))
	first.Unsubscribe()
	require.NoError(t, topic.Emit(context.Background(), b, 3))
	mustListen(t, b, "n", func(_ context.Context, p any) error {
		got = append(got, fmt.Sprintf("string:%v", p))
		return nil
	})
	require.NoError(t, topic.Emit(context.Background(), b, 4))
	assert.Equal(t, []string{"a:1", "a:2", "b:2", "b:3", "b:4", "string:4"}, got)
}
