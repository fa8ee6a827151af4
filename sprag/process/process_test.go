package process_test

import (
	"context"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/process"
	"github.com/sprag-go/sprag/spragtest"
)

// These tests run real processes, so they cannot run in a synctest bubble.
// They wait on channels; the timeouts are safety nets that a healthy run
// never reaches, not measurements.

const safety = 20 * time.Second

// needShell skips a test on a machine without a POSIX shell.
func needShell(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the process tests use POSIX signals and sh")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("sh not found:", err)
	}
}

// lines collects output lines and signals each on a channel.
type lines struct {
	spragtest.Collector[string]
	ch chan string
}

func newLines() *lines { return &lines{ch: make(chan string, 100)} }

func (l *lines) add(line string) {
	l.Add(line)
	l.ch <- line
}

// await waits for line, failing the test after the safety timeout.
func (l *lines) await(t *testing.T, line string) {
	t.Helper()
	timeout := time.After(safety)
	for {
		select {
		case got := <-l.ch:
			if got == line {
				return
			}
		case <-timeout:
			t.Fatalf("no line %q; got %q", line, l.All())
		}
	}
}

func safetyCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	t.Cleanup(cancel)
	return ctx
}

func TestProcessFollowsItsOutputAndReportsItsExit(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	rt := spragtest.Start(t, "svc", p)
	exits := spragtest.Record(t, rt.Bus, process.Exited.Name())
	out, errOut := newLines(), newLines()
	proc, err := process.Start(p, "sh", []string{"-c", `echo one; echo two >&2; printf 'three\r\nfour'`},
		process.Stdout(out.add), process.Stderr(errOut.add), process.Label("script"))
	require.NoError(t, err)
	assert.Equal(t, "script", proc.Label())

	require.NoError(t, proc.Wait(safetyCtx(t)))
	assert.Equal(t, []string{"one", "three", "four"}, out.All(), "lines without their endings, the last one flushed")
	assert.Equal(t, []string{"two"}, errOut.All())
	exit, ok := proc.LastExit()
	require.True(t, ok)
	assert.Positive(t, exit.Pid)
	assert.Equal(t, 0, exit.Code)
	assert.Equal(t, "exit status 0", exit.Status)
	assert.False(t, exit.Stopped)
	assert.Equal(t, "svc", exit.Service)
	assert.Equal(t, "script", exit.Label)
	assert.Zero(t, proc.Pid())
	assert.False(t, proc.Running())
	require.Equal(t, 1, exits.Len())
	assert.Equal(t, exit, exits.Payloads()[0])
	assert.True(t, p.Status(context.Background()).Healthy, "exiting with 0 is fine")
}

func TestProcessGetsSIGTERMWhenItsServiceStops(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	rt := spragtest.Start(t, "svc", p)
	exits := spragtest.Record(t, rt.Bus, process.Exited.Name())
	out := newLines()
	proc, err := process.Start(p, "sh", []string{"-c", `trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done`},
		process.Stdout(out.add), process.Label("worker"))
	require.NoError(t, err)
	out.await(t, "ready")

	assert.Positive(t, proc.Pid())
	assert.True(t, proc.Running())
	st := p.Status(context.Background()).Details["process worker"].(process.Stats)
	assert.Equal(t, proc.Pid(), st.Pid)
	assert.True(t, st.Running)
	assert.Equal(t, 1, st.Starts)

	spragtest.Stop(t, p, safety)
	assert.Contains(t, out.All(), "got TERM")
	exit, ok := proc.LastExit()
	require.True(t, ok)
	assert.Equal(t, "exit status 0", exit.Status)
	assert.True(t, exit.Stopped)
	require.ErrorIs(t, proc.Err(), context.Canceled, "stopped with its service: not a failure")
	assert.Zero(t, exits.Len(), "a stop is not reported as an exit")
}

func TestProcessThatIgnoresSIGTERMIsKilledAfterItsGrace(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)
	out := newLines()
	proc, err := process.Start(p, "sh", []string{"-c", `trap '' TERM; echo ready; exec sleep 60`},
		process.Stdout(out.add), process.Grace(100*time.Millisecond))
	require.NoError(t, err)
	out.await(t, "ready")

	spragtest.Stop(t, p, safety)
	exit, ok := proc.LastExit()
	require.True(t, ok)
	assert.Equal(t, "signal: killed", exit.Status)
	assert.Equal(t, -1, exit.Code)
	assert.True(t, exit.Stopped)
}

