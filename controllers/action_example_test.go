package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sprag-go/sprag/controllers"
)

// CreateOrder is the input of the "create" action: decoded strictly from
// the JSON body, then validated with its validate tags.
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
