package eventbus_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
)

func TestOnRemovedRunsOnceForEveryWayOfRemoval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		topic  string
		opts   []eventbus.ListenOption
		remove func(b *eventbus.Bus, sub *eventbus.Subscription)
	}{
		{"Unsubscribe", "t", nil, func(_ *eventbus.Bus, sub *eventbus.Subscription) { assert.True(t, sub.Unsubscribe()) }},
		{"Clear of the topic", "t", nil, func(b *eventbus.Bus, _ *eventbus.Subscription) { assert.Equal(t, 1, b.Clear("t")) }},
		{"Clear of the pattern", "t:*", nil, func(b *eventbus.Bus, _ *eventbus.Subscription) { assert.Equal(t, 1, b.Clear("t:*")) }},
		{"ClearAll", "t", nil, func(b *eventbus.Bus, _ *eventbus.Subscription) { assert.Equal(t, 2, b.ClearAll()) }},
		{"a Once listener that ran", "t", []eventbus.ListenOption{eventbus.Once()}, func(b *eventbus.Bus, _ *eventbus.Subscription) {
			assert.NoError(t, b.Emit(ctx, "t", nil))
		}},
		{"a Once pattern listener that ran", "*", []eventbus.ListenOption{eventbus.Once()}, func(b *eventbus.Bus, _ *eventbus.Subscription) {
			assert.NoError(t, b.Emit(ctx, "t:x", nil))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := eventbus.New()
			target := tt.topic // a topic the listener hears
			if eventbus.IsPattern(target) {
				target = "t:x"
			}
			var sub *eventbus.Subscription
			calls := 0
			var seen []string
			opts := append([]eventbus.ListenOption{eventbus.OnRemoved(func() {
				calls++
				// The removal has taken effect: the listener is gone from
				// every view, and an emit from here does not call it.
				assert.False(t, sub.Active())
				assert.Equal(t, 0, b.ListenerCount(tt.topic))
				require.NoError(t, b.Emit(ctx, target, "from OnRemoved"))
				// No lock of the bus is held: it can be changed from here.
				other := mustListen(t, b, "u", func(context.Context, any) error { return nil })
				other.Unsubscribe()
			})}, tt.opts...)
			sub = mustListen(t, b, tt.topic, func(_ context.Context, p any) error {
				seen = append(seen, "called")
				return nil
			}, opts...)
			mustListen(t, b, "keep", func(context.Context, any) error { return nil })

			tt.remove(b, sub)
			assert.Equal(t, 1, calls, "OnRemoved ran, before the removing call returned")
			sub.Unsubscribe()
			b.Clear(tt.topic)
			require.NoError(t, b.Emit(ctx, target, nil))
			assert.Equal(t, 1, calls, "and only once")
			assert.LessOrEqual(t, len(seen), 1)
		})
	}
}

func TestOnRemovedOfAOnceListenerRunsAfterTheListener(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var steps []string
	mustListen(t, b, "t", func(context.Context, any) error {
		steps = append(steps, "listener")
		panic("kaput")
	}, eventbus.Once(), eventbus.OnRemoved(func() { steps = append(steps, "removed") }))
	_, err := b.ListenEvents("t", func(_ context.Context, e eventbus.Event) error {
		steps = append(steps, "events listener "+e.Topic)
		return nil
	}, eventbus.Once(), eventbus.OnRemoved(func() { steps = append(steps, "events removed") }))
	require.NoError(t, err)

	var pe *eventbus.PanicError
	require.ErrorAs(t, b.Emit(context.Background(), "t", nil), &pe, "the listener's panic is still reported")
	require.NoError(t, b.Emit(context.Background(), "t", nil))
	assert.Equal(t, []string{"listener", "removed", "events listener t", "events removed"}, steps)
	assert.Equal(t, 0, b.Len())
}

