package controllers

import (
	"context"
	"fmt"
	"net/http"
)

// Controller is a page or an endpoint of the app: a route and a Load that
// produces the route's data.
//
//	type DashboardController struct{ metrics *MetricsService }
//
//	func (c *DashboardController) Route() string { return "GET /dashboard/{id}" }
//
//	func (c *DashboardController) Load(ctx context.Context, r *controllers.Request) (any, error) {
//		return c.metrics.Stats(ctx, r.PathValue("id"))
//	}
//
// [Server.Mount] calls Route once and registers the pattern; it calls Actions
// once if the controller is an [Actioner]. Load is then called for every
// matching request, concurrently from many goroutines, so a controller guards
// its own mutable fields.
//
// Load's result is served as JSON to API clients and as an HTML page to
// browsers (see the package documentation). Load may instead return:
//
//   - a [Redirect], which answers with that redirect;
//   - an *[HTTPError], which answers with its status and its public message;
//   - any other error, which answers 500 with a problem that has no
//     detail (its title is "Internal Server Error") and is logged with
//     the controller, the route, the request id and the error's text.
//
// A panic in Load is recovered, logged with its stack, and answers 500.
type Controller interface {
	// Route returns the controller's Go 1.22 ServeMux pattern, such as
	// "GET /dashboard/{id}" or "GET example.com/orders/". A pattern
	// without a method means GET, which also answers HEAD. An empty route
	// fails Mount with [ErrNoRoute].
	Route() string

	// Load returns the data of the route for one request. ctx is the
	// request's context: it ends when the client goes away, when the
	// request's handling is over, or when the server is shut down.
	Load(ctx context.Context, r *Request) (any, error)
}

// Actioner is implemented by a controller that has named actions: the
// mutations of the page, called with POST and a JSON body. Build each with
// [Action]:
//
//	func (c *OrdersController) Actions() []*controllers.ActionHandler {
//		return []*controllers.ActionHandler{
//			controllers.Action("create", c.create),
//			controllers.Action("cancel", c.cancel),
//		}
//	}
//
// [Server.Mount] calls Actions once. An action named "create" on the route
// "GET /orders/{id}" answers "POST /orders/{id}/create"; see [Action].
type Actioner interface {
	Actions() []*ActionHandler
}

// typeName names a controller or a handler in errors and logs by its
// dynamic type, such as "*app.DashboardController".
func typeName(v any) string { return fmt.Sprintf("%T", v) }

// loadHandler serves a mounted controller's Load.
type loadHandler struct {
	srv *Server
	c   Controller
	rt  *route
}

func (h *loadHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := h.srv.enter(w, r, h.rt)
	rw.varyAccept() // JSON or HTML, errors included
	html := wantsHTML(r)
	data, err := h.c.Load(r.Context(), rw.request(r))
	if err != nil {
		h.srv.fail(rw, err, html)
		return
	}
	h.srv.respond(rw, data, html)
}
