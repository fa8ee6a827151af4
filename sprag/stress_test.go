package sprag_test

// Stress tests of the runtime's concurrency promises: the lifecycle, the
// managed methods, adoption and the registry, called from many goroutines
// at once and concurrently with Start and Stop.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
)

// TestStressStartAndStopFromManyGoroutines: Start and Stop "are idempotent
// and safe from any goroutine, also Stop while Start runs"
// (lifecycle.go:15-16, 177, 185-186; doc.go:36-38). Eight goroutines call Start
// and Stop at once on a service whose OnStart registers an interval, a
// task, a listener and a cleanup. Every Start returns nil or ErrStopped,
// every Stop nil; OnStart runs at most once, OnStop runs once exactly when
// OnStart completed ("OnStart that completes is followed by OnStop"), the
// cleanup runs once when it was accepted, the listener is gone, and the
// service ends Stopped with its Done closed.
func TestStressStartAndStopFromManyGoroutines(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		for round := range 150 {
			rt := sprag.NewRuntime(nil)
			var starts, completed, stops, accepted, cleaned, ticks atomic.Int32
			p := &probe{
				onStart: func(_ context.Context, p *probe) error {
					starts.Add(1)
					time.Sleep(time.Duration(round%2) * time.Millisecond) // a Stop may arrive meanwhile
					_, _ = p.Interval(time.Millisecond, func(context.Context) error { ticks.Add(1); return nil })
					_, _ = p.Spawn(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
					_, _ = p.Listen("stress:ping", func(context.Context, any) error { return nil })
					if p.AddCleanup(func(context.Context) error { cleaned.Add(1); return nil }) == nil {
						accepted.Add(1)
					}
					completed.Add(1)
					return nil
				},
				onStop: func(context.Context, *probe) error {
					stops.Add(1)
					return nil
				},
			}
			require.NoError(t, sprag.Bind(p, "svc", rt))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := range 8 {
				wg.Go(func() {
					<-start
					if (g+round)%3 == 0 {
						time.Sleep(time.Duration(g%3) * time.Millisecond) // before, during or after the start
						assert.NoError(t, p.Stop(context.Background()), "round %d", round)
						return
					}
					if err := p.Start(context.Background()); err != nil {
						assert.ErrorIs(t, err, sprag.ErrStopped, "round %d", round)
					}
					time.Sleep(time.Duration(g) * time.Millisecond)
				})
			}
			close(start)
			wg.Wait()
			require.NoError(t, p.Stop(context.Background()))
			<-p.Done()
			assert.Equal(t, sprag.Stopped, p.State(), "round %d", round)
			assert.LessOrEqual(t, starts.Load(), int32(1), "round %d: OnStart runs once", round)
			assert.Equal(t, completed.Load(), stops.Load(), "round %d: OnStop follows an OnStart that completed", round)
			assert.Equal(t, accepted.Load(), cleaned.Load(), "round %d: every accepted cleanup ran once", round)
			assert.Zero(t, rt.Bus.Len(), "round %d: the listener was removed", round)
			before := ticks.Load()
			time.Sleep(time.Second)
			assert.Equal(t, before, ticks.Load(), "round %d: the interval runs no more after Done", round)
		}
	})
}

