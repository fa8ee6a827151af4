package controllers

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/sprag"
)

// The tests of this file hold promises of the package's documentation
// that no other test held, or held loosely.

// TestRequestLogLevelBounds: a request log level whose lines panic or end
// the process (zap's dpanic, panic and fatal) is an invalid option, not a
// panic on every request.
func TestRequestLogLevelBounds(t *testing.T) {
	t.Parallel()
	for _, level := range []zapcore.Level{zapcore.DPanicLevel, zapcore.PanicLevel, zapcore.FatalLevel, zapcore.DebugLevel - 1, zapcore.Level(42)} {
		srv, err := NewServer(nil, WithRequestLogLevel(level))
		require.ErrorIs(t, err, ErrInvalidOption, "%v", level)
		assert.Nil(t, srv)
		assert.Contains(t, err.Error(), WithRequestLogLevel(level).String())
	}
	for _, level := range []zapcore.Level{zapcore.DebugLevel, zapcore.InfoLevel, zapcore.WarnLevel, zapcore.ErrorLevel} {
		srv, logs := newServer(t, nil, []Option{WithRequestLogLevel(level)})
		require.NotPanics(t, func() { serve(srv, http.MethodGet, "/nowhere", nil) })
		lines := logsWith(logs, "http request")
		require.Len(t, lines, 1, "%v", level)
		assert.Equal(t, level, lines[0].Level)
	}
}

// TestEveryLoadAnswerVariesOnAccept: "Load responses carry Vary: Accept",
// whatever Load returned, a panic included, and so do the answers to a
// browser's form post.
func TestEveryLoadAnswerVariesOnAccept(t *testing.T) {
	t.Parallel()
	ctrl := &loader{route: "GET /v/{kind}", load: func(_ context.Context, r *Request) (any, error) {
		switch r.PathValue("kind") {
		case "http-error":
			return nil, NewError(http.StatusNotFound, "no such thing")
		case "error":
			return nil, errors.New("disk full")
		case "redirect":
			return nil, Redirect(http.StatusPermanentRedirect, "/v/data")
		case "unencodable":
			return make(chan int), nil
		case "panic":
			panic("boom")
		}
		return map[string]int{"n": 1}, nil
	}, actions: []*ActionHandler{Action("explode", func(context.Context, *Request, struct{}) (any, error) {
		panic("boom")
	})}}
	srv, _ := newServer(t, nil, nil, ctrl)
	tests := []struct {
		kind string
		want int
	}{
		{"data", http.StatusOK},
		{"http-error", http.StatusNotFound},
		{"error", http.StatusInternalServerError},
		{"redirect", http.StatusPermanentRedirect},
		{"unencodable", http.StatusInternalServerError},
		{"panic", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		for _, accept := range []string{"application/json", browserAccept} {
			rec := serve(srv, http.MethodGet, "/v/"+tt.kind, nil, "Accept", accept)
			require.Equal(t, tt.want, rec.Code, "%s, Accept: %s", tt.kind, accept)
			assert.Equal(t, []string{"Accept"}, rec.Header()["Vary"], "%s, Accept: %s", tt.kind, accept)
		}
	}
	rec := serve(srv, http.MethodGet, "/v/redirect", nil)
	assert.Equal(t, "/v/data", rec.Header().Get("Location"), "a 308 is a redirect too")

	rec = postForm(srv, "/v/x/explode", "", "Accept", browserAccept)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, contentTypeHTML, rec.Header().Get("Content-Type"), "a browser's form post gets the error page")
	assert.Equal(t, []string{"Accept"}, rec.Header()["Vary"])
}

