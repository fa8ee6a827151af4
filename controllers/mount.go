package controllers

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/sprag-go/sprag/sprag"
)

// routeKind says what serves a route, for errors and logs.
type routeKind uint8

const (
	kindLoad    routeKind = iota // a controller's Load
	kindAction                   // a controller's action
	kindHandler                  // a raw http.Handler from Handle
	kindBuiltin                  // /healthz, /readyz and the fallback of unmatched requests
	kindStream                   // a stream of bus events
)

// route is one pattern registered on the router.
type route struct {
	pattern   string
	httpRoute string // the pattern's path, for telemetry: "/orders/{id}"
	kind      routeKind
	owner     string // the controller's or handler's type; "server" for built-ins
	action    string // the action's name, for kindAction
	quiet     bool   // logged at debug level: health probes
	handler   http.Handler
}

// routePath returns the path of a pattern, without its method and host:
// the http.route of the telemetry.
func routePath(pattern string) string {
	rest := pattern
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		rest = strings.TrimLeft(pattern[i+1:], " \t")
	}
	if slash := strings.IndexByte(rest, '/'); slash >= 0 {
		return rest[slash:]
	}
	return rest
}

// String describes the route in errors: `route "GET /x" of controller *app.C`.
func (rt *route) String() string {
	switch rt.kind {
	case kindAction:
		return fmt.Sprintf("action %q (%q) of controller %s", rt.action, rt.pattern, rt.owner)
	case kindHandler:
		return fmt.Sprintf("route %q of handler %s", rt.pattern, rt.owner)
	case kindBuiltin:
		return fmt.Sprintf("built-in route %q", rt.pattern)
	case kindStream:
		return fmt.Sprintf("stream %q", rt.pattern)
	}
	return fmt.Sprintf("route %q of controller %s", rt.pattern, rt.owner)
}

// Mount registers controllers: each one's route, served by its Load, and
// the routes of its actions ([Actioner], [Action]), wrapped in the
// controller's middleware ([MiddlewareController]). A route without a
// method means GET.
//
// Mount never panics. It returns one error naming each controller at fault
// by its type, joined when there are several:
//
//   - [ErrNilController] for a nil controller;
//   - [ErrNoRoute] for an empty route;
//   - [ErrInvalidRoute] for a pattern http.ServeMux refuses;
//   - [ErrInvalidAction] for a bad action (see [Action]);
//   - [ErrRouteConflict] for a route that collides with another one of
//     this call, of an earlier Mount or Handle, or with /healthz and
//     /readyz; the error names both routes and their controllers.
//
// Mount is all or nothing: when it fails, none of its controllers is
// mounted, and the server refuses to start ([Server.OnStart] returns the
// error again), so that a wiring mistake cannot go unnoticed.
//
// Mount is safe for concurrent use and may be called while the server
// serves: it builds a new router with every route and swaps it in at once,
// so a request sees all of a Mount's routes or none. Building costs time in
// the number of routes, so mount many controllers in one call.
func (s *Server) Mount(ctrls ...Controller) error {
	var (
		routes []*route
		errs   []error
	)
	for _, c := range ctrls {
		rs, err := s.controllerRoutes(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		routes = append(routes, rs...)
	}
	return s.add(routes, errs)
}

// Handle registers a plain http.Handler on pattern, with ServeMux's
// semantics (a pattern without a method matches every method). It goes
// through the same stack as controllers: request id, body limit, panic
// recovery, telemetry, request log, the server's middleware, and problem
// answers for the router's 404 and 405. Use it for what is not a
// controller: static files, a metrics endpoint, a webhook that reads its
// own body.
//
// Handle fails, never panics, with [ErrNilController], [ErrNoRoute],
// [ErrInvalidRoute] or [ErrRouteConflict], as [Server.Mount] does, and a
// failure likewise keeps the server from starting.
func (s *Server) Handle(pattern string, h http.Handler) error {
	owner := typeName(h)
	var err error
	switch {
	case isNil(h):
		err = fmt.Errorf("handle %q: %w", pattern, ErrNilController)
	case pattern == "":
		err = fmt.Errorf("handle %s: %w", owner, ErrNoRoute)
	default:
		if perr := checkPattern(pattern); perr != nil {
			err = fmt.Errorf("handle %s: route %q: %w: %w", owner, pattern, ErrInvalidRoute, perr)
		}
	}
	if err != nil {
		return s.add(nil, []error{err})
	}
	rt := &route{pattern: pattern, httpRoute: routePath(pattern), kind: kindHandler, owner: owner}
	rt.handler = &rawHandler{srv: s, h: h, rt: rt}
	return s.add([]*route{rt}, nil)
}

// Routes returns the patterns the server answers, built-in ones first,
// then in the order they were mounted.
func (s *Server) Routes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.pattern
	}
	return out
}

