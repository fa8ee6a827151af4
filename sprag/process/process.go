package process

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
	"github.com/sprag-go/sprag/sprag"
)

// Exited is emitted on the owner's bus when a managed process exits on its
// own, whatever its status; not when its owner or [Process.Stop] stops it.
var Exited = eventbus.NewTopic[Exit]("sprag:process:exited")

// Exit describes how a managed process ended; it is the payload of
// [Exited] and the result of [Process.LastExit].
type Exit struct {
	Service string    `json:"service"`
	Label   string    `json:"label"`
	Pid     int       `json:"pid"`
	Code    int       `json:"code"`    // the exit status, or -1 when a signal ended it
	Status  string    `json:"status"`  // as the os package says it: "exit status 3", "signal: killed"
	Stopped bool      `json:"stopped"` // it ended because it was stopped: by its owner, or by Stop
	At      time.Time `json:"at"`
}

// Process is a subprocess owned by a service or a scope: the original's
// managed process. Start it with [Start]. Its methods are safe for
// concurrent use.
//
// Its standard output and error are read line by line into the [Stdout]
// and [Stderr] functions, or the owner's logger. When the owner stops (at
// step 3 of sprag.Scope.Close), or [Process.Stop] is called, the process
// receives SIGTERM; if it has not exited after its [Grace] period, or
// when the stop's context ends, whichever comes first, it is killed; then
// it is reaped, and the owner's Stop waits for that as for a task. On
// Windows it is killed at once.
//
// A process that exits on its own is reported: [Exited] is emitted, the
// exit is logged (as a task failure when its status is not 0), and
// [Process.LastExit] shows it. With [Restart] a failed process starts
// again, with a task's sprag.RestartPolicy.
type Process struct {
	scope *sprag.Scope
	label string
	name  string
	args  []string
	cfg   config
	task  *sprag.Task

	mu          sync.Mutex
	first       *run               // started by Start, waited for by the task's first attempt
	cancelFirst context.CancelFunc // ends the first run's context
	pid         int
	running     bool
	startedAt   time.Time
	starts      int
	last        Exit
	hasExit     bool
	stopCtx     context.Context // Stop's, which bounds the grace period
	cur         *run            // the run whose process has not been reaped, or nil
}

// run is one start of the process.
type run struct {
	cmd    *exec.Cmd
	stdout *lineWriter
	stderr *lineWriter
	mu     sync.Mutex
	kills  []func() bool // the kills armed at the stops' deadlines; guarded by mu
	reaped bool          // guarded by mu
}

// killOn arms a SIGKILL of the run for when ctx ends, until it is reaped.
func (r *run) killOn(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reaped || ctx.Done() == nil {
		return
	}
	r.kills = append(r.kills, context.AfterFunc(ctx, func() { _ = r.cmd.Process.Kill() }))
}

// reap releases the kills armed on a run that has been reaped.
func (r *run) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reaped = true
	for _, release := range r.kills {
		release()
	}
	r.kills = nil
}

// Stats are a process's figures, also reported in its owner's health
// details under "process <label>".
type Stats struct {
	Pid       int       `json:"pid"` // 0 while it is not running
	Running   bool      `json:"running"`
	Starts    int       `json:"starts"`
	Restarts  int       `json:"restarts"`
	StartedAt time.Time `json:"started_at,omitzero"` // of the current or last run
	LastExit  *Exit     `json:"last_exit,omitempty"`
}

