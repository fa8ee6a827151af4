package cluster_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// Order is the payload of the typed topics of the tests.
type Order struct {
	ID   int    `json:"id"`
	Item string `json:"item"`
}

var orderCompleted = eventbus.NewTopic[Order]("order:completed")

// startNode starts a node named replica on url for the test and returns
// it with its runtime; it stops when the test ends.
func startNode(t testing.TB, url, replica string, opts ...cluster.Option) (*cluster.Node, sprag.Runtime) {
	t.Helper()
	n, err := cluster.New(append([]cluster.Option{cluster.URL(url), cluster.Replica(replica)}, opts...)...)
	require.NoError(t, err)
	rt := spragtest.Start(t, replica, n, spragtest.StopTimeout(20*time.Second))
	return n, rt
}

// eventually polls cond every 10ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holds checks cond every 10ms for d, and fails the test the first time
// it does not hold: for what must not happen over a span of time.
func holds(t testing.TB, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !cond() {
			t.Fatalf("no longer true after %v: "+msg, append([]any{d - time.Until(deadline)}, args...)...)
		}
	}
}

// received collects what a listener got, with the listener's context
// and when it was called.
type received struct {
	mu     sync.Mutex
	orders []Order
	ctxs   []context.Context
	at     []time.Time
}

func (r *received) listen(t testing.TB, bus *eventbus.Bus, fail func(Order, int) error) {
	t.Helper()
	_, err := orderCompleted.Listen(bus, func(ctx context.Context, o Order) error {
		r.mu.Lock()
		r.orders = append(r.orders, o)
		r.ctxs = append(r.ctxs, ctx)
		r.at = append(r.at, time.Now())
		n := len(r.orders)
		r.mu.Unlock()
		if fail != nil {
			return fail(o, n)
		}
		return nil
	})
	require.NoError(t, err)
}

func (r *received) got() []Order {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Order(nil), r.orders...)
}

func (r *received) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.orders)
}

// counts returns how many times each order id arrived.
func (r *received) counts() map[int]int {
	out := map[int]int{}
	for _, o := range r.got() {
		out[o.ID]++
	}
	return out
}

// times returns when the listener was called, in order.
func (r *received) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.at...)
}

// engine returns a JetStream handle of its own on the server at url,
// closed when the test ends, to look at the streams and consumers the
// nodes use.
func engine(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// consumerOf returns the state of the durable consumer of the events
// stream that owner uses: a replica's name for its fan-out consumer, or
// "group_<name>" for a shared group's.
func consumerOf(t testing.TB, js jetstream.JetStream, owner string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "SPRAG_EVENTS")
	require.NoError(t, err)
	list := s.ListConsumers(ctx)
	var found *jetstream.ConsumerInfo
	for info := range list.Info() {
		if strings.HasPrefix(info.Name, owner+"_") {
			require.Nil(t, found, "%s has one consumer of the events stream", owner)
			found = info
		}
	}
	require.NoError(t, list.Err())
	require.NotNil(t, found, "%s has a consumer of the events stream", owner)
	return found
}

// settled waits until owner's consumer has delivered the last event of
// the events stream and holds none that waits for a delivery or for its
// acknowledgement, and returns its state: nothing is delivered to owner
// again, and every listener call that acknowledged an event has returned.
// Every event of the stream must match the consumer, and the emitters
// must have published what they buffered (see published).
func settled(t testing.TB, js jetstream.JetStream, owner string) *jetstream.ConsumerInfo {
	t.Helper()
	var info *jetstream.ConsumerInfo
	eventually(t, 15*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, "SPRAG_EVENTS")
		require.NoError(t, err)
		info = consumerOf(t, js, owner)
		return info.Delivered.Stream >= s.CachedInfo().State.LastSeq && info.NumPending == 0 && info.NumAckPending == 0
	}, "the consumer of %s settles every event", owner)
	return info
}

// published waits until n has handed want at-least-once events to the
// engine: an emit that found the engine slow to answer is buffered and
// published later, after the emit returned.
func published(t testing.TB, n *cluster.Node, want int64) {
	t.Helper()
	eventually(t, 15*time.Second, func() bool { return n.Stats().Published == want && n.Stats().Buffered == 0 },
		"%s publishes its %d events", n.ReplicaName(), want)
}
