package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/go-playground/validator/v10"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type item struct {
	SKU string `json:"sku" validate:"required"`
	Qty int    `json:"qty" validate:"min=1,max=100"`
}

type address struct {
	Zip string `json:"zip" validate:"required,len=5"`
}

type createOrder struct {
	Email    string  `json:"customer_email" validate:"required,email"`
	Items    []item  `json:"items" validate:"required,min=1,dive"`
	Ship     address `json:"shipping_address"`
	Note     string  `json:"note,omitempty" validate:"max=10"`
	Priority string  `validate:"omitempty,oneof=low high"` // no json tag: the Go name
}

type created struct {
	Order string `json:"order"`
	Email string `json:"email"`
	Items int    `json:"items"`
}

// ordersController has actions of several kinds on "GET /orders/{id}".
type ordersController struct{}

func (ordersController) Route() string { return "GET /orders/{id}" }

func (ordersController) Load(_ context.Context, r *Request) (any, error) {
	return map[string]string{"order": r.PathValue("id")}, nil
}

func (ordersController) Actions() []*ActionHandler {
	return []*ActionHandler{
		Action("create", func(_ context.Context, r *Request, in createOrder) (any, error) {
			return created{Order: r.PathValue("id"), Email: in.Email, Items: len(in.Items)}, nil
		}),
		Action("archive", func(context.Context, *Request, struct{}) (any, error) {
			return nil, nil
		}),
		Action("pay", func(_ context.Context, _ *Request, in *address) (any, error) {
			return in, nil
		}),
		Action("tag", func(_ context.Context, _ *Request, in map[string]int) (any, error) {
			return in, nil
		}),
		Action("checkout", func(context.Context, *Request, struct{}) (any, error) {
			return nil, Redirect(http.StatusSeeOther, "/orders/7/receipt")
		}),
		Action("refund", func(context.Context, *Request, struct{}) (any, error) {
			return nil, NewError(http.StatusConflict, "already refunded")
		}),
		Action("fail", func(context.Context, *Request, struct{}) (any, error) {
			return nil, errors.New("ledger: constraint orders_pkey violated")
		}),
		Action("explode", func(context.Context, *Request, struct{}) (any, error) {
			panic("ledger exploded")
		}),
	}
}

const validOrder = `{"customer_email":"a@example.com","items":[{"sku":"X1","qty":2}],"shipping_address":{"zip":"12345"}}`

func TestActionValidInput(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil, ordersController{})
	assert.Contains(t, srv.Routes(), "POST /orders/{id}/create")

	rec := postJSON(srv, "/orders/7/create", validOrder)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, created{Order: "7", Email: "a@example.com", Items: 1}, decodeJSON[created](t, rec.Body.Bytes()))

	rec = serve(srv, http.MethodPost, "/orders/7/create", strings.NewReader(validOrder),
		"Content-Type", "application/vnd.acme+json; charset=utf-8", "Accept", browserAccept)
	assert.Equal(t, http.StatusOK, rec.Code, "a +json type is JSON; actions answer JSON even to browsers")
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))

	rec = postJSON(srv, "/orders/7/create", " \n"+validOrder+"\n\t ")
	assert.Equal(t, http.StatusOK, rec.Code, "whitespace around the value is fine")
}

func TestActionResults(t *testing.T) {
	t.Parallel()
	srv, logs := newServer(t, nil, nil, ordersController{})

	rec := postJSON(srv, "/orders/7/archive", `{}`)
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Empty(t, rec.Body.String())

	rec = postJSON(srv, "/orders/7/checkout", `{}`)
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/orders/7/receipt", rec.Header().Get("Location"))

	rec = postJSON(srv, "/orders/7/refund", `{}`)
	assert.Equal(t, http.StatusConflict, rec.Code)
	assert.Equal(t, "already refunded", problemOf(t, rec).Detail)

	rec = postJSON(srv, "/orders/7/fail", `{}`)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.NotContains(t, rec.Body.String(), "orders_pkey")
	failures := logsWith(logs, "request failed")
	require.Len(t, failures, 1)
	assert.Equal(t, "fail", failures[0].ContextMap()["action"])
	assert.Equal(t, "POST /orders/{id}/fail", failures[0].ContextMap()["route"])

	rec = postJSON(srv, "/orders/7/explode", `{}`, "Accept", browserAccept)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	problemOf(t, rec) // JSON, not the shell
	assert.NotContains(t, rec.Body.String(), "ledger")
	assert.Len(t, logsWith(logs, "panic in http handler"), 1)

	rec = postJSON(srv, "/orders/7/tag", `{"a":1,"b":2}`)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"a":1,"b":2}`, rec.Body.String())

	rec = postJSON(srv, "/orders/7/pay", `{"zip":"54321"}`)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"zip":"54321"}`, rec.Body.String())
}

func TestActionRefusesBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		target      string
		body        string
		contentType string
		wantStatus  int
		wantMessage string
		wantFields  []FieldError
	}{
		{
			name:       "invalid fields are named by JSON path",
			target:     "/orders/7/create",
			body:       `{"customer_email":"nope","items":[{"sku":"","qty":1},{"sku":"B","qty":0}],"shipping_address":{"zip":"1"},"note":"far too long a note","Priority":"urgent"}`,
			wantStatus: 400, wantMessage: "invalid input",
			wantFields: []FieldError{
				{Field: "customer_email", Rule: "email", Message: "must be a valid email address"},
				{Field: "items[0].sku", Rule: "required", Message: "is required"},
				{Field: "items[1].qty", Rule: "min", Param: "1", Message: "must be at least 1"},
				{Field: "shipping_address.zip", Rule: "len", Param: "5", Message: "must be exactly 5 characters long"},
				{Field: "note", Rule: "max", Param: "10", Message: "must be at most 10 characters long"},
				{Field: "Priority", Rule: "oneof", Param: "low high", Message: "must be one of: low, high"},
			},
		},
		{
			name:       "missing required fields",
			target:     "/orders/7/create",
			body:       `{}`,
			wantStatus: 400, wantMessage: "invalid input",
			wantFields: []FieldError{
				{Field: "customer_email", Rule: "required", Message: "is required"},
				{Field: "items", Rule: "required", Message: "is required"},
				{Field: "shipping_address.zip", Rule: "required", Message: "is required"},
			},
		},
		{
			name:       "unknown field",
			target:     "/orders/7/create",
			body:       `{"customer_email":"a@example.com","items":[{"sku":"X","qty":1}],"shipping_address":{"zip":"12345"},"admin":true}`,
			wantStatus: 400, wantMessage: "invalid input",
			wantFields: []FieldError{{Field: "admin", Rule: "unknown", Message: "is not a known field"}},
		},
		{
			name:       "unknown nested field",
			target:     "/orders/7/create",
			body:       `{"shipping_address":{"zip":"12345","street":"x"}}`,
			wantStatus: 400, wantMessage: "invalid input",
			wantFields: []FieldError{{Field: "shipping_address.street", Rule: "unknown", Message: "is not a known field"}},
		},
		{
			name:       "wrong type",
			target:     "/orders/7/create",
			body:       `{"items":[{"sku":"X","qty":"two"}]}`,
			wantStatus: 400, wantMessage: "invalid input",
			wantFields: []FieldError{{Field: "items.qty", Rule: "type", Message: "must be a number"}},
		},
		{
			name:       "number out of range",
			target:     "/orders/7/create",
			body:       `{"items":[{"sku":"X","qty":1e40}]}`,
			wantStatus: 400, wantMessage: "invalid input",
			wantFields: []FieldError{{Field: "items.qty", Rule: "type", Message: "is out of range"}},
		},
		{
			name:       "not an object",
			target:     "/orders/7/create",
			body:       `[1,2]`,
			wantStatus: 400, wantMessage: "request body must be a JSON object",
		},
		{name: "malformed", target: "/orders/7/create", body: `{"customer_email":}`, wantStatus: 400, wantMessage: "request body is not valid JSON (at byte 19)"},
		{name: "truncated", target: "/orders/7/create", body: `{"customer_email":"a@`, wantStatus: 400, wantMessage: "request body is not valid JSON: it ends too early"},
		{name: "trailing data", target: "/orders/7/create", body: validOrder + `{"again":1}`, wantStatus: 400, wantMessage: "request body has data after the JSON value"},
		{name: "trailing garbage", target: "/orders/7/create", body: validOrder + ` x`, wantStatus: 400, wantMessage: "request body has data after the JSON value"},
		{name: "empty body", target: "/orders/7/create", body: ``, wantStatus: 400, wantMessage: "request body is empty"},
		{name: "only whitespace", target: "/orders/7/create", body: "  \n", wantStatus: 400, wantMessage: "request body is empty"},
		{name: "null for a pointer", target: "/orders/7/pay", body: `null`, wantStatus: 400, wantMessage: "request body must be a JSON object"},
		{
			name: "JSON sent as a form", target: "/orders/7/create", body: validOrder, contentType: "application/x-www-form-urlencoded",
			wantStatus: 400, wantMessage: "invalid input",
			wantFields: []FieldError{{Field: validOrder, Rule: "unknown", Message: "is not a known field"}},
		},
		{
			name: "plain text", target: "/orders/7/create", body: validOrder, contentType: "text/plain",
			wantStatus: 415, wantMessage: "request body must be application/json or application/x-www-form-urlencoded",
		},
		{
			name: "no content type", target: "/orders/7/create", body: validOrder, contentType: "-",
			wantStatus: 415, wantMessage: "request body must be application/json or application/x-www-form-urlencoded",
		},
	}
	srv, logs := newServer(t, nil, nil, ordersController{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var headers []string
			switch tt.contentType {
			case "":
				headers = []string{"Content-Type", "application/json"}
			case "-":
			default:
				headers = []string{"Content-Type", tt.contentType}
			}
			rec := serve(srv, http.MethodPost, tt.target, strings.NewReader(tt.body), headers...)
			assert.Equal(t, tt.wantStatus, rec.Code)
			body := problemOf(t, rec)
			assert.Equal(t, tt.wantMessage, body.Detail)
			assert.Equal(t, tt.wantFields, body.Errors)
			assert.NotContains(t, rec.Body.String(), "controllers.")
			assert.NotContains(t, rec.Body.String(), "json:")
		})
	}
	t.Cleanup(func() { assert.Empty(t, logsWith(logs, "request failed"), "bad input is not a server failure") })
}

