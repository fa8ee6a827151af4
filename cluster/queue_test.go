package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/spragtest"
)

// worker is a service that consumes the queue "jobs" of its node.
type worker struct {
	sprag.Service
	node    *cluster.Node
	handler func(ctx context.Context, item int) error
	workers int
	opts    []cluster.QueueOption
	qopts   []queue.Option // more options of the queue primitive
	q       *cluster.Queue[int]
}

func (w *worker) OnStart(ctx context.Context) error {
	q, err := cluster.NewQueue[int](ctx, w.node, "jobs", w.opts...)
	if err != nil {
		return err
	}
	w.q = q
	_, err = queue.New(w, w.handler, append([]queue.Option{queue.Workers(w.workers), queue.Label("jobs"), queue.BackedBy[int](q)}, w.qopts...)...)
	return err
}

// handled records which replica handled which item, how many times.
type handled struct {
	mu   sync.Mutex
	by   map[int][]string
	runs int
}

func (h *handled) add(replica string, item int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.by == nil {
		h.by = map[int][]string{}
	}
	h.by[item] = append(h.by[item], replica)
	h.runs++
}

func (h *handled) count() (items, runs int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.by), h.runs
}

func (h *handled) of(item int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.by[item]...)
}

var fastRetry = []cluster.QueueOption{cluster.Backoff(50*time.Millisecond, 200*time.Millisecond), cluster.AckWait(2 * time.Second)}

func startWorker(t *testing.T, url, replica string, h func(ctx context.Context, item int) error, workers int, opts ...cluster.QueueOption) *worker {
	t.Helper()
	n, _ := startNode(t, url, replica)
	w := &worker{node: n, handler: h, workers: workers, opts: append(append([]cluster.QueueOption{}, fastRetry...), opts...)}
	spragtest.Start(t, replica+"-worker", w, spragtest.StopTimeout(10*time.Second))
	return w
}

func TestQueueHandsEachItemToOneReplica(t *testing.T) {
	srv := clustertest.StartServer(t)
	var h handled
	var ws []*worker
	for _, name := range []string{"a", "b", "c"} {
		ws = append(ws, startWorker(t, srv.URL(), name, func(_ context.Context, item int) error {
			h.add(name, item)
			return nil
		}, 2))
	}
	ctx := context.Background()
	for i := range 300 {
		require.NoError(t, ws[i%3].q.Push(ctx, i))
	}
	eventually(t, 20*time.Second, func() bool { items, _ := h.count(); return items == 300 }, "every item is handled")
	backlog, err := ws[0].q.Backlog(ctx)
	require.NoError(t, err)
	assert.Zero(t, backlog)
	// Once the workers have stopped, no handler runs any more: the counts
	// are final.
	for _, w := range ws {
		require.NoError(t, w.Stop(ctx))
	}
	items, runs := h.count()
	assert.Equal(t, 300, items)
	assert.Equal(t, 300, runs, "none twice")
	var acked, pushed int64
	replicasThatWorked := 0
	for _, w := range ws {
		st := w.q.Stats()
		acked, pushed = acked+st.Acked, pushed+st.Pushed
		if st.Acked > 0 {
			replicasThatWorked++
		}
	}
	assert.Equal(t, int64(300), acked)
	assert.Equal(t, int64(300), pushed)
	assert.Greater(t, replicasThatWorked, 1, "the work is shared")
}

// TestQueueStopHandsPrefetchedItemsBack: items a replica pulled ahead of
// its workers go back to the engine when its queue stops (the queue
// primitive's call of Drain), so that another replica handles them at
// once rather than after AckWait; Drain gives the primitive nothing, so
// Overflow never runs.
func TestQueueStopHandsPrefetchedItemsBack(t *testing.T) {
	srv := clustertest.StartServer(t)
	js := engine(t, srv.URL())
	var h handled
	busy, release := make(chan struct{}), make(chan struct{})
	n, _ := startNode(t, srv.URL(), "b")
	var overflowed []int
	b := &worker{node: n, workers: 1, opts: []cluster.QueueOption{cluster.AckWait(30 * time.Second), cluster.Prefetch(8)},
		handler: func(_ context.Context, item int) error {
			h.add("b", item)
			if item == 0 {
				close(busy)
				<-release // held while b begins to stop
			}
			return nil
		},
		qopts: []queue.Option{queue.Overflow(func(_ context.Context, items []int) error {
			overflowed = append(overflowed, items...)
			return nil
		})},
	}
	spragtest.Start(t, "b-worker", b, spragtest.StopTimeout(10*time.Second))
	ctx := context.Background()
	for i := range 5 {
		require.NoError(t, b.q.Push(ctx, i))
	}
	<-busy
	eventually(t, 5*time.Second, func() bool {
		c, err := js.Consumer(ctx, "SPRAG_Q_jobs", "workers")
		require.NoError(t, err)
		return c.CachedInfo().NumAckPending == 5
	}, "b holds every item: one in its worker, four pulled ahead")

	a := startWorker(t, srv.URL(), "a", func(_ context.Context, item int) error { h.add("a", item); return nil }, 1, cluster.AckWait(30*time.Second))
	stopped := make(chan error, 1)
	go func() { stopped <- b.Stop(ctx) }()
	eventually(t, 5*time.Second, func() bool { return b.State() == sprag.Stopping }, "b begins to stop")
	close(release)
	require.NoError(t, <-stopped)

	eventually(t, 10*time.Second, func() bool { return a.q.Stats().Acked == 4 }, "a handles the four items b pulled ahead, without waiting for AckWait")
	assert.Equal(t, []string{"b"}, h.of(0), "b finished the item it held")
	for i := 1; i < 5; i++ {
		assert.Equal(t, []string{"a"}, h.of(i), "item %d, pulled ahead by b, is handled by a alone", i)
	}
	st := b.q.Stats()
	assert.Equal(t, int64(1), st.Pulled, "b's worker took one item")
	assert.Equal(t, int64(1), st.Acked)
	assert.Zero(t, st.InFlight)
	assert.Empty(t, overflowed, "Drain gives nothing: the items stay in the engine")
	assert.Nil(t, b.q.Drain(ctx), "a shared queue holds nothing locally")
}

