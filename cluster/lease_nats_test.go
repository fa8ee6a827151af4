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
)

func kvOf(t *testing.T, url string) (jetstream.KeyValue, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	kv, err := js.KeyValue(context.Background(), "SPRAG_LEASES")
	require.NoError(t, err)
	return kv, js
}

// TestLeaseRenewalKeepsTheTTL is the regression test of nats.go #1994: a
// key renewed with KeyValue.Update loses its TTL and never expires; the
// lease's renewal keeps it.
func TestLeaseRenewalKeepsTheTTL(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	g, err := a.Leases().Acquire(ctx, "job", 2*time.Second)
	require.NoError(t, err)
	g, err = a.Leases().Renew(ctx, g, 2*time.Second)
	require.NoError(t, err)
	renewed := time.Now()

	kv, _ := kvOf(t, srv.URL())
	// The trap, on a key of its own: Update drops the TTL.
	rev, err := kv.Create(ctx, "trap.lease", []byte("x"), jetstream.KeyTTL(2*time.Second))
	require.NoError(t, err)
	_, err = kv.Update(ctx, "trap.lease", []byte("y"), rev)
	require.NoError(t, err)

	eventually(t, 10*time.Second, func() bool {
		_, err := kv.Get(ctx, "job.lease")
		return errors.Is(err, jetstream.ErrKeyNotFound)
	}, "the renewed lease expires")
	assert.GreaterOrEqual(t, time.Since(renewed), 2*time.Second, "not before its TTL from the renewal")
	_, err = kv.Get(ctx, "trap.lease")
	require.NoError(t, err, "the key renewed with Update is still there: the trap this avoids")

	b, _ := startNode(t, srv.URL(), "b")
	_, err = b.Leases().Acquire(ctx, "job", 2*time.Second)
	require.NoError(t, err, "another replica takes the expired lease")
	_, err = a.Leases().Renew(ctx, g, 2*time.Second)
	require.ErrorIs(t, err, cluster.ErrLeaseLost)
}

// TestLeaseContentionOnAReplicatedBucket is the regression test of the two
// "key exists" codes: on a replicated bucket a lost create fails with
// 10164, and when the key is re-created after it expired the client
// returns that code without ErrKeyExists. Both mean lost.
func TestLeaseContentionOnAReplicatedBucket(t *testing.T) {
	c := clustertest.StartCluster(t, 3)
	var nodes []*cluster.Node
	for i, name := range []string{"a", "b", "c"} {
		n, _ := startNode(t, c.Servers[i].URL(), name, cluster.StreamReplicas(3))
		nodes = append(nodes, n)
	}
	ctx := context.Background()
	contend := func(what string, op func(n *cluster.Node) error, lost error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(nodes))
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = op(n)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			require.ErrorIs(t, err, lost, "%s: a lost compare-and-set is reported as such", what)
		}
		assert.Equal(t, 1, won, "%s: exactly one replica wins", what)
	}
	acquire := func(n *cluster.Node) error {
		_, err := n.Leases().Acquire(ctx, "job", time.Second)
		return err
	}
	// The bucket is created by the first use; contend once it exists.
	eventually(t, 30*time.Second, func() bool {
		_, err := nodes[0].Leases().Claim(ctx, "warmup", time.Now(), time.Second)
		return err == nil
	}, "the replicated bucket is ready")

	contend("first acquire", acquire, cluster.ErrLeaseHeld)
	kv, _ := kvOf(t, c.Servers[0].URL())
	eventually(t, 10*time.Second, func() bool {
		_, err := kv.Get(ctx, "job.lease")
		return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
	}, "the lease expires")
	contend("acquire after expiry", acquire, cluster.ErrLeaseHeld)

	tick := time.Unix(1700000000, 0)
	contend("claim", func(n *cluster.Node) error {
		_, err := n.Leases().Claim(ctx, "job", tick, time.Second)
		return err
	}, cluster.ErrTickTaken)
}

// TestLeaseOwnershipComesFromTheCompareAndSet: a value that names the
// replica does not make it the holder; only its grant's revision does.
func TestLeaseOwnershipComesFromTheCompareAndSet(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	g, err := a.Leases().Acquire(ctx, "job", 10*time.Second)
	require.NoError(t, err)

	kv, _ := kvOf(t, srv.URL())
	require.NoError(t, kv.Purge(ctx, "job.lease"))
	_, err = kv.Create(ctx, "job.lease", []byte("a")) // "a" again, another revision
	require.NoError(t, err)
	e, err := kv.Get(ctx, "job.lease")
	require.NoError(t, err)
	require.Equal(t, "a", string(e.Value()), "a read says a holds it")

	_, err = a.Leases().Renew(ctx, g, 10*time.Second)
	require.ErrorIs(t, err, cluster.ErrLeaseLost, "a's grant is not the current one")
	assert.ErrorIs(t, a.Leases().Release(ctx, g), cluster.ErrLeaseLost)
}

// TestLeaseWatchComesBackAfterAServerRestart is the regression test of
// nats.go #1777: a key-value watch stays silent once its consumer is
// gone; the engine watches again after every reconnect.
func TestLeaseWatchComesBackAfterAServerRestart(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, _ := startNode(t, srv.URL(), "a")
	b, _ := startNode(t, srv.URL(), "b")
	ctx := context.Background()
	g, err := a.Leases().Acquire(ctx, "job", 30*time.Second)
	require.NoError(t, err)
	_, err = b.Leases().Acquire(ctx, "job", 30*time.Second) // starts b's watch
	require.ErrorIs(t, err, cluster.ErrLeaseHeld)
	eventually(t, 5*time.Second, func() bool {
		holder, _, ok := cluster.LeaseSeen(b, "job")
		return ok && holder == "a"
	}, "b watches a hold the lease")

	srv.Restart()
	eventually(t, 15*time.Second, func() bool { return a.Stats().Connected && b.Stats().Connected }, "both reconnect")
	eventually(t, 15*time.Second, func() bool {
		err := a.Leases().Release(ctx, g)
		require.NotErrorIs(t, err, cluster.ErrLeaseLost)
		return err == nil
	}, "a releases the lease once JetStream is back")
	eventually(t, 10*time.Second, func() bool {
		_, gone, _ := cluster.LeaseSeen(b, "job")
		return gone
	}, "b's watch sees the release made after the restart")
	_, err = b.Leases().Acquire(ctx, "job", 30*time.Second)
	require.NoError(t, err, "and b takes the lease at once")
}

func TestLeaseRefusesFractionalTTLs(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, _ := startNode(t, srv.URL(), "a")
	_, err := a.Leases().Acquire(context.Background(), "job", 1500*time.Millisecond)
	require.Error(t, err, "JetStream would cut the TTL to 1s, shorter than asked")
}

func TestLeasesBeforeTheNodeRuns(t *testing.T) {
	n, err := cluster.New(cluster.URL("nats://127.0.0.1:1"))
	require.NoError(t, err)
	_, err = n.Leases().Acquire(context.Background(), "job", time.Second)
	require.Error(t, err)
}
