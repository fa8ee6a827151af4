package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sprag-go/sprag/controllers"
)

// The server records its metrics and spans through the OpenTelemetry API;
// the app brings the SDK. Here an in-memory one, as tests use.
func ExampleWithTracerProvider() {
	reader := sdkmetric.NewManualReader()
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tracers := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() {
		_ = meters.Shutdown(context.Background())
		_ = tracers.Shutdown(context.Background())
	}()

	srv, err := controllers.NewServer(nil,
		controllers.WithMeterProvider(meters),
		controllers.WithTracerProvider(tracers),
		controllers.WithPropagator(propagation.TraceContext{}), // W3C traceparent
		controllers.WithControllers(OrdersController{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	srv.ServeHTTP(rec, req)                                            // continues the caller's trace
	post(srv, "/orders/create", `{"email":"ada@example.com","qty":1}`) // a new trace, with a span for the action

	for _, s := range spans.Ended() {
		fmt.Println(s.SpanKind(), s.Name(), "remote parent:", s.Parent().IsRemote())
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		fmt.Println(m.Name, m.Unit)
	}
	// Output:
	// server GET /orders remote parent: true
	// internal action create remote parent: false
	// server POST /orders/create remote parent: false
	// http.server.request.duration s
	// http.server.active_requests {request}
	// http.server.request.body.size By
	// http.server.response.body.size By
}
