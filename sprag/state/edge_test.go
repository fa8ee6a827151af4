package state_test

// Tests with many concurrent subscribers and odd subscribers whose
// documented behaviour holds.

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/state"
	"github.com/sprag-go/sprag/spragtest"
)

// TestEdgeManySubscribersAndWatchersComingAndGoing: thousands of
// subscribers and Watch channels subscribe and cancel from many
// goroutines while values are set: the ones that stay see values in
// order and the latest last, and the cancelled ones leave no trace.
func TestEdgeManySubscribersAndWatchersComingAndGoing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "owner", nil)
		subscriber := spragtest.Started(t, "subscriber", nil)
		level, err := state.New(owner, 0)
		require.NoError(t, err)

		var seen spragtest.Collector[int]
		_, err = level.Subscribe(subscriber, func(_ context.Context, v int) error {
			seen.Add(v)
			return nil
		})
		require.NoError(t, err)
		stay := level.Watch(context.Background())

		var wg sync.WaitGroup
		var calls atomic.Int64
		for g := range 16 {
			wg.Go(func() {
				for i := range 200 {
					if (g+i)%2 == 0 {
						sub, err := level.Subscribe(subscriber, func(context.Context, int) error {
							calls.Add(1)
							return nil
						}, state.NotifyCurrent())
						if assert.NoError(t, err) {
							assert.True(t, sub.Cancel())
							assert.False(t, sub.Active())
						}
					} else {
						ctx, cancel := context.WithCancel(context.Background())
						ch := level.Watch(ctx)
						cancel()
						for range ch { // closed once ctx ends; at most the buffered value
						}
					}
				}
			})
		}
		wg.Go(func() {
			for range 1000 {
				level.Update(func(v int) int { return v + 1 })
			}
		})
		wg.Wait()
		synctest.Wait()

		requireOrderedUpTo(t, seen.All(), 1000)
		assert.Equal(t, 1000, <-stay, "the channel holds the latest value")
		assert.Equal(t, 2, level.Stats().Subscribers, "only the two that stayed")
		assert.Positive(t, calls.Load(), "NotifyCurrent called the short-lived ones")
	})
}

// TestEdgeSubscriberThatSubscribesCancelsAndSetsFromItsOwnCall: a
// subscriber may subscribe others, cancel itself and set the value from
// inside its call: nothing deadlocks, and the values still arrive in
// order, the latest last.
func TestEdgeSubscriberThatSubscribesCancelsAndSetsFromItsOwnCall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		counter, err := state.New(p, 0)
		require.NoError(t, err)
		var late spragtest.Collector[int]
		var self *state.Subscriber
		var once sync.Once
		self, err = counter.Subscribe(p, func(_ context.Context, v int) error {
			once.Do(func() {
				_, err := counter.Subscribe(p, func(_ context.Context, v int) error {
					late.Add(v)
					return nil
				}, state.NotifyCurrent())
				assert.NoError(t, err)
			})
			if v < 10 {
				counter.Set(v + 1) // delivered next, by the goroutine already notifying
			} else {
				self.Cancel()
			}
			return nil
		})
		require.NoError(t, err)
		counter.Set(1)
		synctest.Wait()
		// The late one subscribed while 1 was being delivered, and 2 was
		// set before its first call: values coalesce, so it may start at 2.
		got := late.All()
		require.NotEmpty(t, got)
		for i := 1; i < len(got); i++ {
			assert.Equal(t, got[i-1]+1, got[i])
		}
		assert.Equal(t, 10, got[len(got)-1])
		assert.Equal(t, 10, counter.Get())
		assert.False(t, self.Active())
		assert.Equal(t, 1, counter.Stats().Subscribers)
	})
}

// TestEdgeSubscribersOfManyServicesThatStop: subscribers belonging to a
// hundred services are removed as each service stops, and a Subscribe for
// a stopped service is refused with ErrNotRunning.
func TestEdgeSubscribersOfManyServicesThatStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "owner", nil)
		value, err := state.New(owner, "a")
		require.NoError(t, err)
		rt := sprag.NewRuntime(nil)
		services := make([]*spragtest.Probe, 100)
		for i := range services {
			services[i] = &spragtest.Probe{}
			require.NoError(t, sprag.Bind(services[i], "s", rt))
			require.NoError(t, services[i].Start(context.Background()))
			_, err := value.Subscribe(services[i], func(context.Context, string) error { return nil })
			require.NoError(t, err)
		}
		assert.Equal(t, 100, value.Stats().Subscribers)
		var wg sync.WaitGroup
		for _, s := range services {
			wg.Go(func() { assert.NoError(t, s.Stop(context.Background())) })
		}
		wg.Go(func() {
			for i := range 100 {
				value.Set(string(rune('a' + i%26)))
			}
		})
		wg.Wait()
		assert.Zero(t, value.Stats().Subscribers)
		_, err = value.Subscribe(services[0], func(context.Context, string) error { return nil })
		require.ErrorIs(t, err, sprag.ErrNotRunning)
	})
}