// controllerRoutes checks c and returns its routes: Load's, then its
// actions'.
func (s *Server) controllerRoutes(c Controller) ([]*route, error) {
	if isNil(c) {
		return nil, fmt.Errorf("mount controller %s: %w", typeName(c), ErrNilController)
	}
	owner := typeName(c)
	wrap := func(err error) error { return fmt.Errorf("mount controller %s: %w", owner, err) }

	pattern, err := callRoute(c)
	if err != nil {
		return nil, wrap(err)
	}
	if pattern == "" {
		return nil, wrap(ErrNoRoute)
	}
	if !strings.ContainsAny(pattern, " \t") {
		pattern = http.MethodGet + " " + pattern
	}
	if err := checkPattern(pattern); err != nil {
		return nil, wrap(fmt.Errorf("route %q: %w: %w", pattern, ErrInvalidRoute, err))
	}
	mws, err := callMiddleware(c)
	if err != nil {
		return nil, wrap(err)
	}
	load := &route{pattern: pattern, httpRoute: routePath(pattern), kind: kindLoad, owner: owner}
	if load.handler, err = s.wrap(load, &loadHandler{srv: s, c: c, rt: load}, mws); err != nil {
		return nil, wrap(err)
	}
	routes := []*route{load}

	actioner, ok := c.(Actioner)
	if !ok {
		return routes, nil
	}
	actions, err := callActions(actioner)
	if err != nil {
		return nil, wrap(err)
	}
	var errs []error
	seen := make(map[string]bool, len(actions))
	for i, a := range actions {
		if a == nil {
			errs = append(errs, wrap(fmt.Errorf("action %d: %w: nil action", i, ErrInvalidAction)))
			continue
		}
		if err := a.check(); err != nil {
			errs = append(errs, wrap(err))
			continue
		}
		if seen[a.name] {
			errs = append(errs, wrap(fmt.Errorf("action %q: %w: the name is used twice", a.name, ErrInvalidAction)))
			continue
		}
		seen[a.name] = true
		ap, err := actionPattern(pattern, a.name)
		if err == nil {
			if perr := checkPattern(ap); perr != nil {
				err = fmt.Errorf("action %q: route %q: %w: %w", a.name, ap, ErrInvalidAction, perr)
			}
		}
		if err != nil {
			errs = append(errs, wrap(err))
			continue
		}
		rt := &route{pattern: ap, httpRoute: routePath(ap), kind: kindAction, owner: owner, action: a.name}
		if rt.handler, err = s.wrap(rt, &actionHandler{srv: s, a: a, rt: rt, c: c, slash: pageSlash(pattern)}, mws); err != nil {
			errs = append(errs, wrap(err))
			continue
		}
		routes = append(routes, rt)
	}
	if errs != nil {
		return nil, errors.Join(errs...)
	}
	return routes, nil
}

// add registers routes after the server's current ones, all or nothing.
// errs are failures found before; with them, or with a conflict, nothing is
// registered and the joined error is remembered for OnStart.
func (s *Server) add(routes []*route, errs []error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(routes, errs, nil)
}

// addLocked is add for a caller that holds mu. ready, when not nil, runs
// once the routes are known to fit and before any request can reach them;
// when it fails, nothing is registered and its error, which is no wiring
// mistake, is returned without being remembered.
func (s *Server) addLocked(routes []*route, errs []error, ready func() error) error {
	all := append(slices.Clip(s.routes), routes...)
	m, conflicts := buildMux(all, s.unmatched.handler)
	errs = append(errs, conflicts...)
	if len(errs) > 0 {
		err := errors.Join(errs...)
		s.mountErrs = append(s.mountErrs, err)
		return err
	}
	if ready != nil {
		if err := ready(); err != nil {
			return err
		}
	}
	s.routes = all
	s.mux.Store(m)
	return nil
}

// muxes are the server's routers: full has every route and, on "/", the
// fallback that answers unmatched requests; bare has the routes only, and
// tells the fallback what the router itself would answer.
type muxes struct {
	full, bare *http.ServeMux
}