func TestQueueRetriesAndDeadLetters(t *testing.T) {
	srv := clustertest.StartServer(t)
	var h handled
	w := startWorker(t, srv.URL(), "a", func(_ context.Context, item int) error {
		h.add("a", item)
		switch {
		case item == 7:
			return errors.New("no such customer")
		case item == 8 && len(h.of(8)) < 3:
			return errors.New("database busy")
		case item == 9 && len(h.of(9)) < 2:
			panic("boom")
		}
		return nil
	}, 1, cluster.MaxDeliveries(3))
	for _, i := range []int{7, 8, 9} {
		require.NoError(t, w.q.Push(context.Background(), i))
	}
	dead := deadLetters(t, srv.URL(), 1)
	assert.Equal(t, "sprag.dead.q.jobs", dead[0].Subject())
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), "no such customer")
	assert.Equal(t, "3", dead[0].Headers().Get(cluster.HeaderAttempts))
	assert.Equal(t, "7", string(dead[0].Data()))
	eventually(t, 5*time.Second, func() bool { return w.q.Stats().Acked == 2 }, "8 and 9 end up handled")
	assert.Len(t, h.of(7), 3, "MaxDeliveries deliveries")
	assert.Len(t, h.of(8), 3, "acknowledged on the third")
	assert.Len(t, h.of(9), 2, "a panic is a failure like another")
	eventually(t, 5*time.Second, func() bool { return w.q.Stats().Dead == 1 }, "the dead letter is counted")
	assert.Equal(t, int64(5), w.q.Stats().Retried)
}

func TestQueueUndecodableItemGoesToTheDeadLettersAtOnce(t *testing.T) {
	srv := clustertest.StartServer(t)
	var h handled
	w := startWorker(t, srv.URL(), "a", func(_ context.Context, item int) error { h.add("a", item); return nil }, 1)
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.PublishMsg(context.Background(), &nats.Msg{Subject: "sprag.q.jobs", Data: []byte(`"seven"`),
		Header: nats.Header{cluster.HeaderCodec: {"json"}}})
	require.NoError(t, err)
	dead := deadLetters(t, srv.URL(), 1)
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), "cannot decode")
	assert.Equal(t, "1", dead[0].Headers().Get(cluster.HeaderAttempts))
	eventually(t, 5*time.Second, func() bool { return w.q.Stats().Dead == 1 }, "the dead letter is counted")
	items, _ := h.count()
	assert.Zero(t, items, "no handler sees it")
	assert.Zero(t, w.q.Stats().Pulled)
}

func TestQueuePushWaitsForRoom(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	q, err := cluster.NewQueue[int](ctx, n, "jobs", cluster.Capacity(2))
	require.NoError(t, err)
	require.NoError(t, q.TryPush(1))
	require.NoError(t, q.TryPush(2))
	require.ErrorIs(t, q.TryPush(3), queue.ErrFull)

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = q.Push(short, 3)
	require.ErrorIs(t, err, queue.ErrFull)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int64(2), q.Stats().Rejected)

	pushed := make(chan error, 1)
	go func() { pushed <- q.Push(ctx, 3) }()
	item, done, err := q.Pull(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, item, "first in, first out")
	done(nil)
	done(errors.New("ignored")) // a second call does nothing
	select {
	case err := <-pushed:
		require.NoError(t, err, "Push went through once there was room")
	case <-time.After(10 * time.Second):
		t.Fatal("Push did not get the room made by the ack")
	}
	st := q.Stats()
	assert.Equal(t, int64(1), st.Acked)
	assert.Zero(t, st.Retried)
	assert.Zero(t, st.InFlight)
}