// TestActionRefusesATopLevelNull: a JSON body is decoded strictly, and a
// top-level null is a value of the wrong type for a struct, a map or a
// slice, which it would otherwise leave empty; a pointer or an interface
// takes it as nil.
func TestActionRefusesATopLevelNull(t *testing.T) {
	t.Parallel()
	nilness := func(v any) (any, error) { return map[string]bool{"nil": isNil(v)}, nil }
	ctrl := &loader{route: "GET /n", actions: []*ActionHandler{
		Action("empty", func(context.Context, *Request, struct{}) (any, error) { return nil, nil }),
		Action("validated", func(context.Context, *Request, orderForm) (any, error) { return nil, nil }),
		Action("map", func(_ context.Context, _ *Request, in map[string]int) (any, error) { return in, nil }),
		Action("list", func(_ context.Context, _ *Request, in []int) (any, error) { return in, nil }),
		Action("pointer", func(_ context.Context, _ *Request, in *int) (any, error) { return nilness(in) }),
		Action("any", func(_ context.Context, _ *Request, in any) (any, error) { return nilness(in) }),
	}}
	srv, logs := newServer(t, nil, nil, ctrl)
	for action, detail := range map[string]string{
		"empty":     "request body must be a JSON object",
		"validated": "request body must be a JSON object",
		"map":       "request body must be a JSON object",
		"list":      "request body must be an array",
	} {
		rec := postJSON(srv, "/n/"+action, " null ")
		assert.Equal(t, http.StatusBadRequest, rec.Code, action)
		p := problemOf(t, rec)
		assert.Equal(t, detail, p.Detail, action)
		assert.Empty(t, p.Errors, action)
	}
	for _, action := range []string{"pointer", "any"} {
		rec := postJSON(srv, "/n/"+action, "null")
		require.Equal(t, http.StatusOK, rec.Code, action)
		assert.JSONEq(t, `{"nil":true}`, rec.Body.String(), action)
	}
	assert.Equal(t, http.StatusNoContent, postJSON(srv, "/n/empty", "{}").Code)
	rec := postJSON(srv, "/n/list", "[1,2]")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, "[1,2]", rec.Body.String())
	rec = postJSON(srv, "/n/pointer", "7")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"nil":false}`, rec.Body.String())
	assert.Empty(t, logsWith(logs, "request failed"))
}

// TestMiddlewareThatPanicsOrReturnsNilIsAnError: Mount and NewServer never
// panic, also when a middleware panics as they call it, and a middleware
// that returns a nil handler is refused there rather than turning every
// request into a 500.
func TestMiddlewareThatPanicsOrReturnsNilIsAnError(t *testing.T) {
	t.Parallel()
	panics := func(http.Handler) http.Handler { panic("cannot wrap") }
	returnsNil := func(http.Handler) http.Handler { return nil }

	srv := newServerForTest(t)
	before := srv.Routes()
	var err error
	require.NotPanics(t, func() {
		err = srv.Mount(&guarded{loader: loader{route: "GET /a"}, mws: []Middleware{passThrough, panics}})
	})
	var pe *sprag.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "cannot wrap", pe.Value)
	assert.Contains(t, err.Error(), "mount controller *controllers.guarded: middleware 1")

	require.NotPanics(t, func() {
		err = srv.Mount(&guarded{loader: loader{route: "GET /b", actions: []*ActionHandler{Action("go", noop)}}, mws: []Middleware{returnsNil}})
	})
	require.ErrorIs(t, err, ErrInvalidRoute)
	assert.Contains(t, err.Error(), "mount controller *controllers.guarded")
	assert.Contains(t, err.Error(), "middleware 0")
	assert.Contains(t, err.Error(), "returned a nil handler")
	assert.Equal(t, before, srv.Routes(), "nothing is mounted")
	assert.Equal(t, http.StatusNotFound, serve(srv, http.MethodGet, "/b", nil).Code)

	for name, mw := range map[string]Middleware{"panics": panics, "returns nil": returnsNil} {
		var s *Server
		require.NotPanics(t, func() { s, err = NewServer(nil, WithMiddleware(passThrough), WithMiddleware(mw)) }, name)
		require.ErrorIs(t, err, ErrInvalidOption, name)
		assert.Nil(t, s, name)
		assert.Contains(t, err.Error(), "controllers.WithMiddleware(", name)
		assert.Contains(t, err.Error(), "middleware 1", name)
	}
}

// TestLoadSeesNoFormWhenItsPageIsRenderedAgain: Request.Form is nil in
// Load, also when Load renders the page again for a refused form post,
// and Load's ctx is its Request's Context there too, though the action
// ran in a span of its own.
func TestLoadSeesNoFormWhenItsPageIsRenderedAgain(t *testing.T) {
	t.Parallel()
	k := newTelemetryKit(t) // so that the action's context differs from the request's
	type seen struct {
		form    url.Values
		sameCtx bool
	}
	var got []seen
	page := &loader{route: "GET /s", load: func(ctx context.Context, r *Request) (any, error) {
		got = append(got, seen{form: r.Form(), sameCtx: ctx == r.Context()})
		return 1, nil
	}, actions: []*ActionHandler{Action("order", func(context.Context, *Request, orderForm) (any, error) { return nil, nil })}}
	srv, _ := newServer(t, nil, k.options(), page)

	rec := postForm(srv, "/s/order", "email=nope&qty=1", "Accept", browserAccept)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "<li>email: must be a valid email address</li>", "the page has the form")
	require.Len(t, got, 1)
	assert.Nil(t, got[0].form)
	assert.True(t, got[0].sameCtx)
}

// TestFormNamesAreBoundedInDepth: a form field's name of more than 32
// steps is an unknown name, refused at once rather than built into a
// document as deep, also for an input that takes any name.
func TestFormNamesAreBoundedInDepth(t *testing.T) {
	t.Parallel()
	ctrl := &loader{route: "GET /d", actions: []*ActionHandler{
		Action("go", func(context.Context, *Request, map[string]any) (any, error) { return nil, nil }),
	}}
	srv, _ := newServer(t, nil, nil, ctrl)
	deep := func(steps int) string { return "a" + strings.Repeat(".a", steps-1) }

	assert.Equal(t, http.StatusNoContent, postForm(srv, "/d/go", deep(32)+"=1").Code)
	for _, name := range []string{deep(33), deep(200_000), "l" + strings.Repeat("[0]", 40)} {
		rec := postForm(srv, "/d/go", name+"=1")
		require.Equal(t, http.StatusBadRequest, rec.Code)
		assert.Equal(t, []FieldError{{Field: name, Rule: "unknown", Message: "is not a known field"}}, problemOf(t, rec).Errors)
	}
}

// TestReadyzWarnsWhileDraining: while the server drains, /readyz answers
// 503 without a "not ready" warning for the stopping server itself, but a
// probe that finds another service unhealthy still logs why.
func TestReadyzWarnsWhileDraining(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		reg := sprag.NewRegistry()
		srv, logs := newServer(t, reg, []Option{WithDrainDelay(10 * time.Second)})
		ln := newMemListener()
		srv.listen = ln.listen
		rt := sprag.NewRuntime(nil)
		require.NoError(t, sprag.Bind(srv, "http", rt))
		require.NoError(t, reg.Provide("http", srv))
		db := &testService{}
		require.NoError(t, sprag.Bind(db, "db", rt))
		require.NoError(t, reg.Provide("db", db))
		require.NoError(t, db.Start(context.Background()))
		require.NoError(t, srv.Start(context.Background()))
		require.Equal(t, http.StatusOK, serve(srv, http.MethodGet, "/readyz", nil).Code)

		stopped := make(chan error, 1)
		go func() { stopped <- srv.Stop(context.Background()) }()
		synctest.Wait() // draining

		// From here on, assert rather than require: the stop must be
		// waited for, or the bubble would end with it blocked.
		rec := serve(srv, http.MethodGet, "/readyz", nil)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		body := decodeJSON[Readiness](t, rec.Body.Bytes())
		assert.True(t, body.Draining)
		assert.Equal(t, []string{"http"}, body.NotReady)
		assert.Empty(t, logsWith(logs, "not ready"), "the stopping server is expected not to be ready")

		db.healthErr = errors.New("ping 10.0.0.7: timeout") // read by the next probe, on this goroutine
		rec = serve(srv, http.MethodGet, "/readyz", nil, HeaderRequestID, "drain-1")
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Equal(t, []string{"http", "db"}, decodeJSON[Readiness](t, rec.Body.Bytes()).NotReady)
		assert.NotContains(t, rec.Body.String(), "10.0.0.7")
		warnings := logsWith(logs, "not ready")
		if assert.Len(t, warnings, 1, "a problem found while draining is logged") {
			fields := warnings[0].ContextMap()
			assert.Equal(t, "db", fields["services"])
			assert.Equal(t, "drain-1", fields["request_id"])
			assert.Contains(t, fields["error"], "10.0.0.7")
		}

		time.Sleep(10 * time.Second)
		require.NoError(t, <-stopped)
		require.NoError(t, db.Stop(context.Background()))
	})
}

// TestServerMiddlewareAnswerHasNoRoute: the server's middleware runs
// before the router, so its own answer is logged and measured without a
// route; a controller's middleware runs once the route is matched.
func TestServerMiddlewareAnswerHasNoRoute(t *testing.T) {
	t.Parallel()
	deny := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	}
	srv, logs := newServer(t, nil, []Option{WithMiddleware(deny)}, &static{route: "GET /x", data: 1})
	assert.Equal(t, http.StatusUnauthorized, serve(srv, http.MethodGet, "/x", nil).Code)
	lines := logsWith(logs, "http request")
	require.Len(t, lines, 1)
	assert.EqualValues(t, http.StatusUnauthorized, lines[0].ContextMap()["status"])
	assert.Empty(t, lines[0].ContextMap()["route"])
}

// TestMaxHeaderBytesReadAhead holds the documented bound of
// WithMaxHeaderBytes: net/http refuses with 431 once the request line and
// headers are over the limit by more than the 4 KiB it reads ahead.
func TestMaxHeaderBytesReadAhead(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")})
	base, client := startHTTP(t, srv)
	for size, want := range map[int]int{
		DefaultMaxHeaderBytes - 1024: http.StatusOK,
		DefaultMaxHeaderBytes + 1024: http.StatusOK, // within net/http's read-ahead
		DefaultMaxHeaderBytes + 8192: http.StatusRequestHeaderFieldsTooLarge,
	} {
		req, err := http.NewRequest(http.MethodGet, base+"/healthz", nil)
		require.NoError(t, err)
		req.Header.Set("X-Big", strings.Repeat("b", size))
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, want, resp.StatusCode, "a header of %d bytes", size)
	}
}

// TestOversizedBodyClosesTheConnection holds the hardening table: a body
// over the limit gets 413 from an action and a *http.MaxBytesError in a
// raw handler, and the connection is closed after it, also when a
// declared Content-Length is refused unread, rather than kept after
// net/http reads and discards the body.
func TestOversizedBodyClosesTheConnection(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0"), WithBodyLimit(64)}, ordersController{})
	rawErr := make(chan error, 1)
	require.NoError(t, srv.Handle("POST /raw", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		rawErr <- err
		w.WriteHeader(http.StatusOK)
	})))
	startService(t, nil, "http", srv, srv)
	tr := &http.Transport{} // keeps connections alive, unless the server says otherwise
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	type answer struct {
		StatusCode int
		Close      bool // the server closes the connection after it
	}
	post := func(path, contentType string, body io.Reader) answer {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+srv.Addr()+path, body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", contentType)
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return answer{StatusCode: resp.StatusCode, Close: resp.Close}
	}
	big := strings.Repeat(" ", 100) + "{}"

	resp := post("/orders/7/archive", "application/json", strings.NewReader(`{}`))
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.False(t, resp.Close, "a body within the limit keeps the connection")

	resp = post("/orders/7/archive", "application/json", strings.NewReader(big))
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.True(t, resp.Close, "a declared length over the limit")

	resp = post("/orders/7/archive", "application/json", io.MultiReader(strings.NewReader(big))) // chunked
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.True(t, resp.Close, "a chunked body over the limit")

	resp = post("/orders/7/create", "application/x-www-form-urlencoded", strings.NewReader("customer_email="+strings.Repeat("a", 100)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.True(t, resp.Close, "a form over the limit")

	resp = post("/raw", "text/plain", strings.NewReader(big))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, resp.Close, "a raw handler that read past the limit")
	var tooLarge *http.MaxBytesError
	require.ErrorAs(t, <-rawErr, &tooLarge)
	assert.Equal(t, int64(64), tooLarge.Limit)
}

// TestStreamAuthorizeRedirectOrError: the hook's Redirect is answered as
// a redirect, and any other error as a logged 500 that says nothing of
// it, as Load's errors are.
func TestStreamAuthorizeRedirectOrError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, nil, func(s *Server) {
			_, err := s.Stream("/events", Forward("x"), StreamAuthorize(func(r *Request, _ []string) ([]string, error) {
				if r.Header().Get("X-Who") == "" {
					return nil, Redirect(http.StatusSeeOther, "/login")
				}
				return nil, errors.New("directory ldap://10.0.0.1: down")
			}))
			require.NoError(t, err)
		})
		client := memClient(m.ln)
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		req, err := http.NewRequest(http.MethodGet, "http://mem/events", nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, "/login", resp.Header.Get("Location"))

		got := m.request(t, "/events", "X-Who", "ada", HeaderRequestID, "auth-9")
		assert.Equal(t, http.StatusInternalServerError, got.StatusCode)
		assert.JSONEq(t, `{"type":"about:blank","title":"Internal Server Error","status":500,"instance":"/events","request_id":"auth-9"}`, got.Body)
		failures := logsWith(m.logs, "request failed")
		require.Len(t, failures, 1)
		assert.Equal(t, "GET /events", failures[0].ContextMap()["route"])
		assert.Equal(t, "auth-9", failures[0].ContextMap()["request_id"])
		assert.Contains(t, failures[0].ContextMap()["error"], "ldap://10.0.0.1")
		assert.Zero(t, m.StreamStats()[0].Clients)
	})
}

// TestStreamHeartbeatZeroSendsNone: StreamHeartbeat(0) sends no
// heartbeat, however long the stream is silent.
func TestStreamHeartbeatZeroSendsNone(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, nil, func(s *Server) {
			_, err := s.Stream("/events", Forward("tick"), StreamHeartbeat(0))
			require.NoError(t, err)
		})
		stream := m.open(t, "/events")
		events := stream.all(10)
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Empty(t, events, "an hour of silence and no heartbeat")
		m.emit(t, "tick", 1)
		synctest.Wait()
		assert.Equal(t, "1", (<-events).data)
		require.NoError(t, stream.resp.Body.Close())
	})
}

// TestStreamGapIDContinuesTheStream: a gap marker's id is that of the
// last event skipped, so that a client that reconnects with it continues
// after the marker: for an id of another run, the newest event when the
// client connected; for a client that resumed too far back, the last
// event the buffer no longer held.
func TestStreamGapIDContinuesTheStream(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var st *Stream
		m := startMem(t, nil, func(s *Server) {
			var err error
			st, err = s.Stream("/events", Forward("tick"), StreamBuffer(4))
			require.NoError(t, err)
		})
		m.emit(t, "tick", 1)
		m.emit(t, "tick", 2)
		synctest.Wait()
		run := strings.TrimSuffix(st.LastEventID(), "-2")

		unknown := m.open(t, "/events", "Last-Event-ID", "ZZZZZZZZ-1")
		synctest.Wait()
		m.emit(t, "tick", 3)
		gap := unknown.mustNext(t)
		assert.Equal(t, StreamGapEvent, gap.name)
		assert.JSONEq(t, `{"reason":"unknown_id"}`, gap.data)
		assert.Equal(t, run+"-2", gap.id, "the newest event when it connected")
		assert.Equal(t, sseEvent{id: run + "-3", name: "tick", data: "3"}, unknown.mustNext(t))

		again := m.open(t, "/events", "Last-Event-ID", gap.id)
		assert.Equal(t, sseEvent{id: run + "-3", name: "tick", data: "3"}, again.mustNext(t), "continues after the marker, with no gap")

		for i := 4; i <= 10; i++ {
			m.emit(t, "tick", i)
		}
		synctest.Wait() // the buffer holds events 7 to 10
		lagged := m.open(t, "/events", "Last-Event-ID", run+"-2")
		gap = lagged.mustNext(t)
		assert.JSONEq(t, `{"reason":"lagged","missed":4}`, gap.data)
		assert.Equal(t, run+"-6", gap.id, "the last event skipped")
		assert.Equal(t, "7", lagged.mustNext(t).data)
	})
}

// TestNetHTTPErrorLogAndStartLine: the "http server listening" line names
// the address and counts the routes, and what net/http itself reports
// goes to the server's logger at warn level, with the address.
func TestNetHTTPErrorLogAndStartLine(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, nil, func(s *Server) {
			require.NoError(t, s.Handle("GET /bad-length", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "many")
				_, _ = w.Write([]byte("x"))
			})))
		})
		listening := logsWith(m.logs, "http server listening")
		require.Len(t, listening, 1)
		assert.Equal(t, "mem:80", listening[0].ContextMap()["addr"])
		assert.EqualValues(t, len(m.Routes()), listening[0].ContextMap()["routes"])

		got := m.request(t, "/bad-length")
		assert.Equal(t, http.StatusOK, got.StatusCode)
		var reports []string
		for _, e := range m.logs.FilterMessageSnippet("http: invalid Content-Length").AllUntimed() {
			assert.Equal(t, zapcore.WarnLevel, e.Level)
			assert.Equal(t, "mem:80", e.ContextMap()["addr"])
			reports = append(reports, e.Message)
		}
		assert.Len(t, reports, 1)
	})
}

// TestTimeoutsCutSlowClientsAndLongLoads: a client that trickles its
// headers is cut at the read header timeout, with no response, and a Load
// that runs past the write timeout has its response cut.
func TestTimeoutsCutSlowClientsAndLongLoads(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		slow := &loader{route: "GET /sleep/{d}", load: func(_ context.Context, r *Request) (any, error) {
			d, err := time.ParseDuration(r.PathValue("d"))
			if err != nil {
				return nil, NewError(http.StatusBadRequest, "not a duration")
			}
			time.Sleep(d)
			return "done", nil
		}}
		srv, _ := newServer(t, nil, []Option{WithReadHeaderTimeout(2 * time.Second), WithWriteTimeout(5 * time.Second)}, slow)
		ln := newMemListener()
		srv.listen = ln.listen
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
		require.NoError(t, srv.Start(context.Background()))
		client := memClient(ln)

		conn, err := ln.dial(context.Background(), "tcp", "mem:80")
		require.NoError(t, err)
		began := time.Now()
		_, err = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: mem\r\n")) // and no more
		require.NoError(t, err)
		reply, err := io.ReadAll(conn)
		require.NoError(t, err, "the server closes the connection")
		assert.Empty(t, reply, "without a response")
		assert.Equal(t, 2*time.Second, time.Since(began))
		require.NoError(t, conn.Close())

		status, err := get(client, "/sleep/4s")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status, "within the write timeout")
		_, err = get(client, "/sleep/6s")
		require.Error(t, err, "past the write timeout, the response is cut")

		require.NoError(t, srv.Stop(context.Background()))
	})
}

// TestLoadContextEndsWhenTheServerShutsDown: Load's ctx ends when the
// server is shut down: at the stop's deadline, for a Load still running.
func TestLoadContextEndsWhenTheServerShutsDown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ended := make(chan time.Duration, 1)
		var began time.Time
		waits := &loader{route: "GET /wait", load: func(ctx context.Context, _ *Request) (any, error) {
			<-ctx.Done()
			ended <- time.Since(began)
			return nil, ctx.Err()
		}}
		srv, _ := newServer(t, nil, nil, waits)
		ln := newMemListener()
		srv.listen = ln.listen
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
		require.NoError(t, srv.Start(context.Background()))
		answered := make(chan error, 1)
		go func() {
			_, err := get(memClient(ln), "/wait")
			answered <- err
		}()
		synctest.Wait() // the request is in Load

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		began = time.Now()
		_ = srv.Stop(ctx) // the deadline's error is TestShutdownDeadlineClosesConnections's subject
		assert.Equal(t, 5*time.Second, <-ended, "Load's ctx ends at the stop's deadline")
		// The service's context and the connection end at the same
		// instant: the client may get Load's 500 or a closed connection.
		if err := <-answered; err != nil {
			t.Logf("the client got no response: %v", err)
		}
		<-srv.Done()
	})
}

// TestPageRouteAndDefaultTitle: Page.Route is the pattern that matched,
// "" for the router's 404 and 405, and Page.Title is DefaultTitle without
// WithTitle.
func TestPageRouteAndDefaultTitle(t *testing.T) {
	t.Parallel()
	shell := template.Must(template.New("t").Parse(`{{.Title}}|{{.Route}}|{{.Status}}|{{.RequestID}}`))
	srv, _ := newServer(t, nil, []Option{WithShell(shell)}, &static{route: "GET /x/{id}", data: 1})
	for path, want := range map[string]string{
		"/x/7":     DefaultTitle + "|GET /x/{id}|200|r-1",
		"/nowhere": DefaultTitle + "||404|r-1",
	} {
		rec := serve(srv, http.MethodGet, path, nil, "Accept", browserAccept, HeaderRequestID, "r-1")
		assert.Equal(t, want, rec.Body.String(), path)
	}
	rec := serve(srv, http.MethodDelete, "/x/7", nil, "Accept", browserAccept, HeaderRequestID, "r-1")
	assert.Equal(t, DefaultTitle+"||405|r-1", rec.Body.String())
	assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	assert.Equal(t, "sprag", DefaultTitle)
}

// TestStreamOptionStrings: a stream option prints as it is written in Go.
func TestStreamOptionStrings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		give StreamOption
		want string
	}{
		{ForwardTopic(orderShipped), `controllers.ForwardTopic("order:shipped")`},
		{ForwardTopic[int](nil), "controllers.ForwardTopic(nil)"},
		{Forward(), "controllers.Forward()"},
		{Forward("a", "b:*"), `controllers.Forward("a", "b:*")`},
		{StreamAuthorize(func(*Request, []string) ([]string, error) { return nil, nil }), "controllers.StreamAuthorize()"},
		{StreamBuffer(0), "controllers.StreamBuffer(0)"},
		{StreamHeartbeat(0), "controllers.StreamHeartbeat(0s)"},
	} {
		assert.Equal(t, tt.want, tt.give.String())
		assert.Equal(t, tt.want, fmt.Sprint(tt.give))
	}
}

// TestFailedHandleKeepsTheServerFromStarting: a failed Handle, like a
// failed Mount, keeps the server from starting.
func TestFailedHandleKeepsTheServerFromStarting(t *testing.T) {
	t.Parallel()
	srv := newServerForTest(t)
	handleErr := srv.Handle("GET /{", http.NotFoundHandler())
	require.ErrorIs(t, handleErr, ErrInvalidRoute)
	require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
	err := srv.Start(context.Background())
	require.ErrorIs(t, err, ErrInvalidRoute)
	assert.Contains(t, err.Error(), `route "GET /{"`)
	assert.Equal(t, sprag.Failed, srv.State())
	assert.NoError(t, srv.Stop(context.Background()))
}

// TestServerMiddlewareIsBuiltOnce: "Each middleware is called once, when
// NewServer builds the server", not per request nor per Mount.
func TestServerMiddlewareIsBuiltOnce(t *testing.T) {
	t.Parallel()
	var built, ran int
	mw := func(next http.Handler) http.Handler {
		built++
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran++
			next.ServeHTTP(w, r)
		})
	}
	srv, _ := newServer(t, nil, []Option{WithMiddleware(mw)})
	assert.Equal(t, 1, built)
	require.NoError(t, srv.Mount(&static{route: "GET /a", data: 1}))
	for range 3 {
		serve(srv, http.MethodGet, "/a", nil)
	}
	assert.Equal(t, 1, built)
	assert.Equal(t, 3, ran)
}

// ctxService is a service whose Health records the request id of its
// context.
type ctxService struct {
	sprag.Service
	mu   sync.Mutex
	seen []string
	err  error
}

func (s *ctxService) Health(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, RequestID(ctx))
	return s.err
}

// TestReadyzCallsHealthWithTheRequestContext: each /readyz calls Health
// with the request's context, and its "not ready" warning carries the
// request id.
func TestReadyzCallsHealthWithTheRequestContext(t *testing.T) {
	t.Parallel()
	reg := sprag.NewRegistry()
	svc := &ctxService{err: errors.New("queue: broker 10.0.0.3 unreachable")}
	startService(t, reg, "queue", svc, svc)
	srv, logs := newServer(t, reg, nil)
	rec := serve(srv, http.MethodGet, "/readyz", nil, HeaderRequestID, "probe-1")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	svc.mu.Lock()
	assert.Contains(t, svc.seen, "probe-1")
	svc.mu.Unlock()
	warnings := logsWith(logs, "not ready")
	require.Len(t, warnings, 1)
	assert.Equal(t, zapcore.WarnLevel, warnings[0].Level)
	assert.Equal(t, "probe-1", warnings[0].ContextMap()["request_id"])
	assert.Equal(t, "queue", warnings[0].ContextMap()["services"])
}

// TestCrossOriginRefusedBeforeMiddleware: a cross-origin state-changing
// request is refused before any middleware runs.
func TestCrossOriginRefusedBeforeMiddleware(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	ctrl := &guarded{loader: loader{route: "GET /o", actions: []*ActionHandler{Action("go", noop)}}, mws: []Middleware{rec.mw("c")}}
	srv, _ := newServer(t, nil, []Option{WithMiddleware(rec.mw("s"))}, ctrl)
	resp := postJSON(srv, "/o/go", `{}`, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, resp.Code)
	assert.Empty(t, rec.take(), "no middleware ran")
	resp = postJSON(srv, "/o/go", `{}`)
	assert.Equal(t, http.StatusNoContent, resp.Code)
	assert.Equal(t, []string{"s>", "c>", "<c", "<s"}, rec.take())
}

// TestControllerWrappingMiddlewareSeesItsAnswers: a controller's
// middleware that wraps the ResponseWriter sees Load's and its actions'
// answers, problems included.
func TestControllerWrappingMiddlewareSeesItsAnswers(t *testing.T) {
	t.Parallel()
	ctrl := &guarded{loader: loader{route: "GET /z", load: func(context.Context, *Request) (any, error) {
		return map[string]int{"n": 1}, nil
	}, actions: []*ActionHandler{Action("go", func(context.Context, *Request, orderForm) (any, error) { return nil, nil })}},
		mws: []Middleware{gzipped}}
	srv, _ := newServer(t, nil, nil, ctrl)

	rec := serve(srv, http.MethodGet, "/z", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
	assert.Equal(t, "Accept", rec.Header().Get("Vary"))
	assert.JSONEq(t, `{"n":1}`, gunzip(t, rec.Body))

	rec = postJSON(srv, "/z/go", `{"email":"nope","qty":1}`, HeaderRequestID, "z-1")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, ContentTypeProblem, rec.Header().Get("Content-Type"))
	assert.Contains(t, gunzip(t, rec.Body), `"request_id":"z-1"`)
}

// TestHTTPErrorTitleWithoutType: an HTTPError's Title is sent whenever it
// is set; its Type defaults to about:blank.
func TestHTTPErrorTitleWithoutType(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil, &loader{route: "GET /t", load: func(context.Context, *Request) (any, error) {
		return nil, &HTTPError{Status: http.StatusConflict, Title: "Order locked"}
	}})
	rec := serve(srv, http.MethodGet, "/t", nil, HeaderRequestID, "t-1")
	assert.Equal(t, http.StatusConflict, rec.Code)
	assert.JSONEq(t, `{"type":"about:blank","title":"Order locked","status":409,"instance":"/t","request_id":"t-1"}`, rec.Body.String())
}

// brokenListener is a listener whose Accept fails, as one out of file
// descriptors would, once fail is closed.
type brokenListener struct {
	fail, closed chan struct{}
	once         sync.Once
}

func (l *brokenListener) listen(context.Context, string, string) (net.Listener, error) { return l, nil }

func (l *brokenListener) Accept() (net.Conn, error) {
	select {
	case <-l.fail:
		return nil, errors.New("accept: too many open files")
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *brokenListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *brokenListener) Addr() net.Addr { return memAddr{} }

// TestServingOnALabelledTask: requests are served on a task of the
// service, labelled "serve <addr>", so that a listener that fails is the
// service's failing task, logged as one, and the server's Health, and so
// /readyz, report it.
func TestServingOnALabelledTask(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		reg := sprag.NewRegistry()
		srv, _ := newServer(t, reg, nil)
		ln := &brokenListener{fail: make(chan struct{}), closed: make(chan struct{})}
		srv.listen = ln.listen
		core, logs := observer.New(zapcore.InfoLevel)
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(zap.New(core))))
		require.NoError(t, reg.Provide("http", srv))
		require.NoError(t, srv.Start(context.Background()))
		require.NoError(t, srv.Health(context.Background()))

		close(ln.fail)
		synctest.Wait()
		failed := logs.FilterMessage("task failed").AllUntimed()
		require.Len(t, failed, 1)
		fields := failed[0].ContextMap()
		assert.Equal(t, "serve mem:80", fields["label"])
		assert.Equal(t, "http", fields["service"])
		assert.Contains(t, fields["error"], "too many open files")
		err := srv.Health(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "http server on mem:80: serve: accept: too many open files")
		rec := serve(srv, http.MethodGet, "/readyz", nil)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.NotContains(t, rec.Body.String(), "too many open files")
		require.NoError(t, srv.Stop(context.Background()))
	})
}

// TestStreamListensOncePerTopic: a stream subscribes one bus listener per
// forwarded topic or pattern when the server starts, not one per client,
// and removes them when the server stops.
func TestStreamListensOncePerTopic(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv, _ := newServer(t, nil, nil)
		_, err := srv.Stream("/events", Forward("order:*", "metrics:collected"), ForwardTopic(orderShipped))
		require.NoError(t, err)
		ln := newMemListener()
		srv.listen = ln.listen
		rt := sprag.NewRuntime(nil)
		require.NoError(t, sprag.Bind(srv, "http", rt))
		assert.Zero(t, rt.Bus.Len(), "nothing before the start")
		require.NoError(t, srv.Start(context.Background()))
		assert.Equal(t, 3, rt.Bus.Len())

		m := &memServer{Server: srv, ln: ln, client: memClient(ln), bus: rt.Bus}
		for range 5 {
			m.open(t, "/events")
		}
		synctest.Wait()
		assert.Equal(t, int64(5), srv.StreamStats()[0].Clients)
		assert.Equal(t, 3, rt.Bus.Len(), "not one per client")

		require.NoError(t, srv.Stop(context.Background()))
		assert.Zero(t, rt.Bus.Len(), "removed at the stop")
		assert.Zero(t, srv.StreamStats()[0].Clients)
	})
}

// TestStreamDefaults: without options, a stream holds DefaultStreamBuffer
// events for resuming and sends a heartbeat after DefaultStreamHeartbeat
// of silence.
func TestStreamDefaults(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 256, DefaultStreamBuffer)
	assert.Equal(t, 15*time.Second, DefaultStreamHeartbeat)
	synctest.Test(t, func(t *testing.T) {
		var st *Stream
		m := startMem(t, nil, func(s *Server) {
			var err error
			st, err = s.Stream("/events", Forward("tick"))
			require.NoError(t, err)
		})
		first := st.LastEventID() // "<run>-0"
		for i := 1; i <= 300; i++ {
			m.emit(t, "tick", i)
		}
		synctest.Wait()
		resumed := m.open(t, "/events", "Last-Event-ID", strings.TrimSuffix(first, "0")+"1")
		assert.JSONEq(t, `{"reason":"lagged","missed":43}`, resumed.mustNext(t).data, "events 2 to 44 are no longer held")
		assert.Equal(t, "45", resumed.mustNext(t).data, "the buffer holds the last 256")

		quiet := m.open(t, "/events")
		events := quiet.all(10)
		time.Sleep(DefaultStreamHeartbeat - time.Nanosecond)
		synctest.Wait()
		assert.Empty(t, events)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, sseEvent{comment: "heartbeat"}, <-events)
		require.NoError(t, quiet.resp.Body.Close())
	})
}

// TestRequestQuery: Query drops malformed pairs and is parsed once, the
// same map on every call.
func TestRequestQuery(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil, &loader{route: "GET /q", load: func(_ context.Context, r *Request) (any, error) {
		q := r.Query()
		q2 := r.Query()
		return map[string]any{"query": q, "same": reflect.ValueOf(q).Pointer() == reflect.ValueOf(q2).Pointer()}, nil
	}})
	rec := serve(srv, http.MethodGet, "/q?a=%zz&b=1&b=2&c=x;y", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"query":{"b":["1","2"]},"same":true}`, rec.Body.String())
}

