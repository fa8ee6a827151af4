package state_test

// Stress tests of the observable's promises under concurrent use: writers,
// subscribers and watchers racing each other and the services' stops.

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag/state"
	"github.com/sprag-go/sprag/spragtest"
)

// TestStressObservableSubscriberNeverCalledAfterItsServiceStopped: while
// writers update the observable from many goroutines and slow subscribers
// make the notifications overlap the stop, the subscribers' services stop
// one by one. A subscriber is never called once its service's Stop has
// returned, and no call of it is under way then (state.go:32-34: "it is
// no longer called once that service has begun to stop, ... its Stop
// waits for a call in progress"); the subscribers of the services still
// running keep seeing values in order and the latest last.
func TestStressObservableSubscriberNeverCalledAfterItsServiceStopped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "owner", nil)
		level, err := state.New(owner, 0, state.Label("level"))
		require.NoError(t, err)

		const services = 6
		type sub struct {
			probe              *spragtest.Probe
			stopped            atomic.Bool
			inCall, lateCalls  atomic.Int64
			inCallAtStopReturn int64
			stopTook           time.Duration
			calling            chan struct{} // closed in its second call
			calls              atomic.Int64
			seen               spragtest.Collector[int]
		}
		subs := make([]*sub, services)
		for i := range subs {
			s := &sub{probe: spragtest.Started(t, "subscriber", nil), calling: make(chan struct{})}
			subs[i] = s
			_, err := level.Subscribe(s.probe, func(_ context.Context, v int) error {
				s.inCall.Add(1)
				defer s.inCall.Add(-1)
				if s.stopped.Load() {
					s.lateCalls.Add(1)
				}
				s.seen.Add(v)
				if s.calls.Add(1) == 2 {
					close(s.calling) // its service's stop comes during this call
				}
				time.Sleep(time.Millisecond) // slow: notifications overlap the stops
				return nil
			}, state.NotifyCurrent())
			require.NoError(t, err)
		}

		var writers sync.WaitGroup
		for range 8 {
			writers.Go(func() {
				for range 100 {
					level.Update(func(v int) int { return v + 1 })
					time.Sleep(500 * time.Microsecond) // 50 ms of writes: many rounds of notifications
				}
			})
		}
		var stoppers sync.WaitGroup
		for _, s := range subs[:services-1] { // the last one stays
			stoppers.Go(func() {
				<-s.calling
				began := time.Now()
				assert.NoError(t, s.probe.Stop(context.Background())) //nolint:testifylint // off the test's goroutine, where require cannot stop the test
				s.stopTook = time.Since(began)
				s.inCallAtStopReturn = s.inCall.Load()
				s.stopped.Store(true)
			})
		}
		writers.Wait()
		stoppers.Wait()
		synctest.Wait()

		for i, s := range subs[:services-1] {
			assert.Positive(t, s.stopTook, "subscriber %d: its service's Stop began during a call and waited for it", i)
			assert.Zero(t, s.inCallAtStopReturn, "subscriber %d: a call was under way when its service's Stop returned", i)
			assert.Zero(t, s.lateCalls.Load(), "subscriber %d was called after its service's Stop returned", i)
			got := s.seen.All()
			for j := 1; j < len(got); j++ {
				require.Less(t, got[j-1], got[j], "never an older value after a newer one")
			}
		}
		requireOrderedUpTo(t, subs[services-1].seen.All(), 800)
		assert.Equal(t, 1, level.Stats().Subscribers, "the stopped services' subscribers are gone")
	})
}

