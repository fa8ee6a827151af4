package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/spragtest"
)

// store is a Backend kept in memory, as another process's queue would be:
// it holds up to capacity items, hands them out in order, records every
// done result, and gives back what it holds locally at Drain.
type store struct {
	mu       sync.Mutex
	items    []int
	capacity int
	results  map[int]error // the done result of each item
	drained  int           // Drain calls
	local    []int         // what Drain returns
	pullErr  []error       // errors Pull returns first, one each
	room     chan struct{} // signalled when an item leaves
	arrived  chan struct{} // signalled when an item arrives
}

func newStore(capacity int) *store {
	return &store{capacity: capacity, results: map[int]error{}, room: make(chan struct{}, 1), arrived: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (s *store) TryPush(item int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.items) >= s.capacity {
		return fmt.Errorf("store: %w", queue.ErrFull)
	}
	s.items = append(s.items, item)
	signal(s.arrived)
	return nil
}

func (s *store) Push(ctx context.Context, item int) error {
	for {
		err := s.TryPush(item)
		if !errors.Is(err, queue.ErrFull) {
			return err
		}
		select {
		case <-s.room:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", err, ctx.Err())
		}
	}
}

func (s *store) Pull(ctx context.Context) (int, func(error), error) {
	for {
		s.mu.Lock()
		if len(s.pullErr) > 0 {
			err := s.pullErr[0]
			s.pullErr = s.pullErr[1:]
			s.mu.Unlock()
			return 0, nil, err
		}
		if len(s.items) > 0 {
			item := s.items[0]
			s.items = s.items[1:]
			s.mu.Unlock()
			signal(s.room)
			return item, func(err error) {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.results[item] = err
			}, nil
		}
		s.mu.Unlock()
		select {
		case <-s.arrived:
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
}

func (s *store) Drain(context.Context) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drained++
	return s.local
}

func (s *store) result(item int) (error, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err, ok := s.results[item]
	return err, ok
}

func TestQueueBackedByAStoreHandsEachItemToAWorkerAndReportsTheResult(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		s := newStore(10)
		q, err := queue.New(p, func(_ context.Context, n int) error {
			switch n {
			case 2:
				return errors.New("bad item")
			case 3:
				panic("worse")
			}
			return nil
		}, queue.Workers(2), queue.Label("jobs"), queue.BackedBy[int](s))
		require.NoError(t, err)

		for i := range 3 {
			require.NoError(t, q.TryEnqueue(i))
		}
		require.NoError(t, q.Enqueue(context.Background(), 3))
		synctest.Wait()

		for _, n := range []int{0, 1} {
			err, ok := s.result(n)
			require.True(t, ok, "item %d is done", n)
			require.NoError(t, err, "item %d succeeded", n)
		}
		err2, _ := s.result(2)
		require.EqualError(t, err2, "bad item", "the handler's error goes to done")
		err3, _ := s.result(3)
		var pe *sprag.PanicError
		require.ErrorAs(t, err3, &pe, "a panic goes to done as a *sprag.PanicError")

		st := q.Stats()
		assert.Equal(t, int64(2), st.Processed)
		assert.Equal(t, int64(2), st.Failed)
		assert.Zero(t, st.Capacity, "Capacity is the backend's")
		assert.Zero(t, st.Pending)
	})
}

func TestQueueBackedByAFullStore(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		s := newStore(1)
		gate := make(chan struct{})
		q, err := queue.New(p, func(ctx context.Context, _ int) error {
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}, queue.Label("jobs"), queue.BackedBy[int](s))
		require.NoError(t, err)
		require.NoError(t, q.TryEnqueue(1)) // taken by the worker
		synctest.Wait()
		require.NoError(t, q.TryEnqueue(2)) // fills the store

		err = q.TryEnqueue(3)
		require.ErrorIs(t, err, queue.ErrFull)
		assert.Contains(t, err.Error(), `service "svc": queue jobs:`)

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err = q.Enqueue(ctx, 3)
		require.ErrorIs(t, err, queue.ErrFull)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, int64(2), q.Stats().Rejected)

		waited := make(chan error, 1)
		go func() { waited <- q.Enqueue(context.Background(), 4) }()
		synctest.Wait()
		gate <- struct{}{} // item 1 ends; the worker takes item 2: room for item 4
		require.NoError(t, <-waited)

		blocked := make(chan error, 1)
		go func() { blocked <- q.Enqueue(context.Background(), 5) }()
		synctest.Wait()
		_ = stopWithin(p, time.Second) // item 2 is cut at the deadline
		require.ErrorIs(t, <-blocked, sprag.ErrNotRunning, "a stop lets a waiting push go")
		require.ErrorIs(t, q.TryEnqueue(6), sprag.ErrNotRunning)
	})
}

func TestQueueBackedByAStoreStopsPullingAtStopAndOverflowsWhatDrainGives(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		s := newStore(10)
		s.local = []int{7, 8}
		var left spragtest.Collector[[]int]
		q, err := queue.New(p, func(context.Context, int) error {
			time.Sleep(time.Second)
			return nil
		}, queue.Label("jobs"), queue.BackedBy[int](s), queue.Overflow(func(_ context.Context, items []int) error {
			left.Add(items)
			return nil
		}))
		require.NoError(t, err)
		for i := range 3 {
			require.NoError(t, q.TryEnqueue(i))
		}
		synctest.Wait() // item 0 is in flight

		require.NoError(t, stopWithin(p, 5*time.Second))
		<-p.Done()
		_, done := s.result(0)
		assert.True(t, done, "the item in flight finished")
		s.mu.Lock()
		assert.Equal(t, []int{1, 2}, s.items, "the rest stays in the store, for other consumers")
		assert.Equal(t, 1, s.drained, "Drain is called once")
		s.mu.Unlock()
		assert.Equal(t, [][]int{{7, 8}}, left.All(), "what Drain gives goes to Overflow")
		st := q.Stats()
		assert.Equal(t, int64(1), st.Processed)
		assert.Equal(t, int64(2), st.Overflowed)
	})
}

