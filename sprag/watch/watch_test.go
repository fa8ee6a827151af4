package watch_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/internal/oteltest"
	"github.com/sprag-go/sprag/sprag/state"
	"github.com/sprag-go/sprag/sprag/watch"
	"github.com/sprag-go/sprag/spragtest"
	"go.opentelemetry.io/otel/attribute"
)

// script returns a poll function that returns results in turn, then the
// last one forever, and records when it was called.
func script[T any](runs *spragtest.Timeline, results ...func() (T, error)) func(context.Context) (T, error) {
	var n atomic.Int32
	return func(context.Context) (T, error) {
		runs.Mark()
		i := min(int(n.Add(1))-1, len(results)-1)
		return results[i]()
	}
}

func ok[T any](v T) func() (T, error) { return func() (T, error) { return v, nil } }

func fail[T any](msg string) func() (T, error) {
	return func() (T, error) {
		var zero T
		return zero, errors.New(msg)
	}
}

func TestWatcherPollsAndNotifiesNewValues(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		runs := spragtest.NewTimeline()
		w, err := watch.Poll(p, script(runs, ok(1), ok(1), ok(2), ok(2), ok(3)), time.Minute, watch.Dedupe(), watch.Label("cfg"))
		require.NoError(t, err)
		assert.Equal(t, "cfg", w.Label())
		var seen spragtest.Collector[int]
		_, err = w.Subscribe(p, func(_ context.Context, v int) error {
			seen.Add(v)
			return nil
		}, state.NotifyCurrent())
		require.NoError(t, err)

		time.Sleep(4 * time.Minute)
		synctest.Wait()
		assert.Equal(t, []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute}, runs.Times(), "at once, then every interval")
		assert.Equal(t, []int{1, 2, 3}, seen.All(), "each new value once")
		v, has := w.Value()
		assert.True(t, has)
		assert.Equal(t, 3, v)
		st := w.Stats()
		assert.Equal(t, watch.Stats{Value: 3, HasValue: true, Polls: 5, Changes: 3, LastSuccess: time.Now()}, st)
		assert.Equal(t, st, p.Status(context.Background()).Details["watcher cfg"])
	})
}

func TestWatcherBacksOffOnErrorsAndResetsAfterASuccess(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &spragtest.Probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		runs := spragtest.NewTimeline()
		w, err := watch.Poll(p, script(runs,
			ok("a"), fail[string]("down"), fail[string]("down"), fail[string]("down"), ok("b"),
			fail[string]("down again"), ok("c"),
		), time.Minute, watch.RetryBackoff(time.Second, 10*time.Second), watch.Label("cfg"))
		require.NoError(t, err)

		time.Sleep(3*time.Minute + 10*time.Second)
		synctest.Wait()
		s := time.Second
		assert.Equal(t, []time.Duration{
			0, 60 * s, // a, then the first failure
			61 * s, 63 * s, // retries after 1s, then 2s
			67 * s,  // after 4s: b
			127 * s, // the interval again, failing
			128 * s, // reset: the first retry is 1s again, not 8s
			188 * s,
		}, runs.Times())
		st := w.Stats()
		assert.Equal(t, int64(4), st.Errors)
		assert.Zero(t, st.Failures)
		assert.Equal(t, "down again", st.LastError)
		assert.Equal(t, "c", st.Value)
		failed := logs.FilterMessage("interval failed").All()
		require.Len(t, failed, 4)
		assert.Equal(t, "watcher cfg", failed[0].ContextMap()["label"])
	})
}

func TestWatcherUnhealthyAfter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		runs := spragtest.NewTimeline()
		_, err := watch.Poll(p, script(runs, ok(1), fail[int]("down"), fail[int]("down"), ok(2)),
			time.Minute, watch.UnhealthyAfter(2), watch.RetryBackoff(time.Second, time.Minute), watch.Label("cfg"))
		require.NoError(t, err)

		time.Sleep(time.Minute)
		synctest.Wait()
		assert.True(t, p.Status(context.Background()).Healthy, "one failure is not enough")
		time.Sleep(time.Second)
		synctest.Wait()
		st := p.Status(context.Background())
		assert.False(t, st.Healthy)
		require.EqualError(t, st.Err, "watcher cfg: 2 consecutive failures: down")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.True(t, p.Status(context.Background()).Healthy, "healthy again after a success")
	})
}

func TestWatcherPanicsAreRecoveredAndCounted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &spragtest.Probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		var n atomic.Int32
		w, err := watch.Poll(p, func(context.Context) (int, error) {
			if n.Add(1) == 1 {
				panic("kaput")
			}
			return 5, nil
		}, time.Minute, watch.Label("cfg"))
		require.NoError(t, err)
		var seen spragtest.Collector[int]
		_, err = w.Subscribe(p, func(_ context.Context, v int) error {
			seen.Add(v)
			panic("subscriber kaput")
		})
		require.NoError(t, err)

		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, []int{5}, seen.All(), "retried after the backoff")
		assert.Equal(t, int64(1), w.Stats().Errors)
		assert.Len(t, logs.FilterMessage("interval panicked").All(), 1)
		assert.Len(t, logs.FilterMessage("callback panicked").All(), 1)
		assert.Equal(t, sprag.Running, p.State())
	})
}

func TestWatcherStopCancelsAPollInProgress(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		w, err := watch.Poll(p, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}, time.Minute)
		require.NoError(t, err)
		synctest.Wait()
		spragtest.Stop(t, p, time.Second)
		assert.Zero(t, w.Stats().Errors, "ending because the service stops is not a failure")
		_, has := w.Value()
		assert.False(t, has)
	})
}