func TestQueueItemsOfAStoppingReplicaGoElsewhereAtOnce(t *testing.T) {
	srv := clustertest.StartServer(t)
	var h handled
	release := make(chan struct{})
	defer close(release)
	b := startWorker(t, srv.URL(), "b", func(ctx context.Context, item int) error {
		h.add("b", item)
		select { // stuck past the stop's deadline
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	}, 1, cluster.AckWait(30*time.Second))
	require.NoError(t, b.q.Push(context.Background(), 1))
	eventually(t, 5*time.Second, func() bool { return len(h.of(1)) == 1 }, "b holds the item")

	a := startWorker(t, srv.URL(), "a", func(_ context.Context, item int) error { h.add("a", item); return nil }, 1, cluster.AckWait(30*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := b.Stop(ctx)
	require.ErrorIs(t, err, sprag.ErrStillRunning, "b's handler is named at the deadline")
	<-b.Done()
	eventually(t, 5*time.Second, func() bool { return len(h.of(1)) == 2 }, "a handles the item without waiting for AckWait")
	assert.Equal(t, []string{"b", "a"}, h.of(1))
	assert.Equal(t, int64(1), b.q.Stats().Abandoned)
	eventually(t, 5*time.Second, func() bool { return a.q.Stats().Acked == 1 }, "a acknowledges it")
}

func TestQueueItemOfADeadReplicaIsRedelivered(t *testing.T) {
	srv := clustertest.StartServer(t)
	proxy := clustertest.NewProxy(t, srv.URL())
	var h handled
	hold := make(chan struct{})
	b := startWorker(t, proxy.URL(), "b", func(ctx context.Context, item int) error {
		h.add("b", item)
		<-hold
		return nil
	}, 1)
	require.NoError(t, b.q.Push(context.Background(), 1))
	eventually(t, 5*time.Second, func() bool { return len(h.of(1)) == 1 }, "b holds the item")
	startWorker(t, srv.URL(), "a", func(_ context.Context, item int) error { h.add("a", item); return nil }, 1)

	proxy.Cut() // b is gone: no ack, no heartbeat
	died := time.Now()
	eventually(t, 10*time.Second, func() bool { return len(h.of(1)) == 2 }, "a gets the item after AckWait")
	assert.GreaterOrEqual(t, time.Since(died), time.Second)
	close(hold)
	proxy.Restore()
}

func TestQueueLongHandlerKeepsItsItem(t *testing.T) {
	srv := clustertest.StartServer(t)
	js := engine(t, srv.URL())
	var h handled
	release := make(chan struct{})
	var ws []*worker
	for _, name := range []string{"a", "b"} {
		ws = append(ws, startWorker(t, srv.URL(), name, func(_ context.Context, item int) error {
			h.add(name, item)
			<-release // runs until the test has seen three AckWaits pass
			return nil
		}, 1, cluster.AckWait(2*time.Second)))
	}
	n, _ := startNode(t, srv.URL(), "pusher")
	ctx := context.Background()
	q, err := cluster.NewQueue[int](ctx, n, "jobs", append(fastRetry, cluster.AckWait(2*time.Second))...)
	require.NoError(t, err)
	require.NoError(t, q.Push(ctx, 1))
	eventually(t, 5*time.Second, func() bool { return len(h.of(1)) == 1 }, "a worker takes the item")
	// Three AckWaits and a half. AckWait is 2 s, not the least allowed 1 s:
	// a stall of the signal sent every third of it must pass 1.3 s, not
	// 0.67 s, to cause a redelivery on a loaded machine.
	holds(t, 7*time.Second, func() bool { return len(h.of(1)) == 1 }, "the handler tells the engine it is alive: no redelivery")
	close(release)
	eventually(t, 5*time.Second, func() bool { return ws[0].q.Stats().Acked+ws[1].q.Stats().Acked == 1 }, "the item is acknowledged")
	c, err := js.Consumer(ctx, "SPRAG_Q_jobs", "workers")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), c.CachedInfo().Delivered.Consumer, "delivered once")
	assert.Len(t, h.of(1), 1)
}

func TestQueuePushWhileDisconnected(t *testing.T) {
	srv := clustertest.StartServer(t)
	proxy := clustertest.NewProxy(t, srv.URL())
	n, _ := startNode(t, proxy.URL(), "a")
	ctx := context.Background()
	q, err := cluster.NewQueue[int](ctx, n, "jobs")
	require.NoError(t, err)
	proxy.Cut()
	eventually(t, 5*time.Second, func() bool { return !n.Stats().Connected }, "a sees the cut")
	require.ErrorIs(t, q.TryPush(1), cluster.ErrDisconnected)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = q.Push(short, 1)
	require.ErrorIs(t, err, cluster.ErrDisconnected, "Push gives up when its context ends")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), `queue "jobs"`)
	pushed := make(chan error, 1)
	go func() {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		pushed <- q.Push(pctx, 1)
	}()
	holds(t, 300*time.Millisecond, func() bool { return len(pushed) == 0 }, "Push waits while the engine cannot be reached")
	proxy.Restore()
	require.NoError(t, <-pushed, "Push waits for the engine")
	item, done, err := q.Pull(ctx)
	require.NoError(t, err)
	done(nil)
	assert.Equal(t, 1, item)
	assert.Equal(t, int64(1), q.Stats().Pushed, "pushed once, though retried")
}