// Start starts the program name with args, as exec.CommandContext does,
// as a process owned by o; see [Process] for how it is followed and
// stopped. The first start happens before Start returns, so a program
// that cannot start is reported here. The process is waited for on a task
// of o's scope labelled "process <label>".
//
// Options: [Label] (default: the program's base name), [Stdout],
// [Stderr], [Grace] (default 5s), [Restart] and [Configure]. Start fails,
// starting nothing, with an error wrapping sprag.ErrNotRunning when o's
// scope is not open, sprag.ErrDuplicateName when o has a process of that
// label, sprag.ErrInvalidArgument for a nil o, an empty name or a bad
// option, and the error of os/exec when the program cannot start
// (exec.ErrNotFound for a program not in PATH).
//
//nolint:contextcheck,nolintlint // callers are not flagged: the process's context derives from the owner's on purpose (contextcheck reads this on the declaration)
func Start(o sprag.Owner, name string, args []string, opts ...Option) (*Process, error) {
	sc, err := sprag.ScopeOf(o, "process")
	if err != nil {
		return nil, err
	}
	c := config{grace: defaultGrace}
	for _, opt := range opts {
		if opt != nil {
			opt.applyProcess(&c)
		}
	}
	if c.label == "" {
		c.label = filepath.Base(name)
	}
	if err := sc.Accepting("process", c.label); err != nil {
		return nil, err
	}
	switch {
	case name == "":
		return nil, sc.Invalid("process", c.label, "empty program name")
	case c.grace <= 0:
		return nil, sc.Invalid("process", c.label, "grace must be positive, got %v", c.grace)
	case c.restart != nil && c.restart.Validate() != nil:
		return nil, sc.Invalid("process", c.label, "%v", c.restart.Validate())
	}
	p := &Process{scope: sc, label: c.label, name: name, args: args, cfg: c}

	remove, err := sc.Report("process "+p.label, p.report)
	if err != nil {
		return nil, err
	}
	// Every stop bounds the grace period: the owner's, whose context is
	// known at step 4 of its close, as well as Stop's.
	cb, err := sc.Callback("process "+p.label, func() { p.killOn(sc.CloseContext()) })
	if err != nil {
		remove()
		return nil, err
	}
	// Not the owner's context: a stop that begins now ends the run through
	// the task, so that its exit counts as stopped, or New fails with
	// sprag.ErrNotRunning when the task cannot start.
	firstCtx, cancelFirst := context.WithCancel(context.WithoutCancel(sc.Context()))
	first, err := p.start(firstCtx)
	if err != nil {
		cancelFirst()
		cb.Close()
		remove()
		return nil, fmt.Errorf("service %q: process %s: %w", sc.Name(), p.label, err)
	}
	p.first, p.cancelFirst = first, cancelFirst

	taskOpts := []sprag.TaskOption{sprag.Label("process " + p.label)}
	if c.restart != nil {
		taskOpts = append(taskOpts, sprag.Restart(*c.restart))
	}
	task, err := sc.Spawn(p.attempt, taskOpts...)
	if err != nil {
		// The owner began to stop meanwhile, or the policy is bad: nobody
		// will wait for the process, so end it here.
		_ = first.cmd.Process.Kill()
		_ = first.cmd.Wait()
		p.mu.Lock()
		p.cur = nil
		p.mu.Unlock()
		cancelFirst()
		cb.Close()
		remove()
		return nil, err
	}
	p.mu.Lock()
	p.task = task
	p.mu.Unlock()
	return p, nil
}

// attempt is one run of the task, whose context ctx ends when the owner
// stops or Stop is called: it waits for the process started by Start,
// whose own context it then ends with ctx, or starts it again after a
// failure.
func (p *Process) attempt(ctx context.Context) error {
	p.mu.Lock()
	r, cancelFirst := p.first, p.cancelFirst
	p.first = nil
	p.mu.Unlock()
	if r != nil {
		release := context.AfterFunc(ctx, cancelFirst)
		defer func() {
			release()
			cancelFirst()
		}()
	} else {
		var err error
		if r, err = p.start(ctx); err != nil {
			return fmt.Errorf("restart process %s: %w", p.label, err)
		}
	}
	return p.wait(ctx, r)
}

