package fxmodule_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// stage is a service of a chain: it takes the stage before it, so that
// the five start in order, and it may hang in OnStart, ignoring its
// context, until release is closed.
type stage struct {
	sprag.Service
	hang    chan struct{} // nil: OnStart returns at once
	stopCtx chan stopSeen // receives what OnStop's context was, when not nil
}

// stopSeen is what a stage's OnStop saw of its context.
type stopSeen struct {
	err      error
	deadline time.Duration // from the moment OnStop ran; 0 without one
}

func (s *stage) OnStart(context.Context) error {
	if s.hang != nil {
		<-s.hang
	}
	return nil
}

func (s *stage) OnStop(ctx context.Context) error {
	if s.stopCtx != nil {
		seen := stopSeen{err: ctx.Err()}
		if d, ok := ctx.Deadline(); ok {
			seen.deadline = time.Until(d)
		}
		s.stopCtx <- seen
	}
	return nil
}

// chain returns five stages "s1".."s5", started in that order (the order
// they are declared in, as none takes another), of which the third hangs
// until release is closed; the first reports its stop to first.
func chain(release chan struct{}, first chan stopSeen) []fx.Option {
	var opts []fx.Option
	for i := 1; i <= 5; i++ {
		s := &stage{}
		if i == 1 {
			s.stopCtx = first
		}
		if i == 3 {
			s.hang = release
		}
		opts = append(opts, fxmodule.Service(fmt.Sprintf("s%d", i), func() *stage { return s }))
	}
	return opts
}

// errorEntries returns the error-level entries of logs that mention
// service, in a field or in their error.
func errorEntries(logs *observer.ObservedLogs, service string) []observer.LoggedEntry {
	var out []observer.LoggedEntry
	for _, e := range logs.FilterLevelExact(zap.ErrorLevel).All() {
		m := e.ContextMap()
		if m["service"] == service || strings.Contains(fmt.Sprint(m["error"]), fmt.Sprintf("%q", service)) {
			out = append(out, e)
		}
	}
	return out
}

func TestStartTimeoutNamesTheServiceThatHung(t *testing.T) {
	t.Parallel()
	t.Run("App's Start", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			logger, logs := observed(t)
			release := make(chan struct{})
			defer endHang(release) // the hung OnStart returns, and its service is stopped, before the test ends
			app := fxmodule.App(append(chain(release, nil), fx.Supply(logger), fx.StartTimeout(time.Second))...)
			require.NoError(t, app.Err())
			ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
			defer cancel()

			err := app.Start(ctx)

			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Contains(t, err.Error(), `service "s3"`)
			assert.Len(t, errorEntries(logs, "s3"), 1, "one error-level line names the service that hung")
		})
	})
	t.Run("fx.New's Start", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			logger, logs := observed(t)
			release := make(chan struct{})
			defer endHang(release) // the hung OnStart returns, and its service is stopped, before the test ends
			app := fx.New(append(chain(release, nil), fxmodule.Module, fx.Supply(logger), fx.NopLogger, fx.StartTimeout(time.Second))...)
			require.NoError(t, app.Err())
			ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
			defer cancel()

			require.ErrorIs(t, app.Start(ctx), context.DeadlineExceeded) // fx returns the context's error alone
			synctest.Wait()
			assert.Len(t, errorEntries(logs, "s3"), 1, "one error-level line names the service that hung")
		})
	})
}

func TestStartTimeoutRollbackStopsWithAFreshContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		build func(opts ...fx.Option) interface {
			Start(context.Context) error
			StartTimeout() time.Duration
		}
		want time.Duration
	}{
		{"App reads fx.StopTimeout", func(opts ...fx.Option) interface {
			Start(context.Context) error
			StartTimeout() time.Duration
		} {
			return fxmodule.App(append(opts, fx.StopTimeout(7*time.Second))...)
		}, 7 * time.Second},
		{"fx.New with fxmodule.StopTimeout", func(opts ...fx.Option) interface {
			Start(context.Context) error
			StartTimeout() time.Duration
		} {
			return fx.New(append(opts, fxmodule.Module, fx.NopLogger, fxmodule.StopTimeout(7*time.Second))...)
		}, 7 * time.Second},
		{"fx.New with fx's default", func(opts ...fx.Option) interface {
			Start(context.Context) error
			StartTimeout() time.Duration
		} {
			return fx.New(append(opts, fxmodule.Module, fx.NopLogger)...)
		}, fx.DefaultTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				logger, _ := observed(t)
				release := make(chan struct{})
				defer endHang(release) // the hung OnStart returns, and its service is stopped, before the test ends
				first := make(chan stopSeen, 1)
				app := tt.build(append(chain(release, first), fx.Supply(logger), fx.StartTimeout(time.Second))...)
				ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
				defer cancel()

				require.ErrorIs(t, app.Start(ctx), context.DeadlineExceeded)

				seen := <-first // s1 had started; the rollback stops it
				require.NoError(t, seen.err, "OnStop gets a context that has not ended")
				assert.Equal(t, tt.want, seen.deadline, "bounded by the app's stop timeout")
			})
		})
	}
}

// plainContext is a context.Context that the context package does not
// know, as a caller's own context type may be: context.AfterFunc watches
// it with a goroutine of its own until the stop function is called.
type plainContext struct{ done chan struct{} }

func (plainContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c plainContext) Done() <-chan struct{}     { return c.done }
func (plainContext) Err() error                  { return nil }
func (plainContext) Value(any) any               { return nil }

// TestNothingRunsAfterStop is not parallel: it checks that no goroutine
// but the test's own runs once the app has stopped.
func TestNothingRunsAfterStop(t *testing.T) {
	ctx := plainContext{done: make(chan struct{})}
	defer close(ctx.done)
	logger, _ := observed(t)
	app := fx.New(fxmodule.Module, fx.Supply(logger), fx.NopLogger,
		fxmodule.Service("s1", func() *stage { return &stage{} }))
	require.NoError(t, app.Start(ctx))
	require.NoError(t, app.Stop(ctx))

	goleak.VerifyNone(t)
}

// TestStartReturnsWhenTheRollbackOutlastsTheStartContext: a service's
// start fails while the start context is live, so fx rolls back with it,
// and a hook appended before Module's own (the stop hook of the app's
// logger) holds the rollback until that context ends. Start returns all
// the same: the watch of the start context never fired, and there is no
// rollback of fxmodule's to wait for. Its error names the failure first.
func TestStartReturnsWhenTheRollbackOutlastsTheStartContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		logger, _ := observed(t)
		j := &journal{}
		app := fxmodule.App(
			fx.Provide(func(lc fx.Lifecycle) *zap.Logger {
				lc.Append(fx.StopHook(func(ctx context.Context) error {
					<-ctx.Done() // a flush that lasts until the rollback's context ends
					return nil
				}))
				return logger
			}),
			fxmodule.Service("ok", func() *node { return &node{j: j} }),
			fxmodule.Service("bad", func() *node { return &node{j: j, startErr: errors.New("port in use")} }),
		)
		require.NoError(t, app.Err())
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()

		err := app.Start(ctx)

		require.ErrorContains(t, err, "port in use", "the service's failure comes first")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Error(t, ctx.Err(), "the start context ended before Start returned")
		assert.Equal(t, []string{"start ok", "start bad", "stop ok"}, j.get())
	})
}

// endHang lets a hung OnStart return, in a synctest bubble, and waits
// until what follows (its service started, then stopped, and logged) is
// done: a log on the test's T after the test has returned is a data race.
func endHang(release chan struct{}) {
	close(release)
	synctest.Wait()
}
