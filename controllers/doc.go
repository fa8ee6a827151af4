// Package controllers serves the HTTP side of a sprag-go app: controllers
// that load a page's data, actions that mutate it, streams that push bus
// events to browsers, and the one http.Server of the app, itself a sprag
// service.
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
//	srv, err := controllers.NewServer(registry, controllers.WithAddr("localhost:8080"))
//	err = srv.Mount(&DashboardController{metrics: m})
//	err = sprag.Bind(srv, "http", runtime)
//	err = srv.Start(ctx)    // the listener is open when Start returns
//	err = srv.Stop(stopCtx) // in-flight requests finish, until stopCtx ends
//
// The listener opens in [Server.OnStart], so a port in use fails the start
// with an error naming the address. Requests are served on a task of the
// service, never on a goroutine nobody waits for. The address comes from
// [WithAddr], else [DefaultAddr], "localhost:8080": the loopback interface
// only. Binding every interface is explicit (WithAddr(":8080")), and the
// server reads no environment variable: the app does (fxmodule reads
// SPRAG_ADDR). [Server.Addr] reports the bound address. Timeouts, the
// header size and the body size have safe defaults
// ([DefaultReadHeaderTimeout] and the others) and an option each. Without
// starting it, a Server is an http.Handler that tests can drive with
// httptest.
//
// [Server.OnStop] stops in three steps: /readyz answers 503 for the
// [WithDrainDelay] time (none by default), so that a load balancer stops
// sending first; every stream ends; then http.Server.Shutdown with the
// stop context lets the requests in flight complete.
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
// handlers whose body, JSON or an HTML form's
// application/x-www-form-urlencoded, is decoded strictly into a typed value
// and validated with go-playground/validator `validate` tags before the
// function sees it. The action "cancel" of "GET /orders/{id}" answers
// "POST /orders/{id}/cancel". Invalid input gets a 400 naming each field at
// fault by its path; an unknown field, trailing data or a malformed body
// gets a 400, a body over the limit a 413, a body of another type a 415.
//
// A browser's form post (a form body from a client that prefers HTML) gets
// pages, so that forms work without JavaScript: on success a 303 redirect
// to the controller's page (post/redirect/get), or the action's own
// [Redirect]; when the input is refused, the controller's page again, with
// [Page.Form] holding the values sent and the errors by field. A script
// that posts the same form with Accept: application/json gets JSON and
// problems.
//
// State-changing requests (any method but GET, HEAD and OPTIONS) that a
// browser sends from another origin are refused with 403 before any
// middleware or handler runs ([WithCrossOriginProtection]).
//
// # Rendering
//
// Load's data is JSON for API clients and an HTML page for browsers. A
// request gets HTML only when its Accept header names text/html with a
// higher quality than JSON, as browsers' navigations do; "*/*", a missing
// header and application/json get JSON. Load responses carry Vary: Accept.
// [Request.WantsHTML] tells Load and actions which the server chose.
// Every response of the server's handler, of any kind, has
// X-Content-Type-Options: nosniff (net/http's own answers to requests it
// cannot parse, such as a 431 for headers over the limit, never reach it).
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
// Every error response is an RFC 9457 problem document, [Problem], sent as
// application/problem+json: type, title, status, detail, instance (the
// request's path), the request id, and the fields at fault. Browsers get
// the same document in the shell page. Load and actions choose the answer
// through the error they return:
//
//   - a [Redirect] answers with a Location header and its 3xx status;
//   - an *[HTTPError] answers with its status, its public message as the
//     detail, and its Type and Title when set;
//   - any other error answers 500 with no detail and is logged with the
//     controller, route, request id and the error's text.
//
// The text of an error, a stack trace or a panic value never reaches the
// client. The router's own 404 and 405 (with its Allow header) are
// problems too.
//
// # Panics
//
// A panic in Load, an action, a middleware, a handler or a stream's
// authorization hook is recovered, logged at error level through zap with
// the stack, the route and the request id, and answered with a 500
// problem; the server goes on serving.
// If the handler had already begun its response, the connection is aborted
// instead (http.ErrAbortHandler), so the client sees a failed response
// rather than a truncated one that looks whole. Mount, Handle and Stream
// never panic: a missing route, a malformed pattern or two routes that
// collide are errors naming the controller's type, and they keep the
// server from starting.
//
// # Middleware
//
// [WithMiddleware] puts func(http.Handler) http.Handler middleware, the
// shape of otelhttp, chi's middlewares, CORS handlers and auth checks,
// around every route of the server, in the order given, the first
// outermost. A controller that implements [MiddlewareController] puts its
// own around its Load and actions, after the server's. The server's own
// stack runs first ([Server.ServeHTTP]), so what a middleware answers is
// logged and measured, and a panic in it is recovered.
//
// # Health
//
// Every server answers GET /healthz ([HealthzRoute]) with 200 while the
// process serves, and GET /readyz ([ReadyzRoute]) from the registry's
// health report: 200 when every registered service runs and is healthy
// and the server is not draining, 503 otherwise, with a [Readiness] body
// that names each service and its state and gives the streams' figures.
// Why a service is unhealthy is logged, never sent.
//
// # Request ids and logs
//
// Each request has an id: the client's X-Request-ID header when it is
// sane (at most [MaxRequestIDLength] characters of letters, digits and
// "-_.:+=/@"), a random one (130 bits) otherwise. It is echoed in
// the response's X-Request-ID, put in problems, available as [Request.ID]
// and, from any context of the request, [RequestID].
//
// Every request ends with one line, "http request", with its method, route
// pattern, status, duration, request id and, when traced, trace and span
// ids. A request answered below 500 is logged at debug level by default
// ([WithRequestLogLevel]), since a line per request is the main cost of a
// busy server's logs, and can be sampled ([WithRequestLogSampling]); one
// answered 500 or more is logged at warn level and never sampled, beside
// the error line of its failure when there is one. The health probes are
// the exception: /healthz and /readyz are logged at debug level, and
// sampled, whatever their status (a 503 of /readyz is an answer, and its
// reason has its own "not ready" warning).
//
// # Telemetry
//
// The server records through the OpenTelemetry API only; the app installs
// the SDK and its exporters ([WithMeterProvider], [WithTracerProvider],
// [WithPropagator], else otel's globals). With no SDK installed, nothing
// is recorded and nothing is allocated. It records:
//
//   - the HTTP server metrics of the semantic conventions:
//     http.server.request.duration (s), http.server.active_requests,
//     http.server.request.body.size and http.server.response.body.size
//     (By), with http.request.method, url.scheme, http.route (the route's
//     pattern, never the raw path), http.response.status_code,
//     network.protocol.version and, for a 5xx, error.type;
//   - the streams' figures: sprag.http.stream.clients, .published,
//     .dropped, .gaps and .refused, by http.route;
//   - a server span per request named "METHOD /route/{pattern}", child of
//     the trace context the request's headers carry, and a child span per
//     action named "action <name>".
//
// The span travels in the request's context: Load, actions, the services
// they call and every bus listener their emits reach run inside it.
//
// # Streams
//
// [Server.Stream] (or [WithStream]) adds an endpoint that forwards bus
// topics ([Forward]: topics and patterns; [ForwardTopic]: typed topics) to
// browsers as Server-Sent Events:
//
//	srv.Stream("GET /events", controllers.Forward("order:*"), controllers.ForwardTopic(MetricsCollected))
//
// The stream subscribes one bus listener per forwarded topic, not one per
// client. An Emit encodes its payload as JSON once and hands it to the
// stream's buffer without waiting for any client; each client reads the
// buffer at its own pace on its request's goroutine, and one that falls
// further behind than the buffer ([StreamBuffer]) skips the oldest events
// and is told so. [WithMaxStreams] bounds the streams open at once; an
// authorization hook ([StreamAuthorize]) decides which topics a client
// may receive. Streams go on while the server drains ([WithDrainDelay])
// and every one ends as soon as the drain is over, before the graceful
// shutdown, so that they do not hold it up.
//
// A browser subscribes with EventSource, to every topic of the stream or to
// some, named as the options name them:
//
//	const events = new EventSource("/events?topic=order:*");
//	events.addEventListener("order:created", (e) => show(JSON.parse(e.data)));
//	events.addEventListener("sprag:stream:gap", () => location.reload());
//
// The wire format, one block per event, each ended by a blank line:
//
//	id: K7Q2M4ZA-42
//	event: order:created
//	data: {"id":7,"email":"ada@example.com"}
//
// Its fields and the stream's other messages:
//
//   - event is the topic that was emitted (for a pattern, the matching
//     topic); data is the payload as JSON, on one line.
//   - id is "<run>-<n>": n counts the stream's events from 1 and run is
//     random per start of the server. EventSource sends the last id back
//     as Last-Event-ID when it reconnects, and the stream resumes after
//     it from its buffer. A page can pass the id of its data's moment as
//     the last_event_id query parameter ([Stream.LastEventID],
//     [Request.StreamLastEventID]).
//   - The gap marker, event [StreamGapEvent] ("sprag:stream:gap"), says
//     that events were missed: data {"reason":"lagged","missed":12} when
//     the client fell behind or resumed from an id older than the buffer
//     (missed counts the stream's events skipped, of any topic), and
//     {"reason":"unknown_id"} when Last-Event-ID is not of this run. Its id
//     is that of the last event skipped, so that the stream continues
//     after it. A client that keeps state should reload it.
//   - ": heartbeat" comment lines come after [StreamHeartbeat] of silence
//     (15s by default), so that proxies keep the connection.
//
// Responses have Content-Type text/event-stream, Cache-Control: no-cache
// and X-Accel-Buffering: no. A stream client refused for the limit gets a
// 503 problem with Retry-After; a topic the stream does not forward, a
// 400 problem.
//
// # Concurrency
//
// Load and actions run concurrently, one call per request. The methods of
// [Server] are safe for concurrent use; Mount and Stream may be called
// while the server serves and take effect for the next request, all at
// once.
package controllers