// TestStressStopRacingWithAdoptOwnAndCleanups: a managed call made while
// Stop runs either fails with ErrNotRunning or is torn down by the stop
// (doc.go:73-76; Adopt, adopt.go:22-27; Own and AddCleanup, cleanup.go).
// Goroutines adopt children, own resources and add cleanups while another
// stops the parent. Each adopted child has stopped (OnStop ran once, Done
// closed) by the time the parent's Done closes; a child whose Adopt failed
// has stopped by the time Adopt returns; each owned resource is closed and
// each cleanup run exactly once when accepted, never when refused.
func TestStressStopRacingWithAdoptOwnAndCleanups(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		for round := range 40 {
			parent := &probe{}
			require.NoError(t, sprag.Bind(parent, "parent", sprag.NewRuntime(nil)))
			require.NoError(t, parent.Start(context.Background()))

			type childRec struct {
				c       *probe
				adopted bool
				stops   *atomic.Int32
			}
			var (
				mu       sync.Mutex
				children []childRec
				owned    []*countingCloser
				cleanups []*atomic.Int32
			)
			var wg sync.WaitGroup
			for g := range 6 {
				wg.Go(func() {
					for i := range 12 {
						switch (g + i) % 3 {
						case 0:
							stops := new(atomic.Int32)
							c := &probe{
								onStart: func(_ context.Context, c *probe) error {
									_, err := c.Spawn(func(ctx context.Context) error { <-ctx.Done(); return nil })
									return err
								},
								onStop: func(context.Context, *probe) error { stops.Add(1); return nil },
							}
							err := parent.Adopt(context.Background(), fmt.Sprintf("c%d-%d", g, i), c)
							if err != nil {
								assert.ErrorIs(t, err, sprag.ErrNotRunning, "round %d", round) //nolint:testifylint // off the test's goroutine, where require cannot stop the test
								if c.State() != sprag.Created {                                // bound and started before the parent refused it
									select {
									case <-c.Done():
									default:
										t.Errorf("round %d: a child whose Adopt failed still runs after Adopt returned", round)
									}
								}
							}
							mu.Lock()
							children = append(children, childRec{c: c, adopted: err == nil, stops: stops})
							mu.Unlock()
						case 1:
							r := &countingCloser{}
							r.accepted = parent.Own(r) == nil
							mu.Lock()
							owned = append(owned, r)
							mu.Unlock()
						case 2:
							n := new(atomic.Int32)
							if err := parent.AddCleanup(func(context.Context) error { n.Add(1); return nil }); err != nil {
								assert.ErrorIs(t, err, sprag.ErrNotRunning)
								n.Store(-100) // refused: it must not run
							}
							mu.Lock()
							cleanups = append(cleanups, n)
							mu.Unlock()
						}
						time.Sleep(time.Millisecond)
					}
				})
			}
			time.Sleep(time.Duration(round%8) * time.Millisecond)
			require.NoError(t, parent.Stop(context.Background()))
			<-parent.Done()
			mu.Lock()
			for _, ch := range children {
				if !ch.adopted {
					continue
				}
				select {
				case <-ch.c.Done():
				default:
					t.Errorf("round %d: child %s outlived its parent's Done", round, ch.c.Name())
				}
			}
			mu.Unlock()
			wg.Wait()

			for _, ch := range children {
				if ch.c.State() == sprag.Created { // refused before it was bound: it never ran
					assert.False(t, ch.adopted)
					assert.Zero(t, ch.stops.Load())
					continue
				}
				<-ch.c.Done()
				assert.Equal(t, sprag.Stopped, ch.c.State(), "round %d: %s", round, ch.c.Name())
				assert.Equal(t, int32(1), ch.stops.Load(), "round %d: OnStop of %s", round, ch.c.Name())
			}
			for _, r := range owned {
				want := int32(0)
				if r.accepted {
					want = 1
				}
				assert.Equal(t, want, r.closes.Load(), "round %d: an owned resource is closed once iff Own accepted it", round)
			}
			for _, n := range cleanups {
				v := n.Load()
				assert.True(t, v == 1 || v == -100, "round %d: a cleanup ran %d times", round, v)
			}
			assert.Empty(t, parent.Children())
		}
	})
}

// countingCloser is a resource for Own that counts its Close calls.
type countingCloser struct {
	accepted bool
	closes   atomic.Int32
}

func (c *countingCloser) Close() error { c.closes.Add(1); return nil }