// buildMux registers routes on new routers. A route that conflicts with
// one registered before it is left out and reported with the name of the
// route it conflicts with. The fallback is left out when a route of the
// app takes every unmatched request itself (a plain "/" pattern).
func buildMux(routes []*route, fallback http.Handler) (*muxes, []error) {
	m := &muxes{full: http.NewServeMux(), bare: http.NewServeMux()}
	var (
		done []*route
		errs []error
	)
	for _, rt := range routes {
		if err := register(m.bare, rt.pattern, rt.handler); err != nil {
			errs = append(errs, conflictError(rt, done, err))
			continue
		}
		m.full.Handle(rt.pattern, rt.handler)
		done = append(done, rt)
	}
	_ = register(m.full, "/", fallback) // a conflict means an app route owns "/"
	return m, errs
}

// conflictError names the earlier route that rt conflicts with. The mux's
// own message is not used: it points at this file, not at the controllers.
func conflictError(rt *route, earlier []*route, muxErr error) error {
	prefix := "mount controller " + rt.owner
	switch rt.kind {
	case kindHandler:
		prefix = "handle " + rt.owner
	case kindStream:
		prefix = "add stream"
	}
	for _, other := range earlier {
		pair := http.NewServeMux()
		if register(pair, other.pattern, http.NotFoundHandler()) == nil &&
			register(pair, rt.pattern, http.NotFoundHandler()) != nil {
			return fmt.Errorf("%s: %s conflicts with %s: %w", prefix, rt, other, ErrRouteConflict)
		}
	}
	return fmt.Errorf("%s: %s: %w: %w", prefix, rt, ErrRouteConflict, muxErr)
}

// checkPattern reports whether http.ServeMux accepts pattern on its own.
func checkPattern(pattern string) error {
	return register(http.NewServeMux(), pattern, http.NotFoundHandler())
}

// register calls mux.Handle and returns the error it panics with, for a
// malformed or conflicting pattern, as it is: that panic is how the mux
// reports a refused pattern, not a bug, so it is not a sprag.PanicError
// and no stack is taken.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if err, _ = r.(error); err == nil {
				err = fmt.Errorf("panic: %v", r) // not reached: the mux panics with errors
			}
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// callRoute calls c.Route; a panic is an error holding a *sprag.PanicError.
func callRoute(c Controller) (pattern string, err error) {
	err = sprag.Safely(func() error {
		pattern = c.Route()
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("route: %w", err)
	}
	return pattern, nil
}

// wrap returns h in the controller's middleware. With middleware, the
// request is marked as the route's before the middleware runs, so that a
// refusal by the middleware is logged and measured under the route. A
// middleware that returns nil is an [ErrInvalidRoute]; one that panics,
// an error holding the panic.
func (s *Server) wrap(rt *route, h http.Handler, mws []Middleware) (http.Handler, error) {
	if len(mws) == 0 {
		return h, nil
	}
	inner, err := chain(h, mws)
	if err != nil {
		var pe *sprag.PanicError
		if !errors.As(err, &pe) {
			err = fmt.Errorf("%w: %w", ErrInvalidRoute, err)
		}
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := s.enter(w, r, rt)
		rw.w = nil // the route's handler, below the middleware, says where it writes
		inner.ServeHTTP(w, r)
	}), nil
}

// callMiddleware returns the controller's middleware, if it has any,
// refusing a nil one; a panic is an error holding a *sprag.PanicError.
func callMiddleware(c Controller) (mws []Middleware, err error) {
	mc, ok := c.(MiddlewareController)
	if !ok {
		return nil, nil
	}
	if err := sprag.Safely(func() error { mws = mc.Middleware(); return nil }); err != nil {
		return nil, fmt.Errorf("middleware: %w", err)
	}
	for i, mw := range mws {
		if mw == nil {
			return nil, fmt.Errorf("middleware %d: %w: nil middleware", i, ErrInvalidRoute)
		}
	}
	return mws, nil
}

// callActions calls a.Actions; a panic is an error holding a
// *sprag.PanicError.
func callActions(a Actioner) (actions []*ActionHandler, err error) {
	if err := sprag.Safely(func() error { actions = a.Actions(); return nil }); err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	return actions, nil
}

// isNil reports whether v is nil or a nil pointer, map, func or the like.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Slice, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// rawHandler serves a handler registered with Handle.
type rawHandler struct {
	srv *Server
	h   http.Handler
	rt  *route
}

func (h *rawHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.srv.enter(w, r, h.rt)
	h.h.ServeHTTP(w, r)
}