// TestValidatorNamesFieldsByJSON: WithValidator's tag-name function is
// replaced by the JSON names, and the default validator checks required
// structs.
func TestValidatorNamesFieldsByJSON(t *testing.T) {
	t.Parallel()
	type shipping struct {
		Ship address `json:"ship_to" validate:"required"`
		Note string  `json:"note" validate:"required"`
	}
	v := validator.New()
	v.RegisterTagNameFunc(func(f reflect.StructField) string { return "go_" + f.Name })
	action := func(context.Context, *Request, shipping) (any, error) { return nil, nil }

	srv, _ := newServer(t, nil, []Option{WithValidator(v)}, &loader{route: "GET /a", actions: []*ActionHandler{Action("go", action)}})
	rec := postJSON(srv, "/a/go", `{"ship_to":{"zip":"12345"}}`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, []FieldError{{Field: "note", Rule: "required", Message: "is required"}}, problemOf(t, rec).Errors,
		"the JSON name, not the validator's own tag-name function's")

	srv, _ = newServer(t, nil, nil, &loader{route: "GET /a", actions: []*ActionHandler{Action("go", action)}})
	rec = postJSON(srv, "/a/go", `{"note":"x"}`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, []FieldError{{Field: "ship_to", Rule: "required", Message: "is required"}}, problemOf(t, rec).Errors,
		"required-struct checks are enabled")
}

