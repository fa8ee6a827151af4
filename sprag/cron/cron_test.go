package cron_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // the time zone tests do not depend on the machine's zoneinfo

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
	"github.com/sprag-go/sprag/spragtest"
)

// The synctest bubble's clock starts at 2000-01-01 00:00:00 UTC, a
// Saturday.

func TestCronRunsAtTheTimesItsSpecNames(t *testing.T) {
	t.Parallel()
	m := time.Minute
	tests := []struct {
		give string
		wait time.Duration
		want []time.Duration
	}{
		{"CRON_TZ=UTC 0 */15 * * * *", time.Hour, []time.Duration{15 * m, 30 * m, 45 * m, 60 * m}},       // seconds first
		{"TZ=UTC */20 * * * *", time.Hour, []time.Duration{20 * m, 40 * m, 60 * m}},                      // five fields
		{"CRON_TZ=UTC 30 * * * * *", 2 * m, []time.Duration{30 * time.Second, 90 * time.Second}},         // at :30 past the minute
		{"@every 90s", 4 * m, []time.Duration{90 * time.Second, 180 * time.Second}},                      // a fixed delay
		{"CRON_TZ=UTC @hourly", 3 * time.Hour, []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour}}, // a descriptor
		{"CRON_TZ=UTC 0 0 0 * * MON", 8 * 24 * time.Hour, []time.Duration{2 * 24 * time.Hour}},           // the first Monday
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				runs := spragtest.NewTimeline()
				var timer *sprag.Timer
				spragtest.Started(t, "svc", func(p *spragtest.Probe) {
					timer = must(cron.Add(p, tt.give, func(context.Context) error {
						runs.Mark()
						return nil
					}))
				})
				require.NotNil(t, timer)
				time.Sleep(tt.wait)
				synctest.Wait()
				assert.Equal(t, tt.want, runs.Times())
			})
		})
	}
}

func TestCronRunsNeverOverlapAndSkipMissedTimes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := spragtest.NewTimeline()
		var calls, running, overlaps atomic.Int32
		spragtest.Started(t, "svc", func(p *spragtest.Probe) {
			mustAdd(p, "CRON_TZ=UTC * * * * *", func(context.Context) error {
				if running.Add(1) > 1 {
					overlaps.Add(1)
				}
				defer running.Add(-1)
				runs.Mark()
				if calls.Add(1) == 2 {
					time.Sleep(150 * time.Second) // overruns the runs due at 3m and 4m
				}
				return nil
			})
		})
		time.Sleep(7*time.Minute + 30*time.Second)
		synctest.Wait()
		m := time.Minute
		assert.Equal(t, []time.Duration{m, 2 * m, 5 * m, 6 * m, 7 * m}, runs.Times())
		assert.Zero(t, overlaps.Load())
	})
}

func TestCronTimeZones(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		paris := spragtest.NewTimeline()
		newYork := spragtest.NewTimeline()
		fixed := spragtest.NewTimeline()
		spragtest.Started(t, "svc", func(p *spragtest.Probe) {
			mustAdd(p, "CRON_TZ=Europe/Paris 0 9 * * *", func(context.Context) error { paris.Mark(); return nil })
			mustAdd(p, "TZ=America/New_York 0 9 * * *", func(context.Context) error { newYork.Mark(); return nil })
			mustAdd(p, "0 9 * * *", func(context.Context) error { fixed.Mark(); return nil },
				cron.TimeZone(time.FixedZone("UTC+2", 2*60*60)))
		})
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		assert.Equal(t, []time.Duration{8 * time.Hour}, paris.Times(), "9:00 in Paris is 8:00 UTC in January")
		assert.Equal(t, []time.Duration{14 * time.Hour}, newYork.Times(), "9:00 in New York is 14:00 UTC in January")
		assert.Equal(t, []time.Duration{7 * time.Hour}, fixed.Times())
	})
}

