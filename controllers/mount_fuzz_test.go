package controllers_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
)

// fzRoute is a controller on any route, with one action.
type fzRoute struct {
	route  string
	action string
}

func (c *fzRoute) Route() string { return c.route }

func (c *fzRoute) Load(context.Context, *controllers.Request) (any, error) {
	return map[string]string{"load": c.route}, nil
}

func (c *fzRoute) Actions() []*controllers.ActionHandler {
	return []*controllers.ActionHandler{
		controllers.Action(c.action, func(context.Context, *controllers.Request, struct{}) (any, error) {
			return map[string]string{"action": c.action}, nil
		}),
	}
}

// fzPlain is a controller on any route, without actions.
type fzPlain struct{ route string }

func (c *fzPlain) Route() string { return c.route }

func (c *fzPlain) Load(context.Context, *controllers.Request) (any, error) { return nil, nil }

// splitPattern splits a ServeMux pattern as the mux does: the method is
// what comes before the first space or tab.
func splitPattern(pattern string) (method, hostPath string) {
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		return pattern[:i], strings.TrimLeft(pattern[i+1:], " \t")
	}
	return "", pattern
}

// muxAccepts reports whether a ServeMux accepts pattern.
func muxAccepts(pattern string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	http.NewServeMux().Handle(pattern, http.NotFoundHandler())
	return true
}

