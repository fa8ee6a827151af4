package sprag_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

func TestSpawnRunsAndReportsItsResult(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		boom := errors.New("boom")
		var ok, failed, panicked *sprag.Task
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			ok = must(p.Spawn(func(context.Context) error { return nil }, sprag.Label("ok")))
			failed = must(p.Spawn(func(context.Context) error { return boom }, sprag.Label("failing")))
			panicked = must(p.Spawn(func(context.Context) error { panic("kaput") }, sprag.Label("panicking")))
			return nil
		}}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))

		require.NoError(t, ok.Wait(context.Background()))
		err := failed.Wait(context.Background())
		require.ErrorIs(t, err, boom)
		var ce *sprag.CallbackError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, sprag.CallbackError{Service: "svc", Kind: sprag.KindTask, Label: "failing", Err: boom}, *ce)
		assert.Equal(t, `service "svc": task failing: boom`, err.Error())

		var pe *sprag.PanicError
		require.ErrorAs(t, panicked.Wait(context.Background()), &pe)
		assert.Equal(t, "kaput", pe.Value)

		entries := logs.FilterMessage("task panicked").All()
		require.Len(t, entries, 1)
		assert.Equal(t, "panicking", entries[0].ContextMap()["label"])
		assert.Contains(t, entries[0].ContextMap()["stack"], "task_test.go")
		assert.Len(t, logs.FilterMessage("task failed").All(), 1)
		assert.Equal(t, sprag.Running, p.State(), "the service keeps running")
	})
}

func TestSpawnContextEndsAtStopAndACleanExitIsNotAFailure(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		var task *sprag.Task
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			task = must(p.Spawn(func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			}))
			return nil
		}}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		synctest.Wait()
		select {
		case <-task.Done():
			t.Fatal("the task ended before the stop")
		default:
		}
		require.NoError(t, task.Err(), "no result before the end")

		spragtest.Stop(t, p, time.Second)
		require.ErrorIs(t, task.Err(), context.Canceled)
		assert.Empty(t, logs.FilterMessage("task failed").All(), "ending on cancellation is not logged as a failure")
	})
}

func TestTaskWaitHonoursItsContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var task *sprag.Task
		started(t, func(p *probe) {
			task = must(p.Spawn(func(ctx context.Context) error {
				<-ctx.Done()
				return nil
			}, sprag.Label("long")))
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := task.Wait(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "long")
	})
}

func TestSpawnAfter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := newRunTimes()
		var later, stopped *sprag.Task
		p := started(t, func(p *probe) {
			later = must(p.SpawnAfter(time.Minute, func(context.Context) error {
				runs.mark()
				return nil
			}))
			stopped = must(p.SpawnAfter(time.Hour, func(context.Context) error {
				t.Error("a task ran after its service stopped")
				return nil
			}))
		})
		require.NoError(t, later.Wait(context.Background()))
		assert.Equal(t, []time.Duration{time.Minute}, runs.get())

		spragtest.Stop(t, p, time.Second)
		require.ErrorIs(t, stopped.Wait(context.Background()), sprag.ErrStopped)
	})
}

func TestSpawnBadInputAndNotRunning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var errs []error
		p := started(t, func(p *probe) {
			for _, spawn := range []func() (*sprag.Task, error){
				func() (*sprag.Task, error) { return p.Spawn(nil) },
				func() (*sprag.Task, error) {
					return p.Spawn(func(context.Context) error { return nil }, sprag.Restart(sprag.RestartPolicy{MaxRestarts: -1}))
				},
				func() (*sprag.Task, error) { return p.SpawnAfter(0, func(context.Context) error { return nil }) },
			} {
				task, err := spawn()
				assert.Nil(t, task)
				errs = append(errs, err)
			}
		})
		require.Len(t, errs, 3)
		for _, err := range errs {
			require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		}
		spragtest.Stop(t, p, time.Second)
		late, err := p.Spawn(func(context.Context) error { return nil })
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Nil(t, late)
		require.NoError(t, late.Wait(context.Background()), "a nil handle is inert")
		assert.False(t, late.Cancel())
		_, err = p.SpawnAfter(time.Second, func(context.Context) error { return nil })
		require.ErrorIs(t, err, sprag.ErrNotRunning)
	})
}

