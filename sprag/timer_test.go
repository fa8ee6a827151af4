package sprag_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// runTimes records, relative to the bubble's start, when a callback ran.
type runTimes struct {
	mu    sync.Mutex
	start time.Time
	at    []time.Duration
}

func newRunTimes() *runTimes { return &runTimes{start: time.Now()} }

func (r *runTimes) mark() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = append(r.at, time.Since(r.start))
}

func (r *runTimes) get() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.at...)
}

// started starts a probe whose OnStart calls setup.
func started(t *testing.T, setup func(p *probe)) *probe {
	t.Helper()
	p := &probe{onStart: func(_ context.Context, p *probe) error {
		setup(p)
		return nil
	}}
	spragtest.Start(t, "svc", p)
	return p
}

func TestIntervalFiresSixtyTimesAnHour(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		started(t, func(p *probe) {
			must(p.Interval(time.Minute, func(context.Context) error {
				n.Add(1)
				return nil
			}))
		})
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, int32(60), n.Load())
	})
}

func TestIntervalFixedDelayNeverOverlaps(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := newRunTimes()
		var running, overlaps atomic.Int32
		started(t, func(p *probe) {
			must(p.Interval(time.Minute, func(context.Context) error {
				if running.Add(1) > 1 {
					overlaps.Add(1)
				}
				runs.mark()
				time.Sleep(10 * time.Second) // the next wait starts when this returns
				running.Add(-1)
				return nil
			}))
		})
		time.Sleep(4 * time.Minute)
		synctest.Wait()
		assert.Equal(t, []time.Duration{
			time.Minute, 2*time.Minute + 10*time.Second, 3*time.Minute + 20*time.Second,
		}, runs.get())
		assert.Zero(t, overlaps.Load())
	})
}

func TestIntervalFixedRateKeepsItsScheduleAndSkipsMissedTicks(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := newRunTimes()
		var calls atomic.Int32
		started(t, func(p *probe) {
			must(p.Schedule(sprag.FixedRate(time.Minute), func(context.Context) error {
				runs.mark()
				if calls.Add(1) == 2 {
					time.Sleep(150 * time.Second) // overruns the ticks due at 3m and 4m
				} else {
					time.Sleep(10 * time.Second)
				}
				return nil
			}))
		})
		time.Sleep(7*time.Minute + 30*time.Second) // the last run ends at 7m10s
		synctest.Wait()
		assert.Equal(t, []time.Duration{
			time.Minute, 2 * time.Minute, // on schedule although each run takes 10s
			5 * time.Minute, // the run from 2m ended at 4m30s: 3m and 4m are skipped, not piled up
			6 * time.Minute, 7 * time.Minute,
		}, runs.get())
	})
}

func TestIntervalImmediately(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := newRunTimes()
		started(t, func(p *probe) {
			must(p.Interval(time.Minute, func(context.Context) error {
				runs.mark()
				return nil
			}, sprag.Immediately()))
		})
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		assert.Equal(t, []time.Duration{0, time.Minute, 2 * time.Minute}, runs.get())
	})
}

func TestIntervalJitterStaysWithinItsBound(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := newRunTimes()
		started(t, func(p *probe) {
			must(p.Interval(time.Minute, func(context.Context) error {
				runs.mark()
				return nil
			}, sprag.Jitter(10*time.Second)))
		})
		time.Sleep(time.Hour)
		synctest.Wait()
		at := runs.get()
		require.GreaterOrEqual(t, len(at), 52, "at most 70s apart over an hour")
		var prev time.Duration
		distinct := map[time.Duration]bool{}
		for _, a := range at {
			gap := a - prev
			assert.GreaterOrEqual(t, gap, time.Minute)
			assert.Less(t, gap, time.Minute+10*time.Second)
			distinct[gap] = true
			prev = a
		}
		assert.Greater(t, len(distinct), 1, "the waits vary")
	})
}

func TestFailingIntervalIsLoggedAndKeepsTicking(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		var n atomic.Int32
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			must(p.Interval(time.Minute, func(context.Context) error {
				switch n.Add(1) {
				case 1:
					return errors.New("flaky")
				case 2:
					panic("worse")
				}
				return nil
			}, sprag.Label("collect")))
			return nil
		}}
		spragtest.Start(t, "metrics", p, spragtest.WithRuntime(rt))
		time.Sleep(5 * time.Minute)
		synctest.Wait()

		assert.Equal(t, int32(5), n.Load(), "the interval kept ticking")
		failed := logs.FilterMessage("interval failed").All()
		require.Len(t, failed, 1)
		assert.Equal(t, map[string]any{"service": "metrics", "kind": "interval", "label": "collect", "error": "flaky"}, failed[0].ContextMap())
		panicked := logs.FilterMessage("interval panicked").All()
		require.Len(t, panicked, 1)
		fields := panicked[0].ContextMap()
		assert.Equal(t, "metrics", fields["service"])
		assert.Equal(t, "panic: worse", fields["error"])
		assert.Contains(t, fields["stack"], "timer_test.go")
	})
}

