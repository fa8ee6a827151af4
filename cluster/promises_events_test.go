package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/spragtest"
)

// call is what a listener was given.
type call struct {
	payload any
	origin  string
	remote  bool
	attempt int
}

func callOf(ctx context.Context, p any) call {
	origin, remote := cluster.Origin(ctx)
	return call{payload: p, origin: origin, remote: remote, attempt: cluster.Attempt(ctx)}
}

// TestAnEmitInsideTheListenerOfARemoteEvent: with the delivery's context,
// an emit of the delivered topic is taken for the delivery and not
// published again, and an emit of another topic is published. A payload
// distributed as any arrives in JSON's generic form, on the subject the
// package documents; an at-most-once delivery and a local emit have no
// attempt.
func TestAnEmitInsideTheListenerOfARemoteEvent(t *testing.T) {
	srv := clustertest.StartServer(t)
	orders := cluster.Distribute[any]("order:*", cluster.AtMostOnce())
	a, rtA := startNode(t, srv.URL(), "a", orders)
	b, rtB := startNode(t, srv.URL(), "b", orders)
	var shippedAtA, completedAtA, completedAtB spragtest.Collector[call]
	_, err := rtA.Bus.Listen("order:shipped", func(ctx context.Context, p any) error {
		shippedAtA.Add(callOf(ctx, p))
		return nil
	})
	require.NoError(t, err)
	_, err = rtA.Bus.Listen("order:completed", func(ctx context.Context, p any) error {
		completedAtA.Add(callOf(ctx, p))
		return nil
	})
	require.NoError(t, err)
	_, err = rtB.Bus.Listen("order:completed", func(ctx context.Context, p any) error {
		completedAtB.Add(callOf(ctx, p))
		if _, decoded := p.(map[string]any); !decoded {
			return nil // the emit below, heard by this listener too
		}
		if err := rtB.Bus.Emit(ctx, "order:completed", Order{ID: 2}); err != nil {
			return err
		}
		return rtB.Bus.Emit(ctx, "order:shipped", Order{ID: 1, Item: "book"})
	})
	require.NoError(t, err)
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	raw, err := nc.SubscribeSync("sprag.ev.json.b.order.shipped")
	require.NoError(t, err)
	require.NoError(t, nc.Flush())

	require.NoError(t, rtA.Bus.Emit(context.Background(), "order:completed", Order{ID: 1, Item: "book"}))
	eventually(t, 10*time.Second, func() bool { return shippedAtA.Len() == 1 }, "a hears what b's listener emitted on another topic")
	generic := map[string]any{"id": float64(1), "item": "book"}
	assert.Equal(t, call{payload: generic, origin: "b", remote: true}, shippedAtA.All()[0])
	assert.Equal(t, call{payload: generic, origin: "a", remote: true}, completedAtB.All()[0], "b gets the generic form, no attempt at most once")
	// b's emit of order:completed would have been published before its
	// emit of order:shipped, and a's one subscription gets both in order.
	assert.Equal(t, []call{{payload: Order{ID: 1, Item: "book"}}}, completedAtA.All(), "a's listener ran once, at its own emit, with no attempt")
	// b counts its publish once it returns, which may be after a got it.
	eventually(t, 5*time.Second, func() bool { return b.Stats().Published == 1 }, "b published order:shipped")
	assert.Equal(t, int64(1), b.Stats().Published, "b published order:shipped only")
	assert.Equal(t, int64(1), a.Stats().Published)

	msg, err := raw.NextMsg(5 * time.Second)
	require.NoError(t, err, "an at-most-once event travels on <prefix>.ev.<codec>.<origin>.<tokens>")
	assert.JSONEq(t, `{"id":1,"item":"book"}`, string(msg.Data))
}

// TestAListenerPanicIsAFailure: a panic of a listener of an at-least-once
// topic is recovered and the event delivered again.
func TestAListenerPanicIsAFailure(t *testing.T) {
	srv := clustertest.StartServer(t)
	js := engine(t, srv.URL())
	fail := func(replica string, o Order, n int) error {
		if replica == "b" && n == 1 {
			panic("listener bug")
		}
		return nil
	}
	nodes, rts, got := replicas(t, srv.URL(), []string{"a", "b"}, fail, atLeastOnce())
	emit(context.Background(), t, rts[0], 1)
	published(t, nodes[0], 1)
	assert.Equal(t, uint64(2), settled(t, js, "b").Delivered.Consumer, "delivered again after the panic, then acknowledged")
	require.Equal(t, 2, got[1].len())
	assert.Equal(t, []int{1, 2}, []int{cluster.Attempt(got[1].ctxs[0]), cluster.Attempt(got[1].ctxs[1])})
	eventually(t, 5*time.Second, func() bool { return nodes[1].Stats().Delivered == 1 }, "b counts the delivery")
	assert.Equal(t, int64(1), nodes[1].Stats().Retried)
	assert.Zero(t, nodes[1].Stats().Dead)
}