func TestCancelOneTask(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var one, other, later *sprag.Task
		p := started(t, func(p *probe) {
			wait := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
			one = must(p.Spawn(wait, sprag.Label("one")))
			other = must(p.Spawn(wait, sprag.Label("other")))
			later = must(p.SpawnAfter(time.Minute, func(context.Context) error {
				t.Error("a cancelled SpawnAfter ran")
				return nil
			}))
		})
		assert.True(t, one.Cancel())
		assert.False(t, one.Cancel(), "a second Cancel reports false")
		require.ErrorIs(t, one.Wait(context.Background()), context.Canceled)
		synctest.Wait()
		select {
		case <-other.Done():
			t.Fatal("cancelling one task ended another")
		default:
		}

		assert.True(t, later.Cancel(), "a SpawnAfter is cancelled before it fires")
		require.ErrorIs(t, later.Wait(context.Background()), context.Canceled)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		assert.Equal(t, sprag.Running, p.State())
	})
}

func TestRestartPolicyRestartsWithBackoffUntilSuccess(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := newRunTimes()
		var attempts atomic.Int32
		var task *sprag.Task
		started(t, func(p *probe) {
			task = must(p.Spawn(func(context.Context) error {
				runs.mark()
				switch attempts.Add(1) {
				case 1:
					return errors.New("first")
				case 2:
					panic("second")
				case 3:
					return errors.New("third")
				}
				return nil
			}, sprag.Restart(sprag.RestartPolicy{MaxRestarts: 5, Window: time.Hour, Backoff: time.Second, MaxBackoff: 3 * time.Second})))
		})
		require.NoError(t, task.Wait(context.Background()))
		assert.Equal(t, []time.Duration{0, time.Second, 3 * time.Second, 6 * time.Second}, runs.get(),
			"waits of 1s, 2s, then 4s capped at 3s")
	})
}

func TestRestartPolicyGivesUpPastItsLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		gaveUp := spragtest.Record(t, rt.Bus, sprag.TaskGaveUp.Name())
		var attempts atomic.Int32
		var task *sprag.Task
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			task = must(p.Spawn(func(context.Context) error {
				attempts.Add(1)
				return errors.New("always")
			}, sprag.Label("doomed"), sprag.Restart(sprag.RestartPolicy{MaxRestarts: 2, Window: time.Minute, Backoff: time.Second})))
			return nil
		}}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))

		err := task.Wait(context.Background())
		require.ErrorIs(t, err, sprag.ErrRestartLimit)
		assert.Contains(t, err.Error(), "2 restarts within 1m0s")
		assert.Equal(t, int32(3), attempts.Load(), "the first run and two restarts")
		require.Len(t, logs.FilterMessage("task gave up").All(), 1)

		events := gaveUp.Events()
		require.Len(t, events, 1)
		failure, ok := events[0].Payload.(sprag.TaskFailure)
		require.True(t, ok)
		assert.Equal(t, "svc", failure.Service)
		assert.Equal(t, "doomed", failure.Label)
		require.ErrorIs(t, failure.Err, sprag.ErrRestartLimit)

		st := p.Status(context.Background())
		assert.False(t, st.Healthy, "health shows the task that gave up")
		require.ErrorIs(t, st.Err, sprag.ErrRestartLimit)
		assert.Contains(t, st.Err.Error(), "doomed")
	})
}

