package cluster_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// TestNATSOptionsAddToWhatTheNodeSets: NATSOptions adds client options,
// a name among them, and the node overrides only its handlers and
// reconnection.
func TestNATSOptionsAddToWhatTheNodeSets(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a", cluster.NATSOptions(nats.Name("billing a"), nats.MaxReconnects(3), nats.PingInterval(7*time.Second)))
	opts := n.Conn().Opts
	assert.Equal(t, "billing a", opts.Name, "a name given with NATSOptions is the connection's")
	assert.Equal(t, 7*time.Second, opts.PingInterval, "an option the node does not set is kept")
	assert.Equal(t, -1, opts.MaxReconnect, "the node reconnects forever, whatever the options say")
	require.NoError(t, n.Health(context.Background()))
}

// TestDistributeTopicRefusesANilTopic: a nil topic is bad input, refused
// by New with an error, never a panic.
func TestDistributeTopicRefusesANilTopic(t *testing.T) {
	var topic *eventbus.Topic[Order]
	var opt cluster.Option
	require.NotPanics(t, func() { opt = cluster.DistributeTopic(topic, cluster.AtMostOnce()) })
	assert.NotEmpty(t, opt.String())
	_, err := cluster.New(cluster.URL("nats://127.0.0.1:4222"), opt)
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "cluster.DistributeTopic")
	assert.Contains(t, err.Error(), "nil topic")
}

// TestNodeBeforeItStarts: a node that has not started holds no
// connection, has no figures, and is named by default after its host.
func TestNodeBeforeItStarts(t *testing.T) {
	n, err := cluster.New(cluster.URL("nats://127.0.0.1:1"))
	require.NoError(t, err)
	assert.Nil(t, n.Conn(), "no connection before the node runs")
	assert.Nil(t, n.JetStream(), "no JetStream handle before the node runs")
	assert.Equal(t, cluster.Stats{}, n.Stats())
	require.NoError(t, n.StopDelivering(context.Background()), "nothing to stop")

	host, err := os.Hostname()
	require.NoError(t, err)
	valid := regexp.MustCompile(`[^A-Za-z0-9_-]`).ReplaceAllString(host, "-")
	name := n.ReplicaName()
	assert.Regexp(t, `^[A-Za-z0-9_-]+$`, name, "the default name is a valid replica name")
	assert.True(t, strings.HasPrefix(name, valid+"-") && len(name) > len(valid)+1, "%q is the host name %q and a suffix", name, host)
	other, err := cluster.New(cluster.URL("nats://127.0.0.1:1"))
	require.NoError(t, err)
	assert.NotEqual(t, name, other.ReplicaName(), "the suffix is random")
}

// TestURLListsSeveralServersAndOverridesDataDir: URL takes several
// servers, as arguments or comma-separated, and connects to one that
// answers; DataDir is ignored when a URL is given.
func TestURLListsSeveralServersAndOverridesDataDir(t *testing.T) {
	srv := clustertest.StartServer(t)
	dir := t.TempDir()
	dead := "nats://127.0.0.1:1"
	a, _ := startNode(t, dead+","+srv.URL(), "a", cluster.DataDir(dir), atLeastOnce())
	n, err := cluster.New(cluster.URL(dead, srv.URL()), cluster.Replica("b"))
	require.NoError(t, err)
	spragtest.Start(t, "b", n, spragtest.StopTimeout(20*time.Second))
	for _, node := range []*cluster.Node{a, n} {
		require.NoError(t, node.Health(context.Background()))
		assert.Equal(t, srv.URL(), node.Conn().ConnectedUrl(), "%s connects to the server that answers", node.ReplicaName())
	}
	_, err = engine(t, srv.URL()).Stream(context.Background(), "SPRAG_EVENTS")
	require.NoError(t, err, "the streams are on the URL's server")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no embedded server wrote to DataDir")
}