// TestLoadContextEndsWhenTheClientGoesAway: Load's ctx ends when the
// client goes away.
func TestLoadContextEndsWhenTheClientGoesAway(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ended := make(chan error, 1)
		waits := &loader{route: "GET /wait", load: func(ctx context.Context, _ *Request) (any, error) {
			<-ctx.Done()
			ended <- ctx.Err()
			return nil, ctx.Err()
		}}
		srv, _ := newServer(t, nil, nil, waits)
		ln := newMemListener()
		srv.listen = ln.listen
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
		require.NoError(t, srv.Start(context.Background()))

		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://mem/wait", nil)
		require.NoError(t, err)
		answered := make(chan error, 1)
		go func() {
			resp, err := memClient(ln).Do(req)
			if err == nil {
				err = errors.Join(fmt.Errorf("a response, status %d", resp.StatusCode), resp.Body.Close())
			}
			answered <- err
		}()
		synctest.Wait() // the request is in Load
		select {
		case err := <-ended:
			t.Fatalf("Load's ctx ended while the client waited: %v", err)
		default:
		}
		cancel()
		require.ErrorIs(t, <-answered, context.Canceled)
		require.ErrorIs(t, <-ended, context.Canceled, "the client went away")
		require.NoError(t, srv.Stop(context.Background()))
	})
}

