package runs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sprag-go/sprag/sprag/internal/runs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWorkCountsRunsPerGoroutine(t *testing.T) {
	t.Parallel()
	var w runs.Work
	w.Uncounted = true
	first := w.Claim(7)
	second := w.Claim(7) // a nested run on the same goroutine
	third := w.Claim(9)
	assert.True(t, first)
	assert.False(t, second)
	assert.False(t, third)
	assert.Equal(t, int32(3), w.Running())
	assert.Equal(t, int32(2), w.On(7))
	assert.Equal(t, int32(1), w.On(9))
	assert.Zero(t, w.On(0), "goroutine 0 is nobody")

	w.Release(second, 7)
	w.Release(third, 9)
	assert.Equal(t, int32(1), w.On(7))
	w.Release(first, 7)
	assert.Zero(t, w.Running())
}

func TestTrackerWaitsForRunsButTheCallersOwn(t *testing.T) {
	t.Parallel()
	var tr runs.Tracker
	var task, callback runs.Work
	callback.Uncounted = true
	tr.Begin(&task)
	slot := callback.Claim(42) // the caller's own run, on goroutine 42

	done := make(chan []int, 1)
	go func() { done <- tr.Wait(context.Background(), []*runs.Work{&task, &callback}, 42) }()
	select {
	case <-done:
		t.Fatal("Wait returned while the task runs")
	case <-time.After(10 * time.Millisecond):
	}
	tr.End(&task)
	require.Nil(t, <-done, "the caller's own run is not waited for")
	callback.Release(slot, 42)
	tr.Released()
}

func TestTrackerNamesWhatStillRunsAtTheDeadline(t *testing.T) {
	t.Parallel()
	var tr runs.Tracker
	var idle, busy runs.Work
	tr.Begin(&busy)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Equal(t, []int{1}, tr.Wait(ctx, []*runs.Work{&idle, &busy}, 0))
	tr.End(&busy)
}

func TestTrackerUnderConcurrentRuns(t *testing.T) {
	t.Parallel()
	var tr runs.Tracker
	var w runs.Work
	var wg sync.WaitGroup
	for range 50 {
		tr.Begin(&w)
		wg.Go(func() {
			time.Sleep(time.Millisecond)
			tr.End(&w)
		})
	}
	require.Nil(t, tr.Wait(context.Background(), []*runs.Work{&w}, 0))
	assert.Zero(t, w.Running())
	wg.Wait()
}
