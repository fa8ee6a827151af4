package cluster_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/spragtest"
)

// TestSingletonRunsNeverOverlap: a run longer than the period is not
// overlapped by the next: the ticks it overran are skipped, and the next
// run starts at the first tick after it.
func TestSingletonRunsNeverOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log runLog
		s := &replicaJob{leases: clustertest.NewLeases().For("a"), fn: func(ctx context.Context, r cluster.Run) error {
			start := time.Now()
			select {
			case <-time.After(2500 * time.Millisecond):
			case <-ctx.Done():
			}
			log.add(runRecord{replica: "a", run: r, start: start, end: time.Now()})
			return nil
		}}
		spragtest.Start(t, "a", s)
		time.Sleep(20 * time.Second)
		synctest.Wait()

		runs := log.all()
		require.GreaterOrEqual(t, len(runs), 5)
		for i, r := range runs {
			assert.Equal(t, r.run.Tick, r.start, "run %d starts at its tick", i)
			if i == 0 {
				continue
			}
			prev := runs[i-1]
			assert.False(t, r.start.Before(prev.end), "run %d starts after run %d ended", i, i-1)
			assert.Equal(t, 3*time.Second, r.run.Tick.Sub(prev.run.Tick), "the ticks run %d overran are skipped", i-1)
		}
	})
}

// TestSingletonKeepsTickingAfterAnErrorOrAPanic: an error or a panic of
// the job is logged by the service under the job's label, and the job
// keeps ticking.
func TestSingletonKeepsTickingAfterAnErrorOrAPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		var n atomic.Int32
		s := &replicaJob{leases: clustertest.NewLeases().For("a"), opts: []cluster.SingletonOption{cluster.JobLabel("nightly")},
			fn: func(context.Context, cluster.Run) error {
				switch n.Add(1) {
				case 1:
					return errors.New("report failed")
				case 2:
					panic("report bug")
				}
				return nil
			}}
		spragtest.Start(t, "a", s, spragtest.WithRuntime(rt))
		time.Sleep(5500 * time.Millisecond)
		synctest.Wait()

		assert.Equal(t, int32(5), n.Load(), "the job ran at every tick")
		var logged []string
		for _, e := range logs.All() {
			if e.ContextMap()["label"] == "nightly" && e.ContextMap()["error"] != nil {
				logged = append(logged, e.ContextMap()["error"].(string))
			}
		}
		require.Len(t, logged, 2, "the failure and the panic are logged with the job's label: %v", logs.All())
		assert.Contains(t, logged[0], "report failed")
		assert.Contains(t, logged[1], "report bug")
		assert.Equal(t, int64(5), s.job.Stats().Runs)
	})
}

// TestSingletonJobStopEndsTheRunInProgress: Stop ends the context of the
// run in progress at once, and releases the lease.
func TestSingletonJobStopEndsTheRunInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leases := clustertest.NewLeases()
		var log runLog
		s := &replicaJob{leases: leases.For("a"), fn: log.blocking("a")}
		spragtest.Start(t, "a", s)
		time.Sleep(1500 * time.Millisecond) // the run of the first tick is in progress
		require.Equal(t, "a", leases.Holder("report"))
		stopped := time.Now()
		require.NoError(t, s.job.Stop(context.Background()))
		synctest.Wait()

		runs := log.all()
		require.Len(t, runs, 1)
		assert.Equal(t, stopped, runs[0].ctxEnd, "the run's context ended at the stop")
		assert.True(t, runs[0].ctxEnd.Before(runs[0].run.Deadline))
		assert.Empty(t, leases.Holder("report"), "the lease is released")
		assert.False(t, s.job.Stats().Holder)
	})
}

// TestSingletonRunsOnlyTheTicksItClaims: the holder runs a tick only if
// its claim creates the tick's record; a tick claimed before is not run
// and is counted as taken.
func TestSingletonRunsOnlyTheTicksItClaims(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leases := clustertest.NewLeases()
		var log runLog
		s := &replicaJob{leases: leases.For("a"), fn: log.quick("a")}
		spragtest.Start(t, "a", s)
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		claimed := map[time.Time]bool{}
		for k := 1; k <= 3; k++ {
			tick := time.Now().Truncate(time.Second).Add(time.Duration(k) * time.Second)
			_, err := leases.For("x").Claim(context.Background(), "report", tick, time.Minute)
			require.NoError(t, err)
			claimed[tick] = true
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()

		ran := 0
		for _, r := range log.all() {
			assert.False(t, claimed[r.run.Tick], "tick %v, claimed by another, ran on a", r.run.Tick)
			ran++
		}
		assert.Equal(t, 8-3, ran, "the ticks nobody else claimed ran")
		assert.Equal(t, int64(3), s.job.Stats().Taken)
		assert.True(t, s.job.Stats().Holder, "a kept the lease all along")
	})
}

// TestSingletonOthersSendNoRequestWhileTheHolderRenews: the replicas that
// do not hold the lease watch it renewed, and a tick costs them no
// request.
func TestSingletonOthersSendNoRequestWhileTheHolderRenews(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, _ := startNode(t, srv.URL(), "a")
	b, _ := startNode(t, srv.URL(), "b")
	var log runLog
	opts := []cluster.SingletonOption{cluster.LeaseTTL(2 * time.Second)}
	ja := &replicaJob{leases: a.Leases(), fn: log.quick("a"), period: 100 * time.Millisecond, opts: opts}
	spragtest.Start(t, "a-job", ja)
	eventually(t, 5*time.Second, func() bool { return ja.job.Stats().Holder }, "a takes the lease")
	jb := &replicaJob{leases: b.Leases(), fn: log.quick("b"), period: 100 * time.Millisecond, opts: opts}
	spragtest.Start(t, "b-job", jb)
	eventually(t, 5*time.Second, func() bool {
		holder, _, ok := cluster.LeaseSeen(b, "report")
		return ok && holder == "a" && jb.job.Stats().Skipped > 0
	}, "b watches a hold the lease")

	skipped, sent := jb.job.Stats().Skipped, b.Conn().Stats().OutMsgs
	holds(t, time.Second, func() bool { return b.Conn().Stats().OutMsgs == sent }, "b sends nothing to NATS while a renews")
	assert.GreaterOrEqual(t, jb.job.Stats().Skipped-skipped, int64(5), "b's ticks came and were left to a")
	for _, r := range log.all() {
		assert.Equal(t, "a", r.replica)
	}
	assert.Zero(t, jb.job.Stats().Acquired)
}

// TestLeaseReleasedGrantIsLost: once released, a grant can neither be
// renewed nor released again, and the lease is free.
func TestLeaseReleasedGrantIsLost(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	g, err := a.Leases().Acquire(ctx, "job", 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, cluster.Grant{Name: "job", Holder: "a", Revision: g.Revision}, g)
	require.NoError(t, a.Leases().Release(ctx, g))
	_, err = a.Leases().Renew(ctx, g, 10*time.Second)
	require.ErrorIs(t, err, cluster.ErrLeaseLost)
	assert.Contains(t, err.Error(), `"job"`)
	require.ErrorIs(t, a.Leases().Release(ctx, g), cluster.ErrLeaseLost)
	g2, err := a.Leases().Acquire(ctx, "job", 10*time.Second)
	require.NoError(t, err, "the released lease is free")
	assert.Greater(t, g2.Revision, g.Revision)
}
