package fxmodule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag"
)

// deadlineWatch stops the services that fx leaves running when the app's
// start or stop context ends first. fx's rollback after a start whose
// context ended gets that ended context, and fx's lifecycle runs no stop
// hook once its context has ended (fx issue 1035); a stop whose context
// ends runs no further stop hook either. Without the watch, the timers and
// tasks of the services fx skipped would outlive the app.
//
// Every service's hook reports to it; [Module] gives the app a first hook
// that arms the watch of the start context and disarms both watches when
// the app has stopped, and the watch of the stop context is armed by the
// app's last hook, which stops first ([Ready]'s).
type deadlineWatch struct {
	log *logger

	mu           sync.Mutex
	stopTimeout  time.Duration     // bounds the stops of the start's rollback
	ownTimeout   bool              // stopTimeout is the shortest of StopTimeout's
	started      []sprag.Interface // services started by their hooks, in order
	starting     sprag.Interface   // the service whose Start runs now; fx starts one hook at a time
	hung         string            // the service that was starting when the start context ended
	failed       error             // the first error a service's Start returned
	ready        bool              // every hook of the app's services has started
	rolledBack   bool              // the start context ended first; the rollback ran or runs
	rollbackDone chan struct{}     // closed when the rollback has finished; set with unwatchStart
	unwatchStart func() bool       // disarms the watch of the start context
	unwatchStop  func() bool       // disarms the watch of the stop context
	reported     bool              // an fxmodule event logger reports the start's failure
	hooks        int               // services' start hooks under way
	hooksIdle    chan struct{}     // closed when hooks drops to 0 while waitHooks waits
}

// errEarlierStartEnded is why a service does not start in a start that
// follows one whose context ended before the app was ready.
var errEarlierStartEnded = errors.New("the app's earlier start ended before the app was ready: build the app anew")

// stopTimeout is a value of the group that [StopTimeout] adds to, for
// apps built with fx.New, whose stop timeout fxmodule cannot read.
type stopTimeout time.Duration

type deadlineWatchParams struct {
	fx.In
	Logger   *logger
	Timeouts []stopTimeout `group:"sprag.stop.timeout"`
	Link     *appLink      `optional:"true"`
}

func newDeadlineWatch(p deadlineWatchParams) *deadlineWatch {
	w := &deadlineWatch{log: p.Logger, stopTimeout: fx.DefaultTimeout}
	for i, t := range p.Timeouts { // the shortest, not capped by fx's default
		if i == 0 || time.Duration(t) < w.stopTimeout {
			w.stopTimeout = time.Duration(t)
		}
	}
	w.ownTimeout = len(p.Timeouts) > 0
	if p.Link != nil {
		p.Link.watch = w
	}
	return w
}

// StopTimeout is fx.StopTimeout(d) that fxmodule can also read. Both bound
// the app's stop; fxmodule's stop of the services that had started before
// the app's start timed out (see [Module]) is bounded by d too, and by fx's
// default of 15 seconds when an app built with fx.New sets only
// fx.StopTimeout. [App] reads fx.StopTimeout itself. Given several times,
// the shortest d counts for that rollback, with App too (fx's own stop
// keeps the last).
func StopTimeout(d time.Duration) fx.Option {
	return fx.Options(fx.StopTimeout(d), fx.Provide(func() stopTimeoutOut { return stopTimeoutOut{Timeout: stopTimeout(d)} }))
}

type stopTimeoutOut struct {
	fx.Out
	Timeout stopTimeout `group:"sprag.stop.timeout"`
}

// setStopTimeout sets the bound of the rollback's stops to d, the app's
// stop timeout, or keeps the shortest of StopTimeout's when it is shorter.
func (w *deadlineWatch) setStopTimeout(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ownTimeout {
		d = min(d, w.stopTimeout)
	}
	w.stopTimeout = d
}

// setReported records that an fxmodule event logger reports a failed
// start, naming the service that hung, so that the watch need not.
func (w *deadlineWatch) setReported() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reported = true
}

// hook is the fx hook of svc: it starts and stops svc and reports both to
// the watch.
func (w *deadlineWatch) hook(svc sprag.Interface) fx.Hook {
	return fx.Hook{
		OnStart: func(ctx context.Context) error {
			w.hookBegan()
			defer w.hookEnded()
			w.watchStart(ctx)
			if !w.begin(svc) {
				why := context.Cause(ctx)
				if why == nil { // this start's context is alive: an earlier one ended
					why = errEarlierStartEnded
				}
				return fmt.Errorf("start service %q: %w", svc.Name(), why)
			}
			err := svc.Start(ctx)
			hung := err != nil && ctx.Err() != nil // it was starting when the start ended: that is why it failed
			if late := w.end(svc, err == nil, hung); late && err == nil {
				// The rollback ran while svc started: stop it as the
				// rollback stopped the others.
				stopCtx, cancel := w.stopContext(ctx)
				defer cancel()
				w.stopAll(stopCtx, []sprag.Interface{svc})
				return fmt.Errorf("start service %q: %w", svc.Name(), context.Cause(ctx))
			}
			if err != nil && !hung {
				w.fail(err)
			}
			return err
		},
		OnStop: func(ctx context.Context) error {
			w.watchStop(ctx)
			return svc.Stop(ctx)
		},
	}
}