// pathInput has members of every kind an unknown field can hide in.
type pathInput struct {
	Items []item            `json:"items"`
	Ship  *address          `json:"ship"`
	ByKey map[string]item   `json:"by_key"`
	ByID  map[int]item      `json:"by_id"`
	Any   any               `json:"any"`
	When  time.Time         `json:"when"`
	Tags  map[string]string `json:"tags"`
	Grid  [2][]item         `json:"grid"`
	N     int               `json:"n"`
	U8    uint8             `json:"u8"`
	F32   float32           `json:"f32"`
}

// TestUnknownFieldIsNamedByItsPath: FieldError.Field is the path of an
// unknown field as the client wrote it, also inside nested objects and
// arrays.
func TestUnknownFieldIsNamedByItsPath(t *testing.T) {
	t.Parallel()
	ctrl := &loader{route: "GET /p", actions: []*ActionHandler{
		Action("go", func(context.Context, *Request, pathInput) (any, error) { return nil, nil }),
	}}
	srv, _ := newServer(t, nil, nil, ctrl)
	for body, want := range map[string]string{
		`{"admin":true}`: "admin",
		`{"items":[{"sku":"A","qty":1},{"sku":"B","color":"red"}]}`:                     "items[1].color",
		`{"ship":{"zip":"12345","street":"x"}}`:                                         "ship.street",
		`{"by_key":{"a":{"sku":"A"},"b":{"sku":"B","size":2}}}`:                         "by_key.b.size",
		`{"by_id":{"7":{"colour":"red"}}}`:                                              "by_id.7.colour",
		`{"grid":[[],[{"sku":"A"},{"nope":1}]]}`:                                        "grid[1][1].nope",
		`{"any":{"free":{"form":1}},"when":"2026-01-02T03:04:05Z","x":1}`:               "x",
		`{"SHIP":{"ZIP":"12345"},"tags":{"any":"thing"},"items":[{"Sku":"A","bad":0}]}`: "items[0].bad",
	} {
		rec := postJSON(srv, "/p/go", body)
		require.Equal(t, http.StatusBadRequest, rec.Code, body)
		assert.Equal(t, []FieldError{{Field: want, Rule: "unknown", Message: "is not a known field"}}, problemOf(t, rec).Errors, body)
	}
	assert.Equal(t, http.StatusNoContent, postJSON(srv, "/p/go", `{"any":{"free":1},"SHIP":{"ZIP":"12345"},"by_id":{"1":{"sku":"x"}}}`).Code)

	// The walk agrees with encoding/json, or gives its name back.
	typ := reflect.TypeFor[pathInput]()
	assert.Equal(t, "ship.street", unknownFieldPath([]byte(`{"ship":{"street":1}}`), typ, "street"))
	assert.Equal(t, "other", unknownFieldPath([]byte(`{"ship":{"street":1}}`), typ, "other"), "a disagreement keeps the decoder's name")
	assert.Equal(t, "street", unknownFieldPath([]byte(`{"ship":{"zip":`), typ, "street"), "a document cut short keeps it too")
}

