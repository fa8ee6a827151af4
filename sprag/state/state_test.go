package state_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/state"
	"github.com/sprag-go/sprag/spragtest"
)

func TestObservableSetGetUpdateAndSubscribers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		counter, err := state.New(owner, 1, state.Label("counter"))
		require.NoError(t, err)
		assert.Equal(t, "counter", counter.Label())
		assert.Equal(t, 1, counter.Get())
		assert.Equal(t, uint64(1), counter.Version())

		var calls spragtest.Collector[string]
		_, err = counter.Subscribe(owner, func(_ context.Context, v int) error {
			calls.Add(fmt.Sprint("a", v))
			return nil
		})
		require.NoError(t, err)
		_, err = counter.Subscribe(owner, func(_ context.Context, v int) error {
			calls.Add(fmt.Sprint("b", v))
			return nil
		}, state.NotifyCurrent())
		require.NoError(t, err)
		assert.Equal(t, []string{"b1"}, calls.All(), "NotifyCurrent sends the current value at once")

		counter.Set(2)
		counter.Update(func(v int) int { return v * 10 })
		assert.Equal(t, 20, counter.Get())
		assert.Equal(t, uint64(3), counter.Version())
		assert.Equal(t, []string{"b1", "a2", "b2", "a20", "b20"}, calls.All(), "in subscription order, before Set returns")

		assert.Equal(t, state.Stats{Value: 20, Version: 3, Subscribers: 2}, counter.Stats())
		assert.Equal(t, counter.Stats(), owner.Status(context.Background()).Details["observable counter"])
	})
}

func TestObservableSubscriberOfAnotherServiceIsRemovedWhenItStops(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		dashboard := &spragtest.Probe{}
		spragtest.Start(t, "dashboard", dashboard)
		status, err := state.New(owner, "starting", state.Label("status"))
		require.NoError(t, err)

		var seen spragtest.Collector[string]
		var ctxs spragtest.Collector[context.Context]
		sub, err := status.Subscribe(dashboard, func(ctx context.Context, v string) error {
			seen.Add(v)
			ctxs.Add(ctx)
			return nil
		})
		require.NoError(t, err)
		assert.True(t, sub.Active())
		status.Set("ready")
		assert.Equal(t, []string{"ready"}, seen.All())
		assert.Same(t, dashboard.Context(), ctxs.All()[0], "called with its own service's context")

		spragtest.Stop(t, dashboard, time.Second)
		assert.False(t, sub.Active())
		assert.Zero(t, status.Stats().Subscribers)
		status.Set("busy")
		assert.Equal(t, []string{"ready"}, seen.All(), "not called once its service stopped")
		assert.False(t, sub.Cancel(), "already removed")
	})
}

func TestObservableSubscriberIsNotCalledOnceItsServiceBeganToStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		status, err := state.New(owner, 0)
		require.NoError(t, err)
		var seen spragtest.Collector[int]
		stopping := make(chan struct{})
		proceed := make(chan struct{})
		dashboard := &spragtest.Probe{OnStopFunc: func(context.Context, *spragtest.Probe) error {
			close(stopping)
			<-proceed // OnStop runs before the cleanup that removes the subscriber
			return nil
		}}
		spragtest.Start(t, "dashboard", dashboard)
		_, err = status.Subscribe(dashboard, func(_ context.Context, v int) error {
			seen.Add(v)
			return nil
		})
		require.NoError(t, err)

		go func() { _ = dashboard.Stop(context.Background()) }()
		<-stopping
		status.Set(1)
		close(proceed)
		<-dashboard.Done()
		assert.Empty(t, seen.All())
	})
}

func TestObservableStopWaitsForARunningSubscriberAndNamesIt(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		status, err := state.New(owner, 0, state.Label("status"))
		require.NoError(t, err)
		dashboard := &spragtest.Probe{}
		spragtest.Start(t, "dashboard", dashboard)
		_, err = status.Subscribe(dashboard, func(context.Context, int) error {
			time.Sleep(time.Minute)
			return nil
		})
		require.NoError(t, err)

		go status.Set(1)
		synctest.Wait()
		err = stopWithin(dashboard, time.Second)
		var stuck *sprag.StuckError
		require.ErrorAs(t, err, &stuck)
		require.Len(t, stuck.Running, 1)
		assert.Equal(t, sprag.KindCallback, stuck.Running[0].Kind)
		assert.Contains(t, stuck.Running[0].Label, "observable status ")
		time.Sleep(time.Minute)
		synctest.Wait()
	})
}