// TestAtLeastOnceNewReplicaStartsWithLaterEvents: a fan-out replica's
// first start creates its consumer, which gets the events published from
// then on, not those before.
func TestAtLeastOnceNewReplicaStartsWithLaterEvents(t *testing.T) {
	srv := clustertest.StartServer(t)
	js := engine(t, srv.URL())
	a, rtA := startNode(t, srv.URL(), "a", atLeastOnce())
	emit(context.Background(), t, rtA, 1)
	// The emit returned once the stream stored the event: no waiting.
	assert.Equal(t, cluster.Stats{Connected: true, Published: 1}, a.Stats(), "the event is published, not buffered")
	s, err := js.Stream(context.Background(), "SPRAG_EVENTS")
	require.NoError(t, err)
	require.Equal(t, uint64(1), s.CachedInfo().State.Msgs, "the stream holds the event when the emit returns")
	_, rtC := startNode(t, srv.URL(), "c", atLeastOnce())
	var got received
	got.listen(t, rtC.Bus, nil)
	emit(context.Background(), t, rtA, 2)
	published(t, a, 2)
	assert.Equal(t, uint64(1), settled(t, js, "c").Delivered.Consumer, "c's consumer delivered one event")
	exactlyOnce(t, &got, []int{2}, "c, which started after the first event,")
}

// TestMessageIDDropsDuplicatesOfATopicFromAnyReplica: a message id drops
// a second emit of the same topic from another replica, not an emit of
// another topic.
func TestMessageIDDropsDuplicatesOfATopicFromAnyReplica(t *testing.T) {
	srv := clustertest.StartServer(t)
	js := engine(t, srv.URL())
	orders := cluster.Distribute[Order]("order:*", cluster.AtLeastOnce(cluster.AckWait(2*time.Second)))
	a, rtA := startNode(t, srv.URL(), "a", orders)
	b, rtB := startNode(t, srv.URL(), "b", orders)
	ctx := cluster.WithMessageID(context.Background(), "x")
	require.NoError(t, orderCompleted.Emit(ctx, rtA.Bus, Order{ID: 1}))
	require.NoError(t, orderCompleted.Emit(ctx, rtB.Bus, Order{ID: 1}))
	require.NoError(t, OrderShipped.Emit(ctx, rtA.Bus, Order{ID: 1}))
	published(t, a, 2)
	published(t, b, 1)
	s, err := js.Stream(context.Background(), "SPRAG_EVENTS")
	require.NoError(t, err)
	assert.Equal(t, uint64(2), s.CachedInfo().State.Msgs, "b's emit of the same topic and id is dropped; a's emit of another topic is kept")
}

// TestStopDeliveringWaitsAndHandsPulledAheadEventsBack: StopDelivering
// waits, until its context ends, for the delivery in progress; the
// events pulled ahead go back to the engine at once, for the other
// members; and the replica's emits are still published.
func TestStopDeliveringWaitsAndHandsPulledAheadEventsBack(t *testing.T) {
	srv := clustertest.StartServer(t)
	shared := atLeastOnce(cluster.Shared("billing"), cluster.AckWait(30*time.Second))
	shipped := cluster.DistributeTopic(OrderShipped, cluster.AtLeastOnce(cluster.AckWait(30*time.Second)))
	web, rtE := startNode(t, srv.URL(), "web", shared, shipped)
	w1, rt1 := startNode(t, srv.URL(), "w1", shared, shipped)
	busy, release := make(chan struct{}), make(chan struct{})
	var got1 received
	got1.listen(t, rt1.Bus, func(_ Order, n int) error {
		if n == 1 {
			close(busy)
			<-release
		}
		return nil
	})
	emit(context.Background(), t, rtE, seq(1, 5)...)
	published(t, web, 5)
	<-busy
	js := engine(t, srv.URL())
	eventually(t, 5*time.Second, func() bool { return consumerOf(t, js, "group_billing").NumAckPending == 5 },
		"w1 holds every event: one in its listener, four pulled ahead")

	_, rt2 := startNode(t, srv.URL(), "w2", shared, shipped)
	var got2 received
	got2.listen(t, rt2.Bus, nil)
	shippedAt2 := spragtest.Record(t, rt2.Bus, "order:shipped")

	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := w1.StopDelivering(short)
	require.Error(t, err, "the delivery in progress outlives the context")
	assert.Less(t, time.Since(began), 5*time.Second, "StopDelivering returns when its context ends")
	assert.Equal(t, 1, got1.len())
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, w1.StopDelivering(ctx), "the delivery in progress finished")

	eventually(t, 10*time.Second, func() bool { return got2.len() == 4 }, "w2 gets the four events w1 pulled ahead, without waiting for AckWait")
	exactlyOnce(t, &got2, seq(2, 5), "w2")
	exactlyOnce(t, &got1, []int{1}, "w1, which finished the event it held,")
	assert.Equal(t, int64(1), w1.Stats().Delivered)

	require.NoError(t, OrderShipped.Emit(context.Background(), rt1.Bus, Order{ID: 9}))
	eventually(t, 10*time.Second, func() bool { return shippedAt2.Len() == 1 }, "w1's emits are still published")
	assert.Equal(t, Order{ID: 9}, shippedAt2.Payloads()[0])
}

