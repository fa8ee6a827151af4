package sprag_test

// Tests of bugs once found with extreme and odd inputs. Each test says
// what the documentation (or the project's rules: bad input is an error
// wrapping ErrInvalidArgument, never a panic; nothing hangs; Stop honours
// its context) promises, and what happened.

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
	"github.com/sprag-go/sprag/spragtest"
)

// noPanic calls fn and returns the value of a panic, or nil.
func noPanic(fn func()) (recovered any) {
	defer func() { recovered = recover() }()
	fn()
	return nil
}

// TestEdgeRestartBackoffOverflowRestartsAtOnce: RestartPolicy promises
// that "each further restart in the window waits twice as long as the
// previous one", capped by MaxBackoff. RestartPolicy.backoff doubles with
// d *= 2 and no overflow check: with Backoff just above 2^62 and a
// MaxBackoff of math.MaxInt64 the second wait overflows to a negative
// duration and the task restarts at once, in a tight loop, instead of
// waiting at least as long as the first time.
//
// Fix: stop doubling when d > ceiling/2 (as watch.Backoff.delay does).
func TestEdgeRestartBackoffOverflowRestartsAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var attempts atomic.Int32
		second := make(chan struct{})
		var task *sprag.Task
		p := started(t, func(p *probe) {
			task = must(p.Spawn(func(context.Context) error {
				if attempts.Add(1) == 2 {
					close(second)
				}
				return errors.New("fails")
			}, sprag.Restart(sprag.RestartPolicy{
				MaxRestarts: 10,
				Window:      math.MaxInt64, // every restart counts
				Backoff:     1<<62 + 1,     // about 146 years
				MaxBackoff:  math.MaxInt64,
			})))
		})
		<-second // the first restart, after its 146-year backoff
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, int32(2), attempts.Load(),
			"the second restart must wait at least as long as the first (146 years), not run at once")
		spragtest.Stop(t, p, time.Second)
		<-task.Done()
	})
}

// lastStartPlusMinute runs a minute after each run began: a schedule
// written from Run. Before the first run Run.Start is the zero time, so
// its first time is 0001-01-01 00:01, a time in the past: "run now".
type lastStartPlusMinute struct{}

func (lastStartPlusMinute) Next(_ time.Time, last sprag.Run) time.Time {
	return last.Start.Add(time.Minute)
}

// TestEdgeScheduleFarInThePastStallsEveryTimerOfTheScope: Schedule
// promises to call fn at the times the schedule gives (a past time means
// at once), and the scope's other timers keep their schedules. A time
// more than ~292 years before the scope's epoch makes Scope.since
// saturate to math.MinInt64; armLocked then computes FirstDue -
// since(now), which overflows to a huge positive delay. The scope's one
// time.Timer is set ~292 years ahead: the schedule never runs, and every
// other timer of the scope (here a 1s interval) stops too.
//
// Fix: compute the wheel's delay with saturation (d := max(due-now, 0)
// done without overflow, e.g. compare before subtracting), or clamp due
// times to a sane range when they are pushed.
func TestEdgeScheduleFarInThePastStallsEveryTimerOfTheScope(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var ticks, runs atomic.Int32
		p := started(t, func(p *probe) {
			must(p.Interval(time.Second, func(context.Context) error {
				ticks.Add(1)
				return nil
			}))
		})
		time.Sleep(1500 * time.Millisecond) // off the interval's ticks
		must(p.Schedule(lastStartPlusMinute{}, func(context.Context) error {
			runs.Add(1)
			return nil
		}))
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		assert.GreaterOrEqual(t, runs.Load(), int32(10), "at once, then every minute")
		assert.GreaterOrEqual(t, ticks.Load(), int32(600), "the scope's other interval keeps ticking")
		spragtest.Stop(t, p, time.Second)
	})
}

// panickingSchedule panics in Next once last.N reaches at.
type panickingSchedule struct{ at int }

