package sprag_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.uber.org/zap/zapcore"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// The tests of this file hold promises of the documentation that no other
// test held, each as the documentation states it.

type ctxKey struct{}

// TestStopFromOwnWorkWhileAnotherStopWaitsForIt: a Stop from the
// service's own work returns at once, also when another Stop, called from
// outside, is already waiting for that very run.
func TestStopFromOwnWorkWhileAnotherStopWaitsForIt(t *testing.T) {
	t.Parallel()
	kinds := []struct {
		name  string
		setup func(p *probe, release <-chan struct{}, stop func() error)
	}{
		{"task", func(p *probe, _ <-chan struct{}, stop func() error) {
			must(p.Spawn(func(ctx context.Context) error { <-ctx.Done(); return stop() }))
		}},
		{"interval", func(p *probe, _ <-chan struct{}, stop func() error) {
			must(p.Interval(time.Second, func(ctx context.Context) error { <-ctx.Done(); return stop() }))
		}},
		{"listener", func(p *probe, release <-chan struct{}, stop func() error) {
			must(p.Listen("job", func(context.Context, any) error { <-release; return stop() }))
			go func() { _ = p.Emit(context.Background(), "job", nil) }()
		}},
		{"callback", func(p *probe, release <-chan struct{}, stop func() error) {
			cb := must(p.Scope().Callback("hook", nil))
			go func() {
				_ = sprag.Call(context.Background(), cb, func(context.Context, struct{}) error { <-release; return stop() }, struct{}{})
			}()
		}},
	}
	for _, tt := range kinds {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				inner := make(chan error, 1)
				p := &probe{}
				stop := func() error {
					inner <- p.Stop(context.Background())
					return nil
				}
				p.onStart = func(_ context.Context, p *probe) error {
					tt.setup(p, release, stop)
					return nil
				}
				spragtest.Start(t, "svc", p)
				time.Sleep(1500 * time.Millisecond) // the interval's run is under way

				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				begin := time.Now()
				outer := make(chan error, 1)
				go func() { outer <- p.Stop(ctx) }()
				synctest.Wait() // the outer Stop waits for the run
				close(release)

				require.NoError(t, <-outer, "the run was not stuck: it stopped its service and returned")
				assert.Zero(t, time.Since(begin), "the outer Stop was not held until its deadline")
				require.NoError(t, <-inner)
				<-p.Done()
				assert.Equal(t, sprag.Stopped, p.State())
			})
		})
	}
}

// TestSpawnAfterCancelledAsItFiresRunsOrEndsUnrun: a SpawnAfter task that
// is cancelled, or whose service stops, as its delay passes either runs
// or never starts. Its result says which, and Done closes only once fn
// has returned.
func TestSpawnAfterCancelledAsItFiresRunsOrEndsUnrun(t *testing.T) {
	t.Parallel()
	for _, byStop := range []bool{false, true} {
		t.Run(fmt.Sprintf("by stop %v", byStop), func(t *testing.T) {
			t.Parallel()
			for range 20 {
				synctest.Test(t, func(t *testing.T) {
					const n = 300
					var ran [n]atomic.Bool
					tasks := make([]*sprag.Task, n)
					p := started(t, func(p *probe) {
						for i := range n {
							tasks[i] = must(p.SpawnAfter(time.Second, func(context.Context) error {
								ran[i].Store(true)
								return nil
							}))
						}
					})
					time.Sleep(time.Second) // the tasks fire while the test goes on
					if byStop {
						spragtest.Stop(t, p, time.Minute)
					} else {
						for _, task := range tasks {
							task.Cancel()
						}
					}
					for i, task := range tasks {
						err := task.Wait(context.Background())
						require.Equal(t, err == nil, ran[i].Load(), "task %d: %v", i, err)
						if err != nil {
							want := context.Canceled
							if byStop {
								want = sprag.ErrStopped
							}
							require.ErrorIs(t, err, want)
						}
					}
					synctest.Wait()
					for i, task := range tasks {
						require.Equal(t, task.Err() == nil, ran[i].Load(), "task %d ran after it ended unrun: %v", i, task.Err())
					}
				})
			}
		})
	}
}

// gatedMeters is a MeterProvider whose sprag.tasks.active counter holds
// each goroutine that counts a task in until gate is closed: it holds a
// SpawnAfter task between its timer's firing and its start.
type gatedMeters struct {
	noop.MeterProvider
	gate chan struct{}
}

func (g gatedMeters) Meter(string, ...metric.MeterOption) metric.Meter {
	return gatedMeter{gate: g.gate}
}

type gatedMeter struct {
	noop.Meter
	gate chan struct{}
}

func (m gatedMeter) Int64UpDownCounter(name string, _ ...metric.Int64UpDownCounterOption) (metric.Int64UpDownCounter, error) {
	if name == "sprag.tasks.active" {
		return gatedCounter{gate: m.gate}, nil
	}
	return noop.Int64UpDownCounter{}, nil
}

// Int64Counter makes the scope record metrics: it asks sprag.work.runs.
func (gatedMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return enabledCounter{}, nil
}

type enabledCounter struct{ noop.Int64Counter }

func (enabledCounter) Enabled(context.Context) bool { return true }

type gatedCounter struct {
	noop.Int64UpDownCounter
	gate chan struct{}
}

func (gatedCounter) Enabled(context.Context) bool { return true }

func (c gatedCounter) Add(_ context.Context, n int64, _ ...metric.AddOption) {
	if n > 0 {
		<-c.gate
	}
}

func TestSpawnAfterCancelledBetweenItsFiringAndItsStart(t *testing.T) {
	t.Parallel()
	for _, byStop := range []bool{false, true} {
		t.Run(fmt.Sprintf("by stop %v", byStop), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				gate := make(chan struct{})
				rt := sprag.NewRuntime(nil, sprag.WithMeterProvider(gatedMeters{gate: gate}))
				var ran, cancelled atomic.Bool
				var task *sprag.Task
				p := &probe{onStart: func(_ context.Context, p *probe) error {
					task = must(p.SpawnAfter(time.Second, func(ctx context.Context) error {
						ran.Store(true)
						cancelled.Store(ctx.Err() != nil)
						return nil
					}))
					return nil
				}}
				spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
				time.Sleep(time.Second)
				synctest.Wait() // the timer fired; the task is held before it starts
				stopped := make(chan error, 1)
				if byStop {
					go func() { stopped <- p.Stop(context.Background()) }()
					synctest.Wait()
				} else {
					assert.True(t, task.Cancel())
					stopped <- nil
				}
				close(gate)

				err := task.Wait(context.Background())
				require.NoError(t, <-stopped)
				synctest.Wait() // a run that began after all
				assert.Equal(t, err == nil, ran.Load(), "it ran, or its result says it did not: %v", err)
				if ran.Load() {
					assert.True(t, cancelled.Load(), "it ran with its context cancelled")
				}
			})
		})
	}
}

