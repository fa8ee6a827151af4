package controllers_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/sprag"
)

// benchDoc is the small JSON document both benchmarks serve.
type benchDoc struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Price float64  `json:"price"`
	Tags  []string `json:"tags"`
}

var theDoc = &benchDoc{ID: 42, Name: "widget", Price: 9.99, Tags: []string{"new", "sale"}}

// docController serves theDoc from Load.
type docController struct{}

func (docController) Route() string { return "GET /doc/{id}" }

func (docController) Load(context.Context, *controllers.Request) (any, error) { return theDoc, nil }

// benchServer returns a server with a no-op logger, the controller on
// /doc/{id} and the hand-written handler on /raw/{id}: the same router and
// middleware for both.
func benchServer(b *testing.B) *controllers.Server {
	b.Helper()
	srv, err := controllers.NewServer(nil, controllers.WithLogger(zap.NewNop()))
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Mount(docController{}); err != nil {
		b.Fatal(err)
	}
	raw := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(theDoc); err != nil {
			http.Error(w, "encode", http.StatusInternalServerError)
		}
	})
	if err := srv.Handle("GET /raw/{id}", raw); err != nil {
		b.Fatal(err)
	}
	return srv
}

func runJSON(b *testing.B, path string) {
	srv := benchServer(b)
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Accept", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkControllerJSON serves theDoc through a controller's Load.
func BenchmarkControllerJSON(b *testing.B) { runJSON(b, "/doc/42") }

// BenchmarkRawHandlerJSON is the baseline: theDoc from a hand-written
// http.HandlerFunc behind the same router and middleware.
func BenchmarkRawHandlerJSON(b *testing.B) { runJSON(b, "/raw/42") }

// BenchmarkControllerJSONTelemetry is BenchmarkControllerJSON with the
// OpenTelemetry SDK installed: every request records its metrics into a
// manual reader and a sampled span into a tracer provider with no
// exporter. The difference is the cost of the telemetry.
func BenchmarkControllerJSONTelemetry(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	}()
	srv, err := controllers.NewServer(nil, controllers.WithLogger(zap.NewNop()),
		controllers.WithMeterProvider(mp), controllers.WithTracerProvider(tp), controllers.WithControllers(docController{}))
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/doc/42", nil)
	req.Header.Set("Accept", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// productionLogger is what zap.NewProduction builds, writing to nowhere:
// JSON at info level, sampled.
func productionLogger() *zap.Logger {
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zap.InfoLevel)
	return zap.New(zapcore.NewSamplerWithOptions(core, time.Second, 100, 100))
}

// getLoop requests url over one keep-alive connection for the benchmark's
// iterations.
func getLoop(b *testing.B, url string) {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d: %v", resp.StatusCode, err)
		}
	}
}

// The request log of both end-to-end benchmarks: the server's default
// (no line for a success with a logger at info level) and every request
// logged at info level.
var logLevels = []struct {
	name  string
	level zapcore.Level
}{{"log=default", controllers.DefaultRequestLogLevel}, {"log=info", zap.InfoLevel}}

// BenchmarkServerGetJSON serves theDoc from a controller through the
// Server's own http.Server on 127.0.0.1, with a production logger and the
// default stack (request id, telemetry without SDK, recovery, request log,
// cross-origin check), to one keep-alive client. Compare with
// BenchmarkRawServerGetJSON.
func BenchmarkServerGetJSON(b *testing.B) {
	for _, ll := range logLevels {
		b.Run(ll.name, func(b *testing.B) {
			srv, err := controllers.NewServer(nil, controllers.WithAddr("127.0.0.1:0"),
				controllers.WithLogger(productionLogger()), controllers.WithRequestLogLevel(ll.level),
				controllers.WithControllers(docController{}))
			if err != nil {
				b.Fatal(err)
			}
			if err := sprag.Bind(srv, "http", sprag.NewRuntime(nil)); err != nil {
				b.Fatal(err)
			}
			if err := srv.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := srv.Stop(context.Background()); err != nil {
					b.Error(err)
				}
			}()
			getLoop(b, "http://"+srv.Addr()+"/doc/42")
		})
	}
}

// BenchmarkRawServerGetJSON is the baseline of BenchmarkServerGetJSON: the
// same document from a plain net/http server on 127.0.0.1 whose handler
// writes the same request log line by hand, at the same level.
func BenchmarkRawServerGetJSON(b *testing.B) {
	for _, ll := range logLevels {
		b.Run(ll.name, func(b *testing.B) {
			logger := productionLogger()
			mux := http.NewServeMux()
			mux.HandleFunc("GET /doc/{id}", func(w http.ResponseWriter, r *http.Request) {
				start := time.Now()
				body, err := json.Marshal(theDoc)
				if err != nil {
					http.Error(w, "encode", http.StatusInternalServerError)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
				if ce := logger.Check(ll.level, "http request"); ce != nil {
					ce.Write(zap.String("method", r.Method), zap.String("route", r.Pattern), zap.Int("status", http.StatusOK),
						zap.Duration("duration", time.Since(start)), zap.String("request_id", r.Header.Get("X-Request-ID")))
				}
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			hs := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
			served := make(chan struct{})
			go func() {
				defer close(served)
				_ = hs.Serve(ln)
			}()
			defer func() {
				_ = hs.Shutdown(context.Background())
				<-served
			}()
			getLoop(b, "http://"+ln.Addr().String()+"/doc/42")
		})
	}
}
