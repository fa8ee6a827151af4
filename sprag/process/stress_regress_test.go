package process_test

// Regression tests of concurrency bugs: each failed, before its fix,
// because the library broke a promise when its API was used from several
// goroutines or concurrently with its owner's stop. Each says what is
// promised and what used to happen.

import (
	"context"
	"os/exec"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/process"
	"github.com/sprag-go/sprag/spragtest"
)

// TestProcessSecondStopsDeadlineKills:
//
// Promise (sprag/process/process.go:39-43): "When the owner stops (at
// step 3 of sprag.Scope.Close), or [Process.Stop] is called, the process
// receives SIGTERM; if it has not exited after its [Grace] period, or
// when the stop's context ends, whichever comes first, it is killed";
// Process.Stop (process.go:391-393): "SIGTERM, then, after its [Grace]
// period or when ctx ends, whichever comes first, SIGKILL"; Grace
// (options.go:73-74): "the stop's context bounds it too".
//
// A process that does not exit on SIGTERM is stopped twice, and the
// second stop's shorter deadline kills it:
//
//   - owner stop after Process.Stop: Process.Stop(context.Background())
//     is waiting out the grace period when the owner's Stop comes with
//     200 ms;
//   - Process.Stop after the owner's stop: the owner's Stop without a
//     deadline is waiting out the grace period when Process.Stop comes
//     with 200 ms.
//
// The kill used to be armed once, on the first stop's context: the
// process lived on until the 3 s grace period ended.
func TestProcessSecondStopsDeadlineKills(t *testing.T) {
	t.Parallel()
	needShell(t)
	for name, ownerFirst := range map[string]bool{
		"owner stop after Process.Stop": false,
		"Process.Stop after owner stop": true,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := &spragtest.Probe{}
			spragtest.Start(t, "svc", p)
			out := newLines()
			proc, err := process.Start(p, "sh", []string{"-c", `trap 'echo got TERM' TERM; echo ready; while :; do sleep 0.05; done`},
				process.Stdout(out.add), process.Label("stubborn"), process.Grace(3*time.Second))
			require.NoError(t, err)
			out.await(t, "ready")

			first := make(chan error, 1)
			go func() {
				if ownerFirst {
					first <- p.Stop(context.Background())
				} else {
					first <- proc.Stop(context.Background())
				}
			}()
			out.await(t, "got TERM") // the first stop has sent SIGTERM: its grace period runs

			began := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if ownerFirst {
				err = proc.Stop(ctx)
				require.ErrorIs(t, err, context.DeadlineExceeded, "the process ignores SIGTERM: not reaped by the deadline")
			} else {
				_ = p.Stop(ctx) // a *StuckError naming the process's task, or nil if it was reaped in time
			}

			<-proc.Done() // with the bug, at the end of the first stop's grace period
			killedAfter := time.Since(began)
			exit, _ := proc.LastExit()
			assert.Equal(t, "signal: killed", exit.Status)
			assert.Less(t, killedAfter, 1500*time.Millisecond,
				"the second stop's context ended after 200 ms: the process must be killed then, not after the first stop's 3 s grace")
			require.NoError(t, <-first)
			<-p.Done()
		})
	}
}

// TestProcessStoppedByItsOwnerIsReportedStopped:
//
// Promise (sprag/process/process.go:18-19): "Exited is emitted on the
// owner's bus when a managed process exits on its own, whatever its
// status; not when its owner or [Process.Stop] stops it"; Exit.Stopped
// (process.go:30): "it ended because it was stopped: by its owner, or by
// Stop"; Wait (process.go:331-332): "ctx's error after a stop".
//
// A process killed by its owner's stop is reported as stopped: no
// Exited event, no failure, and Err returns context.Canceled. The first
// run's context used to derive from the owner's scope context, which the
// stop cancels before the tasks' contexts, so the exit was classified
// with a task context not yet cancelled, as an exit of its own. Tens of
// thousands of delayed tasks of the owner make that window wide.
func TestProcessStoppedByItsOwnerIsReportedStopped(t *testing.T) {
	// exec's goroutine that sends SIGTERM must run while the stop cancels
	// the other tasks: with one P, or with the other Ps busy (collecting
	// garbage, or not given a core by a loaded machine), it waits for the
	// stop's goroutine. Not parallel, so that nothing else runs while
	// GOMAXPROCS is raised and the collector off.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(4, runtime.GOMAXPROCS(0))))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	needShell(t)
	p := &spragtest.Probe{}
	rt := spragtest.Start(t, "svc", p)
	exits := spragtest.Record(t, rt.Bus, process.Exited.Name())

	// Delayed tasks started before the process's, which the stop cancels
	// first: up to 40000, as many as the machine makes in 100 ms.
	tasks := 0
	for began := time.Now(); tasks < 40000 && time.Since(began) < 100*time.Millisecond; tasks++ {
		_, err := p.SpawnAfter(time.Hour, func(context.Context) error { return nil })
		require.NoError(t, err)
	}
	t.Logf("%d delayed tasks", tasks)

	out := newLines()
	proc, err := process.Start(p, "sh", []string{"-c", "echo ready; exec sleep 60"},
		process.Stdout(out.add), process.Label("nap"))
	require.NoError(t, err)
	out.await(t, "ready")

	spragtest.Stop(t, p, safety)
	<-p.Done()

	exit, ok := proc.LastExit()
	require.True(t, ok)
	assert.Equal(t, "signal: terminated", exit.Status, "SIGTERM from the owner's stop")
	assert.True(t, exit.Stopped, "it ended because its owner stopped it")
	assert.Zero(t, exits.Len(), "a stop is not reported as an exit: %v", exits.Payloads())
	assert.ErrorIs(t, proc.Err(), context.Canceled, "stopped with its owner: not a failure")
}

// TestProcessStartRacingItsOwnersStopFailsWithErrNotRunning:
//
// Promise (sprag/process/process.go:97-102): "Start fails, starting
// nothing, with an error wrapping sprag.ErrNotRunning when o's scope is
// not open, ... and the error of os/exec when the program cannot start";
// docs/primitives.md ("What they have in common"): a primitive "Created at
// another time ... returns an error wrapping sprag.ErrNotRunning".
//
// When the owner begins to stop while Start runs, after its Accepting
// check and before the program is started, Start fails with an error
// wrapping sprag.ErrNotRunning. The command's context used to derive from
// the owner's, already cancelled, and Start failed with context.Canceled
// alone. The test begins the stop from the Configure function, which runs
// in that window.
func TestProcessStartRacingItsOwnersStopFailsWithErrNotRunning(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)

	stopped := make(chan error, 1)
	_, err := process.Start(p, "sleep", []string{"60"}, process.Label("nap"),
		process.Configure(func(*exec.Cmd) {
			go func() { stopped <- p.Stop(safetyCtx(t)) }()
			<-p.Context().Done() // step 3 of the stop: the owner no longer accepts work
		}))
	require.NoError(t, <-stopped)
	require.Error(t, err, "the owner stopped before the program started")
	assert.ErrorIs(t, err, sprag.ErrNotRunning, "the owner's stop, not a broken program: %v", err)
}