func TestNilHandlesAreInert(t *testing.T) {
	t.Parallel()
	var (
		timer *sprag.Timer
		task  *sprag.Task
		cb    *sprag.Callback
	)
	require.NotPanics(t, func() {
		assert.False(t, timer.Cancel())
		assert.False(t, timer.Active())
		assert.Empty(t, timer.Label())

		assert.False(t, task.Cancel())
		require.NoError(t, task.Wait(context.Background()))
		require.NoError(t, task.Err())
		assert.Empty(t, task.Label())
		assert.Nil(t, task.Done())

		assert.False(t, cb.Close())
		assert.Empty(t, cb.Label())
		called := false
		require.NoError(t, sprag.Call(context.Background(), cb, func(context.Context, int) error {
			called = true
			return errors.New("called")
		}, 1))
		assert.False(t, called, "Call calls nothing through a nil callback")
	})
}

// TestASecondStopWaitsForTheFirst: until its own context ends, a second
// Stop waits for the first, which returns once the service is Stopped.
func TestASecondStopWaitsForTheFirst(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := &probe{onStop: func(context.Context, *probe) error {
			time.Sleep(time.Minute)
			return nil
		}}
		spragtest.Start(t, "svc", p)
		begin := time.Now()
		first := make(chan error, 1)
		go func() { first <- p.Stop(context.Background()) }()
		synctest.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, p.Stop(ctx))
		assert.Equal(t, 10*time.Second, time.Since(begin), "until its own deadline")
		assert.Equal(t, sprag.Stopping, p.State())

		require.NoError(t, p.Stop(context.Background()))
		assert.Equal(t, time.Minute, time.Since(begin), "or until the first has finished")
		assert.Equal(t, sprag.Stopped, p.State())
		require.NoError(t, <-first)
	})
	t.Run("from many goroutines", func(t *testing.T) {
		t.Parallel()
		for round := range 1000 {
			release, inOnStop := make(chan struct{}), make(chan struct{})
			p := &probe{onStop: func(context.Context, *probe) error {
				close(inOnStop)
				<-release
				return nil
			}}
			bound(t, "svc", p)
			require.NoError(t, p.Start(context.Background()))
			go func() { _ = p.Stop(context.Background()) }()
			<-inOnStop
			second := make(chan sprag.State)
			go func() {
				assert.NoError(t, p.Stop(context.Background()))
				second <- p.State()
			}()
			close(release)
			require.Equal(t, sprag.Stopped, <-second, "round %d: the second Stop returned before the service stopped", round)
		}
	})
}

func TestStartWaitingForAnotherStartHonoursItsContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		p := &probe{onStart: func(context.Context, *probe) error {
			<-release
			return nil
		}}
		bound(t, "svc", p)
		first := make(chan error, 1)
		go func() { first <- p.Start(context.Background()) }()
		synctest.Wait()

		cause := errors.New("the caller gave up")
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		err := p.Start(ctx)
		require.ErrorIs(t, err, cause)
		assert.Contains(t, err.Error(), `"svc"`)
		assert.Equal(t, sprag.Starting, p.State())

		close(release)
		require.NoError(t, <-first)
		require.NoError(t, p.Start(ctx), "Start on a running service returns nil at once")
		require.NoError(t, p.Stop(context.Background()))
	})
}

func TestTheTeardownOfAFailedStartIsBoundedByStartsContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		boom := errors.New("boom")
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			must(p.Spawn(func(context.Context) error {
				<-release // ignores its context
				return nil
			}, sprag.Label("stubborn")))
			return boom
		}}
		bound(t, "svc", p)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		begin := time.Now()
		err := p.Start(ctx)

		assert.Equal(t, 5*time.Second, time.Since(begin))
		require.ErrorIs(t, err, boom)
		require.ErrorIs(t, err, sprag.ErrStillRunning)
		assert.Contains(t, err.Error(), "task stubborn")
		assert.Equal(t, sprag.Failed, p.State())
		require.NoError(t, p.Stop(ctx), "Stop on a failed service returns nil")

		close(release)
		<-p.Done()
		assert.Equal(t, sprag.Failed, p.State(), "a failed service stays Failed")
	})
}

func TestOnStartThatStopsItsService(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		stopErr := errors.New("Stop did not return")
		p := &probe{
			onStart: func(ctx context.Context, p *probe) error {
				must(p.Interval(time.Second, func(context.Context) error {
					j.add("interval")
					return nil
				}))
				require.NoError(t, p.AddCleanup(func(context.Context) error {
					j.add("cleanup")
					return nil
				}))
				stopErr = p.Stop(context.WithoutCancel(ctx)) // returns at once
				require.Error(t, ctx.Err(), "Stop cancelled OnStart's context")
				j.add("OnStart returns")
				return nil
			},
			onStop: func(context.Context, *probe) error {
				j.add("OnStop")
				return nil
			},
		}
		bound(t, "svc", p)
		err := p.Start(context.Background())
		require.ErrorIs(t, err, sprag.ErrStopped)
		require.NoError(t, stopErr)
		<-p.Done()
		assert.Equal(t, sprag.Stopped, p.State())
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, []string{"OnStart returns", "OnStop", "cleanup"}, j.get(), "Start tore down once OnStart returned")
	})
}

func TestAStuckOnStopDoesNotHoldStopPastItsDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		var ticks atomic.Int32
		release := make(chan struct{})
		p := &probe{
			onStart: func(_ context.Context, p *probe) error {
				must(p.Interval(time.Second, func(context.Context) error {
					ticks.Add(1)
					return nil
				}))
				must(p.Spawn(func(ctx context.Context) error {
					<-ctx.Done()
					j.add("task ends")
					return nil
				}))
				return p.AddCleanup(func(context.Context) error {
					j.add("cleanup")
					return nil
				})
			},
			onStop: func(context.Context, *probe) error {
				<-release // ignores its context
				j.add("OnStop")
				return nil
			},
		}
		spragtest.Start(t, "svc", p)
		time.Sleep(1500 * time.Millisecond)
		seen := ticks.Load()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		begin := time.Now()
		err := p.Stop(ctx)

		assert.Equal(t, 10*time.Second, time.Since(begin))
		var stuck *sprag.StuckError
		require.ErrorAs(t, err, &stuck)
		assert.Contains(t, stuck.Running, sprag.Activity{Kind: sprag.KindOnStop})
		assert.Equal(t, seen, ticks.Load(), "no timer run began during OnStop")
		synctest.Wait()
		assert.Equal(t, []string{"task ends"}, j.get(), "steps 2 to 5 went on; the cleanup waits for OnStop")
		assert.Equal(t, sprag.Stopping, p.State())

		close(release)
		<-p.Done()
		assert.Equal(t, []string{"task ends", "OnStop", "cleanup"}, j.get())
		assert.Equal(t, sprag.Stopped, p.State())
	})
}

