package sprag_test

// Tests with extreme and odd inputs whose documented behaviour holds.

import (
	"context"
	"errors"
	"fmt"
	"math"
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

// TestEdgeTimersAtTheLongestDuration: timers and delayed tasks of
// math.MaxInt64 (with a jitter as long) never run within a century, stay
// active, and Stop ends them: the task's Err wraps ErrStopped.
func TestEdgeTimersAtTheLongestDuration(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int32
		count := func(context.Context) error {
			runs.Add(1)
			return nil
		}
		var timers []*sprag.Timer
		var task *sprag.Task
		p := started(t, func(p *probe) {
			timers = append(timers,
				must(p.Interval(math.MaxInt64, count, sprag.Jitter(math.MaxInt64))),
				must(p.Timeout(math.MaxInt64, count, sprag.Jitter(math.MaxInt64))),
				must(p.Schedule(sprag.FixedRate(math.MaxInt64), count)),
				must(p.Schedule(sprag.FixedDelay(math.MaxInt64), count)),
			)
			task = must(p.SpawnAfter(math.MaxInt64, count))
		})
		time.Sleep(100 * 365 * 24 * time.Hour)
		synctest.Wait()
		assert.Zero(t, runs.Load())
		for _, tm := range timers {
			assert.True(t, tm.Active())
		}
		spragtest.Stop(t, p, time.Second)
		require.ErrorIs(t, task.Wait(context.Background()), sprag.ErrStopped)
		for _, tm := range timers {
			assert.False(t, tm.Active())
		}
		assert.Zero(t, runs.Load())
	})
}

// TestEdgeOneNanosecondInterval: an interval of 1ns runs once per
// nanosecond of virtual time, one run at a time.
func TestEdgeOneNanosecondInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var runs, running, overlaps atomic.Int32
		p := started(t, func(p *probe) {
			must(p.Interval(time.Nanosecond, func(context.Context) error {
				if running.Add(1) > 1 {
					overlaps.Add(1)
				}
				runs.Add(1)
				running.Add(-1)
				return nil
			}))
		})
		time.Sleep(time.Microsecond)
		synctest.Wait()
		assert.Equal(t, int32(1000), runs.Load())
		assert.Zero(t, overlaps.Load())
		spragtest.Stop(t, p, time.Second)
	})
}

// TestEdgeFixedRateShorterThanItsRun: a 1ns fixed rate whose runs take a
// second skips the ticks it missed: runs never overlap nor pile up.
func TestEdgeFixedRateShorterThanItsRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tl := spragtest.NewTimeline()
		var running, overlaps atomic.Int32
		p := started(t, func(p *probe) {
			must(p.Schedule(sprag.FixedRate(time.Nanosecond), func(context.Context) error {
				if running.Add(1) > 1 {
					overlaps.Add(1)
				}
				tl.Mark()
				time.Sleep(time.Second)
				running.Add(-1)
				return nil
			}))
		})
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		times := tl.Times()
		assert.Len(t, times, 11, "one run per second: the missed ticks are skipped")
		for i := 1; i < len(times); i++ {
			gap := times[i] - times[i-1]
			assert.True(t, gap > time.Second && gap <= time.Second+time.Nanosecond, "gap %v", gap)
		}
		assert.Zero(t, overlaps.Load())
		spragtest.Stop(t, p, 2*time.Second)
	})
}

// TestEdgeJitterLongerThanTheInterval: every wait of Interval(d,
// Jitter(j)) is in [d, d+j), also when j is far longer than d.
func TestEdgeJitterLongerThanTheInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tl := spragtest.NewTimeline()
		p := started(t, func(p *probe) {
			must(p.Interval(time.Second, func(context.Context) error {
				tl.Mark()
				return nil
			}, sprag.Jitter(time.Hour)))
		})
		time.Sleep(48 * time.Hour)
		synctest.Wait()
		times := tl.Times()
		require.Greater(t, len(times), 40)
		prev := time.Duration(0)
		for _, at := range times {
			wait := at - prev
			assert.GreaterOrEqual(t, wait, time.Second)
			assert.Less(t, wait, time.Hour+time.Second)
			prev = at
		}
		spragtest.Stop(t, p, time.Second)
	})
}

// scheduleOf is a Schedule from a function.
type scheduleOf func(now time.Time, last sprag.Run) time.Time

func (f scheduleOf) Next(now time.Time, last sprag.Run) time.Time { return f(now, last) }

