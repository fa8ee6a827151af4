package docs_test

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/sprag"
)

// OrderView is what the order page shows.
type OrderView struct {
	ID   string `json:"id"`
	Note string `json:"note"`
}

// OrderController shows one order on GET /orders/{id} and has two
// actions: POST /orders/{id}/refund and POST /orders/{id}/archive.
type OrderController struct {
	orders map[string]OrderView
}

func (c *OrderController) Route() string { return "GET /orders/{id}" }

func (c *OrderController) Load(ctx context.Context, r *controllers.Request) (any, error) {
	id := r.PathValue("id")
	if r.Query().Has("legacy") {
		return nil, controllers.Redirect(http.StatusMovedPermanently, "/orders/"+id)
	}
	order, ok := c.orders[id]
	if !ok {
		return nil, controllers.NewError(http.StatusNotFound, "order not found")
	}
	return order, nil
}

// Refund is the input of the "refund" action.
type Refund struct {
	AmountCents int64  `json:"amount_cents" validate:"required,min=1"`
	Reason      string `json:"reason" validate:"required,oneof=damaged late other"`
	Note        string `json:"note" validate:"max=200"`
}

func (c *OrderController) Actions() []*controllers.ActionHandler {
	return []*controllers.ActionHandler{
		controllers.Action("refund", c.refund),
		controllers.Action("archive", c.archive),
	}
}

func (c *OrderController) refund(ctx context.Context, r *controllers.Request, in Refund) (any, error) {
	if _, ok := c.orders[r.PathValue("id")]; !ok {
		return nil, controllers.NewError(http.StatusNotFound, "order not found")
	}
	return map[string]any{"refunded_cents": in.AmountCents}, nil
}

// archive takes no input: its body must be {}.
func (c *OrderController) archive(ctx context.Context, r *controllers.Request, _ struct{}) (any, error) {
	return nil, nil // nil: 204 No Content
}

// send serves one request on h, as a client with the given Accept header
// would send it, and returns the response.
func send(h http.Handler, method, target, accept, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	req.Header.Set(controllers.HeaderRequestID, "req-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// newOrderServer returns a server with the order controller, not started:
// a Server is an http.Handler that tests can call directly.
func newOrderServer(opts ...controllers.Option) *controllers.Server {
	srv, err := controllers.NewServer(sprag.NewRegistry(), opts...)
	if err != nil {
		panic(err)
	}
	err = srv.Mount(&OrderController{orders: map[string]OrderView{"7": {ID: "7", Note: "</script><!--"}}})
	if err != nil {
		panic(err)
	}
	return srv
}

func Example_controllersLoad() {
	srv := newOrderServer()

	rec := send(srv, "GET", "/orders/7", "application/json", "") // an API client
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Vary"))
	fmt.Println(rec.Body)

	rec = send(srv, "GET", "/orders/7", "text/html,application/xhtml+xml,*/*;q=0.8", "") // a browser
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.Contains(line, "sprag-data") {
			fmt.Print(line) // every '<', '>' and '&' of the data is escaped
		}
	}

	rec = send(srv, "GET", "/orders/8", "application/json", "")
	fmt.Println(rec.Code, rec.Body)
	rec = send(srv, "GET", "/orders/7?legacy=1", "application/json", "")
	fmt.Println(rec.Code, rec.Header().Get("Location"), rec.Body.Len())
	// Output:
	// 200 application/json Accept
	// {"id":"7","note":"\u003c/script\u003e\u003c!--"}
	// 200 text/html; charset=utf-8
	// <script id="sprag-data" type="application/json">{"id":"7","note":"\u003c/script\u003e\u003c!--"}</script>
	// 404 {"type":"about:blank","title":"Not Found","status":404,"detail":"order not found","instance":"/orders/8","request_id":"req-1"}
	// 301 /orders/7 0
}

func Example_controllersActions() {
	srv := newOrderServer(controllers.WithBodyLimit(256))
	for _, body := range []string{
		`{"amount_cents":500,"reason":"late"}`,
		`{"amount_cents":0,"reason":"bored"}`,
		`{"amount_cents":"500","reason":"late"}`,
		`{"amount_cents":500,"reason":"late","admin":true}`,
		`{"amount_cents":500,"reason":"late"} {}`,
		`{"amount_cents":500,`,
		`{"amount_cents":500,"reason":"late","note":"` + strings.Repeat("x", 300) + `"}`,
	} {
		rec := send(srv, "POST", "/orders/7/refund", "", body)
		fmt.Println(rec.Code, rec.Body)
	}

	rec := send(srv, "POST", "/orders/7/archive", "", `{}`)
	fmt.Println(rec.Code, rec.Body.Len())

	req := httptest.NewRequest("POST", "/orders/7/archive", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "text/plain") // what a cross-site form can send
	req.Header.Set(controllers.HeaderRequestID, "req-2")
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body)

	rec = send(srv, "GET", "/orders/7/refund", "application/json", "")
	fmt.Println(rec.Code, rec.Header().Get("Allow"))
	// Output:
	// 200 {"refunded_cents":500}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"invalid input","instance":"/orders/7/refund","request_id":"req-1","errors":[{"field":"amount_cents","rule":"required","message":"is required"},{"field":"reason","rule":"oneof","param":"damaged late other","message":"must be one of: damaged, late, other"}]}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"invalid input","instance":"/orders/7/refund","request_id":"req-1","errors":[{"field":"amount_cents","rule":"type","message":"must be a number"}]}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"invalid input","instance":"/orders/7/refund","request_id":"req-1","errors":[{"field":"admin","rule":"unknown","message":"is not a known field"}]}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"request body has data after the JSON value","instance":"/orders/7/refund","request_id":"req-1"}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"request body is not valid JSON: it ends too early","instance":"/orders/7/refund","request_id":"req-1"}
	// 413 {"type":"about:blank","title":"Request Entity Too Large","status":413,"detail":"request body is larger than 256 bytes","instance":"/orders/7/refund","request_id":"req-1"}
	// 204 0
	// 415 {"type":"about:blank","title":"Unsupported Media Type","status":415,"detail":"request body must be application/json or application/x-www-form-urlencoded","instance":"/orders/7/archive","request_id":"req-2"}
	// 405 POST
}

