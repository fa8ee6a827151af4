package fxmodule_test

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/goleak"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/fxmodule/fxmoduletest"
	"github.com/sprag-go/sprag/sprag"
)

type afterIn struct {
	fx.In
	Before *node `name:"first"`
}

func TestOnStartFailureRollsBackInReverseOrder(t *testing.T) {
	t.Parallel()
	var j journal
	logger, _ := observed(t)
	type thirdIn struct {
		fx.In
		Second *node `name:"second"`
	}
	app := fx.New(fxmodule.Module, fx.Supply(logger), fx.NopLogger,
		fxmodule.Service("first", func() *node { return &node{j: &j} }),
		fxmodule.Service("second", func(afterIn) *node { return &node{j: &j} }),
		fxmodule.Service("third", func(thirdIn) *node {
			return &node{j: &j, startErr: errors.New("no database")}
		}),
	)
	require.NoError(t, app.Err())

	err := app.Start(context.Background())

	require.Error(t, err)
	assert.Contains(t, err.Error(), `start service "third": no database`)
	assert.Equal(t, []string{"start first", "start second", "start third", "stop second", "stop first"}, j.get(),
		"what had started is stopped, in reverse; the failed service is torn down by its own Start")
}

func TestStopTimeoutNamesTheStuckServiceAndTask(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		logger, logs := observed(t)
		release := make(chan struct{})
		var stuck, dependency *node
		app := fx.New(fxmodule.Module, fx.Supply(logger), fxmodule.LogFxEvents, fx.StopTimeout(5*time.Second),
			fxmodule.Service("first", func() *node {
				dependency = &node{j: &journal{}}
				return dependency
			}),
			fxmodule.Service("worker", func(afterIn) *node {
				stuck = &node{j: &journal{}, onStart: func(_ context.Context, n *node) error {
					_, err := n.Spawn(func(context.Context) error {
						<-release // ignores its context
						return nil
					}, sprag.Label("flush"))
					return err
				}}
				return stuck
			}),
		)
		require.NoError(t, app.Start(context.Background()))

		ctx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
		defer cancel()
		start := time.Now()
		err := app.Stop(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 5*time.Second, time.Since(start), "fx's StopTimeout is honoured")

		synctest.Wait() // the service finished its teardown, the task still runs; fx logs the hook's result
		select {
		case <-stuck.Done():
			t.Fatal("Done closed while the task runs")
		default:
		}
		failed := logs.FilterMessage("OnStop hook failed").All()
		require.Len(t, failed, 1)
		msg := failed[0].ContextMap()["error"].(string)
		assert.Contains(t, msg, `stop service "worker"`)
		assert.Contains(t, msg, "task flush")

		// fx runs no stop hook past the deadline; fxmodule stops the rest.
		<-dependency.Done()
		assert.Equal(t, sprag.Stopped, dependency.State())
		assert.Equal(t, 1, logs.FilterMessage("the app's stop ran out of time: stopping the services it did not reach").Len())
		close(release)
		<-stuck.Done()
	})
}

// TestStartTimeoutStopsWhatStartedAndLeavesNothingRunning covers fx issue
// 1035: on a start timeout fx rolls back with the expired start context.
// It is not parallel: its leak check would count the goroutines of the
// tests running beside it.
func TestStartTimeoutStopsWhatStartedAndLeavesNothingRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var j journal
		logger, _ := observed(t)
		var first, slow *node
		app := fx.New(fxmodule.Module, fx.Supply(logger), fx.NopLogger, fx.StartTimeout(time.Second),
			fxmodule.Service("first", func() *node {
				first = &node{j: &j, onStart: func(_ context.Context, n *node) error {
					_, _ = n.Interval(time.Millisecond, func(context.Context) error { return nil })
					_, _ = n.Spawn(func(ctx context.Context) error {
						<-ctx.Done()
						return nil
					})
					return n.AddCleanup(func(context.Context) error {
						j.add("cleanup first")
						return nil
					})
				}}
				return first
			}),
			fxmodule.Service("slow", func(afterIn) *node {
				slow = &node{j: &j, onStart: func(ctx context.Context, _ *node) error {
					<-ctx.Done() // a start that takes longer than StartTimeout
					return ctx.Err()
				}}
				return slow
			}),
		)
		ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
		defer cancel()
		require.ErrorIs(t, app.Start(ctx), context.DeadlineExceeded)

		<-first.Done()
		<-slow.Done()
		synctest.Wait()
		assert.Equal(t, sprag.Stopped, first.State())
		assert.Equal(t, sprag.Failed, slow.State())
		assert.Equal(t, []string{"start first", "start slow", "stop first", "cleanup first"}, j.get())
	})
	// Nothing of the app survives the rollback: no timer, task or hook goroutine.
	require.NoError(t, goleak.Find(goleak.IgnoreCurrent()))
}

