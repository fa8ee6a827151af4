package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"go.opentelemetry.io/otel/codes"
)

// ActionHandler is a named action of a controller, built by [Action] and
// listed by the controller's Actions method ([Actioner]). It is immutable
// and safe for concurrent use.
type ActionHandler struct {
	name   string
	input  reflect.Type
	invoke func(ctx context.Context, r *Request) (any, error)
	err    error // a construction mistake, reported by Mount
}

// Action returns the action name of a controller: a mutation called with
// POST and a JSON or form body that is decoded into a T and validated
// before fn sees it.
//
//	type CreateOrder struct {
//		Email string `json:"email" validate:"required,email"`
//		Qty   int    `json:"qty"   validate:"min=1,max=100"`
//	}
//
//	controllers.Action("create", func(ctx context.Context, r *controllers.Request, in CreateOrder) (any, error) {
//		return c.orders.Create(ctx, in.Email, in.Qty)
//	})
//
// # Address
//
// An action answers POST on its controller's route path followed by
// "/<name>", with the route's host and wildcards: the action "cancel" of
// "GET /orders/{id}" is "POST /orders/{id}/cancel", and r.PathValue("id")
// works in it as in Load. A trailing slash or "{$}" of the route is dropped
// first ("GET /orders/" gives "POST /orders/cancel"). A name is a path
// segment of ASCII letters, digits, '-' and '_'; a route ending in a
// "{name...}" wildcard cannot have actions. Mount reports these mistakes
// with [ErrInvalidAction], and an action path that collides with another
// route with [ErrRouteConflict].
//
// # Input
//
// The body is application/json (or a "+json" type) or
// application/x-www-form-urlencoded, what an HTML form posts; any other
// type answers 415. A JSON body is decoded strictly: a field T does not
// have, data after the JSON value, malformed JSON, a value of the wrong
// type (a top-level null too, unless T is a pointer or an interface) or
// an empty body answers 400. A form is decoded into the same T with the
// same strictness: each field is named as in JSON ("email";
// "address.zip" for a nested struct; "items[0].sku" in a slice of
// structs; a repeated name for a slice of values), its value is converted
// to the field's type, an empty value of a number or boolean field counts
// as absent, and an unknown name (a name of more than 32 steps is one),
// a repeated name for a single value (also under two spellings that
// differ in case only, which JSON decoding takes for one field), a value
// that is not valid UTF-8 or a value of the wrong type answers 400.
// Either body over the server's limit ([WithBodyLimit]) answers 413.
// Then, when T is a struct or a pointer to one, its `validate` tags are
// checked with go-playground/validator; a JSON null for a pointer to a
// struct answers 400 (for a pointer to another type or an interface, fn
// gets nil). Every 400 is a [Problem]: one about fields names each by its
// path ([FieldError]), a value that its type's own decoding refuses (a
// []byte's base64, an UnmarshalJSON or UnmarshalText) too; one about the
// body as a whole (empty, not JSON, data after the value) says so in its
// detail.
//
// Cross-site requests are refused before the action runs
// ([WithCrossOriginProtection]), so a form on another site cannot post to
// it.
//
// # Output
//
// To an API client, fn's result is answered as JSON with status 200, or
// 204 with no body when it is nil. fn may return a [Redirect] (303 See
// Other is the usual answer to a POST), an *[HTTPError], or another error,
// answered as for Load, as problem+json. A panic in fn is recovered and
// answers 500.
//
// To a browser's form post (a form body from a client that prefers HTML),
// the action answers as a page, so that the form works without
// JavaScript: on success, fn's [Redirect] or, for any other result, 303
// See Other to the controller's page (the action's path without
// "/<name>"), the post/redirect/get pattern; when the input is refused or
// fn returns an *[HTTPError] of 400–499, the controller's page again,
// rendered from its Load with [Page.Form] holding the values sent and the
// problem, with the problem's status, so that the shell shows each
// field's error; any other failure, the error page. A script that posts
// the same form with fetch and Accept: application/json gets the API
// answers instead.
func Action[T any](name string, fn func(ctx context.Context, r *Request, in T) (any, error)) *ActionHandler {
	input := reflect.TypeFor[T]()
	a := &ActionHandler{name: name, input: input}
	if fn == nil {
		a.err = fmt.Errorf("action %q: %w: nil function", name, ErrInvalidAction)
		return a
	}
	validated := input.Kind() == reflect.Struct ||
		(input.Kind() == reflect.Pointer && input.Elem().Kind() == reflect.Struct)
	nullable := input.Kind() == reflect.Pointer || input.Kind() == reflect.Interface
	a.invoke = func(ctx context.Context, r *Request) (any, error) {
		var in T
		// Decoded through a pointer to in, which a JSON null sets to nil:
		// for a struct, a map or a slice, null would leave in as it was
		// and pass for an empty value.
		p := &in
		if err := r.srv.decodeBody(r, &p, input); err != nil {
			return nil, err
		}
		if p == nil && !nullable {
			return nil, &HTTPError{Status: http.StatusBadRequest, Message: "request body must be " + jsonKind(input)}
		}
		if validated {
			if input.Kind() == reflect.Pointer && reflect.ValueOf(in).IsNil() {
				return nil, &HTTPError{Status: http.StatusBadRequest, Message: "request body must be a JSON object"}
			}
			if err := r.srv.validateInput(ctx, in); err != nil {
				return nil, err
			}
		}
		return fn(ctx, r, in)
	}
	return a
}

