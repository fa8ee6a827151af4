package controllers

import (
	"context"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// postForm sends body to target as a form post. headers are name, value
// pairs.
func postForm(srv http.Handler, target, body string, headers ...string) *httptest.ResponseRecorder {
	return serve(srv, http.MethodPost, target, strings.NewReader(body),
		append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)...)
}

type formInput struct {
	Email    string            `json:"email" validate:"required,email"`
	Qty      int               `json:"qty" validate:"min=1"`
	Price    float64           `json:"price"`
	Gift     bool              `json:"gift"`
	Tags     []string          `json:"tags"`
	Sizes    []int             `json:"sizes"`
	Ship     address           `json:"ship"`
	Items    []item            `json:"items" validate:"dive"`
	Note     *string           `json:"note"`
	When     time.Time         `json:"when"`
	Extra    map[string]string `json:"extra"`
	embedded                   // its fields are promoted, as encoding/json does
	Ignored  string            `json:"-"`
}

type embedded struct {
	Coupon string `json:"coupon"`
}

func TestFormDocument(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[formInput]()
	tests := []struct {
		name string
		give string
		want string
	}{
		{"empty", "", `{}`},
		{"scalars", "email=a%40b.c&qty=2&price=-1.5e2&gift=on", `{"email":"a@b.c","gift":true,"price":-1.5e2,"qty":2}`},
		{"booleans", "gift=false", `{"gift":false}`},
		{"empty number and bool are absent", "qty=&price=+&gift=", `{}`},
		{"empty string is kept", "email=", `{"email":""}`},
		{"repeated values of a slice", "tags=a&tags=b&sizes=1&sizes=&sizes=3", `{"sizes":[1,3],"tags":["a","b"]}`},
		{"indexed slice", "tags[1]=b&tags[0]=a", `{"tags":["a","b"]}`},
		{"nested struct", "ship.zip=12345", `{"ship":{"zip":"12345"}}`},
		{"slice of structs", "items[0].sku=A&items[0].qty=1&items[1].sku=B", `{"items":[{"qty":1,"sku":"A"},{"sku":"B"}]}`},
		{"hole in a slice", "items[1].sku=B&items[1].qty=1", `{"items":[null,{"qty":1,"sku":"B"}]}`},
		{"pointer", "note=hi", `{"note":"hi"}`},
		{"text unmarshaler", "when=2026-01-02T03:04:05Z", `{"when":"2026-01-02T03:04:05Z"}`},
		{"map", "extra.color=red", `{"extra":{"color":"red"}}`},
		{"promoted field", "coupon=X1", `{"coupon":"X1"}`},
		{"case-insensitive, as encoding/json, under the field's own name", "EMAIL=a%40b.c", `{"email":"a@b.c"}`},
		{"not a number stays a string", "qty=two", `{"qty":"two"}`},
		{"hex is not a JSON number", "qty=0x10", `{"qty":"0x10"}`},
		{"not a boolean stays a string", "gift=maybe", `{"gift":"maybe"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			values, err := url.ParseQuery(tt.give)
			require.NoError(t, err)
			doc, he := formDocument(values, typ)
			require.Nil(t, he)
			assert.JSONEq(t, tt.want, string(doc))
		})
	}
}

func TestFormDocumentRefuses(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[formInput]()
	tests := []struct {
		give string
		want FieldError
	}{
		{"admin=1", FieldError{Field: "admin", Rule: "unknown", Message: "is not a known field"}},
		{"Ignored=1", FieldError{Field: "Ignored", Rule: "unknown", Message: "is not a known field"}},
		{"ship.street=x", FieldError{Field: "ship.street", Rule: "unknown", Message: "is not a known field"}},
		{"email=a&email=b", FieldError{Field: "email", Rule: "type", Message: "must have a single value"}},
		{"ship=x&ship.zip=1", FieldError{Field: "ship.zip", Rule: "type", Message: "is given more than once"}},
		{"tags[0]=a&tags=b", FieldError{Field: "tags[0]", Rule: "type", Message: "is given more than once"}},
		{"items[5].sku=A", FieldError{Field: "items[5].sku", Rule: "type", Message: "has an index out of range"}},
		{"qty[0]=1", FieldError{Field: "qty[0]", Rule: "unknown", Message: "is not a known field"}},
		{"items[x].sku=A", FieldError{Field: "items[x].sku", Rule: "unknown", Message: "is not a known field"}},
		{"items[-1].sku=A", FieldError{Field: "items[-1].sku", Rule: "unknown", Message: "is not a known field"}},
		{".qty=1", FieldError{Field: ".qty", Rule: "unknown", Message: "is not a known field"}},
		{"items[0]x=A", FieldError{Field: "items[0]x", Rule: "unknown", Message: "is not a known field"}},
		{"EMAIL=a&email=b", FieldError{Field: "email", Rule: "type", Message: "is given more than once"}},
		{"email[=a", FieldError{Field: "email[", Rule: "unknown", Message: "is not a known field"}},
		{"tags[0][=a", FieldError{Field: "tags[0][", Rule: "unknown", Message: "is not a known field"}},
		{"email=%FF", FieldError{Field: "email", Rule: "type", Message: "is not valid UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			values, err := url.ParseQuery(tt.give)
			require.NoError(t, err)
			_, he := formDocument(values, typ)
			require.NotNil(t, he)
			assert.Equal(t, http.StatusBadRequest, he.Status)
			assert.Equal(t, []FieldError{tt.want}, he.Fields)
		})
	}

	_, he := formDocument(url.Values{"a": {"1"}}, reflect.TypeFor[[]string]())
	require.NotNil(t, he)
	assert.Equal(t, http.StatusUnsupportedMediaType, he.Status, "a form cannot stand for a list")
}

func TestIsJSONNumber(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0", "-0", "1", "12", "1.5", "-1.5e10", "1E+2", "0.0e-1"} {
		assert.True(t, isJSONNumber(s), s)
	}
	for _, s := range []string{"", "-", "01", "1.", ".5", "1e", "+1", "0x1", "NaN", "Inf", "1_000", "1 "} {
		assert.False(t, isJSONNumber(s), s)
	}
}

func TestActionDecodesForms(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, []Option{WithBodyLimit(512)}, ordersController{})
	good := "customer_email=a%40example.com&items[0].sku=X1&items[0].qty=2&shipping_address.zip=12345"

	rec := postForm(srv, "/orders/7/create", good)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, created{Order: "7", Email: "a@example.com", Items: 1}, decodeJSON[created](t, rec.Body.Bytes()),
		"an API client's form gets the same answer as its JSON")
	assert.Equal(t, "Accept", rec.Header().Get("Vary"))

	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantDetail string
		wantFields []FieldError
	}{
		{"validation", "customer_email=nope&items[0].sku=X1&items[0].qty=0&shipping_address.zip=1", 400, "invalid input", []FieldError{
			{Field: "customer_email", Rule: "email", Message: "must be a valid email address"},
			{Field: "items[0].qty", Rule: "min", Param: "1", Message: "must be at least 1"},
			{Field: "shipping_address.zip", Rule: "len", Param: "5", Message: "must be exactly 5 characters long"},
		}},
		{"unknown field", good + "&admin=true", 400, "invalid input", []FieldError{{Field: "admin", Rule: "unknown", Message: "is not a known field"}}},
		{"wrong type", "customer_email=a%40example.com&items[0].sku=X1&items[0].qty=many&shipping_address.zip=12345", 400, "invalid input",
			[]FieldError{{Field: "items.qty", Rule: "type", Message: "must be a number"}}},
		{"malformed", "customer_email=%zz", 400, "request body is not a valid form", nil},
		{"too large", good + "&pad=" + strings.Repeat("x", 600), 413, "request body is larger than 512 bytes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := postForm(srv, "/orders/7/create", tt.body)
			assert.Equal(t, tt.wantStatus, rec.Code)
			p := problemOf(t, rec)
			assert.Equal(t, tt.wantDetail, p.Detail)
			assert.Equal(t, tt.wantFields, p.Errors)
		})
	}
}

// formPage is a controller whose page has an order form, as a server
// rendered page without JavaScript would.
type formPage struct {
	orders  []string
	loadErr error
}

func (c *formPage) Route() string { return "GET /shop/{id}/" }

func (c *formPage) Load(_ context.Context, r *Request) (any, error) {
	if c.loadErr != nil {
		return nil, c.loadErr
	}
	return map[string]any{"shop": r.PathValue("id"), "orders": c.orders}, nil
}

type orderForm struct {
	Email string `json:"email" validate:"required,email"`
	Qty   int    `json:"qty" validate:"min=1,max=9"`
}

func (c *formPage) Actions() []*ActionHandler {
	return []*ActionHandler{
		Action("order", func(_ context.Context, _ *Request, in orderForm) (any, error) {
			if in.Qty == 7 {
				return nil, NewError(http.StatusConflict, "sold out")
			}
			if in.Qty == 8 {
				return nil, Redirect(http.StatusSeeOther, "/thanks")
			}
			if in.Qty == 9 {
				return nil, NewError(http.StatusBadGateway, "payments are down")
			}
			c.orders = append(c.orders, in.Email)
			return map[string]int{"order": len(c.orders)}, nil
		}),
	}
}

var formShell = template.Must(template.New("form").Parse(`{{with .Form}}form={{.Action}} {{end}}status={{.Status}}` +
	` email=[{{.FormValue "email"}}] email-error=[{{.FieldError "email"}}] qty-error=[{{.FieldError "qty"}}]` +
	`{{with .Error}} error={{.Message}}{{end}} data={{.JSON}}`))

func TestBrowserFormPost(t *testing.T) {
	t.Parallel()
	page := &formPage{}
	srv, _ := newServer(t, nil, []Option{WithShell(formShell)}, page)
	browser := []string{"Accept", browserAccept}

	rec := postForm(srv, "/shop/7/order", "email=a%40b.co&qty=2", browser...)
	assert.Equal(t, http.StatusSeeOther, rec.Code, "success: post/redirect/get")
	assert.Equal(t, "/shop/7/", rec.Header().Get("Location"), "back to the controller's page")
	assert.Equal(t, []string{"a@b.co"}, page.orders)

	rec = postForm(srv, "/shop/7/order", "email=a%40b.co&qty=8", browser...)
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/thanks", rec.Header().Get("Location"), "the action's own redirect")

	rec = postForm(srv, "/shop/7/order", "email=nope&qty=0", browser...)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, contentTypeHTML, rec.Header().Get("Content-Type"))
	assert.Equal(t, `form=order status=400 email=[nope] email-error=[must be a valid email address] qty-error=[must be at least 1]`+
		` data={&#34;orders&#34;:[&#34;a@b.co&#34;],&#34;shop&#34;:&#34;7&#34;}`, rec.Body.String(),
		"the page again, from Load, with the values and the errors by field")

	rec = postForm(srv, "/shop/7/order", "email=a%40b.co&qty=7", browser...)
	assert.Equal(t, http.StatusConflict, rec.Code)
	assert.Contains(t, rec.Body.String(), "form=order status=409 email=[a@b.co] email-error=[] qty-error=[]")

	rec = postForm(srv, "/shop/7/order", "email=a%40b.co&qty=9", browser...)
	assert.Equal(t, http.StatusBadGateway, rec.Code)
	assert.Contains(t, rec.Body.String(), "status=502 email=[] email-error=[] qty-error=[] error=payments are down",
		"a server failure is the error page")

	rec = postForm(srv, "/shop/7/order", "email=nope&qty=0", "Accept", "application/json")
	assert.Equal(t, http.StatusBadRequest, rec.Code, "a script's fetch gets the API answers")
	assert.Len(t, problemOf(t, rec).Errors, 2)

	rec = postForm(srv, "/shop/7/order", "email=a%40b.co&qty=3", "Accept", "application/json")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"order":2}`, rec.Body.String())

	page.loadErr = NewError(http.StatusNotFound, "no such shop")
	rec = postForm(srv, "/shop/8/order", "email=nope&qty=0", browser...)
	assert.Equal(t, http.StatusNotFound, rec.Code, "the page's own failure when it cannot be rendered again")
	assert.Contains(t, rec.Body.String(), "error=no such shop")
}

func TestDefaultShellShowsFormErrors(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil, &formPage{})
	rec := postForm(srv, "/shop/7/order", "email=nope&qty=0", "Accept", browserAccept)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), `<div role="alert">`)
	assert.Contains(t, rec.Body.String(), `<li>email: must be a valid email address</li>`)
	assert.Contains(t, rec.Body.String(), `<li>qty: must be at least 1</li>`)
}

func TestPageFormHelpersWithoutForm(t *testing.T) {
	t.Parallel()
	var p Page
	assert.Empty(t, p.FieldError("email"))
	assert.Empty(t, p.FormValue("email"))
	p.Form = &Form{Values: url.Values{"email": {"x"}}}
	assert.Equal(t, "x", p.FormValue("email"))
	assert.Empty(t, p.FieldError("email"))
}

func TestRequestForm(t *testing.T) {
	t.Parallel()
	var got url.Values
	ctrl := &loader{route: "GET /f", actions: []*ActionHandler{Action("go", func(_ context.Context, r *Request, _ struct {
		A string `json:"a"`
	}) (any, error) {
		got = r.Form()
		return nil, nil
	})}}
	srv, _ := newServer(t, nil, nil, ctrl)
	require.Equal(t, http.StatusNoContent, postForm(srv, "/f/go", "a=1").Code)
	assert.Equal(t, url.Values{"a": {"1"}}, got)
	require.Equal(t, http.StatusNoContent, postJSON(srv, "/f/go", `{"a":"1"}`).Code)
	assert.Nil(t, got, "no form for a JSON body")
}

func TestJSONFieldsAreComputedOncePerType(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[formInput]()
	first, second := cachedJSONFields(typ), cachedJSONFields(typ)
	assert.Equal(t, reflect.ValueOf(first).Pointer(), reflect.ValueOf(second).Pointer(), "the same map, not a new walk")
	assert.Equal(t, jsonFields(typ), first)
	assert.Contains(t, first, "email")
	assert.NotContains(t, first, "Ignored")

	other := cachedJSONFields(reflect.TypeFor[address]())
	assert.NotEqual(t, reflect.ValueOf(first).Pointer(), reflect.ValueOf(other).Pointer(), "one entry per type")
}

// TestDecodeJSONNamesTheMemberAValueRefused checks that a value refused by
// its type's own decoding (a []byte's base64, a time.Time's text) is named
// by its path, as a type mismatch is, and that an unknown member named ""
// is named too.
func TestDecodeJSONNamesTheMemberAValueRefused(t *testing.T) {
	t.Parallel()
	type withRaw struct {
		Raw   []byte     `json:"raw"`
		Items []formItem `json:"items"`
	}
	s := &Server{cfg: defaultConfig()}
	typ := reflect.TypeFor[withRaw]()
	tests := []struct {
		give string
		want FieldError
	}{
		{`{"raw":"not base64!"}`, FieldError{Field: "raw", Rule: "type", Message: "must be a base64 string"}},
		{`{"raw":"AA==","items":[{},{"when":"yesterday"}]}`, FieldError{Field: "items[1].when", Rule: "type", Message: "is not a valid value"}},
		{`{"":1}`, FieldError{Field: "", Rule: "unknown", Message: "is not a known field"}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			var dst withRaw
			err := s.decodeJSON(strings.NewReader(tt.give), &dst, typ)
			var he *HTTPError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, http.StatusBadRequest, he.Status)
			assert.Equal(t, []FieldError{tt.want}, he.Fields)
		})
	}
}

type formItem struct {
	When time.Time `json:"when"`
}
