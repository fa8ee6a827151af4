package cluster_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// replicaJob is a service that runs one singleton job, as a replica of an
// app would.
type replicaJob struct {
	sprag.Service
	leases cluster.Lease
	fn     cluster.JobFunc
	period time.Duration // 1s when zero
	opts   []cluster.SingletonOption
	job    *cluster.Job
}

func (s *replicaJob) OnStart(context.Context) error {
	period := s.period
	if period == 0 {
		period = time.Second
	}
	j, err := cluster.Singleton(s, s.leases, "report", period, s.fn, s.opts...)
	s.job = j
	return err
}

// runLog records the runs of a job across replicas.
type runLog struct {
	mu   sync.Mutex
	runs []runRecord
}

type runRecord struct {
	replica    string
	run        cluster.Run
	start, end time.Time
	ctxEnd     time.Time // when its context ended, if it did while it ran
}

func (l *runLog) add(r runRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs = append(l.runs, r)
}

func (l *runLog) all() []runRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]runRecord(nil), l.runs...)
}

// quick is a job that returns at once.
func (l *runLog) quick(replica string) cluster.JobFunc {
	return func(ctx context.Context, r cluster.Run) error {
		now := time.Now()
		l.add(runRecord{replica: replica, run: r, start: now, end: now})
		return nil
	}
}

// blocking is a job that runs until its context ends.
func (l *runLog) blocking(replica string) cluster.JobFunc {
	return func(ctx context.Context, r cluster.Run) error {
		start := time.Now()
		<-ctx.Done()
		l.add(runRecord{replica: replica, run: r, start: start, end: time.Now(), ctxEnd: time.Now()})
		return nil
	}
}

// startReplicas starts n replicas of the job in one bubble.
func startReplicas(t *testing.T, leases *clustertest.Leases, fn func(replica string) cluster.JobFunc, opts ...cluster.SingletonOption) []*replicaJob {
	t.Helper()
	var out []*replicaJob
	for _, name := range []string{"a", "b", "c"} {
		s := &replicaJob{leases: leases.For(name), fn: fn(name), opts: opts}
		spragtest.Start(t, name, s)
		out = append(out, s)
	}
	return out
}

// checkOncePerTick asserts that no tick ran twice and that tokens grow
// with ticks.
func checkOncePerTick(t *testing.T, runs []runRecord) {
	t.Helper()
	seen := map[time.Time]string{}
	var last cluster.Run
	for _, r := range runs {
		if other, dup := seen[r.run.Tick]; dup {
			t.Errorf("tick %v ran on %s and on %s", r.run.Tick, other, r.replica)
		}
		seen[r.run.Tick] = r.replica
		if r.run.Tick.After(last.Tick) {
			assert.Greater(t, r.run.Token, last.Token, "fencing tokens grow with ticks")
		}
		last = r.run
	}
}

func TestSingletonRunsEachTickOnceOnTheHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leases := clustertest.NewLeases()
		var log runLog
		replicas := startReplicas(t, leases, log.quick)

		time.Sleep(60 * time.Second)
		synctest.Wait()

		runs := log.all()
		checkOncePerTick(t, runs)
		assert.GreaterOrEqual(t, len(runs), 59, "every tick ran")
		holder := runs[0].replica
		for _, r := range runs {
			assert.Equal(t, holder, r.replica, "the holder keeps the job across ticks")
			assert.Equal(t, time.Duration(0), r.run.Tick.Sub(r.run.Tick.Truncate(time.Second)), "ticks are multiples of the period")
			assert.Equal(t, r.run.Tick, r.start, "the run starts at its tick")
		}
		acquired := int64(0)
		for _, s := range replicas {
			acquired += s.job.Stats().Acquired
		}
		assert.Equal(t, int64(1), acquired, "the lease was taken once")
	})
}

