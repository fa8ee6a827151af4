package spragtest_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// The tests of this file hold promises of the package's documentation
// that no other test held.

// fatalT is a fakeT whose Fatalf ends the goroutine, as testing's does.
type fatalT struct{ *fakeT }

func (f fatalT) Fatalf(format string, args ...any) {
	f.fakeT.Fatalf(format, args...)
	runtime.Goexit()
}

// stopLog returns a Probe whose OnStop adds its name to stops.
func stopLog(stops *spragtest.Collector[string]) *spragtest.Probe {
	return &spragtest.Probe{OnStopFunc: func(_ context.Context, p *spragtest.Probe) error {
		stops.Add(p.Name())
		return nil
	}}
}

func TestStartAllStopsInReverseOrder(t *testing.T) {
	t.Parallel()
	var stops spragtest.Collector[string]
	a, b, c := stopLog(&stops), stopLog(&stops), stopLog(&stops)
	var rt sprag.Runtime
	t.Run("inner", func(t *testing.T) {
		rt = spragtest.StartAll(t, []spragtest.Named{{Name: "a", Service: a}, {Name: "b", Service: b}, {Name: "c", Service: c}})
		for _, p := range []*spragtest.Probe{a, b, c} {
			assert.Equal(t, sprag.Running, p.State())
			assert.Same(t, rt.Bus, p.Runtime().Bus, "one shared runtime")
		}
	})
	assert.Equal(t, []string{"c", "b", "a"}, stops.All())
}

func TestStartAllAfterAFailedStartStopsWhatItStarted(t *testing.T) {
	t.Parallel()
	f := &fakeT{TB: t}
	var stops spragtest.Collector[string]
	a, b := stopLog(&stops), stopLog(&stops)
	bad := &spragtest.Probe{OnStartFunc: func(context.Context, *spragtest.Probe) error { return errors.New("no start") }}
	never := &spragtest.Probe{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		spragtest.StartAll(fatalT{f}, []spragtest.Named{
			{Name: "a", Service: a}, {Name: "b", Service: b}, {Name: "bad", Service: bad}, {Name: "never", Service: never},
		})
	}()
	<-done

	require.Len(t, f.fatals, 1, "the test failed at once")
	assert.Contains(t, f.fatals[0], `start service "bad": no start`)
	assert.Equal(t, sprag.Running, a.State())
	assert.Equal(t, sprag.Running, b.State())
	assert.Equal(t, sprag.Failed, bad.State())
	assert.Equal(t, sprag.Created, never.State(), "nothing after the failure")
	assert.Empty(t, never.Name(), "not even bound")

	f.runCleanups()
	assert.Equal(t, []string{"b", "a"}, stops.All(), "the cleanups stopped what it had started, in reverse order")
	assert.Empty(t, f.errors)
}

func TestEachStartMakesARuntimeOfItsOwn(t *testing.T) {
	t.Parallel()
	a, b := &spragtest.Probe{}, &spragtest.Probe{}
	rtA := spragtest.Start(t, "a", a)
	rtB := spragtest.Start(t, "b", b)
	assert.NotSame(t, rtA.Bus, rtB.Bus)
	assert.Same(t, rtA.Bus, a.Runtime().Bus, "Start returns the runtime the service runs with")
	assert.Same(t, rtB.Bus, b.Runtime().Bus)
}

func TestStopTimeoutBoundsTheStartAndTheStop(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opts []spragtest.Option
		want time.Duration
	}{
		{"default", nil, 10 * time.Second},
		{"StopTimeout", []spragtest.Option{spragtest.StopTimeout(time.Second)}, time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				f := &fakeT{TB: t}
				release := make(chan struct{})
				p := spragtest.Started(f, "stubborn", func(p *spragtest.Probe) {
					_, err := p.Spawn(func(context.Context) error {
						<-release // ignores its context
						return nil
					}, sprag.Label("upload"))
					require.NoError(t, err)
				}, tt.opts...)
				require.Empty(t, f.fatals)
				begin := time.Now()
				f.runCleanups()
				assert.Equal(t, tt.want, time.Since(begin), "the registered stop")
				require.Len(t, f.errors, 1)
				assert.Contains(t, f.errors[0], "still running at the stop deadline: task upload")
				close(release)
				<-p.Done()

				f = &fakeT{TB: t}
				slow := &spragtest.Probe{OnStartFunc: func(ctx context.Context, _ *spragtest.Probe) error {
					<-ctx.Done()
					return ctx.Err()
				}}
				begin = time.Now()
				spragtest.Start(f, "slow", slow, tt.opts...)
				assert.Equal(t, tt.want, time.Since(begin), "the start")
				require.Len(t, f.fatals, 1)
				assert.Contains(t, f.fatals[0], context.DeadlineExceeded.Error())
				f.runCleanups()
			})
		})
	}
}

func TestProbeHooks(t *testing.T) {
	t.Parallel()
	empty := &spragtest.Probe{} // nil fields: hooks that do nothing
	spragtest.Start(t, "empty", empty)
	assert.True(t, empty.Status(context.Background()).Healthy)
	spragtest.Stop(t, empty, time.Second)
	assert.Equal(t, sprag.Stopped, empty.State())

	var got spragtest.Collector[*spragtest.Probe]
	sick := errors.New("sick")
	p := &spragtest.Probe{
		OnStartFunc: func(_ context.Context, p *spragtest.Probe) error { got.Add(p); return nil },
		OnStopFunc:  func(_ context.Context, p *spragtest.Probe) error { got.Add(p); return nil },
		HealthFunc:  func(context.Context) error { return sick },
	}
	spragtest.Start(t, "hooks", p)
	st := p.Status(context.Background())
	assert.False(t, st.Healthy)
	require.ErrorIs(t, st.Err, sick)
	spragtest.Stop(t, p, time.Second)
	assert.Equal(t, []*spragtest.Probe{p, p}, got.All(), "each hook gets the probe itself")

	f := &fakeT{TB: t}
	spragtest.Start(f, "failing", &spragtest.Probe{OnStartFunc: func(context.Context, *spragtest.Probe) error { return sick }})
	require.Len(t, f.fatals, 1)
	f.runCleanups()

	none := spragtest.Started(t, "none", nil)
	assert.Equal(t, sprag.Running, none.State(), "Started with no setup")
	assert.Equal(t, "none", none.Name())
}

