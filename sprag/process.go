package sprag

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
)

const defaultGrace = 5 * time.Second

// ProcessExited is emitted on the service's bus when a managed process
// exits on its own, whatever its status; not when its service stops it.
var ProcessExited = eventbus.NewTopic[ProcessExit]("sprag:process:exited")

// ProcessExit describes how a managed process ended; it is the payload of
// [ProcessExited] and the result of [Process.LastExit].
type ProcessExit struct {
	Service string    `json:"service"`
	Label   string    `json:"label"`
	Pid     int       `json:"pid"`
	Code    int       `json:"code"`    // the exit status, or -1 when a signal ended it
	Status  string    `json:"status"`  // as the os package says it: "exit status 3", "signal: killed"
	Stopped bool      `json:"stopped"` // it ended because its service stopped
	At      time.Time `json:"at"`
}

// Process is a subprocess owned by a service: the original's managed
// process. Start it with [StartProcess]. Its methods are safe for
// concurrent use.
//
// Its standard output and error are read line by line into the [Stdout]
// and [Stderr] functions, or the service's logger. When the service stops
// (at step 3 of [Service.Stop]) the process receives SIGTERM; if it has not
// exited after its [Grace] period, or when Stop's context ends, whichever
// comes first, it is killed; then it is reaped, and Stop waits for that as
// for a task. On Windows it is killed at once.
//
// A process that exits on its own is reported: [ProcessExited] is emitted,
// the exit is logged (as a task failure when its status is not 0), and
// [Process.LastExit] shows it. With [Restart] a failed process
// starts again, with a task's [RestartPolicy].
type Process struct {
	s     *Service
	label string
	name  string
	args  []string
	cfg   processConfig
	task  *Task

	mu        sync.Mutex
	first     *processRun // started by StartProcess, waited for by the task's first attempt
	pid       int
	running   bool
	startedAt time.Time
	starts    int
	last      ProcessExit
	hasExit   bool
}

// processRun is one start of the process.
type processRun struct {
	cmd         *exec.Cmd
	stdout      *lineWriter
	stderr      *lineWriter
	mu          sync.Mutex
	releaseKill func() bool // the kill armed at Stop's deadline
}

// ProcessStats are a process's figures, also reported in its service's
// [Status.Details] under "process <label>".
type ProcessStats struct {
	Pid       int          `json:"pid"` // 0 while it is not running
	Running   bool         `json:"running"`
	Starts    int          `json:"starts"`
	Restarts  int          `json:"restarts"`
	StartedAt time.Time    `json:"started_at,omitzero"` // of the current or last run
	LastExit  *ProcessExit `json:"last_exit,omitempty"`
}

