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
	// Core NATS keeps a publisher's order: once the last event arrived,
	// a second copy of an earlier one on the same subscription would have
	// arrived before it.
	eventually(t, 10*time.Second, func() bool { return got[1].counts()[20] > 0 && got[2].counts()[20] > 0 }, "b and c get the events")
	for i, who := range []string{"a (its own emit, locally)", "b", "c"} {
		exactlyOnce(t, got[i], seq(1, 20), who)
	}
	assert.Equal(t, []Order{{ID: 1, Item: "book"}}, got[1].got()[:1], "decoded into the typed payload")
	assert.Equal(t, int64(20), nodes[0].Stats().Published)
	for _, n := range nodes[1:] {
		eventually(t, 5*time.Second, func() bool { return n.Stats().Delivered == 20 }, "%s counts the deliveries", n.ReplicaName())
		assert.Zero(t, n.Stats().Published, "%s does not publish what it received: no copy goes round", n.ReplicaName())
	}
	eventually(t, 5*time.Second, func() bool { return nodes[0].Stats().Suppressed == 20 }, "a receives its own events back and skips them")
	assert.Zero(t, nodes[0].Stats().Delivered, "a's listeners ran once, at the emit")

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
	assert.Equal(t, int64(1), a.Stats().Published, "the events emitted while disconnected were never handed to NATS")
	eventually(t, 5*time.Second, func() bool { return got.len() >= 1 }, "b gets events again")
	exactlyOnce(t, &got, []int{3}, "b")
}

func TestAtLeastOnceFanOutExactlyOnce(t *testing.T) {
	srv := clustertest.StartServer(t)
	js := engine(t, srv.URL())
	nodes, rts, got := replicas(t, srv.URL(), []string{"a", "b", "c"}, nil, atLeastOnce())

	emit(context.Background(), t, rts[0], seq(1, 50)...)
	published(t, nodes[0], 50)
	for _, who := range []string{"a", "b", "c"} {
		info := settled(t, js, who)
		assert.Equal(t, uint64(50), info.Delivered.Consumer, "%s's consumer delivered each event once", who)
	}
	eventually(t, 5*time.Second, func() bool { return nodes[0].Stats().Suppressed == 50 }, "a receives its own events back and skips them")
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
	js := engine(t, srv.URL())
	nodes, rts, got := replicas(t, srv.URL(), []string{"a", "b"}, fail, atLeastOnce(cluster.Backoff(100*time.Millisecond, time.Second)))
	emit(context.Background(), t, rts[0], 7)
	published(t, nodes[0], 1)
	info := settled(t, js, "b")
	assert.Equal(t, uint64(3), info.Delivered.Consumer, "delivered three times, then acknowledged")
	require.Equal(t, 3, got[1].len(), "acknowledged on the third delivery, not delivered again")
	attempts := []int{cluster.Attempt(got[1].ctxs[0]), cluster.Attempt(got[1].ctxs[1]), cluster.Attempt(got[1].ctxs[2])}
	assert.Equal(t, []int{1, 2, 3}, attempts)
	at := got[1].times()
	assert.GreaterOrEqual(t, at[1].Sub(at[0]), 100*time.Millisecond, "the first redelivery waits for Backoff")
	assert.GreaterOrEqual(t, at[2].Sub(at[1]), 200*time.Millisecond, "the second waits twice as long")
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
	js := engine(t, srv.URL())
	nodes, rts, got := replicas(t, srv.URL(), []string{"a", "b", "c"}, fail, atLeastOnce(cluster.MaxDeliveries(3)))
	emit(context.Background(), t, rts[0], 9)

	dead := deadLetters(t, srv.URL(), 1)
	assert.Equal(t, "sprag.dead.ev.order.completed", dead[0].Subject())
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), "invalid address")
	assert.Equal(t, "3", dead[0].Headers().Get(cluster.HeaderAttempts))
	assert.Equal(t, "a", dead[0].Headers().Get(cluster.HeaderOrigin))
	assert.JSONEq(t, `{"id":9,"item":"book"}`, string(dead[0].Data()))
	eventually(t, 5*time.Second, func() bool { return nodes[1].Stats().Dead == 1 }, "b counts it")
	published(t, nodes[0], 1)
	assert.Equal(t, uint64(3), settled(t, js, "b").Delivered.Consumer, "b's consumer delivered it MaxDeliveries times, no more")
	assert.Equal(t, 3, got[1].len(), "b's listener was called MaxDeliveries times")
	assert.Equal(t, uint64(1), settled(t, js, "c").Delivered.Consumer)
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
	js := engine(t, srv.URL())
	nodes, rts, got := replicas(t, srv.URL(), []string{"a", "b"}, nil, atLeastOnce())
	ctx := cluster.WithMessageID(context.Background(), "order-7")
	emit(ctx, t, rts[0], 7)
	emit(ctx, t, rts[0], 7)
	emit(context.Background(), t, rts[0], 8)
	published(t, nodes[0], 3) // the engine acknowledges a duplicate too
	s, err := js.Stream(context.Background(), "SPRAG_EVENTS")
	require.NoError(t, err)
	assert.Equal(t, uint64(2), s.CachedInfo().State.Msgs, "the stream stored the second emit of order-7 not at all")
	assert.Equal(t, uint64(2), settled(t, js, "b").Delivered.Consumer)
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
	eventually(t, 15*time.Second, func() bool { return a.Stats().Buffered == 0 && a.Stats().Published == 3 }, "the buffer is published after the reconnect")
	assert.Equal(t, uint64(3), settled(t, engine(t, srv.URL()), "b").Delivered.Consumer)
	assert.Equal(t, []Order{{ID: 1, Item: "book"}, {ID: 2, Item: "book"}, {ID: 3, Item: "book"}}, got.got(), "in order, once each")
}

