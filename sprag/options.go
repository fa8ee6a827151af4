package sprag

import (
	"fmt"
	"time"
)

// An IntervalOption configures [Service.Interval].
type IntervalOption interface {
	applyInterval(*timerConfig)
	String() string
}

// A TimeoutOption configures [Service.Timeout].
type TimeoutOption interface {
	applyTimeout(*timerConfig)
	String() string
}

// A TaskOption configures [Service.Spawn] and [Service.SpawnAfter].
type TaskOption interface {
	applyTask(*taskConfig)
	String() string
}

type timerConfig struct {
	label       string
	jitter      time.Duration
	fixedRate   bool
	immediately bool
}

type taskConfig struct {
	label   string
	restart *RestartPolicy
}

// LabelOption is returned by [Label]. It names intervals, timeouts, tasks,
// cron jobs, queues, watchers, observables and processes alike.
type LabelOption string

// Label names managed work in logs, errors and health reports. Without it
// the label is the function's name, such as "(*MetricsService).collect".
func Label(label string) LabelOption { return LabelOption(label) }

func (o LabelOption) applyInterval(c *timerConfig) { c.label = string(o) }
func (o LabelOption) applyTimeout(c *timerConfig)  { c.label = string(o) }
func (o LabelOption) applyTask(c *taskConfig)      { c.label = string(o) }

// String returns the option as it would be written in Go.
func (o LabelOption) String() string { return fmt.Sprintf("Label(%q)", string(o)) }

// JitterOption is returned by [Jitter].
type JitterOption time.Duration

// Jitter adds a random delay in [0, max) to every wait of an interval or a
// timeout, so that many instances do not fire in step. A negative max is an
// invalid argument.
func Jitter(maxDelay time.Duration) JitterOption { return JitterOption(maxDelay) }

func (o JitterOption) applyInterval(c *timerConfig) { c.jitter = time.Duration(o) }
func (o JitterOption) applyTimeout(c *timerConfig)  { c.jitter = time.Duration(o) }

// String returns the option as it would be written in Go.
func (o JitterOption) String() string { return fmt.Sprintf("Jitter(%v)", time.Duration(o)) }

type fixedRateOption struct{}

func (fixedRateOption) applyInterval(c *timerConfig) { c.fixedRate = true }
func (fixedRateOption) String() string               { return "FixedRate()" }

// FixedRate makes an interval fire on a fixed schedule, d apart from its
// first run, instead of d after each run returns. A run that overruns makes
// the interval skip the ticks it missed: runs never overlap and never pile
// up.
func FixedRate() IntervalOption { return fixedRateOption{} }

type immediatelyOption struct{}

func (immediatelyOption) applyInterval(c *timerConfig) { c.immediately = true }
func (immediatelyOption) String() string               { return "Immediately()" }

// Immediately makes an interval run once as soon as it is created, then
// every d. [Jitter] applies to the waits after that first run.
func Immediately() IntervalOption { return immediatelyOption{} }

// RestartOption is returned by [Restart]. It configures tasks and managed
// processes alike.
type RestartOption RestartPolicy

func (o RestartOption) applyTask(c *taskConfig) {
	p := RestartPolicy(o)
	c.restart = &p
}

func (o RestartOption) applyProcess(c *processConfig) {
	p := RestartPolicy(o)
	c.restart = &p
}

// String returns the option as it would be written in Go.
func (o RestartOption) String() string {
	return fmt.Sprintf("Restart(%+v)", RestartPolicy(o))
}

// Restart makes a task run again when it returns an error or panics, and a
// managed process start again when it exits on its own with a failure (a
// status other than 0, or a signal), following policy; see
// [RestartPolicy]. A task that returns nil and a process that exits with
// status 0 are not restarted.
func Restart(policy RestartPolicy) RestartOption { return RestartOption(policy) }
