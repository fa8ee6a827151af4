package cron_test

// Stress tests of cron jobs added, cancelled and stopped from many
// goroutines at once.

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
	"github.com/sprag-go/sprag/spragtest"
)

// stressJob is one cron job of the test and what it saw.
type stressJob struct {
	timer      *sprag.Timer
	runs       atomic.Int32
	inRun      atomic.Int32
	overlapped atomic.Bool
	cancelled  atomic.Bool // set once its Cancel returned true
	lateRuns   atomic.Int32
}

func (j *stressJob) run(context.Context) error {
	if j.cancelled.Load() {
		j.lateRuns.Add(1)
	}
	if j.inRun.Add(1) > 1 {
		j.overlapped.Store(true)
	}
	defer j.inRun.Add(-1)
	j.runs.Add(1)
	time.Sleep(300 * time.Millisecond) // within its second: the next run is the next second
	return nil
}

// TestStressCronJobsAddedCancelledAndStoppedConcurrently: one
// *cron.Schedule serves 48 jobs of two services, added at once from many
// goroutines (half with cron.Add, half with Scope.Schedule and the shared
// Schedule: "A Schedule keeps no state: one value may serve many timers",
// cron.go:22-23). Jobs are cancelled from other goroutines while they run,
// and one service stops while adds race its stop. Every job runs once a
// second, its runs never overlap (cron.go:20-22), no run of a cancelled
// job begins after its Cancel returned true, nothing of the stopped
// service runs after its Stop returned, an add refused by the stop wraps
// sprag.ErrNotRunning and schedules nothing, and the other service's jobs
// go on.
func TestStressCronJobsAddedCancelledAndStoppedConcurrently(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		everySecond := cron.MustParse("CRON_TZ=UTC * * * * * *")
		stays := spragtest.Started(t, "stays", nil)
		stops := spragtest.Started(t, "stops", nil)
		owners := []*spragtest.Probe{stays, stops}

		jobs := make([]*stressJob, 48)
		var adders sync.WaitGroup
		for i := range jobs {
			adders.Go(func() {
				j := &stressJob{}
				jobs[i] = j
				var err error
				if i%2 == 0 {
					j.timer, err = cron.Add(owners[i%4/2], "CRON_TZ=UTC * * * * * *", j.run, cron.Label("job"))
				} else {
					j.timer, err = owners[i%4/2].Schedule(everySecond, j.run, sprag.Label("job"))
				}
				assert.NoError(t, err)
			})
		}
		adders.Wait()
		time.Sleep(10*time.Second + 100*time.Millisecond) // mid-run: each job runs from the second to 0.3 s past it

		var cancellers sync.WaitGroup
		for i, j := range jobs {
			if i%3 != 0 {
				continue
			}
			cancellers.Go(func() {
				if j.timer.Cancel() {
					j.cancelled.Store(true)
				}
			})
		}
		var stoppedAt atomic.Bool
		var afterStop atomic.Int32
		late := make([]*stressJob, 16)
		var lateAdds sync.WaitGroup
		for k := range late {
			lateAdds.Go(func() {
				time.Sleep(time.Duration(k) * 50 * time.Millisecond) // before, during and after the stop
				j := &stressJob{}
				late[k] = j
				var err error
				j.timer, err = cron.Add(stops, "CRON_TZ=UTC * * * * * *", func(ctx context.Context) error {
					if stoppedAt.Load() {
						afterStop.Add(1)
					}
					return j.run(ctx)
				})
				if err != nil {
					assert.ErrorIs(t, err, sprag.ErrNotRunning, "an add the stop refused") //nolint:testifylint // off the test's goroutine, where require cannot stop the test
					assert.Nil(t, j.timer)
				}
			})
		}
		cancellers.Wait()
		time.Sleep(100 * time.Millisecond)
		spragtest.Stop(t, stops, 5*time.Second) // at 10.2 s, during the runs of 10 s: it waits for them
		stoppedAt.Store(true)
		lateAdds.Wait()
		time.Sleep(time.Minute)
		synctest.Wait()

		_, err := cron.Add(stops, "@every 1s", func(context.Context) error { return nil })
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Zero(t, afterStop.Load(), "no job of the stopped service runs after its Stop returned")
		for i, j := range jobs {
			assert.False(t, j.overlapped.Load(), "job %d: runs never overlap", i)
			assert.Zero(t, j.lateRuns.Load(), "job %d: a run began after its Cancel returned", i)
			owner := owners[i%4/2]
			switch {
			case i%3 == 0:
				assert.True(t, j.cancelled.Load(), "job %d: its Cancel stopped it", i)
				assert.Equal(t, int32(10), j.runs.Load(), "job %d: runs at 1 s to 10 s, cancelled during the last", i)
				assert.False(t, j.timer.Active())
			case owner == stops:
				assert.Equal(t, int32(10), j.runs.Load(), "job %d: runs at 1 s to 10 s, its service stopped during the last", i)
				assert.False(t, j.timer.Active())
			default:
				assert.Equal(t, int32(70), j.runs.Load(), "job %d: runs every second, 1 s to 70 s", i)
				assert.True(t, j.timer.Active())
			}
		}
		for k, j := range late {
			assert.Zero(t, j.runs.Load(), "late job %d: added at most just before the stop, it never ran", k)
		}
	})
}