// blocker is a resource whose Close waits until the channel is closed.
type blocker chan struct{}

func (b blocker) Close() error { <-b; return nil }

func TestStopNamesTheChildOrCleanupInProgressAtItsDeadline(t *testing.T) {
	t.Parallel()
	t.Run("cleanup", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			var j journal
			release := make(blocker)
			p := started(t, func(p *probe) {
				require.NoError(t, p.AddCleanup(func(context.Context) error {
					j.add("first cleanup")
					return nil
				}))
				require.NoError(t, p.Own(release))
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			begin := time.Now()
			err := p.Stop(ctx)
			assert.Equal(t, 5*time.Second, time.Since(begin))
			var stuck *sprag.StuckError
			require.ErrorAs(t, err, &stuck)
			assert.Equal(t, []sprag.Activity{{Kind: sprag.KindCleanup, Label: "sprag_test.blocker"}}, stuck.Running)
			synctest.Wait()
			assert.Empty(t, j.get(), "the next cleanup waits for the one in progress")

			close(release)
			<-p.Done()
			assert.Equal(t, []string{"first cleanup"}, j.get(), "the rest ran, in order")
		})
	})
	t.Run("child", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			var j journal
			release := make(chan struct{})
			p := started(t, func(p *probe) {
				require.NoError(t, p.AddCleanup(func(context.Context) error {
					j.add("cleanup")
					return nil
				}))
				require.NoError(t, p.Adopt(context.Background(), "child", &probe{onStop: func(context.Context, *probe) error {
					<-release
					j.add("child stopped")
					return nil
				}}))
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := p.Stop(ctx)
			var stuck *sprag.StuckError
			require.ErrorAs(t, err, &stuck)
			assert.Equal(t, "svc", stuck.Service)
			assert.Equal(t, []sprag.Activity{{Kind: sprag.KindChild, Label: "svc/child"}}, stuck.Running)

			close(release)
			<-p.Done()
			assert.Equal(t, []string{"child stopped", "cleanup"}, j.get())
		})
	})
}

func TestStuckErrorNamesTasksInSpawnOrderThenTimersByLabelThenCallbacks(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		block := func(context.Context) error { <-release; return nil }
		p := started(t, func(p *probe) {
			must(p.Spawn(block, sprag.Label("b-task")))
			must(p.Spawn(block, sprag.Label("a-task")))
			must(p.Interval(time.Second, block, sprag.Label("z-timer")))
			must(p.Interval(time.Second, block, sprag.Label("a-timer")))
			must(p.Listen("ping", func(context.Context, any) error { <-release; return nil }))
		})
		time.Sleep(time.Second) // both timers run
		go func() { _ = p.Emit(context.Background(), "ping", nil) }()
		synctest.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var stuck *sprag.StuckError
		require.ErrorAs(t, p.Stop(ctx), &stuck)
		require.Len(t, stuck.Running, 5)
		assert.Equal(t, []sprag.Activity{
			{Kind: sprag.KindTask, Label: "b-task"},
			{Kind: sprag.KindTask, Label: "a-task"},
			{Kind: sprag.KindInterval, Label: "a-timer"},
			{Kind: sprag.KindInterval, Label: "z-timer"},
		}, stuck.Running[:4])
		assert.Equal(t, sprag.KindListener, stuck.Running[4].Kind)
		close(release)
		<-p.Done()
	})
}

// valueShutdowner records the value its Shutdown's context holds.
type valueShutdowner struct{ got *atomic.Value }

func (v valueShutdowner) Shutdown(ctx context.Context) error {
	v.got.Store(ctx.Value(ctxKey{}))
	return nil
}

func TestHooksAndCleanupsGetTheContextTheyArePromised(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var childStart, onStop, cleanup, shutdown, health atomic.Value
		p := &probe{
			onStart: func(ctx context.Context, p *probe) error {
				require.NoError(t, p.Emit(ctx, "svc:hello", ctx.Value(ctxKey{})))
				adoptCtx := context.WithValue(ctx, ctxKey{}, "adopt")
				child := &probe{onStart: func(ctx context.Context, _ *probe) error {
					childStart.Store(ctx.Value(ctxKey{}))
					return nil
				}}
				require.NoError(t, p.Adopt(adoptCtx, "child", child))
				require.NoError(t, p.AddCleanup(func(ctx context.Context) error {
					cleanup.Store(ctx.Value(ctxKey{}))
					return nil
				}))
				return p.Own(valueShutdowner{&shutdown})
			},
			onStop: func(ctx context.Context, _ *probe) error {
				onStop.Store(ctx.Value(ctxKey{}))
				return nil
			},
			health: func(ctx context.Context) error {
				health.Store(ctx.Value(ctxKey{}))
				return nil
			},
		}
		rt := spragtest.Runtime(t)
		hellos := spragtest.Record(t, rt.Bus, "svc:hello")
		require.NoError(t, sprag.Bind(p, "svc", rt))
		require.NoError(t, p.Start(context.WithValue(context.Background(), ctxKey{}, "start")))
		assert.Equal(t, []any{"start"}, hellos.Payloads(), "OnStart gets Start's context, and may emit")
		var heard atomic.Value
		_, err := p.Listen("ping", func(ctx context.Context, _ any) error {
			heard.Store(ctx.Value(ctxKey{}))
			return nil
		})
		require.NoError(t, err)
		require.NoError(t, rt.Bus.Emit(context.WithValue(context.Background(), ctxKey{}, "emit"), "ping", nil))
		assert.Equal(t, "emit", heard.Load(), "a listener gets the emitter's context")
		assert.True(t, p.Status(context.WithValue(context.Background(), ctxKey{}, "status")).Healthy)
		require.NoError(t, p.Stop(context.WithValue(context.Background(), ctxKey{}, "stop")))

		assert.Equal(t, "adopt", childStart.Load(), "a child's OnStart gets Adopt's context")
		assert.Equal(t, "status", health.Load(), "Health gets Status's context")
		assert.Equal(t, "stop", onStop.Load(), "OnStop gets Stop's context")
		assert.Equal(t, "stop", cleanup.Load(), "cleanups get Stop's context")
		assert.Equal(t, "stop", shutdown.Load(), "so do owned resources")
	})
}

