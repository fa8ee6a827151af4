package queue_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag/internal/oteltest"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/spragtest"
)

// TestQueueMetricsAsDocumented holds the row of docs/operations.md:
// sprag.queue.depth a gauge, .handled, .failed, .overflowed and .dropped
// counters, all in {item}, with the attributes sprag.service and
// sprag.queue.
func TestQueueMetricsAsDocumented(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tel := oteltest.New()
		defer tel.Shutdown()
		p := &spragtest.Probe{}
		spragtest.Start(t, "mailer", p, spragtest.WithRuntime(tel.Runtime))
		q, err := queue.New(p, func(_ context.Context, n int) error {
			if n == 2 {
				return errors.New("bounced")
			}
			return nil
		}, queue.Label("emails"))
		require.NoError(t, err)
		for i := range 3 {
			require.NoError(t, q.TryEnqueue(i))
		}
		synctest.Wait()

		metrics, err := tel.Metrics()
		require.NoError(t, err)
		for name, instrument := range map[string]string{
			"sprag.queue.depth":      "gauge",
			"sprag.queue.handled":    "counter",
			"sprag.queue.failed":     "counter",
			"sprag.queue.overflowed": "counter",
			"sprag.queue.dropped":    "counter",
		} {
			m, ok := metrics[name]
			if !assert.True(t, ok, name) {
				continue
			}
			kind, keys := oteltest.Instrument(m)
			assert.Equal(t, instrument, kind, name)
			assert.Equal(t, "{item}", m.Unit, name)
			assert.Equal(t, [][]string{{"sprag.queue", "sprag.service"}}, keys, name)
		}
	})
}