func TestCronFailuresKeepTheSchedule(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		var n atomic.Int32
		p := &spragtest.Probe{OnStartFunc: func(_ context.Context, p *spragtest.Probe) error {
			mustAdd(p, "@every 1m", func(context.Context) error {
				switch n.Add(1) {
				case 1:
					panic("kaput")
				case 2:
					return errors.New("no luck")
				}
				return nil
			}, cron.Label("report"))
			return nil
		}}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		assert.Equal(t, int32(3), n.Load())
		panicked := logs.FilterMessage("interval panicked").All()
		require.Len(t, panicked, 1)
		assert.Equal(t, "report", panicked[0].ContextMap()["label"])
		assert.Len(t, logs.FilterMessage("interval failed").All(), 1)
	})
}

func TestCronCancelAndStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var a, b atomic.Int32
		var ta *sprag.Timer
		p := spragtest.Started(t, "svc", func(p *spragtest.Probe) {
			ta = must(cron.Add(p, "@every 1m", func(context.Context) error { a.Add(1); return nil }))
			mustAdd(p, "@every 1m", func(context.Context) error { b.Add(1); return nil })
		})
		time.Sleep(90 * time.Second)
		assert.True(t, ta.Cancel())
		assert.False(t, ta.Cancel())
		time.Sleep(time.Minute)
		spragtest.Stop(t, p, time.Second)
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, int32(1), a.Load(), "cancelled after its first run")
		assert.Equal(t, int32(2), b.Load(), "stopped with its service")
	})
}

func TestCronRefusesBadSpecs(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		noop := func(context.Context) error { return nil }
		tests := []struct {
			give string
			opts []cron.Option
			want string
		}{
			{"every five minutes", nil, "expected 5 to 6 fields"},
			{"61 * * * *", nil, "above maximum"},
			{"CRON_TZ=UTC", nil, "a time zone prefix must be followed by the schedule"},
			{"TZ=Nowhere/Special * * * * *", nil, "bad location"},
			{"CRON_TZ=UTC * * * * *", []cron.Option{cron.TimeZone(time.UTC)}, "time zone given both in the spec and with TimeZone"},
			{"0 0 30 2 *", nil, "names no time in the next five years"},
			{"@fortnightly", nil, "unrecognized descriptor"},
			{"", nil, "empty spec string"},
		}
		for _, tt := range tests {
			timer, err := cron.Add(p, tt.give, noop, append(tt.opts, cron.Label("job"))...)
			require.ErrorIs(t, err, sprag.ErrInvalidArgument, tt.give)
			assert.Contains(t, err.Error(), `service "svc": cron job job: sprag: invalid argument: `, tt.give)
			assert.Contains(t, err.Error(), tt.want, tt.give)
			assert.Nil(t, timer)
			_, err = cron.Parse(tt.give, tt.opts...)
			require.ErrorIs(t, err, sprag.ErrInvalidArgument, tt.give)
			assert.Contains(t, err.Error(), tt.want, tt.give)
		}
		_, err := cron.Add(p, "@hourly", nil)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		_, err = cron.Add(p, "@hourly", noop, cron.Jitter(-time.Second))
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)

		spragtest.Stop(t, p, time.Second)
		_, err = cron.Add(p, "@hourly", noop)
		require.ErrorIs(t, err, sprag.ErrNotRunning)

		assert.Equal(t, "cron.TimeZone(UTC)", cron.TimeZone(time.UTC).String())
		assert.Equal(t, "@hourly", cron.MustParse("@hourly").String())
		assert.Panics(t, func() { cron.MustParse("@fortnightly") })
	})
}

func TestCronLabelDefaultsToTheFunctionName(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var timer *sprag.Timer
		spragtest.Started(t, "svc", func(p *spragtest.Probe) { timer = must(cron.Add(p, "@daily", p.OnStart)) })
		assert.Equal(t, "(*Probe).OnStart", timer.Label())
	})
}

// must returns v, and panics with err when it is not nil.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// mustAdd is cron.Add for specs known good.
func mustAdd(o sprag.Owner, spec string, fn func(context.Context) error, opts ...cron.Option) {
	must(cron.Add(o, spec, fn, opts...))
}
