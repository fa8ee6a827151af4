package cluster_test

import (
	"context"
	"errors"
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
)

func atMostOnce() cluster.Option {
	return cluster.DistributeTopic(orderCompleted, cluster.AtMostOnce())
}

func atLeastOnce(opts ...cluster.DeliveryOption) cluster.Option {
	opts = append([]cluster.DeliveryOption{cluster.Backoff(50*time.Millisecond, 200*time.Millisecond), cluster.AckWait(2 * time.Second)}, opts...)
	return cluster.DistributeTopic(orderCompleted, cluster.AtLeastOnce(opts...))
}

// replicas starts a node per name on url with opts, each with a listener
// of orderCompleted that fail may make fail.
func replicas(t *testing.T, url string, names []string, fail func(replica string, o Order, n int) error, opts ...cluster.Option) ([]*cluster.Node, []sprag.Runtime, []*received) {
	t.Helper()
	var nodes []*cluster.Node
	var rts []sprag.Runtime
	var got []*received
	for _, name := range names {
		n, rt := startNode(t, url, name, opts...)
		r := &received{}
		var f func(Order, int) error
		if fail != nil {
			f = func(o Order, k int) error { return fail(name, o, k) }
		}
		r.listen(t, rt.Bus, f)
		nodes, rts, got = append(nodes, n), append(rts, rt), append(got, r)
	}
	return nodes, rts, got
}

