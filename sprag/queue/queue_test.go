package queue_test

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

	"fmt"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/internal/oteltest"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/spragtest"
	"go.opentelemetry.io/otel/attribute"
)

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
		p := spragtest.Started(t, "svc", nil)
		var got spragtest.Collector[int]
		var running, peak atomic.Int32
		q, err := queue.New(p, func(_ context.Context, n int) error {
			r := running.Add(1)
			for {
				old := peak.Load()
				if r <= old || peak.CompareAndSwap(old, r) {
					break
				}
			}
			time.Sleep(time.Second)
			running.Add(-1)
			got.Add(n)
			return nil
		}, queue.Workers(3), queue.Capacity(10), queue.Label("jobs"))
		require.NoError(t, err)
		assert.Equal(t, "jobs", q.Label())

		for i := range 9 {
			require.NoError(t, q.TryEnqueue(i))
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()

		assert.ElementsMatch(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}, got.All())
		assert.Equal(t, int32(3), peak.Load(), "three workers at once")
		want := queue.Stats{Workers: 3, Capacity: 10, Processed: 9, Throughput: 3}
		assert.Equal(t, want, q.Stats(), "nine items in three seconds")
		st := p.Status(context.Background())
		assert.True(t, st.Healthy)
		assert.Equal(t, want, st.Details["queue jobs"])
	})
}

func TestQueueTryEnqueueReportsAFullQueueAndEnqueueWaits(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		release := make(chan struct{})
		var got spragtest.Collector[int]
		q, err := queue.New(p, func(_ context.Context, n int) error {
			<-release
			got.Add(n)
			return nil
		}, queue.Capacity(2), queue.Label("jobs"))
		require.NoError(t, err)

		require.NoError(t, q.TryEnqueue(1))
		synctest.Wait() // the worker holds 1
		require.NoError(t, q.TryEnqueue(2))
		require.NoError(t, q.TryEnqueue(3))
		err = q.TryEnqueue(4)
		require.ErrorIs(t, err, queue.ErrFull)
		assert.Equal(t, `service "svc": queue jobs: queue: full (capacity 2)`, err.Error())

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err = q.Enqueue(ctx, 4)
		require.ErrorIs(t, err, queue.ErrFull)
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
		assert.Equal(t, []int{1, 2, 3, 4}, got.All(), "one worker takes items in order")
	})
}

func TestQueueHandlerFailuresAreLoggedAndTheWorkerGoesOn(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &spragtest.Probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		var got spragtest.Collector[string]
		q, err := queue.New(p, func(_ context.Context, s string) error {
			switch s {
			case "fail":
				return errors.New("no luck")
			case "panic":
				panic("kaput")
			}
			got.Add(s)
			return nil
		}, queue.Label("jobs"))
		require.NoError(t, err)
		for _, s := range []string{"a", "fail", "panic", "b"} {
			require.NoError(t, q.TryEnqueue(s))
		}
		synctest.Wait()

		assert.Equal(t, []string{"a", "b"}, got.All())
		st := q.Stats()
		assert.Equal(t, int64(2), st.Processed)
		assert.Equal(t, int64(2), st.Failed)
		failed := logs.FilterMessage("queue failed").All()
		require.Len(t, failed, 1)
		assert.Equal(t, "jobs", failed[0].ContextMap()["label"])
		assert.Equal(t, "no luck", failed[0].ContextMap()["error"])
		panicked := logs.FilterMessage("queue panicked").All()
		require.Len(t, panicked, 1)
		assert.Contains(t, panicked[0].ContextMap()["stack"], "queue_test.go")
	})
}

func TestQueueStopDrainsWhatWasAccepted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var q *queue.Queue[int]
		var got spragtest.Collector[int]
		var cancelled atomic.Int32
		p := &spragtest.Probe{OnStopFunc: func(context.Context, *spragtest.Probe) error {
			return q.TryEnqueue(99) // OnStop may still enqueue: the drain takes it
		}}
		spragtest.Start(t, "svc", p)
		var err error
		q, err = queue.New(p, func(ctx context.Context, n int) error {
			time.Sleep(time.Second)
			if ctx.Err() != nil {
				cancelled.Add(1)
			}
			got.Add(n)
			return nil
		}, queue.Workers(2), queue.Label("jobs"))
		require.NoError(t, err)
		for i := range 5 {
			require.NoError(t, q.TryEnqueue(i))
		}

		require.NoError(t, stopWithin(p, time.Minute))
		assert.ElementsMatch(t, []int{0, 1, 2, 3, 4, 99}, got.All())
		assert.Zero(t, cancelled.Load(), "handlers' context lives until the stop deadline")
		err = q.TryEnqueue(100)
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Equal(t, `service "svc": queue jobs: sprag: service not running: the queue stopped accepting`, err.Error())
	})
}

