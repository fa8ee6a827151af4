package docs_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
	"github.com/sprag-go/sprag/sprag/process"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/sprag/state"
	"github.com/sprag-go/sprag/sprag/watch"
	"github.com/sprag-go/sprag/spragtest"
)

// services.md, "Errors of managed methods": a nil option, such as one left unset by a
// condition, is ignored by every function that takes options; none
// panics.
func TestNilOptionsAreIgnored(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := sprag.NewRuntime(zap.NewNop(), nil)
		p := &Bare{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt), nil)
		noop := func(context.Context) error { return nil }

		var timerOpt sprag.TimerOption
		_, err := p.Interval(time.Second, noop, timerOpt)
		require.NoError(t, err)
		_, err = p.Timeout(time.Second, noop, timerOpt)
		require.NoError(t, err)
		var taskOpt sprag.TaskOption
		task, err := p.Spawn(noop, taskOpt)
		require.NoError(t, err)
		require.NoError(t, task.Wait(context.Background()))

		_, err = queue.New(p, func(context.Context, int) error { return nil }, nil)
		require.NoError(t, err)
		o, err := state.New(p, 0, nil)
		require.NoError(t, err)
		_, err = o.Subscribe(p, func(context.Context, int) error { return nil }, nil)
		require.NoError(t, err)
		_, err = watch.Poll(p, func(context.Context) (int, error) { return 1, nil }, time.Second, nil)
		require.NoError(t, err)
		_, err = cron.Parse("@hourly", nil)
		require.NoError(t, err)
		_, err = cron.Add(p, "@hourly", noop, nil)
		require.NoError(t, err)
		_, err = process.Start(p, "true", nil, nil)
		require.NoError(t, err)
	})

	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("bare", func() *Bare { return &Bare{} }, nil))
	require.NoError(t, app.Err())
}
