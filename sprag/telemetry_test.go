package sprag_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/internal/oteltest"
	"github.com/sprag-go/sprag/spragtest"
	"go.opentelemetry.io/otel"
)

// telemetry is oteltest's, with the test's cleanup and assertions.
type telemetry struct {
	*oteltest.Telemetry
	rt sprag.Runtime
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := oteltest.New()
	t.Cleanup(tel.Shutdown)
	return &telemetry{Telemetry: tel, rt: tel.Runtime}
}

func (tel *telemetry) sum(t *testing.T, name string, want ...attribute.KeyValue) (int64, bool) {
	t.Helper()
	v, ok, err := tel.Int64(name, want...)
	require.NoError(t, err)
	return v, ok
}

func TestServicesRecordMetricsAndSpans(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tel := newTelemetry(t)
		svc := &probe{onStart: func(_ context.Context, p *probe) error {
			must(p.Interval(time.Minute, func(context.Context) error { return nil }, sprag.Label("collect")))
			must(p.Spawn(func(context.Context) error { return errors.New("no luck") }, sprag.Label("import")))
			must(p.Spawn(func(context.Context) error { panic("kaput") }, sprag.Label("parse")))
			return nil
		}}
		spragtest.Start(t, "metrics", svc, spragtest.WithRuntime(tel.rt))
		time.Sleep(3*time.Minute + time.Second)
		synctest.Wait()

		service := attribute.String("sprag.service", "metrics")
		collect := []attribute.KeyValue{service, attribute.String("sprag.work.kind", "interval"), attribute.String("sprag.work.label", "collect")}
		n, ok := tel.sum(t, "sprag.work.runs", collect...)
		require.True(t, ok, "the interval's runs are counted")
		assert.Equal(t, int64(3), n)
		n, _ = tel.sum(t, "sprag.work.duration", collect...)
		assert.Equal(t, int64(3), n, "each run's duration is recorded")

		imp := []attribute.KeyValue{service, attribute.String("sprag.work.kind", "task"), attribute.String("sprag.work.label", "import")}
		n, _ = tel.sum(t, "sprag.work.failures", imp...)
		assert.Equal(t, int64(1), n)
		n, _ = tel.sum(t, "sprag.work.panics", attribute.String("sprag.work.label", "parse"))
		assert.Equal(t, int64(1), n)
		n, _ = tel.sum(t, "sprag.service.starts", service)
		assert.Equal(t, int64(1), n)
		n, _ = tel.sum(t, "sprag.service.state", service)
		assert.Equal(t, int64(sprag.Running), n)
		n, _ = tel.sum(t, "sprag.timers.active", service)
		assert.Equal(t, int64(1), n)
		n, _ = tel.sum(t, "sprag.tasks.active", service)
		assert.Equal(t, int64(0), n, "both tasks ended")

		spans := tel.Spans.Ended()
		var names []string
		for _, s := range spans {
			names = append(names, s.Name())
			assert.False(t, s.Parent().IsValid(), "a timer run or a task is a root span: %s", s.Name())
		}
		assert.Contains(t, names, "interval collect")
		assert.Contains(t, names, "task import")
		assert.Contains(t, names, "task parse")

		spragtest.Stop(t, svc, time.Second)
		n, _ = tel.sum(t, "sprag.service.state", service)
		assert.Equal(t, int64(sprag.Stopped), n)
		n, _ = tel.sum(t, "sprag.service.stops", service)
		assert.Equal(t, int64(1), n)
		n, _ = tel.sum(t, "sprag.timers.active", service)
		assert.Equal(t, int64(0), n)
	})
}

func TestWithoutAProviderNoSpanIsMade(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		spanned := make(chan bool, 1)
		svc := &probe{onStart: func(_ context.Context, p *probe) error {
			must(p.Spawn(func(ctx context.Context) error {
				spanned <- trace.SpanFromContext(ctx).SpanContext().IsValid()
				return nil
			}))
			return nil
		}}
		spragtest.Start(t, "quiet", svc) // the OpenTelemetry globals: none installed
		assert.False(t, <-spanned, "a task's context carries no span while no provider is installed")

		tel := newTelemetry(t)
		traced := &probe{onStart: func(_ context.Context, p *probe) error {
			must(p.Spawn(func(ctx context.Context) error {
				spanned <- trace.SpanFromContext(ctx).SpanContext().IsValid()
				return nil
			}))
			return nil
		}}
		spragtest.Start(t, "traced", traced, spragtest.WithRuntime(tel.rt))
		assert.True(t, <-spanned, "with a provider, the task runs in its span")
	})
}