func TestProcessIsKilledAtTheStopDeadline(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)
	out := newLines()
	proc, err := process.Start(p, "sh", []string{"-c", `trap '' TERM; echo ready; exec sleep 60`},
		process.Stdout(out.add), process.Grace(time.Hour))
	require.NoError(t, err)
	out.await(t, "ready")

	err = stopWithin(p, 200*time.Millisecond) // far shorter than the grace
	if err != nil {
		require.ErrorIs(t, err, sprag.ErrStillRunning, "at most the reaping may outlive the deadline")
	}
	select {
	case <-proc.Done():
	case <-time.After(safety):
		t.Fatal("the process was not killed at the stop deadline")
	}
	exit, _ := proc.LastExit()
	assert.Equal(t, "signal: killed", exit.Status)
	<-p.Done() // the service is stopped once the reaping task has returned
}

func TestProcessThatDiesIsRestartedByItsPolicy(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	rt, logs := spragtest.ObservedRuntime(t)
	spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
	exits := spragtest.Record(t, rt.Bus, process.Exited.Name())
	gaveUp := make(chan sprag.TaskFailure, 1)
	_, err := sprag.TaskGaveUp.Listen(rt.Bus, func(_ context.Context, f sprag.TaskFailure) error {
		gaveUp <- f
		return nil
	})
	require.NoError(t, err)
	out := newLines()
	proc, err := process.Start(p, "sh", []string{"-c", `echo started; exit 3`}, process.Stdout(out.add),
		process.Label("flaky"), process.Restart(sprag.RestartPolicy{MaxRestarts: 2, Backoff: 10 * time.Millisecond}))
	require.NoError(t, err)

	err = proc.Wait(safetyCtx(t))
	require.ErrorIs(t, err, sprag.ErrRestartLimit)
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 3, exitErr.ExitCode())
	assert.Equal(t, 2, proc.Restarts())
	assert.Equal(t, []string{"started", "started", "started"}, out.All())
	assert.Equal(t, 3, exits.Len())
	exit, _ := proc.LastExit()
	assert.Equal(t, 3, exit.Code)
	select {
	case f := <-gaveUp: // emitted after the task's end
		assert.Equal(t, "process flaky", f.Label)
	case <-time.After(safety):
		t.Fatal("TaskGaveUp was not emitted")
	}
	failed := logs.FilterMessage("task failed").All()
	require.Len(t, failed, 3)
	assert.Equal(t, "process flaky", failed[0].ContextMap()["label"])
	assert.Contains(t, failed[0].ContextMap()["error"], "exited: exit status 3")

	st := p.Status(context.Background())
	assert.False(t, st.Healthy)
	require.ErrorIs(t, st.Err, sprag.ErrRestartLimit)
	assert.Equal(t, 3, st.Details["process flaky"].(process.Stats).Starts)
}

func TestProcessFailureWithoutRestartMakesItsServiceUnhealthy(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)
	proc, err := process.Start(p, "sh", []string{"-c", "exit 4"}, process.Label("once"))
	require.NoError(t, err)
	err = proc.Wait(safetyCtx(t))
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 4, exitErr.ExitCode())
	st := p.Status(context.Background())
	assert.False(t, st.Healthy)
	assert.Contains(t, st.Err.Error(), "process once: ")
	assert.Contains(t, st.Err.Error(), "exited: exit status 4")
}

func TestProcessOutputGoesToTheLoggerByDefault(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	rt, logs := spragtest.ObservedRuntime(t)
	spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
	proc, err := process.Start(p, "sh", []string{"-c", "echo hello; echo oops >&2"}, process.Label("greeter"))
	require.NoError(t, err)
	require.NoError(t, proc.Wait(safetyCtx(t)))

	entries := logs.FilterMessage("process output").All()
	require.Len(t, entries, 2)
	byStream := map[string]string{}
	for _, e := range entries {
		fields := e.ContextMap()
		assert.Equal(t, "process greeter", fields["label"])
		assert.Positive(t, fields["pid"])
		byStream[fields["stream"].(string)] = fields["line"].(string)
	}
	assert.Equal(t, map[string]string{"stdout": "hello", "stderr": "oops"}, byStream)
	assert.Len(t, logs.FilterMessage("process started").All(), 1)
	assert.Len(t, logs.FilterMessage("process exited").All(), 1)
}

