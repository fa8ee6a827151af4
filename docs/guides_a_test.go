package docs_test

// Tests of promises that docs/services.md and docs/primitives.md make and
// that no other test held, or held only loosely. Each test names the
// promise it checks; timers run in testing/synctest bubbles.

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
	"github.com/sprag-go/sprag/sprag/process"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/sprag/state"
	"github.com/sprag-go/sprag/sprag/watch"
	"github.com/sprag-go/sprag/spragtest"
)

// gaHooks is a service whose hooks each test sets.
type gaHooks struct {
	sprag.Service
	onStart func(ctx context.Context) error
	onStop  func(ctx context.Context) error
	health  func(ctx context.Context) error
}

func (h *gaHooks) OnStart(ctx context.Context) error {
	if h.onStart == nil {
		return nil
	}
	return h.onStart(ctx)
}

func (h *gaHooks) OnStop(ctx context.Context) error {
	if h.onStop == nil {
		return nil
	}
	return h.onStop(ctx)
}

func (h *gaHooks) Health(ctx context.Context) error {
	if h.health == nil {
		return nil
	}
	return h.health(ctx)
}

func gaNoop(context.Context) error { return nil }

// services.md, Calls before Start: each refused call is named in Start's
// error, one per line, with its kind, label, file and line; OnStart does
// not run; the service is Failed; the refused call is not logged when it
// is made; Emit before Start is refused but not recorded.
func TestGuideCallsBeforeStartAreJoinedNotLoggedAndOnStartDoesNotRun(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	var onStartRan atomic.Bool
	svc := &gaHooks{onStart: func(context.Context) error { onStartRan.Store(true); return nil }}
	require.NoError(t, sprag.Bind(svc, "eager", sprag.NewRuntime(zap.New(core))))

	_, err := svc.Interval(time.Minute, gaNoop, sprag.Label("poll"))
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	_, err = svc.Spawn(gaNoop, sprag.Label("import"))
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	assert.Zero(t, logs.Len(), "a refused call is not logged when it is made")

	err = svc.Start(context.Background())
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	assert.False(t, onStartRan.Load(), "OnStart does not run")
	assert.Equal(t, sprag.Failed, svc.State())
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 2, "one line per refused call: %q", err)
	assert.True(t, strings.HasPrefix(lines[0], `start service "eager": interval poll called before Start, at docs/guides_a_test.go:`), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "task import called before Start, at docs/guides_a_test.go:"), lines[1])
	for _, l := range lines {
		assert.True(t, strings.HasSuffix(l, "(call it in OnStart): sprag: service not running"), l)
	}
	require.ErrorIs(t, svc.Start(context.Background()), sprag.ErrNotRunning, "Start returns the same failure again")
	assert.NoError(t, svc.Stop(context.Background()), "Stop on a failed service returns nil")

	quiet := &Bare{}
	require.NoError(t, sprag.Bind(quiet, "quiet", sprag.NewRuntime(nil)))
	require.ErrorIs(t, quiet.Emit(context.Background(), "order:completed", 1), sprag.ErrNotRunning)
	require.NoError(t, quiet.Start(context.Background()), "an Emit before Start is not recorded")
	require.NoError(t, quiet.Stop(context.Background()))
}

