package spragtest_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// MetricsService emits its figures every minute.
type MetricsService struct{ sprag.Service }

func (m *MetricsService) OnStart(context.Context) error {
	m.Interval(time.Minute, func(ctx context.Context) error {
		return m.Emit(ctx, "metrics:updated", time.Now().Format(time.Kitchen))
	})
	return nil
}

// TestCollectsEveryMinute is the recipe of the package documentation, run
// as a test: an hour of one-minute ticks in a synctest bubble takes
// microseconds and always gives the same result.
func TestCollectsEveryMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &MetricsService{}
		rt := spragtest.Start(t, "metrics", m)
		updates := spragtest.Record(t, rt.Bus, "metrics:updated")

		time.Sleep(time.Hour) // virtual: returns at once
		synctest.Wait()       // let the last tick finish

		assert.Equal(t, 60, updates.Len())
		assert.Equal(t, "12:01AM", updates.Payloads()[0], "the bubble's clock starts at midnight")
		assert.Equal(t, "metrics:updated", updates.Events()[59].Topic)
	})
}
