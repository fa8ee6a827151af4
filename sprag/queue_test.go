package sprag_test

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

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// collected gathers values from any goroutine.
type collected[T any] struct {
	mu   sync.Mutex
	vals []T
}

func (c *collected[T]) add(v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vals = append(c.vals, v)
}

func (c *collected[T]) get() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]T(nil), c.vals...)
}

// stopWithin stops p with a context that ends after d and returns Stop's
// error.
func stopWithin(p sprag.Interface, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.Stop(ctx)
}

func TestQueueHandlesItemsWithItsWorkers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := started(t, func(*probe) {})
		var got collected[int]
		var running, peak atomic.Int32
		q, err := sprag.NewQueue(p, func(_ context.Context, n int) error {
			r := running.Add(1)
			for {
				old := peak.Load()
				if r <= old || peak.CompareAndSwap(old, r) {
					break
				}
			}
			time.Sleep(time.Second)
			running.Add(-1)
			got.add(n)
			return nil
		}, sprag.Workers(3), sprag.Capacity(10), sprag.Label("jobs"))
		require.NoError(t, err)
		assert.Equal(t, "jobs", q.Label())

		for i := range 9 {
			require.NoError(t, q.TryEnqueue(i))
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()

		assert.ElementsMatch(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}, got.get())
		assert.Equal(t, int32(3), peak.Load(), "three workers at once")
		want := sprag.QueueStats{Workers: 3, Capacity: 10, Processed: 9, Throughput: 3}
		assert.Equal(t, want, q.Stats(), "nine items in three seconds")
		st := p.Status(context.Background())
		assert.True(t, st.Healthy)
		assert.Equal(t, want, st.Details["queue jobs"])
	})
}

func TestQueueTryEnqueueReportsAFullQueueAndEnqueueWaits(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := started(t, func(*probe) {})
		release := make(chan struct{})
		var got collected[int]
		q, err := sprag.NewQueue(p, func(_ context.Context, n int) error {
			<-release
			got.add(n)
			return nil
		}, sprag.Capacity(2), sprag.Label("jobs"))
		require.NoError(t, err)

		require.NoError(t, q.TryEnqueue(1))
		synctest.Wait() // the worker holds 1
		require.NoError(t, q.TryEnqueue(2))
		require.NoError(t, q.TryEnqueue(3))
		err = q.TryEnqueue(4)
		require.ErrorIs(t, err, sprag.ErrQueueFull)
		assert.Equal(t, `service "svc": queue jobs: sprag: queue full (capacity 2)`, err.Error())

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err = q.Enqueue(ctx, 4)
		require.ErrorIs(t, err, sprag.ErrQueueFull)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start), "it waited for the context")

		st := q.Stats()
		assert.Equal(t, 2, st.Pending)
		assert.Equal(t, int64(1), st.InFlight)
		assert.Equal(t, int64(2), st.Rejected)

		enqueued := make(chan error)
		go func() { enqueued <- q.Enqueue(context.Background(), 4) }()
		synctest.Wait()
		close(release) // room is made: the waiting Enqueue gets in
		require.NoError(t, <-enqueued)
		synctest.Wait()
		assert.Equal(t, []int{1, 2, 3, 4}, got.get(), "one worker takes items in order")
	})
}

func TestQueueHandlerFailuresAreLoggedAndTheWorkerGoesOn(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		var got collected[string]
		q, err := sprag.NewQueue(p, func(_ context.Context, s string) error {
			switch s {
			case "fail":
				return errors.New("no luck")
			case "panic":
				panic("kaput")
			}
			got.add(s)
			return nil
		}, sprag.Label("jobs"))
		require.NoError(t, err)
		for _, s := range []string{"a", "fail", "panic", "b"} {
			require.NoError(t, q.TryEnqueue(s))
		}
		synctest.Wait()

		assert.Equal(t, []string{"a", "b"}, got.get())
		st := q.Stats()
		assert.Equal(t, int64(2), st.Processed)
		assert.Equal(t, int64(2), st.Failed)
		failed := logs.FilterMessage("task failed").All()
		require.Len(t, failed, 1)
		assert.Equal(t, "queue jobs", failed[0].ContextMap()["label"])
		assert.Equal(t, "no luck", failed[0].ContextMap()["error"])
		panicked := logs.FilterMessage("task panicked").All()
		require.Len(t, panicked, 1)
		assert.Contains(t, panicked[0].ContextMap()["stack"], "queue_test.go")
	})
}

