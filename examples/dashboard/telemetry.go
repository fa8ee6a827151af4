package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// telemetry is the app's OpenTelemetry SDK: metrics for Prometheus to
// scrape on /metrics and, with SPRAG_TRACE=stdout, spans printed as JSON.
// The library records through the OpenTelemetry API; the app picks these.
type telemetry struct {
	mp      *sdkmetric.MeterProvider
	tp      trace.TracerProvider     // nil without tracing: the services make no spans
	sdktp   *sdktrace.TracerProvider // tp's SDK, to shut down; nil without tracing
	metrics http.Handler             // the Prometheus endpoint
}

// newTelemetry builds the providers. Spans go to traceOut when cfg.Trace
// is "stdout"; each is written when it ends (a synchronous exporter: for
// looking, not for production, where a batching OTLP exporter belongs;
// see docs/operations.md).
func newTelemetry(cfg Config, traceOut io.Writer) (*telemetry, error) {
	res := resource.NewSchemaless(attribute.String("service.name", "sprag-dashboard"))

	registry := prometheus.NewRegistry()
	if err := registry.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	t := &telemetry{
		mp:      sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter), sdkmetric.WithResource(res)),
		metrics: promhttp.HandlerFor(registry, promhttp.HandlerOpts{}),
	}
	if cfg.Trace == "stdout" {
		spans, err := stdouttrace.New(stdouttrace.WithWriter(traceOut))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("stdout trace exporter: %w", err), t.mp.Shutdown(context.Background()))
		}
		t.sdktp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans), sdktrace.WithResource(res))
		t.tp = t.sdktp
	}
	return t, nil
}

// shutdown stops the providers, after the app stopped, so that the last
// spans and measurements are not lost.
func (t *telemetry) shutdown(ctx context.Context) error {
	err := t.mp.Shutdown(ctx)
	if t.sdktp != nil {
		err = errors.Join(err, t.sdktp.Shutdown(ctx))
	}
	return err
}
