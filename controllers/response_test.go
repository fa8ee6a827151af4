package controllers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
)

func TestSetHeaderSlotsDoNotAlias(t *testing.T) {
	t.Parallel()
	rw := &responseWriter{ResponseWriter: httptest.NewRecorder()}
	rw.setHeader(slotRequestID, headerRequestIDKey, "a")
	rw.Header().Add(HeaderRequestID, "b") // appends past the slot: must copy
	rw.setHeader(slotContentType, "Content-Type", "c")
	assert.Equal(t, []string{"a", "b"}, rw.Header()[headerRequestIDKey])
	assert.Equal(t, []string{"c"}, rw.Header()["Content-Type"])

	rw.setHeader(slotContentType, "Content-Type", "d") // a second write replaces the value
	assert.Equal(t, "d", rw.Header().Get("Content-Type"))
}

// TestEveryResponseHasNoSniff checks each kind of response the server's
// handler writes for X-Content-Type-Options: nosniff, set once by
// ServeHTTP.
func TestEveryResponseHasNoSniff(t *testing.T) {
	t.Parallel()
	reg := sprag.NewRegistry()
	idle := &testService{} // bound, never started: /readyz answers 503
	require.NoError(t, sprag.Bind(idle, "idle", sprag.NewRuntime(nil)))
	require.NoError(t, reg.Provide("idle", idle))
	selfAnswering := func(http.Handler) http.Handler { // middleware that answers itself, bare
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	}
	srv, _ := newServer(t, reg, []Option{WithBodyLimit(16)},
		&static{route: "GET /data", data: map[string]int{"n": 1}},
		&static{route: "GET /dir/", data: 1},
		&loader{route: "GET /missing", load: func(context.Context, *Request) (any, error) {
			return nil, NewError(http.StatusNotFound, "no such thing")
		}},
		&loader{route: "GET /moved", load: func(context.Context, *Request) (any, error) {
			return nil, Redirect(http.StatusMovedPermanently, "/data")
		}},
		&loader{route: "GET /panic", load: func(_ context.Context, r *Request) (any, error) {
			r.rw.Header().Set("Content-Encoding", "gzip") // dropped with the handler's other headers
			panic("boom")
		}},
		&loader{route: "GET /orders", actions: []*ActionHandler{
			Action("noop", func(context.Context, *Request, struct{}) (any, error) { return nil, nil }),
		}},
		&guarded{loader: loader{route: "GET /admin"}, mws: []Middleware{selfAnswering}},
	)
	require.NoError(t, srv.Handle("GET /raw", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("plain"))
	})))
	_, err := srv.Stream("GET /events", Forward("x"))
	require.NoError(t, err)

	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name    string
		method  string
		target  string
		body    string
		headers []string
		want    int
	}{
		{"Load's JSON", http.MethodGet, "/data", "", nil, http.StatusOK},
		{"Load's page", http.MethodGet, "/data", "", []string{"Accept", browserAccept}, http.StatusOK},
		{"Load's problem", http.MethodGet, "/missing", "", nil, http.StatusNotFound},
		{"Load's problem in a page", http.MethodGet, "/missing", "", []string{"Accept", browserAccept}, http.StatusNotFound},
		{"Load's redirect", http.MethodGet, "/moved", "", nil, http.StatusMovedPermanently},
		{"a panic", http.MethodGet, "/panic", "", nil, http.StatusInternalServerError},
		{"the router's 404", http.MethodGet, "/nowhere", "", nil, http.StatusNotFound},
		{"the router's 405", http.MethodDelete, "/data", "", nil, http.StatusMethodNotAllowed},
		{"the router's redirect", http.MethodGet, "/dir", "", nil, http.StatusTemporaryRedirect},
		{"an action's 204", http.MethodPost, "/orders/noop", "{}", []string{"Content-Type", "application/json"}, http.StatusNoContent},
		{"a form post's 303", http.MethodPost, "/orders/noop", "", []string{"Content-Type", form, "Accept", browserAccept}, http.StatusSeeOther},
		{"a body over the limit", http.MethodPost, "/orders/noop", strings.Repeat(" ", 17) + "{}", []string{"Content-Type", "application/json"}, http.StatusRequestEntityTooLarge},
		{"a cross-origin refusal", http.MethodPost, "/orders/noop", "{}", []string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"a middleware's own answer", http.MethodGet, "/admin", "", nil, http.StatusUnauthorized},
		{"a raw handler", http.MethodGet, "/raw", "", nil, http.StatusOK},
		{"/healthz", http.MethodGet, "/healthz", "", nil, http.StatusOK},
		{"/readyz", http.MethodGet, "/readyz", "", nil, http.StatusServiceUnavailable},
		{"a stream that is not running", http.MethodGet, "/events", "", nil, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			rec := serve(srv, tt.method, tt.target, body, tt.headers...)
			require.Equal(t, tt.want, rec.Code, "body: %s", rec.Body)
			assert.Equal(t, []string{"nosniff"}, rec.Header()["X-Content-Type-Options"])
		})
	}

	t.Run("a stream", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			m := startMem(t, nil, func(s *Server) {
				_, err := s.Stream("GET /events", Forward("x"))
				require.NoError(t, err)
			})
			resp := m.do(t, "/events")
			defer func() { _ = resp.Body.Close() }()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
			assert.Equal(t, []string{"nosniff"}, resp.Header["X-Content-Type-Options"])
		})
	})
}