func TestQueueStopDrainsWhatWasAccepted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var q *sprag.Queue[int]
		var got collected[int]
		var cancelled atomic.Int32
		p := &probe{onStop: func(context.Context, *probe) error {
			return q.TryEnqueue(99) // OnStop may still enqueue: the drain takes it
		}}
		spragtest.Start(t, "svc", p)
		var err error
		q, err = sprag.NewQueue(p, func(ctx context.Context, n int) error {
			time.Sleep(time.Second)
			if ctx.Err() != nil {
				cancelled.Add(1)
			}
			got.add(n)
			return nil
		}, sprag.Workers(2), sprag.Label("jobs"))
		require.NoError(t, err)
		for i := range 5 {
			require.NoError(t, q.TryEnqueue(i))
		}

		require.NoError(t, stopWithin(p, time.Minute))
		assert.ElementsMatch(t, []int{0, 1, 2, 3, 4, 99}, got.get())
		assert.Zero(t, cancelled.Load(), "handlers' context lives until the stop deadline")
		err = q.TryEnqueue(100)
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Equal(t, `service "svc": queue jobs: sprag: service not running: the queue stopped accepting`, err.Error())
	})
}

func TestQueueHandsWhatItCouldNotProcessToOverflow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := started(t, func(*probe) {})
		var left collected[[]int]
		q, err := sprag.NewQueue(p, func(context.Context, int) error {
			time.Sleep(time.Second)
			return nil
		}, sprag.Label("jobs"), sprag.Overflow(func(_ context.Context, items []int) error {
			left.add(items)
			return nil
		}))
		require.NoError(t, err)
		for i := range 10 {
			require.NoError(t, q.TryEnqueue(i))
		}

		err = stopWithin(p, 3500*time.Millisecond)
		var stuck *sprag.StuckError
		require.ErrorAs(t, err, &stuck, "item 3 is in flight at the deadline")
		assert.Equal(t, []sprag.Activity{{Kind: sprag.KindTask, Label: "queue jobs worker 1"}}, stuck.Running)
		<-p.Done()
		assert.Equal(t, [][]int{{4, 5, 6, 7, 8, 9}}, left.get(), "handed over in order, once")

		time.Sleep(time.Second) // item 3 ends; the worker takes nothing more
		synctest.Wait()
		st := q.Stats()
		assert.Equal(t, int64(4), st.Processed)
		assert.Equal(t, int64(6), st.Overflowed)
		assert.Zero(t, st.Dropped)
	})
}

func TestQueueWithoutOverflowReportsDroppedItems(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		release := make(chan struct{})
		q, err := sprag.NewQueue(p, func(context.Context, int) error {
			<-release
			return nil
		}, sprag.Label("jobs"))
		require.NoError(t, err)
		for i := range 3 {
			require.NoError(t, q.TryEnqueue(i))
		}
		synctest.Wait()

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = p.Stop(ctx) // an expired context: nothing is drained
		require.ErrorIs(t, err, sprag.ErrStillRunning)
		<-p.Done()
		close(release)
		synctest.Wait()

		st := q.Stats()
		assert.Equal(t, int64(1), st.Processed, "the item in flight finishes")
		assert.Equal(t, int64(2), st.Dropped)
		entries := logs.FilterMessage("cleanup failed").All()
		require.Len(t, entries, 1)
		assert.Equal(t, "queue jobs", entries[0].ContextMap()["label"])
		assert.Contains(t, entries[0].ContextMap()["error"], "sprag: queue items dropped at stop: 2 unprocessed")
	})
}

func TestQueueBlockedEnqueueEndsAtStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := started(t, func(*probe) {})
		q, err := sprag.NewQueue(p, func(context.Context, int) error {
			time.Sleep(time.Second)
			return nil
		}, sprag.Capacity(1), sprag.Overflow(func(context.Context, []int) error { return nil }))
		require.NoError(t, err)
		require.NoError(t, q.TryEnqueue(1))
		synctest.Wait()
		require.NoError(t, q.TryEnqueue(2))
		enqueued := make(chan error)
		go func() { enqueued <- q.Enqueue(context.Background(), 3) }()
		synctest.Wait()

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = p.Stop(ctx)
		require.ErrorIs(t, <-enqueued, sprag.ErrNotRunning)
		time.Sleep(time.Second)
		synctest.Wait()
	})
}

func TestQueueAccountsForEveryAcceptedItemUnderLoad(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := started(t, func(*probe) {})
		var handled, overflowed atomic.Int64
		q, err := sprag.NewQueue(p, func(context.Context, int) error {
			time.Sleep(10 * time.Millisecond)
			if handled.Add(1)%7 == 0 {
				return errors.New("every seventh fails")
			}
			return nil
		}, sprag.Workers(4), sprag.Capacity(8), sprag.Overflow(func(_ context.Context, items []int) error {
			overflowed.Add(int64(len(items)))
			return nil
		}))
		require.NoError(t, err)

		var accepted atomic.Int64
		var producers sync.WaitGroup
		for range 8 {
			producers.Go(func() {
				for i := 0; ; i++ {
					err := q.Enqueue(context.Background(), i)
					if errors.Is(err, sprag.ErrNotRunning) {
						return
					}
					if err == nil {
						accepted.Add(1)
					}
				}
			})
		}
		time.Sleep(50 * time.Millisecond)
		_ = stopWithin(p, 5*time.Millisecond) // too short to drain eight items four at a time
		producers.Wait()
		<-p.Done()
		time.Sleep(time.Second)
		synctest.Wait()

		st := q.Stats()
		assert.Positive(t, st.Overflowed)
		assert.Equal(t, accepted.Load(), st.Processed+st.Failed+st.Overflowed, "every accepted item is handled or handed over")
		assert.Equal(t, handled.Load(), st.Processed+st.Failed)
		assert.Equal(t, overflowed.Load(), st.Overflowed)
	})
}

