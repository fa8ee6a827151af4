package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/spragtest"
)

// TestQueueRetriesAfterADoublingBackoff: a failed item is delivered again
// after Backoff, then after twice as long.
func TestQueueRetriesAfterADoublingBackoff(t *testing.T) {
	srv := clustertest.StartServer(t)
	var at spragtest.Collector[time.Time]
	w := startWorker(t, srv.URL(), "a", func(context.Context, int) error {
		at.Add(time.Now())
		if at.Len() < 3 {
			return errors.New("database busy")
		}
		return nil
	}, 1, cluster.Backoff(200*time.Millisecond, 10*time.Second))
	require.NoError(t, w.q.Push(context.Background(), 1))
	eventually(t, 10*time.Second, func() bool { return w.q.Stats().Acked == 1 }, "the item is handled on its third delivery")
	times := at.All()
	require.Len(t, times, 3)
	assert.GreaterOrEqual(t, times[1].Sub(times[0]), 200*time.Millisecond, "the first redelivery waits for Backoff")
	assert.GreaterOrEqual(t, times[2].Sub(times[1]), 400*time.Millisecond, "the second waits twice as long")
	assert.Equal(t, int64(2), w.q.Stats().Retried)
}

// TestQueueHandedBackDeliveriesCount: done(err wrapping ErrHandedBack)
// hands the item back at once without counting a failure (no retry, no
// backoff), but the delivery counts towards MaxDeliveries, as every
// delivery of the engine does.
func TestQueueHandedBackDeliveriesCount(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	q, err := cluster.NewQueue[int](ctx, n, "jobs", cluster.MaxDeliveries(3), cluster.Backoff(time.Minute, time.Minute))
	require.NoError(t, err)
	require.NoError(t, q.Push(ctx, 1))
	for range 2 {
		item, done, err := q.Pull(ctx)
		require.NoError(t, err, "handed back at once: no Backoff to wait for")
		assert.Equal(t, 1, item)
		done(fmt.Errorf("stop: %w", queue.ErrHandedBack))
	}
	assert.Equal(t, int64(2), q.Stats().Abandoned)
	assert.Zero(t, q.Stats().Retried, "a hand-back is no failure")
	_, done, err := q.Pull(ctx)
	require.NoError(t, err)
	done(errors.New("invalid address"))
	dead := deadLetters(t, srv.URL(), 1)
	assert.Equal(t, "3", dead[0].Headers().Get(cluster.HeaderAttempts), "the third delivery was the last")
	assert.Equal(t, int64(1), q.Stats().Dead)
}

// TestNewQueueUpdatesAnExistingQueue: NewQueue of an existing queue
// updates its stream and consumer to the options.
func TestNewQueueUpdatesAnExistingQueue(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, _ := startNode(t, srv.URL(), "a")
	b, _ := startNode(t, srv.URL(), "b")
	ctx := context.Background()
	_, err := cluster.NewQueue[int](ctx, a, "jobs", cluster.Capacity(5), cluster.AckWait(2*time.Second))
	require.NoError(t, err)
	_, err = cluster.NewQueue[int](ctx, b, "jobs", cluster.Capacity(9), cluster.AckWait(3*time.Second))
	require.NoError(t, err)
	js := engine(t, srv.URL())
	s, err := js.Stream(ctx, "SPRAG_Q_jobs")
	require.NoError(t, err)
	assert.Equal(t, int64(9), s.CachedInfo().Config.MaxMsgs)
	c, err := js.Consumer(ctx, "SPRAG_Q_jobs", "workers")
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, c.CachedInfo().Config.AckWait)
}

// TestNewQueueRefusesEveryBadArgument: bad arguments are refused with an
// error that names the queue, before the node is even looked at.
func TestNewQueueRefusesEveryBadArgument(t *testing.T) {
	n, err := cluster.New(cluster.URL("nats://127.0.0.1:1"))
	require.NoError(t, err)
	for _, tt := range []struct {
		name string
		node *cluster.Node
		opts []cluster.QueueOption
	}{
		{name: "nil node"},
		{name: "backoff", node: n, opts: []cluster.QueueOption{cluster.Backoff(time.Minute, time.Second)}},
		{name: "no backoff", node: n, opts: []cluster.QueueOption{cluster.Backoff(0, time.Second)}},
		{name: "ack wait", node: n, opts: []cluster.QueueOption{cluster.AckWait(500 * time.Millisecond)}},
		{name: "capacity", node: n, opts: []cluster.QueueOption{cluster.Capacity(-1)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cluster.NewQueue[int](context.Background(), tt.node, "emails", tt.opts...)
			require.ErrorIs(t, err, sprag.ErrInvalidArgument)
			assert.Contains(t, err.Error(), `"emails"`)
		})
	}
}

// TestQueueAfterTheNodeStopped: once the node has stopped, Pull fails
// with sprag.ErrNotRunning (the queue primitive's workers then end), and
// so do pushes, at once.
func TestQueueAfterTheNodeStopped(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	q, err := cluster.NewQueue[int](ctx, n, "jobs")
	require.NoError(t, err)
	require.NoError(t, n.Stop(ctx))

	_, _, err = q.Pull(ctx)
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	assert.Contains(t, err.Error(), `"jobs"`)
	require.ErrorIs(t, q.TryPush(1), sprag.ErrNotRunning)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	began := time.Now()
	err = q.Push(pctx, 1)
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	assert.Contains(t, err.Error(), `"jobs"`)
	assert.Less(t, time.Since(began), time.Second, "Push does not wait for a node that stopped")
}

// mailbox is a service with a queue primitive backed by a shared queue.
type mailbox struct {
	sprag.Service
	node    *cluster.Node
	handler func(ctx context.Context, item int) error
	q       *cluster.Queue[int]
	pq      *queue.Queue[int]
}

func (m *mailbox) OnStart(ctx context.Context) error {
	q, err := cluster.NewQueue[int](ctx, m.node, "mail", cluster.Capacity(1), cluster.AckWait(2*time.Second))
	if err != nil {
		return err
	}
	m.q = q
	m.pq, err = queue.New(m, m.handler, queue.Workers(1), queue.BackedBy[int](q))
	return err
}

// TestQueuePrimitiveEnqueuesThroughTheSharedQueue: the primitive's
// TryEnqueue and Enqueue push to the stream, whose Capacity counts the
// items not yet acknowledged.
func TestQueuePrimitiveEnqueuesThroughTheSharedQueue(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a")
	busy, release := make(chan struct{}), make(chan struct{})
	var got spragtest.Collector[int]
	m := &mailbox{node: n, handler: func(_ context.Context, item int) error {
		got.Add(item)
		if item == 1 {
			close(busy)
			<-release
		}
		return nil
	}}
	spragtest.Start(t, "mailbox", m, spragtest.StopTimeout(10*time.Second))
	ctx := context.Background()
	require.NoError(t, m.pq.TryEnqueue(1))
	<-busy
	require.ErrorIs(t, m.pq.TryEnqueue(2), queue.ErrFull, "the item in progress fills the stream")
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err := m.pq.Enqueue(short, 2)
	require.ErrorIs(t, err, queue.ErrFull)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(release)
	long, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, m.pq.Enqueue(long, 2), "Enqueue waits for the room the acknowledgement makes")
	eventually(t, 10*time.Second, func() bool { return got.Len() == 2 }, "both items are handled")
	assert.Equal(t, []int{1, 2}, got.All())
	st := m.q.Stats()
	assert.Equal(t, int64(2), st.Pushed)
	assert.Equal(t, int64(2), st.Rejected)
}
