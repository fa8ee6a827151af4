package cluster_test

// Tests of behaviours that once contradicted the package's documentation
// (doc comments, docs/cluster.md) or its rules (clear errors, no panics,
// nothing hangs or is silently lost). Each comment says what is promised
// and what happened.

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
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
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/spragtest"
)

// longName is a name whose subject exceeds the NATS server's control
// line (4096 bytes).
var longName = strings.Repeat("x", 5000)

// checkLongName runs do on a node and checks that the node still reaches
// NATS afterwards.
//
// The bug (TestFaultRegressLong*): a name whose subject exceeds the NATS
// server's control line (4096 bytes) makes the server answer "maximum
// control line exceeded", on which the NATS client closes the connection
// for good: it never reconnects. The package promises that the client
// "reconnects by itself, forever" (docs/cluster.md, Connection faults)
// and clear errors for malformed names; but the bus accepts topics of any
// length, and SubjectOf, the bridge, New, NewQueue and the lease engine
// check no length. So one emit of a long topic that matches a distributed
// pattern (say an id taken from a request), or one long queue or job name,
// silently cuts the replica off from the cluster until its process
// restarts: at-most-once emits are dropped, at-least-once emits pile up in
// the buffer (and the stop then waits for them until its deadline), queues
// and leases fail, Health reports "nats connection closed".
//
// Expected: the operation fails with a clear error (wrapping
// eventbus.ErrInvalidTopic or sprag.ErrInvalidArgument) and the node stays
// connected. Fix: refuse, in SubjectOf (hence the bridge's publish and
// New's declarations), NewQueue, the lease engine, and New's Replica and
// Prefix, names whose subject or API subject would exceed a bound well
// under the server's max_control_line.
func checkLongName(t *testing.T, do func(ctx context.Context, n *cluster.Node, rt sprag.Runtime) error) error {
	t.Helper()
	srv := clustertest.StartServer(t)
	n, err := cluster.New(cluster.URL(srv.URL()), cluster.Replica("a"),
		cluster.Distribute[any]("amo:*", cluster.AtMostOnce()),
		cluster.Distribute[any]("alo:*", cluster.AtLeastOnce()),
		cluster.PublishTimeout(time.Second))
	require.NoError(t, err)
	rt := spragtest.Start(t, "a", n, spragtest.StopTimeout(3*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = do(ctx, n, rt)
	t.Logf("error: %.120v", err)
	// A client that lost its connection is back within about a second
	// (ReconnectWait 250ms plus jitter): after three, the connection is up
	// and answers a round trip.
	eventually(t, 3*time.Second, func() bool {
		return n.Health(context.Background()) == nil && n.Conn().FlushTimeout(time.Second) == nil
	}, "the node still reaches NATS")
	return err
}

// TestFaultRegressLongTopicEmitAtMostOnceClosesTheConnection: see
// checkLongName. An emit of "amo:<5000 x>" returns nil, and the node's
// connection is closed for good.
func TestFaultRegressLongTopicEmitAtMostOnceClosesTheConnection(t *testing.T) {
	err := checkLongName(t, func(ctx context.Context, _ *cluster.Node, rt sprag.Runtime) error {
		return rt.Bus.Emit(ctx, "amo:"+longName, 1)
	})
	require.ErrorIs(t, err, eventbus.ErrInvalidTopic, "a topic too long for a subject is refused")
}

// TestFaultRegressLongTopicEmitAtLeastOnceClosesTheConnection: see
// checkLongName. An emit of "alo:<5000 x>" returns nil (the event is
// buffered: the failed publish looks like a disconnection), and the node's
// connection is closed for good; the stop then waits for the buffer until
// its deadline.
func TestFaultRegressLongTopicEmitAtLeastOnceClosesTheConnection(t *testing.T) {
	err := checkLongName(t, func(ctx context.Context, _ *cluster.Node, rt sprag.Runtime) error {
		return rt.Bus.Emit(ctx, "alo:"+longName, 1)
	})
	require.ErrorIs(t, err, eventbus.ErrInvalidTopic, "a topic too long for a subject is refused")
}

// TestFaultRegressLongQueueNameClosesTheConnection: see checkLongName.
// NewQueue checks only the characters of the name; the stream's creation
// request (its API subject holds the name) closes the connection for
// good, and NewQueue fails with "context deadline exceeded" after retrying.
// (A name of 300 bytes gets the server's clear "stream name is too long".)
func TestFaultRegressLongQueueNameClosesTheConnection(t *testing.T) {
	err := checkLongName(t, func(ctx context.Context, n *cluster.Node, _ sprag.Runtime) error {
		_, err := cluster.NewQueue[int](ctx, n, longName)
		return err
	})
	assert.ErrorIs(t, err, sprag.ErrInvalidArgument)
}

// TestFaultRegressLongLeaseNameClosesTheConnection: see checkLongName.
// Acquire of a lease (or Singleton of a job) named with 5000 letters
// closes the connection for good and fails with ErrDisconnected.
func TestFaultRegressLongLeaseNameClosesTheConnection(t *testing.T) {
	err := checkLongName(t, func(ctx context.Context, n *cluster.Node, _ sprag.Runtime) error {
		_, err := n.Leases().Acquire(ctx, longName, 2*time.Second)
		return err
	})
	assert.ErrorIs(t, err, sprag.ErrInvalidArgument)
}

// bigWorker consumes the queue "big" of string items.
type bigWorker struct {
	sprag.Service
	node    *cluster.Node
	handler func(ctx context.Context, item string) error
	q       *cluster.Queue[string]
	opts    []cluster.QueueOption
}

func (w *bigWorker) OnStart(ctx context.Context) error {
	q, err := cluster.NewQueue[string](ctx, w.node, "big", w.opts...)
	if err != nil {
		return err
	}
	w.q = q
	_, err = queue.New(w, w.handler, queue.Workers(1), queue.BackedBy[string](q))
	return err
}

// TestFaultRegressQueueItemNearTheMaxPayloadIsNeverDeadLettered: the Queue
// doc promises "A failure is redelivered after a doubling backoff up to
// MaxDeliveries deliveries, then goes to the dead-letter stream with its
// error". The dead letter is a copy of the item with more headers
// (Sprag-Error, up to 1 KiB, Sprag-Attempts, Sprag-Source): for an item
// that the stream accepted but that is within about a kilobyte of the
// server's max_payload, the copy is refused by the client (nats: maximum
// payload exceeded). deadLetter then hands the item back with a nak
// delayed by MaxBackoff, forever: the handler is called again and again,
// far past MaxDeliveries, and the item never reaches the dead letters.
// The same path (bridge.reject) loops for an at-least-once event near the
// max payload.
//
// Fix: when the copy would exceed the connection's MaxPayload, shorten
// the Sprag-Error header and, if needed, store the dead letter with a
// truncated payload (and a header saying so), or terminate the message
// anyway and log it, rather than retrying it forever.
func TestFaultRegressQueueItemNearTheMaxPayloadIsNeverDeadLettered(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	var calls atomic.Int64
	w := &bigWorker{node: n,
		handler: func(context.Context, string) error {
			calls.Add(1)
			return errors.New("rejected by the mail server: " + strings.Repeat("e", 500))
		},
		opts: []cluster.QueueOption{cluster.MaxDeliveries(1), cluster.Backoff(50*time.Millisecond, 100*time.Millisecond), cluster.AckWait(2 * time.Second)},
	}
	spragtest.Start(t, "a-worker", w)
	item := strings.Repeat("x", int(n.Conn().MaxPayload())-300) // stored with its headers, under the max payload
	require.NoError(t, w.q.Push(context.Background(), item), "the stream accepts the item")

	eventually(t, 5*time.Second, func() bool { return calls.Load() > 1 || w.q.Stats().Dead == 1 },
		"the item is dead-lettered or handled again")
	assert.Equal(t, int64(1), calls.Load(), "MaxDeliveries(1): the handler ran once")
	assert.Equal(t, int64(1), w.q.Stats().Dead, "the item went to the dead letters")
	holds(t, 500*time.Millisecond, func() bool { return calls.Load() == 1 }, "the handler does not run again")

	js, err := jetstream.New(n.Conn())
	require.NoError(t, err)
	dead, err := js.Stream(context.Background(), "SPRAG_DEAD")
	require.NoError(t, err)
	letter, err := dead.GetLastMsgForSubject(context.Background(), "sprag.dead.q.big")
	require.NoError(t, err)
	assert.Empty(t, letter.Data, "kept without its payload")
	assert.Equal(t, strconv.Itoa(len(item)+2), letter.Header.Get(cluster.HeaderPayloadDropped), "whose size (its JSON, quotes included) the header gives")
	assert.Contains(t, letter.Header.Get(cluster.HeaderError), "rejected by the mail server")
}

// TestFaultRegressEmitInFlightAtStopIsSilentlyLost: an at-least-once emit
// returns nil only once the stream stored the event or the node buffered
// it, and a node that stops "publishes what the buffer holds until ctx
// ends and counts the rest as lost" (bridge.close; Stats.Lost: "buffered
// events never published: refused by the engine, or left at stop"). An
// emit whose publish is waiting for the stream's answer when Stop arrives
// fails once the connection drains (a transient error): publishDurable
// then buffers it after close has taken the buffer, and the emit returns
// nil. The event is neither published nor counted as lost: it stays in a
// buffer that nothing will ever flush (Stats().Buffered == 1 after the
// stop, Lost == 0).
//
// Fix: once the bridge is closing, publishDurable must not buffer: return
// an error wrapping sprag.ErrNotRunning (or ErrDisconnected), or count the
// event as lost; e.g. an outbox that refuses add after takeAll.
func TestFaultRegressEmitInFlightAtStopIsSilentlyLost(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, rtA := startNode(t, srv.URL(), "a", atLeastOnce(), cluster.PublishTimeout(3*time.Second))
	// Keep the publish waiting: the events stream is gone and a silent
	// subscriber takes its subjects, so no answer and no "no responders".
	js := engine(t, srv.URL())
	require.NoError(t, js.DeleteStream(context.Background(), "SPRAG_EVENTS"))
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	sink, err := nc.SubscribeSync("sprag.al.>")
	require.NoError(t, err)
	require.NoError(t, nc.Flush())

	emitted := make(chan error, 1)
	go func() { emitted <- orderCompleted.Emit(context.Background(), rtA.Bus, Order{ID: 1}) }()
	_, err = sink.NextMsg(5 * time.Second)
	require.NoError(t, err, "the emit's publish is in flight")
	// The stop waits for the emit's publish (PublishTimeout), then tries
	// to publish what it buffered until its deadline: the engine never
	// answers, so the event is lost, and the stop says so.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	stopErr := a.Stop(ctx)
	t.Logf("stop: %v", stopErr)
	var emitErr error
	select {
	case emitErr = <-emitted:
	case <-time.After(10 * time.Second):
		t.Fatal("the emit does not return")
	}
	<-a.Done() // the cleanup, past the stop's deadline, has counted the event
	st := a.Stats()
	t.Logf("emit: %v; stats after the stop: %+v", emitErr, st)
	if emitErr == nil {
		assert.Equal(t, int64(1), st.Lost, "an event the emitter was told is kept, not published by the stop, is counted as lost")
	}
	assert.Zero(t, st.Buffered, "nothing is left in a buffer nobody flushes")
}

// TestFaultRegressForeignSubjectStopsTheDeliveriesOfADeclaration: a message
// on the events stream whose subject is no topic's (here an escape of a
// plain character, "a%41", which TopicOf refuses) is meant to go to the
// dead letters (natsTransport.jsDelivery dead-letters it "The subject is
// no topic's: nothing can handle it"). But when that dead letter
// succeeds, jsDelivery returns a nil delivery with a nil error, jsInbox.
// next hands it out, and jsInbox.Next's d.(Delivery) panics ("interface
// conversion: interface is nil, not cluster.Delivery"). The panic ends the
// declaration's delivery task (the service logs "task panicked") and
// nothing restarts it: the replica receives no event of that declaration
// any more, silently. Any publisher of the account (another app, an older
// version) can trigger it.
//
// Fix: jsInbox.next must skip a message when wrap returns a nil value
// (e.g. `if d == nil || err != nil { continue }`), and jsDelivery should
// return a non-nil error after dead-lettering, as Queue.wrap does.
func TestFaultRegressForeignSubjectStopsTheDeliveriesOfADeclaration(t *testing.T) {
	srv := clustertest.StartServer(t)
	orders := cluster.Distribute[any]("order:*", cluster.AtLeastOnce(cluster.AckWait(2*time.Second)))
	_, rtA := startNode(t, srv.URL(), "a", orders)
	_, rtB := startNode(t, srv.URL(), "b", orders)
	var got spragtest.Collector[string]
	_, err := rtB.Bus.Listen("order:*", func(ctx context.Context, p any) error {
		got.Add(p.(string))
		return nil
	})
	require.NoError(t, err)
	js := engine(t, srv.URL())
	_, err = js.PublishMsg(context.Background(), &nats.Msg{Subject: "sprag.al.order.a%41", Data: []byte(`"foreign"`),
		Header: nats.Header{cluster.HeaderCodec: {"json"}, cluster.HeaderOrigin: {"x"}}})
	require.NoError(t, err)
	dead := deadLetters(t, srv.URL(), 1)
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), "cannot decode", "the foreign message is dead-lettered")

	require.NoError(t, rtA.Bus.Emit(context.Background(), "order:shipped", "after"))
	eventually(t, 10*time.Second, func() bool { return got.Len() == 1 }, "b still gets the events of order:* after the foreign message")
	assert.Equal(t, []string{"after"}, got.All())
}

