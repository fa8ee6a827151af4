package docs_test

// Promises of docs/fx.md and docs/wiring-errors.md that fxmodule once
// broke.

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
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

// fx.md, "Logging through zap": every failure is logged once, at error
// level, its error field one line per mistake. With fx.New, a name given
// twice to services of one type fails fx's provide, whose error is
// "fx.Provide(…) from:", the stack of the call one frame a line, then
// "Failed: cannot provide …": LogFxEvents logs the reason alone.
//
// Not parallel: the logger of LogFxEvents writes to os.Stderr here, as
// fx fails before the app's logger is provided, and the test reads it.
func TestGuidesB_LogFxEventsProvideErrorWithoutStack(t *testing.T) {
	t.Setenv(fxmodule.EnvLog, "json")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stderr := os.Stderr
	os.Stderr = w
	newBare := func() *Bare { return &Bare{} }
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fxmodule.LogFxEvents,
		fxmodule.Service("same", newBare),
		fxmodule.Service("same", newBare))
	os.Stderr = stderr
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.Error(t, app.Err())

	var failures []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &entry), line)
		if entry["level"] == "error" {
			msg, _ := entry["error"].(string)
			failures = append(failures, msg)
		}
	}
	require.Len(t, failures, 1, "logged once")
	assert.NotContains(t, failures[0], "\n", "the message on one line")
	assert.True(t, strings.HasPrefix(failures[0], "cannot provide function"), "the reason alone: %s", failures[0])
	assert.Contains(t, failures[0], "already provided by")
}
