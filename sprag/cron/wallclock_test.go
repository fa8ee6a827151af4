package cron_test

import (
	"testing"
	"time"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
)

// TestNextMatchesTheWallClockAcrossOffsetChanges checks Next against a
// minute-by-minute walk of the wall clock, through 2024, in zones whose
// offsets change by an hour, by half an hour (Australia/Lord_Howe, where
// robfig/cron alone skips a day) or not at all.
func TestNextMatchesTheWallClockAcrossOffsetChanges(t *testing.T) {
	t.Parallel()
	zones := []string{"Australia/Lord_Howe", "Europe/Paris", "America/New_York", "America/Santiago", "Pacific/Chatham", "Asia/Kathmandu", "America/St_Johns"}
	specs := []struct {
		spec  string
		h, m  int // -1 any
		every int
	}{{"0 12 * * *", 12, 0, 0}, {"30 1 * * *", 1, 30, 0}, {"0 2 * * *", 2, 0, 0}, {"15 * * * *", -1, 15, 0}, {"0 * * * *", -1, 0, 0}}
	bad := 0
	for _, z := range zones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			t.Fatal(err)
		}
		for _, sp := range specs {
			s, err := cron.Parse(sp.spec, cron.TimeZone(loc))
			if err != nil {
				t.Fatal(err)
			}
			for now := time.Date(2024, 1, 1, 0, 7, 0, 0, time.UTC); now.Year() == 2024; now = now.Add(11*time.Hour + 13*time.Minute) {
				got := s.Next(now, sprag.Run{})
				// brute force
				var want time.Time
				for c := now.Truncate(time.Minute).Add(time.Minute); c.Sub(now) < 49*time.Hour; c = c.Add(time.Minute) {
					l := c.In(loc)
					if (sp.h < 0 || l.Hour() == sp.h) && l.Minute() == sp.m {
						want = c
						break
					}
				}
				if !got.Equal(want) {
					bad++
					if bad < 10 {
						t.Errorf("%s %q from %v: got %v want %v", z, sp.spec, now.In(loc), got.In(loc), want.In(loc))
					}
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d wrong answers", bad)
	}
}
