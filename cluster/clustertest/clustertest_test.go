package clustertest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
)

func connect(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return nc, js
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "not in time: %s", what)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServerRestartKeepsItsAddressAndData(t *testing.T) {
	srv := clustertest.StartServer(t)
	nc, js := connect(t, srv.URL())
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b"})
	require.NoError(t, err)
	_, err = kv.Put(ctx, "k", []byte("v"))
	require.NoError(t, err)

	url := srv.URL()
	srv.Restart()
	assert.Equal(t, url, srv.URL())
	waitUntil(t, nc.IsConnected, "the client reconnects")
	waitUntil(t, func() bool {
		e, err := kv.Get(ctx, "k")
		return err == nil && string(e.Value()) == "v"
	}, "the key survives")
	srv.Shutdown()
	assert.Nil(t, srv.NATS())
	srv.Shutdown() // twice does nothing
}

func TestClusterFormsAJetStreamCluster(t *testing.T) {
	c := clustertest.StartCluster(t, 3)
	require.Len(t, c.URLs(), 3)
	require.Len(t, c.Servers, 3)
	for i, s := range c.Servers {
		assert.Equal(t, fmt.Sprintf("n%d", i+1), s.Name())
		assert.Equal(t, c.URLs()[i], s.URL(), "Servers and URLs are in the same order")
	}
	assert.Equal(t, strings.Join(c.URLs(), ","), c.URL())
	_, js := connect(t, c.URLs()[1])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3})
	require.NoError(t, err, "a replicated stream fits at once")
	assert.Len(t, s.CachedInfo().Cluster.Replicas, 2)
}

func TestProxyCutsAndRestores(t *testing.T) {
	srv := clustertest.StartServer(t)
	p := clustertest.NewProxy(t, srv.URL())
	nc, _ := connect(t, p.URL())
	require.True(t, nc.IsConnected())
	p.Cut()
	waitUntil(t, func() bool { return !nc.IsConnected() }, "the client sees the cut")
	// The client retries every 50ms: over half a second, none of its
	// attempts gets through.
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		require.False(t, nc.IsConnected(), "no reconnection through a cut proxy")
	}
	p.Restore()
	waitUntil(t, nc.IsConnected, "the client reconnects")
	p.Close()
	p.Close() // twice does nothing
}

func TestLeasesKeepTheLeaseContract(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := clustertest.NewLeases()
		a, b := l.For("a"), l.For("b")
		ctx := context.Background()

		g, err := a.Acquire(ctx, "job", 10*time.Second)
		require.NoError(t, err)
		assert.Equal(t, "a", g.Holder)
		_, err = b.Acquire(ctx, "job", 10*time.Second)
		require.ErrorIs(t, err, cluster.ErrLeaseHeld)
		_, err = a.Acquire(ctx, "job", 10*time.Second)
		require.ErrorIs(t, err, cluster.ErrLeaseHeld, "held by a itself, under its first grant")

		time.Sleep(6 * time.Second)
		g2, err := a.Renew(ctx, g, 10*time.Second)
		require.NoError(t, err)
		assert.Greater(t, g2.Revision, g.Revision)
		_, err = a.Renew(ctx, g, 10*time.Second)
		require.ErrorIs(t, err, cluster.ErrLeaseLost, "an old grant is no longer current")
		time.Sleep(6 * time.Second)
		assert.Equal(t, "a", l.Holder("job"), "the renewal restarted the TTL")
		time.Sleep(5 * time.Second)
		assert.Empty(t, l.Holder("job"), "and the lease still expires")
		_, err = b.Acquire(ctx, "job", 10*time.Second)
		require.NoError(t, err)

		tick := time.Unix(1700000000, 0)
		t1, err := a.Claim(ctx, "job", tick, time.Minute)
		require.NoError(t, err)
		_, err = b.Claim(ctx, "job", tick, time.Minute)
		require.ErrorIs(t, err, cluster.ErrTickTaken)
		t2, err := b.Claim(ctx, "job", tick.Add(time.Second), time.Minute)
		require.NoError(t, err)
		assert.Greater(t, t2, t1, "tokens grow")
		assert.Equal(t, []clustertest.Claimed{
			{Job: "job", Tick: tick, Holder: "a", Token: t1},
			{Job: "job", Tick: tick.Add(time.Second), Holder: "b", Token: t2},
		}, l.Claims(), "each successful claim, in order")

		l.Cut("a")
		_, err = a.Acquire(ctx, "other", time.Second)
		require.ErrorIs(t, err, cluster.ErrDisconnected)
		l.Heal("a")
		g3, err := a.Acquire(ctx, "other", time.Second)
		require.NoError(t, err)
		require.NoError(t, a.Release(ctx, g3))
		require.ErrorIs(t, a.Release(ctx, g3), cluster.ErrLeaseLost)
		l.Revoke("job")
		assert.Empty(t, l.Holder("job"))
	})
}
