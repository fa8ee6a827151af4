package cluster_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/spragtest"
)

// TestQueueReplicasThatStartTogetherAllWork: replicas that create a
// replicated queue at the same moment must all receive its items. Their
// concurrent creates can re-create the consumer under a pull request
// already sent, which then waits for good; the inbox finds such a pull by
// its missing heartbeats within seconds and pulls again. The work lasts
// longer than that.
func TestQueueReplicasThatStartTogetherAllWork(t *testing.T) {
	c := clustertest.StartCluster(t, 3)
	var h handled
	ws := make([]*worker, 3)
	var wg sync.WaitGroup
	for i, name := range []string{"a", "b", "c"} {
		n, _ := startNode(t, c.Servers[i].URL(), name, cluster.StreamReplicas(3))
		ws[i] = &worker{node: n, workers: 1, handler: func(_ context.Context, item int) error {
			h.add(name, item)
			time.Sleep(30 * time.Millisecond)
			return nil
		}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			spragtest.Start(t, name+"-worker", ws[i], spragtest.StopTimeout(10*time.Second))
		}()
	}
	wg.Wait()
	for i := range 450 {
		require.NoError(t, ws[0].q.Push(context.Background(), i))
	}
	eventually(t, 60*time.Second, func() bool { items, _ := h.count(); return items == 450 }, "every item is handled")
	for _, w := range ws {
		require.Positive(t, w.q.Stats().Acked, "%s took its share", w.Name())
	}
}
