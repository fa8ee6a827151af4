package sprag_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// The regression tests of guarantees that once did not hold: each test
// here failed before the fix it is named for.

func TestConcurrentStartOfAFailingServiceAlwaysReportsTheFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for round := range 200 {
		p := &probe{onStart: func(context.Context, *probe) error {
			runtime.Gosched()
			return boom
		}}
		bound(t, fmt.Sprintf("svc-%d", round), p)
		const callers = 8
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() { errs[i] = p.Start(context.Background()) })
		}
		wg.Wait()
		for i, err := range errs {
			require.ErrorIs(t, err, boom, "round %d, caller %d", round, i)
		}
		assert.Equal(t, sprag.Failed, p.State())
		require.ErrorIs(t, p.Start(context.Background()), boom, "a later Start too")
	}
}

// selfStopper sets up, on p, work of one kind that calls stop from its own
// run.
type selfStopper struct {
	name  string
	setup func(t *testing.T, p *probe, stop func(ctx context.Context) error)
}

func selfStoppers() []selfStopper {
	return []selfStopper{
		{"timeout", func(t *testing.T, p *probe, stop func(context.Context) error) {
			_, err := p.Timeout(time.Second, stop)
			require.NoError(t, err)
		}},
		{"interval", func(t *testing.T, p *probe, stop func(context.Context) error) {
			_, err := p.Interval(time.Second, stop)
			require.NoError(t, err)
		}},
		{"task", func(t *testing.T, p *probe, stop func(context.Context) error) {
			_, err := p.Spawn(func(ctx context.Context) error {
				time.Sleep(time.Second)
				return stop(ctx)
			})
			require.NoError(t, err)
		}},
		{"listener", func(t *testing.T, p *probe, stop func(context.Context) error) {
			_, err := p.Listen("job:done", func(ctx context.Context, _ any) error { return stop(ctx) })
			require.NoError(t, err)
			_, err = p.Timeout(time.Second, func(ctx context.Context) error {
				return p.Emit(ctx, "job:done", nil)
			})
			require.NoError(t, err)
		}},
	}
}

func TestStopFromTheServicesOwnWork(t *testing.T) {
	t.Parallel()
	for _, tt := range selfStoppers() {
		for _, deadline := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, deadline %v", tt.name, deadline), func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					var (
						p        = &probe{}
						returned atomic.Bool
						stopErr  error
						once     sync.Once
					)
					stop := func(runCtx context.Context) error {
						once.Do(func() {
							ctx := context.WithoutCancel(runCtx) // the run's context ends during the stop
							if deadline {
								var cancel context.CancelFunc
								ctx, cancel = context.WithTimeout(ctx, time.Minute)
								defer cancel()
							}
							stopErr = p.Stop(ctx)
							returned.Store(true)
						})
						time.Sleep(time.Second) // the run goes on after Stop returned
						return nil
					}
					p.onStart = func(_ context.Context, p *probe) error {
						tt.setup(t, p, stop)
						return nil
					}
					spragtest.Start(t, "svc", p)

					time.Sleep(1500 * time.Millisecond)
					synctest.Wait()
					require.True(t, returned.Load(), "Stop returned while its caller still runs")
					require.NoError(t, stopErr, "the caller is not named as stuck")
					assert.Equal(t, sprag.Stopping, p.State(), "the calling run has not returned yet")
					select {
					case <-p.Done():
						t.Fatal("Done closed while the calling run still runs")
					default:
					}

					time.Sleep(time.Second)
					synctest.Wait()
					assert.Equal(t, sprag.Stopped, p.State())
					select {
					case <-p.Done():
					default:
						t.Fatal("Done is not closed once the calling run returned")
					}
				})
			})
		}
	}
}

// The churn tests are not parallel: they measure the heap. Their services
// log nowhere, since a test's log is kept in memory.

// quiet returns a running service whose logs go nowhere.
func quiet(t *testing.T) *probe {
	t.Helper()
	p := &probe{}
	spragtest.Start(t, "svc", p, spragtest.WithRuntime(sprag.NewRuntime(nil)))
	return p
}

func TestListenAndUnsubscribeKeepTheHeapFlat(t *testing.T) {
	p := quiet(t)
	per := spragtest.HeapGrowthPerCycle(20000, func(int) {
		sub, err := p.Listen("job:done", func(context.Context, any) error { return nil })
		require.NoError(t, err)
		sub.Unsubscribe()
	})
	assert.Less(t, per, 64.0, "bytes kept per listen/unsubscribe cycle")
}

func TestOnceListenersThatFiredKeepTheHeapFlat(t *testing.T) {
	p := quiet(t)
	per := spragtest.HeapGrowthPerCycle(20000, func(int) {
		_, err := p.Listen("job:done", func(context.Context, any) error { return nil }, eventbus.Once())
		require.NoError(t, err)
		require.NoError(t, p.Emit(context.Background(), "job:done", nil))
	})
	assert.Less(t, per, 64.0, "bytes kept per once listener that fired")
}

func TestStoppedChildrenLeaveTheirParent(t *testing.T) {
	p := quiet(t)
	per := spragtest.HeapGrowthPerCycle(20000, func(i int) {
		child := &plain{}
		require.NoError(t, p.Adopt(context.Background(), "job", child), "cycle %d", i)
		require.NoError(t, child.Stop(context.Background()))
	})
	assert.Less(t, per, 128.0, "bytes kept per adopted and stopped child")
	assert.Empty(t, p.Children())

	failing := &probe{onStart: func(context.Context, *probe) error { return errors.New("boom") }}
	require.Error(t, p.Adopt(context.Background(), "job", failing))
	require.NoError(t, p.Adopt(context.Background(), "job", &plain{}), "the name of a failed child is free again")
	assert.Len(t, p.Children(), 1)
}
