package process

import (
	"fmt"
	"os/exec"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

const defaultGrace = 5 * time.Second

// An Option configures [Start].
type Option interface {
	applyProcess(*config)
	String() string
}

type config struct {
	label     string
	stdout    func(line string)
	stderr    func(line string)
	configure func(*exec.Cmd)
	grace     time.Duration
	restart   *sprag.RestartPolicy
}

type labelOption string

func (o labelOption) applyProcess(c *config) { c.label = string(o) }
func (o labelOption) String() string         { return fmt.Sprintf("process.Label(%q)", string(o)) }

// Label names a process in logs, errors and its owner's health details
// ("process <label>"). The default is the program's base name.
func Label(label string) Option { return labelOption(label) }

type outputOption struct {
	stream string
	fn     func(line string)
}

func (o outputOption) applyProcess(c *config) {
	if o.stream == "stdout" {
		c.stdout = o.fn
	} else {
		c.stderr = o.fn
	}
}

func (o outputOption) String() string {
	if o.stream == "stdout" {
		return "process.Stdout(func(string))"
	}
	return "process.Stderr(func(string))"
}

// Stdout sends each line a process writes to its standard output to fn,
// without the line ending, in order. Without it the lines are logged at
// info level with the owner's name and the process's label and pid. fn
// runs on a goroutine of os/exec, possibly at the same time as the
// [Stderr] function; a panic in it is logged and the next line still
// comes. A line longer than 64 KiB arrives in pieces.
func Stdout(fn func(line string)) Option { return outputOption{stream: "stdout", fn: fn} }

// Stderr is [Stdout] for the process's standard error.
func Stderr(fn func(line string)) Option { return outputOption{stream: "stderr", fn: fn} }

type graceOption time.Duration

func (o graceOption) applyProcess(c *config) { c.grace = time.Duration(o) }
func (o graceOption) String() string         { return fmt.Sprintf("process.Grace(%v)", time.Duration(o)) }

// Grace sets how long a process has to exit after SIGTERM when it is
// stopped, before it is killed; the stop's context bounds it too. The
// default is 5s; d must be positive.
func Grace(d time.Duration) Option { return graceOption(d) }

type configureOption func(*exec.Cmd)

func (o configureOption) applyProcess(c *config) { c.configure = o }
func (configureOption) String() string           { return "process.Configure(func(*exec.Cmd))" }

// Configure lets fn set up each command before it starts, at the first
// start and at every restart: its Dir, Env, Stdin, SysProcAttr and so on.
// Start sets Stdout, Stderr, Cancel and WaitDelay after fn, so fn's
// values for those are replaced.
func Configure(fn func(cmd *exec.Cmd)) Option { return configureOption(fn) }

type restartOption sprag.RestartPolicy

func (o restartOption) applyProcess(c *config) {
	p := sprag.RestartPolicy(o)
	c.restart = &p
}

func (o restartOption) String() string {
	return fmt.Sprintf("process.Restart(%+v)", sprag.RestartPolicy(o))
}

// Restart makes a process start again when it exits on its own with a
// failure (a status other than 0, or a signal), following policy, as a
// task's restarts do (see sprag.RestartPolicy). A process that exits with
// status 0 is not restarted. A bad policy makes [Start] fail with an
// error wrapping sprag.ErrInvalidArgument.
func Restart(policy sprag.RestartPolicy) Option { return restartOption(policy) }