// TestNumberMessages: a number that does not fit its field says why:
// out of the type's range, or not a whole number for an integer.
func TestNumberMessages(t *testing.T) {
	t.Parallel()
	ctrl := &loader{route: "GET /p", actions: []*ActionHandler{
		Action("go", func(context.Context, *Request, pathInput) (any, error) { return nil, nil }),
	}}
	srv, _ := newServer(t, nil, nil, ctrl)
	for body, want := range map[string]FieldError{
		`{"n":1.5}`:               {Field: "n", Rule: "type", Message: "must be a whole number"},
		`{"n":1e2}`:               {Field: "n", Rule: "type", Message: "must be a whole number"},
		`{"n":1e40}`:              {Field: "n", Rule: "type", Message: "is out of range"},
		`{"n":-1e19}`:             {Field: "n", Rule: "type", Message: "is out of range"},
		`{"n":1e400}`:             {Field: "n", Rule: "type", Message: "is out of range"},
		`{"u8":300}`:              {Field: "u8", Rule: "type", Message: "is out of range"},
		`{"u8":-1}`:               {Field: "u8", Rule: "type", Message: "is out of range"},
		`{"u8":2.5}`:              {Field: "u8", Rule: "type", Message: "must be a whole number"},
		`{"f32":1e40}`:            {Field: "f32", Rule: "type", Message: "is out of range"},
		`{"items":[{"qty":0.5}]}`: {Field: "items.qty", Rule: "type", Message: "must be a whole number"},
		`{"n":"7"}`:               {Field: "n", Rule: "type", Message: "must be a number"},
	} {
		rec := postJSON(srv, "/p/go", body)
		require.Equal(t, http.StatusBadRequest, rec.Code, body)
		assert.Equal(t, []FieldError{want}, problemOf(t, rec).Errors, body)
	}
	rec := postForm(srv, "/p/go", "n=2.5")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, []FieldError{{Field: "n", Rule: "type", Message: "must be a whole number"}}, problemOf(t, rec).Errors, "a form the same")
}