func TestQueueBackedByAStoreHandsBackWhatTheDeadlineCut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		s := newStore(10)
		q, err := queue.New(p, func(ctx context.Context, _ int) error {
			<-ctx.Done()
			return ctx.Err()
		}, queue.Label("jobs"), queue.BackedBy[int](s))
		require.NoError(t, err)
		require.NoError(t, q.TryEnqueue(1))
		synctest.Wait()

		_ = stopWithin(p, time.Second) // the handler returns at the deadline, as Stop does
		<-p.Done()
		err, ok := s.result(1)
		require.True(t, ok)
		require.ErrorIs(t, err, queue.ErrHandedBack, "the backend may give it to another consumer at once")
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestQueueBackedByAStoreRetriesPullsThatFail(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &spragtest.Probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		s := newStore(10)
		flaky := errors.New("engine unreachable")
		s.pullErr = []error{flaky, flaky, flaky}
		var got spragtest.Collector[int]
		start := time.Now()
		var at time.Duration
		q, err := queue.New(p, func(_ context.Context, n int) error {
			at = time.Since(start)
			got.Add(n)
			return nil
		}, queue.Label("jobs"), queue.BackedBy[int](s))
		require.NoError(t, err)
		require.NoError(t, q.TryEnqueue(1))
		time.Sleep(time.Second)
		synctest.Wait()

		assert.Equal(t, []int{1}, got.All())
		assert.Equal(t, 700*time.Millisecond, at, "paused 100, 200 and 400ms after the three failures")
		failed := logs.FilterMessage("queue failed").All()
		require.Len(t, failed, 1, "the first failure in a row is logged")
		assert.Contains(t, failed[0].ContextMap()["error"], "pull (failure 1 in a row, retried): engine unreachable")

		// A longer outage: the pause stops growing at 5s, and the 20th
		// failure in a row is logged too.
		s.mu.Lock()
		for range 21 {
			s.pullErr = append(s.pullErr, flaky)
		}
		s.mu.Unlock()
		start, at = time.Now(), 0
		require.NoError(t, q.TryEnqueue(3)) // the worker wakes into the outage
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		assert.Equal(t, []int{1, 3}, got.All())
		assert.Equal(t, 6300*time.Millisecond+15*5*time.Second, at, "100ms doubling up to 3.2s, then 5s fifteen times")
		failed = logs.FilterMessage("queue failed").All()
		require.Len(t, failed, 3, "failures 1 and 20 of the second outage are logged")
		assert.Contains(t, failed[2].ContextMap()["error"], "pull (failure 20 in a row, retried)")

		s.mu.Lock()
		s.pullErr = []error{fmt.Errorf("store: %w", sprag.ErrNotRunning)}
		s.mu.Unlock()
		require.NoError(t, q.TryEnqueue(2)) // wakes the worker, which finds the store stopped
		synctest.Wait()
		assert.Equal(t, []int{1, 3}, got.All(), "a stopped backend ends the worker")
		assert.Len(t, logs.FilterMessage("queue failed").All(), 4)
	})
}

// broken is a Backend whose every method panics.
type broken struct{}

func (broken) Push(context.Context, int) error                { panic("push") }
func (broken) TryPush(int) error                              { panic("try push") }
func (broken) Pull(context.Context) (int, func(error), error) { panic("pull") }
func (broken) Drain(context.Context) []int                    { panic("drain") }

func TestQueueBackedByAPanickingBackendReturnsErrors(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &spragtest.Probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		q, err := queue.New(p, func(context.Context, int) error { return nil }, queue.Label("jobs"), queue.BackedBy[int](broken{}))
		require.NoError(t, err)
		var pe *sprag.PanicError
		require.ErrorAs(t, q.TryEnqueue(1), &pe)
		require.ErrorAs(t, q.Enqueue(context.Background(), 1), &pe)
		time.Sleep(time.Second)
		synctest.Wait()
		require.NoError(t, stopWithin(p, time.Second))
		<-p.Done()
		assert.NotEmpty(t, logs.FilterMessage("queue panicked").All(), "the panics of Pull and Drain are logged")
	})
}

func TestQueueBackedByRefusesBadInput(t *testing.T) {
	t.Parallel()
	p := spragtest.Started(t, "svc", nil)
	handler := func(context.Context, int) error { return nil }
	var nilStore *store
	for name, opt := range map[string]queue.Option{
		"another item type": queue.BackedBy[string](nil),
		"a nil backend":     queue.BackedBy[int](nil),
		"a nil pointer":     queue.BackedBy[int](nilStore),
	} {
		_, err := queue.New(p, handler, queue.Label("jobs"), opt)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument, name)
		assert.Contains(t, err.Error(), "jobs", name)
	}
	assert.Equal(t, "queue.BackedBy(*queue_test.store)", queue.BackedBy[int](newStore(1)).String())
}