// Name returns the action's name.
func (a *ActionHandler) Name() string { return a.name }

// String returns the action as it would be written in Go, with its input
// type: Action("create", func(…, app.CreateOrder)).
func (a *ActionHandler) String() string {
	return fmt.Sprintf("Action(%q, func(…, %v))", a.name, a.input)
}

// check reports a construction mistake or a name that is not a clean path
// segment.
func (a *ActionHandler) check() error {
	if a.err != nil {
		return a.err
	}
	if !validActionName(a.name) {
		return fmt.Errorf("action %q: %w: a name is one or more of A-Z a-z 0-9 - _", a.name, ErrInvalidAction)
	}
	return nil
}

func validActionName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// actionPattern derives the pattern of action name from a controller's
// route: "POST", the route's host, its path without a trailing "{$}" or
// slash, then "/name".
func actionPattern(route, name string) (string, error) {
	rest := route
	if i := strings.IndexAny(route, " \t"); i >= 0 {
		rest = strings.TrimLeft(route[i+1:], " \t") // drop the method, as ServeMux parses it
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return "", fmt.Errorf("action %q: %w: route %q has no path", name, ErrInvalidAction, route)
	}
	host, path := rest[:slash], rest[slash:]
	path = strings.TrimSuffix(path, "{$}")
	path = strings.TrimSuffix(path, "/")
	if last := path[strings.LastIndexByte(path, '/')+1:]; strings.HasSuffix(last, "...}") {
		return "", fmt.Errorf("action %q: %w: route %q ends in a multi-segment wildcard, so no action path can follow it",
			name, ErrInvalidAction, route)
	}
	return "POST " + host + path + "/" + name, nil
}

// pageSlash reports whether the path of a controller's route ends in a
// slash ("GET /orders/" or "GET /orders/{$}"), which the page's URL then
// keeps when a form post is redirected back to it.
func pageSlash(route string) bool {
	return strings.HasSuffix(route, "/") || strings.HasSuffix(route, "/{$}")
}

// actionHandler serves one action of a mounted controller.
type actionHandler struct {
	srv   *Server
	a     *ActionHandler
	rt    *route
	c     Controller // whose page a refused form is rendered on
	slash bool       // the page's path ends in a slash
}

func (h *actionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.srv
	rw := s.enter(w, r, h.rt)
	req := rw.request(r)
	if isFormContentType(r.Header.Get("Content-Type")) {
		rw.varyAccept()
		req.formHTML = wantsHTML(r)
	}
	ctx, span := s.tel.startAction(r.Context(), h.rt)
	if span != nil {
		req.ctx = ctx
		defer span.End()
	}
	out, err := h.a.invoke(ctx, req)
	if span != nil && err != nil && !isClientError(err) {
		span.SetStatus(codes.Error, "")
	}
	if req.formHTML {
		h.answerPage(r.Context(), rw, req, err)
		return
	}
	if err != nil {
		s.fail(rw, err, false)
		return
	}
	if out == nil {
		rw.out().WriteHeader(http.StatusNoContent)
		return
	}
	s.writeJSON(rw, http.StatusOK, out)
}

// answerPage answers a browser's form post: see Action. ctx is the
// request's, for the page's Load.
func (h *actionHandler) answerPage(ctx context.Context, rw *responseWriter, req *Request, err error) {
	s := h.srv
	if err == nil {
		rw.out().Header().Set("Location", h.pageURL(req.http))
		rw.out().WriteHeader(http.StatusSeeOther)
		return
	}
	var he *HTTPError
	if !errors.As(err, &he) || he.Status < 400 || he.Status > 499 || isRedirect(err) {
		s.fail(rw, err, true)
		return
	}
	// Load sees the request as on a GET: no form (the page's Form holds
	// it), and ctx, the request's, as its Context.
	values := req.form
	req.form, req.ctx = nil, nil
	data, lerr := h.c.Load(ctx, req)
	if lerr != nil {
		s.fail(rw, lerr, true)
		return
	}
	p := he.problem()
	s.completeProblem(rw, p)
	s.writePage(rw, he.Status, pageOf(data, nil, &Form{Action: h.a.name, Values: values, Problem: p}))
}

// pageURL is the path of the action's controller page: the request's path
// without "/<name>".
func (h *actionHandler) pageURL(r *http.Request) string {
	p := strings.TrimSuffix(r.URL.EscapedPath(), "/"+h.a.name)
	if h.slash || p == "" {
		p += "/"
	}
	return p
}

// isClientError reports whether err answers with a redirect or a 4xx
// status: not a failure of the server, for the span's status.
func isClientError(err error) bool {
	if isRedirect(err) {
		return true
	}
	var he *HTTPError
	return errors.As(err, &he) && he.Status >= 400 && he.Status <= 499
}

func isRedirect(err error) bool {
	var redirect *RedirectError
	return errors.As(err, &redirect)
}
