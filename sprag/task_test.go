package sprag_test

import (
	"context"
	"errors"
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
			ok = p.Spawn(func(context.Context) error { return nil }, sprag.Label("ok"))
			failed = p.Spawn(func(context.Context) error { return boom }, sprag.Label("failing"))
			panicked = p.Spawn(func(context.Context) error { panic("kaput") }, sprag.Label("panicking"))
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
			task = p.Spawn(func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			})
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
			task = p.Spawn(func(ctx context.Context) error {
				<-ctx.Done()
				return nil
			}, sprag.Label("long"))
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
			later = p.SpawnAfter(time.Minute, func(context.Context) error {
				runs.mark()
				return nil
			})
			stopped = p.SpawnAfter(time.Hour, func(context.Context) error {
				t.Error("a task ran after its service stopped")
				return nil
			})
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
		var nilFn, badPolicy, badDelay *sprag.Task
		p := started(t, func(p *probe) {
			nilFn = p.Spawn(nil)
			badPolicy = p.Spawn(func(context.Context) error { return nil }, sprag.Restart(sprag.RestartPolicy{MaxRestarts: -1}))
			badDelay = p.SpawnAfter(0, func(context.Context) error { return nil })
		})
		for _, task := range []*sprag.Task{nilFn, badPolicy, badDelay} {
			require.ErrorIs(t, task.Wait(context.Background()), sprag.ErrInvalidArgument)
		}
		spragtest.Stop(t, p, time.Second)
		late := p.Spawn(func(context.Context) error { return nil })
		require.ErrorIs(t, late.Wait(context.Background()), sprag.ErrNotRunning)
		lateAfter := p.SpawnAfter(time.Second, func(context.Context) error { return nil })
		require.ErrorIs(t, lateAfter.Wait(context.Background()), sprag.ErrNotRunning)
	})
}

func TestRestartPolicyRestartsWithBackoffUntilSuccess(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := newRunTimes()
		var attempts atomic.Int32
		var task *sprag.Task
		started(t, func(p *probe) {
			task = p.Spawn(func(context.Context) error {
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
			}, sprag.Restart(sprag.RestartPolicy{MaxRestarts: 5, Window: time.Hour, Backoff: time.Second, MaxBackoff: 3 * time.Second}))
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
			task = p.Spawn(func(context.Context) error {
				attempts.Add(1)
				return errors.New("always")
			}, sprag.Label("doomed"), sprag.Restart(sprag.RestartPolicy{MaxRestarts: 2, Window: time.Minute, Backoff: time.Second}))
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
			task = p.Spawn(func(ctx context.Context) error {
				if attempts.Add(1) == 6 {
					return nil
				}
				time.Sleep(time.Minute) // each run fails a minute after it starts
				return errors.New("slow failure")
			}, sprag.Restart(sprag.RestartPolicy{MaxRestarts: 1, Window: 30 * time.Second, Backoff: time.Second}))
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
			task = p.Spawn(func(context.Context) error {
				attempts.Add(1)
				return errors.New("fails")
			}, sprag.Restart(sprag.RestartPolicy{MaxRestarts: 100, Backoff: time.Minute, MaxBackoff: time.Hour}))
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