// start starts the process once.
func (p *Process) start(ctx context.Context) (*run, error) {
	cmd := exec.CommandContext(ctx, p.name, p.args...) //nolint:gosec // G204: running the program its owner names is the point of a managed process
	if err := p.configure(cmd); err != nil {
		return nil, err
	}
	run := &run{cmd: cmd}
	run.stdout = p.output("stdout", p.cfg.stdout)
	run.stderr = p.output("stderr", p.cfg.stderr)
	run.stdout.cmd, run.stderr.cmd = cmd, cmd
	cmd.Stdout, cmd.Stderr = run.stdout, run.stderr
	cmd.WaitDelay = p.cfg.grace
	//nolint:contextcheck // Cancel runs when ctx has ended; the kill it arms follows Stop's context, which is the one that bounds the grace period
	cmd.Cancel = func() error { // on exec's goroutine, when ctx ends: the owner or Stop stops it
		run.killOn(p.deadline())
		return terminate(cmd.Process)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	p.mu.Lock()
	p.cur = run
	p.pid, p.running, p.startedAt = pid, true, time.Now()
	p.starts++
	p.mu.Unlock()
	p.scope.Logger().Info("process started", zap.String("kind", "task"), zap.String("label", "process "+p.label), zap.Int("pid", pid))
	return run, nil
}

// configure runs the Configure option with panic recovery.
func (p *Process) configure(cmd *exec.Cmd) (err error) {
	if p.cfg.configure == nil {
		return nil
	}
	if err := sprag.Safely(func() error { p.cfg.configure(cmd); return nil }); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	return nil
}

// wait reaps the process and reports how it ended. An exit caused by the
// service stopping returns ctx's error, which the task does not count as a
// failure.
func (p *Process) wait(ctx context.Context, run *run) error {
	err := run.cmd.Wait()
	if errors.Is(err, exec.ErrWaitDelay) && run.cmd.ProcessState != nil && run.cmd.ProcessState.Success() {
		// It exited with status 0; a child of its own kept its output open
		// past the grace period, and that output was cut: not a failure.
		err = nil
	}
	run.stdout.flush()
	run.stderr.flush()
	run.reap()

	exit := Exit{Service: p.scope.Name(), Label: p.label, Pid: run.cmd.Process.Pid, Code: -1, At: time.Now(), Stopped: ctx.Err() != nil}
	if st := run.cmd.ProcessState; st != nil {
		exit.Code, exit.Status = st.ExitCode(), st.String()
	} else if err != nil {
		exit.Status = err.Error()
	}
	p.mu.Lock()
	if p.cur == run {
		p.cur = nil
	}
	p.pid, p.running = 0, false
	p.last, p.hasExit = exit, true
	p.mu.Unlock()

	fields := []zap.Field{zap.String("kind", "task"), zap.String("label", "process "+p.label), zap.Int("pid", exit.Pid), zap.String("status", exit.Status)}
	if exit.Stopped {
		p.scope.Logger().Info("process stopped", fields...)
		return ctx.Err()
	}
	// The emit's failures are reported by the bus's own error handler.
	_ = Exited.Emit(ctx, p.scope.Runtime().Bus, exit)
	if err == nil {
		p.scope.Logger().Info("process exited", fields...)
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
			p.scope.Logger().Info("process output", zap.String("kind", "task"), zap.String("label", label),
				zap.String("stream", stream), zap.Int("pid", w.pid()), zap.String("line", line))
			return
		}
		if err := sprag.Safely(func() error { fn(line); return nil }); err != nil {
			p.scope.LogFailure("process", p.label+" "+stream, err)
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
func (p *Process) LastExit() (Exit, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.hasExit
}

// Done returns a channel that is closed when the process has ended for
// good: it exited and will not be restarted, or it was stopped.
func (p *Process) Done() <-chan struct{} { return p.task.Done() }

// Wait waits until the process has ended for good, or ctx ends, and
// returns the result of its task: nil after status 0, ctx's error after a
// stop, an error wrapping the *exec.ExitError of a failure, or wrapping
// sprag.ErrRestartLimit when it failed more often than its policy allows.
func (p *Process) Wait(ctx context.Context) error {
	err := p.task.Wait(ctx)
	select {
	case <-p.task.Done():
		return p.Err()
	default:
		return err // ctx ended first
	}
}

// Err returns what Wait returns once the process has ended for good, and
// nil before.
func (p *Process) Err() error {
	err := p.task.Err()
	if err != nil && p.cfg.restart != nil && !errors.Is(err, sprag.ErrRestartLimit) && !errors.Is(err, context.Canceled) {
		// With a restart policy, the task ends with a failure that is not
		// a give-up only when a stop came while it waited to restart: that
		// is a stop, not a failure for good.
		return fmt.Errorf("%w: stopped while waiting to restart after: %w", context.Canceled, err)
	}
	return err
}

// Stats returns the process's figures at this moment.
func (p *Process) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Stats{Pid: p.pid, Running: p.running, Starts: p.starts, Restarts: max(p.starts-1, 0), StartedAt: p.startedAt}
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
	if err := p.Err(); err != nil && !errors.Is(err, sprag.ErrRestartLimit) && !errors.Is(err, context.Canceled) {
		return st, err
	}
	return st, nil
}

// Stop stops this process and does not restart it, without stopping its
// owner: SIGTERM, then, after its [Grace] period or when ctx ends,
// whichever comes first, SIGKILL. It waits until the process has been
// reaped, or ctx ends: it returns nil once the process was stopped, the
// error of a process that had already failed for good, or an error
// wrapping ctx's when ctx ended first. A process waiting to restart
// after a failure is stopped too: it does not start again, Stop returns
// nil, and Wait and Err return an error wrapping context.Canceled. A Stop
// of a process that has ended returns at once.
func (p *Process) Stop(ctx context.Context) error {
	p.mu.Lock()
	if p.stopCtx == nil {
		p.stopCtx = ctx
	}
	task := p.task
	p.mu.Unlock()
	task.Cancel()
	p.killOn(ctx) // also when an earlier stop set a longer grace period
	select {
	case <-task.Done():
	case <-ctx.Done():
		select {
		case <-task.Done():
		default:
			return fmt.Errorf("service %q: stop process %s: %w", p.scope.Name(), p.label, ctx.Err())
		}
	}
	if err := p.Err(); !errors.Is(err, context.Canceled) {
		return err // nil after status 0, or the failure of a process that had ended for good
	}
	return nil // stopped as asked
}

// killOn arms a SIGKILL of the running process for when ctx ends.
func (p *Process) killOn(ctx context.Context) {
	p.mu.Lock()
	r := p.cur
	p.mu.Unlock()
	if r != nil {
		r.killOn(ctx)
	}
}

// deadline returns the context that bounds the grace period of a stop:
// Stop's, or the owner's Close's.
func (p *Process) deadline() context.Context {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopCtx != nil {
		return p.stopCtx
	}
	return p.scope.CloseContext()
}