// TestStreamsFollowTheOptions: the streams, consumers and bucket the node
// creates carry the documented defaults, or the options' figures, under
// the node's prefix.
func TestStreamsFollowTheOptions(t *testing.T) {
	srv := clustertest.StartServer(t)
	js := engine(t, srv.URL())
	ctx := context.Background()
	stream := func(name string) jetstream.StreamConfig {
		t.Helper()
		s, err := js.Stream(ctx, name)
		require.NoError(t, err, "stream %s", name)
		return s.CachedInfo().Config
	}
	consumer := func(stream, prefix string) jetstream.ConsumerConfig {
		t.Helper()
		s, err := js.Stream(ctx, stream)
		require.NoError(t, err)
		list := s.ListConsumers(ctx)
		var found *jetstream.ConsumerConfig
		for info := range list.Info() {
			if strings.HasPrefix(info.Name, prefix) {
				found = &info.Config
			}
		}
		require.NoError(t, list.Err())
		require.NotNil(t, found, "a consumer %s… of %s", prefix, stream)
		return *found
	}

	a, _ := startNode(t, srv.URL(), "a", cluster.DistributeTopic(orderCompleted, cluster.AtLeastOnce()))
	_, err := cluster.NewQueue[int](ctx, a, "jobs")
	require.NoError(t, err)
	_, err = a.Leases().Claim(ctx, "job", time.Unix(1700000000, 0), time.Second)
	require.NoError(t, err)

	events := stream("SPRAG_EVENTS")
	assert.Equal(t, []string{"sprag.al.>"}, events.Subjects)
	assert.Equal(t, cluster.DefaultEventsMaxAge, events.MaxAge)
	assert.Equal(t, 24*time.Hour, events.MaxAge)
	assert.Equal(t, 2*time.Minute, events.Duplicates)
	assert.Equal(t, 1, events.Replicas)
	dead := stream("SPRAG_DEAD")
	assert.Equal(t, 7*24*time.Hour, dead.MaxAge)
	fanOut := consumer("SPRAG_EVENTS", "a_")
	assert.Equal(t, 30*time.Second, fanOut.AckWait)
	assert.Equal(t, 24*time.Hour, fanOut.InactiveThreshold, "a fan-out consumer lives as long as the events without its replica")
	assert.Equal(t, "sprag.al.order.completed", fanOut.FilterSubject)
	assert.Equal(t, jetstream.DeliverNewPolicy, fanOut.DeliverPolicy)
	jobs := stream("SPRAG_Q_jobs")
	assert.Equal(t, []string{"sprag.q.jobs"}, jobs.Subjects)
	assert.Equal(t, int64(10000), jobs.MaxMsgs)
	assert.Equal(t, jetstream.WorkQueuePolicy, jobs.Retention)
	assert.Equal(t, jetstream.DiscardNew, jobs.Discard)
	assert.Equal(t, 30*time.Second, consumer("SPRAG_Q_jobs", "workers").AckWait)
	_, err = js.KeyValue(ctx, "SPRAG_LEASES")
	require.NoError(t, err)

	b, _ := startNode(t, srv.URL(), "b", cluster.Prefix("app"), cluster.Retention(48*time.Hour, 72*time.Hour), cluster.DedupWindow(5*time.Minute),
		cluster.DistributeTopic(orderCompleted, cluster.AtLeastOnce(cluster.AckWait(3*time.Second), cluster.Shared("billing"))))
	_, err = cluster.NewQueue[int](ctx, b, "jobs", cluster.Capacity(7), cluster.AckWait(4*time.Second))
	require.NoError(t, err)
	_, err = b.Leases().Claim(ctx, "job", time.Unix(1700000000, 0), time.Second)
	require.NoError(t, err, "another prefix, another bucket: the tick is free there")

	events = stream("APP_EVENTS")
	assert.Equal(t, []string{"app.al.>"}, events.Subjects)
	assert.Equal(t, 48*time.Hour, events.MaxAge)
	assert.Equal(t, 5*time.Minute, events.Duplicates)
	dead = stream("APP_DEAD")
	assert.Equal(t, []string{"app.dead.>"}, dead.Subjects)
	assert.Equal(t, 72*time.Hour, dead.MaxAge)
	group := consumer("APP_EVENTS", "group_billing_")
	assert.Equal(t, 3*time.Second, group.AckWait)
	assert.Equal(t, "app.al.order.completed", group.FilterSubject)
	jobs = stream("APP_Q_jobs")
	assert.Equal(t, []string{"app.q.jobs"}, jobs.Subjects)
	assert.Equal(t, int64(7), jobs.MaxMsgs)
	assert.Equal(t, 4*time.Second, consumer("APP_Q_jobs", "workers").AckWait)
	_, err = js.KeyValue(ctx, "APP_LEASES")
	require.NoError(t, err)
}

// TestPrefixSeparatesAppsOnOneServer: nodes of two prefixes share a
// server without hearing each other's events.
func TestPrefixSeparatesAppsOnOneServer(t *testing.T) {
	srv := clustertest.StartServer(t)
	js := engine(t, srv.URL())
	durable := cluster.DistributeTopic(orderCompleted, cluster.AtLeastOnce(cluster.AckWait(2*time.Second)))
	once := cluster.DistributeTopic(OrderShipped, cluster.AtMostOnce())
	a, rtA := startNode(t, srv.URL(), "a", durable, once)
	_, rtB := startNode(t, srv.URL(), "b", durable, once)
	c, rtC := startNode(t, srv.URL(), "c", durable, once, cluster.Prefix("app"))
	shippedB := spragtest.Record(t, rtB.Bus, "order:shipped")
	shippedC := spragtest.Record(t, rtC.Bus, "order:shipped")
	var gotB, gotC received
	gotB.listen(t, rtB.Bus, nil)
	gotC.listen(t, rtC.Bus, nil)

	emit(context.Background(), t, rtA, 1)
	require.NoError(t, OrderShipped.Emit(context.Background(), rtA.Bus, Order{ID: 1}))
	published(t, a, 2)
	eventually(t, 10*time.Second, func() bool { return gotB.len() == 1 && shippedB.Len() == 1 }, "b, of the same prefix, gets both events")
	assert.Equal(t, uint64(1), settled(t, js, "b").Delivered.Consumer)
	s, err := js.Stream(context.Background(), "APP_EVENTS")
	require.NoError(t, err)
	assert.Zero(t, s.CachedInfo().State.Msgs, "the other app's stream holds nothing")
	// A marker published under c's prefix after the server has a's event:
	// c's connection gets what matches in the server's order, so once the
	// marker is there, a's event would have been too.
	require.NoError(t, a.Conn().Flush())
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.Publish("app.ev.json.x.order.shipped", []byte(`{"id":2}`)))
	eventually(t, 10*time.Second, func() bool { return shippedC.Len() == 1 }, "c gets the marker of its own prefix")
	assert.Equal(t, Order{ID: 2}, shippedC.Payloads()[0], "only the marker")
	assert.Zero(t, gotC.len(), "c, of another prefix, hears nothing")
	// c counts the marker once its listeners have returned, which may be
	// after the test saw it.
	eventually(t, 5*time.Second, func() bool { return c.Stats().Delivered == 1 }, "c counts the marker")
	assert.Equal(t, int64(1), c.Stats().Delivered)
}
