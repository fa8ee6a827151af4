package fxmodule_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
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

// TestTelemetryReachesTheServerAndNilKeepsTheGlobal: the app's
// MeterProvider measures the HTTP server's requests too, and a nil
// TracerProvider leaves the services on OpenTelemetry's global one.
// Not parallel: it sets the global tracer provider.
func TestTelemetryReachesTheServerAndNilKeepsTheGlobal(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	global := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	previous := otel.GetTracerProvider()
	otel.SetTracerProvider(global)
	defer func() {
		otel.SetTracerProvider(previous)
		_ = mp.Shutdown(context.Background())
		_ = global.Shutdown(context.Background())
	}()
	logger, _ := observed(t)
	var server *controllers.Server
	app := newApp(t, logger,
		fxmodule.Telemetry(mp, nil),
		fxmodule.Service("metrics", func() *metricsService { return &metricsService{} }),
		fxmodule.Controllers(newDashboard),
		fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0")),
		fx.Invoke(func(p struct {
			fx.In
			Server *controllers.Server `name:"http"`
		}) {
			server = p.Server
		}),
	)
	app.RequireStart()
	status, _ := getBody(t, "http://"+server.Addr()+"/dashboard", "application/json")
	assert.Equal(t, http.StatusOK, status)
	app.RequireStop()

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	var requests uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "http.server.request.duration" {
				for _, p := range h.DataPoints {
					if v, _ := p.Attributes.Value(attribute.Key("http.route")); v.AsString() == "/dashboard" {
						requests += p.Count
					}
				}
			}
		}
	}
	assert.Equal(t, uint64(1), requests, "the server measured the request with the app's MeterProvider")
	var names []string
	for _, s := range spans.Ended() {
		names = append(names, s.Name())
	}
	assert.Contains(t, names, "GET /dashboard", "a nil TracerProvider keeps the global one: %v", names)
}