func TestStreamWatcherReconnectsWithBackoff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		runs := spragtest.NewTimeline()
		var calls atomic.Int32
		w, err := watch.Stream(p, func(ctx context.Context, send func(string)) error {
			runs.Mark()
			switch calls.Add(1) {
			case 1:
				send("a")
				send("b")
				return errors.New("connection reset") // after values: retry after 1s
			case 2:
				return errors.New("refused") // nothing sent: 2s
			case 3:
				return nil // ended without a value: 4s
			case 4:
				send("c") // reset
				return errors.New("reset again")
			default:
				<-ctx.Done()
				return ctx.Err()
			}
		}, watch.Label("feed"), watch.Dedupe())
		require.NoError(t, err)
		assert.Equal(t, "feed", w.Label())
		ch := w.Watch(context.Background())

		time.Sleep(time.Minute)
		synctest.Wait()
		s := time.Second
		assert.Equal(t, []time.Duration{0, 1 * s, 3 * s, 7 * s, 8 * s}, runs.Times())
		assert.Equal(t, "c", <-ch)
		st := w.Stats()
		assert.Equal(t, int64(3), st.Changes)
		assert.Equal(t, int64(3), st.Errors)
		assert.Equal(t, int64(4), st.Polls, "four connections ended")
		assert.Equal(t, "reset again", st.LastError)
		spragtest.Stop(t, p, time.Second)
		_, open := <-ch
		assert.False(t, open)
	})
}

func TestNewWatcherRefusesBadInput(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		poll := func(context.Context) (int, error) { return 0, nil }
		tests := []struct {
			name string
			give func() error
			want error
			msg  string
		}{
			{"nil poll", func() error {
				_, err := watch.Poll[int](p, nil, time.Second, watch.Label("w"))
				return err
			}, sprag.ErrInvalidArgument, `service "svc": watcher w: sprag: invalid argument: nil function`},
			{"nil follow", func() error {
				_, err := watch.Stream[int](p, nil, watch.Label("w"))
				return err
			}, sprag.ErrInvalidArgument, "nil function"},
			{"no interval", func() error {
				_, err := watch.Poll(p, poll, 0, watch.Label("w"))
				return err
			}, sprag.ErrInvalidArgument, "interval must be positive, got 0s"},
			{"bad backoff", func() error {
				_, err := watch.Poll(p, poll, time.Second, watch.RetryBackoff(2*time.Second, time.Second))
				return err
			}, sprag.ErrInvalidArgument, "retry backoff must be positive and at most its maximum, got 2s and 1s"},
			{"bad unhealthy", func() error {
				_, err := watch.Poll(p, poll, time.Second, watch.UnhealthyAfter(-1))
				return err
			}, sprag.ErrInvalidArgument, "UnhealthyAfter must not be negative"},
			{"dedupe of another type", func() error {
				_, err := watch.Poll(p, poll, time.Second, watch.DedupeFunc(func(a, b string) bool { return a == b }))
				return err
			}, sprag.ErrInvalidArgument, "DedupeFunc compares string, the values are int"},
			{"nil service", func() error {
				_, err := watch.Poll(nil, poll, time.Second)
				return err
			}, sprag.ErrInvalidArgument, "nil owner"},
			{"unbound service", func() error {
				_, err := watch.Poll(&spragtest.Probe{}, poll, time.Second)
				return err
			}, sprag.ErrNotRunning, "service not running"},
		}
		for _, tt := range tests {
			err := tt.give()
			require.ErrorIs(t, err, tt.want, tt.name)
			assert.Contains(t, err.Error(), tt.msg, tt.name)
		}

		_, err := watch.Poll(p, poll, time.Second, watch.Label("dup"))
		require.NoError(t, err)
		_, err = watch.Stream(p, func(ctx context.Context, _ func(int)) error { <-ctx.Done(); return nil }, watch.Label("dup"))
		require.ErrorIs(t, err, sprag.ErrDuplicateName)

		assert.Equal(t, "watch.RetryBackoff(1s, 1m0s)", watch.RetryBackoff(time.Second, time.Minute).String())
		assert.Equal(t, "watch.UnhealthyAfter(3)", watch.UnhealthyAfter(3).String())
	})
}

func TestStopFromAWatcherPoll(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		stopErr := make(chan error, 1)
		_, err := watch.Poll(p, func(ctx context.Context) (int, error) {
			stopErr <- p.Stop(context.WithoutCancel(ctx)) // the poll's context ends during the stop
			time.Sleep(time.Second)
			return 1, nil
		}, time.Minute)
		require.NoError(t, err)
		require.NoError(t, <-stopErr, "Stop returns while the poll that called it runs")
		assert.Equal(t, sprag.Stopping, p.State())
		<-p.Done()
		assert.Equal(t, sprag.Stopped, p.State())
	})
}

func TestWatcherFiguresAreMetrics(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tel := oteltest.New()
		defer tel.Shutdown()
		p := &spragtest.Probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(tel.Runtime))
		var n atomic.Int32
		_, err := watch.Poll(p, func(context.Context) (int, error) {
			if n.Add(1) == 2 {
				return 0, errors.New("timeout")
			}
			return 1, nil
		}, time.Minute, watch.Label("cfg"), watch.RetryBackoff(time.Second, time.Second))
		require.NoError(t, err)
		time.Sleep(time.Minute + 2*time.Second) // polls at 0, 1m (fails), 1m1s
		synctest.Wait()
		attrs := []attribute.KeyValue{attribute.String("sprag.service", "svc"), attribute.String("sprag.watcher", "cfg")}
		polls, ok, err := tel.Int64("sprag.watch.polls", attrs...)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, int64(3), polls)
		failures, _, _ := tel.Int64("sprag.watch.failures", attrs...)
		assert.Equal(t, int64(1), failures)
	})
}
