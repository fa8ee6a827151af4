package process_test

// Stress tests of managed processes used from many goroutines at once
// and concurrently with their owner's stop.

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/process"
	"github.com/sprag-go/sprag/spragtest"
)

// TestStressProcessStoppedByManyGoroutinesAndItsOwnerAtOnce: eight
// goroutines call Stop while the owner stops and others read the figures
// and the health. The process gets one SIGTERM, exits with status 0, is
// reported as stopped and not as an exit of its own (process.go:18-19),
// every Stop returns nil ("nil once the process was stopped",
// process.go:394), and Wait and Err say it was stopped.
func TestStressProcessStoppedByManyGoroutinesAndItsOwnerAtOnce(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	rt := spragtest.Start(t, "svc", p)
	exits := spragtest.Record(t, rt.Bus, process.Exited.Name())
	out := newLines()
	proc, err := process.Start(p, "sh", []string{"-c", `trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done`},
		process.Stdout(out.add), process.Label("worker"), process.Restart(sprag.RestartPolicy{MaxRestarts: 3}))
	require.NoError(t, err)
	out.await(t, "ready")

	stopReading := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stopReading:
					return
				default:
				}
				_ = proc.Pid()
				_ = proc.Running()
				_ = proc.Stats()
				_, _ = proc.LastExit()
				_ = p.Status(context.Background())
				time.Sleep(time.Millisecond)
			}
		})
	}
	start := make(chan struct{})
	var stoppers sync.WaitGroup
	stopErrs := make(chan error, 9)
	for range 8 {
		stoppers.Go(func() {
			<-start
			stopErrs <- proc.Stop(safetyCtx(t))
		})
	}
	stoppers.Go(func() {
		<-start
		stopErrs <- p.Stop(safetyCtx(t))
	})
	close(start)
	stoppers.Wait()
	close(stopReading)
	readers.Wait()
	close(stopErrs)
	for err := range stopErrs {
		require.NoError(t, err)
	}
	<-p.Done()

	assert.Equal(t, 1, strings.Count(strings.Join(out.All(), "\n"), "got TERM"), "one SIGTERM")
	exit, ok := proc.LastExit()
	require.True(t, ok)
	assert.True(t, exit.Stopped)
	assert.Equal(t, 0, exit.Code)
	assert.Equal(t, 0, proc.Restarts(), "a stopped process is not restarted")
	assert.False(t, proc.Running())
	assert.Zero(t, exits.Len(), "a stop is not reported as an exit")
	require.ErrorIs(t, proc.Wait(safetyCtx(t)), context.Canceled)
	require.NoError(t, proc.Stop(safetyCtx(t)), "a Stop of a process that has ended returns at once")
}

// TestStressProcessOutputOfConcurrentWritersArrivesWholeAndInOrder: four
// children of a shell write numbered lines to standard output and error
// at once. Every line arrives whole in the function of its stream; the
// lines of one writer on one stream arrive in order; a stream's function
// is never called concurrently with itself, though the two streams' may
// run at the same time (options.go:57-61, docs/primitives.md: "Lines of
// one stream arrive in order; the two streams' functions may run at the
// same time").
func TestStressProcessOutputOfConcurrentWritersArrivesWholeAndInOrder(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)

	const writers, perWriter = 4, 300
	type stream struct {
		name       string
		inCall     atomic.Int32
		overlapped atomic.Bool
		lines      spragtest.Collector[string]
	}
	streams := map[string]*stream{"out": {name: "out"}, "err": {name: "err"}}
	collect := func(s *stream) func(string) {
		return func(line string) {
			if s.inCall.Add(1) > 1 {
				s.overlapped.Store(true)
			}
			defer s.inCall.Add(-1)
			s.lines.Add(line)
		}
	}
	script := fmt.Sprintf(`for w in $(seq 1 %d); do ( i=0; while [ $i -lt %d ]; do echo "out $w $i"; echo "err $w $i" >&2; i=$((i+1)); done ) & done; wait`, writers, perWriter)
	proc, err := process.Start(p, "sh", []string{"-c", script}, process.Label("chatty"),
		process.Stdout(collect(streams["out"])), process.Stderr(collect(streams["err"])))
	require.NoError(t, err)
	require.NoError(t, proc.Wait(safetyCtx(t)))

	for _, s := range streams {
		assert.False(t, s.overlapped.Load(), "%s: the function of one stream is never called concurrently with itself", s.name)
		lines := s.lines.All()
		require.Len(t, lines, writers*perWriter, "%s: every line arrives", s.name)
		next := map[int]int{}
		for _, line := range lines {
			f := strings.Fields(line)
			require.Len(t, f, 3, "%s: a line arrives whole: %q", s.name, line)
			require.Equal(t, s.name, f[0], "a line arrives on its own stream")
			w, err1 := strconv.Atoi(f[1])
			i, err2 := strconv.Atoi(f[2])
			require.NoError(t, err1)
			require.NoError(t, err2)
			require.Equal(t, next[w], i, "%s: writer %d's lines arrive in order", s.name, w)
			next[w] = i + 1
		}
	}
}

