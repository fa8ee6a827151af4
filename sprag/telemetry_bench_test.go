package sprag_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/sprag-go/sprag/sprag"
)

// benchRuntime is a runtime the telemetry benchmarks compare.
type benchRuntime struct {
	name string
	rt   sprag.Runtime
}

// benchRuntimes gives the runtimes the telemetry benchmarks compare: none
// installed (the global no-op providers); OpenTelemetry's SDK meter
// provider with an in-memory reader; and that with the SDK's tracer
// provider too, which samples every span and, having no processor, drops
// it when it ends, so that the figure is what sprag and the SDK spend, not
// what an exporter does.
func benchRuntimes(b *testing.B) []benchRuntime {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	return []benchRuntime{
		{"telemetry=off", sprag.NewRuntime(nil)},
		{"telemetry=metrics", sprag.NewRuntime(nil, sprag.WithMeterProvider(mp), sprag.WithTracerProvider(tracenoop.NewTracerProvider()))},
		{"telemetry=metrics+traces", sprag.NewRuntime(nil, sprag.WithMeterProvider(mp), sprag.WithTracerProvider(tp))},
	}
}

// startedUntilEnd starts a service with no hooks on rt, stopped when the
// benchmark ends.
func startedUntilEnd(b *testing.B, rt sprag.Runtime) *plain {
	b.Helper()
	p := startedOn(b, rt)
	b.Cleanup(func() { _ = p.Stop(context.Background()) })
	return p
}

// BenchmarkEmitTelemetry measures an emit of a service to one listener of
// another service, without telemetry and with the SDK recording the
// bus's metrics and a span per listener call.
func BenchmarkEmitTelemetry(b *testing.B) {
	for _, r := range benchRuntimes(b) {
		b.Run(r.name, func(b *testing.B) {
			emitter, listener := startedUntilEnd(b, r.rt), startedUntilEnd(b, r.rt)
			var n atomic.Int64
			if _, err := listener.Listen("order:completed", func(context.Context, any) error {
				n.Add(1)
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := emitter.Emit(ctx, "order:completed", 42); err != nil {
					b.Fatal(err)
				}
			}
			if n.Load() < int64(b.N) {
				b.Fatalf("the listener ran %d times for %d emits", n.Load(), b.N)
			}
		})
	}
}

// atOnce is a schedule whose next run is due as soon as the last ends.
type atOnce struct{}

func (atOnce) Next(now time.Time, _ sprag.Run) time.Time { return now }

// BenchmarkTimerRunTelemetry measures one run of a scheduled timer (its
// goroutine, the call, the next run put back in the queue), without
// telemetry and with the SDK recording the work's metrics and a span per
// run.
func BenchmarkTimerRunTelemetry(b *testing.B) {
	for _, r := range benchRuntimes(b) {
		b.Run(r.name, func(b *testing.B) {
			p := startedUntilEnd(b, r.rt)
			var n atomic.Int64
			done := make(chan struct{})
			b.ReportAllocs()
			b.ResetTimer()
			timer, err := p.Schedule(atOnce{}, func(context.Context) error {
				if n.Add(1) == int64(b.N) {
					close(done)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			<-done
			b.StopTimer()
			timer.Cancel()
		})
	}
}
