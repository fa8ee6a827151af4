package spragtest

import (
	"context"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/sprag"
)

// TB is the part of testing.TB that spragtest uses; *testing.T, *testing.B
// and the *testing.T of a synctest bubble have it.
type TB interface {
	zaptest.TestingT
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// An Option configures [Start], [StartAll] and [Started].
type Option interface {
	apply(*config)
	String() string
}

type config struct {
	rt          sprag.Runtime
	haveRuntime bool
	stopTimeout time.Duration
}

type runtimeOption sprag.Runtime

func (o runtimeOption) apply(c *config) { c.rt, c.haveRuntime = sprag.Runtime(o), true }
func (runtimeOption) String() string    { return "WithRuntime(...)" }

// WithRuntime makes Start, StartAll and Started bind their services to rt,
// so that services of one test share a bus. Without it each call makes a
// new [Runtime].
func WithRuntime(rt sprag.Runtime) Option { return runtimeOption(rt) }

type stopTimeoutOption time.Duration

func (o stopTimeoutOption) apply(c *config) { c.stopTimeout = time.Duration(o) }
func (o stopTimeoutOption) String() string {
	return "StopTimeout(" + time.Duration(o).String() + ")"
}

// StopTimeout bounds each start that Start, StartAll and Started make and
// each stop they register. The default is 10s, which inside a synctest
// bubble is virtual time.
func StopTimeout(d time.Duration) Option { return stopTimeoutOption(d) }

// Runtime returns a runtime for one test: a new bus whose listener
// failures are logged, and a logger that writes to t's log.
func Runtime(t TB) sprag.Runtime {
	return sprag.NewRuntime(zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel)))
}

// Start binds svc under name, starts it and registers a cleanup that stops
// it, waits until it is done (Done closed, also when a Stop of the test's
// own returned at its deadline), and reports a stop error, or a service
// not done within the stop timeout, as a test failure. It fails the test at once
// if Bind or Start fails. It returns the runtime the service runs with: a
// new one (see [Runtime]), or the one of [WithRuntime]. To start several
// services that hear each other, use [StartAll] or pass the runtime the
// first Start returned to the next.
func Start(t TB, name string, svc sprag.Interface, opts ...Option) sprag.Runtime {
	t.Helper()
	return StartAll(t, []Named{{Name: name, Service: svc}}, opts...)
}

// Named is a service with the name [StartAll] binds it under.
type Named struct {
	Name    string
	Service sprag.Interface
}

// StartAll starts the services of one test on one shared runtime (a new
// one, or the one of [WithRuntime]): they share a bus, so that one hears
// what another emits. It binds and starts them in order and registers a
// cleanup that stops them in reverse order, reporting stop errors as test
// failures. It fails the test at once if a Bind or Start fails; the
// cleanups then stop, in reverse order, the services it had started. It
// returns the shared runtime.
//
//	rt := spragtest.StartAll(t, []spragtest.Named{
//		{Name: "orders", Service: orders},
//		{Name: "email", Service: email},
//	})
func StartAll(t TB, services []Named, opts ...Option) sprag.Runtime {
	t.Helper()
	c := config{stopTimeout: 10 * time.Second}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if !c.haveRuntime {
		c.rt = Runtime(t)
	}
	for _, n := range services {
		if err := sprag.Bind(n.Service, n.Name, c.rt); err != nil {
			t.Fatalf("spragtest: %v", err)
		}
		t.Cleanup(func() { // cleanups run last-added first: the reverse order
			ctx, cancel := context.WithTimeout(context.Background(), c.stopTimeout)
			defer cancel()
			if err := n.Service.Stop(ctx); err != nil {
				t.Errorf("spragtest: %v", err)
				return // it names what still runs
			}
			// A Stop the test made may have returned at its own deadline:
			// the service still ends before the test does, so that it
			// logs nothing on a test that has ended.
			select {
			case <-n.Service.Done():
			case <-ctx.Done():
				t.Errorf("spragtest: service %q: not done %v after the test ended", n.Name, c.stopTimeout)
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), c.stopTimeout)
		err := n.Service.Start(ctx)
		cancel()
		if err != nil {
			t.Fatalf("spragtest: %v", err)
		}
	}
	return c.rt
}

// Stop stops svc within timeout and fails the test if Stop returns an
// error; use it to test what a stop does before the test ends.
func Stop(t TB, svc sprag.Interface, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := svc.Stop(ctx); err != nil {
		t.Errorf("spragtest: %v", err)
	}
}

// ObservedRuntime is [Runtime] with the logs also captured in memory at
// debug level and above, for tests that assert what a service logged.
func ObservedRuntime(t TB) (sprag.Runtime, *observer.ObservedLogs) {
	core, logs := observer.New(zap.DebugLevel)
	logger := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel)).Core()))
	return sprag.NewRuntime(logger), logs
}