func TestReadySignalAndAppEvents(t *testing.T) {
	t.Parallel()
	var j journal
	logger, _ := observed(t)
	var ready *fxmodule.Ready
	var bus *eventbus.Bus
	app := newApp(t, logger,
		fxmodule.Service("first", func() *node { return &node{j: &j} }),
		fxmodule.Service("second", func(afterIn) *node { return &node{j: &j} }),
		fx.Populate(&ready, &bus),
		fx.Invoke(func(bus *eventbus.Bus) error {
			_, err := bus.ListenEvents("sprag:app:*", func(_ context.Context, e eventbus.Event) error {
				j.add(e.Topic + " " + joinNames(e.Payload.(fxmodule.AppEvent).Services))
				return nil
			})
			return err
		}),
	)
	select {
	case <-ready.Done():
		t.Fatal("ready before the start")
	default:
	}
	app.RequireStart()
	<-ready.Done()
	require.NoError(t, ready.Wait(context.Background()))
	app.RequireStop()
	assert.Equal(t, []string{
		"start first", "start second",
		"sprag:app:started first,second",
		"sprag:app:stopping first,second",
		"stop second", "stop first",
	}, j.get())
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ","
		}
		out += n
	}
	return out
}

func TestReadyWithoutServicesAndWaitTimeout(t *testing.T) {
	t.Parallel()
	logger, _ := observed(t)
	var ready *fxmodule.Ready
	app := newApp(t, logger, fx.Populate(&ready))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, ready.Wait(ctx), context.Canceled)
	app.RequireStart()
	<-ready.Done()
	app.RequireStop()
}

func TestReadyIsNeverClosedWhenTheStartFails(t *testing.T) {
	t.Parallel()
	logger, _ := observed(t)
	var ready *fxmodule.Ready
	app := fx.New(fxmodule.Module, fx.Supply(logger), fx.NopLogger, fx.Populate(&ready),
		fxmodule.Service("bad", func() *node { return &node{j: &journal{}, startErr: errors.New("no")} }))
	require.Error(t, app.Start(context.Background()))
	select {
	case <-ready.Done():
		t.Fatal("ready after a failed start")
	default:
	}
}

func TestShutdownOnTaskGiveUp(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		logger, logs := observed(t)
		app := fx.New(fxmodule.Module, fx.Supply(logger), fx.NopLogger,
			fxmodule.ShutdownOnTaskGiveUp(3),
			fxmodule.Service("doomed", func() *node {
				return &node{j: &journal{}, onStart: func(_ context.Context, n *node) error {
					_, _ = n.Spawn(func(context.Context) error { return errors.New("always fails") },
						sprag.Label("sync"), sprag.Restart(sprag.RestartPolicy{MaxRestarts: 1, Backoff: time.Second}))
					return nil
				}}
			}),
		)
		require.NoError(t, app.Start(context.Background()))
		sig := <-app.Wait()
		assert.Equal(t, 3, sig.ExitCode)
		require.NoError(t, app.Stop(context.Background()))
		entries := logs.FilterMessage("a task gave up: shutting the app down").All()
		require.Len(t, entries, 1)
		assert.Equal(t, "doomed", entries[0].ContextMap()["service"])
	})
	logger, _ := observed(t)
	err := fx.New(fxmodule.Module, fx.Supply(logger), fx.NopLogger, fxmodule.ShutdownOnTaskGiveUp(0)).Err()
	require.ErrorContains(t, err, "must not be 0")
}

