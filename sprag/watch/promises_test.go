package watch_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/watch"
	"github.com/sprag-go/sprag/spragtest"
)

func TestWatcherDefaultBackoffAndFailuresOnlyInTheFigures(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		runs := spragtest.NewTimeline()
		w, err := watch.Poll(p, script(runs, fail[int]("down")), time.Hour, watch.Label("cfg"))
		require.NoError(t, err)

		time.Sleep(3*time.Minute + 30*time.Second)
		synctest.Wait()
		s := time.Second
		assert.Equal(t, []time.Duration{
			0, 1 * s, 3 * s, 7 * s, 15 * s, 31 * s, 63 * s, // RetryBackoff(time.Second, time.Minute): 1s, doubling
			123 * s, 183 * s, // capped at a minute
		}, runs.Times())
		st := w.Stats()
		assert.Equal(t, 9, st.Failures)
		assert.Equal(t, int64(9), st.Errors)
		assert.Equal(t, "down", st.LastError)
		assert.False(t, st.HasValue)
		assert.Nil(t, st.Value, "nil before the first value")
		status := p.Status(context.Background())
		assert.True(t, status.Healthy, "without UnhealthyAfter, failures show only in the figures")
		assert.Equal(t, st, status.Details["watcher cfg"])
	})
}

func TestWatcherDedupeFunc(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		runs := spragtest.NewTimeline()
		w, err := watch.Poll(p, script(runs, ok("a"), ok("A"), ok("b"), ok("B")), time.Minute,
			watch.DedupeFunc(strings.EqualFold), watch.Label("cfg"))
		require.NoError(t, err)

		time.Sleep(time.Minute)
		synctest.Wait()
		v, _ := w.Value()
		assert.Equal(t, "a", v, "A is a: not a change")
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		st := w.Stats()
		assert.Equal(t, "b", st.Value, "B is b")
		assert.Equal(t, int64(2), st.Changes)
		assert.Equal(t, int64(4), st.Polls)
	})
}

func TestStreamWatcherFailuresAreLoggedAsTaskFailures(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &spragtest.Probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		var calls atomic.Int32
		w, err := watch.Stream(p, func(ctx context.Context, send func(int)) error {
			switch calls.Add(1) {
			case 1:
				return errors.New("refused")
			case 2:
				panic("kaput")
			}
			send(1)
			<-ctx.Done()
			return ctx.Err()
		}, watch.Label("feed"), watch.UnhealthyAfter(2))
		require.NoError(t, err)

		time.Sleep(time.Second) // the first retry, after 1s
		synctest.Wait()
		st := p.Status(context.Background())
		assert.False(t, st.Healthy, "two failures in a row")
		require.ErrorContains(t, st.Err, "watcher feed: 2 consecutive failures")
		time.Sleep(2 * time.Second) // the second retry, after 2s
		synctest.Wait()
		assert.True(t, p.Status(context.Background()).Healthy, "a value resets the failures")
		v, has := w.Value()
		assert.True(t, has)
		assert.Equal(t, 1, v)

		failed := logs.FilterMessage("task failed").All()
		require.Len(t, failed, 1)
		assert.Equal(t, "watcher feed", failed[0].ContextMap()["label"])
		assert.Equal(t, "svc", failed[0].ContextMap()["service"])
		assert.Equal(t, "refused", failed[0].ContextMap()["error"])
		panicked := logs.FilterMessage("task panicked").All()
		require.Len(t, panicked, 1, "a panic in follow is recovered, logged, and the stream reconnects")
		assert.Equal(t, "watcher feed", panicked[0].ContextMap()["label"])
		assert.Contains(t, panicked[0].ContextMap()["stack"], "promises_test.go")
		assert.Equal(t, int64(2), w.Stats().Errors)
	})
}