func TestRecorderUnsubscribesWhenTheTestEnds(t *testing.T) {
	t.Parallel()
	rt := spragtest.Runtime(t)
	t.Run("inner", func(t *testing.T) {
		rec := spragtest.Record(t, rt.Bus, "job:*")
		assert.Equal(t, 1, rt.Bus.Len())
		require.NoError(t, rt.Bus.Emit(context.Background(), "job:done", "x"))
		assert.Equal(t, 1, rec.Len())
	})
	assert.Zero(t, rt.Bus.Len(), "unsubscribed at the end of its test")
}

func TestRecorderReturnsCopiesAndIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	rt := spragtest.Runtime(t)
	rec := spragtest.Record(t, rt.Bus, "job:done")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if err := rt.Bus.Emit(context.Background(), "job:done", g*100+i); err != nil {
					t.Error(err)
				}
				_ = rec.Len()
				_ = rec.Payloads()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 400, rec.Len())

	events, payloads := rec.Events(), rec.Payloads()
	first := events[0].Payload
	events[0].Payload, payloads[0] = "changed", "changed"
	assert.Equal(t, first, rec.Events()[0].Payload, "Events returns a copy")
	assert.Equal(t, first, rec.Payloads()[0], "Payloads returns a copy")
}

func TestCollectorReturnsCopiesAndIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	var c spragtest.Collector[int]
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				c.Add(g*100 + i)
				_ = c.Len()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 400, c.Len())
	all := c.All()
	first := all[0]
	all[0] = -1
	assert.Equal(t, first, c.All()[0], "All returns a copy")

	var ordered spragtest.Collector[string]
	ordered.Add("a")
	ordered.Add("b")
	assert.Equal(t, []string{"a", "b"}, ordered.All(), "in the order added")
}

func TestTimelineMarksOnTheBubblesClock(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tl := spragtest.NewTimeline()
		time.Sleep(time.Minute)
		tl.Mark()
		time.Sleep(2 * time.Minute)
		tl.Mark()
		times := tl.Times()
		assert.Equal(t, []time.Duration{time.Minute, 3 * time.Minute}, times)
		times[0] = 0
		assert.Equal(t, time.Minute, tl.Times()[0], "Times returns a copy")
	})
}

func TestObservedRuntimeCapturesDebugLogs(t *testing.T) {
	t.Parallel()
	rt, logs := spragtest.ObservedRuntime(t)
	rt.Logger.Debug("detail")
	assert.Equal(t, 1, logs.FilterMessage("detail").Len())
}

// Not parallel: it measures the heap.
func TestHeapGrowthPerCycleMeasuresWhatEachCycleKeeps(t *testing.T) {
	var kept [][]byte
	next, inOrder := -1, true
	per := spragtest.HeapGrowthPerCycle(1000, func(i int) {
		if i != next {
			inOrder = false
		}
		next = i - 1
		if i == -200 {
			next = 0 // the warm-up is over
		} else if i >= 0 {
			next = i + 1
			kept = append(kept, make([]byte, 4096))
		}
	})
	assert.True(t, inOrder, "200 warm-up cycles numbered -1 to -200, then 0 to n-1")
	assert.Equal(t, 1000, next)
	assert.InDelta(t, 4096, per, 512, "bytes kept per cycle")
	runtime.KeepAlive(kept)
}

// TestCleanupWaitsForDoneAfterTheTestsOwnStop: Start's cleanup "waits
// until it is done (Done closed, also when a Stop of the test's own
// returned at its deadline)", so that the service logs nothing on a test
// that has ended; a service not done within the stop timeout fails the
// test.
func TestCleanupWaitsForDoneAfterTheTestsOwnStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := &fakeT{TB: t}
		release := make(chan struct{})
		p := spragtest.Started(f, "stubborn", func(p *spragtest.Probe) {
			_, err := p.Spawn(func(context.Context) error {
				<-release // ignores its context
				return nil
			}, sprag.Label("upload"))
			require.NoError(t, err)
		}, spragtest.StopTimeout(5*time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		require.ErrorIs(t, p.Stop(ctx), sprag.ErrStillRunning, "the test's own Stop returns at its deadline")

		time.AfterFunc(2*time.Second, func() { close(release) })
		begin := time.Now()
		f.runCleanups()
		assert.Equal(t, 2*time.Second, time.Since(begin), "the cleanup waits until the service is done")
		assert.Empty(t, f.errors)
		select {
		case <-p.Done():
		default:
			t.Fatal("the cleanup returned before the service was done")
		}

		f = &fakeT{TB: t}
		stuck := make(chan struct{})
		p = spragtest.Started(f, "stuck", func(p *spragtest.Probe) {
			_, err := p.Spawn(func(context.Context) error { <-stuck; return nil }, sprag.Label("upload"))
			require.NoError(t, err)
		}, spragtest.StopTimeout(5*time.Second))
		require.ErrorIs(t, p.Stop(ctx), sprag.ErrStillRunning)
		f.runCleanups()
		require.Len(t, f.errors, 1)
		assert.Contains(t, f.errors[0], `service "stuck": not done 5s after the test ended`)
		close(stuck)
		<-p.Done()
	})
}
