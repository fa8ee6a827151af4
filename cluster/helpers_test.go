package cluster_test

import (
	"context"
	"sync"
	"testing"
	"time"

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

// received collects what a listener got, with the listener's context.
type received struct {
	mu     sync.Mutex
	orders []Order
	ctxs   []context.Context
}

func (r *received) listen(t testing.TB, bus *eventbus.Bus, fail func(Order, int) error) {
	t.Helper()
	_, err := orderCompleted.Listen(bus, func(ctx context.Context, o Order) error {
		r.mu.Lock()
		r.orders = append(r.orders, o)
		r.ctxs = append(r.ctxs, ctx)
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
