package controllers

import (
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strings"

	"github.com/sprag-go/sprag/sprag"
)

// Middleware wraps an http.Handler, the shape that otelhttp.NewMiddleware,
// chi's middlewares, CORS handlers and most auth checks have: it is a type
// alias, so they plug in unchanged.
//
// A middleware sees the request after the server's own stack has given it
// a request id, a span and a body limit, and its answer is measured and
// logged as any other: a refusal it writes itself (a 401, say) shows in
// the request's log line and metrics. A panic in it is recovered as a
// handler's.
type Middleware = func(http.Handler) http.Handler

// MiddlewareController is implemented by a controller whose routes go
// through middleware of their own, after the server's ([WithMiddleware]):
// an auth check for an admin page, a rate limit on its actions.
//
//	func (c *AdminController) Middleware() []controllers.Middleware {
//		return []controllers.Middleware{requireAdmin}
//	}
//
// [Server.Mount] calls Middleware once and wraps the controller's Load and
// each of its actions, in the order given: the first is the outermost, so
// it sees the request first. The middleware sees the request with its
// route matched: r.Pattern and r.PathValue work in it. A nil middleware,
// or one that returns a nil handler, is a mistake that Mount reports with
// [ErrInvalidRoute]; one that panics when Mount calls it fails Mount with
// an error holding the *sprag.PanicError.
type MiddlewareController interface {
	Middleware() []Middleware
}

// chain wraps h in mws, the first outermost. A middleware that panics or
// returns a nil handler is an error that names it; a panic is held as a
// *sprag.PanicError.
func chain(h http.Handler, mws []Middleware) (http.Handler, error) {
	for i := len(mws) - 1; i >= 0; i-- {
		var next http.Handler
		if err := sprag.Safely(func() error { next = mws[i](h); return nil }); err != nil {
			return nil, fmt.Errorf("middleware %d (%s): %w", i, funcName(mws[i]), err)
		}
		if isNil(next) {
			return nil, fmt.Errorf("middleware %d (%s): returned a nil handler", i, funcName(mws[i]))
		}
		h = next
	}
	return h, nil
}

type middlewareOption []Middleware

// WithMiddleware adds middleware around every route of the server,
// controllers, streams, handlers and the router's 404 and 405 alike, in
// the order given: the first is the outermost. Several WithMiddleware add
// up, in order. The server's own stack (request id, telemetry, panic
// recovery, request log and the cross-origin check) runs before it; see
// [Server.ServeHTTP].
//
//	controllers.WithMiddleware(otelhttp.NewMiddleware("app"), cors.Handler(corsOptions))
//
// Each middleware is called once, when [NewServer] builds the server. A
// nil middleware, or one that returns a nil handler or panics when
// NewServer calls it, is an invalid option.
func WithMiddleware(mws ...Middleware) Option { return middlewareOption(mws) }

func (o middlewareOption) apply(c *config) error {
	for i, mw := range o {
		if mw == nil {
			return fmt.Errorf("%v: %w: middleware %d is nil", o, ErrInvalidOption, i)
		}
	}
	c.middleware = append(c.middleware, o...)
	return nil
}

func (o middlewareOption) String() string {
	names := make([]string, len(o))
	for i, mw := range o {
		names[i] = funcName(mw)
	}
	return "controllers.WithMiddleware(" + strings.Join(names, ", ") + ")"
}

// funcName names fn as the runtime does ("otelhttp.NewMiddleware.func1"),
// without its package path; "nil" for a nil fn.
func funcName(fn any) string {
	v := reflect.ValueOf(fn)
	if !v.IsValid() || v.IsNil() {
		return "nil"
	}
	name := v.Type().String()
	if f := runtime.FuncForPC(v.Pointer()); f != nil {
		name = f.Name()
	}
	return name[strings.LastIndexByte(name, '/')+1:]
}

type crossOriginOption struct{ p *http.CrossOriginProtection }

// WithCrossOriginProtection sets the check that refuses state-changing
// requests (any method but GET, HEAD and OPTIONS) that a browser sends from
// another origin, as a cross-site form or fetch would: they get a 403
// problem before any middleware or handler runs. The check is Go's
// http.CrossOriginProtection, which reads the Sec-Fetch-Site and Origin
// headers; requests from non-browser clients, which send neither, pass.
//
// Every server has one by default, trusting no other origin; pass your own
// to trust origins (AddTrustedOrigin) or exempt paths
// (AddInsecureBypassPattern), or nil to turn the check off, for an API
// whose clients authenticate with headers rather than cookies.
func WithCrossOriginProtection(p *http.CrossOriginProtection) Option { return crossOriginOption{p} }

func (o crossOriginOption) apply(c *config) error {
	c.crossOrigin = o.p
	return nil
}

func (o crossOriginOption) String() string {
	if o.p == nil {
		return "controllers.WithCrossOriginProtection(nil)"
	}
	return "controllers.WithCrossOriginProtection()"
}