// TestStressAdoptOfOneChildByTwoParents: Adopt fails "when child was
// bound or adopted before ([ErrAlreadyBound])" (adopt.go:25-26). Two
// running parents adopt the same child at once: exactly one succeeds, the
// child bears that parent's name and stops with it, and the other parent
// keeps nothing.
func TestStressAdoptOfOneChildByTwoParents(t *testing.T) {
	t.Parallel()
	rt := sprag.NewRuntime(nil)
	for round := range 300 {
		parents := [2]*plain{{}, {}}
		for i, p := range parents {
			require.NoError(t, sprag.Bind(p, fmt.Sprint("p", i), rt))
			require.NoError(t, p.Start(context.Background()))
		}
		child := &plain{}
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, p := range parents {
			wg.Go(func() {
				<-start
				errs[i] = p.Adopt(context.Background(), "job", child)
			})
		}
		close(start)
		wg.Wait()
		require.False(t, errs[0] == nil && errs[1] == nil, "round %d: both parents adopted the child", round)
		require.False(t, errs[0] != nil && errs[1] != nil, "round %d: neither parent adopted the child: %v", round, errs)
		winner, loser, name, lost := parents[0], parents[1], "p0/job", errs[1]
		if errs[0] != nil {
			winner, loser, name, lost = parents[1], parents[0], "p1/job", errs[0]
		}
		require.ErrorIs(t, lost, sprag.ErrAlreadyBound, "round %d", round)
		assert.Equal(t, name, child.Name())
		assert.Equal(t, []sprag.Interface{child}, winner.Children())
		assert.Empty(t, loser.Children())
		require.NoError(t, loser.Adopt(context.Background(), "job", &plain{}), "round %d: the loser's name was released", round)

		require.NoError(t, winner.Stop(context.Background()))
		assert.Equal(t, sprag.Stopped, child.State())
		require.NoError(t, loser.Stop(context.Background()))
	}
}

// TestStressRegistryUnderConcurrentChanges: the Registry's "methods are
// safe for concurrent use" (registry.go:16-17), and WaitFor "waits until a
// service is registered under name and has finished starting ... When the
// entry is replaced or unregistered while WaitFor waits, it waits for what
// is registered under name then" (registry.go:241-249). Goroutines
// Provide, Replace and Unregister two names among running services while
// others wait for them, resolve them and read the health report. Every
// WaitFor returns one of the running services once the names are
// registered for good; the errors are the documented ones; the names end
// unique, in the registry's order.
func TestStressRegistryUnderConcurrentChanges(t *testing.T) {
	t.Parallel()
	rt := sprag.NewRuntime(nil)
	r := sprag.NewRegistry()
	var svcs []sprag.Interface
	running := map[sprag.Interface]bool{}
	for i := range 4 {
		p := &plain{}
		require.NoError(t, sprag.Bind(p, fmt.Sprint("svc", i), rt))
		require.NoError(t, p.Start(context.Background()))
		svcs = append(svcs, p)
		running[p] = true
	}
	names := []string{"a", "b"}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var waiters sync.WaitGroup
	for w := range 6 {
		waiters.Go(func() {
			for i := range 100 {
				name := names[(w+i)%2]
				svc, err := r.WaitFor(ctx, name)
				if assert.NoError(t, err, "WaitFor(%q)", name) {
					assert.True(t, running[svc], "WaitFor returned a service of the set")
				}
			}
		})
	}
	var churn sync.WaitGroup
	for c := range 3 {
		churn.Go(func() {
			for i := range 400 {
				name, svc := names[(c+i)%2], svcs[(c*7+i)%len(svcs)]
				switch i % 5 {
				case 0:
					if err := r.Provide(name, svc); err != nil {
						assert.ErrorIs(t, err, sprag.ErrDuplicateName)
					}
				case 1:
					_, err := r.Replace(name, svc)
					assert.NoError(t, err) //nolint:testifylint // off the test's goroutine, where require cannot stop the test
				case 2:
					if _, err := r.Unregister(name); err != nil {
						assert.ErrorIs(t, err, sprag.ErrNotFound)
					}
				case 3:
					if got, err := r.Resolve(name); err == nil {
						assert.True(t, running[got])
					} else {
						assert.ErrorIs(t, err, sprag.ErrNotFound)
					}
				default:
					rep := r.Health(context.Background())
					assert.True(t, rep.Healthy, "every registered service runs: %v", rep.Err())
					seen := map[string]bool{}
					for n := range r.All() {
						assert.False(t, seen[n], "All yields %q twice", n)
						seen[n] = true
					}
				}
			}
		})
	}
	churn.Wait()
	for _, name := range names {
		_, err := r.Replace(name, svcs[0])
		require.NoError(t, err)
	}
	waiters.Wait()
	assert.ElementsMatch(t, names, r.Names())
	for _, svc := range svcs {
		require.NoError(t, svc.Stop(context.Background()))
	}
}

