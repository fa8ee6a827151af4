package eventbus_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
)

// manyListeners is the size of the tests of scale: 100,000, or 10,000
// under the race detector, which has nothing to find in them (one
// goroutine) and makes them ten times slower.
func manyListeners() int {
	if eventbus.RaceEnabled {
		return 10_000
	}
	return 100_000
}

func TestManyTopics(t *testing.T) {
	t.Parallel()
	n := manyListeners()
	b := eventbus.New()
	calls := make([]int32, n)
	subs := make([]*eventbus.Subscription, n)
	topic := func(i int) string { return fmt.Sprintf("order:%d:updated", i) }
	for i := range n {
		subs[i] = mustListen(t, b, topic(i), func(_ context.Context, p any) error {
			if p != i {
				return fmt.Errorf("listener %d got %v", i, p)
			}
			calls[i]++
			return nil
		})
	}
	require.Equal(t, n, b.Len())
	ctx := context.Background()
	for i := range n {
		require.NoError(t, b.Emit(ctx, topic(i), i))
	}
	for i := range n {
		require.Equal(t, int32(1), calls[i], "listener %d", i)
	}
	assert.Len(t, b.Topics(), n)

	var patternCalls int
	mustListen(t, b, "order:*:updated", func(context.Context, any) error {
		patternCalls++
		return nil
	})
	assert.Equal(t, 2, b.ListenerCount(topic(n-1)), "the pattern reached every topic")
	for i := 0; i < n; i += 2 { // every other one, in an order that differs from subscription
		require.True(t, subs[(i*7919)%n].Unsubscribe())
	}
	assert.Equal(t, n/2+1, b.Len())
	for i := range n {
		require.NoError(t, b.Emit(ctx, topic(i), i))
	}
	live := 0
	for i := range n {
		if subs[i].Active() {
			live++
			assert.Equal(t, int32(2), calls[i])
		} else {
			assert.Equal(t, int32(1), calls[i])
		}
	}
	assert.Equal(t, n/2, live)
	assert.Equal(t, n, patternCalls, "the pattern heard every topic, with or without listeners of its own")
	for _, sub := range subs {
		sub.Unsubscribe()
	}
	assert.Equal(t, []string{"order:*:updated"}, b.Topics())
	assert.Equal(t, 1, b.ListenerCount(topic(3)))
}

func TestManyListenersOnOneTopic(t *testing.T) {
	t.Parallel()
	n := manyListeners()
	b := eventbus.New()
	var order []int
	subs := make([]*eventbus.Subscription, n)
	for i := range n {
		subs[i] = mustListen(t, b, "t", func(context.Context, any) error {
			order = append(order, i)
			return nil
		})
	}
	ctx := context.Background()
	require.NoError(t, b.Emit(ctx, "t", nil))
	require.Equal(t, span(0, n), order)

	var want []int
	for i, sub := range subs {
		if i%3 == 0 {
			want = append(want, i)
		} else {
			require.True(t, sub.Unsubscribe())
		}
	}
	order = nil
	require.NoError(t, b.Emit(ctx, "t", nil))
	assert.Equal(t, want, order, "subscription order survives the compactions")
	assert.Equal(t, len(want), b.ListenerCount("t"))
	assert.Equal(t, len(want), b.Clear("t"))
	assert.Equal(t, 0, b.Len())
	assert.Empty(t, b.Topics())
}

func TestEmitsDoNotAllocate(t *testing.T) {
	b := eventbus.New()
	var s sink
	subs := listenNamed(t, b, "order:completed", "gap", 3, &recorder{})
	mustListen(t, b, "order:completed", s.anyListener)
	mustListen(t, b, "order:*", s.anyListener)
	subs[1].Unsubscribe() // leaves an empty slot to skip
	typed := eventbus.NewTopic[order]("typed:order")
	_, err := typed.Listen(b, s.typedListener)
	require.NoError(t, err)
	ctx := context.Background()
	var payload any = order{ID: 1, Total: 3}
	for _, sub := range subs {
		sub.Unsubscribe()
	}
	require.NoError(t, typed.Emit(ctx, b, order{ID: 1, Total: 3})) // caches the bus

	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = b.Emit(ctx, "order:completed", payload) }), "a topic")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = b.Emit(ctx, "order:shipped", payload) }), "a topic with pattern listeners only")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = b.Emit(ctx, "nobody", payload) }), "a topic without listeners")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = typed.Emit(ctx, b, order{ID: 1, Total: 3}) }), "a typed topic")
	_, err = typed.Listen(b, s.typedListener) // a change of the listeners
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = typed.Emit(ctx, b, order{ID: 1, Total: 3}) }), "a typed topic whose listeners changed")
}
