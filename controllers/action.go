package controllers

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
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
// POST and a JSON body that is decoded into a T and validated before fn
// sees it.
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
// The body must be sent with Content-Type application/json (or a
// "+json" type), else the answer is 415: a cross-site HTML form cannot send
// that type without a CORS preflight. The body is decoded strictly: a field
// T does not have, data after the JSON value, malformed JSON, a value of the
// wrong type or an empty body answers 400; a body over the server's limit
// ([WithBodyLimit]) answers 413. Then, when T is a struct or a pointer to
// one, its `validate` tags are checked with go-playground/validator; a JSON
// null for a pointer T answers 400. Every 400 is the error envelope with the
// fields at fault named by their JSON paths ([FieldError]).
//
// # Output
//
// fn's result is answered as JSON with status 200, or 204 with no body when
// it is nil. fn may return a [Redirect] (303 See Other is the usual answer
// to a POST), an *[HTTPError], or another error, answered as for Load.
// Actions always answer JSON, never the HTML shell. A panic in fn is
// recovered and answers 500.
func Action[T any](name string, fn func(ctx context.Context, r *Request, in T) (any, error)) *ActionHandler {
	input := reflect.TypeFor[T]()
	a := &ActionHandler{name: name, input: input}
	if fn == nil {
		a.err = fmt.Errorf("action %q: %w: nil function", name, ErrInvalidAction)
		return a
	}
	validated := input.Kind() == reflect.Struct ||
		(input.Kind() == reflect.Pointer && input.Elem().Kind() == reflect.Struct)
	a.invoke = func(ctx context.Context, r *Request) (any, error) {
		var in T
		if err := r.srv.decodeBody(r, &in); err != nil {
			return nil, err
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

// actionHandler serves one action of a mounted controller.
type actionHandler struct {
	srv *Server
	a   *ActionHandler
	rt  *route
}

func (h *actionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := h.srv.enter(w, r, h.rt)
	out, err := h.a.invoke(r.Context(), rw.request(r))
	if err != nil {
		h.srv.fail(rw, err, false)
		return
	}
	if out == nil {
		rw.WriteHeader(http.StatusNoContent)
		return
	}
	h.srv.writeJSON(rw, http.StatusOK, out, true)
}
