package fxmodule_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// TestTelemetryPromisesServerAndBus: fxmodule.Telemetry's providers
// reach the HTTP server's spans and the bus's emits and listener calls,
// not only the services' work.
func TestTelemetryPromisesServerAndBus(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	logger, _ := observed(t)
	var (
		server *controllers.Server
		rt     sprag.Runtime
	)
	app := newApp(t, logger,
		fxmodule.Telemetry(mp, tp),
		fxmodule.Service("metrics", func() *metricsService { return &metricsService{} }),
		fxmodule.Controllers(newDashboard),
		fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0")),
		fx.Invoke(func(p struct {
			fx.In
			Server  *controllers.Server `name:"http"`
			Runtime sprag.Runtime
		}) {
			server, rt = p.Server, p.Runtime
		}),
	)
	app.RequireStart()
	status, _ := getBody(t, "http://"+server.Addr()+"/dashboard", "application/json")
	assert.Equal(t, http.StatusOK, status)
	_, err := rt.Bus.Listen("order:*", func(context.Context, any) error { return nil })
	require.NoError(t, err)
	require.NoError(t, rt.Bus.Emit(context.Background(), "order:completed", 1))
	app.RequireStop()

	var names []string
	for _, s := range spans.Ended() {
		names = append(names, s.Name())
	}
	assert.Contains(t, names, "GET /dashboard", "the server traces with the app's TracerProvider")
	assert.Contains(t, names, "listen order:*", "so does the bus")

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	emits := int64(0)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "sprag.bus.emits" {
				for _, p := range sum.DataPoints {
					if v, _ := p.Attributes.Value(attribute.Key("sprag.topic")); v.AsString() == "order:completed" {
						emits += p.Value
					}
				}
			}
		}
	}
	assert.Equal(t, int64(1), emits, "the bus measures with the app's MeterProvider")
}