func TestQueueHandsWhatItCouldNotProcessToOverflow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		var left spragtest.Collector[[]int]
		q, err := queue.New(p, func(context.Context, int) error {
			time.Sleep(time.Second)
			return nil
		}, queue.Label("jobs"), queue.Overflow(func(_ context.Context, items []int) error {
			left.Add(items)
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
		assert.Equal(t, [][]int{{4, 5, 6, 7, 8, 9}}, left.All(), "handed over in order, once")

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
		p := &spragtest.Probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		release := make(chan struct{})
		q, err := queue.New(p, func(context.Context, int) error {
			<-release
			return nil
		}, queue.Label("jobs"))
		require.NoError(t, err)
		for i := range 3 {
			require.NoError(t, q.TryEnqueue(i))
		}
		synctest.Wait()

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = p.Stop(ctx) // an expired context: nothing is drained
		require.ErrorIs(t, err, sprag.ErrStillRunning)
		synctest.Wait()
		select {
		case <-p.Done():
			t.Fatal("Done closed while a handler runs")
		default:
		}
		assert.Zero(t, q.Stats().Dropped, "nothing is handed over while a handler runs")
		close(release)
		<-p.Done()

		st := q.Stats()
		assert.Equal(t, int64(1), st.Processed, "the item in flight finishes")
		assert.Equal(t, int64(2), st.Dropped)
		entries := logs.FilterMessage("queue failed").All()
		require.Len(t, entries, 1)
		assert.Equal(t, "jobs", entries[0].ContextMap()["label"])
		assert.Contains(t, entries[0].ContextMap()["error"], "queue: items dropped at stop: 2 unprocessed")
	})
}

func TestQueueBlockedEnqueueEndsAtStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		q, err := queue.New(p, func(context.Context, int) error {
			time.Sleep(time.Second)
			return nil
		}, queue.Capacity(1), queue.Overflow(func(context.Context, []int) error { return nil }))
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
		p := spragtest.Started(t, "svc", nil)
		var handled, overflowed atomic.Int64
		q, err := queue.New(p, func(context.Context, int) error {
			time.Sleep(10 * time.Millisecond)
			if handled.Add(1)%7 == 0 {
				return errors.New("every seventh fails")
			}
			return nil
		}, queue.Workers(4), queue.Capacity(8), queue.Overflow(func(_ context.Context, items []int) error {
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
		p := spragtest.Started(t, "svc", nil)
		ok := func(context.Context, int) error { return nil }
		tests := []struct {
			name string
			give func() error
			want error
			msg  string
		}{
			{"nil handler", func() error {
				_, err := queue.New[int](p, nil, queue.Label("q"))
				return err
			}, sprag.ErrInvalidArgument, `service "svc": queue q: sprag: invalid argument: nil handler`},
			{"no workers", func() error {
				_, err := queue.New(p, ok, queue.Workers(0), queue.Label("q"))
				return err
			}, sprag.ErrInvalidArgument, "workers must be positive and at most 65536, got 0"},
			{"no capacity", func() error {
				_, err := queue.New(p, ok, queue.Capacity(-1), queue.Label("q"))
				return err
			}, sprag.ErrInvalidArgument, "capacity must be positive and at most 16777216, got -1"},
			{"overflow of another type", func() error {
				_, err := queue.New(p, ok, queue.Label("q"), queue.Overflow(func(context.Context, []string) error { return nil }))
				return err
			}, sprag.ErrInvalidArgument, "Overflow takes []string, the queue holds int"},
			{"nil overflow", func() error {
				_, err := queue.New(p, ok, queue.Label("q"), queue.Overflow[int](nil))
				return err
			}, sprag.ErrInvalidArgument, "nil Overflow function"},
			{"nil service", func() error {
				_, err := queue.New[int](nil, ok)
				return err
			}, sprag.ErrInvalidArgument, "new queue: sprag: invalid argument: nil owner"},
			{"unbound service", func() error {
				_, err := queue.New(&spragtest.Probe{}, ok, queue.Label("q"))
				return err
			}, sprag.ErrNotRunning, `queue q called before Start, at queue/queue_test.go:`},
		}
		for _, tt := range tests {
			err := tt.give()
			require.ErrorIs(t, err, tt.want, tt.name)
			assert.Contains(t, err.Error(), tt.msg, tt.name)
		}

		_, err := queue.New(p, ok, queue.Label("dup"))
		require.NoError(t, err)
		_, err = queue.New(p, ok, queue.Label("dup"))
		require.ErrorIs(t, err, sprag.ErrDuplicateName)

		spragtest.Stop(t, p, time.Second)
		_, err = queue.New(p, ok, queue.Label("late"))
		require.ErrorIs(t, err, sprag.ErrNotRunning)
	})
}