// TestStressStatusIsConsistentWhileStatesChange: Service.Status and
// Registry.Health read a service's state while it starts, adopts children
// and stops on other goroutines (health.go:43-48). Every status is
// consistent: healthy only when running with no error; running only with
// a start time; failed or not running always with an error.
func TestStressStatusIsConsistentWhileStatesChange(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		check := func(st sprag.Status) {
			if st.Healthy {
				assert.Equal(t, sprag.Running, st.State, "%s is healthy but %s", st.Name, st.State)
				assert.NoError(t, st.Err) //nolint:testifylint // off the test's goroutine, where require cannot stop the test
			}
			if st.State == sprag.Running {
				assert.False(t, st.Since.IsZero(), "%s runs with no start time", st.Name)
			} else {
				assert.Error(t, st.Err, "%s is %s with no error", st.Name, st.State) //nolint:testifylint // off the test's goroutine, where require cannot stop the test
				assert.False(t, st.Healthy)
			}
		}
		for round := range 60 {
			rt := sprag.NewRuntime(nil)
			r := sprag.NewRegistry()
			fail := round%4 == 3
			p := &probe{onStart: func(_ context.Context, p *probe) error {
				time.Sleep(time.Millisecond)
				for i := range 3 {
					if err := p.Adopt(context.Background(), fmt.Sprint("c", i), &plain{}); err != nil { //nolint:contextcheck // a child adopted for the test, not bound to OnStart's context
						return err
					}
				}
				if fail {
					return errors.New("boom")
				}
				return nil
			}}
			require.NoError(t, sprag.Bind(p, "svc", rt))
			require.NoError(t, r.Provide("svc", p))
			done := make(chan struct{})
			var readers sync.WaitGroup
			for range 3 {
				readers.Go(func() {
					for {
						check(p.Status(context.Background()))
						for _, st := range r.Health(context.Background()).Services {
							check(st)
						}
						select {
						case <-done:
							return
						default:
							time.Sleep(100 * time.Microsecond)
						}
					}
				})
			}
			startErr := make(chan error, 1)
			go func() { startErr <- p.Start(context.Background()) }()
			time.Sleep(time.Duration(round%5) * time.Millisecond)
			require.NoError(t, p.Stop(context.Background()))
			<-p.Done()
			if err := <-startErr; err != nil && !fail {
				require.ErrorIs(t, err, sprag.ErrStopped)
			}
			close(done)
			readers.Wait()
			final := p.Status(context.Background())
			check(final)
			assert.Contains(t, []sprag.State{sprag.Stopped, sprag.Failed}, final.State)
		}
	})
}

