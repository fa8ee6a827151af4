package state_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/state"
	"github.com/sprag-go/sprag/spragtest"
)

func TestObservableUnsetIgnoresItsInitialValue(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		leader, err := state.New(owner, "node-0", state.Label("leader"), state.Unset(), state.Dedupe())
		require.NoError(t, err)

		assert.Empty(t, leader.Get(), "the zero value while there is none")
		v, ok := leader.Load()
		assert.False(t, ok)
		assert.Empty(t, v, "the zero value with false")
		assert.Zero(t, leader.Version())
		assert.Equal(t, state.Stats{Value: "", Version: 0}, leader.Stats())

		var seen spragtest.Collector[string]
		_, err = leader.Subscribe(owner, func(_ context.Context, v string) error {
			seen.Add(v)
			return nil
		}, state.NotifyCurrent())
		require.NoError(t, err)
		ch := leader.Watch(context.Background())
		select {
		case v := <-ch:
			t.Fatalf("an unset observable's channel received %q", v)
		default:
		}
		assert.Empty(t, seen.All(), "nothing to notify")

		assert.True(t, leader.Set(""), "the first value is stored, even the zero one with Dedupe")
		assert.Empty(t, <-ch)
		assert.Equal(t, []string{""}, seen.All())
		assert.Equal(t, uint64(1), leader.Version())
		assert.False(t, leader.Update(func(s string) string { return s }), "Update reports that Dedupe skipped an equal value")
	})
}

func TestObservableSetDuringASlowNotificationReturnsAtOnceAndValuesCoalesce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		level, err := state.New(owner, 0, state.Label("level"))
		require.NoError(t, err)
		var seen spragtest.Collector[int]
		_, err = level.Subscribe(owner, func(_ context.Context, v int) error {
			seen.Add(v)
			if v == 1 {
				time.Sleep(time.Minute) // a slow subscriber
			}
			return nil
		})
		require.NoError(t, err)

		notified := make(chan struct{})
		go func() {
			level.Set(1) // notifies, and so delivers what is stored meanwhile
			close(notified)
		}()
		synctest.Wait() // the subscriber sleeps with 1

		start := time.Now()
		for v := 2; v <= 4; v++ {
			assert.True(t, level.Set(v))
		}
		assert.Zero(t, time.Since(start), "a Set during a notification returns at once")
		assert.Equal(t, []int{1}, seen.All(), "its value is delivered by the goroutine already notifying")
		assert.Equal(t, 4, level.Get(), "stored at once")

		<-notified
		assert.Equal(t, []int{1, 4}, seen.All(), "2 and 3 coalesced: the latest comes next")
		assert.Equal(t, uint64(5), level.Version(), "the initial value and four Sets")
	})
}

func TestObservableOwnerStopRemovesEverySubscriberAndClosesEveryChannel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		dashboard := spragtest.Started(t, "dashboard", nil)
		status, err := state.New(owner, "starting", state.Label("status"))
		require.NoError(t, err)
		var seen spragtest.Collector[string]
		sub, err := status.Subscribe(dashboard, func(_ context.Context, v string) error {
			seen.Add(v)
			return nil
		})
		require.NoError(t, err)
		ch := status.Watch(context.Background())
		assert.Equal(t, "starting", <-ch)
		assert.Equal(t, 2, status.Stats().Subscribers)

		spragtest.Stop(t, owner, time.Second)
		assert.False(t, sub.Active(), "removed when the observable's owner stops")
		assert.False(t, sub.Cancel())
		_, open := <-ch
		assert.False(t, open, "closed when the observable's owner stops")
		assert.Zero(t, status.Stats().Subscribers)

		assert.True(t, status.Set("stopped"), "the value stays settable")
		assert.Equal(t, "stopped", status.Get(), "and readable")
		assert.Empty(t, seen.All(), "with nobody left to notify")
		assert.Equal(t, sprag.Running, dashboard.State(), "the subscriber's service runs on")
	})
}

