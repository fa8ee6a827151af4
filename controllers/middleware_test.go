package controllers

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

// recorder is a middleware that appends its name to a shared trace before
// and after the handler.
type recorder struct {
	mu    sync.Mutex
	trace []string
}

func (rec *recorder) mw(name string) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec.add(name + ">")
			next.ServeHTTP(w, r)
			rec.add("<" + name)
		})
	}
}

func (rec *recorder) add(s string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.trace = append(rec.trace, s)
}

func (rec *recorder) take() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.trace
	rec.trace = nil
	return out
}

// guarded is a controller with middleware of its own.
type guarded struct {
	loader
	mws []Middleware
}

func (c *guarded) Middleware() []Middleware { return c.mws }

func TestMiddlewareOrder(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	var sawPattern, sawID string
	ctrl := &guarded{
		loader: loader{route: "GET /admin/{id}", load: func(context.Context, *Request) (any, error) {
			rec.add("load")
			return 1, nil
		}, actions: []*ActionHandler{Action("touch", func(context.Context, *Request, struct{}) (any, error) {
			rec.add("action")
			return nil, nil
		})}},
		mws: []Middleware{rec.mw("c1"), func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sawPattern, sawID = r.Pattern, r.PathValue("id") // the route is matched before controller middleware
				rec.mw("c2")(next).ServeHTTP(w, r)
			})
		}},
	}
	srv, _ := newServer(t, nil, []Option{WithMiddleware(rec.mw("s1"), rec.mw("s2")), WithMiddleware(rec.mw("s3"))}, ctrl)

	assert.Equal(t, http.StatusOK, serve(srv, http.MethodGet, "/admin/7", nil).Code)
	assert.Equal(t, []string{"s1>", "s2>", "s3>", "c1>", "c2>", "load", "<c2", "<c1", "<s3", "<s2", "<s1"}, rec.take())
	assert.Equal(t, "GET /admin/{id}", sawPattern)
	assert.Equal(t, "7", sawID)

	assert.Equal(t, http.StatusNoContent, postJSON(srv, "/admin/7/touch", `{}`).Code)
	assert.Equal(t, []string{"s1>", "s2>", "s3>", "c1>", "c2>", "action", "<c2", "<c1", "<s3", "<s2", "<s1"}, rec.take(),
		"a controller's middleware wraps its actions too")

	assert.Equal(t, http.StatusNotFound, serve(srv, http.MethodGet, "/nowhere", nil).Code)
	assert.Equal(t, []string{"s1>", "s2>", "s3>", "<s3", "<s2", "<s1"}, rec.take(), "the server's middleware sees unmatched requests")

	assert.Equal(t, http.StatusOK, serve(srv, http.MethodGet, "/healthz", nil).Code)
	assert.Equal(t, []string{"s1>", "s2>", "s3>", "<s3", "<s2", "<s1"}, rec.take())
}

// requireToken is an auth middleware that refuses requests without the
// right bearer token, answering 401 itself.
func requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKeyTest{}, "user-7")))
	})
}

func TestAuthMiddlewareRefuses(t *testing.T) {
	t.Parallel()
	var loads int
	ctrl := &guarded{loader: loader{route: "GET /me", load: func(ctx context.Context, r *Request) (any, error) {
		loads++
		return map[string]any{"user": ctx.Value(ctxKeyTest{}), "same": r.Context() == ctx}, nil
	}}, mws: []Middleware{requireToken}}
	srv, logs := newServer(t, nil, []Option{WithRequestLogLevel(zapcore.InfoLevel)}, ctrl)

	rec := serve(srv, http.MethodGet, "/me", nil, HeaderRequestID, "auth-1")
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, "Bearer", rec.Header().Get("WWW-Authenticate"))
	assert.Equal(t, "auth-1", rec.Header().Get(HeaderRequestID), "the server's headers are set before the middleware runs")
	assert.Zero(t, loads)
	lines := logsWith(logs, "http request")
	require.Len(t, lines, 1)
	assert.EqualValues(t, 401, lines[0].ContextMap()["status"], "the refusal is logged")
	assert.Equal(t, "GET /me", lines[0].ContextMap()["route"])

	rec = serve(srv, http.MethodGet, "/me", nil, "Authorization", "Bearer s3cret")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"user":"user-7","same":true}`, rec.Body.String(), "Load sees the middleware's context")
}

// gzipped is a middleware that compresses the response, as real ones
// wrap the ResponseWriter.
func gzipped(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		defer func() { _ = zw.Close() }()
		next.ServeHTTP(&gzipWriter{ResponseWriter: w, zw: zw}, r)
	})
}

type gzipWriter struct {
	http.ResponseWriter
	zw *gzip.Writer
}

func (g *gzipWriter) Write(b []byte) (int, error) { return g.zw.Write(b) }

func gunzip(t *testing.T, body io.Reader) string {
	t.Helper()
	zr, err := gzip.NewReader(body)
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	return string(b)
}

func TestWrappingMiddlewareSeesEveryAnswer(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, []Option{WithMiddleware(gzipped)}, ordersController{})

	rec := serve(srv, http.MethodGet, "/orders/7", nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"order":"7"}`, gunzip(t, rec.Body))

	rec = serve(srv, http.MethodGet, "/nowhere", nil, HeaderRequestID, "gz-1")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Contains(t, gunzip(t, rec.Body), `"request_id":"gz-1"`, "the router's 404 goes through the middleware")

	rec = serve(srv, http.MethodDelete, "/orders/7", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	assert.Contains(t, gunzip(t, rec.Body), `"status":405`)

	rec = postJSON(srv, "/orders/7/create", `{`)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, gunzip(t, rec.Body), `"detail":"request body is not valid JSON: it ends too early"`)
}

