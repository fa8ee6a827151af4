// Package controllers serves the HTTP side of a sprag-go app: controllers
// that load a page's data, actions that mutate it, and the one http.Server
// of the app, itself a sprag service.
//
// A [Controller] has a route, a Go 1.22 ServeMux pattern, and a Load that
// returns the route's data:
//
//	type DashboardController struct{ metrics *MetricsService }
//
//	func (c *DashboardController) Route() string { return "GET /dashboard/{id}" }
//
//	func (c *DashboardController) Load(ctx context.Context, r *controllers.Request) (any, error) {
//		stats, err := c.metrics.Stats(ctx, r.PathValue("id"))
//		if errors.Is(err, ErrNoSuchBoard) {
//			return nil, controllers.NewError(http.StatusNotFound, "no such dashboard")
//		}
//		return stats, err
//	}
//
// # Running a server
//
// [NewServer] builds the server from a sprag.Registry and [Option] values;
// [Server.Mount], or [WithControllers] at construction, registers
// controllers. The server embeds sprag.Service: bind it, start it, stop it,
// as any service. fxmodule does that for you.
//
//	srv, err := controllers.NewServer(registry, controllers.WithAddr(":8080"))
//	err = srv.Mount(&DashboardController{metrics: m})
//	err = sprag.Bind(srv, "http", runtime)
//	err = srv.Start(ctx)    // the listener is open when Start returns
//	err = srv.Stop(stopCtx) // in-flight requests finish, until stopCtx ends
//
// The listener opens in [Server.OnStart], so a port in use fails the start
// with an error naming the address. Requests are served on a task of the
// service, never on a goroutine nobody waits for. [Server.OnStop] calls
// http.Server.Shutdown with the stop context. The address comes from
// [WithAddr], else the SPRAG_ADDR environment variable ([EnvAddr]), else
// ":8080"; [Server.Addr] reports the bound one. Timeouts, the header size
// and the body size have safe defaults ([DefaultReadHeaderTimeout] and the
// others) and an option each. Without starting it, a Server is an
// http.Handler that tests can drive with httptest.
//
// # Services
//
// Controllers receive services by named injection: fxmodule fills their
// constructor's fx.In fields tagged `name:"metrics"`. From inside Load,
// [Service] looks one up by name in the server's registry, typed:
//
//	metrics, err := controllers.Service[*MetricsService](r, "metrics")
//
// The error wraps sprag.ErrNotFound or sprag.ErrWrongType and names the
// controller; returned from Load, it is a 500 for the client and a log
// line with the details.
//
// # Actions
//
// An [Actioner] controller lists named actions built with [Action]: POST
// handlers whose JSON body is decoded strictly into a typed value and
// validated with go-playground/validator `validate` tags before the
// function sees it. The action "cancel" of "GET /orders/{id}" answers
// "POST /orders/{id}/cancel". Invalid input gets a 400 naming each field at
// fault by its JSON path; an unknown field, trailing data or a malformed
// body gets a 400, a body over the limit a 413, a body that is not JSON a
// 415.
//
// # Rendering
//
// Load's data is JSON for API clients and an HTML page for browsers. A
// request gets HTML only when its Accept header names text/html with a
// higher quality than JSON, as browsers' navigations do; "*/*", a missing
// header and application/json get JSON. Load responses carry Vary: Accept.
//
// The page is the app's shell, an html/template set with [WithShell] (a
// clean default is [DefaultShell]), executed with a [Page]. Page.JSON holds
// the data as JSON for a <script type="application/json"> element; every
// '<', '>' and '&' and the separators U+2028 and U+2029 in it are \u
// escapes, so no data value can close the element, open a comment or
// break a script. Pages are rendered into a buffer before anything is
// written, so a failing shell gives a clean 500.
//
// # Errors
//
// Every error response carries one JSON envelope, [ErrorBody]: status,
// message, request id, and the fields at fault. Browsers get the same
// envelope in the shell page. Load and actions choose the answer through
// the error they return:
//
//   - a [Redirect] answers with a Location header and its 3xx status;
//   - an *[HTTPError] answers with its status and public message;
//   - any other error answers 500 "internal server error" and is logged
//     with the controller, route, request id and the error's text.
//
// The text of an error, a stack trace or a panic value never reaches the
// client. The router's own 404 and 405 (with its Allow header) use the
// envelope too.
//
// # Panics
//
// A panic in Load, an action or a handler is recovered, logged at error
// level through zap with the stack, the route and the request id, and
// answered with a 500 envelope; the server goes on serving. If the
// handler had already begun its response, the connection is aborted
// instead (http.ErrAbortHandler), so the client sees a failed response
// rather than a truncated one that looks whole. Mount and Handle never
// panic: a missing route, a malformed pattern or two routes that collide
// are errors naming the controller's type, and they keep the server from
// starting.
//
// # Health
//
// Every server answers GET /healthz ([HealthzRoute]) with 200 while the
// process serves, and GET /readyz ([ReadyzRoute]) from the registry's
// health report: 200 when every registered service runs and is healthy,
// 503 otherwise, with a [Readiness] body that names each service and its
// state. Why a service is unhealthy is logged, never sent.
//
// # Request ids and logs
//
// Each request has an id: the client's X-Request-ID header when it is
// sane (at most [MaxRequestIDLength] characters of letters, digits and
// "-_.:+=/@"), a random one from crypto/rand otherwise. It is echoed in
// the response's X-Request-ID, put in the error envelope, available as
// [Request.ID] and, from any context of the request, [RequestID]. Every
// request is logged once through zap with its method, route pattern,
// status, duration and request id; health probes at debug level.
//
// # Concurrency
//
// Load and actions run concurrently, one call per request. The methods of
// [Server] are safe for concurrent use; Mount may be called while the
// server serves and takes effect for the next request, all at once.
package controllers
