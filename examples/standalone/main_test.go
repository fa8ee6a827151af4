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

func TestStartAndStopOrder(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(&out))
	assert.Equal(t, []string{
		"start pipeline",
		"start pipeline/fetch",
		"start pipeline/store",
		"running: running children: 2",
		"stop  pipeline",
		"stop  pipeline/store",
		"stop  pipeline/fetch",
		"cleanup: flush the cache",
		"cleanup: close the database",
	}, strings.Split(strings.TrimSpace(out.String()), "\n"))
}
