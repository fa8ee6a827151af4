package cron

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	robfig "github.com/robfig/cron/v3"

	"github.com/sprag-go/sprag/sprag"
)

// parser reads the specs: five fields as in crontab, or six with seconds
// first, and the descriptors (@hourly, @every 90s, ...).
var parser = robfig.NewParser(robfig.SecondOptional | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)

// Schedule is a cron spec as a [sprag.Schedule]: a timer on it runs at the
// times the spec names. Runs never overlap: the next run is the first time
// the spec names after the last run returns, so a run that overruns skips
// the times it missed instead of piling them up. A Schedule keeps no
// state: one value may serve many timers.
type Schedule struct {
	spec  string
	sched robfig.Schedule
}

// Parse parses spec with github.com/robfig/cron/v3:
//
//	"*/15 * * * *"        five fields: minute hour day-of-month month day-of-week
//	"0 */5 * * * *"       six fields: seconds first, here every five minutes on the minute
//	"@hourly", "@daily"   descriptors; "@every 90s" is a fixed delay
//	"CRON_TZ=Europe/Paris 0 9 * * MON-FRI"  a time zone prefix (TZ= works too)
//
// An @every delay is at least one second, in whole seconds: a fraction of
// a second is dropped. The fields are read in the zone of the prefix, or
// of the [TimeZone] option, or time.Local. A bad spec, an @every delay
// below one second, a spec that names no time in the next five years, a
// zone given both in the spec and as an option, or a nil TimeZone is an
// error wrapping sprag.ErrInvalidArgument that says why.
func Parse(spec string, opts ...Option) (*Schedule, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			o.applyCron(&c)
		}
	}
	s, err := parse(spec, c)
	if err != nil {
		return nil, fmt.Errorf("cron spec %q: %w: %w", spec, sprag.ErrInvalidArgument, err)
	}
	return s, nil
}

// parse returns the schedule of spec, or why spec is refused.
func parse(spec string, c config) (*Schedule, error) {
	if c.zoned && c.loc == nil {
		return nil, errors.New("nil time zone given with TimeZone (use time.Local or time.UTC)")
	}
	sched, err := parseSpec(spec, c.loc)
	if err != nil {
		return nil, err
	}
	if sched.Next(time.Now()).IsZero() {
		return nil, errors.New("it names no time in the next five years")
	}
	return &Schedule{spec: spec, sched: sched}, nil
}

// MustParse is [Parse] for specs known good at compile time: it panics on
// a bad one. Use it in package-level variables, never on input.
func MustParse(spec string, opts ...Option) *Schedule {
	s, err := Parse(spec, opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// Next implements [sprag.Schedule]: the first time the spec names after
// now, or the zero time once the spec names no more. Times are matched on
// the wall clock of the schedule's zone, also across a change of its
// offset.
func (s *Schedule) Next(now time.Time, _ sprag.Run) time.Time {
	next := s.sched.Next(now)
	if alt := wallNext(s.sched, now); !alt.IsZero() && alt.After(now) && (next.IsZero() || alt.Before(next)) {
		return alt
	}
	return next
}

// wallNext is what robfig/cron v3 misses: it steps hours in absolute
// time, so after the clocks go back half an hour (Australia/Lord_Howe) it
// walks 1:30, 2:30, … and skips the day of a job at a whole hour. It
// walks the wall clock instead, in a zone fixed at now's offset, and
// returns that wall time in the schedule's zone if it exists there; the
// zero time for a schedule of another kind, or a wall time that does not.
func wallNext(sched robfig.Schedule, now time.Time) time.Time {
	spec, ok := sched.(*robfig.SpecSchedule)
	if !ok {
		return time.Time{}
	}
	loc := spec.Location
	if loc == nil {
		loc = time.Local
	}
	_, offset := now.In(loc).Zone()
	fixed := *spec
	fixed.Location = time.FixedZone("", offset)
	w := fixed.Next(now)
	if w.IsZero() {
		return time.Time{}
	}
	w = w.In(fixed.Location) // Next answers in now's location
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
	if t.Hour() != w.Hour() || t.Minute() != w.Minute() || t.Day() != w.Day() {
		return time.Time{} // skipped by a jump of the clocks: not a time of the zone
	}
	return t
}

// String returns the spec.
func (s *Schedule) String() string { return s.spec }

// Add runs fn at the times spec names, as a timer of o's scope (see
// sprag.Scope.Schedule): it costs no goroutine while it waits, it runs on
// virtual time in a testing/synctest bubble, fn receives the scope's
// context, and an error or panic from fn is logged and the job keeps its
// schedule. Options: [TimeZone], [Label] (default: fn's name), [Jitter].
//
// Add fails, scheduling nothing, with an error wrapping
// sprag.ErrInvalidArgument that names o and the job for a nil o, a bad
// spec (as [Parse] says), a nil fn or a negative Jitter, and
// sprag.ErrNotRunning when o's scope is not open.
func Add(o sprag.Owner, spec string, fn func(ctx context.Context) error, opts ...Option) (*sprag.Timer, error) {
	sc, err := sprag.ScopeOf(o, "cron job")
	if err != nil {
		return nil, err
	}
	var c config
	for _, opt := range opts {
		if opt != nil {
			opt.applyCron(&c)
		}
	}
	label := c.label
	if label == "" {
		label = sprag.FuncLabel(fn)
	}
	if err := sc.Accepting("cron job", label); err != nil {
		return nil, err
	}
	switch {
	case fn == nil:
		return nil, sc.Invalid("cron job", label, "nil function")
	case c.jitter < 0:
		return nil, sc.Invalid("cron job", label, "jitter must not be negative, got %v", c.jitter)
	}
	sched, err := parse(spec, c)
	if err != nil {
		return nil, sc.Invalid("cron job", label, "cron spec %q: %v", spec, err)
	}
	timerOpts := []sprag.TimerOption{sprag.Label(label)}
	if c.jitter != 0 {
		timerOpts = append(timerOpts, sprag.Jitter(c.jitter))
	}
	return sc.Schedule(sched, fn, timerOpts...)
}

// parseSpec parses spec, with loc as its zone unless the spec names one.
func parseSpec(spec string, loc *time.Location) (sched robfig.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	prefixed := strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=")
	switch {
	case prefixed && !strings.Contains(spec, " "):
		// The parser of v3.0.1 panics on a zone without fields.
		return nil, errors.New("a time zone prefix must be followed by the schedule")
	case prefixed && loc != nil:
		return nil, errors.New("time zone given both in the spec and with TimeZone")
	}
	if err := checkEvery(spec); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("cron parser: %v", r)
		}
	}()
	sched, err = parser.Parse(spec)
	if err != nil {
		return nil, err
	}
	if ss, ok := sched.(*robfig.SpecSchedule); ok && loc != nil {
		ss.Location = loc
	}
	return sched, nil
}

// checkEvery refuses an @every delay below one second, which the parser
// would silently round up to one second.
func checkEvery(spec string) error {
	if prefixed := strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ="); prefixed {
		_, spec, _ = strings.Cut(spec, " ")
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(spec), "@every ")
	if !ok {
		return nil
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		return nil // the parser says why
	}
	if d < time.Second {
		return fmt.Errorf("@every needs a delay of at least one second, got %v", d)
	}
	return nil
}