func TestStreamWatcherCancel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		var connections atomic.Int32
		cancelled := make(chan struct{})
		w, err := watch.Stream(p, func(ctx context.Context, send func(string)) error {
			connections.Add(1)
			send("up")
			<-ctx.Done()
			close(cancelled)
			return ctx.Err()
		}, watch.Label("feed"))
		require.NoError(t, err)
		synctest.Wait()

		assert.True(t, w.Cancel())
		<-cancelled // the follower's context is cancelled
		assert.False(t, w.Cancel(), "already cancelled")
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, int32(1), connections.Load(), "no reconnection after Cancel")
		v, has := w.Value()
		assert.True(t, has)
		assert.Equal(t, "up", v, "the value stays readable")
		assert.Equal(t, sprag.Running, p.State(), "the owner runs on")
	})
}

func TestStreamWatcherIgnoresASendAfterFollowReturned(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		var calls atomic.Int32
		stale := make(chan func(int), 1)
		w, err := watch.Stream(p, func(ctx context.Context, send func(int)) error {
			if calls.Add(1) == 1 {
				send(1)
				stale <- send
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}, watch.Label("feed"))
		require.NoError(t, err)
		send := <-stale
		synctest.Wait() // waiting to reconnect
		send(99)
		time.Sleep(time.Minute) // connected again
		synctest.Wait()
		send(98)
		v, _ := w.Value()
		assert.Equal(t, 1, v, "a send after its follow returned is dropped")
		assert.Equal(t, int64(1), w.Stats().Changes)
	})
}

func TestWatcherCancelLetsAPollInProgressFinish(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		var polls atomic.Int32
		var cut atomic.Bool
		release := make(chan struct{})
		w, err := watch.Poll(p, func(ctx context.Context) (int, error) {
			polls.Add(1)
			<-release
			cut.Store(ctx.Err() != nil)
			return 7, nil
		}, time.Minute, watch.Label("slow"))
		require.NoError(t, err)
		synctest.Wait() // the first poll runs

		assert.True(t, w.Cancel())
		close(release)
		synctest.Wait()
		assert.False(t, cut.Load(), "Cancel does not cut the poll under way")
		v, has := w.Value()
		assert.True(t, has, "its value is kept")
		assert.Equal(t, 7, v)
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, int32(1), polls.Load(), "no poll begins after Cancel")
	})
}

// pollAnswer is a poll function with a name.
func pollAnswer(context.Context) (int, error) { return 42, nil }

func TestWatcherLabelDefaultsToItsFunctionsName(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		w, err := watch.Poll(p, pollAnswer, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, "pollAnswer", w.Label())
		synctest.Wait()
		assert.Contains(t, p.Status(context.Background()).Details, "watcher pollAnswer")
	})
}

func TestWatcherErrorsNameTheWatcher(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		early := &spragtest.Probe{}
		require.NoError(t, sprag.Bind(early, "early", spragtest.Runtime(t)))
		_, err := watch.Poll(early, pollAnswer, time.Second, watch.Label("w"))
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Contains(t, err.Error(), `service "early": watcher w called before Start`)
		err = early.Start(context.Background())
		require.ErrorIs(t, err, sprag.ErrNotRunning, "a watcher made before the start makes the start fail")
		assert.Contains(t, err.Error(), "watcher w called before Start")

		p := spragtest.Started(t, "svc", nil)
		follow := func(ctx context.Context, _ func(int)) error { <-ctx.Done(); return nil }
		for name, give := range map[string]func() error{
			"no backoff": func() error {
				_, err := watch.Poll(p, pollAnswer, time.Second, watch.Label("w"), watch.RetryBackoff(0, time.Second))
				return err
			},
			"negative interval": func() error {
				_, err := watch.Poll(p, pollAnswer, -time.Second, watch.Label("w"))
				return err
			},
			"stream with a bad backoff": func() error {
				_, err := watch.Stream(p, follow, watch.Label("w"), watch.RetryBackoff(time.Second, time.Millisecond))
				return err
			},
			"stream with a negative UnhealthyAfter": func() error {
				_, err := watch.Stream(p, follow, watch.Label("w"), watch.UnhealthyAfter(-2))
				return err
			},
			"stream with a DedupeFunc of another type": func() error {
				_, err := watch.Stream(p, follow, watch.Label("w"), watch.DedupeFunc(strings.EqualFold))
				return err
			},
			"nil DedupeFunc": func() error {
				_, err := watch.Poll(p, pollAnswer, time.Second, watch.Label("w"), watch.DedupeFunc[int](nil))
				return err
			},
		} {
			err := give()
			require.ErrorIs(t, err, sprag.ErrInvalidArgument, name)
			assert.Contains(t, err.Error(), `service "svc": watcher w: sprag: invalid argument: `, name)
		}
		assert.Empty(t, p.Status(context.Background()).Details, "a refused watcher leaves nothing behind")

		spragtest.Stop(t, p, time.Second)
		_, err = watch.Poll(p, pollAnswer, time.Second, watch.Label("w"))
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Equal(t, `service "svc": watcher w: sprag: service not running (stopped)`, err.Error())
	})
}

