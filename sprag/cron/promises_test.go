package cron_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
	"github.com/sprag-go/sprag/spragtest"
)

func TestCronJitterSpreadsRuns(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := spragtest.NewTimeline()
		spragtest.Started(t, "svc", func(p *spragtest.Probe) {
			mustAdd(p, "CRON_TZ=UTC 0 * * * *", func(context.Context) error {
				runs.Mark()
				return nil
			}, cron.Jitter(10*time.Minute))
		})
		time.Sleep(24*time.Hour + 10*time.Minute)
		synctest.Wait()

		times := runs.Times()
		require.Len(t, times, 24, "one run an hour")
		late := 0
		for i, at := range times {
			due := time.Duration(i+1) * time.Hour
			assert.GreaterOrEqual(t, at, due, "run %d", i)
			assert.Less(t, at, due+10*time.Minute, "run %d", i)
			if at > due {
				late++
			}
		}
		assert.Positive(t, late, "the runs are spread")
	})
}

func TestCronScheduleServesManyTimers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		every10 := cron.MustParse("CRON_TZ=UTC */10 * * * *")
		a, b := spragtest.NewTimeline(), spragtest.NewTimeline()
		spragtest.Started(t, "a", func(p *spragtest.Probe) {
			_, err := p.Schedule(every10, func(context.Context) error { a.Mark(); return nil })
			require.NoError(t, err)
		})
		time.Sleep(5 * time.Minute)
		spragtest.Started(t, "b", func(p *spragtest.Probe) {
			_, err := p.Schedule(every10, func(context.Context) error { b.Mark(); return nil })
			require.NoError(t, err)
		})
		time.Sleep(25 * time.Minute)
		synctest.Wait()
		m := time.Minute
		assert.Equal(t, []time.Duration{10 * m, 20 * m, 30 * m}, a.Times())
		assert.Equal(t, []time.Duration{10 * m, 20 * m, 30 * m}, b.Times(), "the same times, though b began at 5 past")
		assert.Equal(t, "CRON_TZ=UTC */10 * * * *", every10.String())
	})
}

func TestCronJobGetsTheScopesContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ended := make(chan struct{})
		p := spragtest.Started(t, "svc", func(p *spragtest.Probe) {
			mustAdd(p, "@every 1m", func(ctx context.Context) error {
				<-ctx.Done() // ended by the owner's stop
				close(ended)
				return ctx.Err()
			})
		})
		time.Sleep(time.Minute)
		synctest.Wait()
		spragtest.Stop(t, p, time.Second)
		<-ended
	})
}

func TestCronEveryDelays(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := spragtest.NewTimeline()
		spragtest.Started(t, "svc", func(p *spragtest.Probe) {
			mustAdd(p, "@every 1500ms", func(context.Context) error { runs.Mark(); return nil })
		})
		time.Sleep(3 * time.Second)
		synctest.Wait()
		assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}, runs.Times(), "whole seconds: the fraction is dropped")
	})
}

func TestCronRefusesMoreBadInput(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		early := &spragtest.Probe{}
		require.NoError(t, sprag.Bind(early, "early", spragtest.Runtime(t)))
		_, err := cron.Add(early, "@hourly", func(context.Context) error { return nil }, cron.Label("job"))
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Contains(t, err.Error(), `service "early": cron job job called before Start`)
		err = early.Start(context.Background())
		require.ErrorIs(t, err, sprag.ErrNotRunning, "a cron job added before the start makes the start fail")
		assert.Contains(t, err.Error(), "cron job job called before Start")

		p := spragtest.Started(t, "svc", nil)
		noop := func(context.Context) error { return nil }
		tests := []struct {
			spec string
			fn   func(context.Context) error
			opts []cron.Option
			want string
		}{
			{"@every 500ms", noop, nil, "cron spec \"@every 500ms\": @every needs a delay of at least one second, got 500ms"},
			{"@every 0s", noop, nil, "@every needs a delay of at least one second, got 0s"},
			{"@every -1m", noop, nil, "@every needs a delay of at least one second, got -1m0s"},
			{"CRON_TZ=UTC @every 10ms", noop, nil, "@every needs a delay of at least one second, got 10ms"},
			{"@every soon", noop, nil, "failed to parse duration"},
			{"0 9 * * *", noop, []cron.Option{cron.TimeZone(nil)}, "nil time zone"},
			{"@hourly", nil, nil, "nil function"},
			{"@hourly", noop, []cron.Option{cron.Jitter(-time.Second)}, "jitter must not be negative, got -1s"},
		}
		for _, tt := range tests {
			timer, err := cron.Add(p, tt.spec, tt.fn, append(tt.opts, cron.Label("job"))...)
			require.ErrorIs(t, err, sprag.ErrInvalidArgument, tt.spec)
			assert.Contains(t, err.Error(), `service "svc": cron job job: sprag: invalid argument: `, tt.spec)
			assert.Contains(t, err.Error(), tt.want, tt.spec)
			assert.Nil(t, timer)
		}
		for _, spec := range []string{"@every 500ms", "@every 0s"} {
			_, err := cron.Parse(spec)
			require.ErrorIs(t, err, sprag.ErrInvalidArgument, spec)
			assert.Contains(t, err.Error(), "at least one second", spec)
		}
		_, err = cron.Parse("0 9 * * *", cron.TimeZone(nil))
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		_, err = cron.Parse("@every 1s")
		require.NoError(t, err, "one second is enough")
		_, err = cron.Add(nil, "@hourly", noop)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		assert.Contains(t, err.Error(), "cron job")

		spragtest.Stop(t, p, time.Second)
		_, err = cron.Add(p, "@hourly", noop, cron.Label("job"))
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Equal(t, `service "svc": cron job job: sprag: service not running (stopped)`, err.Error())
	})
}

func TestCronOptionsPrintAsGo(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	for want, opt := range map[string]cron.Option{
		`cron.Label("report")`:        cron.Label("report"),
		"cron.Jitter(30s)":            cron.Jitter(30 * time.Second),
		"cron.TimeZone(UTC)":          cron.TimeZone(time.UTC),
		"cron.TimeZone(Europe/Paris)": cron.TimeZone(paris),
		"cron.TimeZone(nil)":          cron.TimeZone(nil),
	} {
		assert.Equal(t, want, opt.String())
	}
}

func TestCronFieldsAreReadInTheLocalZoneByDefault(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 5, 0, 0, 0, 0, time.Local)
	s := cron.MustParse("0 9 * * *")
	assert.Equal(t, time.Date(2026, 1, 5, 9, 0, 0, 0, time.Local), s.Next(at, sprag.Run{}))
	utc := cron.MustParse("0 9 * * *", cron.TimeZone(time.UTC))
	midnight := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), utc.Next(midnight, sprag.Run{}).UTC(), "TimeZone overrides it")
}
