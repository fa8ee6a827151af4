package cron_test

// Tests of cron schedules at daylight-saving transitions and with odd
// inputs whose documented behaviour holds.

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
	"github.com/sprag-go/sprag/spragtest"
)

// transitions returns the instants of year at which loc's offset changes,
// to the hour.
func transitions(loc *time.Location, year int) []time.Time {
	var out []time.Time
	t := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	_, offset := t.Zone()
	for h := range 366 * 24 {
		u := t.Add(time.Duration(h) * time.Hour)
		if _, o := u.Zone(); o != offset {
			out = append(out, u)
			offset = o
		}
	}
	return out
}

// TestEdgeNextAdvancesAcrossDaylightSavingTransitions: in zones whose
// clocks jump by an hour, by half an hour (Lord Howe) or at midnight
// (Havana, Santiago), Next is always strictly after now, so that a timer
// on the schedule never runs twice at one instant nor loops, and a job
// never waits much longer than its period. (Daily jobs of Lord Howe are
// in edge_bugs_test.go.)
func TestEdgeNextAdvancesAcrossDaylightSavingTransitions(t *testing.T) {
	t.Parallel()
	zones := []string{
		"America/New_York", "Europe/Paris", "Australia/Lord_Howe", "America/Havana",
		"America/Santiago", "Pacific/Chatham", "America/St_Johns", "Antarctica/Troll",
	}
	specs := map[string]time.Duration{ // the longest wait the spec allows across a transition
		"0 * * * *":             2 * time.Hour,
		"*/30 * * * *":          90 * time.Minute,
		"0 30 * * * *":          2 * time.Hour,
		"*/13 * * * * *":        time.Hour + 13*time.Second,
		"@hourly":               2 * time.Hour,
		"CRON_TZ=UTC 0 * * * *": time.Hour,
	}
	for _, zone := range zones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Skip("no time zone database:", err)
		}
		changes := transitions(loc, 2024)
		require.NotEmpty(t, changes, zone)
		for spec, longest := range specs {
			var opts []cron.Option
			if spec[0] != 'C' {
				opts = append(opts, cron.TimeZone(loc))
			}
			s, err := cron.Parse(spec, opts...)
			require.NoError(t, err, spec)
			for _, change := range changes {
				now, end := change.Add(-12*time.Hour), change.Add(12*time.Hour)
				for now.Before(end) {
					next := s.Next(now, sprag.Run{})
					require.True(t, next.After(now), "%s %q: Next(%v) = %v", zone, spec, now, next)
					require.LessOrEqual(t, next.Sub(now), longest, "%s %q: Next(%v) = %v", zone, spec, now, next)
					now = next
				}
			}
		}
	}
}

// TestEdgeCronJobsWithExtremeJitterAndEveryDelays: a job with the longest
// jitter and one with an @every delay of decades are scheduled and never
// run within a year; a negative jitter, down to math.MinInt64, is refused.
func TestEdgeCronJobsWithExtremeJitterAndEveryDelays(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var runs atomic.Int32
		count := func(context.Context) error { runs.Add(1); return nil }
		p := spragtest.Started(t, "svc", nil)
		jittered, err := cron.Add(p, "@every 1s", count, cron.Jitter(math.MaxInt64), cron.Label("jittered"))
		require.NoError(t, err)
		decades, err := cron.Add(p, "@every 262800h", count, cron.Label("decades")) // 30 years
		require.NoError(t, err)
		_, err = cron.Add(p, "@every 1s", count, cron.Jitter(math.MinInt64), cron.Label("negative"))
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		assert.Contains(t, err.Error(), `service "svc": cron job negative`)

		time.Sleep(365 * 24 * time.Hour)
		synctest.Wait()
		assert.LessOrEqual(t, runs.Load(), int32(1), "the jitter may fall anywhere in 292 years")
		assert.True(t, decades.Active())
		require.NoError(t, p.Stop(context.Background()))
		assert.False(t, jittered.Active())
		assert.False(t, decades.Active())
	})
}
