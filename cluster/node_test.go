package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

func TestNodeRunsAnEmbeddedServer(t *testing.T) {
	dir := t.TempDir()
	n, err := cluster.New(cluster.DataDir(dir), cluster.Replica("solo"), atLeastOnce())
	require.NoError(t, err)
	rt := spragtest.Start(t, "cluster", n)
	require.NoError(t, n.Health(context.Background()))
	assert.True(t, n.Stats().Connected)
	assert.Equal(t, "solo", n.ReplicaName())
	require.NotNil(t, n.Conn())
	info, err := n.JetStream().AccountInfo(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, info.Streams, "the events and dead-letter streams")

	var got received
	got.listen(t, rt.Bus, nil)
	emit(context.Background(), t, rt, 1)
	assert.Equal(t, 1, got.len(), "the local listener ran")
	eventually(t, 5*time.Second, func() bool { return n.Stats().Suppressed == 1 }, "the copy from the stream is skipped")

	g, err := n.Leases().Acquire(context.Background(), "job", 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "solo", g.Holder)
	require.NoError(t, n.Stop(context.Background()))
	assert.DirExists(t, dir+"/jetstream", "the data lives where the app chose")
}

func TestNodeEmbeddedDataSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	start := func() *cluster.Node {
		n, err := cluster.New(cluster.DataDir(dir), cluster.Replica("solo"))
		require.NoError(t, err)
		spragtest.Start(t, "cluster", n)
		return n
	}
	n := start()
	_, err := n.Leases().Acquire(context.Background(), "job", 60*time.Second)
	require.NoError(t, err)
	require.NoError(t, n.Stop(context.Background()))
	n = start()
	_, err = n.Leases().Acquire(context.Background(), "job", 60*time.Second)
	require.ErrorIs(t, err, cluster.ErrLeaseHeld, "the lease was kept on disk")
}