// TestStressTaskCancelRacingWithStop: Task.Cancel "reports whether this
// call cancelled the task; it returns false for a task that was cancelled
// before or has ended" (task.go:372-374), and a SpawnAfter task that the
// scope's close or a Cancel ends first "never runs and its Err wraps
// [ErrStopped]; when it is cancelled first, context.Canceled"
// (task.go:132-134). Tasks and delayed tasks are cancelled from several
// goroutines while the service stops: at most one Cancel per task reports
// true, each task's Done closes before the service's, a delayed task that
// did not run ends with ErrStopped or context.Canceled, and one that ran
// saw its context end.
func TestStressTaskCancelRacingWithStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		for round := range 40 {
			p := &probe{}
			require.NoError(t, sprag.Bind(p, "svc", sprag.NewRuntime(nil)))
			require.NoError(t, p.Start(context.Background()))
			const n = 24
			tasks := make([]*sprag.Task, n)
			ran := make([]atomic.Bool, n)
			for i := range n {
				fn := func(ctx context.Context) error {
					ran[i].Store(true)
					<-ctx.Done()
					return ctx.Err()
				}
				if i%2 == 0 {
					tasks[i] = must(p.Spawn(fn))
				} else {
					tasks[i] = must(p.SpawnAfter(time.Duration(1+i%3)*time.Millisecond, fn))
				}
			}
			var cancelled [n]atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := range 3 {
				wg.Go(func() {
					<-start
					time.Sleep(time.Duration(g) * time.Millisecond)
					for i := range n {
						if (i+g+round)%3 != 0 && tasks[i].Cancel() {
							cancelled[i].Add(1)
						}
					}
				})
			}
			close(start)
			time.Sleep(time.Duration(round%4) * time.Millisecond)
			require.NoError(t, p.Stop(context.Background()))
			<-p.Done()
			for i, tk := range tasks {
				select {
				case <-tk.Done():
				default:
					t.Errorf("round %d: task %d outlived its service's Done", round, i)
				}
			}
			wg.Wait()
			for i, tk := range tasks {
				assert.LessOrEqual(t, cancelled[i].Load(), int32(1), "round %d: task %d cancelled by more than one Cancel", round, i)
				assert.False(t, tk.Cancel(), "round %d: a Cancel after the end reports false", round)
				err := tk.Err()
				if ran[i].Load() {
					assert.ErrorIs(t, err, context.Canceled, "round %d: task %d", round, i)
				} else if i%2 == 1 {
					if !errors.Is(err, sprag.ErrStopped) {
						assert.ErrorIs(t, err, context.Canceled, "round %d: delayed task %d that did not run", round, i)
					}
				}
			}
		}
	})
}

// TestStressCallbackCloseRacingWithCalls: a Callback's "methods are safe
// for concurrent use"; Close "forgets the callback: later calls are
// skipped and the scope will not run its onClose. ... It reports whether
// this call closed it" (callback.go:116-118); the scope's close runs
// onClose once (callback.go:29-30); "no call begins once the scope has
// begun to close" (callback.go:18). Goroutines call callbacks while
// others close them and the scope closes: at most one Close per callback
// reports true, onClose runs once exactly for the callbacks no Close
// closed, and once Close (the callback's or the scope's) has returned, no
// call made afterwards runs.
func TestStressCallbackCloseRacingWithCalls(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		for round := range 60 {
			sc := sprag.NewScope("hooks", sprag.NewRuntime(nil))
			const n = 16
			cbs := make([]*sprag.Callback, n)
			onClose := make([]atomic.Int32, n)
			closedBy := make([]atomic.Int32, n)
			gone := make([]atomic.Bool, n) // a Close of it has returned
			for i := range n {
				cbs[i] = must(sc.Callback(fmt.Sprint("cb", i), func() { onClose[i].Add(1) }))
			}
			var scopeClosed atomic.Bool
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := range 4 {
				wg.Go(func() {
					<-start
					for k := range 3 * n {
						i := (k*5 + g) % n
						if (k+g+round)%4 == 0 {
							if cbs[i].Close() {
								closedBy[i].Add(1)
							}
							gone[i].Store(true)
							continue
						}
						wasGone, wasClosed := gone[i].Load(), scopeClosed.Load()
						_ = sprag.Call(context.Background(), cbs[i], func(context.Context, int) error {
							if wasGone || wasClosed {
								t.Errorf("round %d: callback %d called after a Close returned", round, i)
							}
							return nil
						}, k)
						time.Sleep(100 * time.Microsecond)
					}
				})
			}
			close(start)
			time.Sleep(time.Duration(round%5) * time.Millisecond)
			require.NoError(t, sc.Close(context.Background()))
			scopeClosed.Store(true)
			wg.Wait()
			<-sc.Done()
			for i := range n {
				c := closedBy[i].Load()
				assert.LessOrEqual(t, c, int32(1), "round %d: callback %d closed by two Closes", round, i)
				assert.Equal(t, 1-c, onClose[i].Load(), "round %d: callback %d: onClose runs once unless a Close forgot it first", round, i)
			}
		}
	})
}