// services.md, Errors of managed methods: a managed method refused once
// the service has stopped is logged at warn level, a bad argument at
// error level, each with the service, kind and label; Emit is refused
// before Start and once the service has stopped, without a log line, and
// otherwise returns the bus's error as it is.
func TestGuideManagedMethodErrorsAndTheirLogs(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	svc := &Bare{}
	require.NoError(t, sprag.Bind(svc, "jobs", sprag.NewRuntime(zap.New(core))))
	require.NoError(t, svc.Start(context.Background()))

	timer, err := svc.Timeout(-time.Second, gaNoop, sprag.Label("bad"))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
	assert.Nil(t, timer, "the handle of a refused call is nil")
	assert.Equal(t, `service "jobs": timeout bad: sprag: invalid argument: duration must be positive, got -1s`, err.Error())
	invalid := logs.FilterMessage("invalid argument").All()
	require.Len(t, invalid, 1)
	assert.Equal(t, zap.ErrorLevel, invalid[0].Level)
	assert.Equal(t, map[string]any{"service": "jobs", "kind": "timeout", "label": "bad", "error": err.Error()}, invalid[0].ContextMap())

	_, err = svc.Schedule(sprag.FixedDelay(time.Second), gaNoop, sprag.Jitter(-time.Second), sprag.Label("jittery"))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument, "a negative jitter")
	_, err = svc.Schedule(nil, gaNoop, sprag.Label("nothing"))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument, "a nil schedule")

	err = svc.Emit(context.Background(), "orders:*", 1)
	require.ErrorIs(t, err, eventbus.ErrInvalidTopic, "Emit returns the bus's error")

	require.NoError(t, svc.Stop(context.Background()))
	logs.TakeAll()
	_, err = svc.Interval(time.Second, gaNoop, sprag.Label("late"))
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	assert.Contains(t, err.Error(), `service "jobs": interval late:`)
	warned := logs.FilterMessage("managed method called while not running").All()
	require.Len(t, warned, 1)
	assert.Equal(t, zap.WarnLevel, warned[0].Level)
	assert.Equal(t, map[string]any{"service": "jobs", "kind": "interval", "label": "late"}, warned[0].ContextMap())

	logs.TakeAll()
	require.ErrorIs(t, svc.Emit(context.Background(), "order:completed", 1), sprag.ErrNotRunning)
	assert.Zero(t, logs.Len(), "a refused Emit is not logged")
}

// services.md, Lifecycle: Stop on a bound service that never started
// makes it Stopped, closes Done, runs no OnStop, and it can no longer
// start.
func TestGuideStopOfAServiceThatNeverStarted(t *testing.T) {
	t.Parallel()
	var onStop atomic.Bool
	svc := &gaHooks{onStop: func(context.Context) error { onStop.Store(true); return nil }}
	require.NoError(t, sprag.Bind(svc, "idle", sprag.NewRuntime(nil)))
	require.NoError(t, svc.Stop(context.Background()))
	assert.Equal(t, sprag.Stopped, svc.State())
	select {
	case <-svc.Done():
	default:
		t.Fatal("Done is not closed after Stop returned")
	}
	assert.False(t, onStop.Load(), "OnStop runs only if OnStart succeeded")
	err := svc.Start(context.Background())
	require.ErrorIs(t, err, sprag.ErrStopped)
	require.EqualError(t, err, `start service "idle": sprag: service stopped`)
	assert.NoError(t, svc.Stop(context.Background()), "Stop on a stopped service returns nil")
}

// services.md, Timers and schedules: a jittered fixed rate keeps its
// grid: the k-th run begins in [k·d, k·d+max).
func TestGuideJitteredFixedRateKeepsItsGrid(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		svc := &Bare{}
		spragtest.Start(t, "svc", svc)
		runs := newStarts()
		_, err := svc.Schedule(sprag.FixedRate(time.Minute), func(context.Context) error {
			runs.mark()
			time.Sleep(5 * time.Second) // each run takes time: the grid does not drift
			return nil
		}, sprag.Jitter(10*time.Second), sprag.Label("report"))
		require.NoError(t, err)

		time.Sleep(30*time.Minute + 30*time.Second)
		synctest.Wait()

		got := runs.get()
		require.Len(t, got, 30)
		for i, at := range got {
			tick := time.Duration(i+1) * time.Minute
			assert.True(t, at >= tick && at < tick+10*time.Second, "run %d began at %v, off its tick %v", i+1, at, tick)
		}
	})
}

