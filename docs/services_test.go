package docs_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// starts records when something began, relative to the start of the
// bubble's test. It is safe for concurrent use.
type starts struct {
	mu    sync.Mutex
	begin time.Time
	at    []time.Duration
}

func newStarts() *starts { return &starts{begin: time.Now()} }

func (s *starts) mark() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, time.Since(s.begin))
}

func (s *starts) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.at...)
}

// TestIntervalSchedules shows when the runs of a one-minute timer begin,
// over 4m45s of the bubble's virtual clock, depending on its schedule and
// options and on how long each run takes.
func TestIntervalSchedules(t *testing.T) {
	t.Parallel()
	const m, s = time.Minute, time.Second
	tests := []struct {
		name string
		run  time.Duration // how long each run takes
		give func(d time.Duration) sprag.Schedule
		opts []sprag.TimerOption
		want []time.Duration // when the runs begin
	}{
		{"fixed delay (the default)", 20 * s, sprag.FixedDelay, nil, []time.Duration{1 * m, 2*m + 20*s, 3*m + 40*s}},
		{"fixed rate", 20 * s, sprag.FixedRate, nil, []time.Duration{1 * m, 2 * m, 3 * m, 4 * m}},
		{"fixed rate, runs overrun", 90 * s, sprag.FixedRate, nil, []time.Duration{1 * m, 3 * m}},
		{"immediately", 20 * s, sprag.FixedDelay, []sprag.TimerOption{sprag.Immediately()}, []time.Duration{0, 1*m + 20*s, 2*m + 40*s, 4 * m}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				runs := newStarts()
				svc := &Bare{}
				spragtest.Start(t, "svc", svc)
				_, err := svc.Schedule(tt.give(time.Minute), func(context.Context) error {
					runs.mark()
					time.Sleep(tt.run)
					return nil
				}, tt.opts...)
				require.NoError(t, err)

				time.Sleep(4*m + 45*s)
				synctest.Wait()

				assert.Equal(t, tt.want, runs.get())
			})
		})
	}
}

// TestRestartPolicy shows a task restarted with backoff until its policy
// gives up.
func TestRestartPolicy(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		svc := &Bare{}
		rt := spragtest.Start(t, "sync", svc)
		gaveUp := spragtest.Record(t, rt.Bus, sprag.TaskGaveUp.Name())
		runs := newStarts()

		task, err := svc.Spawn(func(ctx context.Context) error {
			runs.mark()
			return errors.New("upstream unavailable")
		}, sprag.Label("pull"), sprag.Restart(sprag.RestartPolicy{
			MaxRestarts: 3,               // restarts allowed...
			Window:      time.Minute,     // ...within a sliding minute
			Backoff:     time.Second,     // 1s, then 2s, 4s, ...
			MaxBackoff:  3 * time.Second, // ...capped at 3s
		}))
		require.NoError(t, err)

		err = task.Wait(context.Background())
		require.ErrorIs(t, err, sprag.ErrRestartLimit)
		require.EqualError(t, err, `sprag: restart limit reached (3 restarts within 1m0s): service "sync": task pull: upstream unavailable`)
		assert.Equal(t, []time.Duration{0, time.Second, 3 * time.Second, 6 * time.Second}, runs.get())
		assert.Equal(t, 1, gaveUp.Len(), "sprag.TaskGaveUp was emitted")
		st := svc.Status(context.Background())
		assert.False(t, st.Healthy)
		assert.EqualError(t, st.Err, "sprag: restart limit reached: task pull")
	})
}

// TestStopReturnsAtItsDeadline shows that Stop never waits past its
// context, and names what still runs.
func TestStopReturnsAtItsDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		svc := &Bare{}
		spragtest.Start(t, "exporter", svc)
		release := make(chan struct{})
		_, err := svc.Spawn(func(context.Context) error {
			<-release // ignores its context
			return nil
		}, sprag.Label("upload"))
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		begin := time.Now()
		err = svc.Stop(ctx)

		assert.Equal(t, 5*time.Second, time.Since(begin), "Stop returned at its deadline")
		var stuck *sprag.StuckError
		require.ErrorAs(t, err, &stuck)
		assert.Equal(t, []sprag.Activity{{Kind: sprag.KindTask, Label: "upload"}}, stuck.Running)

		close(release) // the bubble ends only when every goroutine has
		<-svc.Done()
	})
}