func TestAtLeastOnceSharedGroup(t *testing.T) {
	srv := clustertest.StartServer(t)
	shared := atLeastOnce(cluster.Shared("billing"))
	emitter, rtE := startNode(t, srv.URL(), "web", shared) // no listener: it publishes
	nodes, rts, got := replicas(t, srv.URL(), []string{"w1", "w2"}, nil, shared)

	emit(context.Background(), t, rtE, seq(1, 40)...)
	published(t, emitter, 40)
	js := engine(t, srv.URL())
	assert.Equal(t, uint64(40), settled(t, js, "group_billing").Delivered.Consumer, "the group's consumer delivered each event once")
	all := &received{}
	all.orders = append(got[0].got(), got[1].got()...)
	exactlyOnce(t, all, seq(1, 40), "the group")

	// A member that listens handles its own emits, synchronously, and
	// does not publish them: no other member can get them.
	emit(context.Background(), t, rts[0], 100)
	assert.Equal(t, 1, got[0].counts()[100])
	assert.Equal(t, int64(1), nodes[0].Stats().Local)
	assert.Zero(t, nodes[0].Stats().Published)
	s, err := js.Stream(context.Background(), "SPRAG_EVENTS")
	require.NoError(t, err)
	assert.Equal(t, uint64(40), s.CachedInfo().State.Msgs, "the stream holds the web replica's events only")
	assert.Zero(t, got[1].counts()[100], "and no other member gets it")
}