func TestNewRefusesBadOptions(t *testing.T) {
	url := cluster.URL("nats://127.0.0.1:4222")
	tests := []struct {
		name string
		give []cluster.Option
		want string
	}{
		{name: "no server", give: nil, want: "cluster.DataDir"},
		{name: "bad replica", give: []cluster.Option{url, cluster.Replica("a.b")}, want: `cluster.Replica("a.b")`},
		{name: "bad prefix", give: []cluster.Option{url, cluster.Prefix("a b")}, want: `cluster.Prefix("a b")`},
		{name: "stream replicas", give: []cluster.Option{url, cluster.StreamReplicas(0)}, want: "cluster.StreamReplicas(0)"},
		{name: "nil codec", give: []cluster.Option{url, cluster.WithCodec(nil)}, want: "cluster.WithCodec(nil)"},
		{name: "negative buffer", give: []cluster.Option{url, cluster.PublishBuffer(-1)}, want: "cluster.PublishBuffer(-1)"},
		{name: "publish timeout", give: []cluster.Option{url, cluster.PublishTimeout(0)}, want: "cluster.PublishTimeout(0s)"},
		{name: "dedup window", give: []cluster.Option{url, cluster.DedupWindow(0)}, want: "cluster.DedupWindow(0s)"},
		{name: "retention", give: []cluster.Option{url, cluster.Retention(time.Second, time.Hour)}, want: "cluster.Retention(1s, 1h0m0s)"},
		{name: "bad topic", give: []cluster.Option{url, cluster.Distribute[any]("a::b", cluster.AtMostOnce())}, want: `"a::b"`},
		{name: "no guarantee", give: []cluster.Option{url, cluster.Distribute[any]("a", cluster.Guarantee{})}, want: `"a"`},
		{name: "shared at most once", give: []cluster.Option{url, cluster.Distribute[any]("a", cluster.Guarantee{Mode: cluster.ModeAtMostOnce, Group: "g"})}, want: "shared"},
		{name: "max deliveries", give: []cluster.Option{url, cluster.Distribute[any]("a", cluster.AtLeastOnce(cluster.MaxDeliveries(0)))}, want: "MaxDeliveries"},
		{name: "backoff", give: []cluster.Option{url, cluster.Distribute[any]("a", cluster.AtLeastOnce(cluster.Backoff(time.Minute, time.Second)))}, want: "Backoff"},
		{name: "ack wait", give: []cluster.Option{url, cluster.Distribute[any]("a", cluster.AtLeastOnce(cluster.AckWait(time.Millisecond)))}, want: "AckWait"},
		{name: "bad group", give: []cluster.Option{url, cluster.Distribute[any]("a", cluster.AtLeastOnce(cluster.Shared("a.b")))}, want: `"a.b"`},
		{name: "overlap", give: []cluster.Option{url,
			cluster.Distribute[any]("order:*", cluster.AtMostOnce()),
			cluster.Distribute[any]("order:completed", cluster.AtLeastOnce())}, want: `"order:*" and "order:completed" overlap`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cluster.New(tt.give...)
			require.ErrorIs(t, err, sprag.ErrInvalidArgument)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestNodeFailsToStartWithoutAServer(t *testing.T) {
	n, err := cluster.New(cluster.URL("nats://127.0.0.1:1"), cluster.Replica("a"))
	require.NoError(t, err)
	require.NoError(t, sprag.Bind(n, "cluster", sprag.NewRuntime(nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = n.Start(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nats://127.0.0.1:1")
}

func TestOptionsSayTheirPackage(t *testing.T) {
	tests := []struct {
		give fmtStringer
		want string
	}{
		{give: cluster.URL("nats://a:4222", "nats://b:4222"), want: `cluster.URL("nats://a:4222", "nats://b:4222")`},
		{give: cluster.DataDir("/var/lib/app"), want: `cluster.DataDir("/var/lib/app")`},
		{give: cluster.SyncAlways(), want: "cluster.SyncAlways()"},
		{give: cluster.Replica("a"), want: `cluster.Replica("a")`},
		{give: cluster.Prefix("app"), want: `cluster.Prefix("app")`},
		{give: cluster.StreamReplicas(3), want: "cluster.StreamReplicas(3)"},
		{give: cluster.WithCodec(cluster.JSON()), want: "cluster.WithCodec(json)"},
		{give: cluster.PublishBuffer(10), want: "cluster.PublishBuffer(10)"},
		{give: cluster.PublishTimeout(time.Second), want: "cluster.PublishTimeout(1s)"},
		{give: cluster.DedupWindow(time.Minute), want: "cluster.DedupWindow(1m0s)"},
		{give: cluster.Retention(time.Hour, time.Hour), want: "cluster.Retention(1h0m0s, 1h0m0s)"},
		{give: cluster.NATSOptions(), want: "cluster.NATSOptions(0 options)"},
		{give: cluster.Distribute[Order]("order:*", cluster.AtMostOnce()), want: `cluster.Distribute[cluster_test.Order]("order:*", cluster.AtMostOnce())`},
		{give: cluster.DistributeTopic(orderCompleted, cluster.AtLeastOnce(cluster.Shared("g"))),
			want: `cluster.Distribute[cluster_test.Order]("order:completed", cluster.AtLeastOnce(cluster.MaxDeliveries(5), cluster.Backoff(1s, 1m0s), cluster.AckWait(30s), cluster.Shared("g")))`},
		{give: cluster.Shared("g"), want: `cluster.Shared("g")`},
		{give: cluster.MaxDeliveries(3), want: "cluster.MaxDeliveries(3)"},
		{give: cluster.Backoff(time.Second, time.Minute), want: "cluster.Backoff(1s, 1m0s)"},
		{give: cluster.AckWait(time.Second), want: "cluster.AckWait(1s)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.give.String())
	}
	assert.Equal(t, "at-least-once", cluster.ModeAtLeastOnce.String())
	assert.Equal(t, "at-most-once", cluster.ModeAtMostOnce.String())
}

type fmtStringer interface{ String() string }

func TestSingletonOnNATS(t *testing.T) {
	srv := clustertest.StartServer(t)
	var log runLog
	var jobs []*replicaJob
	for _, name := range []string{"a", "b", "c"} {
		n, _ := startNode(t, srv.URL(), name)
		s := &replicaJob{leases: n.Leases(), fn: log.quick(name), opts: []cluster.SingletonOption{cluster.LeaseTTL(2 * time.Second)}}
		spragtest.Start(t, name+"-job", s)
		jobs = append(jobs, s)
	}
	eventually(t, 10*time.Second, func() bool { return len(log.all()) >= 4 }, "the job runs")
	checkOncePerTick(t, log.all())
	holder := log.all()[0].replica
	for _, r := range log.all() {
		assert.Equal(t, holder, r.replica)
	}
	var stopped time.Time
	for _, s := range jobs {
		if s.leases != nil && s.job.Stats().Holder {
			require.NoError(t, s.Stop(context.Background()))
			stopped = time.Now()
		}
	}
	require.False(t, stopped.IsZero(), "a replica holds the lease")
	eventually(t, 5*time.Second, func() bool {
		runs := log.all()
		return runs[len(runs)-1].replica != holder
	}, "another replica runs the job after a graceful stop")
	checkOncePerTick(t, log.all())
}

func TestDeadLetterStreamHoldsQueueAndEventLetters(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a", atLeastOnce())
	s, err := n.JetStream().Stream(context.Background(), "SPRAG_DEAD")
	require.NoError(t, err)
	assert.Equal(t, []string{"sprag.dead.>"}, s.CachedInfo().Config.Subjects)
	assert.Equal(t, jetstream.LimitsPolicy, s.CachedInfo().Config.Retention)
}