// StartProcess starts the program name with args, as exec.CommandContext
// does, as a process owned by svc; see [Process] for how it is followed
// and stopped. The first start happens before StartProcess returns, so a
// program that cannot start is reported here. The process is waited for
// on a task of the service labelled "process <label>".
//
// Options: [Label] (default: the program's base name), [Stdout],
// [Stderr], [Grace] (default 5s), [Restart] and [Configure].
// StartProcess fails, starting nothing, with an error wrapping
// [ErrNotRunning] when svc is not starting or running, [ErrDuplicateName]
// when svc has a process of that label, [ErrInvalidArgument] for a nil
// svc, an empty name or a bad option, and the error of os/exec when the
// program cannot start (exec.ErrNotFound for a program not in PATH).
//
//nolint:contextcheck,nolintlint // callers are not flagged: the process's context derives from the service's on purpose (contextcheck reads this on the declaration)
func StartProcess(svc Interface, name string, args []string, opts ...ProcessOption) (*Process, error) {
	s, err := primitiveService(svc, "process")
	if err != nil {
		return nil, err
	}
	c := processConfig{grace: defaultGrace}
	for _, o := range opts {
		o.applyProcess(&c)
	}
	if c.label == "" {
		c.label = filepath.Base(name)
	}
	switch {
	case name == "":
		return nil, s.invalidPrimitive("process", c.label, "empty program name")
	case c.grace <= 0:
		return nil, s.invalidPrimitive("process", c.label, "grace must be positive, got %v", c.grace)
	case c.restart != nil && c.restart.validate() != nil:
		return nil, s.invalidPrimitive("process", c.label, "%v", c.restart.validate())
	}
	p := &Process{s: s, label: c.label, name: name, args: args, cfg: c}

	ctx, detach, err := s.attach("process", p.label, p.report)
	if err != nil {
		return nil, err
	}
	run, err := p.start(ctx)
	if err != nil {
		detach()
		return nil, fmt.Errorf("service %q: process %s: %w", s.Name(), p.label, err)
	}
	p.first = run

	taskOpts := []TaskOption{Label("process " + p.label)}
	if c.restart != nil {
		taskOpts = append(taskOpts, Restart(*c.restart))
	}
	task := s.Spawn(p.attempt, taskOpts...)
	p.mu.Lock()
	p.task = task
	p.mu.Unlock()
	if err := task.Err(); errors.Is(err, ErrNotRunning) {
		// The service began to stop meanwhile: nobody will wait for the
		// process, so end it here.
		_ = run.cmd.Process.Kill()
		_ = run.cmd.Wait()
		detach()
		return nil, err
	}
	return p, nil
}

// attempt is one run of the task: it waits for the process started by
// StartProcess, or starts it again after a failure.
func (p *Process) attempt(ctx context.Context) error {
	p.mu.Lock()
	run := p.first
	p.first = nil
	p.mu.Unlock()
	if run == nil {
		var err error
		if run, err = p.start(ctx); err != nil {
			return fmt.Errorf("restart process %s: %w", p.label, err)
		}
	}
	return p.wait(ctx, run)
}

