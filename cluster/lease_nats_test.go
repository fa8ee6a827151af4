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
	_, err = a.Leases().Acquire(ctx, "job", 10*time.Second)
	require.ErrorIs(t, err, cluster.ErrLeaseHeld, "held by a itself, under its first grant")

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

func TestLeaseRefusesTTLsOfNoWholeSeconds(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	for _, ttl := range []time.Duration{1500 * time.Millisecond, 500 * time.Millisecond, 0} {
		_, err := a.Leases().Acquire(ctx, "job", ttl)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument, "JetStream would cut a TTL of %v to whole seconds", ttl)
	}
	g, err := a.Leases().Acquire(ctx, "job", time.Second)
	require.NoError(t, err)
	_, err = a.Leases().Renew(ctx, g, 2500*time.Millisecond)
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
	_, err = a.Leases().Renew(ctx, g, 2*time.Second)
	require.NoError(t, err, "the grant is still current")
}

// TestLeaseClaimKeepsWholeSeconds: a tick's record lasts keep rounded up
// to whole seconds, never less than keep.
func TestLeaseClaimKeepsWholeSeconds(t *testing.T) {
	srv := clustertest.StartServer(t)
	a, _ := startNode(t, srv.URL(), "a")
	ctx := context.Background()
	tick := time.Unix(1700000000, 0)
	claimed := time.Now()
	_, err := a.Leases().Claim(ctx, "job", tick, 1100*time.Millisecond)
	require.NoError(t, err)
	kv, _ := kvOf(t, srv.URL())
	eventually(t, 10*time.Second, func() bool {
		_, err := kv.Get(ctx, "job.tick.1700000000000")
		return errors.Is(err, jetstream.ErrKeyNotFound)
	}, "the tick's record expires")
	assert.GreaterOrEqual(t, time.Since(claimed), 2*time.Second, "1.1s is kept as 2s")
	_, err = a.Leases().Claim(ctx, "job", tick, time.Second)
	require.NoError(t, err, "past its record, a tick can be claimed again: TickRecord bounds the skew it covers")
}

func TestLeasesBeforeTheNodeRuns(t *testing.T) {
	n, err := cluster.New(cluster.URL("nats://127.0.0.1:1"))
	require.NoError(t, err)
	ctx := context.Background()
	l := n.Leases()
	_, err = l.Acquire(ctx, "job", time.Second)
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	_, err = l.Renew(ctx, cluster.Grant{Name: "job"}, time.Second)
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	require.ErrorIs(t, l.Release(ctx, cluster.Grant{Name: "job"}), sprag.ErrNotRunning)
	_, err = l.Claim(ctx, "job", time.Now(), time.Second)
	require.ErrorIs(t, err, sprag.ErrNotRunning)
}

// TestLeaseRequestsWhileDisconnected: a request that cannot reach NATS
// fails with an error wrapping ErrDisconnected, which Singleton takes for
// "keep the grant until its deadline".
func TestLeaseRequestsWhileDisconnected(t *testing.T) {
	srv := clustertest.StartServer(t)
	proxy := clustertest.NewProxy(t, srv.URL())
	a, _ := startNode(t, proxy.URL(), "a")
	ctx := context.Background()
	g, err := a.Leases().Acquire(ctx, "job", 10*time.Second) // creates the bucket
	require.NoError(t, err)

	proxy.Cut()
	eventually(t, 5*time.Second, func() bool { return !a.Stats().Connected }, "a sees the cut")
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = a.Leases().Renew(rctx, g, 10*time.Second)
	require.ErrorIs(t, err, cluster.ErrDisconnected)
	assert.Contains(t, err.Error(), `"job"`, "the error names the lease")
	_, err = a.Leases().Acquire(rctx, "other", 10*time.Second)
	require.ErrorIs(t, err, cluster.ErrDisconnected)
	_, err = a.Leases().Claim(rctx, "job", time.Unix(1700000000, 0), time.Minute)
	require.ErrorIs(t, err, cluster.ErrDisconnected)
	require.ErrorIs(t, a.Leases().Release(rctx, g), cluster.ErrDisconnected)
	// The client sends what it buffered once it reconnects: a request that
	// failed so may still take effect. That is why a caller keeps its
	// grant only until its own deadline.
}