// TestMiddlewareSeesTheServersStack: a middleware sees the request after
// the server's own stack has given it a request id, a span and a body
// limit.
func TestMiddlewareSeesTheServersStack(t *testing.T) {
	t.Parallel()
	k := newTelemetryKit(t)
	type seen struct {
		id      string
		traced  bool
		readErr error
	}
	var got seen
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			got = seen{id: RequestID(r.Context()), traced: trace.SpanContextFromContext(r.Context()).IsValid(), readErr: err}
			w.WriteHeader(http.StatusAccepted)
		})
	}
	srv, _ := newServer(t, nil, append(k.options(), WithBodyLimit(8), WithMiddleware(mw)))
	rec := serve(srv, http.MethodPost, "/any", strings.NewReader(strings.Repeat("x", 9)), HeaderRequestID, "mw-1")
	assert.Equal(t, http.StatusAccepted, rec.Code)
	assert.Equal(t, "mw-1", got.id)
	assert.True(t, got.traced)
	var tooLarge *http.MaxBytesError
	require.ErrorAs(t, got.readErr, &tooLarge)
}

// TestCrossOriginMethods: only state-changing methods are refused from
// another origin; GET, HEAD and OPTIONS pass.
func TestCrossOriginMethods(t *testing.T) {
	t.Parallel()
	srv := newServerForTest(t)
	require.NoError(t, srv.Handle("/any", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})))
	for method, want := range map[string]int{
		http.MethodGet: http.StatusAccepted, http.MethodHead: http.StatusAccepted, http.MethodOptions: http.StatusAccepted,
		http.MethodPost: http.StatusForbidden, http.MethodPut: http.StatusForbidden,
		http.MethodPatch: http.StatusForbidden, http.MethodDelete: http.StatusForbidden,
	} {
		rec := serve(srv, method, "/any", nil, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		assert.Equal(t, want, rec.Code, method)
	}
}

