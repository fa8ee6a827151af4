package sprag

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads the specs of Service.Cron: five fields as in crontab,
// or six with seconds first, and the descriptors (@hourly, @every 90s, ...).
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Cron calls fn at the times spec names, until the service stops or the
// handle is cancelled. spec is parsed by github.com/robfig/cron/v3:
//
//	"*/15 * * * *"        five fields: minute hour day-of-month month day-of-week
//	"0 */5 * * * *"       six fields: seconds first, here every five minutes on the minute
//	"@hourly", "@daily"   descriptors; "@every 90s" is a fixed delay
//	"CRON_TZ=Europe/Paris 0 9 * * MON-FRI"  a time zone prefix (TZ= works too)
//
// The fields are read in the zone of the prefix, or of the [TimeZone]
// option, or time.Local. Runs never overlap: the next run is the first
// time the spec names after fn returns, so a run that overruns skips the
// times it missed instead of piling them up. Otherwise the job is an
// interval of the service (the handle is a [Timer], and [Label] and
// [Jitter] work as for [Service.Interval]): it costs no goroutine while it
// waits, it runs on virtual time in a testing/synctest bubble, fn receives
// the service's context, and an error or panic from fn is logged and the
// job keeps its schedule.
//
// A bad spec, a spec that names no time in the next five years, a nil fn,
// or a zone given both in the spec and as an option schedules nothing: the
// handle's Err wraps [ErrInvalidArgument] and says why. So does a call when
// the service is not starting or running, with [ErrNotRunning].
func (s *Service) Cron(spec string, fn func(ctx context.Context) error, opts ...CronOption) *Timer {
	var c cronConfig
	for _, o := range opts {
		o.applyCron(&c)
	}
	label := c.label
	if label == "" && fn != nil {
		label = funcLabel(fn)
	}
	t := &Timer{s: s, repeat: true}
	t.act = activity{kind: KindInterval, label: label}
	if fn == nil {
		return t.fail(s.invalid(KindInterval, label, "nil function"))
	}
	sched, err := parseCron(spec, c.loc)
	if err != nil {
		return t.fail(s.invalid(KindInterval, label, "cron spec %q: %v", spec, err))
	}
	now := time.Now()
	first := sched.Next(now)
	if first.IsZero() {
		return t.fail(s.invalid(KindInterval, label, "cron spec %q names no time in the next five years", spec))
	}
	t.d = first.Sub(now)
	t.fn = func(ctx context.Context) error {
		defer func() { // also after a panic, which the timer recovers
			now := time.Now()
			next := sched.Next(now)
			s.mu.Lock()
			defer s.mu.Unlock()
			if next.IsZero() { // the spec's last time has passed
				delete(s.timers, t)
				t.cancelLocked()
				return
			}
			t.d = next.Sub(now) // read by fire when this returns: see Timer.nextDelay
		}()
		return fn(ctx)
	}
	return s.scheduleTimer(t, KindInterval, timerConfig{label: label, jitter: c.jitter})
}

// parseCron parses spec, with loc as its zone unless the spec names one.
func parseCron(spec string, loc *time.Location) (sched cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	prefixed := strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=")
	switch {
	case prefixed && !strings.Contains(spec, " "):
		// The parser of v3.0.1 panics on a zone without fields.
		return nil, fmt.Errorf("a time zone prefix must be followed by the schedule")
	case prefixed && loc != nil:
		return nil, fmt.Errorf("time zone given both in the spec and with TimeZone")
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("cron parser: %v", r)
		}
	}()
	sched, err = cronParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	if ss, ok := sched.(*cron.SpecSchedule); ok && loc != nil {
		ss.Location = loc
	}
	return sched, nil
}