func TestStopFromOnStopOrACleanupReturnsAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		inOnStop, inCleanup := errors.New("not called"), errors.New("not called")
		p := &probe{
			onStart: func(_ context.Context, p *probe) error {
				return p.AddCleanup(func(ctx context.Context) error {
					inCleanup = p.Stop(context.WithoutCancel(ctx))
					return nil
				})
			},
			onStop: func(ctx context.Context, p *probe) error {
				inOnStop = p.Stop(context.WithoutCancel(ctx))
				return nil
			},
		}
		spragtest.Start(t, "svc", p)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		begin := time.Now()
		require.NoError(t, p.Stop(ctx))
		assert.Zero(t, time.Since(begin))
		require.NoError(t, inOnStop)
		require.NoError(t, inCleanup)
		assert.Equal(t, sprag.Stopped, p.State())
	})
}

// Resources with several of the methods Own knows: the first in Own's
// order is the one called.
type (
	shutdownAndClose struct{ j *journal }
	stopCtxAndClose  struct{ j *journal }
	closeAndStop     struct{ j *journal }
)

func (r shutdownAndClose) Shutdown(context.Context) error { r.j.add("Shutdown"); return nil }
func (r shutdownAndClose) Close() error                   { r.j.add("Close instead of Shutdown"); return nil }
func (r stopCtxAndClose) Stop(context.Context) error      { r.j.add("Stop(ctx)"); return nil }
func (r stopCtxAndClose) Close() error                    { r.j.add("Close instead of Stop(ctx)"); return nil }
func (r closeAndStop) Close() error                       { r.j.add("Close"); return nil }
func (r closeAndStop) Stop()                              { r.j.add("Stop instead of Close") }

func TestOwnCallsTheFirstMethodInItsOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		p := started(t, func(p *probe) {
			for _, r := range []any{shutdownAndClose{&j}, stopCtxAndClose{&j}, closeAndStop{&j}} {
				require.NoError(t, p.Own(r))
			}
		})
		spragtest.Stop(t, p, time.Second)
		assert.Equal(t, []string{"Close", "Stop(ctx)", "Shutdown"}, j.get())
	})
}

func TestCallback(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		sc := sprag.NewScope("hooks", rt)
		var closes atomic.Int32
		cb, err := sc.Callback("hook", func() { closes.Add(1) })
		require.NoError(t, err)
		assert.Equal(t, "hook", cb.Label())

		boom := errors.New("boom")
		err = sprag.Call(context.Background(), cb, func(_ context.Context, v int) error {
			return fmt.Errorf("got %d: %w", v, boom)
		}, 7)
		require.ErrorIs(t, err, boom)
		var ce *sprag.CallbackError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, sprag.CallbackError{Service: "hooks", Kind: sprag.KindCallback, Label: "hook", Err: ce.Err}, *ce)
		assert.Equal(t, `service "hooks": callback hook: got 7: boom`, err.Error())

		err = sprag.Call(context.Background(), cb, func(context.Context, int) error { panic("hook panic") }, 0)
		require.ErrorAs(t, err, &ce)
		var pe *sprag.PanicError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "hook panic", pe.Value)
		failed := logs.FilterMessage("callback failed").All()
		require.Len(t, failed, 1)
		assert.Equal(t, "hooks", failed[0].ContextMap()["service"])
		assert.Equal(t, "hook", failed[0].ContextMap()["label"])
		panicked := logs.FilterMessage("callback panicked").All()
		require.Len(t, panicked, 1)
		assert.Contains(t, panicked[0].ContextMap()["stack"], "promises_test.go")

		forgotten, err := sc.Callback("forgotten", func() { t.Error("the onClose of a closed callback ran") })
		require.NoError(t, err)
		assert.True(t, forgotten.Close())
		assert.False(t, forgotten.Close(), "a second Close reports false")
		require.NoError(t, sprag.Call(context.Background(), forgotten, func(context.Context, int) error {
			t.Error("a closed callback was called")
			return nil
		}, 0))

		entered, release := make(chan struct{}), make(chan struct{})
		go func() {
			_ = sprag.Call(context.Background(), cb, func(context.Context, int) error {
				close(entered)
				<-release
				return nil
			}, 0)
		}()
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var stuck *sprag.StuckError
		require.ErrorAs(t, sc.Close(ctx), &stuck, "Close waits for a call under way until its deadline")
		assert.Equal(t, []sprag.Activity{{Kind: sprag.KindCallback, Label: "hook"}}, stuck.Running)
		assert.Equal(t, int32(1), closes.Load(), "onClose ran once, when the scope closed")
		require.NoError(t, sprag.Call(context.Background(), cb, func(context.Context, int) error {
			t.Error("a callback was called once its scope closed")
			return nil
		}, 0))
		_, err = sc.Callback("late", nil)
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		close(release)
		<-sc.Done()
		assert.Equal(t, int32(1), closes.Load())
	})
}

// Not parallel: it counts the allocations of the whole process.
func TestCallAllocatesNothing(t *testing.T) {
	sc := sprag.NewScope("hooks", sprag.NewRuntime(nil))
	defer func() { require.NoError(t, sc.Close(context.Background())) }()
	cb, err := sc.Callback("hook", nil)
	require.NoError(t, err)
	fn := func(context.Context, int) error { return nil }
	ctx := context.Background()
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = sprag.Call(ctx, cb, fn, 1) }))
}

func TestAdoptWhileTheParentBeginsToStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		entered, proceed := make(chan struct{}), make(chan struct{})
		child := &probe{
			onStart: func(context.Context, *probe) error {
				close(entered)
				<-proceed
				return nil
			},
			onStop: func(context.Context, *probe) error {
				j.add("child stopped")
				return nil
			},
		}
		p := started(t, func(*probe) {})
		adopted := make(chan error, 1)
		go func() { adopted <- p.Adopt(context.Background(), "child", child) }()
		<-entered
		spragtest.Stop(t, p, time.Second)
		close(proceed)

		require.ErrorIs(t, <-adopted, sprag.ErrNotRunning)
		<-child.Done()
		assert.Equal(t, sprag.Stopped, child.State())
		assert.Equal(t, []string{"child stopped"}, j.get())
		assert.Empty(t, p.Children())
	})
}

