package docs_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// Slow never finishes starting before its context ends.
type Slow struct{ sprag.Service }

func (s *Slow) OnStart(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// AfterMetrics makes a constructor depend on the service "metrics".
type AfterMetrics struct {
	fx.In
	Metrics *MetricsService `name:"metrics"`
}

// TestStartTimeoutStopsWhatStarted shows the start deadline: fx's
// rollback gets the expired start context and skips every OnStop hook (fx
// issue 1035), so fxmodule stops the services that had started itself.
func TestStartTimeoutStopsWhatStarted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var metrics *MetricsService
		app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
			fx.StartTimeout(10*time.Second),
			fxmodule.Service("metrics", func() *MetricsService {
				metrics = &MetricsService{}
				return metrics
			}),
			fxmodule.Service("slow", func(AfterMetrics) *Slow { return &Slow{} }),
		)
		ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
		defer cancel()

		err := app.Start(ctx)

		require.ErrorIs(t, err, context.DeadlineExceeded)
		<-metrics.Done()
		assert.Equal(t, sprag.Stopped, metrics.State(), "stopped although fx skipped its hook")
	})
}

// Exporter's upload ignores its context: Exporter cannot stop in time.
type Exporter struct {
	sprag.Service
	release chan struct{}
}

func (e *Exporter) OnStart(ctx context.Context) error {
	_, err := e.Spawn(func(context.Context) error {
		<-e.release
		return nil
	}, sprag.Label("upload"))
	return err
}

// TestStopTimeout shows the stop deadline: the stuck service's Stop
// returns at fx.StopTimeout, fx returns the context's error and logs the
// hook's error, which names the service and the task; fx runs no OnStop
// hook after the deadline, so fxmodule stops the services fx skipped.
func TestStopTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.DebugLevel)
		var metrics *MetricsService
		exporter := &Exporter{release: make(chan struct{})}
		app := fx.New(fxmodule.Module, fx.Supply(zap.New(core)), fxmodule.LogFxEvents,
			fx.StopTimeout(5*time.Second),
			fxmodule.Service("metrics", func() *MetricsService {
				metrics = &MetricsService{}
				return metrics
			}),
			fxmodule.Service("exporter", func(AfterMetrics) *Exporter { return exporter }),
		)
		require.NoError(t, app.Start(context.Background()))

		ctx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
		defer cancel()
		begin := time.Now()
		err := app.Stop(ctx)

		require.ErrorIs(t, err, context.DeadlineExceeded) // the services' errors are not in it
		assert.Equal(t, 5*time.Second, time.Since(begin))
		synctest.Wait() // fx logs the hook's result on a goroutine of its own
		failed := logs.FilterMessage("OnStop hook failed").All()
		require.Len(t, failed, 1)
		assert.Equal(t, `stop service "exporter": service "exporter": sprag: still running at the stop deadline: task upload`,
			failed[0].ContextMap()["error"])
		<-metrics.Done() // fx ran no OnStop hook after the deadline; fxmodule stopped it
		assert.Equal(t, sprag.Stopped, metrics.State())
		assert.Equal(t, 1, logs.FilterMessage("the app's stop ran out of time: stopping the services it did not reach").Len())

		close(exporter.release)
	})
}

// Hangs is a service whose OnStart ignores its context until released.
type Hangs struct {
	sprag.Service
	release chan struct{}
}

func (h *Hangs) OnStart(ctx context.Context) error {
	<-h.release
	return nil
}

// MetricsStop records the context its OnStop got.
type MetricsStop struct {
	MetricsService
	stopDeadline time.Duration
	stopErr      error
}

func (m *MetricsStop) OnStop(ctx context.Context) error {
	deadline, _ := ctx.Deadline()
	m.stopDeadline, m.stopErr = time.Until(deadline), ctx.Err()
	return nil
}

// TestStartTimeoutNamesTheService shows a start whose context ends while
// a service's OnStart ignores it: App's Start names the service, and the
// services that had started are stopped with a fresh context bounded by
// the stop timeout.
func TestStartTimeoutNamesTheService(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		metrics := &MetricsStop{}
		hangs := &Hangs{release: make(chan struct{})}
		defer close(hangs.release)
		app := fxmodule.App(fx.Supply(zap.NewNop()),
			fx.StartTimeout(10*time.Second),
			fx.StopTimeout(5*time.Second),
			fxmodule.Service("metrics", func() *MetricsStop { return metrics }),
			fxmodule.Service("importer", func() *Hangs { return hangs }),
		)
		ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
		defer cancel()

		err := app.Start(ctx) // returns once the services that started are stopped

		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, `start service "importer": still starting when the start ended: context deadline exceeded`, err.Error())
		assert.Equal(t, sprag.Stopped, metrics.State())
		require.NoError(t, metrics.stopErr, "OnStop's context had not ended")
		assert.Equal(t, 5*time.Second, metrics.stopDeadline, "it ends at fx.StopTimeout")
	})
}