// TestSharedGroupTakesOverFromAMemberThatDied: the event a member was
// handling when it died goes to another member once AckWait has passed,
// and so do the events published while it is away.
func TestSharedGroupTakesOverFromAMemberThatDied(t *testing.T) {
	srv := clustertest.StartServer(t)
	proxy := clustertest.NewProxy(t, srv.URL())
	shared := atLeastOnce(cluster.Shared("billing"), cluster.AckWait(time.Second))
	_, rtE := startNode(t, srv.URL(), "web", shared)
	w1, rt1 := startNode(t, proxy.URL(), "w1", shared)
	hold := make(chan struct{})
	var got1 received
	got1.listen(t, rt1.Bus, func(Order, int) error {
		<-hold
		return nil
	})
	emit(context.Background(), t, rtE, 1)
	eventually(t, 5*time.Second, func() bool { return got1.len() == 1 }, "w1 handles the event")
	_, rt2 := startNode(t, srv.URL(), "w2", shared)
	var got2 received
	got2.listen(t, rt2.Bus, nil)

	proxy.Cut() // w1 is gone: no acknowledgement, no sign of life
	eventually(t, 5*time.Second, func() bool { return !w1.Stats().Connected }, "w1 sees the cut")
	emit(context.Background(), t, rtE, 2)
	eventually(t, 15*time.Second, func() bool { c := got2.counts(); return c[1] == 1 && c[2] == 1 },
		"w2 gets the event w1 was handling and the one emitted while w1 is away")
	close(hold)
	proxy.Restore()
}

// TestAtMostOnceReceiverDisconnectedLosesTheEvent: an at-most-once event
// published while a replica is disconnected is lost for it, also after it
// reconnects.
func TestAtMostOnceReceiverDisconnectedLosesTheEvent(t *testing.T) {
	srv := clustertest.StartServer(t)
	proxy := clustertest.NewProxy(t, srv.URL())
	_, rtA := startNode(t, srv.URL(), "a", atMostOnce())
	b, rtB := startNode(t, proxy.URL(), "b", atMostOnce())
	var got received
	got.listen(t, rtB.Bus, nil)
	clients := srv.NATS().NumClients()

	proxy.Cut()
	eventually(t, 5*time.Second, func() bool { return !b.Stats().Connected && srv.NATS().NumClients() == clients-1 },
		"b and the server see the cut")
	emit(context.Background(), t, rtA, 1)
	proxy.Restore()
	eventually(t, 10*time.Second, func() bool { return b.Stats().Connected }, "b reconnects")
	eventually(t, 10*time.Second, func() bool {
		emit(context.Background(), t, rtA, 2)
		return got.counts()[2] > 0
	}, "b gets events again once its subscription is back")
	assert.Zero(t, got.counts()[1], "the event published while b was away is lost for b")
}

// TestNodeStopCountsTheBufferLeftAsLost: at its stop, a node publishes
// its buffer until the stop's deadline; what is left is lost, counted and
// reported. Health names the connection's state meanwhile.
func TestNodeStopCountsTheBufferLeftAsLost(t *testing.T) {
	srv := clustertest.StartServer(t)
	proxy := clustertest.NewProxy(t, srv.URL())
	a, rtA := startNode(t, proxy.URL(), "a", atLeastOnce())
	proxy.Cut()
	eventually(t, 5*time.Second, func() bool { return !a.Stats().Connected }, "a sees the cut")
	err := a.Health(context.Background())
	require.ErrorIs(t, err, cluster.ErrDisconnected)
	assert.Regexp(t, `nats connection (reconnecting|disconnected|connecting)`, err.Error(), "the error names the connection's state")

	emit(context.Background(), t, rtA, 1, 2)
	require.Equal(t, 2, a.Stats().Buffered)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// The buffer's cleanup gives up at the stop's deadline, so the stop's
	// own result races with it: only the count is checked.
	_ = a.Stop(ctx)
	eventually(t, 5*time.Second, func() bool { return a.Stats().Lost == 2 }, "the events left in the buffer are counted as lost")
	assert.Zero(t, a.Stats().Buffered)
	assert.Zero(t, a.Stats().Published)
}