// fuzzServer returns a new server with a no-op logger.
func fuzzServer(t *testing.T) *controllers.Server {
	t.Helper()
	srv, err := controllers.NewServer(nil, controllers.WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// FuzzRoutePatterns gives arbitrary route patterns and action names to
// Mount, Handle and Stream. None panics. A refusal wraps the package's
// sentinel errors and names the controller or the route, leaves the
// routes as they were and the server serving; Mount fails exactly when
// the mux refuses the pattern or the derived action pattern, or the route
// collides with the health routes, and Stream accepts exactly the GET
// patterns that Mount accepts. An accepted plain GET route answers its
// path from Load, and its action answers POST.
func FuzzRoutePatterns(f *testing.F) {
	for _, seed := range [][2]string{
		{"/orders", "create"},
		{"GET /orders/{id}", "cancel"},
		{"GET /orders/", "create"},
		{"GET /orders/{$}", "create"},
		{"GET /files/{path...}", "upload"},
		{"POST /x", "y"},
		{"GET example.com/a", "b"},
		{"GET  /two-spaces", "act"},
		{"/healthz", "x"},
		{"/", "x"},
		{"", "x"},
		{"GET", "x"},
		{"GET /{", "x"},
		{"GET /{a}/{a}", "x"},
		{"GET /a", "bad name"},
		{"GET /a", ""},
		{"GET /a", "../x"},
		{"get /a", "x"},
		{" /a", "x"},
		{"GET /a/{x}/{$}", "y"},
		{"GET /%61", "x"},
		{"GET /a/../b", "x"},
		{"GET /{x...}/", "y"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, action string) {
		normalized := pattern
		if !strings.ContainsAny(pattern, " \t") {
			normalized = "GET " + pattern
		}
		method, hostPath := splitPattern(normalized)

		// Mount.
		srv := fuzzServer(t)
		before := srv.Routes()
		ctrl := &fzRoute{route: pattern, action: action}
		mountErr := srv.Mount(ctrl)
		checkAfter(t, srv, before, mountErr, "Mount("+strconv.Quote(pattern)+")")
		if mountErr != nil {
			if !errors.Is(mountErr, controllers.ErrNoRoute) && !errors.Is(mountErr, controllers.ErrInvalidRoute) &&
				!errors.Is(mountErr, controllers.ErrInvalidAction) && !errors.Is(mountErr, controllers.ErrRouteConflict) {
				t.Fatalf("Mount(%q): error wraps no sentinel: %v", pattern, mountErr)
			}
			if !strings.Contains(mountErr.Error(), "*controllers_test.fzRoute") {
				t.Fatalf("Mount(%q): error does not name the controller: %v", pattern, mountErr)
			}
			if pattern != "" && muxAccepts(normalized) && !errors.Is(mountErr, controllers.ErrInvalidAction) &&
				!errors.Is(mountErr, controllers.ErrRouteConflict) {
				t.Fatalf("Mount(%q): the mux accepts %q, yet: %v", pattern, normalized, mountErr)
			}
		} else {
			if !muxAccepts(normalized) {
				t.Fatalf("Mount(%q) accepted a pattern the mux refuses", pattern)
			}
			if !slices.Contains(srv.Routes(), normalized) {
				t.Fatalf("Mount(%q): routes %q lack %q", pattern, srv.Routes(), normalized)
			}
			checkServes(t, srv, method, hostPath, action)
		}

		// Handle.
		srv = fuzzServer(t)
		before = srv.Routes()
		handleErr := srv.Handle(pattern, http.NotFoundHandler())
		checkAfter(t, srv, before, handleErr, "Handle("+strconv.Quote(pattern)+")")
		if handleErr != nil {
			if !errors.Is(handleErr, controllers.ErrNoRoute) && !errors.Is(handleErr, controllers.ErrInvalidRoute) &&
				!errors.Is(handleErr, controllers.ErrRouteConflict) {
				t.Fatalf("Handle(%q): error wraps no sentinel: %v", pattern, handleErr)
			}
			if pattern != "" && !strings.Contains(handleErr.Error(), strconv.Quote(pattern)) {
				t.Fatalf("Handle(%q): error does not name the route: %v", pattern, handleErr)
			}
		} else if !muxAccepts(pattern) {
			t.Fatalf("Handle(%q) accepted a pattern the mux refuses", pattern)
		}

		// Stream: the same rule as Mount's for the route, and GET only.
		srv = fuzzServer(t)
		before = srv.Routes()
		_, streamErr := srv.Stream(pattern, controllers.Forward("fz:topic"))
		checkAfter(t, srv, before, streamErr, "Stream("+strconv.Quote(pattern)+")")
		// A controller without actions: what Mount says of the route alone.
		loadOK := fuzzServer(t).Mount(&fzPlain{route: pattern}) == nil
		switch wantOK := loadOK && method == http.MethodGet; {
		case streamErr != nil && wantOK:
			t.Fatalf("Stream(%q) refused a GET pattern that Mount accepts: %v", pattern, streamErr)
		case streamErr == nil && !wantOK:
			t.Fatalf("Stream(%q) accepted a pattern that is not a valid GET route (method %q)", pattern, method)
		case streamErr != nil:
			if !errors.Is(streamErr, controllers.ErrNoRoute) && !errors.Is(streamErr, controllers.ErrInvalidRoute) &&
				!errors.Is(streamErr, controllers.ErrInvalidStream) && !errors.Is(streamErr, controllers.ErrRouteConflict) {
				t.Fatalf("Stream(%q): error wraps no sentinel: %v", pattern, streamErr)
			}
			if !strings.Contains(streamErr.Error(), strconv.Quote(pattern)) && !strings.Contains(streamErr.Error(), strconv.Quote(normalized)) {
				t.Fatalf("Stream(%q): error does not name the route: %v", pattern, streamErr)
			}
		}
	})
}

// checkAfter checks the server after a registration: refused, it has the
// routes it had and still serves its health check.
func checkAfter(t *testing.T, srv *controllers.Server, before []string, err error, call string) {
	t.Helper()
	if err != nil && !slices.Equal(srv.Routes(), before) {
		t.Fatalf("%s failed (%v) but changed the routes: %q", call, err, srv.Routes())
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("after %s: /healthz answers %d", call, rec.Code)
	}
}

// checkServes checks, for a plain GET route (no host, no wildcard, a clean
// path), that a GET of its path reaches Load and that a POST of its action
// reaches the action.
func checkServes(t *testing.T, srv *controllers.Server, method, hostPath, action string) {
	t.Helper()
	p := strings.TrimSuffix(hostPath, "{$}")
	if method != http.MethodGet || !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "{}%") {
		return
	}
	if c := path.Clean(p); c != p && c+"/" != p {
		return
	}
	serveOne := func(m, target string, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(m, "/", strings.NewReader(body))
		req.URL = &url.URL{Path: target}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	rec := serveOne(http.MethodGet, p, "")
	if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"load"`)) {
		t.Fatalf("GET %q of route %q: %d %s", p, hostPath, rec.Code, rec.Body.String())
	}
	ap := strings.TrimSuffix(p, "/") + "/" + action
	rec = serveOne(http.MethodPost, ap, "{}")
	if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"action"`)) {
		t.Fatalf("POST %q, action %q of route %q: %d %s", ap, action, hostPath, rec.Code, rec.Body.String())
	}
}