// TestStressObservableWatchersAndSubscribersJoinAndLeaveDuringWrites: from
// many goroutines at once, Watch channels are opened (and their contexts
// ended) and NotifyCurrent subscribers join (and cancel) while writers
// update the observable. Every receiver sees values in the order they were
// stored, a subscriber's first value is no older than the one current
// when it subscribed, a channel is closed once its context ends, and the
// ones that stay get the latest value; cancelled ones leave nothing.
func TestStressObservableWatchersAndSubscribersJoinAndLeaveDuringWrites(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "owner", nil)
		subscriber := spragtest.Started(t, "subscriber", nil)
		level, err := state.New(owner, 0)
		require.NoError(t, err)

		const writes = 8 * 150
		var writers sync.WaitGroup
		for range 8 {
			writers.Go(func() {
				for range 150 {
					level.Update(func(v int) int { return v + 1 })
					time.Sleep(50 * time.Microsecond)
				}
			})
		}
		stay := level.Watch(context.Background())
		var stayGot spragtest.Collector[int]
		var staying sync.WaitGroup
		staying.Go(func() {
			for v := range stay {
				stayGot.Add(v)
				if v == writes {
					return
				}
			}
		})

		var joiners sync.WaitGroup
		for g := range 12 {
			joiners.Go(func() {
				for i := range 20 {
					if (g+i)%2 == 0 {
						ctx, cancel := context.WithCancel(context.Background())
						ch := level.Watch(ctx)
						last := -1
						for range 3 {
							v, ok := <-ch
							if !ok {
								break
							}
							assert.Greater(t, v, last, "a Watch channel never gives an older value after a newer one")
							last = v
							if v == writes {
								break
							}
						}
						cancel()
						for range ch { // closed once its context ended: at most the buffered value is left
						}
					} else {
						floor := level.Get()
						var got spragtest.Collector[int]
						h, err := level.Subscribe(subscriber, func(_ context.Context, v int) error {
							got.Add(v)
							return nil
						}, state.NotifyCurrent())
						if !assert.NoError(t, err) { //nolint:testifylint // off the test's goroutine, where require cannot stop the test
							return
						}
						time.Sleep(200 * time.Microsecond)
						assert.True(t, h.Cancel())
						vals := got.All()
						if assert.NotEmpty(t, vals, "NotifyCurrent delivers the current value") {
							assert.GreaterOrEqual(t, vals[0], floor, "the first value is no older than the one current at Subscribe")
						}
						for j := 1; j < len(vals); j++ {
							assert.Less(t, vals[j-1], vals[j])
						}
					}
				}
			})
		}
		writers.Wait()
		joiners.Wait()
		staying.Wait()
		synctest.Wait()

		requireOrderedUpTo(t, stayGot.All(), writes)
		assert.Equal(t, 1, level.Stats().Subscribers, "only the channel that stays")
		spragtest.Stop(t, owner, time.Second)
		_, open := <-stay
		assert.False(t, open, "the owner's stop closes every channel")
	})
}

// TestStressObservableDedupeUnderConcurrentSets: with Dedupe, Set and
// Update from many goroutines at once store a value only when it differs
// from the current one, and report it exactly: the values reported stored
// are the Version's growth, a subscriber is told of no more values than
// were stored, and gets the latest value last.
func TestStressObservableDedupeUnderConcurrentSets(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "owner", nil)
		mode, err := state.New(owner, "a", state.Dedupe())
		require.NoError(t, err)
		var seen spragtest.Collector[string]
		_, err = mode.Subscribe(owner, func(_ context.Context, v string) error {
			seen.Add(v)
			return nil
		})
		require.NoError(t, err)

		var stored atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 300 {
					v := string(rune('a' + (g*i)%3))
					var ok bool
					if i%2 == 0 {
						ok = mode.Set(v)
					} else {
						ok = mode.Update(func(string) string { return v })
					}
					if ok {
						stored.Add(1)
					}
				}
			})
		}
		wg.Wait()
		synctest.Wait()

		assert.Equal(t, uint64(stored.Load())+1, mode.Version(), "every stored value, and only those, counts") //nolint:gosec // a count of calls, never negative
		got := seen.All()
		require.NotEmpty(t, got)
		assert.Equal(t, mode.Get(), got[len(got)-1], "the latest value arrives last")
		assert.LessOrEqual(t, int64(len(got)), stored.Load(), "a subscriber is told only of stored values")
	})
}