// services.md, Teardown step 1: while OnStop runs the service is
// Stopping, its context is alive and its tasks still run, but no timer
// run or listener call begins any more, though listeners are still
// subscribed; OnStop may emit.
func TestGuideWhileOnStopRunsNoTimerRunOrListenerCallBegins(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var ticks, heard atomic.Int32
		var svc *gaHooks
		taskAlive := make(chan bool, 1)
		var task *sprag.Task
		svc = &gaHooks{
			onStart: func(context.Context) error {
				if _, err := svc.Interval(time.Second, func(context.Context) error { ticks.Add(1); return nil }, sprag.Label("tick")); err != nil {
					return err
				}
				if _, err := svc.Listen("ping", func(context.Context, any) error { heard.Add(1); return nil }); err != nil {
					return err
				}
				var err error
				task, err = svc.Spawn(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, sprag.Label("follow"))
				return err
			},
			onStop: func(ctx context.Context) error {
				before := ticks.Load()
				time.Sleep(10 * time.Second) // ten ticks would be due
				if got := ticks.Load(); got != before {
					t.Errorf("%d timer runs began during OnStop", got-before)
				}
				if err := svc.Emit(ctx, "ping", nil); err != nil {
					t.Errorf("Emit from OnStop: %v", err)
				}
				if n := svc.Runtime().Bus.Len(); n != 1 {
					t.Errorf("listeners on the bus during OnStop: %d, want 1", n)
				}
				if svc.State() != sprag.Stopping {
					t.Errorf("state during OnStop: %v", svc.State())
				}
				if svc.Context().Err() != nil {
					t.Error("the service's context ended before OnStop returned")
				}
				select {
				case <-task.Done():
					taskAlive <- false
				default:
					taskAlive <- true
				}
				return nil
			},
		}
		require.NoError(t, sprag.Bind(svc, "svc", sprag.NewRuntime(nil)))
		require.NoError(t, svc.Start(context.Background()))
		time.Sleep(3*time.Second + time.Second/2)
		require.Equal(t, int32(3), ticks.Load())

		require.NoError(t, svc.Stop(context.Background()))
		assert.True(t, <-taskAlive, "tasks still run during OnStop")
		assert.Zero(t, heard.Load(), "no listener call begins once Stop has begun")
		assert.Equal(t, context.Canceled, task.Err())
	})
}

// services.md, Registry and Health: the zero Registry is ready to use; a
// registry with no services is healthy; Health lists services in
// registration order, each followed by its adopted children; Unhealthy
// and Err name the ones at fault.
func TestGuideRegistryZeroValueAndHealthOrder(t *testing.T) {
	t.Parallel()
	var r sprag.Registry
	empty := r.Health(context.Background())
	assert.True(t, empty.Healthy)
	assert.Empty(t, empty.Services)
	require.NoError(t, empty.Err())

	rt := sprag.NewRuntime(nil)
	parent, other := &Bare{}, &Bare{}
	require.NoError(t, sprag.Bind(parent, "pipeline", rt))
	require.NoError(t, sprag.Bind(other, "idle", rt))
	require.NoError(t, r.Provide("pipeline", parent))
	require.NoError(t, r.Provide("idle", other))
	require.NoError(t, parent.Start(context.Background()))
	defer func() { _ = parent.Stop(context.Background()) }()
	require.NoError(t, parent.Adopt(context.Background(), "fetch", &Bare{}))
	grandchild := &Bare{}
	require.NoError(t, parent.Adopt(context.Background(), "store", grandchild))
	require.NoError(t, grandchild.Adopt(context.Background(), "flush", &Bare{}))

	rep := r.Health(context.Background())
	var names []string
	for _, st := range rep.Services {
		names = append(names, st.Name)
	}
	assert.Equal(t, []string{"pipeline", "pipeline/fetch", "pipeline/store", "pipeline/store/flush", "idle"}, names)
	assert.False(t, rep.Healthy)
	require.Len(t, rep.Unhealthy(), 1)
	assert.Equal(t, "idle", rep.Unhealthy()[0].Name)
	assert.EqualError(t, rep.Err(), `service "idle" (created): service is created`)
}

type gaCtxKey struct{}

// services.md, Health: Health is called synchronously with the caller's
// context; a panic in it is reported in the status as a *PanicError, and
// the service keeps running; Since is when it began to run and Uptime the
// time since, while it runs.
func TestGuideHealthGetsTheCallersContextAndAPanicIsReported(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var panicking atomic.Bool
		svc := &gaHooks{health: func(ctx context.Context) error {
			if ctx.Value(gaCtxKey{}) != "probe" {
				return errors.New("Health did not get the caller's context")
			}
			if panicking.Load() {
				panic("pool gone")
			}
			return nil
		}}
		began := time.Now()
		spragtest.Start(t, "db", svc)
		time.Sleep(90 * time.Second)
		ctx := context.WithValue(context.Background(), gaCtxKey{}, "probe")

		st := svc.Status(ctx)
		assert.True(t, st.Healthy, "%v", st.Err)
		assert.Equal(t, began, st.Since)
		assert.Equal(t, 90*time.Second, st.Uptime)

		panicking.Store(true)
		st = svc.Status(ctx)
		assert.False(t, st.Healthy)
		var pe *sprag.PanicError
		require.ErrorAs(t, st.Err, &pe)
		assert.Equal(t, "pool gone", pe.Value)
		assert.Equal(t, sprag.Running, svc.State(), "the service keeps running")
	})
}