func TestMiddlewarePanicIsRecovered(t *testing.T) {
	t.Parallel()
	boom := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Encoding", "br")
			panic("middleware bug")
		})
	}
	srv, logs := newServer(t, nil, []Option{WithMiddleware(boom)}, &static{route: "GET /x", data: 1})
	rec := serve(srv, http.MethodGet, "/x", nil)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Empty(t, rec.Header().Get("Content-Encoding"))
	problemOf(t, rec)
	assert.Len(t, logsWith(logs, "panic in http handler"), 1)
}

func TestControllerMiddlewareMistakes(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil)
	err := srv.Mount(&guarded{loader: loader{route: "GET /a"}, mws: []Middleware{nil}})
	require.ErrorIs(t, err, ErrInvalidRoute)
	assert.Contains(t, err.Error(), "middleware 0")
}

func TestCrossOriginProtection(t *testing.T) {
	t.Parallel()
	var calls int
	ctrl := &loader{route: "GET /orders/{id}", actions: []*ActionHandler{
		Action("cancel", func(context.Context, *Request, struct{}) (any, error) {
			calls++
			return nil, nil
		}),
	}}
	srv, _ := newServer(t, nil, nil, ctrl)
	tests := []struct {
		name    string
		headers []string
		want    int
	}{
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, 403},
		{"same-site other origin", []string{"Sec-Fetch-Site", "same-site", "Origin", "https://sub.example.com"}, 403},
		{"old browser, other origin", []string{"Origin", "https://evil.example"}, 403},
		{"same origin", []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://example.com"}, 204},
		{"old browser, same origin", []string{"Origin", "http://example.com"}, 204},
		{"not a browser", nil, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := postJSON(srv, "http://example.com/orders/7/cancel", `{}`, tt.headers...)
			assert.Equal(t, tt.want, rec.Code)
			if tt.want == http.StatusForbidden {
				assert.Equal(t, "cross-origin request refused", problemOf(t, rec).Detail)
			}
		})
	}
	assert.Equal(t, 3, calls, "a refused request never reaches the action")

	rec := serve(srv, http.MethodGet, "/orders/7", nil, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusOK, rec.Code, "safe methods pass")
}

func TestCrossOriginProtectionOptions(t *testing.T) {
	t.Parallel()
	trusting := http.NewCrossOriginProtection()
	require.NoError(t, trusting.AddTrustedOrigin("https://app.example"))
	for _, tt := range []struct {
		name   string
		give   Option
		origin string
		want   int
	}{
		{"trusted origin", WithCrossOriginProtection(trusting), "https://app.example", 200},
		{"untrusted origin", WithCrossOriginProtection(trusting), "https://evil.example", 403},
		{"turned off", WithCrossOriginProtection(nil), "https://evil.example", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, nil, []Option{tt.give})
			require.NoError(t, srv.Handle("POST /hook", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
			rec := serve(srv, http.MethodPost, "/hook", strings.NewReader("x"), "Sec-Fetch-Site", "cross-site", "Origin", tt.origin)
			assert.Equal(t, tt.want, rec.Code)
		})
	}
}
