package sprag_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
	"strings"
)

func TestLifecycleStates(t *testing.T) {
	t.Parallel()
	var during sprag.State
	p := &probe{onStart: func(_ context.Context, p *probe) error {
		during = p.State()
		return nil
	}}
	assert.Equal(t, sprag.Created, p.State())
	bound(t, "svc", p)
	assert.Equal(t, sprag.Created, p.State())

	require.NoError(t, p.Start(context.Background()))
	assert.Equal(t, sprag.Starting, during, "OnStart runs while starting")
	assert.Equal(t, sprag.Running, p.State())
	assert.Equal(t, "svc", p.Name())

	require.NoError(t, p.Stop(context.Background()))
	assert.Equal(t, sprag.Stopped, p.State())
	<-p.Done()
}

func TestStateNames(t *testing.T) {
	t.Parallel()
	for st, want := range map[sprag.State]string{
		sprag.Created: "created", sprag.Starting: "starting", sprag.Running: "running",
		sprag.Stopping: "stopping", sprag.Stopped: "stopped", sprag.Failed: "failed", sprag.State(42): "State(42)",
	} {
		assert.Equal(t, want, st.String())
	}
	text, err := sprag.Running.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "running", string(text))
}

func TestStartWithoutBindIsAnError(t *testing.T) {
	t.Parallel()
	p := &probe{}
	require.ErrorIs(t, p.Start(context.Background()), sprag.ErrNotBound)
	assert.NoError(t, p.Stop(context.Background()), "stopping what never started is harmless")
}

func TestBindBadInput(t *testing.T) {
	t.Parallel()
	rt := sprag.NewRuntime(nil)
	require.ErrorIs(t, sprag.Bind(nil, "x", rt), sprag.ErrInvalidArgument)
	var nilProbe *probe
	require.ErrorIs(t, sprag.Bind(nilProbe, "x", rt), sprag.ErrInvalidArgument)
	require.ErrorIs(t, sprag.Bind(&probe{}, "", rt), sprag.ErrInvalidArgument)

	p := &probe{}
	require.NoError(t, sprag.Bind(p, "first", rt))
	err := sprag.Bind(p, "second", rt)
	require.ErrorIs(t, err, sprag.ErrAlreadyBound)
	assert.Contains(t, err.Error(), `"first"`)
}

func TestBindFillsInAMissingBusAndLogger(t *testing.T) {
	t.Parallel()
	p := &plain{}
	require.NoError(t, sprag.Bind(p, "p", sprag.Runtime{}))
	assert.NotNil(t, p.Runtime().Bus)
	assert.NotNil(t, p.Runtime().Logger)
	assert.NotNil(t, p.Logger())
}

func TestStartIsIdempotentAndRunsOnStartOnce(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	release := make(chan struct{})
	p := &probe{onStart: func(context.Context, *probe) error {
		calls.Add(1)
		<-release
		return nil
	}}
	bound(t, "svc", p)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- p.Start(context.Background()) })
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), calls.Load())
	require.NoError(t, p.Start(context.Background()), "starting a running service is a no-op")
	require.NoError(t, p.Stop(context.Background()))
}

func TestStoppedServiceDoesNotStartAgain(t *testing.T) {
	t.Parallel()
	p := bound(t, "svc", &probe{})
	require.NoError(t, p.Start(context.Background()))
	require.NoError(t, p.Stop(context.Background()))
	err := p.Start(context.Background())
	require.ErrorIs(t, err, sprag.ErrStopped)
	assert.Contains(t, err.Error(), `"svc"`)

	never := bound(t, "never", &probe{})
	require.NoError(t, never.Stop(context.Background()), "stopping a created service is allowed")
	assert.Equal(t, sprag.Stopped, never.State())
	require.ErrorIs(t, never.Start(context.Background()), sprag.ErrStopped)
}

func TestStopIsIdempotentFromManyGoroutines(t *testing.T) {
	t.Parallel()
	var stops atomic.Int32
	p := &probe{onStop: func(context.Context, *probe) error {
		stops.Add(1)
		return nil
	}}
	bound(t, "svc", p)
	require.NoError(t, p.Start(context.Background()))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { assert.NoError(t, p.Stop(context.Background())) })
	}
	wg.Wait()
	<-p.Done()
	assert.Equal(t, int32(1), stops.Load())
	assert.Equal(t, sprag.Stopped, p.State())
}

