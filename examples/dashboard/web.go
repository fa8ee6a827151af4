package main

import (
	"context"
	"html/template"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
)

// DashboardParams is what DashboardController receives: services by name.
type DashboardParams struct {
	fx.In
	Metrics *MetricsService `name:"metrics"`
	Orders  *OrderService   `name:"orders"`
}

// DashboardController is the seed's DashboardController on /dashboard.
type DashboardController struct {
	metrics *MetricsService
	orders  *OrderService
}

// NewDashboardController is the controller's fx constructor.
func NewDashboardController(p DashboardParams) *DashboardController {
	return &DashboardController{metrics: p.Metrics, orders: p.Orders}
}

// Route is the controller's ServeMux pattern.
func (c *DashboardController) Route() string { return "GET /dashboard" }

// Load returns the dashboard's data.
func (c *DashboardController) Load(context.Context, *controllers.Request) (any, error) {
	return map[string]any{"stats": c.metrics.CurrentStats(), "recent_orders": c.orders.Recent()}, nil
}

// OrdersParams is what OrdersController receives.
type OrdersParams struct {
	fx.In
	Orders *OrderService `name:"orders"`
}

// OrdersController lists orders on GET /orders and takes new ones with its
// "create" action: POST /orders/create.
type OrdersController struct{ orders *OrderService }

// NewOrdersController is the controller's fx constructor.
func NewOrdersController(p OrdersParams) *OrdersController {
	return &OrdersController{orders: p.Orders}
}

// Route is the controller's ServeMux pattern.
func (c *OrdersController) Route() string { return "GET /orders" }

// Load returns the recent orders.
func (c *OrdersController) Load(context.Context, *controllers.Request) (any, error) {
	return c.orders.Recent(), nil
}

// Actions lists the controller's actions.
func (c *OrdersController) Actions() []*controllers.ActionHandler {
	return []*controllers.ActionHandler{
		controllers.Action("create", func(ctx context.Context, _ *controllers.Request, in NewOrder) (any, error) {
			return c.orders.Place(ctx, in)
		}),
	}
}

// appShell is the seed's app_shell: the page every browser route renders
// in, with the page's data for the client in #sprag-data.
var appShell = template.Must(template.New("shell").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}pre{background:#f4f4f4;padding:1rem}</style>
</head>
<body>
<nav><a href="/dashboard">Dashboard</a> · <a href="/orders">Orders</a></nav>
{{- if .Error}}
<h1>{{.Error.Status}} {{.Error.Message}}</h1>
{{- else}}
<h1>{{.Route}}</h1>
{{- end}}
<pre id="view"></pre>
<script id="sprag-data" type="application/json">{{.JSON}}</script>
<script>
document.getElementById("view").textContent =
  JSON.stringify(JSON.parse(document.getElementById("sprag-data").textContent), null, 2);
</script>
</body>
</html>
`))
