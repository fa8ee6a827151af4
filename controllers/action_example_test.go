package controllers_test

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sprag-go/sprag/controllers"
)

// CreateOrder is the input of the "create" action: decoded strictly from
// the JSON or form body, then validated with its validate tags.
type CreateOrder struct {
	Email string `json:"email" validate:"required,email"`
	Qty   int    `json:"qty" validate:"min=1,max=100"`
}

// OrdersController lists orders and creates them.
type OrdersController struct{}

func (OrdersController) Route() string { return "GET /orders" }

func (OrdersController) Load(context.Context, *controllers.Request) (any, error) {
	return []string{}, nil
}

func (c OrdersController) Actions() []*controllers.ActionHandler {
	return []*controllers.ActionHandler{controllers.Action("create", c.create)}
}

func (OrdersController) create(_ context.Context, _ *controllers.Request, in CreateOrder) (any, error) {
	return map[string]any{"created": true, "email": in.Email, "qty": in.Qty}, nil
}

// post calls an action with a JSON body.
func post(srv http.Handler, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(controllers.HeaderRequestID, "req-2")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

// An action is called with POST on its controller's path plus its name.
// Its function gets a typed value that passed validation; invalid input
// gets a 400 that names the fields by their JSON names.
func ExampleAction() {
	srv, err := controllers.NewServer(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.Mount(OrdersController{}); err != nil {
		fmt.Println(err)
		return
	}

	rec := post(srv, "/orders/create", `{"email":"ada@example.com","qty":2}`)
	fmt.Println(rec.Code, rec.Body)

	rec = post(srv, "/orders/create", `{"email":"ada","qty":0}`)
	fmt.Println(rec.Code, rec.Body)

	rec = post(srv, "/orders/create", `{"email":"ada@example.com","qty":2,"admin":true}`)
	fmt.Println(rec.Code, rec.Body)
	// Output:
	// 200 {"created":true,"email":"ada@example.com","qty":2}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"invalid input","instance":"/orders/create","request_id":"req-2","errors":[{"field":"email","rule":"email","message":"must be a valid email address"},{"field":"qty","rule":"min","param":"1","message":"must be at least 1"}]}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"invalid input","instance":"/orders/create","request_id":"req-2","errors":[{"field":"admin","rule":"unknown","message":"is not a known field"}]}
}

// orderPage is an HTML shell with an order form that works without
// JavaScript: a refused post renders the page again with each field's
// error and the values sent.
var orderPage = template.Must(template.New("orders").Parse(`<form method="post" action="/orders/create">
<input name="email" value="{{.FormValue "email"}}"> {{.FieldError "email"}}
<input name="qty" value="{{.FormValue "qty"}}"> {{.FieldError "qty"}}
</form>`))

// A browser's form posts to the same action as JSON does: its fields are
// decoded into the same typed input, with the same validation. On success
// the browser is sent back to the page (post/redirect/get); when the input
// is refused, the page is rendered again with the errors by field.
func ExampleAction_form() {
	srv, err := controllers.NewServer(nil, controllers.WithShell(orderPage), controllers.WithControllers(OrdersController{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, form := range []string{"email=ada%40example.com&qty=2", "email=ada&qty=0"} {
		req := httptest.NewRequest(http.MethodPost, "/orders/create", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html") // a browser
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code == http.StatusSeeOther {
			fmt.Println(rec.Code, rec.Header().Get("Location"))
			continue
		}
		fmt.Println(rec.Code)
		fmt.Println(rec.Body)
	}
	// Output:
	// 303 /orders
	// 400
	// <form method="post" action="/orders/create">
	// <input name="email" value="ada"> must be a valid email address
	// <input name="qty" value="0"> must be at least 1
	// </form>
}