// recording is a Schedule that records the runs it is told of and ends
// after max of them.
type recording struct {
	mu   sync.Mutex
	d    time.Duration
	max  int
	runs []sprag.Run
}

func (r *recording) Next(now time.Time, last sprag.Run) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, last)
	if last.N == r.max {
		return time.Time{}
	}
	return now.Add(r.d)
}

func (r *recording) get() []sprag.Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sprag.Run(nil), r.runs...)
}

func TestScheduleIsToldOfEachRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		boom := errors.New("boom")
		var n atomic.Int32
		sched := &recording{d: time.Minute, max: 4}
		var timer, never *sprag.Timer
		started(t, func(p *probe) {
			timer = must(p.Schedule(sched, func(context.Context) error {
				switch n.Add(1) {
				case 1:
					time.Sleep(10 * time.Second)
				case 2:
					return boom
				case 3:
					panic("kaput")
				}
				return nil
			}, sprag.Label("job")))
			never = must(p.Schedule(recordingNever{}, func(context.Context) error {
				t.Error("a schedule with no time ran")
				return nil
			}))
		})
		time.Sleep(time.Hour)
		synctest.Wait()

		runs := sched.get()
		require.Len(t, runs, 5, "once before the first run, then after each")
		assert.Equal(t, sprag.Run{}, runs[0])
		for i, r := range runs[1:] {
			assert.Equal(t, i+1, r.N)
		}
		assert.Equal(t, begin.Add(time.Minute), runs[1].Start)
		require.NoError(t, runs[1].Err)
		assert.Equal(t, begin.Add(2*time.Minute+10*time.Second), runs[2].Start, "a minute after the first run returned")
		require.ErrorIs(t, runs[2].Err, boom)
		var pe *sprag.PanicError
		require.ErrorAs(t, runs[3].Err, &pe)
		require.NoError(t, runs[4].Err)
		assert.Equal(t, int32(4), n.Load(), "the zero time ended the timer")
		assert.False(t, timer.Active())
		assert.False(t, timer.Cancel(), "its schedule is over")

		require.NotNil(t, never)
		assert.False(t, never.Active(), "a schedule with no time at all")
	})
}

// recordingNever is a Schedule with no time at all.
type recordingNever struct{}

func (recordingNever) Next(time.Time, sprag.Run) time.Time { return time.Time{} }

func TestScopeReport(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := started(t, func(*probe) {})
		sc := p.Scope()
		remove, err := sc.Report("queue jobs", func() (any, error) { return map[string]int{"backlog": 3}, nil })
		require.NoError(t, err)
		_, err = sc.Report("queue jobs", func() (any, error) { return nil, nil })
		require.ErrorIs(t, err, sprag.ErrDuplicateName)
		_, err = sc.Report("nil", nil)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		_, err = sc.Report("watcher config", func() (any, error) { return "v1", errors.New("stalled") })
		require.NoError(t, err)
		_, err = sc.Report("panicky", func() (any, error) { panic("report panic") })
		require.NoError(t, err)
		_, err = sc.Report("odd", func() (any, error) { return make(chan int), nil })
		require.NoError(t, err)

		st := p.Status(context.Background())
		assert.False(t, st.Healthy)
		assert.Equal(t, map[string]int{"backlog": 3}, st.Details["queue jobs"])
		assert.Equal(t, "v1", st.Details["watcher config"])
		assert.IsType(t, "", st.Details["odd"], "a value JSON cannot encode appears in its fmt form")
		assert.Contains(t, st.Err.Error(), "watcher config: stalled")
		var pe *sprag.PanicError
		require.ErrorAs(t, st.Err, &pe)
		_, err = json.Marshal(st)
		require.NoError(t, err)

		remove()
		_, ok := p.Status(context.Background()).Details["queue jobs"]
		assert.False(t, ok, "the report was taken back")
		_, err = sc.Report("queue jobs", func() (any, error) { return nil, nil })
		require.NoError(t, err, "its name is free again")

		spragtest.Stop(t, p, time.Second)
		st = p.Status(context.Background())
		assert.Nil(t, st.Details, "figures only while it runs")
		_, err = sc.Report("late", func() (any, error) { return nil, nil })
		require.ErrorIs(t, err, sprag.ErrNotRunning)
	})
}

func TestScopeHelpersOfPrimitives(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, err := sprag.ScopeOf(nil, "queue")
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		assert.Contains(t, err.Error(), "new queue")
		var nilProbe *probe
		_, err = sprag.ScopeOf(nilProbe, "queue")
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)

		rt, logs := spragtest.ObservedRuntime(t)
		p := &probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		sc, err := sprag.ScopeOf(p, "queue")
		require.NoError(t, err)
		assert.Same(t, p.Scope(), sc)
		require.NoError(t, sc.Accepting("queue", "jobs"))

		err = sc.Invalid("queue", "jobs", "size must be positive, got %d", -1)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		assert.Equal(t, `service "svc": queue jobs: sprag: invalid argument: size must be positive, got -1`, err.Error())
		assert.Len(t, logs.FilterMessage("invalid argument").All(), 1)

		sc.LogFailure("queue", "jobs", errors.New("handler failed"))
		failed := logs.FilterMessage("queue failed").All()
		require.Len(t, failed, 1)
		assert.Equal(t, map[string]any{"service": "svc", "kind": "queue", "label": "jobs", "error": "handler failed"}, failed[0].ContextMap())
		sc.LogFailure("queue", "jobs", sprag.Safely(func() error { panic("handler panic") }))
		panicked := logs.FilterMessage("queue panicked").All()
		require.Len(t, panicked, 1)
		assert.Contains(t, panicked[0].ContextMap()["stack"], "promises_test.go")

		early := &probe{}
		require.NoError(t, sprag.Bind(early, "early", rt))
		require.ErrorIs(t, early.Scope().Accepting("queue", "jobs"), sprag.ErrNotRunning)
		err = early.Start(context.Background())
		require.ErrorIs(t, err, sprag.ErrNotRunning, "a primitive made before Start fails the start")
		assert.Contains(t, err.Error(), "queue jobs called before Start")

		spragtest.Stop(t, p, time.Second)
		require.ErrorIs(t, sc.Accepting("queue", "jobs"), sprag.ErrNotRunning)
		assert.Len(t, logs.FilterMessage("managed method called while not running").All(), 1)
	})
}