func TestObservableSubscriberFailuresAreIsolated(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		owner := &spragtest.Probe{}
		spragtest.Start(t, "svc", owner, spragtest.WithRuntime(rt))
		status, err := state.New(owner, 0, state.Label("status"))
		require.NoError(t, err)
		var seen spragtest.Collector[int]
		_, err = status.Subscribe(owner, func(context.Context, int) error { panic("kaput") })
		require.NoError(t, err)
		_, err = status.Subscribe(owner, func(context.Context, int) error { return errors.New("no luck") })
		require.NoError(t, err)
		_, err = status.Subscribe(owner, func(_ context.Context, v int) error {
			seen.Add(v)
			return nil
		})
		require.NoError(t, err)

		require.NotPanics(t, func() { status.Set(1) })
		assert.Equal(t, []int{1}, seen.All(), "the next subscriber is still called")
		panicked := logs.FilterMessage("callback panicked").All()
		require.Len(t, panicked, 1)
		assert.Contains(t, panicked[0].ContextMap()["label"], "observable status ")
		assert.Contains(t, panicked[0].ContextMap()["stack"], "state_test.go")
		assert.Len(t, logs.FilterMessage("callback failed").All(), 1)
	})
}

func TestObservableSetFromASubscriberIsDeliveredNext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		level, err := state.New(owner, 0)
		require.NoError(t, err)
		var calls spragtest.Collector[string]
		_, err = level.Subscribe(owner, func(_ context.Context, v int) error {
			calls.Add(fmt.Sprint("a", v))
			if v == 1 {
				level.Set(2) // from inside a subscriber: no deadlock
			}
			return nil
		})
		require.NoError(t, err)
		_, err = level.Subscribe(owner, func(_ context.Context, v int) error {
			calls.Add(fmt.Sprint("b", v))
			return nil
		})
		require.NoError(t, err)
		level.Set(1)
		assert.Equal(t, []string{"a1", "b1", "a2", "b2"}, calls.All())
		assert.Equal(t, 2, level.Get())
	})
}

func TestObservableUpdatePanicLeavesTheValue(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		level, err := state.New(owner, 7)
		require.NoError(t, err)
		assert.PanicsWithValue(t, "bad update", func() {
			level.Update(func(int) int { panic("bad update") })
		})
		assert.Equal(t, 7, level.Get(), "unchanged, and not left locked")
		level.Set(8)
		assert.Equal(t, 8, level.Get())
	})
}

func TestObservableDedupe(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		type config struct{ Hosts []string }
		cfg, err := state.New(owner, config{Hosts: []string{"a"}}, state.Dedupe(), state.Label("cfg"))
		require.NoError(t, err)
		var seen spragtest.Collector[config]
		_, err = cfg.Subscribe(owner, func(_ context.Context, v config) error {
			seen.Add(v)
			return nil
		})
		require.NoError(t, err)
		cfg.Set(config{Hosts: []string{"a"}})
		cfg.Update(func(c config) config { return config{Hosts: append([]string(nil), c.Hosts...)} })
		cfg.Set(config{Hosts: []string{"a", "b"}})
		assert.Equal(t, []config{{Hosts: []string{"a", "b"}}}, seen.All())
		assert.Equal(t, uint64(2), cfg.Version())

		byLen, err := state.New(owner, "abc", state.DedupeFunc(func(a, b string) bool { return len(a) == len(b) }))
		require.NoError(t, err)
		byLen.Set("xyz")
		assert.Equal(t, "abc", byLen.Get(), "equal by the function")
		byLen.Set("wxyz")
		assert.Equal(t, "wxyz", byLen.Get())
	})
}