// FailingController shows what reaches the client for each kind of error.
type FailingController struct{}

func (FailingController) Route() string { return "GET /fail/{kind}" }

func (FailingController) Load(ctx context.Context, r *controllers.Request) (any, error) {
	switch r.PathValue("kind") {
	case "plain":
		return nil, errors.New("dial postgres://admin:s3cret@10.0.0.7: refused")
	case "wrapped":
		return nil, fmt.Errorf("load quota: %w", controllers.NewError(http.StatusTooManyRequests, "slow down"))
	case "cause":
		return nil, &controllers.HTTPError{Status: http.StatusBadGateway, Message: "billing is unavailable",
			Err: errors.New("billing: 10.0.0.9:443: connection reset")}
	case "panic":
		panic("nil map")
	}
	return map[string]string{"request_id": controllers.RequestID(ctx)}, nil
}

func Example_controllersErrors() {
	core, logs := observer.New(zap.InfoLevel)
	srv, _ := controllers.NewServer(nil, controllers.WithLogger(zap.New(core)))
	_ = srv.Mount(FailingController{})

	for _, target := range []string{"/fail/plain", "/fail/wrapped", "/fail/cause", "/fail/panic", "/fail/none", "/nowhere"} {
		rec := send(srv, "GET", target, "application/json", "")
		fmt.Println(rec.Code, rec.Body)
	}
	for _, e := range logs.FilterLevelExact(zap.ErrorLevel).All() {
		fields := e.ContextMap()
		fmt.Println(e.Message, fields["controller"], fields["request_id"], fields["error"], fields["panic"])
	}
	// Output:
	// 500 {"type":"about:blank","title":"Internal Server Error","status":500,"instance":"/fail/plain","request_id":"req-1"}
	// 429 {"type":"about:blank","title":"Too Many Requests","status":429,"detail":"slow down","instance":"/fail/wrapped","request_id":"req-1"}
	// 502 {"type":"about:blank","title":"Bad Gateway","status":502,"detail":"billing is unavailable","instance":"/fail/cause","request_id":"req-1"}
	// 500 {"type":"about:blank","title":"Internal Server Error","status":500,"instance":"/fail/panic","request_id":"req-1"}
	// 200 {"request_id":"req-1"}
	// 404 {"type":"about:blank","title":"Not Found","status":404,"instance":"/nowhere","request_id":"req-1"}
	// request failed docs_test.FailingController req-1 dial postgres://admin:s3cret@10.0.0.7: refused <nil>
	// request failed docs_test.FailingController req-1 http 502: billing is unavailable: billing: 10.0.0.9:443: connection reset <nil>
	// panic in http handler docs_test.FailingController req-1 <nil> nil map
}

// appShell is the app's page: the seed's shell=app_shell.
var appShell = template.Must(template.New("app").Parse(`<!DOCTYPE html>
<html><head><title>{{.Title}} · {{.Route}}</title></head>
<body data-status="{{.Status}}" data-request-id="{{.RequestID}}">
{{if .Error}}<h1>{{.Error.Message}}</h1>{{end}}
<script id="sprag-data" type="application/json">{{.JSON}}</script>
<script src="/static/app.js"></script>
</body></html>
`))

