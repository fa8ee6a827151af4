package eventbus_test

import (
	"context"
	"fmt"
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

// TestEmitsDuringTableResizes emits to one topic while other goroutines
// create and remove thousands of topics, which grows, shrinks and rehashes
// the topic table under the emits: each emit still finds the topic.
func TestEmitsDuringTableResizes(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var calls atomic.Int64
	mustListen(t, b, "stable", func(context.Context, any) error {
		calls.Add(1)
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	var churn sync.WaitGroup
	for g := range 2 {
		churn.Go(func() {
			subs := make([]*eventbus.Subscription, 2000)
			for round := 0; ctx.Err() == nil; round++ {
				for i := range subs {
					subs[i] = goListen(t, b, fmt.Sprintf("g%d:r%d:t%d", g, round, i))
				}
				for _, sub := range subs {
					sub.Unsubscribe()
				}
			}
		})
	}
	var emit sync.WaitGroup
	const emitters, perEmitter = 4, 3000
	for range emitters {
		emit.Go(func() {
			for range perEmitter {
				assert.NoError(t, b.Emit(ctx, "stable", nil))
			}
		})
	}
	emit.Wait()
	cancel()
	churn.Wait()
	assert.Equal(t, int64(emitters*perEmitter), calls.Load(), "every emit found the topic")
	assert.Equal(t, []string{"stable"}, b.Topics())
}

// TestEmitsUnderChurnKeepSubscriptionOrder checks that the stable
// listeners of a topic run in subscription order in every emit while other
// listeners of the topic come and go, which copies its list again and
// again.
func TestEmitsUnderChurnKeepSubscriptionOrder(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	const stable = 4
	for i := range stable {
		mustListen(t, b, "t", func(_ context.Context, p any) error {
			seen := p.(*[]int)
			*seen = append(*seen, i)
			return nil
		})
		gap := mustListen(t, b, "t", func(context.Context, any) error { return nil })
		gap.Unsubscribe() // leaves a tombstone between stable listeners
	}
	ctx, cancel := context.WithCancel(context.Background())
	var churn sync.WaitGroup
	for range 2 {
		churn.Go(func() {
			var subs []*eventbus.Subscription
			for ctx.Err() == nil {
				for range 5 {
					subs = append(subs, goListen(t, b, "t"))
				}
				for _, sub := range subs {
					sub.Unsubscribe()
				}
				subs = subs[:0]
			}
		})
	}
	var emit sync.WaitGroup
	for range 4 {
		emit.Go(func() {
			for range 2000 {
				var seen []int
				if err := b.Emit(ctx, "t", &seen); err != nil {
					t.Error(err)
					return
				}
				if !assert.Equal(t, []int{0, 1, 2, 3}, seen) {
					return
				}
			}
		})
	}
	emit.Wait()
	cancel()
	churn.Wait()
	assert.Equal(t, stable, b.ListenerCount("t"))
}

// TestConcurrentFirstListenersOfATopic subscribes the first listeners of
// the same new topics from several goroutines at once: each topic gets
// one entry, which holds all of them.
func TestConcurrentFirstListenersOfATopic(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var calls atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			<-start
			for i := range 200 {
				if _, err := b.Listen(fmt.Sprintf("new:%d", i), func(context.Context, any) error {
					calls.Add(1)
					return nil
				}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range 200 {
		topic := fmt.Sprintf("new:%d", i)
		require.Equal(t, 8, b.ListenerCount(topic))
		require.NoError(t, b.Emit(context.Background(), topic, nil))
	}
	assert.Equal(t, int64(8*200), calls.Load())
	assert.Len(t, b.Topics(), 200)
}

// goListen subscribes a listener that does nothing, from a goroutine other
// than the test's, where require must not stop the test. A failure leaves
// a nil subscription, whose Unsubscribe does nothing.
func goListen(t *testing.T, b *eventbus.Bus, topic string) *eventbus.Subscription {
	sub, err := b.Listen(topic, func(context.Context, any) error { return nil })
	if err != nil {
		t.Error(err)
	}
	return sub
}
