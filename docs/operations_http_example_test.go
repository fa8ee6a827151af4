package docs_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/sprag"
)

// newTracing sends the app's spans to an OpenTelemetry collector over
// OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4318) and makes
// its provider and the W3C propagator the globals, which the server uses
// when no option names others. The returned function flushes and stops
// the exporter: call it last, after the server stopped.
func newTracing(ctx context.Context) (func(context.Context) error, error) {
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}

// Example_operationsOTLP is compiled but not run (it has no Output
// comment): it would send spans to a collector.
func Example_operationsOTLP() {
	ctx := context.Background()
	shutdown, err := newTracing(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = shutdown(ctx) }()

	// Or hand the providers to the server alone, without the globals:
	// controllers.WithTracerProvider(tp), controllers.WithMeterProvider(mp).
	srv, err := controllers.NewServer(sprag.NewRegistry(), controllers.WithControllers(&OrderController{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = srv // bind, start and stop it as any service; fxmodule does
}

// requireBearer refuses requests without the expected token, answering
// 401 itself: the shape of any auth middleware.
func requireBearer(token string) controllers.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				w.Header().Set("WWW-Authenticate", "Bearer")
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func Example_operationsHTTP() {
	trusted := http.NewCrossOriginProtection()
	_ = trusted.AddTrustedOrigin("https://admin.example.com") // a front end on another origin

	srv, err := controllers.NewServer(sprag.NewRegistry(),
		controllers.WithAddr(":8080"),                       // every interface: explicit; the default is localhost:8080
		controllers.WithMiddleware(requireBearer("s3cret")), // otelhttp, chi's middlewares, CORS… plug in the same way
		controllers.WithCrossOriginProtection(trusted),
		controllers.WithDrainDelay(5*time.Second),       // /readyz answers 503 this long before the listener closes
		controllers.WithRequestLogLevel(zap.DebugLevel), // the default: no line per success at info level
		controllers.WithControllers(&OrderController{orders: map[string]OrderView{"7": {ID: "7"}}}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, auth := range []string{"", "Bearer s3cret"} {
		req := httptest.NewRequest(http.MethodGet, "/orders/7", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// 401 Bearer
	// 200
}
