package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
)

// The routes of the dashboard's HTTP side.
const (
	dashboardRoute = "GET /dashboard"
	ordersRoute    = "GET /orders"
	eventsRoute    = "GET /events"
	recentOnPage   = 10 // orders in the dashboard's table
	recentInList   = 50 // orders on /orders
)

// DashboardParams is what DashboardController receives: services by name.
type DashboardParams struct {
	fx.In
	Metrics *MetricsService `name:"metrics"`
	Orders  *OrderService   `name:"orders"`
}

// DashboardController is the seed's DashboardController on /dashboard:
// the figures, the recent orders and the order form. Its "order" action,
// POST /dashboard/order, is where the page's form posts.
type DashboardController struct {
	metrics *MetricsService
	orders  *OrderService
}

// NewDashboardController is the controller's fx constructor.
func NewDashboardController(p DashboardParams) *DashboardController {
	return &DashboardController{metrics: p.Metrics, orders: p.Orders}
}

// DashboardView is the dashboard's data: the page renders it, and an API
// client gets it as JSON.
type DashboardView struct {
	Stats  Stats   `json:"stats"`
	Recent []Order `json:"recent_orders"` // newest first
	// Placed is the order that the browser's form just placed (the
	// ?placed= of the redirect after the post), for the page's notice.
	Placed *Order `json:"placed,omitempty"`
	// LastEventID is the event stream's position when the data was read:
	// the page's EventSource resumes from it, so it misses nothing.
	LastEventID string `json:"last_event_id"`
	Currency    string `json:"currency"` // ISO 4217, for the amounts in cents
}

// Route is the controller's ServeMux pattern.
func (c *DashboardController) Route() string { return dashboardRoute }

// Load reads the figures and the recent orders from the database, and the
// runtime's figures from the metrics service.
func (c *DashboardController) Load(ctx context.Context, r *controllers.Request) (any, error) {
	view := DashboardView{LastEventID: r.StreamLastEventID(eventsRoute), Currency: "USD"} // first: events after it are newer than the data
	st := c.orders.Store()
	totals, err := st.Totals(ctx)
	if err != nil {
		return nil, err
	}
	view.Stats = c.metrics.CurrentStats()
	view.Stats.setTotals(totals)
	if view.Recent, err = st.Recent(ctx, recentOnPage); err != nil {
		return nil, err
	}
	if id, err := strconv.ParseInt(r.Query().Get("placed"), 10, 64); err == nil {
		if o, err := st.Order(ctx, id); err == nil {
			view.Placed = &o
		} else if !errors.Is(err, ErrNoSuchOrder) {
			return nil, err
		}
	}
	return view, nil
}

// Actions lists the controller's actions: "order", the page's form.
func (c *DashboardController) Actions() []*controllers.ActionHandler {
	return []*controllers.ActionHandler{controllers.Action("order", c.order)}
}

// order places the order. A browser's form post without JavaScript (a
// form body whose Accept header prefers HTML, as the server negotiates
// it) is redirected to the dashboard with the new order's id, for the
// notice; the page's script, which asks for JSON, gets the order.
func (c *DashboardController) order(ctx context.Context, r *controllers.Request, in NewOrder) (any, error) {
	placed, err := c.orders.Place(ctx, in)
	if err != nil {
		return nil, err
	}
	if r.Form() != nil && r.WantsHTML() { // a browser's form post, by the server's own negotiation
		return nil, controllers.Redirect(http.StatusSeeOther, "/dashboard?placed="+strconv.FormatInt(placed.Order.ID, 10)+"#recent")
	}
	return placed, nil
}

// OrdersParams is what OrdersController receives.
type OrdersParams struct {
	fx.In
	Orders *OrderService `name:"orders"`
}

// OrdersController lists the last orders on GET /orders and takes new
// ones from API clients with its "create" action: POST /orders/create.
type OrdersController struct{ orders *OrderService }

// NewOrdersController is the controller's fx constructor.
func NewOrdersController(p OrdersParams) *OrdersController {
	return &OrdersController{orders: p.Orders}
}

// Route is the controller's ServeMux pattern.
func (c *OrdersController) Route() string { return ordersRoute }

// Load returns the last orders, newest first.
func (c *OrdersController) Load(ctx context.Context, _ *controllers.Request) (any, error) {
	return c.orders.Store().Recent(ctx, recentInList)
}

// Actions lists the controller's actions.
func (c *OrdersController) Actions() []*controllers.ActionHandler {
	return []*controllers.ActionHandler{
		controllers.Action("create", func(ctx context.Context, _ *controllers.Request, in NewOrder) (any, error) {
			return c.orders.Place(ctx, in)
		}),
	}
}

// HomeController sends the site's root to the dashboard.
type HomeController struct{}

// NewHomeController is the controller's fx constructor.
func NewHomeController() HomeController { return HomeController{} }

// Route is the controller's ServeMux pattern: the root alone.
func (HomeController) Route() string { return "GET /{$}" }

// Load redirects to the dashboard.
func (HomeController) Load(context.Context, *controllers.Request) (any, error) {
	return nil, controllers.Redirect(http.StatusFound, "/dashboard")
}
