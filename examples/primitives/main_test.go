package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRun runs the example as `go run` does and checks that each primitive
// showed itself.
func TestRun(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out))
	text := out.String()
	for _, want := range []string{
		"[queue]      packed order 1",
		"[observable] dashboard sees stock",
		"[watcher]    supplier price is now 12",
		"[cron]       stock check at",
		"[process]",
		"[done]       enqueue after stop:",
	} {
		assert.Contains(t, text, want)
	}
}
