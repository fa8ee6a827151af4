package controllers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sprag-go/sprag/sprag"
)

// The tests of this file hold the telemetry promises of
// docs/operations.md ("OpenTelemetry for HTTP") and docs/controllers.md
// ("Telemetry") that the package's other tests leave open.

// TestTelemetryPromisesTraceFlowsIntoListeners: an incoming traceparent
// continues the caller's trace; the action's span is a child of the
// request's server span; the listeners the action's emit reaches, traced
// by a sprag runtime, are children of the action's span, in the caller's
// trace.
func TestTelemetryPromisesTraceFlowsIntoListeners(t *testing.T) {
	t.Parallel()
	k := newTelemetryKit(t)
	rt := sprag.NewRuntime(nil, sprag.WithMeterProvider(k.mp), sprag.WithTracerProvider(k.tp))
	mailer := sprag.NewScope("mailer", rt)
	t.Cleanup(func() { assert.NoError(t, mailer.Close(context.Background())) })
	var heard trace.SpanContext
	_, err := mailer.Listen("order:*", func(ctx context.Context, _ any) error {
		heard = trace.SpanContextFromContext(ctx)
		return nil
	})
	require.NoError(t, err)
	ctrl := &loader{route: "GET /orders/{id}", actions: []*ActionHandler{
		Action("create", func(ctx context.Context, _ *Request, _ struct{}) (any, error) {
			return nil, rt.Bus.Emit(ctx, "order:created", 7)
		}),
	}}
	srv, _ := newServer(t, nil, k.options(), ctrl)

	const remoteTrace, remoteSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	rec := postJSON(srv, "/orders/7/create", `{}`, "traceparent", "00-"+remoteTrace+"-"+remoteSpan+"-01")
	require.Equal(t, http.StatusNoContent, rec.Code)

	request := k.span(t, "POST /orders/{id}/create")
	assert.Equal(t, trace.SpanKindServer, request.SpanKind())
	assert.True(t, request.Parent().IsRemote())
	assert.Equal(t, remoteSpan, request.Parent().SpanID().String())
	assert.Equal(t, "/orders/{id}/create", spanAttrs(request)["http.route"])
	assert.Equal(t, "POST", spanAttrs(request)["http.request.method"])
	assert.Equal(t, int64(http.StatusNoContent), spanAttrs(request)["http.response.status_code"])
	action := k.span(t, "action create")
	assert.Equal(t, request.SpanContext().SpanID(), action.Parent().SpanID(), "the action's span is a child of the request's")
	listen := k.span(t, "listen order:*")
	assert.Equal(t, action.SpanContext().SpanID(), listen.Parent().SpanID(), "the listener call is a child of the action's span")
	var listener sdktrace.ReadOnlySpan
	for _, s := range k.spans.Ended() {
		if strings.HasPrefix(s.Name(), "listener ") { // the service's run of its listener
			listener = s
		}
	}
	require.NotNil(t, listener)
	assert.Equal(t, listen.SpanContext().SpanID(), listener.Parent().SpanID())
	assert.Equal(t, listener.SpanContext(), heard, "the listener runs inside its span")
	for _, s := range []sdktrace.ReadOnlySpan{request, action, listen, listener} {
		assert.Equal(t, remoteTrace, s.SpanContext().TraceID().String(), "%s is in the caller's trace", s.Name())
	}
}

// TestTelemetryPromisesServerSpanStatus: a request's span has status
// error for a 5xx, also a panic's, and not for a 4xx.
func TestTelemetryPromisesServerSpanStatus(t *testing.T) {
	t.Parallel()
	k := newTelemetryKit(t)
	srv, _ := newServer(t, nil, k.options(), &loader{route: "GET /x", load: func(context.Context, *Request) (any, error) {
		panic("boom")
	}})
	require.Equal(t, http.StatusInternalServerError, serve(srv, http.MethodGet, "/x", nil).Code)
	require.Equal(t, http.StatusNotFound, serve(srv, http.MethodGet, "/nowhere", nil).Code)

	panicked := k.span(t, "GET /x")
	assert.Equal(t, codes.Error, panicked.Status().Code)
	assert.Equal(t, int64(500), spanAttrs(panicked)["http.response.status_code"])
	assert.Equal(t, "500", spanAttrs(panicked)["error.type"])
	missing := k.span(t, "GET")
	assert.Equal(t, codes.Unset, missing.Status().Code, "a 4xx is the client's error, not the server's")
	assert.NotContains(t, spanAttrs(missing), "error.type")
}

// TestTelemetryPromisesInstruments: the instrument and unit of every
// metric of the server, HTTP's and its streams'.
func TestTelemetryPromisesInstruments(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		k := newTelemetryKit(t)
		m := startMem(t, k.options(), func(s *Server) {
			_, err := s.Stream("/events", Forward("x"))
			require.NoError(t, err)
			require.NoError(t, s.Mount(&static{route: "GET /x", data: 1}))
		})
		require.Equal(t, http.StatusOK, m.request(t, "/x").StatusCode)
		for _, tt := range []struct {
			name, instrument, unit string
		}{
			{MetricRequestDuration, "float64 histogram", "s"},
			{MetricActiveRequests, "up-down counter", "{request}"},
			{MetricRequestBodySize, "int64 histogram", "By"},
			{MetricResponseBodySize, "int64 histogram", "By"},
			{MetricStreamClients, "up-down counter", "{client}"},
			{MetricStreamPublished, "counter", "{event}"},
			{MetricStreamDropped, "counter", "{event}"},
			{MetricStreamGaps, "counter", "{gap}"},
			{MetricStreamRefused, "counter", "{stream}"},
		} {
			metric := k.metric(t, tt.name)
			var instrument string
			switch d := metric.Data.(type) {
			case metricdata.Histogram[float64]:
				instrument = "float64 histogram"
			case metricdata.Histogram[int64]:
				instrument = "int64 histogram"
			case metricdata.Sum[int64]:
				instrument = "up-down counter"
				if d.IsMonotonic {
					instrument = "counter"
				}
			}
			assert.Equal(t, tt.instrument, instrument, tt.name)
			assert.Equal(t, tt.unit, metric.Unit, tt.name)
			assert.NotEmpty(t, metric.Description, tt.name)
		}
	})
}