func TestRestartWindowForgetsOldFailures(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var attempts atomic.Int32
		var task *sprag.Task
		started(t, func(p *probe) {
			task = must(p.Spawn(func(ctx context.Context) error {
				if attempts.Add(1) == 6 {
					return nil
				}
				time.Sleep(time.Minute) // each run fails a minute after it starts
				return errors.New("slow failure")
			}, sprag.Restart(sprag.RestartPolicy{MaxRestarts: 1, Window: 30 * time.Second, Backoff: time.Second})))
		})
		require.NoError(t, task.Wait(context.Background()),
			"one restart per 30s window is allowed, and failures a minute apart never reach it")
		assert.Equal(t, int32(6), attempts.Load())
	})
}

func TestRestartStopsWhenTheServiceStops(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var attempts atomic.Int32
		var task *sprag.Task
		p := started(t, func(p *probe) {
			task = must(p.Spawn(func(context.Context) error {
				attempts.Add(1)
				return errors.New("fails")
			}, sprag.Restart(sprag.RestartPolicy{MaxRestarts: 100, Backoff: time.Minute, MaxBackoff: time.Hour})))
		})
		time.Sleep(30 * time.Second) // in its first backoff
		spragtest.Stop(t, p, time.Second)
		require.Error(t, task.Wait(context.Background()))
		assert.Equal(t, int32(1), attempts.Load())
	})
}

func TestTaskGaveUpTopicIsTyped(t *testing.T) {
	t.Parallel()
	topic := sprag.TaskGaveUp // a typed topic: listeners get a TaskFailure
	assert.IsType(t, &eventbus.Topic[sprag.TaskFailure]{}, topic)
	assert.Equal(t, "sprag:task:gave-up", sprag.TaskGaveUp.Name())
}

func TestTaskContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := started(t, func(*probe) {})
		type key struct{}
		var afterRan, childEnded atomic.Bool
		var stopped atomic.Bool
		seen := make(chan context.Context, 1)
		startErr := make(chan error, 1)
		task, err := p.Spawn(func(ctx context.Context) error {
			startErr <- ctx.Err()
			_, hasDeadline := ctx.Deadline()
			assert.False(t, hasDeadline)
			assert.Nil(t, ctx.Value(key{}), "no values of its own")
			assert.Equal(t, "v", context.WithValue(ctx, key{}, "v").Value(key{}))
			context.AfterFunc(ctx, func() { afterRan.Store(true) })
			stop := context.AfterFunc(ctx, func() { t.Error("a stopped AfterFunc ran") })
			stopped.Store(stop())
			child, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			go func() {
				<-child.Done()
				childEnded.Store(errors.Is(child.Err(), context.Canceled))
			}()
			seen <- ctx
			<-ctx.Done()
			return ctx.Err()
		})
		require.NoError(t, err)
		ctx := <-seen
		require.NoError(t, <-startErr, "not cancelled while it runs")
		synctest.Wait()
		assert.False(t, afterRan.Load())
		assert.True(t, stopped.Load(), "AfterFunc's stop reports that it stopped the call")

		require.True(t, task.Cancel())
		require.ErrorIs(t, task.Wait(context.Background()), context.Canceled)
		synctest.Wait()
		assert.True(t, afterRan.Load(), "AfterFunc runs at the cancel")
		assert.True(t, childEnded.Load(), "a derived context ends with the task's")
		require.ErrorIs(t, ctx.Err(), context.Canceled)
		<-ctx.Done()
		var late atomic.Bool
		context.AfterFunc(ctx, func() { late.Store(true) })
		synctest.Wait()
		assert.True(t, late.Load(), "AfterFunc on an ended context runs at once")
		assert.Equal(t, "sprag task context", fmt.Sprint(ctx))
	})
}

func TestTaskContextEndsWhenTheTaskReturns(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := started(t, func(*probe) {})
		seen := make(chan context.Context, 1)
		task, err := p.Spawn(func(ctx context.Context) error { seen <- ctx; return nil })
		require.NoError(t, err)
		require.NoError(t, task.Wait(context.Background()))
		ctx := <-seen
		<-ctx.Done() // what the task started with its context ends with it
		require.ErrorIs(t, ctx.Err(), context.Canceled)
	})
}
