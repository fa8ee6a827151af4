package docs_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/fxmodule/fxmoduletest"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

func TestMetricsServiceCollectsEveryMinute(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := &MetricsService{}
		rt := spragtest.Start(t, "metrics", m) // stopped when the test ends
		updates := spragtest.Record(t, rt.Bus, "metrics:updated")

		require.NoError(t, rt.Bus.Emit(context.Background(), "order:completed", "order-1"))
		time.Sleep(time.Hour) // virtual time: returns at once
		synctest.Wait()       // until the last tick has finished

		assert.Equal(t, 60, updates.Len())
		assert.Equal(t, int64(1), updates.Payloads()[59])
	})
}

func TestFailingWorkIsLogged(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t) // logs in memory, and in the test's log
		svc := &Bare{}
		spragtest.Start(t, "metrics", svc, spragtest.WithRuntime(rt))
		_, err := svc.Interval(time.Minute, func(context.Context) error {
			return errors.New("scrape: timeout")
		}, sprag.Label("collect"))
		require.NoError(t, err)

		time.Sleep(time.Minute)
		synctest.Wait()

		entries := logs.FilterMessage("interval failed").All()
		require.Len(t, entries, 1)
		assert.Equal(t, map[string]any{
			"service": "metrics", "kind": "interval", "label": "collect", "error": "scrape: timeout",
		}, entries[0].ContextMap())
	})
}

func TestMetricsAppInABubble(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var metrics *MetricsService
		var bus *eventbus.Bus
		app := fxmoduletest.New(t, // fxmodule.Module with a zaptest logger
			fxmodule.Service("metrics", NewMetricsService),
			fx.Populate(fx.Annotate(&metrics, fx.ParamTags(`name:"metrics"`))),
			fx.Populate(&bus),
		)
		app.RequireStart()
		updates := spragtest.Record(t, bus, "metrics:updated")

		time.Sleep(time.Hour)
		synctest.Wait()
		app.RequireStop()

		assert.Equal(t, 60, updates.Len())
		assert.Equal(t, sprag.Stopped, metrics.State())
	})
}

func TestDashboardController(t *testing.T) {
	t.Parallel()
	registry := sprag.NewRegistry() // what controllers.Service looks in
	email := &EmailService{key: "k-test"}
	spragtest.Start(t, "email", email)
	require.NoError(t, registry.Provide("email", email))

	srv, err := controllers.NewServer(registry)
	require.NoError(t, err)
	metrics := &MetricsService{}
	require.NoError(t, srv.Mount(NewDashboardController(DashboardParams{Metrics: metrics})))

	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dashboard", nil)) // no listener
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"orders":0,"email_configured":true}`, rec.Body.String())
}