func TestObservableLabelHealthAndHidden(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		count, err := state.New(owner, 3)
		require.NoError(t, err)
		assert.Equal(t, "int", count.Label(), "the default label is the type's name")
		type point struct{ X, Y int }
		at, err := state.New(owner, point{1, 2})
		require.NoError(t, err)
		assert.Equal(t, "state_test.point", at.Label())
		hidden, err := state.New(owner, "x", state.Label("inner"), state.Hidden())
		require.NoError(t, err)
		assert.Equal(t, "inner", hidden.Label())
		pipe, err := state.New(owner, make(chan int), state.Label("pipe"))
		require.NoError(t, err)

		details := owner.Status(context.Background()).Details
		assert.Equal(t, state.Stats{Value: 3, Version: 1}, details["observable int"])
		assert.Equal(t, state.Stats{Value: point{1, 2}, Version: 1}, details["observable state_test.point"])
		assert.NotContains(t, details, "observable inner", "Hidden keeps it out of the health")
		assert.IsType(t, "", pipe.Stats().Value, "a value that does not encode as JSON is reported in its fmt form")
		assert.Len(t, details, 3)
	})
}

func TestObservablePanickingDedupeFuncIsLoggedAndTheValueStored(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		owner := &spragtest.Probe{}
		spragtest.Start(t, "svc", owner, spragtest.WithRuntime(rt))
		level, err := state.New(owner, 1, state.Label("level"), state.DedupeFunc(func(a, b int) bool { panic("bad equality") }))
		require.NoError(t, err)

		require.NotPanics(t, func() { assert.True(t, level.Set(1), "the values count as different") })
		assert.Equal(t, uint64(2), level.Version())
		panicked := logs.FilterMessage("observable panicked").All()
		require.Len(t, panicked, 1)
		assert.Equal(t, "svc", panicked[0].ContextMap()["service"])
		assert.Contains(t, panicked[0].ContextMap()["label"], "level")
		assert.Contains(t, panicked[0].ContextMap()["stack"], "promises_test.go")
	})
}

func TestObservableWatchOfAnEndedContextIsClosedAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		level, err := state.New(owner, 1)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, open := <-level.Watch(ctx)
		assert.False(t, open)
		assert.Zero(t, level.Stats().Subscribers, "it leaves nothing behind")
	})
}

func TestNewObservableErrorsNameTheObservable(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		early := &spragtest.Probe{}
		require.NoError(t, sprag.Bind(early, "early", spragtest.Runtime(t)))
		_, err := state.New(early, 0, state.Label("cfg"))
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Contains(t, err.Error(), `service "early": observable cfg called before Start`)
		err = early.Start(context.Background())
		require.ErrorIs(t, err, sprag.ErrNotRunning, "an observable made before the start makes the start fail")
		assert.Contains(t, err.Error(), "observable cfg called before Start")

		owner := spragtest.Started(t, "svc", nil)
		_, err = state.New(owner, 0, state.Label("cfg"), state.DedupeFunc[int](nil))
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		assert.Equal(t, `service "svc": observable cfg: sprag: invalid argument: nil DedupeFunc function`, err.Error())
		_, err = state.New(owner, 0, state.Label("cfg"), state.DedupeFunc(func(a, b string) bool { return a == b }))
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		assert.Contains(t, err.Error(), `service "svc": observable cfg: `)

		spragtest.Stop(t, owner, time.Second)
		_, err = state.New(owner, 0, state.Label("cfg"))
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Equal(t, `service "svc": observable cfg: sprag: service not running (stopped)`, err.Error())
	})
}

func TestObservableOptionsPrintAsGo(t *testing.T) {
	t.Parallel()
	for want, opt := range map[string]interface{ String() string }{
		`state.Label("status")`:                 state.Label("status"),
		"state.Unset()":                         state.Unset(),
		"state.Hidden()":                        state.Hidden(),
		"state.Dedupe()":                        state.Dedupe(),
		"state.DedupeFunc(func(a, b int) bool)": state.DedupeFunc(func(a, b int) bool { return a == b }),
		"state.NotifyCurrent()":                 state.NotifyCurrent(),
	} {
		assert.Equal(t, want, opt.String())
	}
}

func TestStopFromASubscriber(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		level, err := state.New(owner, 0, state.Label("level"))
		require.NoError(t, err)
		dashboard := spragtest.Started(t, "dashboard", nil)
		stopErr := make(chan error, 1)
		_, err = level.Subscribe(dashboard, func(ctx context.Context, _ int) error {
			stopErr <- dashboard.Stop(context.WithoutCancel(ctx))
			time.Sleep(time.Second) // the subscriber goes on after Stop returned
			return nil
		})
		require.NoError(t, err)

		go level.Set(1)
		require.NoError(t, <-stopErr, "Stop returns, and does not name its caller as stuck")
		assert.Equal(t, sprag.Stopping, dashboard.State())
		<-dashboard.Done()
		assert.Equal(t, sprag.Stopped, dashboard.State())
		assert.Zero(t, level.Stats().Subscribers, "removed with its service")
	})
}
