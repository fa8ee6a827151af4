package cron_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
)

// fzZones are the TimeZone options of the cron fuzz target: none, UTC,
// zones whose daylight saving time shifts at or around midnight or by
// half an hour, and a nil zone.
var fzZones = func() []func() (cron.Option, bool) {
	zones := []func() (cron.Option, bool){
		func() (cron.Option, bool) { return nil, false },
		func() (cron.Option, bool) { return cron.TimeZone(time.UTC), true },
		func() (cron.Option, bool) { return cron.TimeZone(nil), true },
	}
	for _, name := range []string{"America/Sao_Paulo", "America/Havana", "America/Santiago", "Europe/Paris",
		"Australia/Lord_Howe", "Asia/Tehran", "Pacific/Chatham", "America/Asuncion"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			panic(err)
		}
		zones = append(zones, func() (cron.Option, bool) { return cron.TimeZone(loc), true })
	}
	return zones
}()

// within runs fn, failing the test when it has not returned after d: the
// cron parser and its Next must not loop.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s has not returned after %v", what, d)
	}
}

// FuzzParse parses arbitrary specs with each TimeZone option. Parse
// returns a schedule or an error, in bounded time. An error wraps
// sprag.ErrInvalidArgument and quotes the spec; a zone given twice or a
// nil zone is refused. A schedule keeps its spec, names a time after
// time.Now (as Parse promises), and its Next, from any time between 1970
// and 2100, returns in bounded time a later time (or zero), at a whole
// minute for a spec without seconds, and at most the delay later for an
// @every spec.
func FuzzParse(f *testing.F) {
	for _, seed := range []struct {
		spec string
		zone uint8
	}{
		{"*/15 * * * *", 0},
		{"0 */5 * * * *", 1},
		{"@hourly", 0},
		{"@every 90s", 0},
		{"@every 1.5s", 0},
		{"@every 500ms", 0},
		{"@every -1s", 0},
		{"@every 1000000h", 0},
		{"CRON_TZ=Europe/Paris 0 9 * * MON-FRI", 0},
		{"CRON_TZ=Europe/Paris 0 9 * * MON-FRI", 1},
		{"TZ=UTC", 0},
		{"TZ=UTC\t@every 2s", 0},
		{"TZ=Nowhere/Land * * * * *", 0},
		{"CRON_TZ=America/Sao_Paulo 0 0 * * *", 0},
		{"TZ=America/Havana 30 0 * * *", 0},
		{"0 0 * * *", 3},
		{"0 0 * * *", 4},
		{"15 2 * * *", 7},
		{"30 2 * * *", 6},
		{"0 0 30 2 *", 0},
		{"0 0 29 2 *", 0},
		{"0 0 31 4,6,9,11 *", 0},
		{"* * * * * * *", 0},
		{"60 * * * *", 0},
		{"*/0 * * * *", 0},
		{"1-0 * * * *", 0},
		{"? * * * *", 0},
		{"", 0},
		{"   ", 2},
		{"@", 0},
		{"@yearly", 8},
		{"0 0 * * 7", 0},
		{"0 0 L * *", 0},
		{"- * * * *", 0},
	} {
		f.Add(seed.spec, seed.zone, int64(1_700_000_000))
	}
	const end2100 = 4_102_444_800
	f.Fuzz(func(t *testing.T, spec string, zone uint8, nowSec int64) {
		opt, zoned := fzZones[int(zone)%len(fzZones)]()
		var opts []cron.Option
		if opt != nil {
			opts = append(opts, opt)
		}
		var (
			s   *cron.Schedule
			err error
		)
		within(t, 10*time.Second, "Parse("+strconv.Quote(spec)+")", func() { s, err = cron.Parse(spec, opts...) })

		trimmed := strings.TrimSpace(spec)
		prefixed := strings.HasPrefix(trimmed, "CRON_TZ=") || strings.HasPrefix(trimmed, "TZ=")
		if err != nil {
			if s != nil {
				t.Fatalf("Parse(%q): both a schedule and %v", spec, err)
			}
			if !errors.Is(err, sprag.ErrInvalidArgument) || !strings.Contains(err.Error(), strconv.Quote(spec)) {
				t.Fatalf("Parse(%q): %v does not wrap ErrInvalidArgument and quote the spec", spec, err)
			}
			return
		}
		if zoned && prefixed {
			t.Fatalf("Parse(%q) with a TimeZone option accepted a zone prefix", spec)
		}
		if opt != nil && int(zone)%len(fzZones) == 2 {
			t.Fatalf("Parse(%q) accepted a nil TimeZone", spec)
		}
		if s.String() != spec {
			t.Fatalf("Parse(%q).String() = %q", spec, s.String())
		}
		var n time.Time
		within(t, 10*time.Second, "Next of "+strconv.Quote(spec), func() { n = s.Next(time.Now(), sprag.Run{}) })
		if n.IsZero() {
			t.Fatalf("Parse(%q) returned a schedule that names no time after now", spec)
		}

		// The fields, without the zone prefix.
		fields := trimmed
		if prefixed {
			_, fields, _ = strings.Cut(trimmed, " ")
			fields = strings.TrimSpace(fields)
		}
		var every time.Duration
		if rest, ok := strings.CutPrefix(fields, "@every "); ok {
			d, perr := time.ParseDuration(rest)
			if perr != nil {
				t.Fatalf("Parse(%q) accepted the @every delay %q that time.ParseDuration refuses: %v", spec, rest, perr)
			}
			every = d.Truncate(time.Second)
		}
		minutes := !strings.HasPrefix(fields, "@") && len(strings.Fields(fields)) == 5

		now := time.Unix(int64(uint64(nowSec)%end2100), int64(uint64(nowSec)%1_000_000_000)) //nolint:gosec // a fuzzed bit pattern, reduced below 2100
		for range 4 {
			var next time.Time
			within(t, 10*time.Second, "Next of "+strconv.Quote(spec)+" from "+now.String(), func() { next = s.Next(now, sprag.Run{}) })
			if next.IsZero() {
				return
			}
			if !next.After(now) {
				t.Fatalf("Parse(%q).Next(%v) = %v, not later", spec, now, next)
			}
			if minutes && (next.Second() != 0 || next.Nanosecond() != 0) {
				t.Fatalf("Parse(%q).Next(%v) = %v, not at a whole minute", spec, now, next)
			}
			if every > 0 && next.Sub(now) > every {
				t.Fatalf("Parse(%q).Next(%v) = %v, more than %v later", spec, now, next, every)
			}
			now = next
		}
	})
}