func TestIntervalCancel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		var timer *sprag.Timer
		started(t, func(p *probe) {
			timer = must(p.Interval(time.Minute, func(context.Context) error {
				n.Add(1)
				return nil
			}))
		})
		time.Sleep(150 * time.Second)
		assert.True(t, timer.Cancel())
		assert.False(t, timer.Cancel(), "a second cancel is harmless")
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, int32(2), n.Load())
		assert.False(t, timer.Active())
	})
}

func TestIntervalDefaultLabelIsTheFunctionName(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var labelled, named *sprag.Timer
		started(t, func(p *probe) {
			named = must(p.Interval(time.Minute, p.OnStop0))
			labelled = must(p.Interval(time.Minute, p.OnStop0, sprag.Label("custom")))
		})
		assert.Equal(t, "(*probe).OnStop0", named.Label())
		assert.Equal(t, "custom", labelled.Label())
	})
}

// OnStop0 gives TestIntervalDefaultLabelIsTheFunctionName a method to name.
func (p *probe) OnStop0(context.Context) error { return nil }

func TestTimerBadInput(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		noop := func(context.Context) error { return nil }
		type result struct {
			label string
			timer *sprag.Timer
			err   error
		}
		var results []result
		add := func(label string) func(*sprag.Timer, error) {
			return func(timer *sprag.Timer, err error) { results = append(results, result{label, timer, err}) }
		}
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			add("zero")(p.Interval(0, noop, sprag.Label("zero")))
			add("negative")(p.Interval(-time.Second, noop, sprag.Label("negative")))
			add("nil")(p.Interval(time.Second, nil, sprag.Label("nil")))
			add("zero timeout")(p.Timeout(0, noop, sprag.Label("zero timeout")))
			add("bad jitter")(p.Interval(time.Second, noop, sprag.Jitter(-1), sprag.Label("bad jitter")))
			add("nil schedule")(p.Schedule(nil, noop, sprag.Label("nil schedule")))
			add("zero rate")(p.Schedule(sprag.FixedRate(0), noop, sprag.Label("zero rate")))
			add("zero delay")(p.Schedule(sprag.FixedDelay(0), noop, sprag.Label("zero delay")))
			return nil
		}}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		for _, r := range results {
			require.ErrorIs(t, r.err, sprag.ErrInvalidArgument, r.label)
			assert.Contains(t, r.err.Error(), `service "svc"`)
			assert.Contains(t, r.err.Error(), r.label)
			assert.Nil(t, r.timer)
			assert.False(t, r.timer.Cancel(), "a nil handle is inert")
		}
		assert.Len(t, logs.FilterMessage("invalid argument").All(), len(results))
	})
}

func TestTimersOfAServiceThatIsNotRunning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		p := &probe{}
		require.NoError(t, sprag.Bind(p, "idle", rt))
		var n atomic.Int32
		count := func(context.Context) error {
			n.Add(1)
			return nil
		}
		_, err := p.Interval(time.Second, count)
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Contains(t, err.Error(), "called before Start, at sprag/timer_test.go:")
		startErr := p.Start(context.Background())
		require.ErrorIs(t, startErr, sprag.ErrNotRunning, "the call before Start fails the start")
		assert.Contains(t, startErr.Error(), `start service "idle": interval TestTimersOfAServiceThatIsNotRunning.func1.1 called before Start, at sprag/timer_test.go:`)
		assert.Equal(t, sprag.Failed, p.State())

		q := &probe{}
		require.NoError(t, sprag.Bind(q, "done", rt))
		require.NoError(t, q.Start(context.Background()))
		require.NoError(t, q.Stop(context.Background()))
		_, err = q.Timeout(time.Second, count)
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Contains(t, err.Error(), "(stopped)")

		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Zero(t, n.Load(), "nothing was scheduled")
		assert.Empty(t, logs.FilterMessage("managed method called before Start").All(), "Start's failure reports it")
		assert.Len(t, logs.FilterMessage("managed method called while not running").All(), 1)
	})
}

func TestTimeoutRunsOnceAndCanBeCancelled(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := newRunTimes()
		var once, cancelled *sprag.Timer
		started(t, func(p *probe) {
			once = must(p.Timeout(30*time.Second, func(context.Context) error {
				runs.mark()
				return nil
			}))
			cancelled = must(p.Timeout(time.Minute, func(context.Context) error {
				t.Error("a cancelled timeout ran")
				return nil
			}))
		})
		assert.True(t, cancelled.Cancel())
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, []time.Duration{30 * time.Second}, runs.get())
		assert.False(t, once.Cancel(), "a timeout that ran cannot be cancelled")
	})
}

func TestTimeoutJitter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := newRunTimes()
		started(t, func(p *probe) {
			must(p.Timeout(time.Minute, func(context.Context) error {
				runs.mark()
				return nil
			}, sprag.Jitter(time.Second)))
		})
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		at := runs.get()
		require.Len(t, at, 1)
		assert.GreaterOrEqual(t, at[0], time.Minute)
		assert.Less(t, at[0], time.Minute+time.Second)
	})
}