func TestQueueRefusesBadArguments(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		queue string
		opts  []cluster.QueueOption
	}{
		{name: "bad name", queue: "a.b"},
		{name: "capacity", queue: "q", opts: []cluster.QueueOption{cluster.Capacity(0)}},
		{name: "prefetch", queue: "q", opts: []cluster.QueueOption{cluster.Prefetch(0)}},
		{name: "max deliveries", queue: "q", opts: []cluster.QueueOption{cluster.MaxDeliveries(0)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cluster.NewQueue[int](ctx, n, tt.queue, tt.opts...)
			require.ErrorIs(t, err, sprag.ErrInvalidArgument)
			assert.Contains(t, err.Error(), `"`+tt.queue+`"`)
		})
	}
	q, err := cluster.NewQueue[int](ctx, n, "q")
	require.NoError(t, err)
	w := &plain{}
	spragtest.Start(t, "w", w)
	_, err = queue.New(w, func(context.Context, string) error { return nil }, queue.BackedBy[int](q))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument, "a queue of strings cannot be backed by a queue of ints")
	assert.Equal(t, "cluster.Capacity(5)", cluster.Capacity(5).String())
	assert.Equal(t, "cluster.Prefetch(5)", cluster.Prefetch(5).String())

	stopped, err := cluster.New(cluster.URL(srv.URL()))
	require.NoError(t, err)
	_, err = cluster.NewQueue[int](ctx, stopped, "q")
	require.ErrorIs(t, err, sprag.ErrNotRunning)
}

// plain is a service with no hooks.
type plain struct{ sprag.Service }

func TestQueueRetriedPushIsStoredOnce(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	q, err := cluster.NewQueue[int](ctx, n, "jobs")
	require.NoError(t, err)
	require.NoError(t, cluster.PushTwice(ctx, q, 1))
	backlog, err := q.Backlog(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), backlog, "the second publish of the same message id is dropped")
}

func TestQueueBacklogCountsEveryReturnedPush(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	q, err := cluster.NewQueue[int](ctx, n, "jobs")
	require.NoError(t, err)
	for i := range 50 {
		require.NoError(t, q.Push(ctx, i))
		backlog, err := q.Backlog(ctx)
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), backlog, "after push %d", i)
	}
	item, done, err := q.Pull(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, item)
	backlog, err := q.Backlog(ctx)
	require.NoError(t, err)
	assert.LessOrEqual(t, backlog, uint64(49), "a pulled item is not waiting")
	done(nil)
}

// TestQueuePushEndedDuringAnAttemptIsStillFull: a Push whose ctx ends
// while an attempt is on its way to the engine reports the engine's last
// answer, a full queue, and counts the rejection, whichever of the
// engine's answer and the end of ctx comes first.
func TestQueuePushEndedDuringAnAttemptIsStillFull(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	q, err := cluster.NewQueue[int](ctx, n, "jobs", cluster.Capacity(1))
	require.NoError(t, err)
	require.NoError(t, q.TryPush(1))

	// Every attempt also reaches this subscriber, which ends the Push's
	// ctx at its second attempt, as the engine answers it.
	watcher, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer watcher.Close()
	var (
		mu       sync.Mutex
		attempts int
		end      context.CancelFunc
	)
	_, err = watcher.Subscribe("sprag.q.jobs", func(*nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if attempts++; attempts == 2 {
			end()
		}
	})
	require.NoError(t, err)
	require.NoError(t, watcher.Flush())

	const rounds = 20
	for round := range rounds {
		pushCtx, cancel := context.WithCancel(ctx)
		mu.Lock()
		attempts, end = 0, cancel
		mu.Unlock()
		err := q.Push(pushCtx, 2)
		cancel()
		require.ErrorIs(t, err, queue.ErrFull, "round %d", round)
		require.ErrorIs(t, err, context.Canceled, "round %d", round)
	}
	assert.Equal(t, int64(rounds), q.Stats().Rejected, "every Push counts its rejection")
}