func (s panickingSchedule) Next(now time.Time, last sprag.Run) time.Time {
	if last.N >= s.at {
		panic("schedule bug")
	}
	return now.Add(time.Millisecond)
}

// TestEdgeSchedulePanickingNextPanicsAtTheCaller: the package doc says
// "Nothing here panics at the caller" and Safely's doc says "Every call of
// user code in sprag goes through it". Scope.schedule calls the user's
// Schedule.Next for the first time without Safely: its panic reaches the
// caller of Scope.Schedule.
//
// Fix: call Next through Safely and return the *PanicError as an error
// (wrapping ErrInvalidArgument, naming the timer's label).
func TestEdgeSchedulePanickingNextPanicsAtTheCaller(t *testing.T) {
	t.Parallel()
	sc := sprag.NewScope("svc", sprag.NewRuntime(nil))
	defer func() { _ = sc.Close(context.Background()) }()
	var err error
	recovered := noPanic(func() {
		_, err = sc.Schedule(panickingSchedule{at: 0}, func(context.Context) error { return nil })
	})
	require.Nil(t, recovered, "Scope.Schedule panicked with the schedule's panic")
	require.Error(t, err)
}

// TestEdgeSchedulePanickingNextInARunCrashesTheProcess: the package
// doc promises that a panic in a timer's work is recovered and "the
// service and the process keep running". Timer.run calls the user's
// Schedule.Next after each run outside Safely, on the run's own
// goroutine: a panicking Next crashes the whole process. The test runs
// the case in a child process (the crash cannot be recovered in-process).
//
// Fix: call Next through Safely in Timer.run; on a panic, log it with the
// timer's label and end the timer (or retry later).
func TestEdgeSchedulePanickingNextInARunCrashesTheProcess(t *testing.T) {
	if os.Getenv("SPRAG_EDGE_CHILD") == "next-panics" {
		synctest.Test(t, func(t *testing.T) {
			sc := sprag.NewScope("svc", sprag.NewRuntime(nil))
			_, err := sc.Schedule(panickingSchedule{at: 1}, func(context.Context) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second) // the first run at 1ms; Next panics after it
			_ = sc.Close(context.Background())
		})
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEdgeSchedulePanickingNextInARunCrashesTheProcess$", "-test.count=1") //nolint:gosec,noctx // the test binary itself
	cmd.Env = append(os.Environ(), "SPRAG_EDGE_CHILD=next-panics")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the process crashed on a panic in Schedule.Next:\n%.2000s", out)
}

// TestEdgeScheduleWithANilScheduleOfAConcreteTypePanics: Scope.Schedule
// refuses a nil schedule with ErrInvalidArgument, but not a typed nil
// one, such as the *cron.Schedule that cron.Parse returns with its error:
// it calls its Next and panics at the caller (nil pointer dereference).
// Nil pointers are refused elsewhere (ScopeOf, Bind, queue.BackedBy).
//
// Fix: refuse a nil pointer (reflect) as "nil schedule", like ScopeOf.
func TestEdgeScheduleWithANilScheduleOfAConcreteTypePanics(t *testing.T) {
	t.Parallel()
	sc := sprag.NewScope("svc", sprag.NewRuntime(nil))
	defer func() { _ = sc.Close(context.Background()) }()
	sched, parseErr := cron.Parse("not a spec")
	require.Error(t, parseErr) // ignored by a careless caller: sched is nil
	var err error
	recovered := noPanic(func() {
		_, err = sc.Schedule(sched, func(context.Context) error { return nil })
	})
	require.Nil(t, recovered, "Scope.Schedule panicked on a nil *cron.Schedule")
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
}

// TestEdgeTypedTopicFunctionsPanicOnNil: ListenTopic and EmitTopic
// are managed methods; "Nothing here panics at the caller" and bad
// arguments are ErrInvalidArgument. A nil *eventbus.Topic panics in
// ListenTopic (topic.Name() and the nil check order) and in EmitTopic, and
// a nil Owner panics in ListenTopic and EmitTopic (o.Scope()), unlike the
// primitives, which use ScopeOf.
//
// Fix: check the topic (and the owner, with ScopeOf) first and return an
// error wrapping ErrInvalidArgument.
func TestEdgeTypedTopicFunctionsPanicOnNil(t *testing.T) {
	t.Parallel()
	sc := sprag.NewScope("svc", sprag.NewRuntime(nil))
	defer func() { _ = sc.Close(context.Background()) }()
	listen := func(context.Context, int) error { return nil }
	topic := eventbus.NewTopic[int]("edge:nil")

	cases := map[string]func() error{
		"ListenTopic with a nil topic": func() error {
			_, err := sprag.ListenTopic[int](sc, nil, listen)
			return err
		},
		"EmitTopic with a nil topic": func() error {
			return sprag.EmitTopic[int](context.Background(), sc, nil, 1)
		},
		"ListenTopic with a nil owner": func() error {
			_, err := sprag.ListenTopic(nil, topic, listen)
			return err
		},
		"EmitTopic with a nil owner": func() error {
			return sprag.EmitTopic(context.Background(), nil, topic, 1)
		},
	}
	for name, call := range cases {
		var err error
		recovered := noPanic(func() { err = call() })
		if assert.Nil(t, recovered, "%s panicked", name) {
			assert.ErrorIs(t, err, sprag.ErrInvalidArgument, name)
		}
	}
}

// TestEdgeWaitForMissesAReplace: WaitFor "waits until a service is
// registered under name and has finished starting, then returns it". It
// resolves the name once and then waits on that service's start only:
// when the entry is Replaced by a service that is running, WaitFor keeps
// waiting for the old one, which never starts, until ctx ends.
//
// Fix: wait on both the old service's start and a change of the entry
// (a per-name channel closed by putLocked/deleteLocked), and resolve
// again when the entry changes.
func TestEdgeWaitForMissesAReplace(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := sprag.NewRegistry()
		idle := bound(t, "idle", &plain{}) // bound, never started
		running := bound(t, "running", &plain{})
		require.NoError(t, running.Start(context.Background()))
		require.NoError(t, r.Provide("db", idle))

		type result struct {
			svc sprag.Interface
			err error
		}
		got := make(chan result, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			svc, err := r.WaitFor(ctx, "db")
			got <- result{svc, err}
		}()
		synctest.Wait() // WaitFor waits for idle to start
		_, err := r.Replace("db", running)
		require.NoError(t, err)

		res := <-got
		require.NoError(t, res.err, "a running service is registered under the name")
		assert.Same(t, running, res.svc)
		require.NoError(t, running.Stop(context.Background()))
		require.NoError(t, idle.Stop(context.Background()))
	})
}

