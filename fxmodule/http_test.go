package fxmodule_test

import (
	"context"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// metricsService counts orders; the dashboard reads it by name.
type metricsService struct {
	sprag.Service
	orders atomic.Int64
}

type dashboardParams struct {
	fx.In
	Metrics *metricsService `name:"metrics"`
}

type dashboard struct{ metrics *metricsService }

func newDashboard(p dashboardParams) *dashboard { return &dashboard{metrics: p.Metrics} }

func (d *dashboard) Route() string { return "GET /dashboard" }

func (d *dashboard) Load(_ context.Context, r *controllers.Request) (any, error) {
	// The seed's dynamic form works too: a lookup by name, typed.
	same, err := controllers.Service[*metricsService](r, "metrics")
	if err != nil {
		return nil, err
	}
	return map[string]any{"orders": d.metrics.orders.Load(), "same": same == d.metrics}, nil
}

// getBody fetches url with accept and returns the status and body.
func getBody(t *testing.T, url, accept string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestControllersAreServedWithNamedInjection(t *testing.T) {
	t.Parallel()
	var j journal
	logger, _ := observed(t)
	var server *controllers.Server
	type serverIn struct {
		fx.In
		Server *controllers.Server `name:"http"`
	}
	var metrics *metricsService
	shell := template.Must(template.New("shell").Parse(`<html><title>{{.Title}}</title><body>{{.JSON}}</body></html>`))
	app := newApp(t, logger,
		fxmodule.Service("metrics", func() *metricsService {
			metrics = &metricsService{}
			return metrics
		}),
		fxmodule.Service("audit", func() *node { return &node{j: &j} }),
		fxmodule.Controllers(newDashboard),
		fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0")),
		fxmodule.Shell(shell),
		fx.Invoke(func(p serverIn) { server = p.Server }),
	)
	app.RequireStart()
	metrics.orders.Add(3)
	base := "http://" + server.Addr()

	status, body := getBody(t, base+"/dashboard", "application/json")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"orders":3,"same":true}`, body)

	status, body = getBody(t, base+"/dashboard", "text/html")
	assert.Equal(t, http.StatusOK, status)
	assert.True(t, strings.HasPrefix(body, "<html><title>"), "the app's shell: %s", body)

	status, body = getBody(t, base+"/readyz", "application/json")
	assert.Equal(t, http.StatusOK, status)
	var ready struct {
		Services []struct{ Name string } `json:"services"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &ready))
	var names []string
	for _, s := range ready.Services {
		names = append(names, s.Name)
	}
	assert.ElementsMatch(t, []string{"metrics", "audit", "http"}, names)

	app.RequireStop()
	assert.Equal(t, sprag.Stopped, server.State())
}

func TestTheServerStartsAfterAndStopsBeforeTheServicesItServes(t *testing.T) {
	t.Parallel()
	var j journal
	logger, _ := observed(t)
	type ctrlIn struct {
		fx.In
		Store *node `name:"store"`
	}
	app := newApp(t, logger,
		fxmodule.Controllers(func(p ctrlIn) *nodeController { return &nodeController{n: p.Store} }),
		fxmodule.Service("store", func() *node { return &node{j: &j} }),
		fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0")),
		fx.Invoke(func(lc fx.Lifecycle, p struct {
			fx.In
			Server *controllers.Server `name:"http"`
		}) {
			lc.Append(fx.Hook{
				OnStart: func(context.Context) error { j.add("http running: " + p.Server.State().String()); return nil },
				OnStop:  func(context.Context) error { j.add("http before stop: " + p.Server.State().String()); return nil },
			})
		}),
	)
	app.RequireStart().RequireStop()
	assert.Equal(t, []string{"start store", "http running: running", "http before stop: running", "stop store"}, j.get())
}

type nodeController struct{ n *node }

func (c *nodeController) Route() string { return "GET /node" }
func (c *nodeController) Load(context.Context, *controllers.Request) (any, error) {
	return c.n.Name(), nil
}

func TestWithoutControllersNoServerIsBuilt(t *testing.T) {
	t.Parallel()
	logger, _ := observed(t)
	var registry *sprag.Registry
	app := newApp(t, logger, fxmodule.Service("a", func() *node { return &node{j: &journal{}} }), fx.Populate(&registry))
	app.RequireStart()
	assert.Equal(t, []string{"a"}, registry.Names())
	app.RequireStop()
}

type conflicting struct{}

func (conflicting) Route() string                                           { return "GET /dashboard" }
func (conflicting) Load(context.Context, *controllers.Request) (any, error) { return nil, nil }

func TestControllerMistakes(t *testing.T) {
	t.Parallel()
	logger, _ := observed(t)
	err := fx.New(fxmodule.Module, fx.Supply(logger), fx.NopLogger, fxmodule.Controllers(func() int { return 1 })).Err()
	require.ErrorContains(t, err, "returns int, which is not a controllers.Controller")

	app := fx.New(fxmodule.Module, fx.Supply(logger), fx.NopLogger,
		fxmodule.Service("metrics", func() *metricsService { return &metricsService{} }),
		fxmodule.Controllers(newDashboard, func() conflicting { return conflicting{} }),
		fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0")))
	err = app.Err()
	require.Error(t, err, "two routes on one pattern")
	assert.Contains(t, err.Error(), "GET /dashboard")
	assert.Contains(t, err.Error(), "fxmodule_test.conflicting")
}

func TestAppRunsTheSeedsShape(t *testing.T) {
	t.Parallel()
	logger, _ := observed(t)
	var server *controllers.Server
	app := fxmodule.App(
		fx.Supply(logger),
		fxmodule.Providers(map[string]any{
			"metrics": func() *metricsService { return &metricsService{} },
			"audit":   func() *node { return &node{j: &journal{}} },
		}),
		fxmodule.Controllers(newDashboard),
		fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0")),
		fx.Populate(fx.Annotate(&server, fx.ParamTags(`name:"http"`))),
		fx.StopTimeout(5*time.Second),
	)
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(context.Background()))
	status, body := getBody(t, "http://"+server.Addr()+"/dashboard", "application/json")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"orders":0,"same":true}`, body)
	require.NoError(t, app.Stop(context.Background()))
}
