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

	"go.opentelemetry.io/otel/attribute"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/internal/oteltest"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/spragtest"
)

// mailer has a handler with a name.
type mailer struct{}

func (*mailer) send(context.Context, string) error { return nil }

func TestQueueDefaults(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		q, err := queue.New(p, (&mailer{}).send)
		require.NoError(t, err)
		assert.Equal(t, "(*mailer).send", q.Label(), "the handler's name")
		st := q.Stats()
		assert.Equal(t, 1, st.Workers, "one worker by default")
		assert.Equal(t, 100, st.Capacity, "room for 100 by default")
		assert.Equal(t, st, p.Status(context.Background()).Details["queue (*mailer).send"])
	})
}

func TestQueueOneWorkerByDefaultAndCapacityBoundsTheItemsWaiting(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		var running, peak atomic.Int32
		release := make(chan struct{})
		q, err := queue.New(p, func(context.Context, int) error {
			r := running.Add(1)
			defer running.Add(-1)
			if r > peak.Load() {
				peak.Store(r)
			}
			<-release
			return nil
		}, queue.Label("jobs"))
		require.NoError(t, err)
		accepted := 0
		for i := range 150 {
			if q.TryEnqueue(i) == nil {
				accepted++
			}
			synctest.Wait() // the worker takes the first item
		}
		assert.Equal(t, 101, accepted, "one in the worker, 100 waiting")
		assert.Equal(t, int64(49), q.Stats().Rejected)
		assert.Equal(t, 100, q.Stats().Pending)
		close(release)
		synctest.Wait()
		assert.Equal(t, int32(1), peak.Load(), "one worker")
		assert.Equal(t, int64(101), q.Stats().Processed)
	})
}

func TestQueueEnqueueWrapsTheContextsErrorAndItsCause(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		release := make(chan struct{})
		defer close(release)
		q, err := queue.New(p, func(context.Context, int) error {
			<-release
			return nil
		}, queue.Capacity(1), queue.Label("jobs"))
		require.NoError(t, err)
		require.NoError(t, q.TryEnqueue(1))
		synctest.Wait() // the worker holds 1
		require.NoError(t, q.TryEnqueue(2))

		shutdown := errors.New("shutting down")
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(time.Second, func() { cancel(shutdown) })
		err = q.Enqueue(ctx, 3)
		require.ErrorIs(t, err, queue.ErrFull)
		require.ErrorIs(t, err, context.Canceled, "the context's error")
		require.ErrorIs(t, err, shutdown, "and its cause")
		assert.Contains(t, err.Error(), `service "svc": queue jobs: queue: full`)

		ctx, cancelTimeout := context.WithTimeoutCause(context.Background(), time.Second, shutdown)
		defer cancelTimeout()
		err = q.Enqueue(ctx, 3)
		require.ErrorIs(t, err, queue.ErrFull)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorIs(t, err, shutdown)
		assert.Equal(t, int64(2), q.Stats().Rejected)
	})
}

type ctxKey struct{}

func TestQueueOverflowGetsStopsContextAndItsFailuresAreLogged(t *testing.T) {
	t.Parallel()
	for name, overflow := range map[string]func() error{
		"error": func() error { return errors.New("disk full") },
		"panic": func() error { panic("kaput") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				rt, logs := spragtest.ObservedRuntime(t)
				p := &spragtest.Probe{}
				spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
				var got spragtest.Collector[any]
				q, err := queue.New(p, func(ctx context.Context, _ int) error {
					<-ctx.Done()
					return ctx.Err()
				}, queue.Label("jobs"), queue.Overflow(func(ctx context.Context, items []int) error {
					got.Add(ctx.Value(ctxKey{}))
					return overflow()
				}))
				require.NoError(t, err)
				for i := range 3 {
					require.NoError(t, q.TryEnqueue(i))
				}
				synctest.Wait()

				ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "stop's"), time.Second)
				defer cancel()
				_ = p.Stop(ctx)
				<-p.Done()
				assert.Equal(t, []any{"stop's"}, got.All(), "Overflow runs once, with Stop's context")
				st := q.Stats()
				assert.Equal(t, int64(2), st.Overflowed, "counted, though Overflow failed")
				assert.Equal(t, int64(1), st.Failed, "the item the deadline cut")

				entries := logs.FilterMessage("queue failed").All()
				if name == "panic" {
					entries = logs.FilterMessage("queue panicked").All()
					require.Len(t, entries, 1)
					assert.Contains(t, entries[0].ContextMap()["stack"], "promises_test.go")
				} else {
					require.Len(t, entries, 2, "the handler cut at the deadline, and Overflow")
					entries = entries[1:]
					assert.Equal(t, "disk full", entries[0].ContextMap()["error"])
				}
				assert.Equal(t, "svc", entries[0].ContextMap()["service"])
				assert.Equal(t, "jobs overflow", entries[0].ContextMap()["label"])
			})
		})
	}
}

func TestQueueHandlersContextEndsWhenStopsContextEnds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		ended := make(chan time.Time, 1)
		q, err := queue.New(p, func(ctx context.Context, _ int) error {
			<-ctx.Done()
			ended <- time.Now()
			return ctx.Err()
		}, queue.Label("jobs"))
		require.NoError(t, err)
		require.NoError(t, q.TryEnqueue(1))
		synctest.Wait()

		time.Sleep(time.Hour) // the handler's context does not end while the owner runs
		synctest.Wait()
		assert.Empty(t, ended)
		stopped := time.Now()
		_ = stopWithin(p, 3*time.Second)
		assert.Equal(t, 3*time.Second, (<-ended).Sub(stopped), "at the stop's deadline, not when the stop began")
		<-p.Done()
	})
}

