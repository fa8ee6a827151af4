package sprag

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
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
	link        *trace.SpanContext
}

type taskConfig struct {
	label   string
	restart *RestartPolicy
	link    *trace.SpanContext
}

// timerConfigOf and taskConfigOf apply options; they allocate nothing when
// there is none, so that a plain Interval, Timeout or Spawn stays cheap.
func timerConfigOf(opts []TimerOption) timerConfig {
	if len(opts) == 0 {
		return timerConfig{}
	}
	c := new(timerConfig)
	for _, o := range opts {
		if o != nil {
			o.applyTimer(c)
		}
	}
	return *c
}

func taskConfigOf(opts []TaskOption) taskConfig {
	if len(opts) == 0 {
		return taskConfig{}
	}
	c := new(taskConfig)
	for _, o := range opts {
		if o != nil {
			o.applyTask(c)
		}
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

// LinkOption is returned by [LinkTo].
type LinkOption struct{ sc *trace.SpanContext }

// LinkTo links the span of each run of a timer or task to the span in
// ctx, such as the request or listener call that created the work. Runs
// of timers and tasks are the roots of traces of their own, since they
// outlive what created them; the link leads from them to it. A ctx
// without a valid span links nothing. The option keeps the span's
// identity, not ctx.
func LinkTo(ctx context.Context) LinkOption {
	if ctx == nil {
		return LinkOption{}
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return LinkOption{}
	}
	return LinkOption{&sc}
}

func (o LinkOption) applyTimer(c *timerConfig) { c.link = o.sc }
func (o LinkOption) applyTask(c *taskConfig)   { c.link = o.sc }

// String returns the option as it would be written in Go, with the span
// it links to.
func (o LinkOption) String() string {
	if o.sc == nil {
		return "sprag.LinkTo(ctx)"
	}
	return fmt.Sprintf("sprag.LinkTo(span %s/%s)", o.sc.TraceID(), o.sc.SpanID())
}

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