// hookBegan and hookEnded count the services' start hooks under way: fx
// returns from a start whose context ended while one of them still runs.
func (w *deadlineWatch) hookBegan() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hooks++
}

func (w *deadlineWatch) hookEnded() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.hooks--; w.hooks == 0 && w.hooksIdle != nil {
		close(w.hooksIdle)
		w.hooksIdle = nil
	}
}

// waitHooks waits until no service's start hook runs, such as the one of
// a service that was starting when the start's context ended, which stops
// the service once its Start returns; or until ctx ends, and then returns
// an error wrapping ctx's.
func (w *deadlineWatch) waitHooks(ctx context.Context) error {
	w.mu.Lock()
	if w.hooks == 0 {
		w.mu.Unlock()
		return nil
	}
	if w.hooksIdle == nil {
		w.hooksIdle = make(chan struct{})
	}
	idle, starting := w.hooksIdle, w.starting
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		if starting != nil {
			return fmt.Errorf("service %q is still starting: %w", starting.Name(), context.Cause(ctx))
		}
		return fmt.Errorf("a service is still starting: %w", context.Cause(ctx))
	}
}

// begin records that svc starts; it returns false when the start's
// rollback has already run, and svc must not start.
func (w *deadlineWatch) begin(svc sprag.Interface) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rolledBack {
		return false
	}
	w.starting = svc
	return true
}

// end records that svc's Start returned, having started it when ok, or
// having failed because the start context ended while it started, when
// hung. It returns true when the start's rollback ran meanwhile.
func (w *deadlineWatch) end(svc sprag.Interface, ok, hung bool) (late bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.starting = nil
	if hung && w.hung == "" {
		w.hung = svc.Name()
	}
	if w.rolledBack {
		return true
	}
	if ok {
		w.started = append(w.started, svc)
	}
	return false
}

// fail records err, the error of a service's Start, when it is the first.
func (w *deadlineWatch) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == nil {
		w.failed = err
	}
}

// watchStart arms, once, the rollback for when ctx, the start context,
// ends before the app is ready.
func (w *deadlineWatch) watchStart(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unwatchStart != nil || w.ready {
		return
	}
	w.rollbackDone = make(chan struct{})
	w.unwatchStart = context.AfterFunc(ctx, func() { w.rollback(ctx) })
}

// markReady disarms the watch of the start: every service has started.
func (w *deadlineWatch) markReady() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ready = true
	w.disarmStartLocked()
}

// disarmStartLocked disarms the watch of the start context. When that
// keeps the rollback from ever running, it closes rollbackDone, so that
// no one waits for a rollback that will not come.
func (w *deadlineWatch) disarmStartLocked() {
	if w.unwatchStart != nil && w.unwatchStart() {
		close(w.rollbackDone)
	}
}

// rollback stops, the last first, the services that had started when the
// start context ended, each with a context of its own bounded by the stop
// timeout, since the start's has ended; it logs which service was starting.
func (w *deadlineWatch) rollback(ctx context.Context) {
	w.mu.Lock()
	done := w.rollbackDone
	defer close(done)
	if w.ready || w.rolledBack {
		w.mu.Unlock()
		return
	}
	w.rolledBack = true
	if w.starting != nil {
		w.hung = w.starting.Name()
	}
	hung, reported, timeout := w.hung, w.reported, w.stopTimeout
	started := slices.Clone(w.started)
	w.mu.Unlock()

	if !reported {
		fields := []zap.Field{zap.Error(context.Cause(ctx))}
		if hung != "" {
			fields = append(fields, zap.String("service", hung))
		}
		w.log.Error("the app's start ended before the app was ready", fields...)
	}
	w.stopStarted(ctx, started, timeout)
}

// stopStarted stops services, which had started when ctx, the start
// context, ended, the last first, each within timeout, the stop timeout;
// it logs which.
func (w *deadlineWatch) stopStarted(ctx context.Context, services []sprag.Interface, timeout time.Duration) {
	if len(services) == 0 {
		return
	}
	w.log.Warn("stopping the services that had started", zap.Strings("services", names(services)), zap.Duration("timeout", timeout))
	stopCtx, cancel := w.stopContext(ctx)
	defer cancel()
	w.stopAll(stopCtx, services)
}

