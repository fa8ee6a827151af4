package fxmodule

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/sprag"
)

// hanging is a service whose OnStart ignores its context until release
// is closed.
type hanging struct {
	sprag.Service
	release chan struct{}
}

func (h *hanging) OnStart(context.Context) error {
	<-h.release
	return nil
}

type plain struct{ sprag.Service }

// Run is tested through run, which is Run without the exit.

func TestRunNamesTheServiceThatHung(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.InfoLevel)
		release := make(chan struct{})
		defer func() { close(release); synctest.Wait() }() // the hung OnStart returns, and what follows ends, before the test does
		app := App(fx.Supply(zap.New(core)), fx.StartTimeout(time.Second),
			Service("first", func() *plain { return &plain{} }),
			Service("stuck", func() *hanging { return &hanging{release: release} }),
			Service("last", func() *plain { return &plain{} }),
		)
		require.NoError(t, app.Err())

		assert.Equal(t, 1, app.run())

		failures := logs.FilterLevelExact(zap.ErrorLevel).All()
		require.Len(t, failures, 1)
		assert.Equal(t, "start failed", failures[0].Message)
		assert.Equal(t, `start service "stuck": still starting when the start ended: context deadline exceeded`, failures[0].ContextMap()["error"])
	})
}

// TestRunExitsWithTheShutdownsCode runs outside a synctest bubble: a
// successful start relays signals (signal.Notify), which a bubble refuses.
func TestRunExitsWithTheShutdownsCode(t *testing.T) {
	t.Parallel()
	var stopped bool
	app := App(fx.Supply(zap.NewNop()),
		Service("svc", func() *plain { return &plain{} }),
		fx.Invoke(func(lc fx.Lifecycle, sd fx.Shutdowner) {
			lc.Append(fx.Hook{
				OnStart: func(context.Context) error { return sd.Shutdown(fx.ExitCode(4)) },
				OnStop:  func(context.Context) error { stopped = true; return nil },
			})
		}),
	)
	assert.Equal(t, 4, app.run())
	assert.True(t, stopped)
}

// TestAPortInUseIsReportedOnce covers a start that fails for a reason of
// its own: the reason is logged once, on one line, without stack traces.
func TestAPortInUseIsReportedOnce(t *testing.T) {
	t.Parallel()
	var lc net.ListenConfig
	taken, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = taken.Close() }()

	core, logs := observer.New(zap.DebugLevel)
	app := App(fx.Supply(zap.New(core)),
		Controllers(),
		ServerOptions(controllers.WithAddr(taken.Addr().String())),
	)
	require.NoError(t, app.Err())

	assert.Equal(t, 1, app.run())

	failures := logs.FilterLevelExact(zap.ErrorLevel).All()
	require.Len(t, failures, 1, "the reason, once")
	assert.Equal(t, "start failed", failures[0].Message)
	assert.Contains(t, failures[0].ContextMap()["error"], "address already in use")
	assert.NotContains(t, failures[0].ContextMap(), "errorVerbose")
	assert.Empty(t, failures[0].Stack)
}