func emit(ctx context.Context, t testing.TB, rt sprag.Runtime, ids ...int) {
	t.Helper()
	for _, id := range ids {
		require.NoError(t, orderCompleted.Emit(ctx, rt.Bus, Order{ID: id, Item: "book"}))
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// exactlyOnce asserts that r got each of ids once, and nothing else.
func exactlyOnce(t *testing.T, r *received, ids []int, who string) {
	t.Helper()
	want := map[int]int{}
	for _, id := range ids {
		want[id] = 1
	}
	assert.Equal(t, want, r.counts(), "%s got each event exactly once", who)
}

func TestAtMostOnceReachesEveryReplicaOnce(t *testing.T) {
	srv := clustertest.StartServer(t)
	nodes, rts, got := replicas(t, srv.URL(), []string{"a", "b", "c"}, nil, atMostOnce())

	emit(context.Background(), t, rts[0], seq(1, 20)...)
	eventually(t, 10*time.Second, func() bool { return got[1].len() >= 20 && got[2].len() >= 20 }, "b and c get the events")
	time.Sleep(200 * time.Millisecond) // a duplicate would arrive by now
	for i, who := range []string{"a (its own emit, locally)", "b", "c"} {
		exactlyOnce(t, got[i], seq(1, 20), who)
	}
	assert.Equal(t, []Order{{ID: 1, Item: "book"}}, got[1].got()[:1], "decoded into the typed payload")
	assert.Equal(t, int64(20), nodes[0].Stats().Published)
	eventually(t, 5*time.Second, func() bool { return nodes[1].Stats().Delivered == 20 }, "b counts the deliveries")

	origin, remote := cluster.Origin(got[1].ctxs[0])
	assert.True(t, remote)
	assert.Equal(t, "a", origin)
	_, remote = cluster.Origin(got[0].ctxs[0])
	assert.False(t, remote, "a local emit has no remote origin")
}

func TestAtMostOnceDropsWhileDisconnected(t *testing.T) {
	srv := clustertest.StartServer(t)
	proxy := clustertest.NewProxy(t, srv.URL())
	a, rtA := startNode(t, proxy.URL(), "a", atMostOnce())
	_, rtB := startNode(t, srv.URL(), "b", atMostOnce())
	var got received
	got.listen(t, rtB.Bus, nil)

	proxy.Cut()
	eventually(t, 5*time.Second, func() bool { return !a.Stats().Connected }, "a sees the cut")
	require.ErrorIs(t, a.Health(context.Background()), cluster.ErrDisconnected, "health shows the connection's state")
	emit(context.Background(), t, rtA, 1, 2)
	assert.Equal(t, int64(2), a.Stats().Dropped, "dropped and counted, the emitter gets no error")

	proxy.Restore()
	eventually(t, 10*time.Second, func() bool { return a.Stats().Connected }, "a reconnects")
	require.NoError(t, a.Health(context.Background()))
	eventually(t, 5*time.Second, func() bool { return a.Stats().Reconnects >= 1 }, "a counts the reconnect")
	emit(context.Background(), t, rtA, 3)
	eventually(t, 5*time.Second, func() bool { return got.len() >= 1 }, "b gets events again")
	time.Sleep(200 * time.Millisecond)
	exactlyOnce(t, &got, []int{3}, "b")
}

func TestAtLeastOnceFanOutExactlyOnce(t *testing.T) {
	srv := clustertest.StartServer(t)
	nodes, rts, got := replicas(t, srv.URL(), []string{"a", "b", "c"}, nil, atLeastOnce())

	emit(context.Background(), t, rts[0], seq(1, 50)...)
	eventually(t, 15*time.Second, func() bool { return got[1].len() >= 50 && got[2].len() >= 50 }, "b and c get the events")
	eventually(t, 5*time.Second, func() bool { return nodes[0].Stats().Suppressed == 50 }, "a receives its own events back and skips them")
	time.Sleep(300 * time.Millisecond)
	for i, who := range []string{"a", "b", "c"} {
		exactlyOnce(t, got[i], seq(1, 50), who)
	}
	assert.Equal(t, 1, cluster.Attempt(got[1].ctxs[0]))
	for _, n := range nodes[1:] {
		eventually(t, 5*time.Second, func() bool { return n.Stats().Delivered == 50 }, "%s counts the deliveries", n.ReplicaName())
	}
}

func TestAtLeastOnceRedeliversWithBackoff(t *testing.T) {
	srv := clustertest.StartServer(t)
	fail := func(replica string, o Order, n int) error {
		if replica == "b" && n < 3 {
			return errors.New("database busy")
		}
		return nil
	}
	nodes, rts, got := replicas(t, srv.URL(), []string{"a", "b"}, fail, atLeastOnce(cluster.Backoff(100*time.Millisecond, time.Second)))
	emit(context.Background(), t, rts[0], 7)
	eventually(t, 10*time.Second, func() bool { return got[1].len() >= 3 }, "b gets the event until its listener succeeds")
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, 3, got[1].len(), "acknowledged on the third delivery, not delivered again")
	attempts := []int{cluster.Attempt(got[1].ctxs[0]), cluster.Attempt(got[1].ctxs[1]), cluster.Attempt(got[1].ctxs[2])}
	assert.Equal(t, []int{1, 2, 3}, attempts)
	eventually(t, 5*time.Second, func() bool { return nodes[1].Stats().Delivered == 1 }, "b counts the delivery")
	assert.Equal(t, int64(2), nodes[1].Stats().Retried)
}

// deadLetters reads the dead letters of the node's prefix.
func deadLetters(t *testing.T, url string, want int) []jetstream.Msg {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, "SPRAG_DEAD", jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	var out []jetstream.Msg
	for len(out) < want {
		batch, err := cons.Fetch(want-len(out), jetstream.FetchMaxWait(2*time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			out = append(out, m)
		}
		require.NoError(t, ctx.Err(), "waiting for %d dead letters, got %d", want, len(out))
	}
	return out
}

func TestAtLeastOnceDeadLettersAfterMaxDeliveries(t *testing.T) {
	srv := clustertest.StartServer(t)
	fail := func(replica string, o Order, n int) error {
		if replica == "b" {
			return errors.New("invalid address")
		}
		return nil
	}
	nodes, rts, got := replicas(t, srv.URL(), []string{"a", "b", "c"}, fail, atLeastOnce(cluster.MaxDeliveries(3)))
	emit(context.Background(), t, rts[0], 9)

	dead := deadLetters(t, srv.URL(), 1)
	assert.Equal(t, "sprag.dead.ev.order.completed", dead[0].Subject())
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), "invalid address")
	assert.Equal(t, "3", dead[0].Headers().Get(cluster.HeaderAttempts))
	assert.Equal(t, "a", dead[0].Headers().Get(cluster.HeaderOrigin))
	assert.JSONEq(t, `{"id":9,"item":"book"}`, string(dead[0].Data()))
	eventually(t, 5*time.Second, func() bool { return nodes[1].Stats().Dead == 1 }, "b counts it")
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, 3, got[1].len(), "b's listener was called MaxDeliveries times, no more")
	exactlyOnce(t, got[2], []int{9}, "c, whose listener works,")
}

func TestAtLeastOnceUndecodableGoesToTheDeadLettersAtOnce(t *testing.T) {
	srv := clustertest.StartServer(t)
	nodes, _, got := replicas(t, srv.URL(), []string{"b"}, nil, atLeastOnce())
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	msg := &nats.Msg{Subject: "sprag.al.order.completed", Data: []byte("{not json"),
		Header: nats.Header{cluster.HeaderOrigin: {"x"}, cluster.HeaderCodec: {"json"}}}
	_, err = js.PublishMsg(context.Background(), msg)
	require.NoError(t, err)

	dead := deadLetters(t, srv.URL(), 1)
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), "cannot decode")
	assert.Equal(t, "1", dead[0].Headers().Get(cluster.HeaderAttempts), "dead at once, never redelivered")
	eventually(t, 5*time.Second, func() bool { return nodes[0].Stats().Dead == 1 }, "b counts the dead letter")
	assert.Zero(t, got[0].len(), "no listener sees it")
}