func TestActionBodyLimit(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, []Option{WithBodyLimit(64)}, ordersController{})
	big := `{"customer_email":"` + strings.Repeat("a", 100) + `@example.com"}`

	t.Run("declared length", func(t *testing.T) {
		t.Parallel()
		rec := postJSON(srv, "/orders/7/create", big)
		assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		assert.Equal(t, "request body is larger than 64 bytes", problemOf(t, rec).Detail)
	})
	t.Run("unknown length", func(t *testing.T) {
		t.Parallel()
		req := newRequest(http.MethodPost, "/orders/7/create", big)
		req.ContentLength = -1 // as a chunked body
		rec := serveRequest(srv, req)
		assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		problemOf(t, rec)
	})
	t.Run("trailing data past the limit", func(t *testing.T) {
		t.Parallel()
		req := newRequest(http.MethodPost, "/orders/7/archive", `{}`+strings.Repeat(" ", 100)+`x`)
		req.ContentLength = -1
		rec := serveRequest(srv, req)
		assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	})
	t.Run("within the limit", func(t *testing.T) {
		t.Parallel()
		rec := postJSON(srv, "/orders/7/archive", `{}`)
		assert.Equal(t, http.StatusNoContent, rec.Code)
	})
}

func TestActionOnlyAnswersPOST(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil, ordersController{})
	rec := serve(srv, http.MethodGet, "/orders/7/create", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "POST", rec.Header().Get("Allow"))
	problemOf(t, rec)

	rec = serve(srv, http.MethodGet, "/orders/7", nil)
	assert.Equal(t, http.StatusOK, rec.Code, "Load still answers the route")
	assert.JSONEq(t, `{"order":"7"}`, rec.Body.String())
}

func TestWithValidatorCustomRule(t *testing.T) {
	t.Parallel()
	v := validator.New()
	require.NoError(t, v.RegisterValidation("even", func(fl validator.FieldLevel) bool { return fl.Field().Int()%2 == 0 }))
	type pair struct {
		N int `json:"n" validate:"even"`
	}
	ctrl := &loader{route: "GET /n", actions: []*ActionHandler{
		Action("set", func(_ context.Context, _ *Request, in pair) (any, error) { return in, nil }),
	}}
	srv, _ := newServer(t, nil, []Option{WithValidator(v)}, ctrl)

	assert.Equal(t, http.StatusOK, postJSON(srv, "/n/set", `{"n":4}`).Code)
	rec := postJSON(srv, "/n/set", `{"n":3}`)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, []FieldError{{Field: "n", Rule: "even", Message: "must satisfy even"}}, problemOf(t, rec).Errors)
}