// TestEdgeWaitForReturnsNotFoundAfterAProvideAndUnregister: WaitFor
// documents its errors: the service failed to start or was stopped, or
// ctx ended. When the name is provided and unregistered before the
// waiting goroutine wakes, WaitFor returns ErrNotFound ("resolve service
// ...") at once, which is none of those: it should go on waiting for the
// name, here until ctx ends.
//
// Fix: when Resolve fails after the wake-up, wait again (loop) instead of
// returning its error.
func TestEdgeWaitForReturnsNotFoundAfterAProvideAndUnregister(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := sprag.NewRegistry()
		svc := bound(t, "svc", &plain{})
		require.NoError(t, svc.Start(context.Background()))

		errs := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			_, err := r.WaitFor(ctx, "svc")
			errs <- err
		}()
		synctest.Wait()
		require.NoError(t, r.Provide("svc", svc))
		_, err := r.Unregister("svc")
		require.NoError(t, err)

		err = <-errs
		require.NotErrorIs(t, err, sprag.ErrNotFound, "WaitFor does not document ErrNotFound")
		require.ErrorIs(t, err, context.DeadlineExceeded, "it waits for the name until ctx ends")
		require.NoError(t, svc.Stop(context.Background()))
	})
}

// TestEdgeChildTaskThatStopsItsParentWaitsForTheDeadline: Stop "is
// safe from any goroutine, also from the service's own work", and
// nothing may hang. A task of an adopted child that calls its parent's
// Stop deadlocks: the parent's teardown stops the child, the child's
// teardown waits for that task, and the task waits in the parent's Stop.
// With a deadline both give up at the deadline with a StuckError; with
// context.Background() the parent never stops at all (the parent's Done
// never closes).
//
// Fix: treat the runs of a scope's descendants as the scope's own work in
// ownWork (walk the children), or have Stop from a descendant's work not
// wait for the chain goroutine, as Stop from own work does.
func TestEdgeChildTaskThatStopsItsParentWaitsForTheDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		parent := bound(t, "parent", &plain{})
		require.NoError(t, parent.Start(context.Background()))
		type result struct {
			err   error
			after time.Duration
		}
		stopped := make(chan result, 1)
		child := &probe{onStart: func(_ context.Context, c *probe) error {
			_, err := c.SpawnAfter(time.Second, func(context.Context) error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				start := time.Now()
				err := parent.Stop(ctx) //nolint:contextcheck // the task stops its parent with a bound of its own
				stopped <- result{err, time.Since(start)}
				return nil
			})
			return err
		}}
		require.NoError(t, parent.Scope().Adopt(context.Background(), "child", child))

		res := <-stopped
		assert.NoError(t, res.err, "Stop from the work of the service's child")
		assert.Less(t, res.after, time.Minute, "it must not wait for the deadline")
		<-parent.Done()
		assert.Equal(t, sprag.Stopped, parent.State())
	})
}

