package cluster_test

// Faults and misuse that the package handles as documented.

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/spragtest"
)

// TestFaultServerRestartWhileEventsItemsAndTicksAreInFlight: the NATS
// server is shut down and restarted on its data directory while a
// replica emits at-least-once events (some while the server goes down),
// pushes queue items and runs a singleton job. Emits made during the
// outage are buffered and published after the reconnect, pushes wait for
// the engine, and nothing is lost: the other replica gets every event
// whose emit returned nil, every item is handled, and the job runs again,
// each tick once.
func TestFaultServerRestartWhileEventsItemsAndTicksAreInFlight(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, rtA := startNode(t, srv.URL(), "a", atLeastOnce())
	b, rtB := startNode(t, srv.URL(), "b", atLeastOnce())
	var got received
	got.listen(t, rtB.Bus, nil)
	var h handled
	var log runLog
	for _, n := range []*cluster.Node{a, b} {
		name := n.ReplicaName()
		w := &worker{node: n, workers: 2, opts: fastRetry, handler: func(_ context.Context, item int) error {
			h.add(name, item)
			return nil
		}}
		spragtest.Start(t, name+"-worker", w)
		job := &replicaJob{leases: n.Leases(), fn: log.quick(name), period: 500 * time.Millisecond,
			opts: []cluster.SingletonOption{cluster.LeaseTTL(2 * time.Second)}}
		spragtest.Start(t, name+"-job", job)
	}
	q, err := cluster.NewQueue[int](context.Background(), a, "jobs", fastRetry...)
	require.NoError(t, err)

	ctx := context.Background()
	emit(ctx, t, rtA, seq(1, 10)...)
	for i := 1; i <= 10; i++ {
		require.NoError(t, q.Push(ctx, i))
	}
	eventually(t, 10*time.Second, func() bool { return len(log.all()) >= 2 }, "the job runs")

	// An emitter that goes on while the server goes down and comes back.
	var accepted spragtest.Collector[int]
	stopEmitting := make(chan struct{})
	emitting := make(chan struct{})
	go func() {
		defer close(emitting)
		for id := 1000; id < 1200; id++ {
			select {
			case <-stopEmitting:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if err := orderCompleted.Emit(ctx, rtA.Bus, Order{ID: id}); err == nil {
				accepted.Add(id)
			}
		}
	}()
	var stopOnce sync.Once
	stopEmitter := func() { stopOnce.Do(func() { close(stopEmitting) }); <-emitting }
	defer stopEmitter()
	eventually(t, 5*time.Second, func() bool { return accepted.Len() >= 20 }, "the emitter runs")

	srv.Shutdown()
	eventually(t, 5*time.Second, func() bool { return !a.Stats().Connected && !b.Stats().Connected }, "both replicas see the outage")
	emit(ctx, t, rtA, seq(11, 20)...) // buffered: the emits return at once
	// The emitter's emits in the outage may be buffered as well.
	assert.GreaterOrEqual(t, a.Stats().Buffered, 10)
	pushed := make(chan error, 1)
	go func() {
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		for i := 11; i <= 20; i++ {
			if err := q.Push(pctx, i); err != nil {
				pushed <- err
				return
			}
		}
		pushed <- nil
	}()
	// A TryPush does not wait for the engine.
	require.ErrorIs(t, q.TryPush(99), cluster.ErrDisconnected)
	require.ErrorIs(t, b.Health(ctx), cluster.ErrDisconnected)
	restarted := time.Now()
	srv.Restart()

	require.NoError(t, <-pushed, "the pushes made during the outage are stored after it")
	// An emit whose publish the shutdown cut waits for PublishTimeout (5s),
	// then is buffered: the emitter resumes after that.
	eventually(t, 12*time.Second, func() bool { return accepted.Len() >= 150 }, "the emitter goes on after the restart")
	stopEmitter()
	want := append(seq(1, 20), accepted.All()...)
	eventually(t, 15*time.Second, func() bool { return a.Stats().Buffered == 0 }, "a publishes what it buffered")
	eventually(t, 15*time.Second, func() bool {
		counts := got.counts()
		for _, id := range want {
			if counts[id] == 0 {
				return false
			}
		}
		return true
	}, "b gets every event whose emit returned nil")
	t.Logf("%d events accepted; b got %d distinct, %d deliveries; a's stats %+v", len(want), len(got.counts()), got.len(), a.Stats())
	eventually(t, 15*time.Second, func() bool { items, _ := h.count(); return items == 20 }, "every item is handled")
	eventually(t, 10*time.Second, func() bool {
		runs := log.all()
		return runs[len(runs)-1].start.After(restarted)
	}, "the job runs again after the restart")
	checkOncePerTick(t, log.all())
	require.NoError(t, a.Health(ctx))
	assert.Positive(t, a.Stats().Reconnects)
}

// TestFaultListenerBlockingPastAckWaitKeepsItsEvent: a listener of an
// at-least-once topic that runs three times longer than AckWait keeps its
// event: the replica tells the engine it is alive every third of AckWait,
// so the event is neither redelivered nor handed to another member of the
// group meanwhile, and it is acknowledged once the listener returns.
func TestFaultListenerBlockingPastAckWaitKeepsItsEvent(t *testing.T) {
	srv := clustertest.StartServer(t)
	js := engine(t, srv.URL())
	shared := cluster.DistributeTopic(orderCompleted, cluster.AtLeastOnce(cluster.Shared("billing"), cluster.AckWait(2*time.Second),
		cluster.Backoff(50*time.Millisecond, 200*time.Millisecond)))
	emitter, rtE := startNode(t, srv.URL(), "web", shared)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // also when an assertion fails: the stops do not wait for the listener
	var calls atomic.Int32
	for _, name := range []string{"w1", "w2"} {
		_, rt := startNode(t, srv.URL(), name, shared)
		_, err := orderCompleted.Listen(rt.Bus, func(ctx context.Context, o Order) error {
			calls.Add(1)
			<-release
			return nil
		})
		require.NoError(t, err)
	}
	emit(context.Background(), t, rtE, 1)
	published(t, emitter, 1)
	eventually(t, 5*time.Second, func() bool { return calls.Load() == 1 }, "a member takes the event")
	holds(t, 6*time.Second, func() bool { return calls.Load() == 1 }, "nobody gets the event again while its listener runs")
	unblock()
	info := settled(t, js, "group_billing")
	assert.Equal(t, uint64(1), info.Delivered.Consumer, "delivered once")
	assert.Equal(t, int32(1), calls.Load())
}

// TestFaultStopWhilePushesWait: a Push that waits for room in a full
// queue, or for the engine while it cannot be reached, returns an error
// wrapping sprag.ErrNotRunning once the node stops, rather than waiting
// for its context.
func TestFaultStopWhilePushesWait(t *testing.T) {
	srv := clustertest.StartServer(t)
	proxy := clustertest.NewProxy(t, srv.URL())
	full, _ := startNode(t, srv.URL(), "full")
	cut, _ := startNode(t, proxy.URL(), "cut")
	ctx := context.Background()
	qFull, err := cluster.NewQueue[int](ctx, full, "small", cluster.Capacity(1))
	require.NoError(t, err)
	require.NoError(t, qFull.Push(ctx, 1))
	require.ErrorIs(t, qFull.TryPush(2), queue.ErrFull)
	qCut, err := cluster.NewQueue[int](ctx, cut, "jobs")
	require.NoError(t, err)
	proxy.Cut()
	eventually(t, 5*time.Second, func() bool { return !cut.Stats().Connected }, "cut sees the cut")

	results := make(chan error, 2)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	go func() { results <- qFull.Push(pctx, 2) }()
	go func() { results <- qCut.Push(pctx, 2) }()
	// Both pushes wait: neither returns while the nodes run.
	holds(t, 500*time.Millisecond, func() bool { return len(results) == 0 }, "the pushes wait")
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	require.NoError(t, full.Stop(sctx))
	require.NoError(t, cut.Stop(sctx))
	for range 2 {
		select {
		case err := <-results:
			require.ErrorIs(t, err, sprag.ErrNotRunning)
			require.NoError(t, pctx.Err(), "the push did not wait for its context")
		case <-time.After(5 * time.Second):
			t.Fatal("a push still waits after its node stopped")
		}
	}
}

// failingCodec fails to encode the payload "bad" and to decode anything
// that is not JSON.
type failingCodec struct{}

func (failingCodec) Name() string { return "failing" }
func (failingCodec) Marshal(v any) ([]byte, error) {
	if v == "bad" {
		return nil, errors.New("cannot encode bad")
	}
	return cluster.JSON().Marshal(v)
}
func (failingCodec) Unmarshal(data []byte, v any) error { return cluster.JSON().Unmarshal(data, v) }

// TestFaultCodecThatCannotEncode: a payload the codec cannot encode
// fails the emit, of either guarantee, and the push, with the codec's
// error: nothing is published or stored, the local listeners still ran,
// and the node goes on working.
func TestFaultCodecThatCannotEncode(t *testing.T) {
	srv := clustertest.StartServer(t)
	opts := []cluster.Option{
		cluster.WithCodec(failingCodec{}),
		cluster.Distribute[any]("amo", cluster.AtMostOnce()),
		cluster.Distribute[any]("alo", cluster.AtLeastOnce(cluster.AckWait(2*time.Second))),
	}
	a, rtA := startNode(t, srv.URL(), "a", opts...)
	_, rtB := startNode(t, srv.URL(), "b", opts...)
	var local, remote spragtest.Collector[any]
	for _, topic := range []string{"amo", "alo"} {
		_, err := rtA.Bus.Listen(topic, func(_ context.Context, p any) error { local.Add(p); return nil })
		require.NoError(t, err)
		_, err = rtB.Bus.Listen(topic, func(_ context.Context, p any) error { remote.Add(p); return nil })
		require.NoError(t, err)
	}
	ctx := context.Background()
	for _, topic := range []string{"amo", "alo"} {
		err := rtA.Bus.Emit(ctx, topic, "bad")
		require.Error(t, err, "%s", topic)
		assert.Contains(t, err.Error(), "cannot encode bad")
		assert.Contains(t, err.Error(), topic, "the error names the topic")
	}
	// NaN is a payload JSON cannot encode.
	require.Error(t, rtA.Bus.Emit(ctx, "alo", math.NaN()))
	assert.Equal(t, 3, local.Len(), "the local listeners ran")
	assert.Zero(t, a.Stats().Published)
	assert.Zero(t, a.Stats().Buffered)

	q, err := cluster.NewQueue[string](ctx, a, "mail")
	require.NoError(t, err)
	require.ErrorContains(t, q.Push(ctx, "bad"), "cannot encode bad")
	require.ErrorContains(t, q.TryPush("bad"), "cannot encode bad")
	backlog, err := q.Backlog(ctx)
	require.NoError(t, err)
	assert.Zero(t, backlog, "nothing was stored")
	assert.Zero(t, q.Stats().Pushed)

	require.NoError(t, rtA.Bus.Emit(ctx, "alo", "good"))
	require.NoError(t, q.Push(ctx, "good"))
	eventually(t, 10*time.Second, func() bool { return remote.Len() == 1 }, "b gets the next event")
	assert.Equal(t, []any{"good"}, remote.All())
}

// TestFaultPayloadsOverTheMaxPayload: a payload over the server's
// max_payload fails the emit of either guarantee, and the push, at once,
// with the client's error: the emitter learns it, the node neither drops
// it silently nor buffers it, and stays connected. A payload at the max
// payload travels at most once (its subject carries the codec and origin,
// so the message has no headers).
func TestFaultPayloadsOverTheMaxPayload(t *testing.T) {
	srv := clustertest.StartServer(t)
	opts := []cluster.Option{
		cluster.Distribute[string]("amo", cluster.AtMostOnce()),
		cluster.Distribute[string]("alo", cluster.AtLeastOnce(cluster.AckWait(2*time.Second))),
	}
	a, rtA := startNode(t, srv.URL(), "a", opts...)
	_, rtB := startNode(t, srv.URL(), "b", opts...)
	var remote spragtest.Collector[int]
	for _, topic := range []string{"amo", "alo"} {
		_, err := rtB.Bus.Listen(topic, func(_ context.Context, p any) error { remote.Add(len(p.(string))); return nil })
		require.NoError(t, err)
	}
	maxPayload := int(a.Conn().MaxPayload())
	over := strings.Repeat("x", maxPayload) // with its JSON quotes, two bytes over
	ctx := context.Background()
	for _, topic := range []string{"amo", "alo"} {
		start := time.Now()
		err := rtA.Bus.Emit(ctx, topic, over)
		require.ErrorIs(t, err, nats.ErrMaxPayload, "%s", topic)
		require.NotErrorIs(t, err, cluster.ErrDisconnected)
		assert.Less(t, time.Since(start), time.Second, "%s fails at once", topic)
	}
	st := a.Stats()
	assert.Zero(t, st.Dropped+st.Published+int64(st.Buffered), "neither dropped, published nor buffered: %+v", st)

	q, err := cluster.NewQueue[string](ctx, a, "big")
	require.NoError(t, err)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.ErrorIs(t, q.Push(pctx, over), nats.ErrMaxPayload, "Push does not wait for a payload that can never fit")
	require.NoError(t, pctx.Err())
	require.ErrorIs(t, q.TryPush(over), nats.ErrMaxPayload)

	at := strings.Repeat("x", maxPayload-2)
	require.NoError(t, rtA.Bus.Emit(ctx, "amo", at))
	require.NoError(t, rtA.Bus.Emit(ctx, "alo", "small"))
	eventually(t, 10*time.Second, func() bool { return remote.Len() == 2 }, "b gets the events that fit")
	assert.ElementsMatch(t, []int{maxPayload - 2, len("small")}, remote.All())
	require.NoError(t, a.Health(ctx))
}

// TestFaultTopicsWithOddCharactersAndCase: topics that differ in case
// only, or hold characters escaped on the subject (dots, spaces, '%',
// non-ASCII letters), or are long, travel to the listeners of exactly
// that topic, and patterns match them segment by segment as on the bus.
func TestFaultTopicsWithOddCharactersAndCase(t *testing.T) {
	srv := clustertest.StartServer(t)
	decl := cluster.Distribute[string]("*", cluster.AtLeastOnce(cluster.AckWait(2*time.Second)))
	_, rtA := startNode(t, srv.URL(), "a", decl)
	b, rtB := startNode(t, srv.URL(), "b", decl)
	long := strings.Repeat("é", 500) // 3000 bytes once escaped, under the server's limit
	topics := []string{"Order:Completed", "order:completed", "ORDER:completed", "v1.0:état", "a b:c%d", "x>y:*z", "日本:語", "order:" + long}
	type hit struct{ listener, payload string }
	var hits spragtest.Collector[hit]
	for _, name := range append(append([]string{}, topics...), "order:*", "Order:*") {
		if strings.HasSuffix(name, ":*z") {
			continue // not a valid pattern: '*' shares its segment
		}
		_, err := rtB.Bus.Listen(name, func(ctx context.Context, p any) error {
			if _, remote := cluster.Origin(ctx); remote {
				hits.Add(hit{name, p.(string)})
			}
			return nil
		})
		require.NoError(t, err, name)
	}
	for _, topic := range topics {
		err := rtA.Bus.Emit(context.Background(), topic, topic)
		if strings.Contains(topic, "*") {
			require.ErrorIs(t, err, eventbus.ErrInvalidTopic, "a topic with '*' is refused")
			continue
		}
		require.NoError(t, err, topic)
	}
	want := []hit{
		{"Order:Completed", "Order:Completed"}, {"Order:*", "Order:Completed"},
		{"order:completed", "order:completed"}, {"order:*", "order:completed"},
		{"ORDER:completed", "ORDER:completed"},
		{"v1.0:état", "v1.0:état"}, {"a b:c%d", "a b:c%d"}, {"日本:語", "日本:語"},
		{"order:" + long, "order:" + long}, {"order:*", "order:" + long},
	}
	eventually(t, 10*time.Second, func() bool { return hits.Len() >= len(want) }, "b gets every event")
	eventually(t, 10*time.Second, func() bool { return b.Stats().Delivered == 7 }, "b acknowledges them")
	assert.ElementsMatch(t, want, hits.All(), "each event reaches the listeners of its topic and the patterns that match it, in its case")
	assert.Zero(t, b.Stats().Dead+b.Stats().Retried)
}

// TestFaultNodeLifecycleMisuse: a node stopped twice stops once; a
// stopped node does not start again; after its stop, leases, queues and
// emits behave as documented (sprag.ErrNotRunning, local listeners only);
// a node used before its start answers without panicking.
func TestFaultNodeLifecycleMisuse(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, err := cluster.New(cluster.URL(srv.URL()), cluster.Replica("a"), atLeastOnce())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Before Bind and Start.
	_, err = n.Leases().Acquire(ctx, "job", 2*time.Second)
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	_, err = cluster.NewQueue[int](ctx, n, "jobs")
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	require.NoError(t, n.StopDelivering(ctx))
	assert.Equal(t, cluster.Stats{}, n.Stats())

	rt := spragtest.Runtime(t)
	require.NoError(t, sprag.Bind(n, "a", rt))
	require.NoError(t, n.Start(ctx))
	require.NoError(t, n.Start(ctx), "a second start returns the first's result")
	q, err := cluster.NewQueue[int](ctx, n, "jobs")
	require.NoError(t, err)
	var got received
	got.listen(t, rt.Bus, nil)
	require.NoError(t, n.Stop(ctx))
	require.NoError(t, n.Stop(ctx), "a second stop does nothing")
	require.ErrorIs(t, n.Start(ctx), sprag.ErrStopped, "a stopped node does not start again")

	_, err = n.Leases().Acquire(ctx, "job", 2*time.Second)
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	_, err = cluster.NewQueue[int](ctx, n, "jobs")
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	require.ErrorIs(t, q.Push(ctx, 1), sprag.ErrNotRunning)
	require.ErrorIs(t, q.TryPush(1), sprag.ErrNotRunning)
	_, _, err = q.Pull(ctx)
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	emit(ctx, t, rt, 1)
	assert.Equal(t, 1, got.len(), "the local listener runs")
	assert.Zero(t, n.Stats().Published+int64(n.Stats().Buffered), "and the emit is neither published nor buffered")
}

// TestFaultAPIMisuseGivesClearErrors: nil and zero arguments and invalid
// durations are refused with errors wrapping sprag.ErrInvalidArgument,
// never a panic.
func TestFaultAPIMisuseGivesClearErrors(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	noop := func(context.Context, cluster.Run) error { return nil }
	svc := &replicaJob{leases: n.Leases(), fn: noop}
	spragtest.Start(t, "svc", svc)

	for name, f := range map[string]func() error{
		"New(nil option)": func() error { _, err := cluster.New(nil); return err },
		"New(negative AckWait)": func() error {
			_, err := cluster.New(cluster.URL(srv.URL()), cluster.Distribute[any]("t", cluster.AtLeastOnce(cluster.AckWait(-time.Second))))
			return err
		},
		"New(zero MaxBackoff)": func() error {
			_, err := cluster.New(cluster.URL(srv.URL()), cluster.Distribute[any]("t", cluster.AtLeastOnce(cluster.Backoff(time.Second, 0))))
			return err
		},
		"New(negative retention)": func() error {
			_, err := cluster.New(cluster.URL(srv.URL()), cluster.Retention(-time.Hour, time.Hour))
			return err
		},
		"New(negative timeout)": func() error {
			_, err := cluster.New(cluster.URL(srv.URL()), cluster.PublishTimeout(-time.Second))
			return err
		},
		"NewQueue(nil node)":        func() error { _, err := cluster.NewQueue[int](ctx, nil, "q"); return err },
		"NewQueue(empty name)":      func() error { _, err := cluster.NewQueue[int](ctx, n, ""); return err },
		"NewQueue(AckWait 0)":       func() error { _, err := cluster.NewQueue[int](ctx, n, "q", cluster.AckWait(0)); return err },
		"NewQueue(MaxDeliveries 0)": func() error { _, err := cluster.NewQueue[int](ctx, n, "q", cluster.MaxDeliveries(0)); return err },
		"NewQueue(negative backoff)": func() error {
			_, err := cluster.NewQueue[int](ctx, n, "q", cluster.Backoff(-time.Second, time.Second))
			return err
		},
		"Singleton(nil service)": func() error { _, err := cluster.Singleton(nil, n.Leases(), "j", time.Second, noop); return err },
		"Singleton(nil leases)":  func() error { _, err := cluster.Singleton(svc, nil, "j", time.Second, noop); return err },
		"Singleton(nil fn)":      func() error { _, err := cluster.Singleton(svc, n.Leases(), "j", time.Second, nil); return err },
		"Singleton(zero period)": func() error { _, err := cluster.Singleton(svc, n.Leases(), "j", 0, noop); return err },
		"Singleton(negative TTL)": func() error {
			_, err := cluster.Singleton(svc, n.Leases(), "j", time.Second, noop, cluster.LeaseTTL(-time.Second))
			return err
		},
		"Singleton(negative margin)": func() error {
			_, err := cluster.Singleton(svc, n.Leases(), "j", time.Second, noop, cluster.LeaseMargin(-time.Second))
			return err
		},
		"Singleton(negative record)": func() error {
			_, err := cluster.Singleton(svc, n.Leases(), "j", time.Second, noop, cluster.TickRecord(-time.Second))
			return err
		},
		"Acquire(zero TTL)":     func() error { _, err := n.Leases().Acquire(ctx, "j", 0); return err },
		"Acquire(negative TTL)": func() error { _, err := n.Leases().Acquire(ctx, "j", -time.Second); return err },
		"Renew(fractional TTL)": func() error {
			_, err := n.Leases().Renew(ctx, cluster.Grant{Name: "j", Revision: 1}, 1500*time.Millisecond)
			return err
		},
	} {
		var err error
		require.NotPanics(t, func() { err = f() }, name)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument, name)
	}
	// Nil options are skipped.
	_, err := cluster.NewQueue[int](ctx, n, "q", nil)
	require.NoError(t, err)
	_, err = cluster.Singleton(svc, n.Leases(), "j", time.Second, noop, nil)
	require.NoError(t, err)
	assert.Equal(t, cluster.AtLeastOnce(), cluster.AtLeastOnce(nil))
}

