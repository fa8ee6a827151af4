package cluster_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// streamMsgs returns how many messages stream holds now.
func streamMsgs(t *testing.T, url, stream string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := engine(t, url).Stream(ctx, stream)
	require.NoError(t, err)
	return s.CachedInfo().State.Msgs
}

// TestStressQueuePushesWhileTheNodeStops: Push and TryPush from many
// goroutines while the node stops. Each returns nil, or fails with
// sprag.ErrNotRunning (TryPush may also see the connection go:
// ErrDisconnected); every push that returned nil is stored and counted
// (queue.go:184-190, 235-239, 96), and once the node has stopped every
// push fails at once.
func TestStressQueuePushesWhileTheNodeStops(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	q, err := cluster.NewQueue[int](ctx, n, "jobs")
	require.NoError(t, err)
	var ok atomic.Int64
	var mu sync.Mutex
	var bad []error
	started := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				if i == 10 {
					started <- struct{}{}
				}
				var err error
				if i%2 == 0 {
					err = q.TryPush(g*1000 + i) //nolint:contextcheck // TryPush takes no context: it bounds itself with PublishTimeout
				} else {
					pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					err = q.Push(pctx, g*1000+i)
					cancel()
				}
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, sprag.ErrNotRunning), i%2 == 0 && errors.Is(err, cluster.ErrDisconnected):
				default:
					mu.Lock()
					bad = append(bad, err)
					mu.Unlock()
				}
			}
		})
	}
	for range 8 {
		<-started
	}
	require.NoError(t, n.Stop(ctx))
	after := time.Now()
	require.ErrorIs(t, q.TryPush(1), sprag.ErrNotRunning)
	require.ErrorIs(t, q.Push(ctx, 1), sprag.ErrNotRunning)
	wg.Wait()
	assert.Less(t, time.Since(after), 2*time.Second, "the pushes end with the node")
	assert.Empty(t, bad)
	assert.Equal(t, ok.Load(), q.Stats().Pushed, "Pushed counts the pushes that returned nil")
	assert.GreaterOrEqual(t, streamMsgs(t, srv.URL(), "SPRAG_Q_jobs"), uint64(ok.Load()), "every push that returned nil is stored") //nolint:gosec // a count, never negative
}

// TestStressQueueDoneCalledConcurrently: done called from several
// goroutines at once, with different results: the first call settles the
// item, the others do nothing (queue.go:347-348), so the figures add up.
func TestStressQueueDoneCalledConcurrently(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	q, err := cluster.NewQueue[int](ctx, n, "jobs", cluster.Backoff(time.Minute, time.Minute), cluster.MaxDeliveries(10))
	require.NoError(t, err)
	const items = 40
	for i := range items {
		require.NoError(t, q.Push(ctx, i))
	}
	var wg sync.WaitGroup
	for range items {
		_, done, err := q.Pull(ctx)
		require.NoError(t, err)
		for k := range 4 {
			wg.Go(func() {
				if k%2 == 0 {
					done(nil)
				} else {
					done(errors.New("busy"))
				}
			})
		}
	}
	wg.Wait()
	st := q.Stats()
	assert.Equal(t, int64(items), st.Pulled)
	assert.Zero(t, st.InFlight)
	assert.Equal(t, st.Pulled, st.Acked+st.Retried, "each item settled once: %+v", st)
}

// TestStressQueuePullsWithShortContexts: Pulls whose ctx ends while items
// arrive, from several goroutines: no item is lost or left waiting for
// AckWait (queue.go:76-79); each is handed out once.
func TestStressQueuePullsWithShortContexts(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	q, err := cluster.NewQueue[int](ctx, n, "jobs", cluster.AckWait(time.Minute))
	require.NoError(t, err)
	const items = 60
	var mu sync.Mutex
	got := map[int]int{}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				pctx, cancel := context.WithTimeout(ctx, time.Duration(1+(g+k)%5)*time.Millisecond)
				item, done, err := q.Pull(pctx)
				cancel()
				if err != nil {
					assert.ErrorIs(t, err, context.DeadlineExceeded) //nolint:testifylint // off the test's goroutine, where require cannot stop the test
					continue
				}
				mu.Lock()
				got[item]++
				mu.Unlock()
				done(nil)
			}
		})
	}
	for i := range items {
		require.NoError(t, q.Push(ctx, i))
		if i%10 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	eventually(t, 5*time.Second, func() bool { return count() == items }, "every item is handed out, long before AckWait")
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for i := range items {
		assert.Equal(t, 1, got[i], "item %d handed out once", i)
	}
	assert.Equal(t, int64(items), q.Stats().Acked)
}

// TestStressSingletonStoppedConcurrently: jobs of two replicas, each
// stopped from several goroutines at once while it runs and its Stats
// are read. Stop returns nil every time; once it has returned no run of
// that job begins and the run in progress ends (singleton.go:228-232);
// and the
// runs of a job never overlap across replicas (singleton.go:137).
func TestStressSingletonStoppedConcurrently(t *testing.T) {
	leases := clustertest.NewLeases()
	var running, overlaps atomic.Int32
	var after atomic.Bool // a run began after every Stop returned
	var stopped atomic.Int32
	fn := func(ctx context.Context, _ cluster.Run) error {
		if stopped.Load() == 2 {
			after.Store(true)
		}
		if running.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer running.Add(-1)
		select {
		case <-time.After(30 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	}
	var jobs []*replicaJob
	for _, name := range []string{"a", "b"} {
		s := &replicaJob{leases: leases.For(name), period: 100 * time.Millisecond, fn: fn,
			opts: []cluster.SingletonOption{cluster.LeaseTTL(2 * time.Second)}}
		spragtest.Start(t, name, s)
		jobs = append(jobs, s)
	}
	eventually(t, 5*time.Second, func() bool { return jobs[0].job.Stats().Runs+jobs[1].job.Stats().Runs >= 3 }, "the job runs")
	done := make(chan struct{})
	var rwg sync.WaitGroup
	rwg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				_ = jobs[0].job.Stats()
				_ = jobs[1].job.Stats()
			}
		}
	})
	var wg sync.WaitGroup
	for _, s := range jobs {
		for range 4 {
			wg.Go(func() { assert.NoError(t, s.job.Stop(context.Background())) })
		}
		time.Sleep(150 * time.Millisecond) // the other replica takes over meanwhile
	}
	wg.Wait()
	stopped.Store(2)
	// Stop ends the run's context; it does not wait for the run.
	eventually(t, 2*time.Second, func() bool { return running.Load() == 0 }, "the run in progress ends")
	runs := jobs[0].job.Stats().Runs + jobs[1].job.Stats().Runs
	holds(t, 400*time.Millisecond, func() bool {
		return jobs[0].job.Stats().Runs+jobs[1].job.Stats().Runs == runs && !after.Load()
	}, "no run begins once every Stop returned")
	close(done)
	rwg.Wait()
	assert.Zero(t, overlaps.Load(), "runs never overlap")
	assert.False(t, jobs[0].job.Stats().Holder || jobs[1].job.Stats().Holder, "the lease is released")
}