// TestStressProcessStartRacingItsOwnersStop: processes are started from
// many goroutines while their owner stops. Each Start either returns a
// process, which the stop then ends and reaps before the owner's Done
// closes, or fails, returning no process and leaving nothing running: a
// program it had started is reaped ("nobody will wait for the process, so
// end it here", process.go). A failed Start wraps sprag.ErrNotRunning, and
// a started process's exit is recorded as a stop.
func TestStressProcessStartRacingItsOwnersStop(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)

	const starters = 26
	type attempt struct {
		proc *process.Process
		err  error
		cmd  *exec.Cmd // the command Start made, if it got that far
	}
	attempts := make([]attempt, starters)
	start := func(i int) {
		a := &attempts[i]
		a.proc, a.err = process.Start(p, "sleep", []string{"30"}, process.Label("nap"+strconv.Itoa(i)),
			process.Grace(2*time.Second),
			process.Configure(func(cmd *exec.Cmd) { a.cmd = cmd }))
	}
	start(0) // before the stop: started
	var wg sync.WaitGroup
	for i := 1; i < starters-1; i++ {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * time.Millisecond / 2) // before, during and after the stop begins
			start(i)
		})
	}
	time.Sleep(4 * time.Millisecond)
	stopErr := make(chan error, 1)
	go func() { stopErr <- p.Stop(safetyCtx(t)) }()
	wg.Wait()
	require.NoError(t, <-stopErr)
	<-p.Done()
	start(starters - 1) // after the stop: refused
	require.NoError(t, attempts[0].err)
	require.ErrorIs(t, attempts[starters-1].err, sprag.ErrNotRunning)

	started, startedThenRefused := 0, 0
	for i, a := range attempts {
		if a.err != nil {
			require.ErrorIs(t, a.err, sprag.ErrNotRunning, "start %d", i)
			assert.Nil(t, a.proc, "start %d", i)
			if a.cmd != nil && a.cmd.Process != nil {
				startedThenRefused++
				assert.NotNil(t, a.cmd.ProcessState, "start %d: a process Start started and then refused is reaped", i)
			}
			continue
		}
		started++
		select {
		case <-a.proc.Done():
		default:
			t.Errorf("start %d: the owner's Done closed before its process ended", i)
			continue
		}
		exit, ok := a.proc.LastExit()
		assert.True(t, ok, "start %d: its exit is recorded", i)
		assert.True(t, exit.Stopped, "start %d: the owner's stop ended it", i)
		assert.False(t, a.proc.Running(), "start %d", i)
		assert.Zero(t, a.proc.Pid(), "start %d", i)
	}
	t.Logf("%d of %d starts succeeded before the stop; %d started a program and were then refused", started, starters, startedThenRefused)
}