// member is a replica of the churn test: a node behind its own proxy and
// a service that runs the job.
type member struct {
	name  string
	proxy *clustertest.Proxy
	node  *cluster.Node
	job   *replicaJob
}

// heal restores the connection of a member that was cut off: it comes
// back, finds its lease lost, and must not run the job meanwhile.
func (m *member) heal(t *testing.T) {
	t.Helper()
	m.proxy.Restore()
	eventually(t, 5*time.Second, func() bool { return m.node.Health(context.Background()) == nil }, "%s reconnects", m.name)
}

// stop stops the member's job and node.
func (m *member) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.job.Stop(ctx))
	require.NoError(t, m.node.Stop(ctx))
}

// TestFaultSingletonChurn: replicas join and leave while a singleton job
// runs on NATS: the holder is cut off (as dead: it can neither renew nor
// release), comes back and leaves; the next holder stops cleanly; the
// next is cut off again; new replicas join meanwhile. At no time do two
// replicas run the job, no tick runs twice, and after each loss another
// replica runs the job within the documented bound, LeaseTTL + period +
// 1.5s (the next tick, after a clean stop).
func TestFaultSingletonChurn(t *testing.T) {
	srv := clustertest.StartServer(t)
	const (
		period = 500 * time.Millisecond
		ttl    = 2 * time.Second
		bound  = ttl + period + 1500*time.Millisecond
	)
	var log runLog
	var running, overlaps atomic.Int32
	var mu sync.Mutex
	members := map[string]*member{}
	join := func(name string) {
		t.Helper()
		m := &member{name: name, proxy: clustertest.NewProxy(t, srv.URL())}
		n, err := cluster.New(cluster.URL(m.proxy.URL()), cluster.Replica(name))
		require.NoError(t, err)
		rt := spragtest.Runtime(t)
		require.NoError(t, sprag.Bind(n, name, rt))
		m.job = &replicaJob{leases: n.Leases(), period: period, opts: []cluster.SingletonOption{cluster.LeaseTTL(ttl)},
			fn: func(ctx context.Context, r cluster.Run) error {
				if running.Add(1) > 1 {
					overlaps.Add(1)
				}
				defer running.Add(-1)
				start := time.Now()
				select { // work for a while, not past the run's deadline
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
				}
				log.add(runRecord{replica: name, run: r, start: start, end: time.Now()})
				return nil
			}}
		require.NoError(t, sprag.Bind(m.job, name+"-job", rt))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, n.Start(ctx))
		require.NoError(t, m.job.Start(ctx))
		m.node = n
		mu.Lock()
		members[name] = m
		mu.Unlock()
		t.Cleanup(func() { // stops what the test did not
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_ = m.job.Stop(ctx)
			_ = n.Stop(ctx)
		})
	}
	holder := func() *member {
		runs := log.all()
		mu.Lock()
		defer mu.Unlock()
		return members[runs[len(runs)-1].replica]
	}
	nextRunElsewhere := func(after time.Time, not string, within time.Duration, what string) {
		t.Helper()
		var first *runRecord
		eventually(t, within+2*time.Second, func() bool {
			for _, r := range log.all() {
				if r.start.After(after) && r.replica != not {
					first = &r
					return true
				}
			}
			return false
		}, "the job runs again after %s", what)
		assert.LessOrEqual(t, first.start.Sub(after), within, "the job runs again within %v after %s", within, what)
		t.Logf("after %s, %s runs the job %v later", what, first.replica, first.start.Sub(after))
	}

	for _, name := range []string{"m1", "m2", "m3"} {
		join(name)
	}
	eventually(t, 10*time.Second, func() bool { return len(log.all()) >= 3 }, "the job runs")

	// The holder dies: its connection is cut, it can neither renew nor
	// release. A new replica joins.
	h := holder()
	h.proxy.Cut()
	died := time.Now()
	join("m4")
	nextRunElsewhere(died, h.name, bound, h.name+" died")
	h.heal(t)
	h.stop(t)

	// The new holder stops cleanly: it releases its lease, and the next
	// tick runs elsewhere.
	h = holder()
	stopped := time.Now()
	h.stop(t)
	nextRunElsewhere(stopped, h.name, period+1500*time.Millisecond, h.name+" stopped")
	join("m5")

	// The holder dies again.
	h = holder()
	lost := h.job.job.Stats().Lost
	h.proxy.Cut()
	died = time.Now()
	nextRunElsewhere(died, h.name, bound, h.name+" died")
	h.heal(t)
	// Back, the former holder finds its lease taken and runs nothing.
	eventually(t, 5*time.Second, func() bool { return h.job.job.Stats().Lost > lost }, "%s finds its lease lost", h.name)
	for _, r := range log.all() {
		assert.False(t, r.replica == h.name && r.start.After(died), "%s ran the job after it was cut off", h.name)
	}
	h.stop(t)

	assert.Zero(t, overlaps.Load(), "two replicas never run the job at once")
	checkOncePerTick(t, log.all())
	runs := log.all()
	for i := 1; i < len(runs); i++ {
		assert.False(t, runs[i].start.Before(runs[i-1].end), "run %d (%s) starts after run %d (%s) ended", i, runs[i].replica, i-1, runs[i-1].replica)
	}
}

