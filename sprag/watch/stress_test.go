package watch_test

// Stress tests of the watcher's promises under concurrent use.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag/state"
	"github.com/sprag-go/sprag/sprag/watch"
	"github.com/sprag-go/sprag/spragtest"
)

// TestStressPollerCancelledFromManyGoroutinesWhileReadersRace: a poller
// that polls every millisecond (failing every third poll) is read,
// subscribed to and watched from many goroutines, and cancelled by eight
// goroutines at once mid-stream. Polls never overlap (watch.go:70-71), exactly
// one Cancel reports that it stopped the watcher, no poll begins after
// Cancel returned (watch.go:34, 312-313), subscribers and channels see
// values in order (state's guarantees, watch.go:27-28), the value stays
// readable, and the owner's stop closes the channels.
func TestStressPollerCancelledFromManyGoroutinesWhileReadersRace(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "owner", nil)
		subscriber := spragtest.Started(t, "subscriber", nil)
		var (
			began, ended atomic.Int64
			inPoll       atomic.Int32
			overlapped   atomic.Bool
			counter      atomic.Int64
		)
		w, err := watch.Poll(owner, func(context.Context) (int64, error) {
			began.Add(1)
			defer ended.Add(1)
			if inPoll.Add(1) > 1 {
				overlapped.Store(true)
			}
			defer inPoll.Add(-1)
			time.Sleep(200 * time.Microsecond)
			if n := began.Load(); n%3 == 0 {
				return 0, errors.New("every third poll fails")
			}
			return counter.Add(1), nil
		}, time.Millisecond, watch.Label("feed"), watch.RetryBackoff(time.Millisecond, 4*time.Millisecond))
		require.NoError(t, err)

		stopReaders := make(chan struct{})
		var readers sync.WaitGroup
		var channels []<-chan int64
		var chMu sync.Mutex
		for g := range 8 {
			readers.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stopReaders:
						return
					default:
					}
					_ = w.Stats()
					_ = owner.Status(context.Background())
					_, _ = w.Value()
					switch (g + i) % 3 {
					case 0:
						var got spragtest.Collector[int64]
						h, err := w.Subscribe(subscriber, func(_ context.Context, v int64) error {
							got.Add(v)
							return nil
						}, state.NotifyCurrent())
						if !assert.NoError(t, err) { //nolint:testifylint // off the test's goroutine, where require cannot stop the test
							return
						}
						time.Sleep(3 * time.Millisecond)
						h.Cancel()
						vals := got.All()
						for j := 1; j < len(vals); j++ {
							assert.Less(t, vals[j-1], vals[j], "never an older value after a newer one")
						}
					case 1:
						ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
						last := int64(-1)
						for v := range w.Watch(ctx) { // closed when ctx ends
							assert.Greater(t, v, last)
							last = v
						}
						cancel()
					default:
						ch := w.Watch(context.Background())
						chMu.Lock()
						channels = append(channels, ch)
						chMu.Unlock()
						time.Sleep(time.Millisecond)
					}
				}
			})
		}

		time.Sleep(30 * time.Millisecond)
		var cancels sync.WaitGroup
		var stoppedIt atomic.Int32
		for range 8 {
			cancels.Go(func() {
				if w.Cancel() {
					stoppedIt.Add(1)
				}
			})
		}
		cancels.Wait()
		b0, e0 := began.Load(), ended.Load() // one poll may be under way, or about to enter poll
		time.Sleep(50 * time.Millisecond)
		close(stopReaders)
		readers.Wait()
		synctest.Wait()

		assert.Equal(t, int32(1), stoppedIt.Load(), "exactly one Cancel stopped the watcher")
		assert.False(t, overlapped.Load(), "polls never overlap")
		assert.Positive(t, b0)
		if b0 > e0 { // a poll was under way when Cancel returned: it finishes, no other begins
			assert.Equal(t, b0, began.Load(), "no poll begins after Cancel returned")
		} else { // at most the run already started by the timer enters poll
			assert.LessOrEqual(t, began.Load(), b0+1, "no poll begins after Cancel returned")
		}
		final := began.Load()
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, final, began.Load(), "a cancelled poller never polls again")
		v, ok := w.Value()
		assert.True(t, ok)
		assert.Equal(t, counter.Load(), v, "the value stays readable: the last success")

		spragtest.Stop(t, owner, time.Second)
		chMu.Lock()
		defer chMu.Unlock()
		require.NotEmpty(t, channels)
		for _, ch := range channels {
			for range ch { // drains the buffered value; ends once the owner's stop closed it
			}
		}
	})
}

// TestStressStreamSendFromManyGoroutines: a stream follower's send is
// called from many goroutines at once (watch.go:110-111: "calls send for
// each value it receives (from any goroutine, until it returns)"): every
// value sent counts as a change, a subscriber and a channel end with the
// watcher's last value, and the follower's reconnections keep working.
func TestStressStreamSendFromManyGoroutines(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "owner", nil)
		var next atomic.Int64
		var connections atomic.Int32
		w, err := watch.Stream(owner, func(ctx context.Context, send func(int64)) error {
			connections.Add(1)
			var senders sync.WaitGroup
			for range 8 {
				senders.Go(func() {
					for range 50 {
						send(next.Add(1))
						time.Sleep(10 * time.Microsecond)
					}
				})
			}
			senders.Wait()
			if connections.Load() < 3 {
				return errors.New("connection dropped") // reconnects after the backoff
			}
			<-ctx.Done()
			return ctx.Err()
		}, watch.Label("feed"), watch.RetryBackoff(time.Millisecond, time.Millisecond))
		require.NoError(t, err)
		var seen spragtest.Collector[int64]
		_, err = w.Subscribe(owner, func(_ context.Context, v int64) error {
			seen.Add(v)
			return nil
		})
		require.NoError(t, err)

		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, int32(3), connections.Load())
		st := w.Stats()
		assert.Equal(t, int64(3*8*50), st.Changes, "every value sent while its follow ran is a change")
		assert.Equal(t, int64(2), st.Errors)
		last, ok := w.Value()
		require.True(t, ok)
		got := seen.All()
		require.NotEmpty(t, got)
		assert.Equal(t, last, got[len(got)-1], "the subscriber ends with the watcher's last value")
		assert.Equal(t, last, <-w.Watch(context.Background()))
	})
}
