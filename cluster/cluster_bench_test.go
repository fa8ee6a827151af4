package cluster_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/spragtest"
)

// benchOrder is the payload of the emit benchmarks; the raw baseline
// publishes its JSON encoding, the bytes the node sends.
var benchOrder = Order{ID: 42, Item: "a book about distributed systems"}

// BenchmarkDistributedEmit measures one event from an emit on replica a
// to its listener on replica b, over an at-most-once topic: encoding,
// headers, core NATS through a server on loopback, decoding, and the
// emit on b's bus. One event is in flight at a time.
func BenchmarkDistributedEmit(b *testing.B) {
	srv := clustertest.StartServer(b)
	_, rtA := startNode(b, srv.URL(), "a", atMostOnce())
	_, rtB := startNode(b, srv.URL(), "b", atMostOnce())
	got := make(chan struct{}, 1)
	_, err := orderCompleted.Listen(rtB.Bus, func(context.Context, Order) error {
		got <- struct{}{}
		return nil
	})
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := orderCompleted.Emit(ctx, rtA.Bus, benchOrder); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}

// BenchmarkRawNATSPubSub is the baseline of BenchmarkDistributedEmit: a
// nats.go publish of the same bytes to a subscription callback on another
// connection to the same kind of server.
func BenchmarkRawNATSPubSub(b *testing.B) {
	srv := clustertest.StartServer(b)
	pub, err := nats.Connect(srv.URL())
	require.NoError(b, err)
	defer pub.Close()
	sub, err := nats.Connect(srv.URL())
	require.NoError(b, err)
	defer sub.Close()
	got := make(chan struct{}, 1)
	s, err := sub.Subscribe("raw.order.completed", func(*nats.Msg) { got <- struct{}{} })
	require.NoError(b, err)
	defer func() { _ = s.Unsubscribe() }()
	require.NoError(b, sub.Flush())
	data, err := json.Marshal(benchOrder)
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := pub.Publish("raw.order.completed", data); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}

// BenchmarkSingletonTickHolder measures the engine work of one tick on the
// replica that holds a job's lease: renew the lease, claim the tick.
func BenchmarkSingletonTickHolder(b *testing.B) {
	srv := clustertest.StartServer(b)
	n, _ := startNode(b, srv.URL(), "a")
	ctx := context.Background()
	leases := n.Leases()
	g, err := leases.Acquire(ctx, "job", 10*time.Second)
	require.NoError(b, err)
	tick := time.Unix(1700000000, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if g, err = leases.Renew(ctx, g, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		if _, err := leases.Claim(ctx, "job", tick.Add(time.Duration(i)*time.Second), 30*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSingletonTickOther measures one tick on a replica that does not
// hold the lease while its holder is alive: the watch answers, no request
// leaves the process.
func BenchmarkSingletonTickOther(b *testing.B) {
	srv := clustertest.StartServer(b)
	a, _ := startNode(b, srv.URL(), "a")
	other, _ := startNode(b, srv.URL(), "b")
	ctx := context.Background()
	_, err := a.Leases().Acquire(ctx, "job", 60*time.Second)
	require.NoError(b, err)
	eventually(b, 5*time.Second, func() bool {
		holder, _, ok := cluster.LeaseSeen(other, "job")
		if !ok {
			_, _ = other.Leases().Acquire(ctx, "job", 60*time.Second) // starts the watch
		}
		return holder == "a"
	}, "b watches a hold the lease")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := other.Leases().Acquire(ctx, "job", 60*time.Second); err == nil {
			b.Fatal("b took a held lease")
		}
	}
}

// BenchmarkSingletonFailover measures, per iteration, the time from the
// loss of the holder's connection (as a crash would) to the first run of
// the job on another replica, with a 2s lease TTL and a 1s period. It
// reports the mean as failover-ms.
func BenchmarkSingletonFailover(b *testing.B) {
	srv := clustertest.StartServer(b)
	var log runLog
	proxies := map[string]*clustertest.Proxy{}
	for _, name := range []string{"a", "b", "c"} {
		p := clustertest.NewProxy(b, srv.URL())
		proxies[name] = p
		n, _ := startNode(b, p.URL(), name)
		s := &replicaJob{leases: n.Leases(), fn: log.quick(name), opts: []cluster.SingletonOption{cluster.LeaseTTL(2 * time.Second)}}
		spragtest.Start(b, name+"-job", s)
	}
	b.ReportAllocs()
	var total time.Duration
	for range b.N {
		eventually(b, 30*time.Second, func() bool { return len(log.all()) > 0 }, "the job runs")
		runs := log.all()
		holder := runs[len(runs)-1].replica
		cut := time.Now()
		proxies[holder].Cut()
		eventually(b, 30*time.Second, func() bool {
			runs := log.all()
			last := runs[len(runs)-1]
			return last.replica != holder && last.start.After(cut)
		}, "another replica runs the job")
		runs = log.all()
		total += runs[len(runs)-1].start.Sub(cut)
		proxies[holder].Restore()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "failover-ms")
}
