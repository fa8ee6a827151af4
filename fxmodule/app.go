package fxmodule

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// EnvAddr is the environment variable [App] reads the HTTP server's
// address from; [DefaultAddr] when it is unset or empty.
const EnvAddr = "SPRAG_ADDR"

// DefaultAddr is the address App's HTTP server listens on without
// SPRAG_ADDR: this machine only. Listening on every interface is a choice
// to make explicitly, with SPRAG_ADDR=":8080".
const DefaultAddr = "localhost:8080"

// Application is the fx app of a sprag program, as [App] builds it: an
// *fx.App whose Err, Start and Run say what went wrong in fxmodule's
// terms, and whose Start and Stop keep the services' guarantees where
// fx's alone would not. Its other methods are fx.App's.
type Application struct {
	*fx.App
	link *appLink

	mu      sync.Mutex
	state   appState
	cancel  context.CancelFunc // ends the Start under way; guarded by mu
	settled chan struct{}      // closed when the Start or Stop under way returns; guarded by mu
}

// appState is where an Application is between Start and Stop.
type appState int

const (
	appIdle     appState = iota // not started, or stopped
	appStarting                 // a Start is under way
	appRunning                  // started, and no Stop followed
	appStopping                 // a Stop is under way
)

// appLink is how App reaches the parts of Module it needs after fx.New.
type appLink struct {
	watch *deadlineWatch
}

// App returns the fx app of a sprag program: [Module], fx's own events
// logged through zap ([LogFxEvents]), the HTTP server's address from
// SPRAG_ADDR ([EnvAddr], default [DefaultAddr]; a ServerOptions address
// of the app's own wins), and opts, such as [Providers], [Service],
// [Controllers], fx.Supply(logger) or fx.StopTimeout. Call Run on it to
// start, wait for SIGINT or SIGTERM, and stop every service in reverse
// order.
//
//	fxmodule.App(
//		fxmodule.Providers(map[string]any{
//			"metrics": NewMetricsService,
//			"email":   NewEmailService,
//		}),
//		fxmodule.Controllers(NewDashboardController),
//	).Run()
//
// Before fx builds the app, App checks the services among opts (given
// directly or inside fx.Options; not inside an fx.Module) for two that
// share a name and for services that take each other in a cycle: fx
// would report those in its own terms, and App reports them as
// *[WiringError]s.
func App(opts ...fx.Option) *Application {
	link := &appLink{}
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		addr = DefaultAddr
	}
	all := []fx.Option{Module, LogFxEvents, fx.Supply(link, &serverDefaults{addr: addr})}
	all = append(all, precheck(opts)...)
	a := &Application{App: fx.New(all...), link: link}
	if link.watch != nil {
		link.watch.setStopTimeout(a.StopTimeout())
	}
	return a
}

// Err returns the error of fx.New: for wiring mistakes, the
// *[WiringError]s alone, without fx's and dig's layers around them.
func (a *Application) Err() error { return reduceError(a.App.Err()) }

