package watch_test

// Tests with extreme intervals and backoffs whose documented behaviour
// holds.

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/watch"
	"github.com/sprag-go/sprag/spragtest"
)

// TestEdgePollAtTheLongestIntervalAndBackoff: a poller of interval
// math.MaxInt64 polls at once and then not within a century; one whose
// first poll fails with a retry backoff of math.MaxInt64 does not retry
// within a century either; Stop ends both.
func TestEdgePollAtTheLongestIntervalAndBackoff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		var good, bad atomic.Int32
		ok, err := watch.Poll(p, func(context.Context) (int, error) { return int(good.Add(1)), nil },
			math.MaxInt64, watch.Label("ok"))
		require.NoError(t, err)
		failing, err := watch.Poll(p, func(context.Context) (int, error) { bad.Add(1); return 0, errors.New("down") },
			time.Second, watch.Label("failing"), watch.RetryBackoff(math.MaxInt64, math.MaxInt64))
		require.NoError(t, err)

		time.Sleep(100 * 365 * 24 * time.Hour)
		synctest.Wait()
		assert.Equal(t, int32(1), good.Load())
		assert.Equal(t, int32(1), bad.Load())
		v, has := ok.Value()
		assert.True(t, has)
		assert.Equal(t, 1, v)
		assert.Equal(t, 1, failing.Stats().Failures)
		require.NoError(t, p.Stop(context.Background()))
		assert.False(t, ok.Cancel(), "stopped with its owner")
	})
}

// TestEdgeStreamThatEndsAtOnceForever: a follow function that returns at
// once, without a value, for ever, reconnects after a backoff that grows
// to its maximum and no further; Cancel ends it.
func TestEdgeStreamThatEndsAtOnceForever(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := spragtest.Started(t, "svc", nil)
		tl := spragtest.NewTimeline()
		w, err := watch.Stream(p, func(context.Context, func(int)) error {
			tl.Mark()
			return nil
		}, watch.RetryBackoff(time.Nanosecond, time.Microsecond))
		require.NoError(t, err)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		times := tl.Times()
		require.Greater(t, len(times), 900, "a reconnection at least every microsecond")
		for i := 1; i < len(times); i++ {
			wait := times[i] - times[i-1]
			assert.Positive(t, wait)
			assert.LessOrEqual(t, wait, time.Microsecond)
		}
		assert.True(t, w.Cancel())
		synctest.Wait()
		n := len(tl.Times())
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Len(t, tl.Times(), n, "no reconnection after Cancel")
		assert.Zero(t, w.Stats().Errors, "ending without an error is not a failure")
	})
}

// TestEdgeBackoffWithAnInitialAboveItsMax: a Backoff used directly, whose
// Initial exceeds its Max, waits Max after every failure; a success goes
// back to Interval.
func TestEdgeBackoffWithAnInitialAboveItsMax(t *testing.T) {
	t.Parallel()
	b := &watch.Backoff{Interval: time.Second, Initial: time.Hour, Max: time.Minute}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	down := errors.New("down")
	for i := range 70 {
		assert.Equal(t, time.Minute, b.Next(now, sprag.Run{N: i + 1, Err: down}).Sub(now))
	}
	assert.Equal(t, time.Second, b.Next(now, sprag.Run{N: 71}).Sub(now))
}