func TestObservableWatch(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := &spragtest.Probe{}
		spragtest.Start(t, "svc", owner)
		level, err := state.New(owner, 1)
		require.NoError(t, err)

		ctx, cancel := context.WithCancel(context.Background())
		ch := level.Watch(ctx)
		assert.Equal(t, 1, <-ch, "the current value first")
		level.Set(2)
		level.Set(3)
		assert.Equal(t, 3, <-ch, "a receiver that falls behind gets the latest")
		cancel()
		synctest.Wait()
		_, open := <-ch
		assert.False(t, open, "closed when ctx ends")
		assert.Zero(t, level.Stats().Subscribers)

		ch = level.Watch(context.Background())
		<-ch
		spragtest.Stop(t, owner, time.Second)
		_, open = <-ch
		assert.False(t, open, "closed when the owner stops")

		_, open = <-level.Watch(context.Background())
		assert.False(t, open, "closed at once after the owner stopped")
		level.Set(4)
		assert.Equal(t, 4, level.Get(), "the value stays settable")
	})
}

func TestObservableConcurrentSetsReachSubscribersInOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		level, err := state.New(owner, 0)
		require.NoError(t, err)
		var seen spragtest.Collector[int]
		_, err = level.Subscribe(owner, func(_ context.Context, v int) error {
			seen.Add(v)
			return nil
		})
		require.NoError(t, err)

		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 200 {
					level.Update(func(v int) int { return v + 1 })
				}
			})
		}
		wg.Wait()
		synctest.Wait()

		requireOrderedUpTo(t, seen.All(), 1600)
		assert.Equal(t, 1600, level.Get())
	})
}

func TestObservableRefusesBadSubscriptions(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		level, err := state.New(owner, 0, state.Label("level"))
		require.NoError(t, err)
		fn := func(context.Context, int) error { return nil }

		_, err = level.Subscribe(nil, fn)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		_, err = level.Subscribe(owner, nil)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		_, err = level.Subscribe(&spragtest.Probe{}, fn)
		require.ErrorIs(t, err, sprag.ErrNotRunning, "an unbound subscriber")
		_, err = state.New(owner, 0, state.Label("level"))
		require.ErrorIs(t, err, sprag.ErrDuplicateName)
		_, err = state.New(owner, 0, state.DedupeFunc(func(a, b string) bool { return a == b }))
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		assert.Contains(t, err.Error(), "DedupeFunc compares string, the values are int")
		_, err = state.New(nil, 0)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)

		other := &spragtest.Probe{}
		spragtest.Start(t, "other", other)
		spragtest.Stop(t, owner, time.Second)
		_, err = level.Subscribe(other, fn)
		require.ErrorIs(t, err, sprag.ErrNotRunning, "the observable's service stopped")
		assert.Contains(t, err.Error(), `service "svc": observable level`)
		_, err = state.New(owner, 0)
		require.ErrorIs(t, err, sprag.ErrNotRunning)

		assert.Equal(t, "state.Dedupe()", state.Dedupe().String())
		assert.Equal(t, "state.DedupeFunc(func(a, b int) bool)", state.DedupeFunc(func(a, b int) bool { return a == b }).String())
		assert.Equal(t, "state.NotifyCurrent()", state.NotifyCurrent().String())
	})
}

func TestSubscriberCancel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		owner := spragtest.Started(t, "svc", nil)
		level, err := state.New(owner, 0)
		require.NoError(t, err)
		var seen spragtest.Collector[int]
		sub, err := level.Subscribe(owner, func(_ context.Context, v int) error {
			seen.Add(v)
			return nil
		})
		require.NoError(t, err)
		level.Set(1)
		assert.True(t, sub.Cancel())
		assert.False(t, sub.Cancel())
		level.Set(2)
		assert.Equal(t, []int{1}, seen.All())
		var none *state.Subscriber
		assert.False(t, none.Cancel())
		assert.False(t, none.Active())
	})
}

// Not parallel: it measures the heap.
func TestCancelledSubscribersKeepTheHeapFlat(t *testing.T) {
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p, spragtest.WithRuntime(sprag.NewRuntime(nil)))
	o, err := state.New(p, 0)
	require.NoError(t, err)
	per := spragtest.HeapGrowthPerCycle(20000, func(int) {
		sub, err := o.Subscribe(p, func(context.Context, int) error { return nil })
		require.NoError(t, err)
		sub.Cancel()
	})
	assert.Less(t, per, 64.0, "bytes kept per subscribe/cancel cycle")
}
