package controllers

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/sprag"
)

// browserAccept is what a browser sends when it navigates.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// loader is a controller made of a route, a Load function and actions.
type loader struct {
	route   string
	load    func(ctx context.Context, r *Request) (any, error)
	actions []*ActionHandler
}

func (c *loader) Route() string { return c.route }

func (c *loader) Load(ctx context.Context, r *Request) (any, error) {
	if c.load == nil {
		return nil, nil
	}
	return c.load(ctx, r)
}

func (c *loader) Actions() []*ActionHandler { return c.actions }

// static is a controller that returns fixed data; a second type, for
// errors that name two controllers.
type static struct {
	route string
	data  any
}

func (c *static) Route() string                               { return c.route }
func (c *static) Load(context.Context, *Request) (any, error) { return c.data, nil }

// testService is a sprag service whose health check returns healthErr.
type testService struct {
	sprag.Service
	healthErr error
}

func (s *testService) Health(context.Context) error { return s.healthErr }

// newServer returns a server that logs to an observer, with the
// controllers mounted.
func newServer(t *testing.T, reg *sprag.Registry, opts []Option, ctrls ...Controller) (*Server, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	srv, err := NewServer(reg, append([]Option{WithLogger(zap.New(core))}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, srv.Mount(ctrls...))
	return srv, logs
}

// serve sends one request through the server's handler. headers are
// name, value pairs.
func serve(srv http.Handler, method, target string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

// postJSON sends body to target as an action call.
func postJSON(srv http.Handler, target, body string, headers ...string) *httptest.ResponseRecorder {
	return serve(srv, http.MethodPost, target, strings.NewReader(body), append([]string{"Content-Type", "application/json"}, headers...)...)
}

// problemOf decodes an error response, a problem document, and checks
// what every one has.
func problemOf(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	require.Equal(t, ContentTypeProblem, rec.Header().Get("Content-Type"), "body: %s", rec.Body)
	var body Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), "body: %s", rec.Body)
	assert.Equal(t, rec.Code, body.Status)
	assert.Equal(t, ProblemTypeDefault, body.Type)
	assert.Equal(t, http.StatusText(rec.Code), body.Title)
	assert.NotEmpty(t, body.Instance)
	assert.Equal(t, rec.Header().Get(HeaderRequestID), body.RequestID)
	return body
}

// decodeJSON decodes a JSON response body into a T.
func decodeJSON[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(body, &v), "body: %s", body)
	return v
}

// startService binds and starts svc, registers it in reg, and stops it at
// the end of the test.
func startService(t *testing.T, reg *sprag.Registry, name string, svc sprag.Interface, stop interface {
	Start(context.Context) error
	Stop(context.Context) error
}) {
	t.Helper()
	require.NoError(t, sprag.Bind(svc, name, sprag.NewRuntime(nil)))
	require.NoError(t, stop.Start(context.Background()))
	if reg != nil {
		require.NoError(t, reg.Provide(name, svc))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, stop.Stop(ctx))
	})
}

// startHTTP starts srv as the service "http" and returns its base URL and
// a client that keeps no idle connections.
func startHTTP(t *testing.T, srv *Server) (string, *http.Client) {
	t.Helper()
	startService(t, nil, "http", srv, srv)
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return "http://" + srv.Addr(), &http.Client{Transport: tr}
}

// logsWith returns the entries with message msg.
func logsWith(logs *observer.ObservedLogs, msg string) []observer.LoggedEntry {
	return logs.FilterMessage(msg).AllUntimed()
}

// newRequest returns a JSON POST-style request with body.
func newRequest(method, target, body string) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// serveRequest sends req through the server's handler.
func serveRequest(srv http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

// newServerForTest returns a server with no controllers.
func newServerForTest(t *testing.T) *Server {
	t.Helper()
	srv, _ := newServer(t, nil, nil)
	return srv
}

// decodeBody decodes a client response's JSON body into v.
func decodeBody(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}