// TestFaultQueueItemHeldAcrossAServerRestart: a worker holds an item
// while the server restarts, for longer than AckWait: once the replica is
// back it tells the engine again that the item is in progress, so the
// item is not redelivered, and done(nil) after the restart removes it.
func TestFaultQueueItemHeldAcrossAServerRestart(t *testing.T) {
	srv := clustertest.StartServer(t)
	var h handled
	hold := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	defer release()
	w := startWorker(t, srv.URL(), "a", func(_ context.Context, item int) error {
		h.add("a", item)
		<-hold
		return nil
	}, 2, cluster.AckWait(2*time.Second))
	ctx := context.Background()
	require.NoError(t, w.q.Push(ctx, 1))
	eventually(t, 5*time.Second, func() bool { return len(h.of(1)) == 1 }, "a worker holds the item")

	srv.Restart()
	eventually(t, 5*time.Second, func() bool { return w.node.Health(ctx) == nil }, "a reconnects")
	holds(t, 3*time.Second, func() bool { return len(h.of(1)) == 1 }, "the item is not delivered again while its worker holds it")
	release()
	eventually(t, 5*time.Second, func() bool { return w.q.Stats().Acked == 1 }, "done(nil) acknowledges the item after the restart")
	backlog, err := w.q.Backlog(ctx)
	require.NoError(t, err)
	assert.Zero(t, backlog)
	s, err := engine(t, srv.URL()).Stream(ctx, "SPRAG_Q_jobs")
	require.NoError(t, err)
	assert.Zero(t, s.CachedInfo().State.Msgs, "the item is removed from the queue")
	assert.Equal(t, []string{"a"}, h.of(1), "handled once")
}

