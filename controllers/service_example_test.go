package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/sprag"
)

// MetricsService counts orders; it is a sprag service.
type MetricsService struct {
	sprag.Service
	orders atomic.Int64
}

// StatsController finds the metrics service by name at request time.
type StatsController struct{}

func (StatsController) Route() string { return "GET /stats" }

func (StatsController) Load(_ context.Context, r *controllers.Request) (any, error) {
	metrics, err := controllers.Service[*MetricsService](r, "metrics")
	if err != nil {
		return nil, err // a 500 for the client; the log names the service
	}
	return map[string]int64{"orders": metrics.orders.Load()}, nil
}

// Service looks a service up by name from inside a controller, typed, as
// the original's self.service("metrics").
func ExampleService() {
	registry := sprag.NewRegistry()
	metrics := &MetricsService{}
	metrics.orders.Store(7)
	if err := sprag.Bind(metrics, "metrics", sprag.NewRuntime(nil)); err != nil {
		fmt.Println(err)
		return
	}
	if err := registry.Provide("metrics", metrics); err != nil {
		fmt.Println(err)
		return
	}

	srv, err := controllers.NewServer(registry)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.Mount(StatsController{}); err != nil {
		fmt.Println(err)
		return
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats", nil))
	fmt.Println(rec.Code, rec.Body)

	// Without the service, Load's error is a 500 that says nothing of it.
	empty, err := controllers.NewServer(sprag.NewRegistry())
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := empty.Mount(StatsController{}); err != nil {
		fmt.Println(err)
		return
	}
	req := httptest.NewRequest(http.MethodGet, "/stats", nil)
	req.Header.Set(controllers.HeaderRequestID, "req-3")
	rec = httptest.NewRecorder()
	empty.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body)
	// Output:
	// 200 {"orders":7}
	// 500 {"type":"about:blank","title":"Internal Server Error","status":500,"instance":"/stats","request_id":"req-3"}
}