// Start starts the app as fx.App's Start does, and returns its error as
// Err does. When ctx ends before every service has started, the error
// names the service that was starting then, and Start returns once the
// services that had started are stopped again (which the stop timeout
// bounds). So it does too when ctx ends later, in a hook that the app's
// own invokes appended after the services' hooks.
//
// A Start while the app runs, while another Start is under way or while
// a Stop is, is refused with an error and changes nothing: fx's own Start
// would roll the running app back, stopping every service. A Stop while
// Start runs ends Start's context: Start fails as when ctx ends.
func (a *Application) Start(ctx context.Context) error {
	if ctx == nil {
		return errors.New("start the app: the context is nil")
	}
	a.mu.Lock()
	switch a.state {
	case appStarting, appRunning:
		a.mu.Unlock()
		return errors.New("start the app: it has started already: stop it first")
	case appStopping:
		a.mu.Unlock()
		return errors.New("start the app: it is stopping: wait for its Stop to return")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	settled := make(chan struct{})
	a.state, a.cancel, a.settled = appStarting, cancel, settled
	a.mu.Unlock()

	err := a.App.Start(ctx)
	if err != nil && ctx.Err() != nil && a.link.watch != nil {
		a.link.watch.waitRollback()
		a.link.watch.stopAfterReady(ctx)
		err = a.link.watch.startError(err)
	}
	a.mu.Lock()
	a.state, a.cancel, a.settled = appRunning, nil, nil
	if err != nil {
		a.state = appIdle // fx rolled it back
	}
	a.mu.Unlock()
	close(settled)
	return reduceError(err)
}

// Stop stops the app as fx.App's Stop does, within ctx. When ctx ends
// before every hook has run (fx runs none past that point), fxmodule
// stops the services fx did not reach, with ctx, also when the hook that
// outlasted ctx is one of the app's own, which stop before any service's.
//
// A Stop while Start runs ends Start's context and waits for Start to
// return, having stopped again what had started, and for the service that
// was starting then to have started and stopped again; if the start
// completed all the same, Stop then stops the app. So does Stop after a
// Start that failed as its context ended. A Stop while another Stop runs
// waits for it and returns nil. Either wait ends with ctx, and Stop then
// returns an error wrapping ctx's. A start hook, which Stop would wait
// for, must not call Stop: it can ask for a shutdown with fx.Shutdowner.
func (a *Application) Stop(ctx context.Context) error {
	if ctx == nil {
		return errors.New("stop the app: the context is nil")
	}
	for {
		a.mu.Lock()
		state, settled := a.state, a.settled
		switch state {
		case appStarting, appStopping:
			if state == appStarting {
				a.cancel()
			}
			a.mu.Unlock()
			select {
			case <-settled:
			case <-ctx.Done():
				if state == appStarting {
					return fmt.Errorf("stop the app: waiting for its start to end: %w", context.Cause(ctx))
				}
				return fmt.Errorf("stop the app: waiting for the stop under way: %w", context.Cause(ctx))
			}
			if state == appStopping {
				return nil
			}
			continue // the start ended: stopped again, or started
		}
		// Running, or idle (a start that failed may have left a service
		// starting): this Stop is the one under way.
		settled = make(chan struct{})
		a.state, a.settled = appStopping, settled
		a.mu.Unlock()
		var err error
		if w := a.link.watch; w != nil {
			w.watchStop(ctx)
			err = a.App.Stop(ctx)
			// A service that was starting when a start ended is stopped by
			// its own hook once its Start returns.
			if hookErr := w.waitHooks(ctx); hookErr != nil {
				err = errors.Join(err, fmt.Errorf("stop the app: %w", hookErr))
			}
		} else {
			err = a.App.Stop(ctx)
		}
		a.mu.Lock()
		a.state, a.settled = appIdle, nil
		a.mu.Unlock()
		close(settled)
		return err
	}
}

// Run starts the app within fx.StartTimeout, waits for SIGINT, SIGTERM or
// an fx.Shutdowner's shutdown, and stops it within fx.StopTimeout, as
// fx.App's Run does. On a failed start or stop it exits the process with
// status 1, the failure having been logged once ([LogFxEvents]); after a
// shutdown with an exit code, it exits with that code.
func (a *Application) Run() {
	if code := a.run(); code != 0 {
		os.Exit(code)
	}
}

// run is Run without the exit: it returns the exit code.
func (a *Application) run() int {
	startCtx, cancel := context.WithTimeout(context.Background(), a.StartTimeout())
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		return 1
	}
	sig := <-a.Wait()
	stopCtx, cancel := context.WithTimeout(context.Background(), a.StopTimeout())
	defer cancel()
	if err := a.Stop(stopCtx); err != nil {
		return 1
	}
	return sig.ExitCode
}

// ShutdownOnTaskGiveUp makes the app shut down with exitCode when a task
// exhausts its sprag.RestartPolicy, for programs that would rather crash
// and be restarted by their orchestrator than run degraded. Without it a
// task that gives up leaves its service unhealthy and the app running.
// exitCode must not be 0.
func ShutdownOnTaskGiveUp(exitCode int) fx.Option {
	if exitCode == 0 {
		return fx.Error(errors.New("fxmodule.ShutdownOnTaskGiveUp: the exit code must not be 0"))
	}
	return fx.Invoke(func(bus *eventbus.Bus, sd fx.Shutdowner, l *logger) error {
		_, err := sprag.TaskGaveUp.Listen(bus, func(_ context.Context, f sprag.TaskFailure) error {
			l.Error("a task gave up: shutting the app down",
				zap.String("service", f.Service), zap.String("label", f.Label), zap.Int("exit_code", exitCode), zap.Error(f.Err))
			return sd.Shutdown(fx.ExitCode(exitCode))
		}, eventbus.WithName("fxmodule.ShutdownOnTaskGiveUp"))
		if err != nil {
			return fmt.Errorf("fxmodule.ShutdownOnTaskGiveUp: %w", err)
		}
		return nil
	})
}
