package fxmodule_test

// Regression tests of bugs found under concurrency: one test per bug,
// each with the promise it holds fxmodule to, which the test failed
// before the fix.

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// TestConcurrentStopWaitsForTheStopUnderWay: the promise of
// docs/fx.md:616-618, "A stop that meets its deadline leaves
// nothing of fxmodule running: once `Stop` has returned, no goroutine of
// the app's remains, whatever context `Stop` was given"; fxmodule/doc.go
// :69-70, "After a stop that met its deadline, nothing of fxmodule runs
// any more"; app.go:119, Application.Stop "stops the app as fx.App's
// Stop does, within ctx".
//
// A second Stop, made while the first runs a service's OnStop, waits for
// the first. It used to return nil at once, since fx's lifecycle returns
// nil when its state is "stopping", while the service still stopped.
func TestConcurrentStopWaitsForTheStopUnderWay(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		entered, release := make(chan struct{}), make(chan struct{})
		db := &stressSvc{onStop: func(context.Context) error {
			close(entered)
			<-release // a flush that takes a while
			return nil
		}}
		app := fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.Service("db", func() *stressSvc { return db }))
		require.NoError(t, app.Start(context.Background()))

		first := make(chan error, 1)
		go func() { first <- app.Stop(context.Background()) }()
		<-entered // db's OnStop runs
		second := make(chan error, 1)
		go func() { second <- app.Stop(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-second:
			assert.Fail(t, "the second Stop returned before the app had stopped",
				"it returned %v while db is %v, its OnStop still running", err, db.State())
		default: // it waits for the first, as it should
		}
		close(release)
		require.NoError(t, <-first)
		<-db.Done()
		synctest.Wait()
	})
}

// TestStopDuringStartEndsTheStart: the promise of
// docs/fx.md:616-618, "once `Stop` has returned, no goroutine of
// the app's remains, whatever context `Stop` was given"; app.go:26-29,
// the Application's "Start and Stop keep the services' guarantees where
// fx's alone would not"; fxmodule/doc.go:34-35, "a service starts after
// the services it takes and stops before them"; ready.go:53-57, Done "is
// closed once every service has started".
//
// A Stop during a Start ends the start's context and waits until the
// start has returned, and until the service that was starting ("slow",
// which takes "first") has started and been stopped again: after Stop,
// nothing runs, Start has failed naming "slow", and Ready.Done is not
// closed. Stop used to stop only the hooks that had started and return
// nil while fx's Start went on: "slow" then ran on top of a stopped
// dependency, Ready reported the app started and Start returned nil.
func TestStopDuringStartEndsTheStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		first := &stressSvc{}
		slow := &stressSvc{onStart: func(context.Context) error {
			<-release // a slow connection, which ignores the context
			return nil
		}}
		type slowIn struct {
			fx.In
			First *stressSvc `name:"first"`
		}
		var ready *fxmodule.Ready
		app := fxmodule.App(fx.Supply(zap.NewNop()), fx.Populate(&ready),
			fxmodule.Service("first", func() *stressSvc { return first }),
			fxmodule.Service("slow", func(slowIn) *stressSvc { return slow }),
		)
		require.NoError(t, app.Err())
		started := make(chan error, 1)
		go func() { started <- app.Start(context.Background()) }()
		synctest.Wait() // slow's OnStart runs

		stopped := make(chan error, 1)
		go func() { stopped <- app.Stop(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned (%v) while the start it ended still ran", err)
		default:
		}
		close(release) // slow's OnStart returns, after its context ended
		startErr := <-started
		require.NoError(t, <-stopped)
		synctest.Wait()

		require.ErrorIs(t, startErr, context.Canceled, "the Stop ended the start")
		assert.Contains(t, startErr.Error(), `"slow"`, "the error names the service that was starting")
		assert.Equal(t, sprag.Stopped, first.State())
		assert.NotEqual(t, sprag.Running, slow.State(), "no service runs after Stop returned")
		select {
		case <-ready.Done():
			assert.Fail(t, "Ready.Done was closed although the app was stopped as it started")
		default:
		}
	})
}
