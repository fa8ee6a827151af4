package fxmodule

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/sprag"
)

// Run's exit codes, through run. These run outside a synctest bubble: a
// successful start relays signals (signal.Notify), which a bubble refuses.

func TestRunExitsWith1WhenTheStopFails(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	app := App(fx.Supply(zap.New(core)),
		Service("svc", func() *plain { return &plain{} }),
		fx.Invoke(func(lc fx.Lifecycle, sd fx.Shutdowner) {
			lc.Append(fx.Hook{
				OnStart: func(context.Context) error { return sd.Shutdown(fx.ExitCode(4)) },
				OnStop:  func(context.Context) error { return errors.New("flush failed") },
			})
		}),
	)
	assert.Equal(t, 1, app.run(), "1, not the shutdown's code, when the stop fails")
	failures := logs.FilterLevelExact(zap.ErrorLevel).All()
	require.Len(t, failures, 1, "logged once")
	assert.Equal(t, "OnStop hook failed", failures[0].Message)
}

func TestRunExitsWith1OnAWiringMistake(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	app := App(fx.Supply(zap.New(core)), Service("svc", func() plain { return plain{} }))
	require.Error(t, app.Err())
	assert.Equal(t, 1, app.run())
	failures := logs.FilterLevelExact(zap.ErrorLevel).All()
	require.Len(t, failures, 1, "logged once")
	assert.Equal(t, "the app could not be built", failures[0].Message)
	assert.Equal(t, app.Err().Error(), failures[0].ContextMap()["error"])
}

func TestRunExitsWith0AfterAShutdownWithoutACode(t *testing.T) {
	t.Parallel()
	svc := &plain{}
	app := App(fx.Supply(zap.NewNop()),
		Service("svc", func() *plain { return svc }),
		fx.Invoke(func(lc fx.Lifecycle, sd fx.Shutdowner) {
			lc.Append(fx.StartHook(func() error { return sd.Shutdown() }))
		}),
	)
	assert.Equal(t, 0, app.run())
	assert.Equal(t, sprag.Stopped, svc.State(), "stopped before run returns")
}

// giveUp is a service whose task fails at once, and gives up after one
// restart.
type giveUp struct{ sprag.Service }

func (g *giveUp) OnStart(context.Context) error {
	_, err := g.Spawn(func(context.Context) error { return errors.New("upstream unavailable") },
		sprag.Label("pull"), sprag.Restart(sprag.RestartPolicy{MaxRestarts: 1, Backoff: time.Millisecond}))
	return err
}

func TestRunExitsWithShutdownOnTaskGiveUpsCode(t *testing.T) {
	t.Parallel()
	t.Run("the stop succeeds", func(t *testing.T) {
		t.Parallel()
		svc := &giveUp{}
		app := App(fx.Supply(zap.NewNop()), ShutdownOnTaskGiveUp(3), Service("syncer", func() *giveUp { return svc }))
		assert.Equal(t, 3, app.run())
		assert.Equal(t, sprag.Stopped, svc.State(), "the app stopped before run returned")
	})
	t.Run("the stop fails", func(t *testing.T) {
		t.Parallel()
		app := App(fx.Supply(zap.NewNop()), ShutdownOnTaskGiveUp(3), Service("syncer", func() *giveUp { return &giveUp{} }),
			fx.Invoke(func(lc fx.Lifecycle) {
				lc.Append(fx.StopHook(func() error { return errors.New("flush failed") }))
			}))
		assert.Equal(t, 1, app.run())
	})
}