// Not parallel: it installs OpenTelemetry's global providers, and puts
// no-op ones back when it ends.
func TestGlobalProvidersAsTheyAreWhenAServiceStarts(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() {
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	rt := sprag.NewRuntime(nil) // no providers of its own: the globals
	early := make(chan struct{})
	before := &probe{onStart: func(_ context.Context, p *probe) error {
		_, err := p.Spawn(func(context.Context) error { close(early); return nil }, sprag.Label("early"))
		return err
	}}
	spragtest.Start(t, "before", before, spragtest.WithRuntime(rt))
	<-early

	otel.SetMeterProvider(mp)
	otel.SetTracerProvider(tp)
	ran := make(chan struct{})
	after := &probe{onStart: func(_ context.Context, p *probe) error {
		_, err := p.Spawn(func(context.Context) error { close(ran); return nil }, sprag.Label("late"))
		return err
	}}
	spragtest.Start(t, "after", after, spragtest.WithRuntime(rt))
	<-ran
	spragtest.Stop(t, after, time.Second)

	// A runtime given a no-op tracer provider of its own traces nothing,
	// whatever the global one is.
	untraced := sprag.NewRuntime(nil, sprag.WithTracerProvider(tracenoop.NewTracerProvider()))
	quiet := make(chan struct{})
	own := &probe{onStart: func(_ context.Context, p *probe) error {
		_, err := p.Spawn(func(context.Context) error { close(quiet); return nil }, sprag.Label("untraced"))
		return err
	}}
	spragtest.Start(t, "own", own, spragtest.WithRuntime(untraced))
	<-quiet
	spragtest.Stop(t, own, time.Second)

	var names []string
	for _, s := range spans.Ended() {
		names = append(names, s.Name())
	}
	assert.Equal(t, []string{"task late"}, names, "the service started after the install is traced, the one before is not")
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	require.NotEmpty(t, rm.ScopeMetrics, "and measured")
}

func TestListenerCallsAreChildrenOfTheEmittersSpan(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	orders := &probe{onStart: func(_ context.Context, p *probe) error {
		_, err := p.Listen("order:*", func(context.Context, any) error { return nil })
		return err
	}}
	spragtest.Start(t, "orders", orders, spragtest.WithRuntime(tel.rt))

	ctx, parent := tel.TracerProvider().Tracer("test").Start(context.Background(), "POST /orders")
	require.NoError(t, tel.rt.Bus.Emit(ctx, "order:completed", 7))
	parent.End()

	var listen sdktrace.ReadOnlySpan
	for _, s := range tel.Spans.Ended() {
		if s.Name() == "listen order:*" {
			listen = s
		}
	}
	require.NotNil(t, listen, "a span per listener call")
	assert.Equal(t, parent.SpanContext().SpanID(), listen.Parent().SpanID(), "the listener's span is a child of the emitter's")
	assert.Equal(t, parent.SpanContext().TraceID(), listen.SpanContext().TraceID())

	n, ok := tel.sum(t, "sprag.bus.emits", attribute.String("sprag.topic", "order:completed"))
	require.True(t, ok)
	assert.Equal(t, int64(1), n)
	n, _ = tel.sum(t, "sprag.bus.listener.calls", attribute.String("sprag.topic", "order:*"))
	assert.Equal(t, int64(1), n, "listener calls are counted by the subscribed pattern")
}

func TestWorkLinkedToTheSpanThatCreatedIt(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	done := make(chan struct{})
	var listenerSpan trace.SpanContext
	var timeout *sprag.Timer
	orders := &probe{onStart: func(_ context.Context, p *probe) error {
		_, err := p.Listen("order:completed", func(ctx context.Context, _ any) error {
			listenerSpan = trace.SpanContextFromContext(ctx)
			if _, err := p.Spawn(func(context.Context) error { return nil }, sprag.Label("receipt"), sprag.LinkTo(ctx)); err != nil {
				return err
			}
			var err error
			timeout, err = p.Timeout(time.Millisecond, func(context.Context) error { close(done); return nil }, sprag.Label("reminder"), sprag.LinkTo(ctx))
			return err
		})
		return err
	}}
	spragtest.Start(t, "orders", orders, spragtest.WithRuntime(tel.rt))

	ctx, request := tel.TracerProvider().Tracer("test").Start(context.Background(), "POST /orders")
	require.NoError(t, tel.rt.Bus.Emit(ctx, "order:completed", 7))
	request.End()
	<-done
	require.NotNil(t, timeout)
	spragtest.Stop(t, orders, time.Second)

	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range tel.Spans.Ended() {
		spans[s.Name()] = s
	}
	require.True(t, listenerSpan.IsValid())
	for _, name := range []string{"task receipt", "timeout reminder"} {
		s := spans[name]
		require.NotNil(t, s, name)
		assert.False(t, s.Parent().IsValid(), "%s: a run is the root of a trace of its own", name)
		assert.NotEqual(t, request.SpanContext().TraceID(), s.SpanContext().TraceID(), name)
		require.Len(t, s.Links(), 1, name)
		assert.Equal(t, listenerSpan, s.Links()[0].SpanContext, "%s links to the listener call that created it", name)
	}
	assert.Equal(t, "sprag.LinkTo(ctx)", sprag.LinkTo(context.Background()).String(), "no span: nothing to link")
	assert.Contains(t, sprag.LinkTo(ctx).String(), request.SpanContext().SpanID().String())
}
