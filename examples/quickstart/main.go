// Command quickstart is the README's quick start: the seed's MetricsService
// and DashboardController on fx, in one file.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"sync/atomic"
	"time"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

type MetricsService struct {
	sprag.Service
	orders, ticks atomic.Int64
}

func (m *MetricsService) OnStart(ctx context.Context) error {
	if _, err := m.Interval(time.Minute, m.collect); err != nil { // every minute, until the service stops
		return err
	}
	_, err := m.Listen("order:completed", m.onOrder)
	return err
}

func (m *MetricsService) collect(ctx context.Context) error {
	m.ticks.Add(1)
	return m.Emit(ctx, "metrics:updated", m.orders.Load())
}

func (m *MetricsService) onOrder(ctx context.Context, order any) error {
	m.orders.Add(1)
	return nil
}

type DashboardParams struct {
	fx.In
	Metrics *MetricsService `name:"metrics"` // named injection
}

type DashboardController struct{ metrics *MetricsService }

func NewDashboardController(p DashboardParams) *DashboardController {
	return &DashboardController{metrics: p.Metrics}
}

func (c *DashboardController) Route() string { return "GET /dashboard" }

func (c *DashboardController) Load(ctx context.Context, r *controllers.Request) (any, error) {
	return map[string]int64{"orders": c.metrics.orders.Load(), "ticks": c.metrics.ticks.Load()}, nil
}

func NewMetricsService() *MetricsService { return &MetricsService{} }

func main() {
	fxmodule.App(
		fxmodule.Providers(map[string]any{"metrics": NewMetricsService}),
		fxmodule.Controllers(NewDashboardController),
	).Run() // serves localhost:8080 (or SPRAG_ADDR) until Ctrl-C
}