// start starts the process once.
func (p *Process) start(ctx context.Context) (*processRun, error) {
	cmd := exec.CommandContext(ctx, p.name, p.args...) //nolint:gosec // G204: running the program its owner names is the point of a managed process
	if err := p.configure(cmd); err != nil {
		return nil, err
	}
	run := &processRun{cmd: cmd}
	run.stdout = p.output("stdout", p.cfg.stdout)
	run.stderr = p.output("stderr", p.cfg.stderr)
	run.stdout.cmd, run.stderr.cmd = cmd, cmd
	cmd.Stdout, cmd.Stderr = run.stdout, run.stderr
	cmd.WaitDelay = p.cfg.grace
	//nolint:contextcheck // Cancel runs when ctx has ended; the kill it arms follows Stop's context, which is the one that bounds the grace period
	cmd.Cancel = func() error { // on exec's goroutine, when ctx ends: the service stops
		kill := context.AfterFunc(p.s.stopContext(), func() { _ = cmd.Process.Kill() })
		run.mu.Lock()
		run.releaseKill = kill
		run.mu.Unlock()
		return terminate(cmd.Process)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	p.mu.Lock()
	p.pid, p.running, p.startedAt = pid, true, time.Now()
	p.starts++
	p.mu.Unlock()
	p.s.Logger().Info("process started", zap.String("kind", KindTask.String()), zap.String("label", "process "+p.label), zap.Int("pid", pid))
	return run, nil
}

// configure runs the Configure option with panic recovery.
func (p *Process) configure(cmd *exec.Cmd) (err error) {
	if p.cfg.configure == nil {
		return nil
	}
	if err := safely(func() error { p.cfg.configure(cmd); return nil }); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	return nil
}

// wait reaps the process and reports how it ended. An exit caused by the
// service stopping returns ctx's error, which the task does not count as a
// failure.
func (p *Process) wait(ctx context.Context, run *processRun) error {
	err := run.cmd.Wait()
	run.stdout.flush()
	run.stderr.flush()
	run.mu.Lock()
	if run.releaseKill != nil {
		run.releaseKill()
	}
	run.mu.Unlock()

	exit := ProcessExit{Service: p.s.Name(), Label: p.label, Pid: run.cmd.Process.Pid, Code: -1, At: time.Now(), Stopped: ctx.Err() != nil}
	if st := run.cmd.ProcessState; st != nil {
		exit.Code, exit.Status = st.ExitCode(), st.String()
	} else if err != nil {
		exit.Status = err.Error()
	}
	p.mu.Lock()
	p.pid, p.running = 0, false
	p.last, p.hasExit = exit, true
	p.mu.Unlock()

	fields := []zap.Field{zap.String("kind", KindTask.String()), zap.String("label", "process "+p.label), zap.Int("pid", exit.Pid), zap.String("status", exit.Status)}
	if exit.Stopped {
		p.s.Logger().Info("process stopped", fields...)
		return ctx.Err()
	}
	// The emit's failures are reported by the bus's own error handler.
	_ = ProcessExited.Emit(ctx, p.s.Runtime().Bus, exit)
	if err == nil {
		p.s.Logger().Info("process exited", fields...)
		return nil
	}
	return fmt.Errorf("process %s (pid %d) exited: %w", p.label, exit.Pid, err)
}

// output returns the writer that splits a stream into lines for fn, or
// for the logger when fn is nil.
func (p *Process) output(stream string, fn func(string)) *lineWriter {
	w := &lineWriter{}
	label := "process " + p.label
	w.emit = func(line string) {
		if fn == nil {
			p.s.Logger().Info("process output", zap.String("kind", KindTask.String()), zap.String("label", label),
				zap.String("stream", stream), zap.Int("pid", w.pid()), zap.String("line", line))
			return
		}
		if err := safely(func() error { fn(line); return nil }); err != nil {
			p.s.logFailure(KindTask, label+" "+stream, "", err)
		}
	}
	return w
}

// Label returns the label the process logs with.
func (p *Process) Label() string { return p.label }

// Pid returns the process id of the running process, or 0 while none runs.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// Running reports whether the process is running.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

// Restarts returns how many times the process was started again after a
// failure.
func (p *Process) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.starts-1, 0)
}

// LastExit returns how the last run of the process ended, and false while
// the first one runs.
func (p *Process) LastExit() (ProcessExit, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.hasExit
}

// Done returns a channel that is closed when the process has ended for
// good: it exited and will not be restarted, or its service stopped it.
func (p *Process) Done() <-chan struct{} { return p.task.Done() }

// Wait waits until the process has ended for good, or ctx ends, and
// returns the result of its task: nil after status 0, ctx's error after a
// stop, an error wrapping the *exec.ExitError of a failure, or wrapping
// [ErrRestartLimit] when it failed more often than its policy allows.
func (p *Process) Wait(ctx context.Context) error { return p.task.Wait(ctx) }

// Err returns what Wait returns once the process has ended for good, and
// nil before.
func (p *Process) Err() error { return p.task.Err() }

// Stats returns the process's figures at this moment.
func (p *Process) Stats() ProcessStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := ProcessStats{Pid: p.pid, Running: p.running, Starts: p.starts, Restarts: max(p.starts-1, 0), StartedAt: p.startedAt}
	if p.hasExit {
		last := p.last
		st.LastExit = &last
	}
	return st
}

// report is the process's health report: a process that failed and will
// not start again makes its service unhealthy. One that exhausted its
// restart policy is already reported by the service.
func (p *Process) report() (any, error) {
	st := p.Stats()
	p.mu.Lock()
	task := p.task
	p.mu.Unlock()
	if task == nil {
		return st, nil
	}
	select {
	case <-task.Done():
	default:
		return st, nil
	}
	if err := task.Err(); err != nil && !errors.Is(err, ErrRestartLimit) && !errors.Is(err, context.Canceled) {
		return st, err
	}
	return st, nil
}