// TestFaultRegressEmptyURLStartsAnEmbeddedServerInATempDir: "Given both, the
// URL wins; given neither, cluster.New fails with an error wrapping
// sprag.ErrInvalidArgument" (docs/cluster.md). cluster.URL("") — what
// cluster.URL(os.Getenv("NATS_URL")) gives when the variable is unset —
// counts as a URL for the check, so New succeeds; then connect joins the
// URLs into "" and, taking that for "no URL", starts an embedded server
// with an empty store dir, which nats-server replaces by
// $TMPDIR/nats/jetstream (it logs "Temporary storage directory used, data
// could be lost on system reboot"), a directory shared by every process
// that does the same. The replica runs alone, with its events, queue
// items and leases in a temporary directory, instead of failing fast.
//
// Fix: drop empty (after trimming) URLs in URL or validate, and refuse a
// config whose URLs are all empty, as for no URL at all.
func TestFaultRegressEmptyURLStartsAnEmbeddedServerInATempDir(t *testing.T) {
	// Only New is called: starting the node would write to $TMPDIR/nats.
	_, err := cluster.New(cluster.URL(""), cluster.Replica("a"))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument, "an empty URL and no DataDir is neither a server nor a directory")
}

// TestFaultRegressRenewAcceptsALeaseNameThatIsNoKey: the Lease contract says
// "Renew succeeds only for the lease's current grant, and returns a new
// one; a grant that expired, was released, or was superseded is lost".
// The node's engine renews with a raw publish on "$KV.<bucket>.<name>.lease"
// and checks the name nowhere (Acquire, Release and Claim go through the
// key-value API, which refuses invalid keys). A grant named "*" — which
// Acquire refuses ("nats: invalid key") — is renewed: the server takes the
// wildcard subject as a filter for the expected-last-sequence check, finds
// another lease's revision there, and stores a message under the subject
// "$KV.SPRAG_LEASES.*.lease" in the bucket. A grant with an empty name is
// reported as ErrDisconnected ("no response from stream"), which means
// "the engine cannot be reached now", after a round trip.
//
// Fix: validate g.Name in Renew (as the KV API validates keys) and fail
// with an error wrapping sprag.ErrInvalidArgument.
func TestFaultRegressRenewAcceptsALeaseNameThatIsNoKey(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, _ := startNode(t, srv.URL(), "a")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := a.Leases().Acquire(ctx, "job", 10*time.Second)
	require.NoError(t, err)

	_, err = a.Leases().Acquire(ctx, "*", 10*time.Second)
	require.Error(t, err, "no lease can be named *")
	_, err = a.Leases().Renew(ctx, cluster.Grant{Name: "*", Holder: "a", Revision: g.Revision}, 10*time.Second)
	require.Error(t, err, "a grant of a lease that cannot exist is not renewed")

	_, err = a.Leases().Renew(ctx, cluster.Grant{Holder: "a", Revision: g.Revision}, 10*time.Second)
	require.Error(t, err)
	require.NotErrorIs(t, err, cluster.ErrDisconnected, "a grant without a name is a bad argument, not a disconnection: %v", err)
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)

	s, err := a.JetStream().Stream(ctx, "KV_SPRAG_LEASES")
	require.NoError(t, err)
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("$KV.SPRAG_LEASES.>"))
	require.NoError(t, err)
	msgs := 0
	for subj := range info.State.Subjects {
		if strings.Contains(subj, "*") {
			msgs++
		}
	}
	assert.Zero(t, msgs, "nothing is stored under a wildcard subject in the bucket: %v", info.State.Subjects)
}