func TestAtLeastOnceDropsDuplicatesWithinTheWindow(t *testing.T) {
	srv := clustertest.StartServer(t)
	_, rts, got := replicas(t, srv.URL(), []string{"a", "b"}, nil, atLeastOnce())
	ctx := cluster.WithMessageID(context.Background(), "order-7")
	emit(ctx, t, rts[0], 7)
	emit(ctx, t, rts[0], 7)
	emit(context.Background(), t, rts[0], 8)
	eventually(t, 10*time.Second, func() bool { return got[1].counts()[8] == 1 }, "b gets the later event")
	time.Sleep(300 * time.Millisecond)
	exactlyOnce(t, got[1], []int{7, 8}, "b")
}

func TestAtLeastOnceBuffersWhileDisconnected(t *testing.T) {
	srv := clustertest.StartServer(t)
	proxy := clustertest.NewProxy(t, srv.URL())
	a, rtA := startNode(t, proxy.URL(), "a", atLeastOnce(), cluster.PublishBuffer(3))
	_, rtB := startNode(t, srv.URL(), "b", atLeastOnce())
	var got received
	got.listen(t, rtB.Bus, nil)

	proxy.Cut()
	eventually(t, 5*time.Second, func() bool { return !a.Stats().Connected }, "a sees the cut")
	emit(context.Background(), t, rtA, 1, 2, 3)
	assert.Equal(t, 3, a.Stats().Buffered)
	err := orderCompleted.Emit(context.Background(), rtA.Bus, Order{ID: 4})
	require.ErrorIs(t, err, cluster.ErrBufferFull, "past the buffer the emitter gets an error")
	assert.Contains(t, err.Error(), "order:completed")
	assert.Equal(t, int64(1), a.Stats().Rejected)

	proxy.Restore()
	eventually(t, 15*time.Second, func() bool { return got.len() >= 3 }, "the buffer is published after the reconnect")
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, []Order{{ID: 1, Item: "book"}, {ID: 2, Item: "book"}, {ID: 3, Item: "book"}}, got.got(), "in order, once each")
	assert.Zero(t, a.Stats().Buffered)
}

func TestAtLeastOnceSharedGroup(t *testing.T) {
	srv := clustertest.StartServer(t)
	shared := atLeastOnce(cluster.Shared("billing"))
	emitter, rtE := startNode(t, srv.URL(), "web", shared) // no listener: it publishes
	nodes, rts, got := replicas(t, srv.URL(), []string{"w1", "w2"}, nil, shared)

	emit(context.Background(), t, rtE, seq(1, 40)...)
	eventually(t, 15*time.Second, func() bool { return got[0].len()+got[1].len() >= 40 }, "the group handles every event")
	time.Sleep(300 * time.Millisecond)
	all := &received{}
	all.orders = append(got[0].got(), got[1].got()...)
	exactlyOnce(t, all, seq(1, 40), "the group")
	assert.Equal(t, int64(40), emitter.Stats().Published)

	// A member that listens handles its own emits, synchronously.
	emit(context.Background(), t, rts[0], 100)
	assert.Equal(t, 1, got[0].counts()[100])
	assert.Equal(t, int64(1), nodes[0].Stats().Local)
	time.Sleep(300 * time.Millisecond)
	assert.Zero(t, got[1].counts()[100], "and no other member gets it")
}

func TestAtLeastOnceWaitsForAListener(t *testing.T) {
	srv := clustertest.StartServer(t)
	_, rtA := startNode(t, srv.URL(), "a", atLeastOnce(cluster.Backoff(100*time.Millisecond, 100*time.Millisecond), cluster.MaxDeliveries(100)))
	b, rtB := startNode(t, srv.URL(), "b", atLeastOnce(cluster.Backoff(100*time.Millisecond, 100*time.Millisecond), cluster.MaxDeliveries(100)))
	emit(context.Background(), t, rtA, 5)
	time.Sleep(time.Second)
	assert.Zero(t, b.Stats().Retried+b.Stats().Dead, "b, without a listener yet, leaves the event in its consumer")
	var got received
	got.listen(t, rtB.Bus, nil) // b's service starts listening late
	eventually(t, 5*time.Second, func() bool { return got.len() == 1 }, "the event reaches the late listener")
	assert.Equal(t, 1, cluster.Attempt(got.ctxs[0]), "delivered once")
}

