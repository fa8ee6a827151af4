package controllers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
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