func TestValidatorThatCannotRunIsA500(t *testing.T) {
	t.Parallel()
	type bad struct {
		N int `json:"n" validate:"nosuchrule"`
	}
	ctrl := &loader{route: "GET /b", actions: []*ActionHandler{
		Action("set", func(context.Context, *Request, bad) (any, error) { return nil, nil }),
	}}
	srv, logs := newServer(t, nil, nil, ctrl)
	rec := postJSON(srv, "/b/set", `{"n":1}`)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	problemOf(t, rec)
	assert.Len(t, logs.FilterMessage("panic in http handler").AllUntimed(), 1, "the validator panics on an undefined rule")
}

func TestRuleMessages(t *testing.T) {
	t.Parallel()
	type all struct {
		S    string            `json:"s" validate:"min=2"`
		L    []int             `json:"l" validate:"max=1"`
		M    map[string]int    `json:"m" validate:"gt=1"`
		N    int               `json:"n" validate:"lt=0"`
		U    string            `json:"u" validate:"url"`
		ID   string            `json:"id" validate:"uuid"`
		Eq   int               `json:"eq" validate:"eq=3"`
		Ne   int               `json:"ne" validate:"ne=0"`
		A    string            `json:"a" validate:"alpha"`
		AN   string            `json:"an" validate:"alphanum"`
		Num  string            `json:"num" validate:"numeric"`
		DT   string            `json:"dt" validate:"datetime=2006-01-02"`
		SW   string            `json:"sw" validate:"startswith=ab"`
		Low  string            `json:"low" validate:"lowercase"`
		Skip map[string]string `json:"-" validate:"required"`
	}
	err := newServerForTest(t).validateInput(context.Background(), all{
		S: "x", L: []int{1, 2}, M: map[string]int{"a": 1}, N: 1, U: "::", ID: "x", Eq: 1, A: "1", AN: "-", Num: "x",
		DT: "yesterday", SW: "zz", Low: "ABC",
	})
	var he *HTTPError
	require.ErrorAs(t, err, &he)
	got := map[string]string{}
	for _, f := range he.Fields {
		got[f.Field] = f.Message
	}
	assert.Equal(t, map[string]string{
		"s":    "must be at least 2 characters long",
		"l":    "must have at most 1 items",
		"m":    "must have more than 1 items",
		"n":    "must be less than 0",
		"u":    "must be a valid URL",
		"id":   "must be a valid UUID",
		"eq":   "must be equal to 3",
		"ne":   "must not be equal to 0",
		"a":    "must contain only letters",
		"an":   "must contain only letters and digits",
		"num":  "must be numeric",
		"dt":   "must be a date and time in the layout 2006-01-02",
		"sw":   "must satisfy startswith=ab",
		"low":  "must satisfy lowercase",
		"Skip": "is required",
	}, got)
}

func TestJSONKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give any
		want string
	}{
		{true, "a boolean"}, {1.5, "a number"}, {uint8(1), "a number"}, {"", "a string"},
		{[]byte{}, "a base64 string"}, {[]int{}, "an array"}, {[2]int{}, "an array"},
		{map[string]int{}, "a JSON object"}, {struct{}{}, "a JSON object"}, {new(int), "a number"},
		{make(chan int), "a different JSON value"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, jsonKind(reflect.TypeOf(tt.give)), "%T", tt.give)
	}
}

func TestActionHandlerDescribesItself(t *testing.T) {
	t.Parallel()
	a := Action("create", func(context.Context, *Request, createOrder) (any, error) { return nil, nil })
	assert.Equal(t, "create", a.Name())
	assert.Equal(t, `Action("create", func(…, controllers.createOrder))`, a.String())
	assert.Equal(t, fmt.Sprint(a), a.String())
}

func TestIsJSONContentType(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]bool{
		"application/json":                true,
		"Application/JSON; charset=utf-8": true,
		"application/merge-patch+json":    true,
		" application/json ":              true,
		"text/json":                       false,
		"application/jsonp":               false,
		"text/plain":                      false,
		"":                                false,
		"multipart/form-data; boundary=x": false,
	} {
		assert.Equal(t, want, isJSONContentType(give), "%q", give)
	}
}
