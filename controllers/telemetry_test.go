package controllers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/sprag-go/sprag/sprag"
)

// telemetryKit is an in-memory OpenTelemetry SDK: a manual metric reader
// and a span recorder.
type telemetryKit struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	mp     *sdkmetric.MeterProvider
	tp     *sdktrace.TracerProvider
}

func newTelemetryKit(t *testing.T) *telemetryKit {
	t.Helper()
	k := &telemetryKit{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	k.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(k.reader))
	k.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(k.spans))
	t.Cleanup(func() {
		assert.NoError(t, k.mp.Shutdown(context.Background()))
		assert.NoError(t, k.tp.Shutdown(context.Background()))
	})
	return k
}

func (k *telemetryKit) options() []Option {
	return []Option{WithMeterProvider(k.mp), WithTracerProvider(k.tp), WithPropagator(propagation.TraceContext{})}
}

// metric returns the collected metric name.
func (k *telemetryKit) metric(t *testing.T, name string) metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, k.reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				assert.Equal(t, ScopeName, sm.Scope.Name)
				return m
			}
		}
	}
	t.Fatalf("no metric %q", name)
	return metricdata.Metrics{}
}

// span returns the ended span named name.
func (k *telemetryKit) span(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var names []string
	for _, s := range k.spans.Ended() {
		if s.Name() == name {
			return s
		}
		names = append(names, s.Name())
	}
	t.Fatalf("no span %q among %v", name, names)
	return nil
}

func attrs(set attribute.Set) map[string]any {
	out := map[string]any{}
	for _, kv := range set.ToSlice() {
		out[string(kv.Key)] = kv.Value.AsInterface()
	}
	return out
}

// spanAttrs returns a span's attributes by key.
func spanAttrs(s sdktrace.ReadOnlySpan) map[string]any {
	return attrs(attribute.NewSet(s.Attributes()...))
}

func TestRequestMetrics(t *testing.T) {
	t.Parallel()
	k := newTelemetryKit(t)
	srv, _ := newServer(t, nil, k.options(), ordersController{})

	require.Equal(t, http.StatusOK, serve(srv, http.MethodGet, "/orders/7", nil).Code)
	require.Equal(t, http.StatusOK, serve(srv, http.MethodGet, "/orders/8", nil).Code)
	require.Equal(t, http.StatusOK, postJSON(srv, "/orders/7/create", validOrder).Code)
	require.Equal(t, http.StatusInternalServerError, postJSON(srv, "/orders/7/fail", `{}`).Code)
	require.Equal(t, http.StatusNotFound, serve(srv, http.MethodGet, "/nowhere/9", nil).Code)

	duration := k.metric(t, MetricRequestDuration)
	assert.Equal(t, "s", duration.Unit)
	hist, ok := duration.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%T", duration.Data)
	got := map[string]uint64{}
	for _, dp := range hist.DataPoints {
		a := attrs(dp.Attributes)
		assert.Equal(t, "http", a["url.scheme"])
		assert.Equal(t, "1.1", a["network.protocol.version"])
		assert.NotContains(t, a, "url.path", "no raw path in metrics")
		key := fmt.Sprintf("%s %s %d", a["http.request.method"], routeOf(a), a["http.response.status_code"])
		got[key] = dp.Count
		if a["http.response.status_code"] == int64(500) {
			assert.Equal(t, "500", a["error.type"])
		} else {
			assert.NotContains(t, a, "error.type")
		}
		assert.Equal(t, durationBuckets, dp.Bounds)
	}
	assert.Equal(t, map[string]uint64{
		"GET /orders/{id} 200":         2, // two paths, one route
		"POST /orders/{id}/create 200": 1,
		"POST /orders/{id}/fail 500":   1,
		"GET  404":                     1, // no route
	}, got)

	active := k.metric(t, MetricActiveRequests)
	assert.Equal(t, "{request}", active.Unit)
	sum, ok := active.Data.(metricdata.Sum[int64])
	require.True(t, ok)
	assert.False(t, sum.IsMonotonic)
	for _, dp := range sum.DataPoints {
		assert.Zero(t, dp.Value, "every request ended")
		assert.ElementsMatch(t, []string{"http.request.method", "url.scheme"}, keys(attrs(dp.Attributes)))
	}

	reqSize := k.metric(t, MetricRequestBodySize)
	assert.Equal(t, "By", reqSize.Unit)
	for _, dp := range reqSize.Data.(metricdata.Histogram[int64]).DataPoints {
		if routeOf(attrs(dp.Attributes)) == "/orders/{id}/create" {
			assert.Equal(t, int64(len(validOrder)), dp.Sum, "the body read")
		}
	}
	respSize := k.metric(t, MetricResponseBodySize)
	assert.Equal(t, "By", respSize.Unit)
	for _, dp := range respSize.Data.(metricdata.Histogram[int64]).DataPoints {
		if routeOf(attrs(dp.Attributes)) == "/orders/{id}" {
			assert.Equal(t, int64(2*len(`{"order":"7"}`)), dp.Sum)
		}
	}
}

