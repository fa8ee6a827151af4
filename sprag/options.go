package sprag

import (
	"fmt"
	"time"
)

// A TimerOption configures [Scope.Interval], [Scope.Timeout] and
// [Scope.Schedule].
type TimerOption interface {
	applyTimer(*timerConfig)
	String() string
}

// A TaskOption configures [Scope.Spawn] and [Scope.SpawnAfter].
type TaskOption interface {
	applyTask(*taskConfig)
	String() string
}

type timerConfig struct {
	label       string
	jitter      time.Duration
	immediately bool
}

type taskConfig struct {
	label   string
	restart *RestartPolicy
}

// timerConfigOf and taskConfigOf apply options; they allocate nothing when
// there is none, so that a plain Interval, Timeout or Spawn stays cheap.
func timerConfigOf(opts []TimerOption) timerConfig {
	if len(opts) == 0 {
		return timerConfig{}
	}
	c := new(timerConfig)
	for _, o := range opts {
		o.applyTimer(c)
	}
	return *c
}

func taskConfigOf(opts []TaskOption) taskConfig {
	if len(opts) == 0 {
		return taskConfig{}
	}
	c := new(taskConfig)
	for _, o := range opts {
		o.applyTask(c)
	}
	return *c
}

// LabelOption is returned by [Label]. It names timers and tasks alike.
type LabelOption string

// Label names managed work in logs, errors and health reports. Without it
// the label is the function's name, such as "(*MetricsService).collect".
func Label(label string) LabelOption { return LabelOption(label) }

func (o LabelOption) applyTimer(c *timerConfig) { c.label = string(o) }
func (o LabelOption) applyTask(c *taskConfig)   { c.label = string(o) }

// String returns the option as it would be written in Go.
func (o LabelOption) String() string { return fmt.Sprintf("sprag.Label(%q)", string(o)) }

// JitterOption is returned by [Jitter].
type JitterOption time.Duration

// Jitter adds a random delay in [0, max) to every wait of a timer, so that
// many instances do not fire in step; a fixed rate keeps its grid. A
// negative max is an invalid argument.
func Jitter(maxDelay time.Duration) JitterOption { return JitterOption(maxDelay) }

func (o JitterOption) applyTimer(c *timerConfig) { c.jitter = time.Duration(o) }

// String returns the option as it would be written in Go.
func (o JitterOption) String() string { return fmt.Sprintf("sprag.Jitter(%v)", time.Duration(o)) }

type immediatelyOption struct{}

func (immediatelyOption) applyTimer(c *timerConfig) { c.immediately = true }
func (immediatelyOption) String() string            { return "sprag.Immediately()" }

// Immediately makes a timer run once as soon as it is created. A fixed
// delay then waits d after that run; a fixed rate counts it as the first
// tick of its grid; a timeout runs only then, not again after d. [Jitter]
// applies to the waits after that first run.
func Immediately() TimerOption { return immediatelyOption{} }

// RestartOption is returned by [Restart].
type RestartOption RestartPolicy

func (o RestartOption) applyTask(c *taskConfig) {
	p := RestartPolicy(o)
	c.restart = &p
}

// String returns the option as it would be written in Go.
func (o RestartOption) String() string {
	return fmt.Sprintf("sprag.Restart(%+v)", RestartPolicy(o))
}

// Policy returns the policy the option holds, for primitives that restart
// work of their own (sprag/process).
func (o RestartOption) Policy() RestartPolicy { return RestartPolicy(o) }

// Restart makes a task run again when it returns an error or panics,
// following policy; see [RestartPolicy]. A task that returns nil is not
// restarted.
func Restart(policy RestartPolicy) RestartOption { return RestartOption(policy) }
