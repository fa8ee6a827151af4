package controllers

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/sprag-go/sprag/sprag"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	srv := newServerForTest(t)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := serve(srv, method, "/healthz", nil)
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	}
	rec := serve(srv, http.MethodGet, "/healthz", nil)
	assert.Equal(t, Liveness{Status: "ok"}, decodeJSON[Liveness](t, rec.Body.Bytes()))
}

func TestReadyzEmptyRegistry(t *testing.T) {
	t.Parallel()
	rec := serve(newServerForTest(t), http.MethodGet, "/readyz", nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"ready":true,"services":[]}`, rec.Body.String())
}

func TestReadyzFollowsServices(t *testing.T) {
	t.Parallel()
	reg := sprag.NewRegistry()
	metrics := &testService{}
	require.NoError(t, sprag.Bind(metrics, "metrics", sprag.NewRuntime(nil)))
	require.NoError(t, reg.Provide("metrics", metrics))
	email := &testService{}
	startService(t, reg, "email", email, email)
	srv, logs := newServer(t, reg, nil)

	rec := serve(srv, http.MethodGet, "/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "a service that has not started is not ready")
	assert.Equal(t, []string{"metrics"}, decodeJSON[Readiness](t, rec.Body.Bytes()).NotReady)

	require.NoError(t, metrics.Start(context.Background()))
	rec = serve(srv, http.MethodGet, "/readyz", nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, Readiness{Ready: true, Services: []ServiceReadiness{
		{Name: "metrics", State: "running", Healthy: true},
		{Name: "email", State: "running", Healthy: true},
	}}, decodeJSON[Readiness](t, rec.Body.Bytes()))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, metrics.Stop(ctx))
	rec = serve(srv, http.MethodGet, "/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, Readiness{
		Ready: false,
		Services: []ServiceReadiness{
			{Name: "metrics", State: "stopped", Healthy: false},
			{Name: "email", State: "running", Healthy: true},
		},
		NotReady: []string{"metrics"},
	}, decodeJSON[Readiness](t, rec.Body.Bytes()))

	warnings := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessage("not ready").AllUntimed()
	require.Len(t, warnings, 2)
	assert.Equal(t, "metrics", warnings[1].ContextMap()["services"])
}

func TestReadyzDoesNotLeakErrors(t *testing.T) {
	t.Parallel()
	reg := sprag.NewRegistry()
	db := &testService{healthErr: errors.New("ping postgres://admin:s3cret@10.0.0.7:5432: timeout")}
	startService(t, reg, "db", db, db)
	srv, logs := newServer(t, reg, nil)

	rec := serve(srv, http.MethodGet, "/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotContains(t, rec.Body.String(), "s3cret")
	assert.NotContains(t, rec.Body.String(), "10.0.0.7")
	assert.Equal(t, Readiness{
		Services: []ServiceReadiness{{Name: "db", State: "running", Healthy: false}},
		NotReady: []string{"db"},
	}, decodeJSON[Readiness](t, rec.Body.Bytes()))

	warnings := logsWith(logs, "not ready")
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0].ContextMap()["error"], "s3cret", "the reason is in the log")
}

func TestReadyzOverTCPWhenAServiceStops(t *testing.T) {
	t.Parallel()
	reg := sprag.NewRegistry()
	worker := &testService{}
	require.NoError(t, sprag.Bind(worker, "worker", sprag.NewRuntime(nil)))
	require.NoError(t, reg.Provide("worker", worker))
	require.NoError(t, worker.Start(context.Background()))

	srv, _ := newServer(t, reg, []Option{WithAddr("127.0.0.1:0")})
	startService(t, reg, "http", srv, srv)
	base, client := "http://"+srv.Addr(), &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	get := func() (int, Readiness) {
		resp, err := client.Get(base + "/readyz")
		require.NoError(t, err)
		defer func() { assert.NoError(t, resp.Body.Close()) }()
		var body Readiness
		require.NoError(t, decodeBody(resp, &body))
		return resp.StatusCode, body
	}
	status, body := get()
	assert.Equal(t, http.StatusOK, status)
	assert.Len(t, body.Services, 2)

	require.NoError(t, worker.Stop(context.Background()))
	status, body = get()
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, []string{"worker"}, body.NotReady)
}

// parentService adopts child, as "outbox", when it starts.
type parentService struct {
	sprag.Service
	child *testService
}

func (p *parentService) OnStart(ctx context.Context) error { return p.Adopt(ctx, "outbox", p.child) }

// TestReadyzNamesChildren holds ServiceReadiness's fields for an adopted
// child: its full name, after its parent, and its health apart from the
// parent's.
func TestReadyzNamesChildren(t *testing.T) {
	t.Parallel()
	reg := sprag.NewRegistry()
	child := &testService{healthErr: errors.New("smtp: 10.0.0.9:25 refused")}
	email := &parentService{child: child}
	startService(t, reg, "email", email, email)
	srv, _ := newServer(t, reg, nil)

	rec := serve(srv, http.MethodGet, "/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, Readiness{
		Services: []ServiceReadiness{
			{Name: "email", State: "running", Healthy: true},
			{Name: "email/outbox", State: "running", Healthy: false},
		},
		NotReady: []string{"email/outbox"},
	}, decodeJSON[Readiness](t, rec.Body.Bytes()))
}
