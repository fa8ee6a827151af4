package cron_test

// Tests of bugs once found at daylight-saving transitions. Each says
// what is promised and what happens instead.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
)

// TestEdgeDailyJobSkipsADayAfterAHalfHourDSTShift: Schedule promises
// that a timer on it "runs at the times the spec names", and Next
// returns "the first time the spec names after now". In
// Australia/Lord_Howe, whose clocks go back half an hour (02:00 +11 to
// 01:30 +1030) on 2024-04-07, a daily job at a whole hour (or at :15)
// skips a whole day: Next(2024-04-06 12:00 +11) for "0 12 * * *" is
// 2024-04-08 12:00, although 2024-04-07 12:00 +1030 exists once and
// plainly. The same holds for "0 0 * * *" from 2024-04-07 00:00 (next is
// the 9th, not the 8th), "0 3 * * *" and "15 23 * * *". The cause is
// robfig/cron v3's Next, which steps hours by adding an absolute hour:
// after the half-hour shift it lands on :30 local, its minute loop
// wraps, and the day is lost.
//
// Fix: in cron.Schedule.Next, do not trust robfig's walk across offset
// changes: e.g. step local wall-clock fields with time.Date (day by day,
// then hour and minute) and convert once, or check robfig's answer
// against the candidates of each local day between now and it.
func TestEdgeDailyJobSkipsADayAfterAHalfHourDSTShift(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation("Australia/Lord_Howe")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	cases := []struct {
		spec       string
		from, want time.Time
	}{
		{"0 12 * * *", time.Date(2024, 4, 6, 12, 0, 0, 0, loc), time.Date(2024, 4, 7, 12, 0, 0, 0, loc)},
		{"0 0 * * *", time.Date(2024, 4, 7, 0, 0, 0, 0, loc), time.Date(2024, 4, 8, 0, 0, 0, 0, loc)},
		{"15 23 * * *", time.Date(2024, 4, 6, 23, 15, 0, 0, loc), time.Date(2024, 4, 7, 23, 15, 0, 0, loc)},
	}
	for _, c := range cases {
		s, err := cron.Parse(c.spec, cron.TimeZone(loc))
		require.NoError(t, err)
		got := s.Next(c.from, sprag.Run{})
		assert.True(t, got.Equal(c.want), "%q: Next(%v) = %v, want %v", c.spec, c.from, got, c.want)
	}
}
