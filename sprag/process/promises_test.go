package process_test

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/process"
	"github.com/sprag-go/sprag/spragtest"
)

// exited returns a channel that receives each process.Exited of rt's bus.
func exited(t *testing.T, rt sprag.Runtime) <-chan process.Exit {
	t.Helper()
	ch := make(chan process.Exit, 10)
	sub, err := process.Exited.Listen(rt.Bus, func(_ context.Context, e process.Exit) error {
		ch <- e
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(func() { sub.Unsubscribe() })
	return ch
}

func TestProcessStopReturnsTheErrorOfAContextThatEndedFirst(t *testing.T) {
	t.Parallel()
	needShell(t)
	for name, stop := range map[string]func() (context.Context, context.CancelFunc, error){
		"cancelled": func() (context.Context, context.CancelFunc, error) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel, context.Canceled
		},
		"deadline": func() (context.Context, context.CancelFunc, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			return ctx, cancel, context.DeadlineExceeded
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var sc sprag.Scope
			defer func() { _ = sc.Close(safetyCtx(t)) }()
			out := newLines()
			proc, err := process.Start(&sc, "sh", []string{"-c", `trap '' TERM; echo ready; exec sleep 60`},
				process.Stdout(out.add), process.Label("stubborn"), process.Grace(time.Hour))
			require.NoError(t, err)
			out.await(t, "ready")

			ctx, cancel, want := stop()
			defer cancel()
			err = proc.Stop(ctx)
			require.ErrorIs(t, err, want, "Stop's context ended before the process was reaped")
			assert.Contains(t, err.Error(), "stop process stubborn")
			<-proc.Done() // killed when Stop's context ended, not after the grace period
			exit, _ := proc.LastExit()
			assert.Equal(t, "signal: killed", exit.Status)
			assert.True(t, exit.Stopped)
			require.NoError(t, proc.Stop(safetyCtx(t)), "stopped: a second Stop returns nil at once")
		})
	}
}

func TestProcessStopWhileItWaitsToRestart(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	rt := spragtest.Start(t, "svc", p)
	exits := exited(t, rt)
	proc, err := process.Start(p, "sh", []string{"-c", "exit 1"}, process.Label("flaky"),
		process.Restart(sprag.RestartPolicy{Backoff: time.Hour, MaxBackoff: time.Hour}))
	require.NoError(t, err)
	select {
	case e := <-exits:
		assert.Equal(t, 1, e.Code)
	case <-time.After(safety):
		t.Fatal("the process did not exit")
	}

	require.NoError(t, proc.Stop(safetyCtx(t)), "it was stopped: it will not restart")
	require.ErrorIs(t, proc.Err(), context.Canceled, "the result of a stop")
	require.ErrorIs(t, proc.Wait(safetyCtx(t)), context.Canceled)
	assert.Zero(t, proc.Restarts())
	st := p.Status(context.Background())
	assert.True(t, st.Healthy, "a process stopped on purpose does not make its owner unhealthy: %v", st.Err)
	require.NoError(t, proc.Stop(safetyCtx(t)))
}

func TestProcessStopOfAProcessThatFailedForGoodReturnsItsError(t *testing.T) {
	t.Parallel()
	needShell(t)
	var sc sprag.Scope
	defer func() { _ = sc.Close(safetyCtx(t)) }()
	proc, err := process.Start(&sc, "sh", []string{"-c", "exit 4"})
	require.NoError(t, err)
	<-proc.Done()
	err = proc.Stop(safetyCtx(t))
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 4, exitErr.ExitCode())
}

func TestProcessWithARestartPolicyIsNotRestartedAfterStatusZero(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	rt := spragtest.Start(t, "svc", p)
	exits := exited(t, rt)
	proc, err := process.Start(p, "sh", []string{"-c", "exit 0"}, process.Restart(sprag.RestartPolicy{Backoff: time.Millisecond}))
	require.NoError(t, err)
	require.NoError(t, proc.Wait(safetyCtx(t)))
	assert.Zero(t, proc.Restarts())
	assert.Equal(t, 1, proc.Stats().Starts)
	assert.Len(t, exits, 1, "its exit is reported")
	assert.True(t, p.Status(context.Background()).Healthy)
}

