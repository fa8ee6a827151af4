package controllers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
)

// ScopeName is the instrumentation scope of the server's meters and
// tracers.
const ScopeName = "github.com/sprag-go/sprag/controllers"

// The names of the server's metrics. The HTTP ones follow the OpenTelemetry
// semantic conventions for HTTP servers; the stream ones are the library's
// own, under the sprag. prefix.
const (
	MetricRequestDuration  = "http.server.request.duration"   // histogram, s
	MetricActiveRequests   = "http.server.active_requests"    // up-down counter, {request}
	MetricRequestBodySize  = "http.server.request.body.size"  // histogram, By
	MetricResponseBodySize = "http.server.response.body.size" // histogram, By
	MetricStreamClients    = "sprag.http.stream.clients"      // up-down counter, {client}
	MetricStreamPublished  = "sprag.http.stream.published"    // counter, {event}
	MetricStreamDropped    = "sprag.http.stream.dropped"      // counter, {event}
	MetricStreamGaps       = "sprag.http.stream.gaps"         // counter, {gap}
	MetricStreamRefused    = "sprag.http.stream.refused"      // counter, {stream}
)

const (
	attrController = attribute.Key("sprag.controller") // an action span's controller type
	attrAction     = attribute.Key("sprag.action")     // an action span's action name

	// globalOTelPackage is the package of otel's delegating defaults.
	globalOTelPackage = "go.opentelemetry.io/otel/internal/global"
)

// durationBuckets are the bucket boundaries the semantic conventions advise
// for http.server.request.duration.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// telemetry records the server's metrics and traces through the
// OpenTelemetry API. With no SDK installed (the otel globals' defaults, or
// no-op providers) it costs a few atomic loads per request and allocates
// nothing: instruments report Enabled false, and tracing is skipped when
// the tracer provider is known to be a no-op.
type telemetry struct {
	meter          metric.Meter
	tracerProvider trace.TracerProvider             // WithTracerProvider's; nil means otel's global, read per request
	propagator     propagation.TextMapPropagator    // WithPropagator's; nil means otel's global
	fixed          *tracerChoice                    // the tracer of tracerProvider, when set
	global         atomic.Pointer[tracerChoice]     // the tracer of the global provider last seen
	globalProp     atomic.Pointer[propagatorChoice] // the global propagator last seen

	duration metric.Float64Histogram
	active   metric.Int64UpDownCounter
	reqSize  metric.Int64Histogram
	respSize metric.Int64Histogram

	// activeSets holds the attribute sets of active_requests for the
	// known methods, by method index and scheme, so that counting a
	// request allocates nothing.
	activeSets [len(knownMethods) + 1][2]attribute.Set
}

// tracerChoice is a provider's tracer and whether it records at all.
type tracerChoice struct {
	tp     trace.TracerProvider
	typ    reflect.Type // tp's dynamic type
	same   bool         // tp's type compares by identity: a pointer
	tracer trace.Tracer
	on     bool
}

// propagatorChoice is whether a propagator is otel's global default,
// by the propagator's dynamic type.
type propagatorChoice struct {
	typ       reflect.Type
	isDefault bool
}