// TestEdgeSchedulesWithOddTimes: a schedule with no time at all ends at
// once, without a run; one far in the future (year 9999) waits without
// running and stops cleanly; one in the recent past runs at once.
func TestEdgeSchedulesWithOddTimes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var never, far, past atomic.Int32
		var none, future *sprag.Timer
		pastRuns := spragtest.NewTimeline()
		p := started(t, func(p *probe) {
			none = must(p.Schedule(scheduleOf(func(time.Time, sprag.Run) time.Time { return time.Time{} }),
				func(context.Context) error { never.Add(1); return nil }))
			future = must(p.Schedule(scheduleOf(func(time.Time, sprag.Run) time.Time {
				return time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
			}), func(context.Context) error { far.Add(1); return nil }))
			must(p.Schedule(scheduleOf(func(now time.Time, last sprag.Run) time.Time {
				if last.N == 0 {
					return now.Add(-time.Hour) // in the past: at once
				}
				if last.N < 3 {
					return now.Add(-time.Nanosecond)
				}
				return time.Time{}
			}), func(context.Context) error { pastRuns.Mark(); past.Add(1); return nil }))
		})
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.False(t, none.Active())
		assert.True(t, future.Active())
		assert.Zero(t, never.Load())
		assert.Zero(t, far.Load())
		assert.Equal(t, int32(3), past.Load())
		assert.Equal(t, []time.Duration{0, 0, 0}, pastRuns.Times(), "times in the past run at once")
		spragtest.Stop(t, p, time.Second)
		assert.False(t, future.Active())
	})
}

// TestEdgeExtremeBadArguments: the most negative durations and policy
// fields are refused with ErrInvalidArgument, naming the service and the
// label, and nothing is scheduled.
func TestEdgeExtremeBadArguments(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		noop := func(context.Context) error { return nil }
		errs := map[string]error{}
		started(t, func(p *probe) {
			_, errs["interval"] = p.Interval(math.MinInt64, noop, sprag.Label("interval"))
			_, errs["timeout"] = p.Timeout(math.MinInt64, noop, sprag.Label("timeout"))
			_, errs["jitter"] = p.Interval(time.Second, noop, sprag.Jitter(math.MinInt64), sprag.Label("jitter"))
			_, errs["rate"] = p.Schedule(sprag.FixedRate(math.MinInt64), noop, sprag.Label("rate"))
			_, errs["delay"] = p.Schedule(sprag.FixedDelay(-1), noop, sprag.Label("delay"))
			_, errs["after"] = p.SpawnAfter(math.MinInt64, noop, sprag.Label("after"))
			_, errs["zero after"] = p.SpawnAfter(0, noop, sprag.Label("zero after"))
			for i, policy := range []sprag.RestartPolicy{
				{MaxRestarts: math.MinInt},
				{Window: math.MinInt64},
				{Backoff: -1},
				{MaxBackoff: math.MinInt64},
			} {
				label := fmt.Sprintf("policy %d", i)
				_, errs[label] = p.Spawn(noop, sprag.Label(label), sprag.Restart(policy))
			}
		})
		for label, err := range errs {
			require.ErrorIs(t, err, sprag.ErrInvalidArgument, label)
			assert.Contains(t, err.Error(), `service "svc"`, label)
			assert.Contains(t, err.Error(), label, label)
		}
	})
}

// TestEdgeRestartPolicyExtremes: a policy whose window is 1ns never gives
// up (each restart falls out of the window before the next failure) and
// Stop ends it; one with a huge MaxRestarts and a 1ns backoff restarts
// until it succeeds.
func TestEdgeRestartPolicyExtremes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var forever, untilTen atomic.Int32
		var endless, ten *sprag.Task
		p := started(t, func(p *probe) {
			endless = must(p.Spawn(func(context.Context) error {
				forever.Add(1)
				time.Sleep(time.Millisecond)
				return errors.New("fails")
			}, sprag.Restart(sprag.RestartPolicy{MaxRestarts: 1, Window: time.Nanosecond, Backoff: time.Nanosecond})))
			ten = must(p.Spawn(func(context.Context) error {
				if untilTen.Add(1) < 10 {
					return errors.New("not yet")
				}
				return nil
			}, sprag.Restart(sprag.RestartPolicy{MaxRestarts: math.MaxInt, Backoff: time.Nanosecond, MaxBackoff: time.Nanosecond})))
		})
		require.NoError(t, ten.Wait(context.Background()))
		assert.Equal(t, int32(10), untilTen.Load())
		time.Sleep(time.Second)
		assert.Greater(t, forever.Load(), int32(100), "it never reaches its limit")
		select {
		case <-endless.Done():
			t.Fatal("the task gave up")
		default:
		}
		spragtest.Stop(t, p, time.Second)
		require.Error(t, endless.Wait(context.Background()))
		assert.NotErrorIs(t, endless.Err(), sprag.ErrRestartLimit)
	})
}

