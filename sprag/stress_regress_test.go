package sprag_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// TestStopWaitsForAListenerUnsubscribedDuringItsCall: the promise of
// sprag/lifecycle.go:164-165 (Service.Stop, step 5) "running
// timer runs, tasks and callbacks are waited for, until ctx ends"
// (sprag/teardown.go:25-26, Scope.Close, "callback calls"); sprag/scope.go:
// 193-196 (Scope.Done) "closed when the scope has closed and every
// goroutine it started has returned: its tasks, its timer runs, the calls
// of its callbacks, ... After Done, nothing of the scope runs";
// sprag/callback.go:16-17 "A call made through it ([Call]) is a run of the
// scope: Close waits for it"; sprag/doc.go:49-51 "after Done, nothing of
// the service runs".
//
// A listener call is under way on an emitter's goroutine when its
// subscription is removed (here by Unsubscribe from another goroutine;
// Bus.Clear, ClearAll or the listener unsubscribing itself take the same
// path: the scope's OnRemoved calls Callback.Close). Stop waits for the
// call, and Done closes after it. Callback.Close used to drop the callback
// from the set Stop waits on at once, and Stop returned while the
// listener still ran.
func TestStopWaitsForAListenerUnsubscribedDuringItsCall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := spragtest.Runtime(t)
		var finished atomic.Bool
		entered := make(chan struct{})
		p := &probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		sub, err := p.Listen("slow", func(context.Context, any) error {
			close(entered)
			time.Sleep(time.Minute)
			finished.Store(true)
			return nil
		})
		require.NoError(t, err)
		emitted := make(chan struct{})
		go func() {
			defer close(emitted)
			_ = rt.Bus.Emit(context.Background(), "slow", nil)
		}()
		<-entered
		require.True(t, sub.Unsubscribe(), "the call under way keeps running, as the bus documents")

		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		require.NoError(t, p.Stop(ctx))
		assert.True(t, finished.Load(), "Stop returned while the listener's call was still running")
		<-p.Done()
		assert.True(t, finished.Load(), "Done closed while the listener's call was still running")
		<-emitted
	})
}

// TestOnStartThatSucceedsAfterStopsDeadlineIsFollowedByOnStop: the promise of
// sprag/lifecycle.go:155-156 (Service.Stop) "OnStop runs first,
// if the struct has it and OnStart succeeded, then the service's [Scope]
// is closed"; sprag/lifecycle.go:171-174 "Stop does not wait past ctx's
// end. With a context that has already ended, steps 2 to 4 still happen at
// once and steps 6 and 7 still run ... Stop only skips the waiting";
// sprag/service.go:82 (Stopper) "OnStop runs first in Stop". With a
// context that does not end, a Stop during the start is followed by OnStop
// once OnStart completes (lifecycle_test.go:474, "OnStart that completes
// is followed by OnStop").
//
// Stop arrives while OnStart runs and its context ends before OnStart
// returns. Once OnStart returns nil, OnStop runs before Done closes. It
// used to be skipped, since OnStart had not succeeded when Stop tore the
// scope down, and what OnStart set up was never released.
func TestOnStartThatSucceedsAfterStopsDeadlineIsFollowedByOnStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		started, proceed := make(chan struct{}), make(chan struct{})
		p := &probe{
			onStart: func(context.Context, *probe) error {
				close(started)
				<-proceed // ignores its context
				j.add("OnStart done")
				return nil
			},
			onStop: func(context.Context, *probe) error {
				j.add("OnStop")
				return nil
			},
		}
		bound(t, "svc", p)
		startErr := make(chan error, 1)
		go func() { startErr <- p.Start(context.Background()) }()
		<-started

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := p.Stop(ctx)
		require.ErrorIs(t, err, sprag.ErrStillRunning)
		var stuck *sprag.StuckError
		require.ErrorAs(t, err, &stuck)
		assert.Equal(t, []sprag.Activity{{Kind: sprag.KindOnStart}}, stuck.Running, "Stop names OnStart, once")
		close(proceed)
		require.ErrorIs(t, <-startErr, sprag.ErrStopped)
		<-p.Done()
		assert.Equal(t, sprag.Stopped, p.State())
		assert.Equal(t, []string{"OnStart done", "OnStop"}, j.get(), "OnStart succeeded: OnStop must follow it")
	})
}

// gateCore is a zap core that blocks the write of the entry whose message
// is msg until release closes, and closes entered when it begins.
type gateCore struct {
	zapcore.Core
	g       *gate
	service string // the "service" field the logger was given, if any
}

type gate struct {
	msg      string
	service  string // when set, only the entries of that service block
	once     sync.Once
	entered  chan struct{}
	released chan struct{}
	stack    string // of the blocked write
}

func (c gateCore) With(fields []zapcore.Field) zapcore.Core {
	service := c.service
	for _, f := range fields {
		if f.Key == "service" {
			service = f.String
		}
	}
	return gateCore{Core: c.Core.With(fields), g: c.g, service: service}
}

func (c gateCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c gateCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if e.Message == c.g.msg && (c.g.service == "" || c.g.service == c.service) {
		c.g.once.Do(func() {
			c.g.stack = string(debug.Stack())
			close(c.g.entered)
		})
		<-c.g.released
	}
	return c.Core.Write(e, fields)
}

