// Package oteltest records a runtime's metrics and spans in memory, for
// the tests of sprag and its primitives: OpenTelemetry's SDK with a
// manual reader and a span recorder. Only tests import it.
package oteltest

import (
	"context"
	"fmt"
	"math"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sprag-go/sprag/sprag"
)

// Telemetry is an in-memory metric reader and span recorder, and a
// runtime that records to them.
type Telemetry struct {
	Reader  *sdkmetric.ManualReader
	Spans   *tracetest.SpanRecorder
	Runtime sprag.Runtime
	mp      *sdkmetric.MeterProvider
	tp      *sdktrace.TracerProvider
}

// New returns a Telemetry; call Shutdown when the test ends.
func New() *Telemetry {
	tel := &Telemetry{Reader: sdkmetric.NewManualReader(), Spans: tracetest.NewSpanRecorder()}
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.Reader))
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.Spans))
	tel.Runtime = sprag.NewRuntime(nil, sprag.WithMeterProvider(tel.mp), sprag.WithTracerProvider(tel.tp))
	return tel
}

// Shutdown shuts the providers down.
func (tel *Telemetry) Shutdown() {
	_ = tel.mp.Shutdown(context.Background())
	_ = tel.tp.Shutdown(context.Background())
}

// Int64 returns the value of the int64 sum or gauge name (for a histogram,
// its count) at the first data point whose attributes hold every one of
// want, and whether there is one.
func (tel *Telemetry) Int64(name string, want ...attribute.KeyValue) (int64, bool, error) {
	var rm metricdata.ResourceMetrics
	if err := tel.Reader.Collect(context.Background(), &rm); err != nil {
		return 0, false, err
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if v, ok := find(d.DataPoints, want); ok {
					return v, true, nil
				}
			case metricdata.Gauge[int64]:
				if v, ok := find(d.DataPoints, want); ok {
					return v, true, nil
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if HasAll(p.Attributes, want) && p.Count <= math.MaxInt64 {
						return int64(p.Count), true, nil
					}
				}
			}
		}
	}
	return 0, false, nil
}

func find(points []metricdata.DataPoint[int64], want []attribute.KeyValue) (int64, bool) {
	for _, p := range points {
		if HasAll(p.Attributes, want) {
			return p.Value, true
		}
	}
	return 0, false
}

// HasAll reports whether set holds every attribute of want.
func HasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// Metrics collects the metrics recorded so far, by name.
func (tel *Telemetry) Metrics() (map[string]metricdata.Metrics, error) {
	var rm metricdata.ResourceMetrics
	if err := tel.Reader.Collect(context.Background(), &rm); err != nil {
		return nil, err
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out, nil
}

// Instrument names the instrument m was recorded with, as
// docs/operations.md does: "counter", "up-down counter", "gauge",
// "histogram"; the attribute keys of each of its data points, sorted.
func Instrument(m metricdata.Metrics) (kind string, keys [][]string) {
	keysOf := func(set attribute.Set) []string {
		var k []string
		for _, kv := range set.ToSlice() {
			k = append(k, string(kv.Key))
		}
		slices.Sort(k)
		return k
	}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		kind = "up-down counter"
		if d.IsMonotonic {
			kind = "counter"
		}
		for _, p := range d.DataPoints {
			keys = append(keys, keysOf(p.Attributes))
		}
	case metricdata.Gauge[int64]:
		kind = "gauge"
		for _, p := range d.DataPoints {
			keys = append(keys, keysOf(p.Attributes))
		}
	case metricdata.Histogram[float64]:
		kind = "histogram"
		for _, p := range d.DataPoints {
			keys = append(keys, keysOf(p.Attributes))
		}
	default:
		kind = fmt.Sprintf("%T", m.Data)
	}
	return kind, keys
}

// TracerProvider returns the provider the runtime traces with.
func (tel *Telemetry) TracerProvider() *sdktrace.TracerProvider { return tel.tp }
