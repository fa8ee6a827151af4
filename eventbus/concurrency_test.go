package eventbus_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
)

// TestStormOfEmitsWithChurn emits from 8 goroutines while others subscribe
// and unsubscribe on the same topic, on patterns that match it, and from
// inside listeners. Stable listeners must see every event exactly once.
func TestStormOfEmitsWithChurn(t *testing.T) {
	t.Parallel()
	const (
		emitters = 8
		perEmit  = 2000
		stable   = 3
	)
	b := eventbus.New()
	topic := eventbus.NewTopic[int]("order:completed")
	counts := make([]atomic.Int64, stable)
	seen := make([][]atomic.Bool, stable) // event id -> delivered
	for i := range stable {
		seen[i] = make([]atomic.Bool, emitters*perEmit)
		_, err := topic.Listen(b, func(_ context.Context, id int) error {
			counts[i].Add(1)
			if seen[i][id].Swap(true) {
				t.Errorf("listener %d saw event %d twice", i, id)
			}
			return nil
		})
		require.NoError(t, err)
	}
	// A listener that subscribes and unsubscribes others while emits run.
	_, err := b.Listen("order:*", func(context.Context, any) error {
		sub, err := b.Listen("order:completed", func(context.Context, any) error { return nil })
		if err != nil {
			return err
		}
		sub.Unsubscribe()
		return nil
	})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	var churn sync.WaitGroup
	for _, name := range []string{"order:completed", "order:*", "*", "user:created"} {
		churn.Go(func() {
			for ctx.Err() == nil {
				sub, err := b.Listen(name, func(context.Context, any) error { return nil })
				if err != nil {
					t.Errorf("listen to %q: %v", name, err)
					return
				}
				_ = b.ListenerCount("order:completed")
				sub.Unsubscribe()
			}
		})
	}

	var emit sync.WaitGroup
	for e := range emitters {
		emit.Go(func() {
			for i := range perEmit {
				id := e*perEmit + i
				if i%2 == 0 {
					assert.NoError(t, topic.Emit(ctx, b, id))
				} else {
					assert.NoError(t, b.Emit(ctx, "order:completed", id))
				}
			}
		})
	}
	emit.Wait()
	cancel()
	churn.Wait()

	for i := range stable {
		assert.Equal(t, int64(emitters*perEmit), counts[i].Load(), "stable listener %d", i)
	}
	assert.Equal(t, stable+1, b.Len(), "every churned subscription is gone")
}

func TestConcurrentListenUnsubscribeKeepsCountsExact(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var wg sync.WaitGroup
	subs := make(chan *eventbus.Subscription, 800)
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				topic := []string{"a", "a:b", "a:*", "*"}[(g+i)%4]
				sub, err := b.Listen(topic, func(context.Context, any) error { return nil })
				if assert.NoError(t, err) {
					subs <- sub
				}
			}
		})
	}
	wg.Wait()
	close(subs)
	assert.Equal(t, 800, b.Len())
	assert.Equal(t, 600, b.ListenerCount("a:b"), "a:b, a:* and * each have 200")
	for sub := range subs {
		wg.Go(func() { assert.True(t, sub.Unsubscribe()) })
	}
	wg.Wait()
	assert.Equal(t, 0, b.Len())
	assert.Equal(t, 0, b.ListenerCount("a:b"))
	assert.Empty(t, b.Topics())
}