func TestOnRemovedUnderConcurrentRemovals(t *testing.T) {
	t.Parallel()
	for range 100 {
		b := eventbus.New()
		var calls, called, removedByUnsubscribe atomic.Int32
		sub := mustListen(t, b, "t", func(context.Context, any) error {
			called.Add(1)
			return nil
		}, eventbus.Once(), eventbus.OnRemoved(func() { calls.Add(1) }))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 8 {
			wg.Go(func() {
				<-start
				switch i % 3 {
				case 0:
					if sub.Unsubscribe() {
						removedByUnsubscribe.Add(1)
					}
				case 1:
					if err := b.Emit(context.Background(), "t", nil); err != nil {
						t.Error(err)
					}
				default:
					b.Clear("t")
				}
			})
		}
		close(start)
		wg.Wait()
		assert.Equal(t, int32(1), calls.Load(), "OnRemoved ran exactly once")
		assert.LessOrEqual(t, called.Load()+removedByUnsubscribe.Load(), int32(1), "the listener ran, or Unsubscribe removed it, or Clear did")
		assert.Equal(t, 0, b.Len())
	}
}

func TestOnRemovedPanicIsReportedAndTheRemovalStands(t *testing.T) {
	t.Parallel()
	var reported []*eventbus.ListenerError
	b := eventbus.New(eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.ListenerError) {
		reported = append(reported, err)
	}))
	boom := errors.New("boom")
	sub := mustListen(t, b, "order:*", func(context.Context, any) error { return nil },
		eventbus.WithName("audit"), eventbus.OnRemoved(func() { panic(boom) }))

	var ok bool
	require.NotPanics(t, func() { ok = sub.Unsubscribe() })
	assert.True(t, ok)
	assert.False(t, sub.Active())
	assert.Equal(t, 0, b.Len())
	require.Len(t, reported, 1)
	le := reported[0]
	assert.Equal(t, "order:*", le.Topic)
	assert.Equal(t, "audit", le.Listener)
	assert.Equal(t, sub.ID(), le.ID)
	require.ErrorIs(t, le, eventbus.ErrOnRemoved)
	require.ErrorIs(t, le, boom, "the panic value, through the PanicError")
	var pe *eventbus.PanicError
	require.ErrorAs(t, le, &pe)
	assert.Contains(t, string(pe.Stack), "onremoved_test.go")

	quiet := eventbus.New() // no handler: the panic is dropped
	sub = mustListen(t, quiet, "t", func(context.Context, any) error { return nil }, eventbus.OnRemoved(func() { panic("x") }))
	assert.NotPanics(t, func() { assert.Equal(t, 1, quiet.ClearAll()) })
}

func TestOnRemovedNilIsIgnored(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	sub := mustListen(t, b, "t", func(context.Context, any) error { return nil }, eventbus.OnRemoved(nil))
	assert.NotPanics(t, func() { assert.True(t, sub.Unsubscribe()) })
}

// TestListenAndUnsubscribeManyTimesLeavesNothingBehind is the pattern of a
// service that listens and unsubscribes at run time: OnRemoved tells it
// when to forget each subscription, and the bus keeps nothing either.
func TestListenAndUnsubscribeManyTimesLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	mustListen(t, b, "t", func(context.Context, any) error { return nil })
	live := map[*eventbus.Subscription]bool{}
	for i := range 20_000 {
		var sub *eventbus.Subscription
		sub = mustListen(t, b, "t", func(context.Context, any) error { return nil },
			eventbus.OnRemoved(func() { delete(live, sub) }))
		live[sub] = true
		if i%2 == 0 {
			sub.Unsubscribe()
		} else {
			require.NoError(t, b.Emit(context.Background(), "t", nil))
			b.Clear("t")
			mustListen(t, b, "t", func(context.Context, any) error { return nil })
		}
	}
	assert.Empty(t, live, "every subscription was forgotten the moment it was removed")
	assert.Equal(t, 1, b.Len())
	assert.Equal(t, 1, b.ListenerCount("t"))
}