// failingStart registers one of everything, then fails with err or panics.
func failingStart(j *journal, fail func() error) func(context.Context, *probe) error {
	return func(ctx context.Context, p *probe) error {
		must(p.Interval(time.Second, func(context.Context) error {
			j.add("interval ran")
			return nil
		}))
		must(p.Spawn(func(ctx context.Context) error {
			<-ctx.Done()
			j.add("task cancelled")
			return ctx.Err()
		}, sprag.Label("waiter")))
		if _, err := p.Listen("ping", func(context.Context, any) error {
			j.add("listener called")
			return nil
		}); err != nil {
			return err
		}
		child := &probe{onStop: func(context.Context, *probe) error {
			j.add("child stopped")
			return nil
		}}
		if err := p.Adopt(ctx, "child", child); err != nil {
			return err
		}
		if err := p.AddCleanup(func(context.Context) error {
			j.add("cleanup ran")
			return nil
		}); err != nil {
			return err
		}
		return fail()
	}
}

func TestOnStartFailureTearsDownWhatItRegistered(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name      string
		give      func() error
		wantIs    error
		wantPanic bool
	}{
		{"error", func() error { return boom }, boom, false},
		{"panic", func() error { panic("kaput") }, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var j journal
				p := &probe{}
				p.onStart = failingStart(&j, tt.give)
				rt, logs := spragtest.ObservedRuntime(t)
				require.NoError(t, sprag.Bind(p, "svc", rt))

				err := p.Start(context.Background())

				require.Error(t, err)
				assert.Contains(t, err.Error(), `start service "svc"`)
				if tt.wantIs != nil {
					require.ErrorIs(t, err, tt.wantIs)
				}
				if tt.wantPanic {
					var pe *sprag.PanicError
					require.ErrorAs(t, err, &pe)
					assert.Equal(t, "kaput", pe.Value)
					panicked := logs.FilterMessage("OnStart panicked").All()
					require.Len(t, panicked, 1, "logged with its stack")
					assert.Contains(t, panicked[0].ContextMap()["stack"], "lifecycle_test.go")
				}
				assert.Equal(t, sprag.Failed, p.State())
				<-p.Done()
				assert.Equal(t, []string{"task cancelled", "child stopped", "cleanup ran"}, j.get())

				time.Sleep(time.Minute) // the interval would have run 60 times
				require.NoError(t, rt.Bus.Emit(context.Background(), "ping", nil))
				synctest.Wait()
				assert.Equal(t, []string{"task cancelled", "child stopped", "cleanup ran"}, j.get(),
					"no interval run and no listener call after the failed start")
				assert.Equal(t, 0, rt.Bus.Len())

				again := p.Start(context.Background())
				require.Error(t, again)
				assert.Equal(t, err.Error(), again.Error(), "a failed service keeps its start error")
				require.NoError(t, p.Stop(context.Background()), "stopping a failed service is harmless")
			})
		})
	}
}

// TestTeardownOrder checks the order of the design: OnStop, timers, the
// service context, listeners, waiting for tasks, children (last first),
// cleanups (last first).
func TestTeardownOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		rt := spragtest.Runtime(t)
		var svcCtx context.Context
		p := &probe{}
		p.onStart = func(ctx context.Context, p *probe) error {
			svcCtx = p.Context()
			must(p.Interval(time.Minute, func(context.Context) error {
				j.add("interval")
				return nil
			}))
			must(p.Spawn(func(ctx context.Context) error {
				<-ctx.Done()
				time.Sleep(time.Second) // still running when listeners go
				j.add("task ends")
				return nil
			}))
			if _, err := p.Listen("ping", func(context.Context, any) error { return nil }); err != nil {
				return err
			}
			for _, name := range []string{"first", "second"} {
				child := &probe{onStop: func(context.Context, *probe) error {
					assert.Equal(t, 0, rt.Bus.Len(), "listeners are gone before children stop")
					j.add("child " + name)
					return nil
				}}
				if err := p.Adopt(ctx, name, child); err != nil {
					return err
				}
			}
			for _, name := range []string{"first", "second"} {
				if err := p.AddCleanup(func(context.Context) error {
					j.add("cleanup " + name)
					return nil
				}); err != nil {
					return err
				}
			}
			return nil
		}
		p.onStop = func(context.Context, *probe) error {
			assert.NoError(t, svcCtx.Err(), "the service context is alive during OnStop") //nolint:testifylint // OnStop runs on its own goroutine: require would not stop the test
			assert.Equal(t, 1, rt.Bus.Len(), "listeners are alive during OnStop")
			j.add("OnStop")
			return nil
		}
		require.NoError(t, sprag.Bind(p, "svc", rt))
		require.NoError(t, p.Start(context.Background()))
		time.Sleep(90 * time.Second)

		require.NoError(t, p.Stop(context.Background()))
		assert.Equal(t, sprag.Stopped, p.State())
		assert.Equal(t, []string{
			"interval", "OnStop", "task ends", "child second", "child first", "cleanup second", "cleanup first",
		}, j.get())
		require.Error(t, svcCtx.Err())
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.NotContains(t, j.get()[1:], "interval", "the interval stopped")
	})
}