func TestAtLeastOnceWaitsForAListener(t *testing.T) {
	srv := clustertest.StartServer(t)
	js := engine(t, srv.URL())
	_, rtA := startNode(t, srv.URL(), "a", atLeastOnce(cluster.Backoff(100*time.Millisecond, 100*time.Millisecond), cluster.MaxDeliveries(100)))
	b, rtB := startNode(t, srv.URL(), "b", atLeastOnce(cluster.Backoff(100*time.Millisecond, 100*time.Millisecond), cluster.MaxDeliveries(100)))
	emit(context.Background(), t, rtA, 5)
	eventually(t, 5*time.Second, func() bool { return consumerOf(t, js, "b").NumPending == 1 }, "the event reaches b's consumer")
	// Without a listener, b's delivery task looks for one every 200ms and
	// pulls nothing meanwhile: over a second, the event stays in the
	// consumer, never delivered, and b sends no pull request.
	holds(t, time.Second, func() bool {
		info := consumerOf(t, js, "b")
		return info.Delivered.Consumer == 0 && info.NumWaiting == 0
	}, "b, without a listener yet, leaves the event in its consumer")
	assert.Zero(t, b.Stats().Retried+b.Stats().Dead)
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
	// The scenario, not a wait for something to happen: the outage lasts
	// longer than a pull request's expiry (5s), so that the pull b had
	// sent is gone from the server when b comes back.
	time.Sleep(6500 * time.Millisecond)
	proxy.Restore()
	eventually(t, 10*time.Second, func() bool { return b.Stats().Connected }, "b reconnects")
	close(busy)

	emit(context.Background(), t, rtA, 2)
	eventually(t, 15*time.Second, func() bool { return got.counts()[2] == 1 }, "b gets events after the reconnect")
}

func TestAtLeastOnceReplicaResumesUnderItsName(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, rtA := startNode(t, srv.URL(), "a", atLeastOnce())
	b, _ := startNode(t, srv.URL(), "b", atLeastOnce())
	require.NoError(t, b.Stop(context.Background()))

	emit(context.Background(), t, rtA, 1, 2) // while b is down
	published(t, a, 2)
	_, rtB := startNode(t, srv.URL(), "b", atLeastOnce())
	var got received
	got.listen(t, rtB.Bus, nil)
	assert.Equal(t, uint64(2), settled(t, engine(t, srv.URL()), "b").Delivered.Consumer, "b's consumer kept what was emitted while b was down")
	exactlyOnce(t, &got, []int{1, 2}, "b")
}

func TestStopDeliveringHandsEventsToTheGroup(t *testing.T) {
	srv := clustertest.StartServer(t)
	shared := atLeastOnce(cluster.Shared("billing"))
	web, rtE := startNode(t, srv.URL(), "web", shared)
	nodes, _, got := replicas(t, srv.URL(), []string{"w1", "w2"}, nil, shared)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, nodes[0].StopDelivering(ctx))

	emit(context.Background(), t, rtE, seq(1, 10)...)
	published(t, web, 10)
	assert.Equal(t, uint64(10), settled(t, engine(t, srv.URL()), "group_billing").Delivered.Consumer, "each event delivered once")
	exactlyOnce(t, got[1], seq(1, 10), "w2, which handles everything,")
	assert.Zero(t, got[0].len(), "w1 no longer handles events")
	assert.Zero(t, nodes[0].Stats().Delivered)
}

func TestEmitOfTheWrongTypeIsRefused(t *testing.T) {
	srv := clustertest.StartServer(t)
	_, rt := startNode(t, srv.URL(), "a", atLeastOnce())
	err := rt.Bus.Emit(context.Background(), "order:completed", "not an order")
	require.ErrorIs(t, err, eventbus.ErrPayloadType)
	assert.Contains(t, err.Error(), "order:completed")
}

func TestEmitAfterTheNodeStoppedIsLocalOnly(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, rt := startNode(t, srv.URL(), "a", atLeastOnce())
	var got received
	got.listen(t, rt.Bus, nil)
	require.NoError(t, n.Stop(context.Background()))

	// The bridge's listener is gone with the node: the local listeners run
	// and nothing is published or buffered.
	require.NoError(t, orderCompleted.Emit(context.Background(), rt.Bus, Order{ID: 1}))
	assert.Equal(t, []Order{{ID: 1}}, got.got(), "the local listener ran")
	st := n.Stats()
	assert.Zero(t, st.Published)
	assert.Zero(t, st.Buffered)
	assert.Zero(t, st.Rejected)
	s, err := engine(t, srv.URL()).Stream(context.Background(), "SPRAG_EVENTS")
	require.NoError(t, err)
	assert.Zero(t, s.CachedInfo().State.Msgs, "the stream holds no event")
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