func TestCloseContext(t *testing.T) {
	t.Parallel()
	sc := sprag.NewScope("drain", sprag.NewRuntime(nil))
	assert.Equal(t, context.Background(), sc.CloseContext(), "before Close")
	seen := make(chan any, 1)
	must(sc.Spawn(func(ctx context.Context) error {
		<-ctx.Done()
		seen <- sc.CloseContext().Value(ctxKey{}) // set before the task's context ends
		return nil
	}))
	require.NoError(t, sc.Close(context.WithValue(context.Background(), ctxKey{}, "close")))
	assert.Equal(t, "close", <-seen)
}

func TestScopeClose(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := started(t, func(*probe) {})
		err := p.Scope().Close(context.Background())
		require.ErrorIs(t, err, sprag.ErrInvalidArgument, "a service's scope is closed by its Stop")
		assert.Contains(t, err.Error(), `"svc"`)
		assert.Equal(t, sprag.Running, p.State())

		sc := sprag.NewScope("own", sprag.NewRuntime(nil))
		release := make(chan struct{})
		must(sc.Spawn(func(context.Context) error { <-release; return nil }))
		first := make(chan error, 1)
		go func() { first <- sc.Close(context.Background()) }()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		begin := time.Now()
		require.NoError(t, sc.Close(ctx), "a second Close returns nil")
		assert.Equal(t, time.Second, time.Since(begin), "at its own deadline, while the first still waits")
		close(release)
		require.NoError(t, <-first)
		require.NoError(t, sc.Close(context.Background()))
		_, err = sc.Spawn(func(context.Context) error { return nil })
		require.ErrorIs(t, err, sprag.ErrNotRunning)
	})
}

func TestSafelyAndPanicErrors(t *testing.T) {
	t.Parallel()
	require.NoError(t, sprag.Safely(func() error { return nil }))
	boom := errors.New("boom")
	err := sprag.Safely(func() error { return boom })
	require.ErrorIs(t, err, boom)
	var pe *sprag.PanicError
	assert.NotErrorAs(t, err, &pe, "an error is returned as is")

	err = sprag.Safely(func() error { panic(boom) })
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, boom, pe.Value)
	require.ErrorIs(t, err, boom, "a PanicError unwraps to a value that is an error")
	assert.Contains(t, string(pe.Stack), "promises_test.go")

	synctest.Test(t, func(t *testing.T) {
		var task *sprag.Task
		started(t, func(p *probe) {
			task = must(p.Spawn(func(context.Context) error { panic(boom) }))
		})
		require.ErrorIs(t, task.Wait(context.Background()), boom)
	})
}

func TestKindNames(t *testing.T) {
	t.Parallel()
	for k, want := range map[sprag.Kind]string{
		sprag.KindOnStart: "OnStart", sprag.KindOnStop: "OnStop", sprag.KindInterval: "interval",
		sprag.KindTimeout: "timeout", sprag.KindTask: "task", sprag.KindListener: "listener",
		sprag.KindCleanup: "cleanup", sprag.KindChild: "child", sprag.KindHealth: "health",
		sprag.KindCallback: "callback", sprag.Kind(0): "Kind(0)", sprag.Kind(99): "Kind(99)",
	} {
		assert.Equal(t, want, k.String())
	}
	err := &sprag.CallbackError{Service: "svc", Kind: sprag.KindCleanup, Err: errors.New("boom")}
	assert.Equal(t, `service "svc": cleanup: boom`, err.Error(), "no label")
}

func TestCheckNameEdges(t *testing.T) {
	t.Parallel()
	for _, good := range []string{strings.Repeat("a", 128), "café", "日本"} {
		require.NoError(t, sprag.CheckName(good), good)
	}
	for _, bad := range []string{strings.Repeat("a", 129), "a\xffb", "a\u00a0b", "a\u2028b", "a\ufffdb", "a\x00b"} {
		require.ErrorIs(t, sprag.CheckName(bad), sprag.ErrInvalidArgument, "%q", bad)
	}
	ctx := context.Background()
	parent := started(t, func(*probe) {})
	require.ErrorIs(t, parent.Adopt(ctx, "a b", &plain{}), sprag.ErrInvalidArgument, "Adopt applies it")
	_, err := sprag.NewRegistry().Replace("a/b", bound(t, "x", &plain{}))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument, "Replace too")
}

func TestAServiceBeforeBind(t *testing.T) {
	t.Parallel()
	p := &probe{}
	assert.Empty(t, p.Name())
	assert.NotNil(t, p.Logger())
	assert.Equal(t, sprag.Created, p.State())
	done, ctx := p.Done(), p.Context()
	require.NoError(t, ctx.Err(), "not cancelled before Start")

	bound(t, "svc", p)
	require.ErrorIs(t, p.Emit(context.Background(), "t", nil), sprag.ErrNotRunning)
	require.NoError(t, p.Start(context.Background()), "an Emit before Start is not recorded: it creates nothing")
	require.NoError(t, ctx.Err())
	require.NoError(t, p.Stop(context.Background()))
	<-done // the channel Done gave before Bind
	require.ErrorIs(t, ctx.Err(), context.Canceled, "the service's context ends at Stop")
}

func TestRestartEndsWhenCancelledDuringItsBackoff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		boom := errors.New("boom")
		var attempts atomic.Int32
		policy := sprag.RestartPolicy{MaxRestarts: 5, Backoff: time.Minute, MaxBackoff: time.Hour}
		var task *sprag.Task
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			task = must(p.Spawn(func(context.Context) error {
				attempts.Add(1)
				return boom
			}, sprag.Label("pull"), sprag.Restart(policy)))
			return nil
		}}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		time.Sleep(90 * time.Second) // failed at 0 and 1m; waits 2m for the next

		require.True(t, task.Cancel())
		err := task.Wait(context.Background())
		require.ErrorIs(t, err, boom, "the result is the last failure")
		var ce *sprag.CallbackError
		require.ErrorAs(t, err, &ce)
		require.NotErrorIs(t, err, sprag.ErrRestartLimit)
		time.Sleep(time.Hour)
		assert.Equal(t, int32(2), attempts.Load())
		restarts := logs.FilterMessage("restarting task").All()
		require.Len(t, restarts, 1)
		assert.Equal(t, int64(1), restarts[0].ContextMap()["restart"])
		assert.Equal(t, "pull", restarts[0].ContextMap()["label"])
		assert.True(t, p.Status(context.Background()).Healthy, "a cancelled task did not give up")
		assert.Equal(t, policy, sprag.Restart(policy).Policy())
	})
}