// TestDoneWaitsForAFailedListenerCallToReport: the promise of
// sprag/scope.go:193-196 (Scope.Done) "closed when the scope has
// closed and every goroutine it started has returned: its tasks, its
// timer runs, the calls of its callbacks, ... After Done, nothing of the
// scope runs"; sprag/callback.go:16-19 "A call made through it ([Call])
// is a run of the scope: Close waits for it ... a failure logged with the
// scope's name".
//
// A listener returns an error and its failure report is held in the
// logger. Stop waits for the report, and Done closes after it. Call used
// to release its run before it logged the failure, so Done closed while
// the scope's report was still being written (with zaptest's logger, a
// log after the test ends fails it).
func TestDoneWaitsForAFailedListenerCallToReport(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		g := &gate{msg: "listener failed", entered: make(chan struct{}), released: make(chan struct{})}
		logger := zap.New(gateCore{Core: zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.DebugLevel), g: g})
		rt := sprag.NewRuntime(logger)
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			_, err := p.Listen("fail", func(context.Context, any) error { return errors.New("boom") })
			return err
		}}
		require.NoError(t, sprag.Bind(p, "svc", rt))
		require.NoError(t, p.Start(context.Background()))

		emitted := make(chan error, 1)
		go func() { emitted <- rt.Bus.Emit(context.Background(), "fail", nil) }()
		<-g.entered
		require.Contains(t, g.stack, "sprag.(*Callback).exit", "the Call has returned from the listener and logs its failure")

		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			stopped <- p.Stop(ctx)
		}()
		synctest.Wait()
		select {
		case <-p.Done():
			t.Error("Done closed while the listener's Call was still running")
		default:
		}
		close(g.released)
		require.Error(t, <-emitted)
		require.NoError(t, <-stopped)
		<-p.Done()
	})
}

// TestAdoptOfAChildThatStopsAsItStartsSucceeds: the promise of
// sprag/adopt.go:17-23 (Scope.Adopt) "A child that stops, or
// fails, before its parent leaves the parent ... Adopt fails, with nothing
// adopted, when the scope is not open ([ErrNotRunning]), ..."; and
// sprag/doc.go:74-76: the error wraps "[ErrNotRunning] when the scope
// does not accept work (before its service starts, or once it stops)".
//
// A per-job child whose Start succeeds and which stops (its job done,
// here a Stop from another goroutine) before Adopt takes the parent's lock
// again was adopted and has left: Adopt returns nil and logs no warning.
// It used to return an error wrapping ErrNotRunning that said the running
// parent was "stopping".
func TestAdoptOfAChildThatStopsAsItStartsSucceeds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// The child's "service started" log, which Start writes after the
		// child is Running and before it returns, is held until released.
		g := &gate{msg: "service started", service: "parent/job", entered: make(chan struct{}), released: make(chan struct{})}
		logger := zap.New(gateCore{Core: zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.DebugLevel), g: g})
		rt := sprag.NewRuntime(logger)
		parent := &plain{}
		require.NoError(t, sprag.Bind(parent, "parent", rt))
		require.NoError(t, parent.Start(context.Background()))

		child := &plain{}
		adopted := make(chan error, 1)
		go func() { adopted <- parent.Adopt(context.Background(), "job", child) }()
		<-g.entered
		require.Equal(t, sprag.Running, child.State())
		require.NoError(t, child.Stop(context.Background())) // the job is done
		<-child.Done()
		close(g.released)

		err := <-adopted
		assert.Equal(t, sprag.Running, parent.State())
		require.NoError(t, err, "the child was adopted, and has left")
		assert.Empty(t, parent.Children())
		require.NoError(t, parent.Stop(context.Background()))
	})
}

// TestUntilStoppedNameIsFreeWhenDoneCloses: the promise of
// sprag/registry.go:111-113 (UntilStopped) "makes
// [Registry.Provide] remove the entry when the service has stopped or
// failed to start (its Done closed), so that the name is free for a
// successor: a per-job service, a replaced connection."
//
// A goroutine that waits for a job's Done and then provides the successor
// under the name succeeds. The removal used to run just after Done closed,
// and Provide could fail with ErrDuplicateName. (Stop called from outside
// returns after the removal, so only a service that stops itself, the
// per-job case, showed it.) The window is widened here: the job was provided first to another registry,
// whose removal therefore runs first, and whose lock a goroutine keeps
// busy (a Resolve of a missing name lists its 5,000 names under it).
func TestUntilStoppedNameIsFreeWhenDoneCloses(t *testing.T) {
	t.Parallel()
	rt := sprag.NewRuntime(nil)
	slow, r := sprag.NewRegistry(), sprag.NewRegistry()
	filler := bound(t, "filler", &plain{})
	for i := range 5000 {
		require.NoError(t, slow.Provide(fmt.Sprint("n", i), filler))
	}
	busy := make(chan struct{})
	var busyDone sync.WaitGroup
	busyDone.Go(func() {
		for {
			select {
			case <-busy:
				return
			default:
				_, _ = slow.Resolve("missing")
			}
		}
	})
	defer busyDone.Wait()
	defer close(busy)
	for i := range 100 {
		job := &probe{onStart: func(_ context.Context, p *probe) error {
			_, err := p.Spawn(func(context.Context) error {
				return p.Stop(context.Background()) //nolint:contextcheck // the job is done: it stops itself, with no deadline
			})
			return err
		}}
		require.NoError(t, sprag.Bind(job, fmt.Sprint("job-", i), rt))
		require.NoError(t, slow.Provide(fmt.Sprint("import-", i), job, sprag.UntilStopped()))
		require.NoError(t, r.Provide("import", job, sprag.UntilStopped()))
		_ = job.Start(context.Background()) // ErrStopped when the job ends before OnStart returns
		<-job.Done()

		next := bound(t, fmt.Sprint("next-", i), &plain{})
		err := r.Provide("import", next, sprag.UntilStopped())
		require.NoError(t, err, "cycle %d: the name must be free once the job's Done has closed", i)
		_, err = r.Unregister("import")
		require.NoError(t, err)
		require.NoError(t, next.Stop(context.Background()))
	}
}