func TestQueueOptionsPrintAsGo(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "queue.Workers(4)", queue.Workers(4).String())
	assert.Equal(t, "queue.Capacity(10)", queue.Capacity(10).String())
	assert.Equal(t, "queue.Overflow(func(context.Context, []string) error)",
		queue.Overflow(func(context.Context, []string) error { return nil }).String())
}

func TestQueueThroughputCoversTheLastMinute(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		q, err := queue.New(p, func(context.Context, int) error { return nil })
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
		assert.InDelta(t, 59.0/59.5, q.Stats().Throughput, 0.001, "since the sample at 60.5s: the items at 61s to 119s")
		time.Sleep(time.Minute)
		assert.Zero(t, q.Stats().Throughput, "nothing in the last minute")
		for range 30 {
			require.NoError(t, q.TryEnqueue(1))
		}
		synctest.Wait()
		assert.InDelta(t, 30/59.5, q.Stats().Throughput, 0.001, "thirty since the sample at 120.5s")
		assert.Equal(t, int64(150), q.Stats().Processed)
	})
}

func TestQueueOverflowNeverOverlapsAHandlerAndDoneWaitsForHandlers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var (
			inHandler, handled, overflowed atomic.Int64
			overlapped                     atomic.Bool
		)
		p := spragtest.Started(t, "svc", nil)
		q, err := queue.New(p, func(context.Context, int) error {
			inHandler.Add(1)
			defer inHandler.Add(-1)
			time.Sleep(3 * time.Millisecond) // ignores its context
			handled.Add(1)
			return nil
		}, queue.Workers(2), queue.Capacity(500), queue.Overflow(func(_ context.Context, items []int) error {
			if inHandler.Load() != 0 {
				overlapped.Store(true)
			}
			overflowed.Add(int64(len(items)))
			return nil
		}))
		require.NoError(t, err)
		accepted := 0
		for i := range 500 {
			if q.TryEnqueue(i) == nil {
				accepted++
			}
		}
		require.Equal(t, 500, accepted)

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_ = p.Stop(ctx)
		<-p.Done()
		assert.Zero(t, inHandler.Load(), "no handler runs once Done is closed")
		assert.False(t, overlapped.Load(), "Overflow ran while a handler ran")
		assert.Equal(t, int64(accepted), handled.Load()+overflowed.Load(), "handled + overflowed = accepted")
		assert.Positive(t, overflowed.Load())
	})
}

func TestStopFromAQueueHandler(t *testing.T) {
	t.Parallel()
	for _, deadline := range []bool{false, true} {
		t.Run(fmt.Sprintf("deadline %v", deadline), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				p := spragtest.Started(t, "svc", nil)
				stopErr := make(chan error, 1)
				q, err := queue.New(p, func(handlerCtx context.Context, _ int) error {
					ctx := context.WithoutCancel(handlerCtx)
					if deadline {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, time.Minute)
						defer cancel()
					}
					stopErr <- p.Stop(ctx)
					time.Sleep(time.Second) // the handler goes on after Stop returned
					return nil
				})
				require.NoError(t, err)
				require.NoError(t, q.TryEnqueue(1))
				require.NoError(t, <-stopErr, "Stop returns, and does not name its caller as stuck")
				assert.Equal(t, sprag.Stopping, p.State())
				<-p.Done()
				assert.Equal(t, sprag.Stopped, p.State())
				assert.Equal(t, int64(1), q.Stats().Processed)
			})
		})
	}
}

func TestQueueFiguresAreMetrics(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tel := oteltest.New()
		defer tel.Shutdown()
		p := &spragtest.Probe{}
		spragtest.Start(t, "mailer", p, spragtest.WithRuntime(tel.Runtime))
		release := make(chan struct{})
		q, err := queue.New(p, func(_ context.Context, n int) error {
			<-release
			if n == 2 {
				return errors.New("bounced")
			}
			return nil
		}, queue.Label("emails"), queue.Capacity(10))
		require.NoError(t, err)
		for i := range 4 {
			require.NoError(t, q.TryEnqueue(i))
		}
		synctest.Wait()
		attrs := []attribute.KeyValue{attribute.String("sprag.service", "mailer"), attribute.String("sprag.queue", "emails")}
		depth, ok, err := tel.Int64("sprag.queue.depth", attrs...)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, int64(3), depth, "one item in the handler, three waiting")

		close(release)
		synctest.Wait()
		handled, _, _ := tel.Int64("sprag.queue.handled", attrs...)
		failed, _, _ := tel.Int64("sprag.queue.failed", attrs...)
		depth, _, _ = tel.Int64("sprag.queue.depth", attrs...)
		assert.Equal(t, int64(3), handled)
		assert.Equal(t, int64(1), failed)
		assert.Zero(t, depth)
	})
}