func TestProcessOutputCallbackPanicsAreIsolatedAndLongLinesSplit(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	rt, logs := spragtest.ObservedRuntime(t)
	spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
	var got spragtest.Collector[string]
	long := strings.Repeat("x", 70_000)
	proc, err := process.Start(p, "sh", []string{"-c", `echo first; printf '%s\n' "$LONG"; echo last`},
		process.Configure(func(cmd *exec.Cmd) { cmd.Env = append(cmd.Environ(), "LONG="+long) }),
		process.Stdout(func(line string) {
			if line == "first" {
				panic("kaput")
			}
			got.Add(line)
		}))
	require.NoError(t, err)
	require.NoError(t, proc.Wait(safetyCtx(t)))

	assert.Equal(t, []string{long[:64<<10], long[64<<10:], "last"}, got.All())
	panicked := logs.FilterMessage("process panicked").All()
	require.Len(t, panicked, 1)
	assert.Equal(t, "sh stdout", panicked[0].ContextMap()["label"])
}

func TestStartProcessRefusesBadInput(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)

	_, err := process.Start(p, "no-such-program-anywhere", nil)
	require.ErrorIs(t, err, exec.ErrNotFound)
	assert.Contains(t, err.Error(), `service "svc": process no-such-program-anywhere: `)
	_, err = process.Start(p, "", nil)
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
	_, err = process.Start(p, "sh", nil, process.Grace(0))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "grace must be positive, got 0s")
	_, err = process.Start(p, "sh", nil, process.Restart(sprag.RestartPolicy{Backoff: -1}))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
	_, err = process.Start(p, "sh", []string{"-c", "exit 0"}, process.Configure(func(*exec.Cmd) { panic("kaput") }))
	var pe *sprag.PanicError
	require.ErrorAs(t, err, &pe)
	_, err = process.Start(nil, "sh", nil)
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
	_, err = process.Start(&spragtest.Probe{}, "sh", nil)
	require.ErrorIs(t, err, sprag.ErrNotRunning)

	first, err := process.Start(p, "sh", []string{"-c", "exit 0"}, process.Label("dup"))
	require.NoError(t, err)
	_, err = process.Start(p, "sh", []string{"-c", "exit 0"}, process.Label("dup"))
	require.ErrorIs(t, err, sprag.ErrDuplicateName)
	require.NoError(t, first.Wait(safetyCtx(t)))

	assert.Equal(t, "process.Grace(2s)", process.Grace(2*time.Second).String())
	assert.Equal(t, "process.Stdout(func(string))", process.Stdout(nil).String())
	assert.Equal(t, "process.Stderr(func(string))", process.Stderr(nil).String())
	assert.Equal(t, "process.Configure(func(*exec.Cmd))", process.Configure(nil).String())
	assert.Equal(t, "process.Restart({MaxRestarts:1 Window:0s Backoff:0s MaxBackoff:0s})",
		process.Restart(sprag.RestartPolicy{MaxRestarts: 1}).String())
}

// stopWithin stops p with a context that ends after d and returns Stop's
// error.
func stopWithin(p sprag.Interface, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.Stop(ctx)
}

func TestStopStopsOneProcessOfAScope(t *testing.T) {
	needShell(t)
	t.Parallel()
	var sc sprag.Scope // a scope of its own: no service needed
	out := newLines()
	proc, err := process.Start(&sc, "sh", []string{"-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done"},
		process.Label("one"), process.Restart(sprag.RestartPolicy{MaxRestarts: 5}), process.Stdout(out.add))
	require.NoError(t, err)
	out.await(t, "ready") // the trap is set: SIGTERM makes it exit with 0
	other, err := process.Start(&sc, "sh", []string{"-c", "exec sleep 30"}, process.Label("other"))
	require.NoError(t, err)

	require.NoError(t, proc.Stop(safetyCtx(t)))
	exit, ok := proc.LastExit()
	require.True(t, ok)
	assert.True(t, exit.Stopped, "it ended because it was stopped")
	assert.Equal(t, 0, exit.Code)
	assert.False(t, proc.Running())
	assert.Equal(t, 0, proc.Restarts(), "a stopped process is not restarted")
	assert.True(t, other.Running(), "the other process of the scope runs on")
	require.NoError(t, proc.Stop(safetyCtx(t)), "a second Stop returns at once")

	require.NoError(t, sc.Close(safetyCtx(t)))
	assert.False(t, other.Running())
	<-sc.Done()
}