func TestEveryTeardownStepRunsAndErrorsAreJoined(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		onStopErr, childErr, cleanupErr := errors.New("onstop"), errors.New("child"), errors.New("cleanup")
		p := &probe{}
		p.onStart = func(ctx context.Context, p *probe) error {
			child := &probe{onStop: func(context.Context, *probe) error { return childErr }}
			require.NoError(t, p.Adopt(ctx, "child", child))
			require.NoError(t, p.AddCleanup(func(context.Context) error {
				j.add("first cleanup")
				return nil
			}))
			require.NoError(t, p.AddCleanup(func(context.Context) error { panic("cleanup panic") }))
			require.NoError(t, p.AddCleanup(func(context.Context) error { return cleanupErr }))
			return nil
		}
		p.onStop = func(context.Context, *probe) error { return onStopErr }
		spragtest.Start(t, "svc", p)

		err := p.Stop(context.Background())

		require.ErrorIs(t, err, onStopErr)
		require.ErrorIs(t, err, childErr)
		require.ErrorIs(t, err, cleanupErr)
		var pe *sprag.PanicError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "cleanup panic", pe.Value)
		assert.Contains(t, err.Error(), `stop service "svc"`)
		assert.Equal(t, []string{"first cleanup"}, j.get(), "the cleanup after the failing ones still ran")
	})
}

func TestOnStopPanicIsRecovered(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &probe{onStop: func(context.Context, *probe) error { panic("in OnStop") }}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		var err error
		require.NotPanics(t, func() { err = p.Stop(context.Background()) })
		var pe *sprag.PanicError
		require.ErrorAs(t, err, &pe)
		entries := logs.FilterMessage("OnStop panicked").All()
		require.Len(t, entries, 1)
		assert.Equal(t, "svc", entries[0].ContextMap()["service"])
		assert.Contains(t, entries[0].ContextMap()["stack"], "lifecycle_test.go")
	})
}

func TestStopHonoursItsDeadlineAndNamesStuckWork(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			must(p.Spawn(func(context.Context) error {
				<-release // ignores its context
				return nil
			}, sprag.Label("stubborn")))
			return nil
		}}
		spragtest.Start(t, "svc", p)

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err := p.Stop(ctx)

		assert.Equal(t, 5*time.Second, time.Since(start), "Stop returned at its deadline, not later")
		require.ErrorIs(t, err, sprag.ErrStillRunning)
		var stuck *sprag.StuckError
		require.ErrorAs(t, err, &stuck)
		assert.Equal(t, "svc", stuck.Service)
		assert.Equal(t, []sprag.Activity{{Kind: sprag.KindTask, Label: "stubborn"}}, stuck.Running)
		assert.Contains(t, err.Error(), `service "svc"`)
		assert.Contains(t, err.Error(), "task stubborn")

		close(release)
		<-p.Done()
		assert.Equal(t, sprag.Stopped, p.State())
	})
}

func TestStopWithExpiredContextStillCancelsEverythingAndRunsCleanups(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		var ticks atomic.Int32
		p := &probe{onStart: func(ctx context.Context, p *probe) error {
			must(p.Interval(time.Second, func(context.Context) error {
				ticks.Add(1)
				return nil
			}))
			must(p.Timeout(time.Hour, func(context.Context) error {
				j.add("timeout ran")
				return nil
			}))
			must(p.Spawn(func(ctx context.Context) error {
				<-ctx.Done()
				j.add("task cancelled")
				return nil
			}))
			require.NoError(t, p.Adopt(ctx, "child", &probe{onStop: func(context.Context, *probe) error {
				j.add("child stopped")
				return nil
			}}))
			require.NoError(t, p.AddCleanup(func(context.Context) error {
				j.add("cleanup 1")
				return nil
			}))
			require.NoError(t, p.AddCleanup(func(context.Context) error {
				j.add("cleanup 2")
				return nil
			}))
			return nil
		}}
		spragtest.Start(t, "svc", p)
		time.Sleep(1500 * time.Millisecond)

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = p.Stop(ctx) // may name the task, which had no time to end
		<-p.Done()
		seen := ticks.Load()
		time.Sleep(2 * time.Hour)
		synctest.Wait()

		assert.Equal(t, seen, ticks.Load(), "no tick after Stop")
		steps := j.get()
		assert.Contains(t, steps, "task cancelled")
		assert.NotContains(t, steps, "timeout ran")
		assert.Equal(t, []string{"child stopped", "cleanup 2", "cleanup 1"}, without(steps, "task cancelled"),
			"children and cleanups ran, in order")
		assert.Equal(t, sprag.Stopped, p.State())
	})
}

