package controllers_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
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

// startServer starts the Server on 127.0.0.1 with a production logger,
// the request log at level and the default stack (request id, telemetry
// without SDK, recovery, request log, cross-origin check), serving theDoc
// from a controller. It returns the document's URL and a stop function.
func startServer(b *testing.B, level zapcore.Level) (string, func()) {
	b.Helper()
	srv, err := controllers.NewServer(nil, controllers.WithAddr("127.0.0.1:0"),
		controllers.WithLogger(productionLogger()), controllers.WithRequestLogLevel(level),
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
	return "http://" + srv.Addr() + "/doc/42", func() {
		if err := srv.Stop(context.Background()); err != nil {
			b.Error(err)
		}
	}
}

// startRawServer starts a plain net/http server on 127.0.0.1 whose handler
// serves theDoc and writes the same request log line by hand, at level.
func startRawServer(b *testing.B, level zapcore.Level) (string, func()) {
	b.Helper()
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
		if ce := logger.Check(level, "http request"); ce != nil {
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
	return "http://" + ln.Addr().String() + "/doc/42", func() {
		_ = hs.Shutdown(context.Background())
		<-served
	}
}

// BenchmarkServerGetJSON serves theDoc from a controller through the
// Server's own http.Server on 127.0.0.1 (startServer) to one keep-alive
// client. Compare with BenchmarkRawServerGetJSON, or read the ratio of
// BenchmarkServerGetJSONVsRaw, which alternates the two.
func BenchmarkServerGetJSON(b *testing.B) {
	for _, ll := range logLevels {
		b.Run(ll.name, func(b *testing.B) {
			url, stop := startServer(b, ll.level)
			defer stop()
			getLoop(b, url)
		})
	}
}

// BenchmarkRawServerGetJSON is the baseline of BenchmarkServerGetJSON: the
// same document from a plain net/http server (startRawServer).
func BenchmarkRawServerGetJSON(b *testing.B) {
	for _, ll := range logLevels {
		b.Run(ll.name, func(b *testing.B) {
			url, stop := startRawServer(b, ll.level)
			defer stop()
			getLoop(b, url)
		})
	}
}

// BenchmarkServerGetJSONVsRaw alternates one request to the Server and one
// to the raw server, each over its own keep-alive connection, so that both
// see the same machine at the same moments: ns/op is the pair; server and
// raw are the median time of each request, and ratio is server / raw.
func BenchmarkServerGetJSONVsRaw(b *testing.B) {
	for _, ll := range logLevels {
		b.Run(ll.name, func(b *testing.B) {
			url, stop := startServer(b, ll.level)
			defer stop()
			rawURL, rawStop := startRawServer(b, ll.level)
			defer rawStop()
			get, closeGet := getter(b, url)
			defer closeGet()
			getRaw, closeRaw := getter(b, rawURL)
			defer closeRaw()
			var ours, raw []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				ours = append(ours, get())
				raw = append(raw, getRaw())
			}
			b.StopTimer()
			slices.Sort(ours)
			slices.Sort(raw)
			server, baseline := ours[len(ours)/2], raw[len(raw)/2]
			b.ReportMetric(float64(server.Nanoseconds()), "server-ns/req")
			b.ReportMetric(float64(baseline.Nanoseconds()), "raw-ns/req")
			b.ReportMetric(float64(server)/float64(baseline), "ratio")
		})
	}
}

// getter returns a function that requests url over one keep-alive
// connection and returns how long the request took.
func getter(b *testing.B, url string) (func() time.Duration, func()) {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	client := &http.Client{Transport: tr}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	return func() time.Duration {
		began := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		return time.Since(began)
	}, tr.CloseIdleConnections
}