// TestEdgeCleanupThatAddsACleanupOrStopsItsOwnScope: a cleanup runs once
// the scope has closed: adding another one is refused with ErrNotRunning
// (it would never run), and a Close from a cleanup returns at once.
func TestEdgeCleanupThatAddsACleanupOrStopsItsOwnScope(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		sc := sprag.NewScope("svc", sprag.NewRuntime(nil))
		var addErr, closeErr error
		var late atomic.Bool
		require.NoError(t, sc.AddCleanup(func(ctx context.Context) error {
			addErr = sc.AddCleanup(func(context.Context) error { late.Store(true); return nil })
			closeErr = sc.Close(context.Background()) //nolint:contextcheck // a cleanup that closes its own scope, as a user might
			return nil
		}))
		require.NoError(t, sc.Close(context.Background()))
		<-sc.Done()
		require.ErrorIs(t, addErr, sprag.ErrNotRunning)
		require.NoError(t, closeErr)
		assert.False(t, late.Load())
	})
}

// TestEdgeManyPerJobChildren: a thousand children adopted and stopped one
// by one leave nothing in their parent: their names are free again.
func TestEdgeManyPerJobChildren(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		parent := started(t, func(*probe) {})
		for i := range 1000 {
			child := &plain{}
			require.NoError(t, parent.Adopt(context.Background(), "job", child), i)
			require.NoError(t, child.Stop(context.Background()))
			<-child.Done()
		}
		assert.Empty(t, parent.Children())
		spragtest.Stop(t, parent, time.Second)
	})
}

// TestEdgeStopRacingWithEveryKindOfCreation: managed calls from many
// goroutines while the service stops either fail with ErrNotRunning or
// create something that the stop tears down: every cleanup accepted runs
// once, every task accepted ends, no timer stays active, no listener is
// called after Done.
func TestEdgeStopRacingWithEveryKindOfCreation(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := sprag.NewRuntime(nil)
		p := &probe{}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		var (
			mu              sync.Mutex
			timers          []*sprag.Timer
			tasks           []*sprag.Task
			accepted, ran   atomic.Int32
			afterDone       atomic.Bool
			calledAfterDone atomic.Int32
		)
		check := func(err error) bool {
			if err != nil {
				assert.ErrorIs(t, err, sprag.ErrNotRunning)
				return false
			}
			return true
		}
		noop := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					switch (g + i) % 5 {
					case 0:
						if tm, err := p.Interval(time.Millisecond, noop); check(err) {
							mu.Lock()
							timers = append(timers, tm)
							mu.Unlock()
						}
					case 1:
						if tk, err := p.Spawn(noop); check(err) {
							mu.Lock()
							tasks = append(tasks, tk)
							mu.Unlock()
						}
					case 2:
						if tk, err := p.SpawnAfter(time.Millisecond, noop); check(err) {
							mu.Lock()
							tasks = append(tasks, tk)
							mu.Unlock()
						}
					case 3:
						_, err := p.Listen("edge:race", func(context.Context, any) error {
							if afterDone.Load() {
								calledAfterDone.Add(1)
							}
							return nil
						})
						check(err)
					case 4:
						if check(p.AddCleanup(func(context.Context) error { ran.Add(1); return nil })) {
							accepted.Add(1)
						}
					}
					time.Sleep(100 * time.Microsecond)
				}
			})
		}
		time.Sleep(2 * time.Millisecond)
		require.NoError(t, p.Stop(context.Background()))
		wg.Wait()
		<-p.Done()
		afterDone.Store(true)
		require.NoError(t, rt.Bus.Emit(context.Background(), "edge:race", nil))
		assert.Zero(t, calledAfterDone.Load())
		assert.Equal(t, accepted.Load(), ran.Load(), "every accepted cleanup ran once")
		for _, tm := range timers {
			assert.False(t, tm.Active())
		}
		for _, tk := range tasks {
			select {
			case <-tk.Done():
			default:
				t.Error("a task outlived its service's Done")
			}
		}
	})
}

// TestEdgeTimerCancelRacingWithItsRuns: after Cancel returns, no run of
// the timer begins, though the one under way finishes.
func TestEdgeTimerCancelRacingWithItsRuns(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const n = 20
		var counts [n]atomic.Int32
		timers := make([]*sprag.Timer, n)
		p := started(t, func(p *probe) {
			for i := range timers {
				timers[i] = must(p.Interval(time.Microsecond, func(context.Context) error {
					counts[i].Add(1)
					return nil
				}))
			}
		})
		var wg sync.WaitGroup
		for i := range timers {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 10 * time.Microsecond) // on a tick: Cancel races the firing
				assert.True(t, timers[i].Cancel())
				assert.False(t, timers[i].Cancel(), "only the first Cancel counts")
			})
		}
		wg.Wait()
		synctest.Wait() // a run under way at Cancel finishes
		var after [n]int32
		for i := range counts {
			after[i] = counts[i].Load()
		}
		time.Sleep(time.Second)
		synctest.Wait()
		for i := range counts {
			assert.Equal(t, after[i], counts[i].Load(), "timer %d ran after Cancel", i)
			assert.False(t, timers[i].Active())
		}
		spragtest.Stop(t, p, time.Second)
	})
}