func without(steps []string, drop string) []string {
	var out []string
	for _, s := range steps {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

func TestStopDuringStart(t *testing.T) {
	t.Parallel()
	t.Run("OnStart gives up when told", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			started := make(chan struct{})
			p := &probe{onStart: func(ctx context.Context, _ *probe) error {
				close(started)
				<-ctx.Done() // Stop cancels OnStart's context
				return ctx.Err()
			}}
			bound(t, "svc", p)
			startErr := make(chan error, 1)
			go func() { startErr <- p.Start(context.Background()) }()
			<-started

			require.NoError(t, p.Stop(context.Background()))
			err := <-startErr
			require.ErrorIs(t, err, context.Canceled)
			assert.Equal(t, sprag.Stopped, p.State())
			require.ErrorIs(t, p.Start(context.Background()), sprag.ErrStopped)
		})
	})
	t.Run("OnStart that completes is followed by OnStop", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			var j journal
			started, proceed := make(chan struct{}), make(chan struct{})
			p := &probe{
				onStart: func(_ context.Context, p *probe) error {
					close(started)
					<-proceed
					_, _ = p.Interval(time.Second, func(context.Context) error { return nil })
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
			stopErr := make(chan error, 1)
			go func() { stopErr <- p.Stop(context.Background()) }()
			synctest.Wait()
			close(proceed)

			require.ErrorIs(t, <-startErr, sprag.ErrStopped)
			require.NoError(t, <-stopErr)
			assert.Equal(t, []string{"OnStart done", "OnStop"}, j.get())
			assert.Equal(t, sprag.Stopped, p.State())
		})
	})
	t.Run("Stop's deadline passes while OnStart ignores it", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			started, proceed := make(chan struct{}), make(chan struct{})
			var lateErr error
			p := &probe{onStart: func(_ context.Context, p *probe) error {
				close(started)
				<-proceed
				_, lateErr = p.Interval(time.Second, func(context.Context) error { return nil })
				return nil
			}}
			bound(t, "svc", p)
			startErr := make(chan error, 1)
			go func() { startErr <- p.Start(context.Background()) }()
			<-started

			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err := p.Stop(ctx)
			require.ErrorIs(t, err, sprag.ErrStillRunning, "Stop names the OnStart it could not wait for")
			assert.Contains(t, err.Error(), "still running at the stop deadline: OnStart")
			synctest.Wait()
			select {
			case <-p.Done():
				t.Fatal("Done closed while OnStart runs")
			default:
			}

			close(proceed)
			require.ErrorIs(t, <-startErr, sprag.ErrStopped)
			require.ErrorIs(t, lateErr, sprag.ErrNotRunning, "what OnStart registers after the stop is refused")
			<-p.Done()
			assert.Equal(t, sprag.Stopped, p.State())
		})
	})
}

// byPointer embeds a *sprag.Service, which stays nil: Bind refuses it.
type byPointer struct{ *sprag.Service }

func TestBindRefusesANilEmbeddedService(t *testing.T) {
	t.Parallel()
	err := sprag.Bind(&byPointer{}, "svc", sprag.NewRuntime(nil))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "embeds a nil *sprag.Service")
}

func TestStopDuringAStuckStartNamesOnStartOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		started, proceed := make(chan struct{}), make(chan struct{})
		p := &probe{onStart: func(context.Context, *probe) error {
			close(started)
			<-proceed // ignores its context
			return nil
		}}
		bound(t, "svc", p)
		startErr := make(chan error, 1)
		go func() { startErr <- p.Start(context.Background()) }()
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := p.Stop(ctx)
		require.ErrorIs(t, err, sprag.ErrStillRunning)
		assert.Equal(t, 1, strings.Count(err.Error(), "OnStart"), err.Error())
		close(proceed)
		require.ErrorIs(t, <-startErr, sprag.ErrStopped)
		<-p.Done()
	})
}