func TestSingletonFailsOverWithinTheTTLAndAPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leases := clustertest.NewLeases()
		var log runLog
		replicas := startReplicas(t, leases, log.quick, cluster.LeaseTTL(5*time.Second))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		holder := leases.Holder("report")
		require.NotEmpty(t, holder)

		// The holder dies at once: it can neither renew nor release.
		killed := time.Now()
		leases.Cut(holder)
		for _, s := range replicas {
			if s.Name() == holder {
				err := s.Stop(context.Background())
				require.ErrorIs(t, err, cluster.ErrDisconnected, "the dead holder could not release its lease")
			}
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()

		runs := log.all()
		checkOncePerTick(t, runs)
		var first *runRecord
		for i, r := range runs {
			if r.start.After(killed) {
				first = &runs[i]
				break
			}
		}
		require.NotNil(t, first, "the job ran again")
		assert.NotEqual(t, holder, first.replica)
		failover := first.start.Sub(killed)
		assert.LessOrEqual(t, failover, 5*time.Second+time.Second, "within the TTL and a period")
		t.Logf("failover after %v", failover)
	})
}

func TestSingletonRunEndsBeforeAnotherReplicaTakesOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leases := clustertest.NewLeases()
		var log runLog
		startReplicas(t, leases, log.blocking, cluster.LeaseTTL(5*time.Second), cluster.LeaseMargin(time.Second))
		time.Sleep(1500 * time.Millisecond) // the first run is in progress
		holder := leases.Holder("report")
		require.NotEmpty(t, holder)

		// The holder is paused, or cut off: its run goes on, its lease
		// cannot be renewed.
		leases.Cut(holder)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		leases.Heal(holder)

		runs := log.all()
		require.GreaterOrEqual(t, len(runs), 2)
		first := runs[0]
		assert.Equal(t, holder, first.replica)
		assert.Equal(t, first.run.Deadline, first.ctxEnd, "the context ends at the run's deadline")
		assert.LessOrEqual(t, first.ctxEnd.Sub(first.start), 4*time.Second, "TTL − margin")
		for _, r := range runs[1:] {
			assert.NotEqual(t, holder, r.replica)
			assert.False(t, r.start.Before(first.end), "another replica starts only after the paused run ended: %v < %v", r.start, first.end)
		}
	})
}

func TestSingletonLostLeaseEndsTheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leases := clustertest.NewLeases()
		var log runLog
		replicas := startReplicas(t, leases, log.blocking, cluster.LeaseTTL(9*time.Second))
		time.Sleep(1500 * time.Millisecond)
		holder := leases.Holder("report")
		require.NotEmpty(t, holder)

		revoked := time.Now()
		leases.Revoke("report")
		time.Sleep(4 * time.Second)
		synctest.Wait()

		runs := log.all()
		require.NotEmpty(t, runs)
		assert.Equal(t, holder, runs[0].replica)
		assert.LessOrEqual(t, runs[0].ctxEnd.Sub(revoked), 3*time.Second, "found lost at the next renewal, a third of the TTL")
		assert.True(t, runs[0].ctxEnd.Before(runs[0].run.Deadline))
		for _, s := range replicas {
			if s.Name() == holder {
				assert.Equal(t, int64(1), s.job.Stats().Lost, "the holder counts the lease it lost")
			}
		}
	})
}

func TestSingletonStopReleasesTheLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leases := clustertest.NewLeases()
		var log runLog
		replicas := startReplicas(t, leases, log.quick, cluster.LeaseTTL(30*time.Second))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		holder := leases.Holder("report")
		for _, s := range replicas {
			if s.Name() == holder {
				spragtest.Stop(t, s, time.Second) // a graceful stop
			}
		}
		stopped := time.Now()
		time.Sleep(5 * time.Second)
		synctest.Wait()

		for _, r := range log.all() {
			if r.start.After(stopped) {
				assert.LessOrEqual(t, r.start.Sub(stopped), time.Second, "the next tick runs elsewhere, without waiting for the TTL")
				return
			}
		}
		t.Fatal("the job did not run after its holder stopped")
	})
}

func TestSingletonCutOffReplicaRunsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leases := clustertest.NewLeases()
		var log runLog
		for _, name := range []string{"a", "b", "c"} {
			leases.Cut(name)
		}
		replicas := startReplicas(t, leases, log.quick)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Empty(t, log.all(), "no tick runs without the engine")
		for _, s := range replicas {
			assert.Positive(t, s.job.Stats().Skipped)
		}
	})
}

func TestSingletonJobStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		leases := clustertest.NewLeases()
		var log runLog
		s := &replicaJob{leases: leases.For("a"), fn: log.quick("a")}
		spragtest.Start(t, "a", s)
		time.Sleep(3500 * time.Millisecond)
		require.NoError(t, s.job.Stop(context.Background()))
		require.NoError(t, s.job.Stop(context.Background()), "stopping twice does nothing")
		n := len(log.all())
		assert.Empty(t, leases.Holder("report"), "the lease is released")
		time.Sleep(5 * time.Second)
		synctest.Wait()
		assert.Len(t, log.all(), n, "no tick after Stop")
	})
}

func TestSingletonRefusesBadArguments(t *testing.T) {
	leases := clustertest.NewLeases().For("a")
	fn := func(context.Context, cluster.Run) error { return nil }
	tests := []struct {
		name   string
		leases cluster.Lease
		job    string
		period time.Duration
		fn     cluster.JobFunc
		opts   []cluster.SingletonOption
	}{
		{name: "nil leases", job: "j", period: time.Second, fn: fn},
		{name: "nil fn", leases: leases, job: "j", period: time.Second},
		{name: "bad name", leases: leases, job: "a.b", period: time.Second, fn: fn},
		{name: "short period", leases: leases, job: "j", period: time.Millisecond, fn: fn},
		{name: "fractional TTL", leases: leases, job: "j", period: time.Second, fn: fn, opts: []cluster.SingletonOption{cluster.LeaseTTL(2500 * time.Millisecond)}},
		{name: "short TTL", leases: leases, job: "j", period: time.Second, fn: fn, opts: []cluster.SingletonOption{cluster.LeaseTTL(time.Second)}},
		{name: "margin over TTL", leases: leases, job: "j", period: time.Second, fn: fn, opts: []cluster.SingletonOption{cluster.LeaseMargin(time.Minute)}},
		{name: "margin equal to the TTL", leases: leases, job: "j", period: time.Second, fn: fn, opts: []cluster.SingletonOption{cluster.LeaseTTL(5 * time.Second), cluster.LeaseMargin(5 * time.Second)}},
		{name: "negative margin", leases: leases, job: "j", period: time.Second, fn: fn, opts: []cluster.SingletonOption{cluster.LeaseMargin(-time.Second)}},
		{name: "short tick record", leases: leases, job: "j", period: time.Minute, fn: fn, opts: []cluster.SingletonOption{cluster.TickRecord(time.Second)}},
	}
	_, err := cluster.Singleton((*replicaJob)(nil), leases, "j", time.Second, fn)
	require.ErrorIs(t, err, sprag.ErrInvalidArgument, "a nil service")
	_, err = cluster.Singleton(nil, leases, "j", time.Second, fn)
	require.ErrorIs(t, err, sprag.ErrInvalidArgument, "a nil interface")
	svc := &replicaJob{leases: leases, fn: fn}
	spragtest.Start(t, "svc", svc)
	_, err = cluster.Singleton(wrapped{svc}, leases, "j", time.Second, fn)
	require.ErrorIs(t, err, sprag.ErrInvalidArgument, "a service that does not embed sprag.Service")
	assert.Contains(t, err.Error(), `"j"`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cluster.Singleton(svc, tt.leases, tt.job, tt.period, tt.fn, tt.opts...)
			require.ErrorIs(t, err, sprag.ErrInvalidArgument)
			assert.Contains(t, err.Error(), `"`+tt.job+`"`, "the error names the job")
		})
	}
}