// TestFaultRegressAtMostOnceUndecodableCountsAsDeadLettered: Stats.Dead counts
// "deliveries moved to the dead letters", and the bridge logs "event
// dead-lettered". For an at-most-once event that the codec cannot decode
// (here a replica that declares the topic with another payload type),
// bridge.reject calls coreDelivery.Reject, which does nothing, then counts
// and logs a dead letter: the event is dropped, no dead letter exists (the
// replica, having no at-least-once topic, has not even a dead-letter
// stream), yet Stats().Dead == 1 and the log says it was dead-lettered.
//
// Fix: for ModeAtMostOnce, count the undecodable event as dropped (or a
// counter of its own) and log it as dropped, not dead-lettered.
func TestFaultRegressAtMostOnceUndecodableCountsAsDeadLettered(t *testing.T) {
	srv := clustertest.StartServer(t)
	_, rtA := startNode(t, srv.URL(), "a", cluster.Distribute[any]("t", cluster.AtMostOnce()))
	b, rtB := startNode(t, srv.URL(), "b", cluster.Distribute[Order]("t", cluster.AtMostOnce()))
	_, err := rtB.Bus.Listen("t", func(context.Context, any) error { return nil })
	require.NoError(t, err)
	require.NoError(t, rtA.Bus.Emit(context.Background(), "t", "not an order"))
	require.NoError(t, rtA.Bus.Emit(context.Background(), "t", map[string]any{"id": 2}))
	// Core NATS keeps one publisher's order: once b delivered the second
	// event, it has handled the first.
	eventually(t, 5*time.Second, func() bool { return b.Stats().Delivered == 1 }, "b delivers the valid event")
	_, err = b.JetStream().Stream(context.Background(), "SPRAG_DEAD")
	require.ErrorIs(t, err, jetstream.ErrStreamNotFound, "there are no dead letters to move it to")
	assert.Zero(t, b.Stats().Dead, "Stats.Dead counts deliveries moved to the dead letters: none was")
}