func TestRegistryAllIsASnapshotAndReplaceWakesWaitFor(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := sprag.NewRegistry()
		require.NoError(t, r.Provide("a", bound(t, "a", &plain{})))
		all := r.All()
		require.NoError(t, r.Provide("b", bound(t, "b", &plain{})))
		var names []string
		for name := range all {
			names = append(names, name)
		}
		assert.Equal(t, []string{"a"}, names, "provided meanwhile: not included")

		running := &plain{}
		spragtest.Start(t, "running", running)
		require.NoError(t, r.Provide("running", running))
		gone, err := r.Unregister("running")
		require.NoError(t, err)
		assert.Same(t, running, gone)
		assert.Equal(t, sprag.Running, running.State(), "Unregister does not stop the service")

		found := make(chan sprag.Interface, 1)
		go func() {
			svc, err := r.WaitFor(context.Background(), "db")
			assert.NoError(t, err)
			found <- svc
		}()
		synctest.Wait()
		db := &plain{}
		spragtest.Start(t, "db", db)
		_, err = r.Replace("db", db)
		require.NoError(t, err)
		assert.Same(t, db, <-found)

		cause := errors.New("the caller gave up")
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		_, err = r.WaitFor(ctx, "never")
		require.ErrorIs(t, err, cause)
		assert.Contains(t, err.Error(), `"never"`)
	})
}

func TestListenTopicRefusesAPayloadOfAnotherType(t *testing.T) {
	t.Parallel()
	var sc sprag.Scope
	defer func() { require.NoError(t, sc.Close(context.Background())) }()
	_, err := sprag.ListenTopic(&sc, orderCompleted, func(context.Context, order) error {
		t.Error("called with a payload of another type")
		return nil
	})
	require.NoError(t, err)
	require.ErrorIs(t, sc.Emit(context.Background(), "order:completed", "not an order"), eventbus.ErrPayloadType)
}

func TestStatusOutsideRunning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var checks atomic.Int32
		p := &probe{health: func(context.Context) error { checks.Add(1); return nil }}
		bound(t, "svc", p)
		st := p.Status(context.Background())
		assert.Equal(t, sprag.Created, st.State)
		assert.False(t, st.Healthy)
		assert.Zero(t, st.Since, "it never ran")

		begin := time.Now()
		require.NoError(t, p.Start(context.Background()))
		time.Sleep(time.Minute)
		st = p.Status(context.Background())
		assert.True(t, st.Healthy)
		assert.Equal(t, begin, st.Since)
		assert.Equal(t, time.Minute, st.Uptime)

		require.NoError(t, p.Stop(context.Background()))
		st = p.Status(context.Background())
		assert.Equal(t, sprag.Stopped, st.State)
		assert.False(t, st.Healthy)
		require.EqualError(t, st.Err, "service is stopped")
		assert.Equal(t, begin, st.Since, "when it started running")
		assert.Zero(t, st.Uptime, "only while it runs")
		assert.Equal(t, int32(1), checks.Load(), "Health is called only while it runs")
	})
}

func TestTaskLabelIsItsFunctionsName(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var task, labelled *sprag.Task
		started(t, func(p *probe) {
			task = must(p.Spawn(p.OnStop0))
			labelled = must(p.Spawn(p.OnStop0, sprag.Label("custom")))
		})
		assert.Equal(t, "(*probe).OnStop0", task.Label())
		assert.Equal(t, "custom", labelled.Label())
		assert.Empty(t, sprag.FuncLabel(nil))
		assert.Empty(t, sprag.FuncLabel((func())(nil)))
	})
}

// Not parallel: it counts the goroutines of the whole process.
func TestWaitingTimersAndSpawnAftersCostNoGoroutine(t *testing.T) {
	sc := sprag.NewScope("idle", sprag.NewRuntime(nil))
	defer func() { require.NoError(t, sc.Close(context.Background())) }()
	noop := func(context.Context) error { return nil }
	before := runtime.NumGoroutine()
	for range 1000 {
		must(sc.Interval(time.Hour, noop))
		must(sc.Timeout(time.Hour, noop))
		must(sc.Schedule(sprag.FixedRate(time.Hour), noop))
		must(sc.SpawnAfter(time.Hour, noop))
	}
	assert.Less(t, runtime.NumGoroutine()-before, 10, "4000 waiting timers and tasks")
}

func TestPanicsOfTimeoutsAndCleanupsAreLoggedWithTheirStack(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			must(p.Timeout(time.Second, func(context.Context) error { panic("timeout panic") }, sprag.Label("remind")))
			return p.AddCleanup(func(context.Context) error { panic("cleanup panic") })
		}}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, sprag.Running, p.State(), "the service keeps running")
		var pe *sprag.PanicError
		require.ErrorAs(t, p.Stop(context.Background()), &pe, "a cleanup's panic is in Stop's error")
		for msg, kind := range map[string]string{"timeout panicked": "timeout", "cleanup panicked": "cleanup"} {
			entries := logs.FilterMessage(msg).All()
			require.Len(t, entries, 1, msg)
			fields := entries[0].ContextMap()
			assert.Equal(t, zapcore.ErrorLevel, entries[0].Level)
			assert.Equal(t, "svc", fields["service"])
			assert.Equal(t, kind, fields["kind"])
			assert.Contains(t, fields["stack"], "promises_test.go")
		}
		assert.Equal(t, "remind", logs.FilterMessage("timeout panicked").All()[0].ContextMap()["label"])
	})
}

func TestCancelFromATimersOwnRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int32
		var timer *sprag.Timer
		var cancelled atomic.Bool
		started(t, func(p *probe) {
			timer = must(p.Interval(time.Minute, func(context.Context) error {
				if runs.Add(1) == 2 {
					cancelled.Store(timer.Cancel())
					time.Sleep(time.Second) // the run under way finishes
				}
				return nil
			}))
		})
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.True(t, cancelled.Load())
		assert.Equal(t, int32(2), runs.Load(), "no run began after Cancel")
		assert.False(t, timer.Active())
	})
}

func TestCloseFromAScopesOwnTask(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		sc := sprag.NewScope("jobs", sprag.NewRuntime(nil))
		closed := make(chan error, 1)
		must(sc.Spawn(func(ctx context.Context) error {
			closed <- sc.Close(context.WithoutCancel(ctx))
			time.Sleep(time.Minute) // the task goes on after Close returned
			return nil
		}))
		require.NoError(t, <-closed, "Close does not wait for the task that called it")
		synctest.Wait()
		select {
		case <-sc.Done():
			t.Fatal("Done closed while the task that called Close runs")
		default:
		}
		time.Sleep(time.Minute)
		<-sc.Done()
	})
}