func TestWatcherOptionsPrintAsGo(t *testing.T) {
	t.Parallel()
	for want, opt := range map[string]watch.Option{
		`watch.Label("cfg")`:                    watch.Label("cfg"),
		"watch.RetryBackoff(1s, 1m0s)":          watch.RetryBackoff(time.Second, time.Minute),
		"watch.Dedupe()":                        watch.Dedupe(),
		"watch.DedupeFunc(func(a, b int) bool)": watch.DedupeFunc(func(a, b int) bool { return a == b }),
		"watch.UnhealthyAfter(3)":               watch.UnhealthyAfter(3),
	} {
		assert.Equal(t, want, opt.String())
	}
	b := &watch.Backoff{Interval: time.Minute, Initial: time.Second, Max: 5 * time.Second}
	assert.Equal(t, "watch.Backoff{Interval: 1m0s, Initial: 1s, Max: 5s}", b.String())
}

func TestBackoffNeverOverflows(t *testing.T) {
	t.Parallel()
	b := &watch.Backoff{Interval: time.Minute, Initial: time.Second, Max: math.MaxInt64} // no cap to speak of
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	down := errors.New("down")
	last := time.Duration(0)
	for i := range 100 {
		wait := b.Next(now, sprag.Run{N: i + 1, Err: down}).Sub(now)
		require.GreaterOrEqual(t, wait, last, "failure %d: the wait never shrinks", i+1)
		last = wait
	}
	assert.Equal(t, time.Duration(math.MaxInt64), last, "it reaches Max")
	assert.Equal(t, time.Minute, b.Next(now, sprag.Run{N: 101}).Sub(now), "a success resets it")
	assert.Equal(t, time.Second, b.Next(now, sprag.Run{N: 102, Err: down}).Sub(now))
}

// A Poll with an interval that is not positive is refused, and nil
// options are ignored rather than panicking.
func TestPromisePollRefusesABadIntervalAndIgnoresNilOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sc sprag.Scope
		ran := 0
		require.NoError(t, sc.AddCleanup(func(context.Context) error { ran++; return nil }))
		poll := func(context.Context) (int, error) { return 1, nil }
		for _, d := range []time.Duration{0, -1, -time.Second} {
			_, err := watch.Poll(&sc, poll, d, nil)
			require.ErrorIs(t, err, sprag.ErrInvalidArgument)
			require.ErrorContains(t, err, "interval must be positive")
		}
		w, err := watch.Poll(&sc, poll, time.Second, nil, watch.Label("fine"))
		require.NoError(t, err)
		synctest.Wait()
		v, ok := w.Value()
		require.True(t, ok)
		require.Equal(t, 1, v)
		require.NoError(t, sc.Close(context.Background()))
		require.Equal(t, 1, ran)
	})
}