// stopAfterReady stops, the last first, the services still running after
// a start whose context ended once they had all started, in a hook
// appended after theirs: fx's rollback gets that ended context and runs
// no stop hook. Each stop gets a context of its own, bounded by the stop
// timeout. It does nothing when the watch's own rollback ran, or when
// the services never all started.
func (w *deadlineWatch) stopAfterReady(ctx context.Context) {
	w.mu.Lock()
	if !w.ready || w.rolledBack {
		w.mu.Unlock()
		return
	}
	w.rolledBack = true
	running := slices.DeleteFunc(slices.Clone(w.started), func(svc sprag.Interface) bool { return svc.State() != sprag.Running })
	timeout := w.stopTimeout
	w.mu.Unlock()
	w.stopStarted(ctx, running, timeout)
}

// stopContext returns a context for stopping services after ctx, the
// start context, has ended: ctx's values, and the stop timeout.
func (w *deadlineWatch) stopContext(ctx context.Context) (context.Context, context.CancelFunc) {
	w.mu.Lock()
	timeout := w.stopTimeout
	w.mu.Unlock()
	return context.WithTimeout(context.WithoutCancel(ctx), timeout)
}

// startError returns err, the error of a start whose context ended, with
// the name of the service that was starting then, if any. When a service's
// Start had failed before, and the context ended during fx's rollback, fx
// returns the context's error alone: startError puts the failure first.
func (w *deadlineWatch) startError(err error) error {
	w.mu.Lock()
	hung, failed := w.hung, w.failed
	if hung == "" && w.starting != nil {
		hung = w.starting.Name()
	}
	w.mu.Unlock()
	switch {
	case hung != "":
		return fmt.Errorf("start service %q: still starting when the start ended: %w", hung, err)
	case failed != nil && !errors.Is(err, failed):
		return fmt.Errorf("%w; the start ended during the rollback: %w", failed, err)
	}
	return err
}

// waitRollback waits until the rollback of a start whose context ended
// has stopped the services that had started; that takes at most the stop
// timeout. It returns at once when no rollback is due, including when fx's
// own rollback disarmed the watch before the start context ended.
func (w *deadlineWatch) waitRollback() {
	w.mu.Lock()
	done, ready := w.rollbackDone, w.ready
	w.mu.Unlock()
	if done != nil && !ready {
		<-done
	}
}

// watchStop arms, once, a stop of the services still running for when
// ctx, the stop context, ends before the app has stopped: fx runs no stop
// hook past that point, so the services that the stuck one depends on
// would otherwise keep running.
func (w *deadlineWatch) watchStop(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.unwatchStop != nil {
		return
	}
	w.unwatchStop = context.AfterFunc(ctx, func() {
		w.mu.Lock()
		running := slices.DeleteFunc(slices.Clone(w.started), func(svc sprag.Interface) bool { return svc.State() != sprag.Running })
		w.mu.Unlock()
		if len(running) == 0 {
			return
		}
		w.log.Warn("the app's stop ran out of time: stopping the services it did not reach", zap.Strings("services", names(running)))
		w.stopAll(ctx, running)
	})
}

// unwatch disarms both watches: the app has stopped, or its start failed
// and fx rolled it back; nothing of the watch runs after it returns.
func (w *deadlineWatch) unwatch() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.disarmStartLocked()
	if w.unwatchStop != nil {
		w.unwatchStop()
	}
}

// stopAll stops services with ctx, the last first, each to the end of its
// teardown or until ctx ends before the next.
func (w *deadlineWatch) stopAll(ctx context.Context, services []sprag.Interface) {
	for i := len(services) - 1; i >= 0; i-- {
		svc := services[i]
		if err := svc.Stop(ctx); err != nil {
			w.log.Warn("stop after a deadline", zap.String("service", svc.Name()), zap.Error(err))
		}
		select {
		case <-svc.Done():
		case <-ctx.Done():
		}
	}
}

// appendWatchHook gives the app its first hook, which arms the watch of
// the start and disarms both watches when it stops, last.
func appendWatchHook(lc fx.Lifecycle, w *deadlineWatch) {
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			w.hookBegan()
			defer w.hookEnded()
			w.watchStart(ctx)
			return nil
		},
		OnStop: func(context.Context) error {
			w.unwatch()
			return nil
		},
	})
}

func names(services []sprag.Interface) []string {
	out := make([]string, len(services))
	for i, svc := range services {
		out[i] = svc.Name()
	}
	return out
}