// TestFaultDeadLettersCarryTheirHeaders: an event whose listener fails
// MaxDeliveries times, and a queue item whose handler does, go to the
// dead letters with the documented headers: Sprag-Error, Sprag-Attempts,
// Sprag-Source (stream/consumer/sequence of the original) and
// Sprag-Origin.
func TestFaultDeadLettersCarryTheirHeaders(t *testing.T) {
	srv := clustertest.StartServer(t)
	nodes, rts, got := replicas(t, srv.URL(), []string{"a", "b"}, func(replica string, _ Order, _ int) error {
		if replica == "b" {
			return errors.New("listener refuses")
		}
		return nil
	}, atLeastOnce(cluster.MaxDeliveries(2)))
	emit(context.Background(), t, rts[0], 7)
	dead := deadLetters(t, srv.URL(), 1)
	h := dead[0].Headers()
	assert.Equal(t, "sprag.dead.ev.order.completed", dead[0].Subject())
	assert.Contains(t, h.Get(cluster.HeaderError), "listener refuses")
	assert.Equal(t, "2", h.Get(cluster.HeaderAttempts))
	assert.Equal(t, "a", h.Get(cluster.HeaderOrigin))
	assert.Regexp(t, `^SPRAG_EVENTS/b_[0-9a-f]{8}/1$`, h.Get(cluster.HeaderSource), "stream, b's consumer, stream sequence")
	assert.Equal(t, 2, got[1].len(), "b's listener ran MaxDeliveries times")
	eventually(t, 5*time.Second, func() bool { return nodes[1].Stats().Dead == 1 }, "b counts the dead letter")

	w := &worker{node: nodes[0], workers: 1, opts: append(append([]cluster.QueueOption{}, fastRetry...), cluster.MaxDeliveries(2)),
		handler: func(context.Context, int) error { return errors.New("handler refuses") }}
	spragtest.Start(t, "a-worker", w)
	require.NoError(t, w.q.Push(context.Background(), 5))
	dead = deadLetters(t, srv.URL(), 2)
	h = dead[1].Headers()
	assert.Equal(t, "sprag.dead.q.jobs", dead[1].Subject())
	assert.Contains(t, h.Get(cluster.HeaderError), "handler refuses")
	assert.Equal(t, "2", h.Get(cluster.HeaderAttempts))
	assert.Equal(t, "a", h.Get(cluster.HeaderOrigin))
	assert.Equal(t, "SPRAG_Q_jobs/workers/1", h.Get(cluster.HeaderSource))
	assert.Equal(t, "5", string(dead[1].Data()))
	eventually(t, 5*time.Second, func() bool { return w.q.Stats().Dead == 1 }, "the queue counts the dead letter")
}

// TestFaultQueueNamesDifferingInCase: queues whose names differ in case
// only are distinct queues: an item pushed on one is pulled from it
// alone.
func TestFaultQueueNamesDifferingInCase(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lower, err := cluster.NewQueue[string](ctx, n, "jobs")
	require.NoError(t, err)
	upper, err := cluster.NewQueue[string](ctx, n, "JOBS")
	require.NoError(t, err)
	require.NoError(t, lower.Push(ctx, "lower"))
	require.NoError(t, upper.Push(ctx, "upper"))
	for q, want := range map[*cluster.Queue[string]]string{lower: "lower", upper: "upper"} {
		item, done, err := q.Pull(ctx)
		require.NoError(t, err)
		done(nil)
		assert.Equal(t, want, item, "queue %s", q.Name())
		eventually(t, 5*time.Second, func() bool { return q.Stats().Acked == 1 }, "queue %s acknowledges its item", q.Name())
		backlog, err := q.Backlog(ctx)
		require.NoError(t, err)
		assert.Zero(t, backlog, "queue %s", q.Name())
	}
}