func TestNewQueueRefusesBadInput(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := started(t, func(*probe) {})
		ok := func(context.Context, int) error { return nil }
		tests := []struct {
			name string
			give func() error
			want error
			msg  string
		}{
			{"nil handler", func() error {
				_, err := sprag.NewQueue[int](p, nil, sprag.Label("q"))
				return err
			}, sprag.ErrInvalidArgument, `service "svc": queue q: sprag: invalid argument: nil handler`},
			{"no workers", func() error {
				_, err := sprag.NewQueue(p, ok, sprag.Workers(0), sprag.Label("q"))
				return err
			}, sprag.ErrInvalidArgument, "workers must be positive, got 0"},
			{"no capacity", func() error {
				_, err := sprag.NewQueue(p, ok, sprag.Capacity(-1), sprag.Label("q"))
				return err
			}, sprag.ErrInvalidArgument, "capacity must be positive, got -1"},
			{"overflow of another type", func() error {
				_, err := sprag.NewQueue(p, ok, sprag.Label("q"), sprag.Overflow(func(context.Context, []string) error { return nil }))
				return err
			}, sprag.ErrInvalidArgument, "Overflow takes []string, the queue holds int"},
			{"nil overflow", func() error {
				_, err := sprag.NewQueue(p, ok, sprag.Label("q"), sprag.Overflow[int](nil))
				return err
			}, sprag.ErrInvalidArgument, "nil Overflow function"},
			{"nil service", func() error {
				_, err := sprag.NewQueue[int](nil, ok)
				return err
			}, sprag.ErrInvalidArgument, "new queue: sprag: invalid argument: nil service"},
			{"unbound service", func() error {
				_, err := sprag.NewQueue(&probe{}, ok, sprag.Label("q"))
				return err
			}, sprag.ErrNotRunning, `service "": queue q: sprag: service not running (state created)`},
		}
		for _, tt := range tests {
			err := tt.give()
			require.ErrorIs(t, err, tt.want, tt.name)
			assert.Contains(t, err.Error(), tt.msg, tt.name)
		}

		_, err := sprag.NewQueue(p, ok, sprag.Label("dup"))
		require.NoError(t, err)
		_, err = sprag.NewQueue(p, ok, sprag.Label("dup"))
		require.ErrorIs(t, err, sprag.ErrDuplicateName)

		spragtest.Stop(t, p, time.Second)
		_, err = sprag.NewQueue(p, ok, sprag.Label("late"))
		require.ErrorIs(t, err, sprag.ErrNotRunning)
	})
}

func TestQueueOptionsPrintAsGo(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "Workers(4)", sprag.Workers(4).String())
	assert.Equal(t, "Capacity(10)", sprag.Capacity(10).String())
	assert.Equal(t, "Overflow(func(context.Context, []string) error)",
		sprag.Overflow(func(context.Context, []string) error { return nil }).String())
}

func TestQueueThroughputCoversTheLastMinute(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := started(t, func(*probe) {})
		q, err := sprag.NewQueue(p, func(context.Context, int) error { return nil })
		require.NoError(t, err)
		enqueueEverySecond := func(d time.Duration) {
			for range int(d / time.Second) {
				require.NoError(t, q.TryEnqueue(1))
				time.Sleep(time.Second)
			}
			synctest.Wait()
		}

		enqueueEverySecond(30 * time.Second)
		assert.InDelta(t, 1.0, q.Stats().Throughput, 0.001, "one a second since the start")
		enqueueEverySecond(90 * time.Second)
		assert.InDelta(t, 59.0/60, q.Stats().Throughput, 0.001, "the minute (60s, 120s]: the item at 60s fell out")
		time.Sleep(time.Minute)
		assert.Zero(t, q.Stats().Throughput, "nothing in the last minute")
		for range 30 {
			require.NoError(t, q.TryEnqueue(1))
		}
		synctest.Wait()
		assert.InDelta(t, 0.5, q.Stats().Throughput, 0.001, "thirty in the last minute")
		assert.Equal(t, int64(150), q.Stats().Processed)
	})
}