func TestOptionsDescribeThemselves(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		give interface{ String() string }
		want string
	}{
		{sprag.Label("x"), `sprag.Label("x")`},
		{sprag.Jitter(time.Second), "sprag.Jitter(1s)"},
		{sprag.Immediately(), "sprag.Immediately()"},
		{sprag.Restart(sprag.RestartPolicy{MaxRestarts: 2}), "sprag.Restart({MaxRestarts:2 Window:0s Backoff:0s MaxBackoff:0s})"},
		{sprag.UntilStopped(), "sprag.UntilStopped()"},
		{sprag.FixedRate(time.Minute).(fmt.Stringer), "FixedRate(1m0s)"},
		{sprag.FixedDelay(time.Minute).(fmt.Stringer), "FixedDelay(1m0s)"},
	} {
		assert.Equal(t, tt.want, tt.give.String())
	}
}

func TestIntervalImmediatelyIsNotJittered(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := newRunTimes()
		started(t, func(p *probe) {
			must(p.Interval(time.Minute, func(context.Context) error {
				runs.mark()
				return nil
			}, sprag.Immediately(), sprag.Jitter(10*time.Second)))
		})
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		at := runs.get()
		require.GreaterOrEqual(t, len(at), 2)
		assert.Zero(t, at[0], "the first run comes at once")
		assert.GreaterOrEqual(t, at[1], time.Minute)
		assert.Less(t, at[1], time.Minute+10*time.Second)
	})
}

// TestManyTimersOfOneScopeKeepTheirSchedules holds the scope's queue of
// waiting timers to account: timers of many periods, some cancelled while
// they wait, each run exactly when its schedule says.
func TestManyTimersOfOneScopeKeepTheirSchedules(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const n = 300
		counts := make([]atomic.Int64, n)
		timers := make([]*sprag.Timer, n)
		started(t, func(p *probe) {
			for i := range n {
				period := time.Duration(i%17+1) * time.Second // 1s to 17s
				timers[i] = must(p.Interval(period, func(context.Context) error {
					counts[i].Add(1)
					return nil
				}))
			}
		})
		time.Sleep(30*time.Second + time.Millisecond)
		for i := 0; i < n; i += 3 { // a third, while they wait
			require.True(t, timers[i].Cancel())
		}
		time.Sleep(time.Hour - 30*time.Second)
		synctest.Wait()
		for i := range n {
			period := i%17 + 1
			want := int64(3600 / period)
			if i%3 == 0 {
				want = int64(30 / period)
			}
			assert.Equal(t, want, counts[i].Load(), "timer %d, every %ds", i, period)
			assert.Equal(t, i%3 != 0, timers[i].Active())
		}
	})
}

func TestImmediatelyWithEachSchedule(t *testing.T) {
	t.Parallel()
	const m, s = time.Minute, time.Second
	noopRun := func(d time.Duration) func(*spragtest.Timeline) func(context.Context) error {
		return func(runs *spragtest.Timeline) func(context.Context) error {
			return func(context.Context) error {
				runs.Mark()
				time.Sleep(d)
				return nil
			}
		}
	}
	tests := []struct {
		name string
		give func(p *probe, fn func(context.Context) error) (*sprag.Timer, error)
		want []time.Duration
	}{
		{"fixed delay waits after the first run", func(p *probe, fn func(context.Context) error) (*sprag.Timer, error) {
			return p.Interval(m, fn, sprag.Immediately())
		}, []time.Duration{0, m + 20*s, 2*m + 40*s, 4 * m}},
		{"fixed rate keeps the grid of the creation", func(p *probe, fn func(context.Context) error) (*sprag.Timer, error) {
			return p.Schedule(sprag.FixedRate(m), fn, sprag.Immediately())
		}, []time.Duration{0, m, 2 * m, 3 * m, 4 * m}},
		{"a timeout runs once, at once", func(p *probe, fn func(context.Context) error) (*sprag.Timer, error) {
			return p.Timeout(m, fn, sprag.Immediately())
		}, []time.Duration{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				runs := spragtest.NewTimeline()
				started(t, func(p *probe) { must(tt.give(p, noopRun(20*s)(runs))) })
				time.Sleep(4*m + 45*s)
				synctest.Wait()
				assert.Equal(t, tt.want, runs.Times())
			})
		})
	}
}

func TestIntervalRunCutByStopEndsCleanly(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		var runs atomic.Int32
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			must(p.Interval(time.Minute, func(ctx context.Context) error {
				if runs.Add(1) == 1 {
					return fmt.Errorf("collect: %w", context.Canceled) // not the scope's: a failure
				}
				<-ctx.Done()
				return fmt.Errorf("collect: %w", ctx.Err()) // the scope is closing: a clean end
			}, sprag.Label("collect")))
			return nil
		}}
		spragtest.Start(t, "metrics", p, spragtest.WithRuntime(rt))
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		require.Equal(t, int32(2), runs.Load(), "the second run waits for the stop")

		spragtest.Stop(t, p, time.Second)
		failed := logs.FilterMessage("interval failed").All()
		require.Len(t, failed, 1, "only the run that failed while the scope was open is logged")
		assert.Equal(t, "collect: context canceled", failed[0].ContextMap()["error"])
	})
}