func TestProcessConfigureRunsBeforeEveryStart(t *testing.T) {
	t.Parallel()
	needShell(t)
	var sc sprag.Scope
	defer func() { _ = sc.Close(safetyCtx(t)) }()
	var configured atomic.Int32
	var mine bytes.Buffer
	out := newLines()
	proc, err := process.Start(&sc, "sh", []string{"-c", `echo "run $RUN"; exit 2`},
		process.Configure(func(cmd *exec.Cmd) {
			n := configured.Add(1)
			cmd.Env = append(cmd.Environ(), "RUN="+strconv.Itoa(int(n)))
			cmd.Stdout = &mine // replaced by Start
		}),
		process.Stdout(out.add),
		process.Restart(sprag.RestartPolicy{MaxRestarts: 2, Backoff: time.Millisecond}))
	require.NoError(t, err)
	require.ErrorIs(t, proc.Wait(safetyCtx(t)), sprag.ErrRestartLimit)
	assert.Equal(t, int32(3), configured.Load(), "at the first start and at each restart")
	assert.Equal(t, []string{"run 1", "run 2", "run 3"}, out.All())
	assert.Zero(t, mine.Len(), "Start sets Stdout after Configure")
}

func TestProcessFiguresWhileTheFirstRunRuns(t *testing.T) {
	t.Parallel()
	needShell(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)
	out := newLines()
	proc, err := process.Start(p, sh, []string{"-c", "echo ready; exec sleep 60"}, process.Stdout(out.add))
	require.NoError(t, err)
	out.await(t, "ready")

	assert.Equal(t, "sh", proc.Label(), "the program's base name")
	_, ok := proc.LastExit()
	assert.False(t, ok, "no exit while the first run runs")
	require.NoError(t, proc.Err(), "nil before the end")
	st := proc.Stats()
	assert.Nil(t, st.LastExit)
	assert.Equal(t, proc.Pid(), st.Pid)
	assert.True(t, st.Running)
	assert.Equal(t, 1, st.Starts)
	assert.Zero(t, st.Restarts)
	assert.False(t, st.StartedAt.IsZero())
	assert.Equal(t, st, p.Status(context.Background()).Details["process sh"])
	select {
	case <-proc.Done():
		t.Fatal("Done is closed while the process runs")
	default:
	}

	require.NoError(t, proc.Stop(safetyCtx(t)))
	st = proc.Stats()
	require.NotNil(t, st.LastExit)
	assert.True(t, st.LastExit.Stopped)
	assert.Zero(t, st.Pid)
	assert.False(t, st.Running)
	assert.True(t, p.Status(context.Background()).Healthy)
}

func TestStartProcessErrorsNameTheProcess(t *testing.T) {
	t.Parallel()
	needShell(t)
	early := &spragtest.Probe{}
	require.NoError(t, sprag.Bind(early, "early", spragtest.Runtime(t)))
	_, err := process.Start(early, "sh", []string{"-c", "exit 0"}, process.Label("job"))
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	err = early.Start(context.Background())
	require.ErrorIs(t, err, sprag.ErrNotRunning, "a process started before its owner makes the start fail")
	assert.Contains(t, err.Error(), "process job called before Start")

	var sc sprag.Scope
	for name, opts := range map[string][]process.Option{
		"negative grace":   {process.Grace(-time.Second)},
		"negative restart": {process.Restart(sprag.RestartPolicy{MaxRestarts: -1})},
	} {
		_, err := process.Start(&sc, "sh", nil, append(opts, process.Label("job"))...)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument, name)
		assert.Contains(t, err.Error(), "process job: sprag: invalid argument: ", name)
	}
	require.NoError(t, sc.Close(safetyCtx(t)))
	_, err = process.Start(&sc, "sh", nil, process.Label("job"))
	require.ErrorIs(t, err, sprag.ErrNotRunning)
	assert.Contains(t, err.Error(), "process job: ")
	require.NotErrorIs(t, err, sprag.ErrInvalidArgument)

	assert.Equal(t, `process.Label("job")`, process.Label("job").String())
}