// faultyTransport is a memTransport whose Publish can refuse messages
// or hang until its context ends.
type faultyTransport struct {
	memTransport
	refuse, slow atomic.Bool
}

func (t *faultyTransport) Publish(ctx context.Context, m *cluster.Message, g cluster.Guarantee) error {
	switch {
	case t.down.Load():
	case t.refuse.Load():
		return errors.New("refused by the engine's policy")
	case t.slow.Load():
		<-ctx.Done()
		return fmt.Errorf("no answer: %w: %w", cluster.ErrDisconnected, ctx.Err())
	}
	return t.memTransport.Publish(ctx, m, g)
}

// TestAnEngineRefusalReachesTheEmitter: an error of the transport that is
// not ErrDisconnected is the emitter's, at most once as at least once,
// and a buffered event that the engine then refuses is lost.
func TestAnEngineRefusalReachesTheEmitter(t *testing.T) {
	srv := clustertest.StartServer(t)
	ft := &faultyTransport{}
	a, rt := startNode(t, srv.URL(), "a", cluster.WithTransport(ft), atLeastOnce(), cluster.DistributeTopic(OrderShipped, cluster.AtMostOnce()))
	ft.refuse.Store(true)
	err := orderCompleted.Emit(context.Background(), rt.Bus, Order{ID: 1})
	require.ErrorContains(t, err, "refused by the engine's policy", "at least once")
	err = OrderShipped.Emit(context.Background(), rt.Bus, Order{ID: 1})
	require.ErrorContains(t, err, "refused by the engine's policy", "at most once")
	st := a.Stats()
	assert.Zero(t, st.Buffered+int(st.Dropped+st.Published+st.Lost), "neither buffered, dropped nor published: %+v", st)

	ft.down.Store(true)
	emit(context.Background(), t, rt, 2)
	require.Equal(t, 1, a.Stats().Buffered)
	ft.down.Store(false)
	eventually(t, 10*time.Second, func() bool { return a.Stats().Lost == 1 && a.Stats().Buffered == 0 },
		"the buffered event that the engine refuses is lost")
	assert.Zero(t, a.Stats().Published)
}

// TestPublishTimeoutBuffersASlowPublish: an emit waits for the engine's
// acknowledgement up to PublishTimeout, then buffers the event, which is
// published once the engine answers.
func TestPublishTimeoutBuffersASlowPublish(t *testing.T) {
	srv := clustertest.StartServer(t)
	ft := &faultyTransport{}
	a, rt := startNode(t, srv.URL(), "a", cluster.WithTransport(ft), atLeastOnce(), cluster.PublishTimeout(300*time.Millisecond))
	ft.slow.Store(true)
	began := time.Now()
	emit(context.Background(), t, rt, 1)
	took := time.Since(began)
	assert.GreaterOrEqual(t, took, 300*time.Millisecond, "the emit waited for the engine")
	assert.Less(t, took, 3*time.Second, "no longer than about PublishTimeout")
	assert.Equal(t, 1, a.Stats().Buffered)
	assert.Zero(t, a.Stats().Published)
	ft.slow.Store(false)
	eventually(t, 10*time.Second, func() bool { return a.Stats().Published == 1 && a.Stats().Buffered == 0 }, "the buffer is published once the engine answers")
}

// TestPublishBufferHoldsAThousandEventsByDefault: past the default
// buffer, an emit gets ErrBufferFull naming the topic.
func TestPublishBufferHoldsAThousandEventsByDefault(t *testing.T) {
	srv := clustertest.StartServer(t)
	ft := &faultyTransport{}
	a, rt := startNode(t, srv.URL(), "a", cluster.WithTransport(ft), atLeastOnce())
	ft.down.Store(true)
	for i := range cluster.DefaultPublishBuffer {
		require.NoError(t, orderCompleted.Emit(context.Background(), rt.Bus, Order{ID: i}))
	}
	require.Equal(t, 1000, a.Stats().Buffered)
	err := orderCompleted.Emit(context.Background(), rt.Bus, Order{ID: 1000})
	require.ErrorIs(t, err, cluster.ErrBufferFull)
	assert.Contains(t, err.Error(), `"order:completed"`)
	assert.Equal(t, int64(1), a.Stats().Rejected)
	ft.down.Store(false)
	eventually(t, 10*time.Second, func() bool { return a.Stats().Published == 1000 }, "the buffer is published once the engine is back")
}
