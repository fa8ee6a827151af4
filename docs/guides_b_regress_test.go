package docs_test

// Promises of docs/fx.md and docs/wiring-errors.md that fxmodule once
// broke.

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// fx.md, "Ready, AppStarted and AppStopping": "`Wait(ctx)` returns nil
// once every service provided with Service has run its OnStart", also
// with a context that has ended: select alone would pick at random.
func TestGuidesB_ReadyWaitReturnsNilOnceStarted(t *testing.T) {
	t.Parallel()
	var ready *fxmodule.Ready
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("svc", func() *Bare { return &Bare{} }),
		fx.Populate(&ready))
	require.NoError(t, app.Start(context.Background()))
	defer func() { require.NoError(t, app.Stop(context.Background())) }()
	<-ready.Done()

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	failures := 0
	for range 200 {
		if ready.Wait(ended) != nil {
			failures++
		}
	}
	assert.Zero(t, failures, "of 200 calls of Wait after the start, with an ended context")
}

// fx.md, "Providers, App and controllers": an app in which nothing takes
// the server builds none and opens no port; taking it, even optionally
// and without Controllers, builds and runs it as the service "http".
func TestGuidesB_ServerOnlyWhenTaken(t *testing.T) {
	t.Parallel()
	var registry *sprag.Registry
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger, fx.Populate(&registry))
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(context.Background()))
	assert.NotContains(t, registry.Names(), fxmodule.HTTPServiceName, "nothing takes it: no server")
	require.NoError(t, app.Stop(context.Background()))

	var p struct {
		fx.In
		Server   *controllers.Server `name:"http" optional:"true"`
		Registry *sprag.Registry
	}
	app = fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0")),
		fx.Populate(&p))
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(context.Background()))
	defer func() { require.NoError(t, app.Stop(context.Background())) }()
	require.NotNil(t, p.Server, "taken, even optionally: built")
	assert.Contains(t, p.Registry.Names(), fxmodule.HTTPServiceName, "and run as the service http")
	assert.Equal(t, sprag.Running, p.Server.State())
}