// boomJSON is a value whose JSON encoding panics.
type boomJSON struct{}

func (boomJSON) MarshalJSON() ([]byte, error) { panic("boom") }

// TestEdgeStatusPanicsOnAReportValueThatPanicsWhenEncoded: Report
// promises "A panic in fn is reported as its error", and nothing panics at
// the caller. Scope.health calls fn through Safely, but then calls
// reportable(detail) (json.Marshal of the value) outside it: a value
// whose MarshalJSON panics makes Service.Status, and so Registry.Health,
// panic at the caller (a health endpoint).
//
// Fix: call reportable inside the Safely of fn (and in state.Stats).
func TestEdgeStatusPanicsOnAReportValueThatPanicsWhenEncoded(t *testing.T) {
	t.Parallel()
	p := spragtest.Started(t, "svc", func(p *spragtest.Probe) {
		must(p.Scope().Report("odd", func() (any, error) { return boomJSON{}, nil }))
	})
	var st sprag.Status
	recovered := noPanic(func() { st = p.Status(context.Background()) })
	require.Nil(t, recovered, "Status panicked")
	assert.Error(t, st.Err, "the report's panic is reported as its error")
}

// TestEdgeOwnAcceptsANilPointer: Own refuses a nil resource with
// ErrInvalidArgument, but a nil pointer of a supported type (a nil
// *os.File, a nil *http.Server) is accepted: the mistake only shows at
// Stop, as a failing cleanup (os.ErrInvalid) or a panic in the cleanup
// (Shutdown of a nil *http.Server). ScopeOf, Bind and queue.BackedBy
// refuse nil pointers at once.
//
// Fix: in Own, refuse a nil pointer (reflect) as "nil resource".
func TestEdgeOwnAcceptsANilPointer(t *testing.T) {
	t.Parallel()
	sc := sprag.NewScope("svc", sprag.NewRuntime(nil))
	var f *os.File
	err := sc.Own(f)
	closeErr := sc.Close(context.Background())
	require.ErrorIs(t, err, sprag.ErrInvalidArgument, "a nil *os.File is refused at once")
	assert.NoError(t, closeErr, "so that Stop has nothing to fail with")
}
