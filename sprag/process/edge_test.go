package process_test

// Tests with odd arguments and odd output whose documented behaviour
// holds.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/process"
	"github.com/sprag-go/sprag/spragtest"
)

// TestEdgeOddArgumentsReachTheProgramVerbatim: arguments with quotes,
// shell syntax, spaces, unicode, a leading dash and empty ones reach the
// program as they are: no shell reads them.
func TestEdgeOddArgumentsReachTheProgramVerbatim(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)
	args := []string{"", " ", "$(echo no)", "`id`", "a'b\"c", "-n", "--", "*", "héllo wörld ✓", `\n`, "; exit 9"}
	var got spragtest.Collector[string]
	proc, err := process.Start(p, "sh", append([]string{"-c", `for a in "$@"; do printf '[%s]\n' "$a"; done`, "sh"}, args...),
		process.Stdout(got.Add))
	require.NoError(t, err)
	require.NoError(t, proc.Wait(safetyCtx(t)))
	want := make([]string, len(args))
	for i, a := range args {
		want[i] = "[" + a + "]"
	}
	assert.Equal(t, want, got.All())
}

// TestEdgeOddArgumentsThatCannotStartAreAnError: a NUL byte in an
// argument or in the program's name, a directory and a file that is not
// executable are errors of Start, not panics, and start nothing.
func TestEdgeOddArgumentsThatCannotStartAreAnError(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)
	notExecutable := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(notExecutable, []byte("#!/bin/sh\nexit 0\n"), 0o600))
	for _, c := range []struct {
		name string
		args []string
	}{
		{"sh", []string{"-c", "echo a\x00b"}},
		{"s\x00h", nil},
		{"/", nil},
		{notExecutable, nil},
	} {
		var err error
		require.NotPanics(t, func() { _, err = process.Start(p, c.name, c.args, process.Label("odd")) })
		require.Error(t, err, "%q", c.name)
		assert.Contains(t, err.Error(), `service "svc": process odd: `)
	}
	proc, err := process.Start(p, "sh", []string{"-c", "exit 0"}, process.Label("odd"))
	require.NoError(t, err, "the failed starts left nothing behind under their label")
	require.NoError(t, proc.Wait(safetyCtx(t)))
}

// TestEdgeLongOutputWithoutANewlineAtExit: a last line of 200 KiB
// without a newline arrives in pieces of 64 KiB and the rest once the
// process has exited, before Wait returns.
func TestEdgeLongOutputWithoutANewlineAtExit(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)
	long := strings.Repeat("y", 200<<10)
	var got spragtest.Collector[string]
	script := `printf 'first\n'; i=0; while [ $i -lt 200 ]; do printf '%s' "$KIB"; i=$((i+1)); done`
	proc, err := process.Start(p, "sh", []string{"-c", script},
		process.Configure(func(cmd *exec.Cmd) { cmd.Env = append(cmd.Environ(), "KIB="+long[:1<<10]) }),
		process.Stdout(got.Add))
	require.NoError(t, err)
	require.NoError(t, proc.Wait(safetyCtx(t)))
	lines := got.All()
	require.Len(t, lines, 5)
	assert.Equal(t, "first", lines[0])
	assert.Equal(t, long, strings.Join(lines[1:], ""))
	for _, l := range lines[1:4] {
		assert.Len(t, l, 64<<10)
	}
}

// TestEdgeProgramThatExitsAtOnceWithATinyBackoff: a program that fails
// at once, restarted with a 1ns backoff, gives up after MaxRestarts
// restarts within the window, with ErrRestartLimit.
func TestEdgeProgramThatExitsAtOnceWithATinyBackoff(t *testing.T) {
	t.Parallel()
	needShell(t)
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p)
	proc, err := process.Start(p, "sh", []string{"-c", "exit 1"}, process.Stdout(func(string) {}),
		process.Restart(sprag.RestartPolicy{MaxRestarts: 20, Window: time.Hour, Backoff: time.Nanosecond, MaxBackoff: time.Nanosecond}))
	require.NoError(t, err)
	require.ErrorIs(t, proc.Wait(safetyCtx(t)), sprag.ErrRestartLimit)
	assert.Equal(t, 20, proc.Restarts())
	assert.False(t, proc.Running())
}