func TestWithoutShutdownOnTaskGiveUpTheAppRunsDegraded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		logger, _ := observed(t)
		var registry *sprag.Registry
		app := fx.New(fxmodule.Module, fx.Supply(logger), fx.NopLogger, fx.Populate(&registry),
			fxmodule.Service("doomed", func() *node {
				return &node{j: &journal{}, onStart: func(_ context.Context, n *node) error {
					_, _ = n.Spawn(func(context.Context) error { return errors.New("always fails") },
						sprag.Restart(sprag.RestartPolicy{MaxRestarts: 1, Backoff: time.Second}))
					return nil
				}}
			}),
		)
		require.NoError(t, app.Start(context.Background()))
		time.Sleep(time.Minute)
		synctest.Wait()
		select {
		case <-app.Wait():
			t.Fatal("the app shut down")
		default:
		}
		assert.False(t, registry.Health(context.Background()).Healthy)
		require.NoError(t, app.Stop(context.Background()))
	})
}

func TestSignalStopsTheApp(t *testing.T) {
	// Not parallel: it signals the test process.
	var j journal
	logger, _ := observed(t)
	app := fx.New(fxmodule.Module, fx.Supply(logger), fx.NopLogger,
		fxmodule.Service("svc", func() *node { return &node{j: &j} }))
	require.NoError(t, app.Start(context.Background()))
	wait := app.Wait() // fx relays SIGINT and SIGTERM from here on, as Run does
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	sig := <-wait
	assert.Equal(t, syscall.SIGTERM, sig.Signal)
	require.NoError(t, app.Stop(context.Background()))
	assert.Equal(t, []string{"start svc", "stop svc"}, j.get())
}

func TestLogsGoThroughZap(t *testing.T) {
	t.Parallel()
	logger, logs := observed(t)
	var bus *eventbus.Bus
	app := newApp(t, logger,
		fxmodule.Service("svc", func() *node { return &node{j: &journal{}} }),
		fx.Populate(&bus),
	)
	app.RequireStart()
	_, err := bus.Listen("ping", func(context.Context, any) error { return errors.New("listener broke") }, eventbus.WithName("pinger"))
	require.NoError(t, err)
	require.Error(t, bus.Emit(context.Background(), "ping", nil))
	app.RequireStop()

	assert.NotEmpty(t, logs.FilterMessage("OnStart hook executed").All(), "fx's events")
	assert.NotEmpty(t, logs.FilterMessage("service started").FilterField(zapString("service", "svc")).All(), "the services' own logs")
	failed := logs.FilterMessage("listener failed").All()
	require.Len(t, failed, 1, "bus listener failures")
	assert.Equal(t, "pinger", failed[0].ContextMap()["label"])
}

func TestDefaultLoggerWhenTheAppProvidesNone(t *testing.T) {
	t.Parallel()
	var rt sprag.Runtime
	app := fx.New(fxmodule.Module, fx.NopLogger, fx.Populate(&rt),
		fxmodule.Service("svc", func() *node { return &node{j: &journal{}} }))
	require.NoError(t, app.Start(context.Background()))
	require.NotNil(t, rt.Logger)
	assert.True(t, rt.Logger.Core().Enabled(0), "a production logger, at info level")
	assert.False(t, rt.Logger.Core().Enabled(-1), "without debug")
	require.NoError(t, app.Stop(context.Background()))
}

func TestTestAppWorksInASynctestBubble(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var ticks int
		var svc *node
		app := fxmoduletest.New(t,
			fxmodule.Service("ticker", func() *node {
				svc = &node{j: &journal{}, onStart: func(_ context.Context, n *node) error {
					_, err := n.Interval(time.Minute, func(context.Context) error {
						ticks++
						return nil
					})
					return err
				}}
				return svc
			}),
		)
		app.RequireStart()
		time.Sleep(time.Hour)
		synctest.Wait()
		app.RequireStop()
		assert.Equal(t, 60, ticks)
		assert.Equal(t, sprag.Stopped, svc.State())
	})
}
