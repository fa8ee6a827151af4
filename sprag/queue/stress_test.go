package queue_test

// Stress tests of the queue's promises under concurrent use: producers
// racing each other and the owner's stop.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/spragtest"
)

// stressItem is an item of producer P, its Seq-th.
type stressItem struct{ P, Seq int }

// TestStressQueueEveryAcceptedItemExactlyOnceWhileStopRacesProducers:
// many producers, some with TryEnqueue, some with Enqueue (blocked on a
// full queue), race the owner's stop with a deadline too short to drain;
// handlers fail or panic for some items and Stats and the health report
// are read all along. Each accepted item is handled or overflowed, by
// identity, exactly once (queue.go:50-56); Overflow runs once, never while
// a handler runs, and gets each producer's items in the order they were
// enqueued (options.go:73-76); an enqueue that fails after the stop wraps
// ErrNotRunning and is not counted as rejected; the figures add up.
func TestStressQueueEveryAcceptedItemExactlyOnceWhileStopRacesProducers(t *testing.T) {
	t.Parallel()
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers %d", workers), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				p := spragtest.Started(t, "svc", nil)
				var (
					inHandler   atomic.Int64
					overlapped  atomic.Bool
					overflows   atomic.Int32
					handled     spragtest.Collector[stressItem]
					overflowed  spragtest.Collector[stressItem]
					accepted    spragtest.Collector[stressItem]
					notRunning  atomic.Int64
					fullRefusal atomic.Int64
				)
				q, err := queue.New(p, func(_ context.Context, it stressItem) error {
					inHandler.Add(1)
					defer inHandler.Add(-1)
					handled.Add(it)
					time.Sleep(2 * time.Millisecond)
					switch it.Seq % 5 {
					case 3:
						return errors.New("fails")
					case 4:
						panic("panics")
					}
					return nil
				}, queue.Workers(workers), queue.Capacity(16), queue.Label("jobs"),
					queue.Overflow(func(_ context.Context, items []stressItem) error {
						overflows.Add(1)
						if inHandler.Load() != 0 {
							overlapped.Store(true)
						}
						for _, it := range items {
							overflowed.Add(it)
						}
						return nil
					}))
				require.NoError(t, err)

				var producers sync.WaitGroup
				for pr := range 12 {
					producers.Go(func() {
						for seq := 0; ; seq++ {
							it := stressItem{P: pr, Seq: seq}
							var err error
							if pr%2 == 0 {
								err = q.TryEnqueue(it)
							} else {
								err = q.Enqueue(context.Background(), it)
							}
							switch {
							case err == nil:
								accepted.Add(it)
							case errors.Is(err, sprag.ErrNotRunning):
								notRunning.Add(1)
								return
							case errors.Is(err, queue.ErrFull):
								fullRefusal.Add(1)
								time.Sleep(100 * time.Microsecond)
							default:
								t.Errorf("enqueue: %v", err)
								return
							}
						}
					})
				}
				readers := make(chan struct{})
				var reading sync.WaitGroup
				reading.Go(func() {
					for {
						select {
						case <-readers:
							return
						default:
						}
						_ = q.Stats()
						_ = p.Status(context.Background())
						time.Sleep(50 * time.Microsecond)
					}
				})

				time.Sleep(20 * time.Millisecond)
				_ = stopWithin(p, 3*time.Millisecond) // too short to drain
				producers.Wait()
				<-p.Done()
				close(readers)
				reading.Wait()

				// Late enqueues fail clearly and count as nothing.
				require.ErrorIs(t, q.TryEnqueue(stressItem{P: -1}), sprag.ErrNotRunning)
				require.ErrorIs(t, q.Enqueue(context.Background(), stressItem{P: -1}), sprag.ErrNotRunning)

				acc := accepted.All()
				require.NotEmpty(t, acc)
				seen := map[stressItem]string{}
				for _, it := range handled.All() {
					require.NotContains(t, seen, it, "handled twice")
					seen[it] = "handled"
				}
				lastOverflowed := map[int]int{}
				for _, it := range overflowed.All() {
					require.NotContains(t, seen, it, "%v overflowed after it was %s", it, seen[it])
					seen[it] = "overflowed"
					if last, ok := lastOverflowed[it.P]; ok {
						require.Less(t, last, it.Seq, "Overflow gets a producer's items in enqueue order")
					}
					lastOverflowed[it.P] = it.Seq
				}
				require.Len(t, seen, len(acc), "every accepted item is handled or overflowed, nothing else")
				for _, it := range acc {
					require.Contains(t, seen, it, "accepted but lost")
				}
				assert.LessOrEqual(t, overflows.Load(), int32(1), "Overflow runs once")
				assert.False(t, overlapped.Load(), "Overflow ran while a handler ran")
				assert.Zero(t, inHandler.Load(), "no handler runs once Done is closed")
				assert.Equal(t, int64(12), notRunning.Load(), "each producer was told the queue stopped")

				st := q.Stats()
				assert.Equal(t, int64(len(acc)), st.Processed+st.Failed+st.Overflowed+st.Dropped)
				assert.Equal(t, int64(len(handled.All())), st.Processed+st.Failed)
				assert.Equal(t, int64(len(overflowed.All())), st.Overflowed)
				assert.Zero(t, st.Dropped)
				assert.Positive(t, st.Overflowed, "the deadline cut the drain: Overflow had items to take")
				assert.Equal(t, fullRefusal.Load(), st.Rejected, "only full-queue refusals of TryEnqueue count as rejected")
				assert.Zero(t, st.InFlight)
				assert.Zero(t, st.Pending)
			})
		})
	}
}

// TestStressQueueBlockedEnqueuersAllReleasedByStop: many Enqueue calls
// wait on a full queue whose only handler is stuck; the stop releases
// every one of them with an error wrapping ErrNotRunning ("also while
// Enqueue waits", queue.go:257-260), none is accepted behind the stop's
// back, and the items the queue did hold are dropped and counted.
func TestStressQueueBlockedEnqueuersAllReleasedByStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		release := make(chan struct{})
		q, err := queue.New(p, func(context.Context, int) error {
			<-release
			return nil
		}, queue.Capacity(2), queue.Label("jobs"))
		require.NoError(t, err)
		require.NoError(t, q.TryEnqueue(0)) // taken by the worker, which blocks
		synctest.Wait()
		require.NoError(t, q.TryEnqueue(1))
		require.NoError(t, q.TryEnqueue(2)) // the queue is full

		results := make(chan error, 64)
		for i := range 64 {
			go func() { results <- q.Enqueue(context.Background(), 100+i) }()
		}
		synctest.Wait() // all 64 wait for room
		assert.Equal(t, 2, q.Stats().Pending)

		stopped := make(chan error, 1)
		go func() { stopped <- stopWithin(p, time.Second) }()
		for range 64 {
			require.ErrorIs(t, <-results, sprag.ErrNotRunning, "a waiting Enqueue is released by the stop")
		}
		close(release) // the handler of item 0 returns; the drain then takes 1 and 2
		require.NoError(t, <-stopped)
		<-p.Done()
		st := q.Stats()
		assert.Equal(t, int64(3), st.Processed, "the three accepted items are handled, no more")
		assert.Zero(t, st.Rejected, "a stop is not a rejection")
	})
}
