package watch_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag/internal/oteltest"
	"github.com/sprag-go/sprag/sprag/watch"
	"github.com/sprag-go/sprag/spragtest"
)

// TestWatcherMetricsAsDocumented holds the row of docs/operations.md:
// sprag.watch.polls and sprag.watch.failures are counters in {poll},
// with the attributes sprag.service and sprag.watcher.
func TestWatcherMetricsAsDocumented(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tel := oteltest.New()
		defer tel.Shutdown()
		p := &spragtest.Probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(tel.Runtime))
		_, err := watch.Poll(p, func(context.Context) (int, error) { return 1, nil }, time.Minute, watch.Label("cfg"))
		require.NoError(t, err)
		synctest.Wait()

		metrics, err := tel.Metrics()
		require.NoError(t, err)
		for _, name := range []string{"sprag.watch.polls", "sprag.watch.failures"} {
			m, ok := metrics[name]
			if !assert.True(t, ok, name) {
				continue
			}
			kind, keys := oteltest.Instrument(m)
			assert.Equal(t, "counter", kind, name)
			assert.Equal(t, "{poll}", m.Unit, name)
			assert.Equal(t, [][]string{{"sprag.service", "sprag.watcher"}}, keys, name)
		}
	})
}