func TestAtLeastOnceConsumerRecoversAfterALongDisconnection(t *testing.T) {
	srv := clustertest.StartServer(t)
	proxy := clustertest.NewProxy(t, srv.URL())
	_, rtA := startNode(t, srv.URL(), "a", atLeastOnce())
	b, rtB := startNode(t, proxy.URL(), "b", atLeastOnce())
	busy := make(chan struct{})
	var got received
	got.listen(t, rtB.Bus, func(o Order, n int) error {
		if n == 1 {
			<-busy // b is handling the first event while its connection drops
		}
		return nil
	})
	emit(context.Background(), t, rtA, 1)
	eventually(t, 5*time.Second, func() bool { return got.len() == 1 }, "b handles the first event")

	proxy.Cut()
	eventually(t, 5*time.Second, func() bool { return !b.Stats().Connected }, "b sees the cut")
	time.Sleep(6500 * time.Millisecond) // longer than a pull request's expiry
	proxy.Restore()
	eventually(t, 10*time.Second, func() bool { return b.Stats().Connected }, "b reconnects")
	close(busy)

	emit(context.Background(), t, rtA, 2)
	eventually(t, 15*time.Second, func() bool { return got.counts()[2] == 1 }, "b gets events after the reconnect")
}

func TestAtLeastOnceReplicaResumesUnderItsName(t *testing.T) {
	srv := clustertest.StartServer(t)
	_, rtA := startNode(t, srv.URL(), "a", atLeastOnce())
	b, _ := startNode(t, srv.URL(), "b", atLeastOnce())
	require.NoError(t, b.Stop(context.Background()))

	emit(context.Background(), t, rtA, 1, 2) // while b is down
	_, rtB := startNode(t, srv.URL(), "b", atLeastOnce())
	var got received
	got.listen(t, rtB.Bus, nil)
	eventually(t, 15*time.Second, func() bool { return got.len() >= 2 }, "b gets what was emitted while it was down")
	time.Sleep(300 * time.Millisecond)
	exactlyOnce(t, &got, []int{1, 2}, "b")
}

func TestStopDeliveringHandsEventsToTheGroup(t *testing.T) {
	srv := clustertest.StartServer(t)
	shared := atLeastOnce(cluster.Shared("billing"))
	_, rtE := startNode(t, srv.URL(), "web", shared)
	nodes, _, got := replicas(t, srv.URL(), []string{"w1", "w2"}, nil, shared)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, nodes[0].StopDelivering(ctx))

	emit(context.Background(), t, rtE, seq(1, 10)...)
	eventually(t, 10*time.Second, func() bool { return got[1].len() >= 10 }, "w2 handles everything")
	assert.Zero(t, got[0].len(), "w1 no longer handles events")
}

func TestEmitOfTheWrongTypeIsRefused(t *testing.T) {
	srv := clustertest.StartServer(t)
	_, rt := startNode(t, srv.URL(), "a", atLeastOnce())
	err := rt.Bus.Emit(context.Background(), "order:completed", "not an order")
	require.ErrorIs(t, err, eventbus.ErrPayloadType)
	assert.Contains(t, err.Error(), "order:completed")
}

func TestEmitAfterTheNodeStoppedIsRefused(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, rt := startNode(t, srv.URL(), "a", atLeastOnce())
	require.NoError(t, n.Stop(context.Background()))
	// The bridge's listener is gone with the node: the emit is local only.
	require.NoError(t, orderCompleted.Emit(context.Background(), rt.Bus, Order{ID: 1}))
	assert.Zero(t, n.Stats().Published)
}

func TestAtLeastOnceTopicWithoutAListenerOfItsOwn(t *testing.T) {
	srv := clustertest.StartServer(t)
	audit := cluster.Distribute[string]("audit:*", cluster.AtLeastOnce(cluster.MaxDeliveries(2), cluster.Backoff(50*time.Millisecond, 50*time.Millisecond)))
	_, rtA := startNode(t, srv.URL(), "a", audit)
	b, rtB := startNode(t, srv.URL(), "b", audit)
	logins := make(chan string, 1)
	_, err := rtB.Bus.Listen("audit:login", func(_ context.Context, p any) error {
		logins <- p.(string)
		return nil
	})
	require.NoError(t, err)

	require.NoError(t, rtA.Bus.Emit(context.Background(), "audit:logout", "ada"))
	require.NoError(t, rtA.Bus.Emit(context.Background(), "audit:login", "grace"))
	assert.Equal(t, "grace", <-logins, "b listens to one topic of the pattern")
	dead := deadLetters(t, srv.URL(), 1)
	assert.Equal(t, "sprag.dead.ev.audit.logout", dead[0].Subject())
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), "no listener")
	assert.Equal(t, int64(1), b.Stats().Retried, "retried like a failure first")
}