// TestStressStopFromOwnListenersAndOutsideAtOnce: Stop "is safe from any
// goroutine, also from the service's own work: Stop called from ... a
// listener ... does not wait for the run it was called from ... a second
// Stop waits for the first ... and returns nil" (lifecycle.go:177-187).
// Emits whose listener stops its service run on several goroutines while
// others call Stop from outside: no call deadlocks, every Stop returns
// nil, the service ends Stopped with its listener removed, and an emit
// after Done calls nothing.
func TestStressStopFromOwnListenersAndOutsideAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		for round := range 100 {
			rt := sprag.NewRuntime(nil)
			var calls atomic.Int32
			p := &probe{onStart: func(_ context.Context, p *probe) error {
				_, err := p.Listen("stress:stop", func(ctx context.Context, _ any) error {
					calls.Add(1)
					return p.Stop(ctx)
				})
				return err
			}}
			require.NoError(t, sprag.Bind(p, "svc", rt))
			require.NoError(t, p.Start(context.Background()))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := range 6 {
				wg.Go(func() {
					<-start
					if (g+round)%2 == 0 {
						assert.NoError(t, rt.Bus.Emit(context.Background(), "stress:stop", g), "round %d", round)
						return
					}
					assert.NoError(t, p.Stop(context.Background()), "round %d", round)
				})
			}
			close(start)
			wg.Wait()
			<-p.Done()
			assert.Equal(t, sprag.Stopped, p.State())
			assert.Zero(t, rt.Bus.Len())
			before := calls.Load()
			require.NoError(t, rt.Bus.Emit(context.Background(), "stress:stop", nil))
			assert.Equal(t, before, calls.Load(), "round %d: a listener ran after Done", round)
		}
	})
}

// TestStressNoListenerCallOnceStopHasReturned: "from the moment the scope
// begins to close fn is no longer called, also by an emit already under
// way" (events.go:13-14; lifecycle.go:158-159). Services share a bus, and
// listen to one topic and a pattern that matches it, while emitters emit
// from many goroutines and the services are stopped one by one: no emit
// that began after a service's Stop returned calls that service's
// listeners, and every emit that began before the first Stop called every
// listener once.
func TestStressNoListenerCallOnceStopHasReturned(t *testing.T) {
	t.Parallel()
	const services = 6
	for round := range 6 {
		rt := sprag.NewRuntime(nil)
		var stopped [services]atomic.Bool
		var calls, late atomic.Int64
		svcs := make([]*probe, services)
		for i := range services {
			svcs[i] = &probe{onStart: func(_ context.Context, p *probe) error {
				for _, topic := range []string{"stress:order:done", "stress:order:*"} {
					if _, err := p.Listen(topic, func(_ context.Context, payload any) error {
						calls.Add(1)
						if snap, ok := payload.(*[services]bool); ok && snap[i] {
							late.Add(1)
						}
						return nil
					}); err != nil {
						return err
					}
				}
				return nil
			}}
			require.NoError(t, sprag.Bind(svcs[i], fmt.Sprint("svc", i), rt))
			require.NoError(t, svcs[i].Start(context.Background()))
		}
		// Before any stop: each emit calls the two listeners of every service.
		before := calls.Load()
		require.NoError(t, rt.Bus.Emit(context.Background(), "stress:order:done", nil))
		require.Equal(t, int64(2*services), calls.Load()-before)

		done := make(chan struct{})
		var emitters sync.WaitGroup
		for range 3 {
			emitters.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					snap := new([services]bool)
					for i := range services {
						snap[i] = stopped[i].Load()
					}
					if err := rt.Bus.Emit(context.Background(), "stress:order:done", snap); err != nil {
						t.Error(err)
					}
				}
			})
		}
		for i := range services {
			require.NoError(t, svcs[(i+round)%services].Stop(context.Background()))
			stopped[(i+round)%services].Store(true)
		}
		close(done)
		emitters.Wait()
		assert.Zero(t, late.Load(), "round %d: listeners called by emits that began after their service's Stop returned", round)
		assert.Zero(t, rt.Bus.Len())
	}
}