// TestRequestIsSafeForConcurrentUse: the Request's methods may be called
// by goroutines that Load starts and waits for.
func TestRequestIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	reg := sprag.NewRegistry()
	metrics := &testService{}
	startService(t, reg, "metrics", metrics, metrics)
	ctrl := &loader{route: "GET /c/{id}", load: func(_ context.Context, r *Request) (any, error) {
		var wg sync.WaitGroup
		results := make([]string, 8)
		for i := range results {
			wg.Go(func() {
				svc, err := Service[*testService](r, "metrics")
				results[i] = fmt.Sprint(r.PathValue("id"), r.Query().Get("q"), r.Header().Get("X-T"), r.ID(), r.Route(),
					r.WantsHTML(), r.Form() == nil, r.Context() != nil, svc == metrics, err)
			})
		}
		wg.Wait()
		for _, res := range results[1:] {
			if res != results[0] {
				return nil, fmt.Errorf("%q != %q", res, results[0])
			}
		}
		return results[0], nil
	}}
	srv, _ := newServer(t, reg, nil, ctrl)
	rec := serve(srv, http.MethodGet, "/c/7?q=x", nil, "X-T", "t", HeaderRequestID, "c-1")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `"7xtc-1GET /c/{id}false true true true \u003cnil\u003e"`, rec.Body.String())
}

// A stream whose route conflicts with another is named as a stream, not
// as a controller.
func TestPromiseStreamConflictNamesTheStream(t *testing.T) {
	t.Parallel()
	srv, err := NewServer(nil)
	require.NoError(t, err)
	require.NoError(t, srv.Handle("GET /events", http.NotFoundHandler()))
	_, err = srv.Stream("/events", Forward("t"))
	require.ErrorIs(t, err, ErrRouteConflict)
	assert.True(t, strings.HasPrefix(err.Error(), `add stream: stream "GET /events" conflicts with route "GET /events"`), err.Error())
}