func TestChildrenOfAScopeOfItsOwn(t *testing.T) {
	t.Parallel()
	var unnamed sprag.Scope
	child := &plain{}
	require.NoError(t, unnamed.Adopt(context.Background(), "worker", child))
	assert.Equal(t, "worker", child.Name(), "an unnamed scope's child has the name alone")
	named := sprag.NewScope("pool", sprag.NewRuntime(nil))
	other := &plain{}
	require.NoError(t, named.Adopt(context.Background(), "worker", other))
	assert.Equal(t, "pool/worker", other.Name())
	assert.Equal(t, []sprag.Interface{other}, named.Children())
	require.NoError(t, unnamed.Close(context.Background()))
	require.NoError(t, named.Close(context.Background()))
	assert.Equal(t, sprag.Stopped, child.State())
	assert.Equal(t, sprag.Stopped, other.State())
}

func TestRestartPolicyDefaults(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := newRunTimes()
		var task *sprag.Task
		started(t, func(p *probe) {
			task = must(p.Spawn(func(context.Context) error {
				runs.mark()
				return errors.New("fails")
			}, sprag.Restart(sprag.RestartPolicy{})))
		})
		err := task.Wait(context.Background())
		require.ErrorIs(t, err, sprag.ErrRestartLimit)
		assert.Contains(t, err.Error(), "3 restarts within 1m0s", "3 restarts in a minute")
		ms := time.Millisecond
		assert.Equal(t, []time.Duration{0, 100 * ms, 300 * ms, 700 * ms}, runs.get(), "after 100ms, doubling")

		runs = newRunTimes()
		started(t, func(p *probe) {
			task = must(p.Spawn(func(context.Context) error {
				runs.mark()
				return errors.New("fails")
			}, sprag.Restart(sprag.RestartPolicy{Backoff: 20 * time.Second, Window: time.Hour})))
		})
		require.ErrorIs(t, task.Wait(context.Background()), sprag.ErrRestartLimit)
		assert.Equal(t, []time.Duration{0, 20 * time.Second, 50 * time.Second, 80 * time.Second}, runs.get(), "waits capped at 30s")
	})
}

// A cleanup that fails as the stop's context ends: Close reports the
// failure, or names the cleanup as stuck if it had not returned when ctx
// ended; it never returns nil, as if the cleanup had succeeded.
func TestACleanupThatFailsAsTheContextEndsIsReported(t *testing.T) {
	t.Parallel()
	for round := range 300 {
		s := sprag.NewScope("flusher", sprag.NewRuntime(nil))
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, s.AddCleanup(func(context.Context) error {
			cancel() // the stop's deadline comes as the cleanup fails
			return errors.New("flush failed")
		}))
		err := s.Close(ctx)
		cancel()
		<-s.Done()
		var stuck *sprag.StuckError
		if !errors.As(err, &stuck) {
			require.ErrorContains(t, err, "flush failed", "round %d: the cleanup's failure is lost", round)
		}
	}
}

// Provide with UntilStopped of a service that has already stopped returns,
// and the name is free at once. It deadlocked: Provide applied the option,
// which removed the entry at once, while it held the registry's lock.
func TestPromiseProvideUntilStoppedOfAStoppedService(t *testing.T) {
	registry := sprag.NewRegistry()
	job := &plain{}
	require.NoError(t, sprag.Bind(job, "import-1", sprag.NewRuntime(nil)))
	require.NoError(t, job.Start(context.Background()))
	require.NoError(t, job.Stop(context.Background()))
	<-job.Done()

	require.NoError(t, registry.Provide("import", job, sprag.UntilStopped(), nil))
	assert.Empty(t, registry.Names(), "the entry of a service that has stopped leaves at once")
	require.NoError(t, registry.Provide("import", job), "the name is free")
}

// A timeout whose one run is under way will not run again: it is not
// Active, and Cancel cancels nothing, as time.Timer's Stop returns false
// once its function has started. It still counts in sprag.timers.active
// until the run ends.
func TestPromiseTimeoutIsNotActiveDuringItsOneRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sc sprag.Scope
		running, finish := make(chan struct{}), make(chan struct{})
		reminder, err := sc.Timeout(time.Minute, func(context.Context) error {
			close(running)
			<-finish
			return nil
		}, sprag.Label("reminder"))
		require.NoError(t, err)
		assert.True(t, reminder.Active(), "waiting")
		<-running

		assert.False(t, reminder.Active(), "a timeout whose one run is under way will not run again")
		assert.False(t, reminder.Cancel(), "Cancel of a timeout that already fired cancels nothing")

		close(finish)
		synctest.Wait()
		assert.False(t, reminder.Active())
		require.NoError(t, sc.Close(context.Background()))
	})
}

// WaitFor of a service that is there and started returns it, also with a
// context that has ended: select would pick the ended context at random.
func TestPromiseWaitForPrefersAStartedServiceToAnEndedContext(t *testing.T) {
	registry := sprag.NewRegistry()
	svc := &plain{}
	require.NoError(t, sprag.Bind(svc, "db", sprag.NewRuntime(nil)))
	require.NoError(t, svc.Start(context.Background()))
	defer func() { require.NoError(t, svc.Stop(context.Background())) }()
	require.NoError(t, registry.Provide("db", svc))

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for range 200 {
		got, err := registry.WaitFor(ended, "db")
		require.NoError(t, err)
		require.Same(t, svc, got)
	}
	_, err := registry.WaitFor(ended, "nobody")
	require.ErrorIs(t, err, context.Canceled, "what is not there still fails with the ended context")
}

// goexitOnStart ends its goroutine in OnStart, as a test's FailNow does.
type goexitOnStart struct{ sprag.Service }

func (g *goexitOnStart) OnStart(ctx context.Context) error {
	_, _ = g.Interval(time.Minute, func(context.Context) error { return nil })
	runtime.Goexit()
	return nil
}

// A service whose OnStart ends its goroutine is Failed and torn down
// before that goroutine ends: a later Start returns the failure, and Done
// is closed.
func TestPromiseGoexitInOnStartFailsTheStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &goexitOnStart{}
		require.NoError(t, sprag.Bind(g, "svc", sprag.NewRuntime(nil)))
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = g.Start(context.Background())
		}()
		<-done
		assert.Equal(t, sprag.Failed, g.State())
		require.ErrorContains(t, g.Start(context.Background()), "OnStart ended its goroutine")
		select {
		case <-g.Done():
		default:
			t.Fatal("Done is not closed")
		}
	})
}
