package fxmodule_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/fxmodule"
)

func TestTelemetryHandsTheProvidersToTheServices(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		spans := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
		defer func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) }()

		app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
			fxmodule.Telemetry(mp, tp),
			fxmodule.Service("ticker", NewTicker))
		require.NoError(t, app.Start(context.Background()))
		time.Sleep(3*time.Second + time.Millisecond)
		synctest.Wait()
		require.NoError(t, app.Stop(context.Background()))

		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(context.Background(), &rm))
		runs := int64(-1)
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "sprag.work.runs" {
					for _, p := range sum.DataPoints {
						if v, _ := p.Attributes.Value(attribute.Key("sprag.service")); v.AsString() == "ticker" {
							runs = p.Value
						}
					}
				}
			}
		}
		assert.Equal(t, int64(3), runs, "the ticker's runs were measured with the app's MeterProvider")
		assert.Len(t, spans.Ended(), 3, "and traced with its TracerProvider")
	})
}