// services.md, The Scope on its own: the zero Scope is open, unnamed, with
// a bus of its own; Close of a service's scope is refused; a second Close
// waits for the first and returns nil; after Close the scope accepts no
// work.
func TestGuideScopeOnItsOwn(t *testing.T) {
	t.Parallel()
	var a, b sprag.Scope
	assert.Empty(t, a.Name())
	require.NotNil(t, a.Runtime().Bus)
	assert.NotSame(t, a.Runtime().Bus, b.Runtime().Bus, "each zero Scope has a bus of its own")
	assert.NotNil(t, a.Logger())
	task, err := a.Spawn(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, sprag.Label("follow"))
	require.NoError(t, err, "the zero Scope is open at once")

	require.NoError(t, a.Close(context.Background()))
	assert.NoError(t, a.Close(context.Background()), "a second Close returns nil")
	assert.Equal(t, context.Canceled, task.Err())
	_, err = a.Timeout(time.Second, gaNoop)
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	require.NoError(t, b.Close(context.Background()))

	svc := &Bare{}
	require.NoError(t, sprag.Bind(svc, "svc", sprag.NewRuntime(nil)))
	var owner sprag.Owner = svc
	require.ErrorIs(t, owner.Scope().Close(context.Background()), sprag.ErrInvalidArgument)
	require.NoError(t, svc.Stop(context.Background()))
}

// gaDetailKeys returns, for each entry of st's health details, the names
// of the JSON fields it encodes to.
func gaDetailKeys(t *testing.T, st sprag.Status) map[string][]string {
	t.Helper()
	data, err := json.Marshal(st)
	require.NoError(t, err)
	var decoded struct {
		Details map[string]map[string]any `json:"details"`
	}
	require.NoError(t, json.Unmarshal(data, &decoded))
	keys := make(map[string][]string)
	for name, fields := range decoded.Details {
		for k := range fields {
			keys[name] = append(keys[name], k)
		}
	}
	return keys
}

// primitives.md, What they have in common (In health): a queue, a watcher
// and an observable report their figures under "<kind> <label>", with the
// JSON fields of the guide's example; a cron job, an ordinary timer, adds
// no entry.
func TestGuideHealthDetailsOfThePrimitives(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		svc := &Bare{}
		spragtest.Start(t, "app", svc)
		_, err := queue.New(svc, func(context.Context, string) error { return nil }, queue.Label("emails"))
		require.NoError(t, err)
		var polls atomic.Int32
		_, err = watch.Poll(svc, func(context.Context) (string, error) {
			if polls.Add(1) == 1 {
				return "", errors.New("timeout")
			}
			return "v2", nil
		}, time.Minute, watch.Label("version"))
		require.NoError(t, err)
		_, err = state.New(svc, 1, state.Label("status"))
		require.NoError(t, err)
		_, err = cron.Add(svc, "@hourly", gaNoop, cron.Label("report"))
		require.NoError(t, err)
		time.Sleep(2 * time.Second) // the retry after the first failure
		synctest.Wait()

		keys := gaDetailKeys(t, svc.Status(context.Background()))
		assert.ElementsMatch(t, []string{"workers", "capacity", "pending", "in_flight", "processed", "failed",
			"rejected", "overflowed", "dropped", "throughput"}, keys["queue emails"])
		assert.ElementsMatch(t, []string{"value", "has_value", "polls", "changes", "errors",
			"consecutive_failures", "last_error", "last_success"}, keys["watcher version"])
		assert.ElementsMatch(t, []string{"value", "version", "subscribers"}, keys["observable status"])
		assert.Len(t, keys, 3, "a cron job has no health entry: %v", keys)
	})
}