func newTelemetry(mp metric.MeterProvider, tp trace.TracerProvider, prop propagation.TextMapPropagator) (*telemetry, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t := &telemetry{meter: mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL)), tracerProvider: tp, propagator: prop}
	if tp != nil {
		t.fixed = chooseTracer(tp)
	}
	var errs [4]error
	t.duration, errs[0] = t.meter.Float64Histogram(MetricRequestDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests."), metric.WithExplicitBucketBoundaries(durationBuckets...))
	t.active, errs[1] = t.meter.Int64UpDownCounter(MetricActiveRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Number of active HTTP server requests."))
	t.reqSize, errs[2] = t.meter.Int64Histogram(MetricRequestBodySize, metric.WithUnit("By"),
		metric.WithDescription("Size of HTTP server request bodies."))
	t.respSize, errs[3] = t.meter.Int64Histogram(MetricResponseBodySize, metric.WithUnit("By"),
		metric.WithDescription("Size of HTTP server response bodies."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	for i := range t.activeSets {
		method := "_OTHER"
		if i < len(knownMethods) {
			method = knownMethods[i]
		}
		for j, scheme := range [2]string{"http", "https"} {
			t.activeSets[i][j] = attribute.NewSet(semconv.HTTPRequestMethodKey.String(method), semconv.URLScheme(scheme))
		}
	}
	return t, nil
}

// chooseTracer returns tp's tracer, off when tp is a no-op provider: the
// noop package's, or the otel global before any SDK was set, which hands
// out non-recording spans only.
func chooseTracer(tp trace.TracerProvider) *tracerChoice {
	var on bool
	switch tp.(type) {
	case tracenoop.TracerProvider, *tracenoop.TracerProvider:
		on = false
	default:
		on = !isOTelGlobalDefault(tp)
	}
	typ := reflect.TypeOf(tp)
	return &tracerChoice{
		tp: tp, typ: typ, same: typ.Kind() == reflect.Pointer,
		tracer: tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)), on: on,
	}
}

// isOTelGlobalDefault reports whether v is the delegating default that
// otel's globals return until the app sets its own provider or
// propagator. Once the app sets one, the global getters return the app's,
// so the default seen here never has a delegate.
func isOTelGlobalDefault(v any) bool {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t != nil && t.PkgPath() == globalOTelPackage
}

// tracer returns the tracer to use now and whether it records. For otel's
// global provider it costs two loads and a comparison while the provider
// stays the one last seen: any provider of a no-op type is off, and a
// recording one is compared by identity (a provider whose type is not a
// pointer is looked at anew each time).
func (t *telemetry) tracer() (trace.Tracer, bool) {
	if t.fixed != nil {
		return t.fixed.tracer, t.fixed.on
	}
	tp := otel.GetTracerProvider()
	if c := t.global.Load(); c != nil && c.typ == reflect.TypeOf(tp) && (!c.on || (c.same && c.tp == tp)) {
		return c.tracer, c.on
	}
	c := chooseTracer(tp)
	t.global.Store(c)
	return c.tracer, c.on
}

// extract returns ctx with the trace context of the request's headers, by
// WithPropagator's propagator or otel's global one. The global default,
// which extracts nothing, is skipped.
func (t *telemetry) extract(ctx context.Context, h http.Header) context.Context {
	p := t.propagator
	if p == nil {
		p = otel.GetTextMapPropagator()
		typ := reflect.TypeOf(p)
		c := t.globalProp.Load()
		if c == nil || c.typ != typ {
			c = &propagatorChoice{typ: typ, isDefault: isOTelGlobalDefault(p)}
			t.globalProp.Store(c)
		}
		if c.isDefault {
			return ctx
		}
	}
	return p.Extract(ctx, propagation.HeaderCarrier(h))
}

// knownMethods are the methods the semantic conventions name; any other is
// recorded as "_OTHER".
var knownMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
	http.MethodConnect, http.MethodOptions, http.MethodTrace, http.MethodPatch, "QUERY",
}

// methodIndex returns the index of m in knownMethods, or len(knownMethods).
func methodIndex(m string) uint8 {
	for i, k := range knownMethods {
		if m == k {
			return uint8(i)
		}
	}
	return uint8(len(knownMethods))
}

// requestTelemetry is a request's span and metric state, kept in its
// responseWriter.
type requestTelemetry struct {
	span    trace.Span // nil when not tracing
	method  uint8      // index in knownMethods
	metrics bool       // metrics were enabled when the request began
	https   bool
}

// begin starts the request's span, a server span named after its method
// until the route is known, and counts it as active. It returns the
// context the request continues with.
func (t *telemetry) begin(ctx context.Context, rt *requestTelemetry, r *http.Request) context.Context {
	rt.method = methodIndex(r.Method)
	rt.https = r.TLS != nil
	ctx = t.extract(ctx, r.Header)
	if tracer, on := t.tracer(); on {
		ctx, rt.span = tracer.Start(ctx, rt.spanName(), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				semconv.HTTPRequestMethodKey.String(rt.methodName()),
				semconv.URLPath(r.URL.EscapedPath()),
				semconv.URLScheme(rt.scheme()),
				semconv.NetworkProtocolVersion(protocolVersion(r)),
				semconv.UserAgentOriginal(r.UserAgent()),
			))
	}
	if t.duration.Enabled(ctx) {
		rt.metrics = true
		t.active.Add(ctx, 1, metric.WithAttributeSet(t.activeSet(rt)))
	}
	return ctx
}

func (t *telemetry) activeSet(rt *requestTelemetry) attribute.Set {
	scheme := 0
	if rt.https {
		scheme = 1
	}
	return t.activeSets[rt.method][scheme]
}

func (rt *requestTelemetry) methodName() string {
	if int(rt.method) < len(knownMethods) {
		return knownMethods[rt.method]
	}
	return "_OTHER"
}

// spanName is the method as the span's name gives it: "HTTP" for an
// unknown method, as OpenTelemetry's HTTP conventions ask.
func (rt *requestTelemetry) spanName() string {
	if int(rt.method) < len(knownMethods) {
		return knownMethods[rt.method]
	}
	return "HTTP"
}

func (rt *requestTelemetry) scheme() string {
	if rt.https {
		return "https"
	}
	return "http"
}

// appendTrace appends the trace and span ids of the request's span to a
// log entry's fields, so that the line and the trace can be joined.
func (rt *requestTelemetry) appendTrace(fields []zap.Field) []zap.Field {
	if rt.span == nil {
		return fields
	}
	sc := rt.span.SpanContext()
	return append(fields, zap.Stringer("trace_id", sc.TraceID()), zap.Stringer("span_id", sc.SpanID()))
}

