package queue_test

// Tests with extreme sizes whose documented behaviour holds.

import (
	"context"
	"errors"
	"math"
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

// TestEdgeQueueRefusesTheMostNegativeCounts: counts that are not
// positive, down to math.MinInt, are ErrInvalidArgument naming the
// service and the queue.
func TestEdgeQueueRefusesTheMostNegativeCounts(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		handle := func(context.Context, int) error { return nil }
		for _, opt := range []queue.Option{
			queue.Workers(0), queue.Workers(-1), queue.Workers(math.MinInt),
			queue.Capacity(0), queue.Capacity(-1), queue.Capacity(math.MinInt),
		} {
			q, err := queue.New(p, handle, opt, queue.Label("jobs"))
			require.ErrorIs(t, err, sprag.ErrInvalidArgument, opt.String())
			assert.Contains(t, err.Error(), `service "svc": queue jobs`, opt.String())
			assert.Nil(t, q)
		}
		assert.Empty(t, p.Status(context.Background()).Details, "nothing was created")
	})
}

// TestEdgeQueueOfOneSlotAndManyWorkersStoppedWithAnEndedContext: a queue
// with room for one item and 256 workers whose handlers always fail,
// stopped with a context that has already ended while many producers
// race to enqueue, still accounts for every accepted item: handled,
// failed or dropped.
func TestEdgeQueueOfOneSlotAndManyWorkersStoppedWithAnEndedContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		q, err := queue.New(p, func(context.Context, int) error {
			time.Sleep(time.Millisecond)
			return errors.New("always")
		}, queue.Workers(256), queue.Capacity(1))
		require.NoError(t, err)

		var accepted atomic.Int64
		var producers sync.WaitGroup
		for g := range 32 {
			producers.Go(func() {
				for i := 0; ; i++ {
					var err error
					if (g+i)%2 == 0 {
						err = q.TryEnqueue(i)
					} else {
						err = q.Enqueue(context.Background(), i)
					}
					switch {
					case err == nil:
						accepted.Add(1)
					case errors.Is(err, sprag.ErrNotRunning):
						return
					case !errors.Is(err, queue.ErrFull):
						t.Errorf("enqueue: %v", err) // not require: this is not the test's goroutine
						return
					default:
						time.Sleep(time.Microsecond)
					}
				}
			})
		}
		time.Sleep(10 * time.Millisecond)
		ended, cancel := context.WithCancel(context.Background())
		cancel()
		_ = p.Stop(ended)
		producers.Wait()
		<-p.Done()

		st := q.Stats()
		assert.Positive(t, accepted.Load())
		assert.Zero(t, st.Processed)
		assert.Equal(t, accepted.Load(), st.Failed+st.Dropped, "every accepted item is handled or counted as dropped")
		assert.Zero(t, st.InFlight)
	})
}

// Counts above MaxWorkers or MaxCapacity are refused, naming the bound;
// the bounds themselves are accepted.
func TestEdgeQueueCountsAboveTheirMaximum(t *testing.T) {
	t.Parallel()
	sc := sprag.NewScope("svc", sprag.NewRuntime(nil))
	defer func() { _ = sc.Close(context.Background()) }()
	handler := func(context.Context, struct{}) error { return nil } // a buffer of empty items costs no memory
	_, err := queue.New(sc, handler, queue.Workers(queue.MaxWorkers+1), queue.Label("w"))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
	require.ErrorContains(t, err, "at most 65536")
	_, err = queue.New(sc, handler, queue.Capacity(queue.MaxCapacity+1), queue.Label("c"))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
	require.ErrorContains(t, err, "at most 16777216")
	_, err = queue.New(sc, handler, queue.Workers(64), queue.Capacity(queue.MaxCapacity), queue.Label("max"))
	require.NoError(t, err)
}
