package cron

import (
	"fmt"
	"time"
)

// An Option configures [Parse] and [Add].
type Option interface {
	applyCron(*config)
	String() string
}

type config struct {
	label  string
	jitter time.Duration
	loc    *time.Location
	zoned  bool // TimeZone was given, perhaps with a nil loc
}

type timeZoneOption struct{ loc *time.Location }

func (o timeZoneOption) applyCron(c *config) { c.loc, c.zoned = o.loc, true }
func (o timeZoneOption) String() string {
	if o.loc == nil {
		return "cron.TimeZone(nil)"
	}
	return fmt.Sprintf("cron.TimeZone(%s)", o.loc)
}

// TimeZone makes a spec's fields read in loc. Without it, and without a
// CRON_TZ= or TZ= prefix in the spec, they are read in time.Local. A spec
// with a prefix and this option is refused: say the zone once. A nil loc
// is refused too, with an error wrapping sprag.ErrInvalidArgument.
func TimeZone(loc *time.Location) Option { return timeZoneOption{loc: loc} }

type labelOption string

func (o labelOption) applyCron(c *config) { c.label = string(o) }
func (o labelOption) String() string      { return fmt.Sprintf("cron.Label(%q)", string(o)) }

// Label names a cron job of [Add] in logs and errors. The default is its
// function's name. [Parse] ignores it.
func Label(label string) Option { return labelOption(label) }

type jitterOption time.Duration

func (o jitterOption) applyCron(c *config) { c.jitter = time.Duration(o) }
func (o jitterOption) String() string      { return fmt.Sprintf("cron.Jitter(%v)", time.Duration(o)) }

// Jitter adds a random delay in [0, max) to every run of a cron job of
// [Add], as sprag.Jitter does for any timer. [Parse] ignores it.
func Jitter(maxDelay time.Duration) Option { return jitterOption(maxDelay) }