func TestSingletonOptionsSayTheirPackage(t *testing.T) {
	assert.Equal(t, "cluster.LeaseTTL(5s)", cluster.LeaseTTL(5*time.Second).String())
	assert.Equal(t, "cluster.LeaseMargin(1s)", cluster.LeaseMargin(time.Second).String())
	assert.Equal(t, "cluster.TickRecord(1m0s)", cluster.TickRecord(time.Minute).String())
	assert.Equal(t, `cluster.JobLabel("x")`, cluster.JobLabel("x").String())
}

// wrapped is a sprag.Interface that does not embed sprag.Service, and so
// lacks the managed methods Singleton needs.
type wrapped struct{ sprag.Interface }

func TestSingletonRefusesAServiceThatDoesNotRun(t *testing.T) {
	leases := clustertest.NewLeases().For("a")
	fn := func(context.Context, cluster.Run) error { return nil }

	bound := &plain{}
	require.NoError(t, sprag.Bind(bound, "bound", sprag.NewRuntime(nil)))
	_, err := cluster.Singleton(bound, leases, "j", time.Second, fn)
	require.ErrorIs(t, err, sprag.ErrNotRunning, "before it starts")
	assert.Contains(t, err.Error(), `"j"`, "the error names the job")

	stopped := &plain{}
	spragtest.Start(t, "stopped", stopped)
	require.NoError(t, stopped.Stop(context.Background()))
	_, err = cluster.Singleton(stopped, leases, "j", time.Second, fn)
	require.ErrorIs(t, err, sprag.ErrNotRunning, "once it stopped")
}

// keeps records the keep of every Claim made through it.
type keeps struct {
	cluster.Lease
	mu   sync.Mutex
	seen []time.Duration
}

func (k *keeps) Claim(ctx context.Context, name string, tick time.Time, keep time.Duration) (uint64, error) {
	k.mu.Lock()
	k.seen = append(k.seen, keep)
	k.mu.Unlock()
	return k.Lease.Claim(ctx, name, tick, keep)
}

func (k *keeps) all() []time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]time.Duration(nil), k.seen...)
}

// TestSingletonDefaultsFollowTheirOptions: the default margin is a fifth
// of the TTL, at least 1s; the default tick record twice the period, at
// least 30s; and a zero option means the default.
func TestSingletonDefaultsFollowTheirOptions(t *testing.T) {
	tests := []struct {
		name         string
		period       time.Duration
		opts         []cluster.SingletonOption
		wantDeadline time.Duration // from the tick: TTL − margin
		wantKeep     time.Duration
	}{
		{name: "defaults", period: time.Second, wantDeadline: 8 * time.Second, wantKeep: 30 * time.Second},
		{name: "zero options", period: time.Second, opts: []cluster.SingletonOption{cluster.LeaseTTL(20 * time.Second), cluster.LeaseMargin(0), cluster.TickRecord(0)},
			wantDeadline: 16 * time.Second, wantKeep: 30 * time.Second},
		{name: "at least 1s of margin", period: 20 * time.Second, opts: []cluster.SingletonOption{cluster.LeaseTTL(2 * time.Second)},
			wantDeadline: time.Second, wantKeep: 40 * time.Second},
		{name: "set", period: time.Second, opts: []cluster.SingletonOption{cluster.LeaseTTL(3 * time.Second), cluster.LeaseMargin(500 * time.Millisecond), cluster.TickRecord(5 * time.Second)},
			wantDeadline: 2500 * time.Millisecond, wantKeep: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := &keeps{Lease: clustertest.NewLeases().For("a")}
				var log runLog
				s := &replicaJob{leases: k, fn: log.quick("a"), period: tt.period, opts: tt.opts}
				spragtest.Start(t, "a", s)
				time.Sleep(tt.period + time.Second)
				synctest.Wait()
				runs := log.all()
				require.NotEmpty(t, runs)
				assert.Equal(t, tt.wantDeadline, runs[0].run.Deadline.Sub(runs[0].run.Tick))
				assert.Equal(t, tt.wantKeep, k.all()[0])
			})
		})
	}
}