func TestQueueStopWithoutDeadlineDrainsEverything(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		var cut atomic.Int32
		q, err := queue.New(p, func(ctx context.Context, _ int) error {
			time.Sleep(time.Hour)
			if ctx.Err() != nil {
				cut.Add(1)
			}
			return nil
		}, queue.Workers(2), queue.Capacity(50), queue.Label("jobs"))
		require.NoError(t, err)
		for i := range 50 {
			require.NoError(t, q.TryEnqueue(i))
		}

		require.NoError(t, p.Stop(context.Background()))
		<-p.Done()
		st := q.Stats()
		assert.Equal(t, int64(50), st.Processed, "the drain lasts until the queue is empty")
		assert.Zero(t, st.Overflowed+st.Dropped)
		assert.Zero(t, cut.Load(), "the handlers' context never ended")
	})
}

func TestQueueAccountsForEveryAcceptedItemWhenItDrops(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &spragtest.Probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		q, err := queue.New(p, func(context.Context, int) error {
			time.Sleep(10 * time.Millisecond)
			return nil
		}, queue.Workers(3), queue.Capacity(16), queue.Label("jobs"))
		require.NoError(t, err)

		var accepted atomic.Int64
		var producers sync.WaitGroup
		for range 6 {
			producers.Go(func() {
				for i := range 1000 {
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
		time.Sleep(55 * time.Millisecond)
		_ = stopWithin(p, 5*time.Millisecond)
		producers.Wait()
		<-p.Done()

		st := q.Stats()
		assert.Positive(t, st.Dropped)
		assert.Equal(t, accepted.Load(), st.Processed+st.Failed+st.Dropped, "handled + dropped = accepted")
		entries := logs.FilterMessage("queue failed").All()
		require.Len(t, entries, 1, "one report of the items dropped")
		assert.Equal(t, "jobs", entries[0].ContextMap()["label"])
		assert.Contains(t, entries[0].ContextMap()["error"], queue.ErrDropped.Error())
	})
}

func TestQueueErrorsNameTheQueue(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		early := &spragtest.Probe{}
		require.NoError(t, sprag.Bind(early, "early", spragtest.Runtime(t)))
		_, err := queue.New(early, (&mailer{}).send, queue.Label("emails"))
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		err = early.Start(context.Background())
		require.ErrorIs(t, err, sprag.ErrNotRunning, "a queue made before the start makes the start fail")
		assert.Contains(t, err.Error(), "queue emails called before Start")

		p := spragtest.Started(t, "svc", nil)
		_, err = queue.New(p, (&mailer{}).send, queue.Label("emails"), queue.Workers(-2))
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		assert.Equal(t, `service "svc": queue emails: sprag: invalid argument: workers must be positive and at most 65536, got -2`, err.Error())
		_, err = queue.New(p, (&mailer{}).send, queue.Label("emails"), queue.Capacity(0))
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		assert.Equal(t, `service "svc": queue emails: sprag: invalid argument: capacity must be positive and at most 16777216, got 0`, err.Error())
		assert.Empty(t, p.Status(context.Background()).Details, "a refused queue leaves nothing behind")

		spragtest.Stop(t, p, time.Second)
		_, err = queue.New(p, (&mailer{}).send, queue.Label("emails"))
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Equal(t, `service "svc": queue emails: sprag: service not running (stopped)`, err.Error())
	})
}

func TestQueueAllOptionsPrintAsGo(t *testing.T) {
	t.Parallel()
	for want, opt := range map[string]queue.Option{
		`queue.Label("emails")`:                              queue.Label("emails"),
		"queue.Workers(4)":                                   queue.Workers(4),
		"queue.Capacity(1000)":                               queue.Capacity(1000),
		"queue.Overflow(func(context.Context, []int) error)": queue.Overflow(func(context.Context, []int) error { return nil }),
	} {
		assert.Equal(t, want, opt.String())
	}
}

func TestQueueMetricsKeepTheItemsLeftAtStop(t *testing.T) {
	t.Parallel()
	for _, withOverflow := range []bool{false, true} {
		name := map[bool]string{false: "dropped", true: "overflowed"}[withOverflow]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				tel := oteltest.New()
				defer tel.Shutdown()
				p := &spragtest.Probe{}
				spragtest.Start(t, "mailer", p, spragtest.WithRuntime(tel.Runtime))
				opts := []queue.Option{queue.Label("emails")}
				if withOverflow {
					opts = append(opts, queue.Overflow(func(context.Context, []int) error { return nil }))
				}
				q, err := queue.New(p, func(ctx context.Context, _ int) error {
					time.Sleep(time.Second)
					return nil
				}, opts...)
				require.NoError(t, err)
				attrs := []attribute.KeyValue{attribute.String("sprag.service", "mailer"), attribute.String("sprag.queue", "emails")}
				v, ok, err := tel.Int64("sprag.queue."+name, attrs...)
				require.NoError(t, err)
				assert.True(t, ok, "reported while the queue runs")
				assert.Zero(t, v)
				for i := range 5 {
					require.NoError(t, q.TryEnqueue(i))
				}
				_ = stopWithin(p, 1500*time.Millisecond)
				<-p.Done()

				v, ok, err = tel.Int64("sprag.queue."+name, attrs...)
				require.NoError(t, err)
				require.True(t, ok, "the items left at stop are counted after the stop")
				assert.Equal(t, int64(3), v, "items 2, 3 and 4")
			})
		})
	}
}