func Example_controllersShell() {
	srv := newOrderServer(controllers.WithShell(appShell), controllers.WithTitle("Acme"))
	for _, target := range []string{"/orders/7", "/orders/8"} {
		rec := send(srv, "GET", target, "text/html", "")
		fmt.Print(rec.Code, " ", rec.Body)
	}
	// Output:
	// 200 <!DOCTYPE html>
	// <html><head><title>Acme · GET /orders/{id}</title></head>
	// <body data-status="200" data-request-id="req-1">
	//
	// <script id="sprag-data" type="application/json">{"id":"7","note":"\u003c/script\u003e\u003c!--"}</script>
	// <script src="/static/app.js"></script>
	// </body></html>
	// 404 <!DOCTYPE html>
	// <html><head><title>Acme · GET /orders/{id}</title></head>
	// <body data-status="404" data-request-id="req-1">
	// <h1>order not found</h1>
	// <script id="sprag-data" type="application/json">{"type":"about:blank","title":"Not Found","status":404,"detail":"order not found","instance":"/orders/8","request_id":"req-1"}</script>
	// <script src="/static/app.js"></script>
	// </body></html>
}

func Example_controllersServer() {
	registry := sprag.NewRegistry()
	srv, err := controllers.NewServer(registry,
		controllers.WithAddr("127.0.0.1:0"), // a free port; the default is "localhost:8080"
		controllers.WithReadTimeout(10*time.Second),
		controllers.WithBodyLimit(64<<10),
		controllers.WithControllers(&OrderController{}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := sprag.Bind(srv, "http", sprag.NewRuntime(nil)); err != nil {
		fmt.Println(err)
		return
	}
	_ = registry.Provide("http", srv) // so that /readyz reports it
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil { // the listener is open when Start returns
		fmt.Println(err)
		return
	}

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.Addr()+"/readyz", nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	fmt.Println(srv.Stop(ctx)) // graceful: in-flight requests finish, until ctx ends
	// Output:
	// 200 {"ready":true,"services":[{"name":"http","state":"running","healthy":true}]}
	// <nil>
}

func Example_controllersHealth() {
	registry := sprag.NewRegistry()
	db := &Database{}
	_ = sprag.Bind(db, "db", sprag.NewRuntime(nil))
	_ = registry.Provide("db", db)
	srv, _ := controllers.NewServer(registry)
	probe := func(path string) {
		rec := send(srv, "GET", path, "", "")
		fmt.Println(path, rec.Code, rec.Body)
	}

	probe("/healthz") // the process serves
	probe("/readyz")  // db has not started
	_ = db.Start(context.Background())
	probe("/readyz")
	db.down.Store(true)
	probe("/readyz") // why is logged, never sent
	_ = db.Stop(context.Background())
	// Output:
	// /healthz 200 {"status":"ok"}
	// /readyz 503 {"ready":false,"services":[{"name":"db","state":"created","healthy":false}],"not_ready":["db"]}
	// /readyz 200 {"ready":true,"services":[{"name":"db","state":"running","healthy":true}]}
	// /readyz 503 {"ready":false,"services":[{"name":"db","state":"running","healthy":false}],"not_ready":["db"]}
}

func Example_controllersRequestLog() {
	core, logs := observer.New(zap.DebugLevel)
	srv := newOrderServer(controllers.WithLogger(zap.New(core)))

	rec := send(srv, "GET", "/orders/7", "", "") // sends X-Request-ID: req-1
	fmt.Println(rec.Header().Get(controllers.HeaderRequestID))
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set(controllers.HeaderRequestID, "not a sane id") // replaced by a random one
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	fmt.Println(len(rec.Header().Get(controllers.HeaderRequestID)))
	send(srv, "GET", "/fail/plain", "", "") // no such route: a 404

	for _, e := range logs.FilterMessage("http request").All() {
		f := e.ContextMap()
		fmt.Println(e.Level, f["method"], f["route"], f["status"], len(f["request_id"].(string)))
	}
	// Output:
	// req-1
	// 26
	// debug GET GET /orders/{id} 200 5
	// debug GET GET /healthz 200 26
	// debug GET  404 5
}

func Example_controllersRequestLogLevel() {
	core, logs := observer.New(zap.InfoLevel) // a production logger: info and above
	srv := newOrderServer(
		controllers.WithLogger(zap.New(core)),
		controllers.WithRequestLogLevel(zap.InfoLevel),           // a line for every request
		controllers.WithRequestLogSampling(time.Second, 100, 10), // but only the first 100 a second, then one in 10
		controllers.WithControllers(FailingController{}))
	for range 3 {
		send(srv, "GET", "/orders/7", "", "")
	}
	send(srv, "GET", "/fail/plain", "", "")
	for _, e := range logs.FilterMessage("http request").All() {
		fmt.Println(e.Level, e.ContextMap()["route"], e.ContextMap()["status"])
	}
	// Output:
	// info GET /orders/{id} 200
	// info GET /orders/{id} 200
	// info GET /orders/{id} 200
	// warn GET /fail/{kind} 500
}