func routeOf(a map[string]any) string {
	r, _ := a["http.route"].(string)
	return r
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRequestSpans(t *testing.T) {
	t.Parallel()
	k := newTelemetryKit(t)
	rt := sprag.NewRuntime(nil)
	var listenerSpan trace.SpanContext
	_, err := rt.Bus.Listen("order:created", func(ctx context.Context, _ any) error {
		listenerSpan = trace.SpanContextFromContext(ctx)
		return nil
	})
	require.NoError(t, err)
	var loadSpan trace.SpanContext
	ctrl := &loader{route: "GET /orders/{id}", load: func(ctx context.Context, _ *Request) (any, error) {
		loadSpan = trace.SpanContextFromContext(ctx)
		return 1, nil
	}, actions: []*ActionHandler{Action("create", func(ctx context.Context, r *Request, _ struct{}) (any, error) {
		assert.Equal(t, ctx, r.Context(), "the Request's context is the action's")
		return nil, rt.Bus.Emit(ctx, "order:created", 7) // a synchronous emit carries the span
	}), Action("fail", func(context.Context, *Request, struct{}) (any, error) {
		return nil, NewError(http.StatusBadGateway, "down")
	})}}
	srv, _ := newServer(t, nil, k.options(), ctrl)

	const remoteTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	rec := serve(srv, http.MethodGet, "/orders/7", nil,
		"traceparent", "00-"+remoteTrace+"-00f067aa0ba902b7-01", "User-Agent", "probe/1")
	require.Equal(t, http.StatusOK, rec.Code)
	get := k.span(t, "GET /orders/{id}")
	assert.Equal(t, trace.SpanKindServer, get.SpanKind())
	assert.Equal(t, remoteTrace, get.SpanContext().TraceID().String(), "the trace continues the client's")
	assert.Equal(t, "00f067aa0ba902b7", get.Parent().SpanID().String())
	assert.True(t, get.Parent().IsRemote())
	assert.Equal(t, get.SpanContext(), loadSpan, "Load runs inside the request's span")
	assert.Equal(t, map[string]any{
		"http.request.method": "GET", "http.route": "/orders/{id}", "http.response.status_code": int64(200),
		"url.path": "/orders/7", "url.scheme": "http", "network.protocol.version": "1.1", "user_agent.original": "probe/1",
	}, spanAttrs(get))
	assert.Equal(t, codes.Unset, get.Status().Code)

	rec = postJSON(srv, "/orders/7/create", `{}`)
	require.Equal(t, http.StatusNoContent, rec.Code)
	post := k.span(t, "POST /orders/{id}/create")
	assert.False(t, post.Parent().IsValid(), "a new root without traceparent")
	action := k.span(t, "action create")
	assert.Equal(t, post.SpanContext().SpanID(), action.Parent().SpanID(), "the action's span is a child of the request's")
	assert.Equal(t, trace.SpanKindInternal, action.SpanKind())
	assert.Equal(t, map[string]any{"sprag.controller": "*controllers.loader", "sprag.action": "create"}, spanAttrs(action))
	assert.Equal(t, action.SpanContext(), listenerSpan, "the bus listener its emit reaches sees the action's span")

	rec = postJSON(srv, "/orders/7/fail", `{}`)
	require.Equal(t, http.StatusBadGateway, rec.Code)
	fail := k.span(t, "POST /orders/{id}/fail")
	assert.Equal(t, codes.Error, fail.Status().Code)
	assert.Equal(t, "502", spanAttrs(fail)["error.type"])
	assert.Equal(t, codes.Error, k.span(t, "action fail").Status().Code)

	rec = serve(srv, "PURGE", "/nowhere", nil)
	require.Equal(t, http.StatusNotFound, rec.Code)
	other := k.span(t, "HTTP") // the conventions' name for an unknown method
	assert.Equal(t, "_OTHER", spanAttrs(other)["http.request.method"])
	assert.NotContains(t, spanAttrs(other), "http.route")
}

func TestSpanInLogs(t *testing.T) {
	t.Parallel()
	k := newTelemetryKit(t)
	srv, logs := newServer(t, nil, k.options(), &loader{route: "GET /x", load: func(context.Context, *Request) (any, error) {
		panic("boom")
	}})
	serve(srv, http.MethodGet, "/x", nil)
	span := k.span(t, "GET /x")
	for _, msg := range []string{"http request", "panic in http handler"} {
		entries := logsWith(logs, msg)
		require.Len(t, entries, 1, msg)
		assert.Equal(t, span.SpanContext().TraceID().String(), entries[0].ContextMap()["trace_id"], msg)
		assert.Equal(t, span.SpanContext().SpanID().String(), entries[0].ContextMap()["span_id"], msg)
	}
}

// TestNoTelemetryWithoutSDK holds "with no SDK installed, nothing is
// recorded and nothing is allocated": with otel's global defaults and
// with no-op providers, a request's telemetry extracts no trace context,
// starts no span, records no metric and allocates nothing. The same
// measure with an SDK finds a span, metrics and allocations, so it can
// tell. Not parallel: testing.AllocsPerRun counts the allocations of the
// whole process.
func TestNoTelemetryWithoutSDK(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	// perRequest measures what ServeHTTP asks of the telemetry for one
	// request: begin, then end.
	perRequest := func(t *testing.T, opts ...Option) (allocs float64, rt requestTelemetry, ctx context.Context) {
		t.Helper()
		srv, err := NewServer(nil, opts...)
		require.NoError(t, err)
		rw := &responseWriter{req: req}
		allocs = testing.AllocsPerRun(100, func() {
			rw.tel = requestTelemetry{}
			ctx = srv.tel.begin(context.Background(), &rw.tel, req)
			srv.tel.end(ctx, rw, time.Millisecond)
		})
		return allocs, rw.tel, ctx
	}
	tests := []struct {
		name string
		give []Option
	}{
		{"otel's globals", nil}, // no SDK is installed as the global by this test binary outside TestGlobalProviders
		{"no-op providers", []Option{WithTracerProvider(tracenoop.NewTracerProvider()), WithMeterProvider(metricnoop.NewMeterProvider())}},
	}
	for _, tt := range tests {
		allocs, rt, ctx := perRequest(t, tt.give...)
		assert.Zero(t, allocs, "%s: nothing is allocated", tt.name)
		assert.Nil(t, rt.span, "%s: no span is started", tt.name)
		assert.False(t, rt.metrics, "%s: no metric is recorded", tt.name)
		assert.False(t, trace.SpanContextFromContext(ctx).IsValid(), "%s: the traceparent is not even extracted", tt.name)
	}

	k := newTelemetryKit(t)
	allocs, rt, ctx := perRequest(t, k.options()...)
	assert.Positive(t, allocs, "with an SDK, the same measure counts allocations")
	assert.NotNil(t, rt.span)
	assert.True(t, rt.metrics)
	assert.True(t, trace.SpanContextFromContext(ctx).IsValid())
	assert.NotEmpty(t, k.spans.Ended())
}

func TestOTelHTTPMiddleware(t *testing.T) {
	t.Parallel()
	k := newTelemetryKit(t)
	mw := otelhttp.NewMiddleware("otelhttp", otelhttp.WithTracerProvider(k.tp), otelhttp.WithMeterProvider(k.mp),
		otelhttp.WithPropagators(propagation.TraceContext{}))
	srv, _ := newServer(t, nil, append(k.options(), WithMiddleware(mw)), &static{route: "GET /x", data: 1})

	rec := serve(srv, http.MethodGet, "/x", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "1", rec.Body.String())
	var ours, theirs sdktrace.ReadOnlySpan
	for _, s := range k.spans.Ended() {
		if s.InstrumentationScope().Name == ScopeName {
			ours = s
		} else {
			theirs = s
		}
	}
	require.NotNil(t, ours)
	require.NotNil(t, theirs, "otelhttp made its span")
	assert.Equal(t, "GET /x", ours.Name())
	assert.Equal(t, ours.SpanContext().SpanID(), theirs.Parent().SpanID(), "otelhttp runs inside the server's span")
	assert.Equal(t, trace.SpanKindServer, theirs.SpanKind())
}

// TestGlobalProviders sets otel's global providers: it is not parallel,
// and puts no-op providers back when done.
func TestGlobalProviders(t *testing.T) {
	k := newTelemetryKit(t)
	srv, _ := newServer(t, nil, nil, &static{route: "GET /x", data: 1})
	serve(srv, http.MethodGet, "/x", nil)
	assert.Empty(t, k.spans.Ended())

	otel.SetTracerProvider(k.tp)
	otel.SetMeterProvider(k.mp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
	serve(srv, http.MethodGet, "/x", nil, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	span := k.span(t, "GET /x")
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", span.SpanContext().TraceID().String(),
		"the global tracer provider and propagator, set after the server was built")

	// Instruments are made when the server is built, from the global
	// meter provider of that time.
	built, _ := newServer(t, nil, nil, &static{route: "GET /y", data: 1})
	serve(built, http.MethodGet, "/y", nil)
	k.metric(t, MetricRequestDuration)
}