// primitives.md, In health: a process reports pid, running, starts,
// restarts and started_at under "process <label>". A real process: not in
// a bubble.
func TestGuideHealthDetailsOfAProcess(t *testing.T) {
	t.Parallel()
	svc := &Bare{}
	spragtest.Start(t, "app", svc)
	_, err := process.Start(svc, "sleep", []string{"60"}, process.Label("agent"), process.Grace(time.Second))
	require.NoError(t, err)
	keys := gaDetailKeys(t, svc.Status(context.Background()))
	assert.ElementsMatch(t, []string{"pid", "running", "starts", "restarts", "started_at"}, keys["process agent"])
}

// primitives.md, Named: two queues, watchers, observables or processes of
// one label on one owner are refused with ErrDuplicateName; a Hidden
// observable is not checked.
func TestGuideDuplicateLabelsOfPrimitives(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		svc := &Bare{}
		spragtest.Start(t, "app", svc)
		handle := func(context.Context, int) error { return nil }
		poll := func(context.Context) (int, error) { return 1, nil }

		_, err := queue.New(svc, handle, queue.Label("jobs"))
		require.NoError(t, err)
		_, err = queue.New(svc, handle, queue.Label("jobs"))
		require.ErrorIs(t, err, sprag.ErrDuplicateName, "queue")

		_, err = watch.Poll(svc, poll, time.Minute, watch.Label("cfg"))
		require.NoError(t, err)
		_, err = watch.Stream(svc, func(ctx context.Context, _ func(int)) error { <-ctx.Done(); return ctx.Err() }, watch.Label("cfg"))
		require.ErrorIs(t, err, sprag.ErrDuplicateName, "watcher")

		_, err = state.New(svc, 0, state.Label("level"))
		require.NoError(t, err)
		_, err = state.New(svc, 0, state.Label("level"))
		require.ErrorIs(t, err, sprag.ErrDuplicateName, "observable")
		_, err = state.New(svc, 0, state.Label("level"), state.Hidden())
		require.NoError(t, err, "a hidden observable is not checked")
	})
}

// primitives.md, Queue, What a stop does: a handler that never returns
// keeps the owner's Done open, and a Stop whose context ends names its
// worker in its *StuckError; the worker's return closes Done.
func TestGuideQueueStopNamesAWorkerThatOutlivesIt(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		svc := &Bare{}
		require.NoError(t, sprag.Bind(svc, "importer", sprag.NewRuntime(nil)))
		require.NoError(t, svc.Start(context.Background()))
		release, taken := make(chan struct{}), make(chan struct{})
		rows, err := queue.New(svc, func(context.Context, int) error {
			close(taken)
			<-release // ignores its context
			return nil
		}, queue.Label("rows"))
		require.NoError(t, err)
		require.NoError(t, rows.TryEnqueue(1))
		<-taken

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = svc.Stop(ctx)
		var stuck *sprag.StuckError
		require.ErrorAs(t, err, &stuck)
		assert.Contains(t, stuck.Running, sprag.Activity{Kind: sprag.KindTask, Label: "queue rows worker 1"})
		synctest.Wait()
		select {
		case <-svc.Done():
			t.Fatal("Done closed while a handler runs")
		default:
		}
		assert.Equal(t, sprag.Stopping, svc.State())

		close(release)
		<-svc.Done()
		assert.Equal(t, sprag.Stopped, svc.State())
		assert.Equal(t, int64(1), rows.Stats().Processed)
	})
}

// primitives.md, Cron: "@every d" runs d after the whole second in which
// the last run returned: runs that take half a second begin every 2s, not
// every 2.5s.
func TestGuideCronEveryCountsFromTheWholeSecondTheRunReturnedIn(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var sc sprag.Scope
		runs := newStarts()
		_, err := cron.Add(&sc, "@every 2s", func(context.Context) error {
			runs.mark()
			time.Sleep(time.Second / 2)
			return nil
		}, cron.Label("sync"))
		require.NoError(t, err)
		time.Sleep(9 * time.Second)
		synctest.Wait()
		require.NoError(t, sc.Close(context.Background()))
		assert.Equal(t, []time.Duration{2 * time.Second, 4 * time.Second, 6 * time.Second, 8 * time.Second}, runs.get())
	})
}