// route names the span after the route that matched: "GET /orders/{id}".
func (rt *requestTelemetry) route(rw *responseWriter) {
	if rt.span == nil || rw.rt == nil || rw.rt.httpRoute == "" {
		return
	}
	rt.span.SetName(rt.spanName() + " " + rw.rt.httpRoute)
	rt.span.SetAttributes(semconv.HTTPRoute(rw.rt.httpRoute))
}

// end ends the request's span and records its metrics.
func (t *telemetry) end(ctx context.Context, rw *responseWriter, d time.Duration) {
	rt := &rw.tel
	status := rw.finalStatus()
	if rt.span != nil {
		rt.span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= http.StatusInternalServerError {
			rt.span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
			rt.span.SetStatus(codes.Error, "")
		}
		rt.span.End()
	}
	if !rt.metrics {
		return
	}
	kvs := make([]attribute.KeyValue, 0, 6)
	kvs = append(kvs,
		semconv.HTTPRequestMethodKey.String(rt.methodName()),
		semconv.URLScheme(rt.scheme()),
		semconv.HTTPResponseStatusCode(status),
		semconv.NetworkProtocolVersion(protocolVersion(rw.req)),
	)
	if rw.rt != nil && rw.rt.httpRoute != "" {
		kvs = append(kvs, semconv.HTTPRoute(rw.rt.httpRoute))
	}
	if status >= http.StatusInternalServerError {
		kvs = append(kvs, semconv.ErrorTypeKey.String(strconv.Itoa(status)))
	}
	set := metric.WithAttributeSet(attribute.NewSet(kvs...))
	t.duration.Record(ctx, d.Seconds(), set)
	var read int64
	if rw.body != nil {
		read = rw.body.n
	}
	t.reqSize.Record(ctx, read, set)
	t.respSize.Record(ctx, rw.written, set)
	t.active.Add(ctx, -1, metric.WithAttributeSet(t.activeSet(rt)))
}

// protocolVersion is network.protocol.version: "1.1", "2".
func protocolVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	}
	return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
}

// startAction starts the span of an action, a child of the request's.
func (t *telemetry) startAction(ctx context.Context, rt *route) (context.Context, trace.Span) {
	tracer, on := t.tracer()
	if !on {
		return ctx, nil
	}
	return tracer.Start(ctx, "action "+rt.action, trace.WithAttributes(
		attrController.String(rt.owner), attrAction.String(rt.action)))
}

// observeStreams registers the callback that reports the streams' figures
// (stats) as the sprag.http.stream.* metrics, each with the stream's
// http.route. The figures are counted by the streams anyway; the callback
// reads them only when a reader collects, so they cost nothing per event.
func (t *telemetry) observeStreams(stats func() []StreamStats) (metric.Registration, error) {
	var (
		clients                           metric.Int64ObservableUpDownCounter
		published, dropped, gaps, refused metric.Int64ObservableCounter
		errs                              [5]error
	)
	clients, errs[0] = t.meter.Int64ObservableUpDownCounter(MetricStreamClients, metric.WithUnit("{client}"),
		metric.WithDescription("Clients connected to the server's event streams."))
	published, errs[1] = t.meter.Int64ObservableCounter(MetricStreamPublished, metric.WithUnit("{event}"),
		metric.WithDescription("Bus events forwarded to event streams."))
	dropped, errs[2] = t.meter.Int64ObservableCounter(MetricStreamDropped, metric.WithUnit("{event}"),
		metric.WithDescription("Events that stream clients skipped because they fell behind, summed over clients."))
	gaps, errs[3] = t.meter.Int64ObservableCounter(MetricStreamGaps, metric.WithUnit("{gap}"),
		metric.WithDescription("Gap markers sent to stream clients."))
	refused, errs[4] = t.meter.Int64ObservableCounter(MetricStreamRefused, metric.WithUnit("{stream}"),
		metric.WithDescription("Stream connections refused: over the limit, or the server not running."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	reg, err := t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, st := range stats() {
			set := metric.WithAttributeSet(attribute.NewSet(semconv.HTTPRoute(routePath(st.Route))))
			o.ObserveInt64(clients, st.Clients, set)
			o.ObserveInt64(published, toInt64(st.Published), set)
			o.ObserveInt64(dropped, toInt64(st.Dropped), set)
			o.ObserveInt64(gaps, toInt64(st.Gaps), set)
			o.ObserveInt64(refused, toInt64(st.Refused), set)
		}
		return nil
	}, clients, published, dropped, gaps, refused)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	return reg, nil
}

// toInt64 converts a count that cannot reach 2^63 in practice.
func toInt64(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}
