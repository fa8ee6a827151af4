package fxmodule

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// AppEvent is the payload of [AppStarted] and [AppStopping]: the names of
// the app's services, in registration order.
type AppEvent struct {
	Services []string
}

var (
	// AppStarted is emitted on the app's bus once every service's OnStart
	// has finished, right before [Ready.Done] is closed.
	AppStarted = eventbus.NewTopic[AppEvent]("sprag:app:started")

	// AppStopping is emitted on the app's bus when the app begins to stop,
	// before the first service's OnStop.
	AppStopping = eventbus.NewTopic[AppEvent]("sprag:app:stopping")
)

// Ready tells when the app has started: every service provided with
// [Service] has run its OnStart. [Module] provides it; inject it where you
// need to wait for the app, in a test or a readiness probe.
//
// It works with fx's lifecycle as it is: the hooks of Module and of each
// service are numbered as they are appended, and only the one appended
// last, which starts after every other and stops before any, announces
// the start and the stop.
//
// Ready also makes up for two gaps of fx's lifecycle. When the app's start
// context ends before every service has started, fx's rollback gets that
// ended context and runs no stop hook (fx issue 1035); when the stop
// context ends while a service is still stopping, fx runs no further stop
// hook. In both cases Ready stops, the last started first, the services
// still running, with the ended context: their timers and tasks are
// cancelled at once and their cleanups run.
type Ready struct {
	mu       sync.Mutex
	markers  int // hooks numbered so far; the last announces start and stop
	done     chan struct{}
	closed   bool
	started  []sprag.Interface // services started by their hooks, in order
	watching bool              // a watch of the start context is set
	unwatch  func() bool
	rolled   bool // the start's rollback ran: a service that starts late stops at once

	stopWatching bool // a watch of the stop context is set

	log      *logger
	bus      *eventbus.Bus
	registry *sprag.Registry
}

func newReady(l *logger, bus *eventbus.Bus, registry *sprag.Registry) *Ready {
	return &Ready{done: make(chan struct{}), log: l, bus: bus, registry: registry}
}

// Done returns a channel that is closed once every service has started:
// right after the start hook of the service appended last, which is after
// the hooks of Module and of every [Service]. Hooks that the app appends
// after them run after Done is closed. Done is never closed when a service
// fails to start.
func (r *Ready) Done() <-chan struct{} { return r.done }

// Wait waits until the app has started or ctx ends.
func (r *Ready) Wait(ctx context.Context) error {
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the app to start: %w", context.Cause(ctx))
	}
}

// nextSeq numbers a hook that may be the app's last.
func (r *Ready) nextSeq() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.markers++
	return r.markers
}

// started is called by hook seq once it has started: the last one
// announces the app's start.
func (r *Ready) afterStart(ctx context.Context, seq int) {
	if r.isLast(seq) {
		emit(ctx, r.log, r.bus, AppStarted, AppEvent{Services: r.registry.Names()})
		r.markReady()
	}
}

// beforeStop is called by hook seq before it stops: the last one, which
// stops first, announces the app's stop.
func (r *Ready) beforeStop(ctx context.Context, seq int) {
	if r.isLast(seq) {
		emit(ctx, r.log, r.bus, AppStopping, AppEvent{Services: r.registry.Names()})
	}
}

func (r *Ready) isLast(seq int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return seq == r.markers
}

func (r *Ready) markReady() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.done)
		if r.unwatch != nil {
			r.unwatch()
		}
	}
}

// serviceHook is the fx hook of svc: it starts and stops svc, keeps track
// of what started for the stops fx cannot make, and announces the app's
// start and stop when it is the app's last hook.
func (r *Ready) serviceHook(svc sprag.Interface) fx.Hook {
	seq := r.nextSeq()
	return fx.Hook{
		OnStart: func(ctx context.Context) error {
			r.watchStart(ctx)
			if err := svc.Start(ctx); err != nil {
				return err
			}
			r.mu.Lock()
			rolled := r.rolled
			if !rolled {
				r.started = append(r.started, svc)
			}
			r.mu.Unlock()
			if rolled { // the start context ended while svc started
				r.stopAll(ctx, []sprag.Interface{svc})
				return fmt.Errorf("start service %q: %w", svc.Name(), context.Cause(ctx))
			}
			r.afterStart(ctx, seq)
			return nil
		},
		OnStop: func(ctx context.Context) error {
			r.watchStop(ctx)
			r.beforeStop(ctx, seq)
			return svc.Stop(ctx)
		},
	}
}

// watchStart sets, once, a rollback for when the start context ends before
// the app is ready: fx's own rollback then gets the ended context and runs
// no stop hook (fx issue 1035).
func (r *Ready) watchStart(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watching || r.closed {
		return
	}
	r.watching = true
	r.unwatch = context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.rolled = !r.closed
		rolled := r.rolled
		r.mu.Unlock()
		if rolled {
			r.stopRunning(ctx, "the app's start ended before every service started: stopping those that did")
		}
	})
}

// watchStop sets, once, a stop of the services still running when the stop
// context ends: fx runs no further stop hook past that deadline, so the
// services that the stuck one depends on would otherwise keep running.
func (r *Ready) watchStop(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopWatching {
		return
	}
	r.stopWatching = true
	context.AfterFunc(ctx, func() {
		r.stopRunning(ctx, "the app's stop ran out of time: stopping the services it did not reach")
	})
}

// stopRunning stops, the last started first, the services that are still
// running, with ctx, which has ended: their timers and tasks are cancelled
// at once and their cleanups run, as the stops fx skipped would have done.
func (r *Ready) stopRunning(ctx context.Context, why string) {
	r.mu.Lock()
	running := slices.DeleteFunc(slices.Clone(r.started), func(svc sprag.Interface) bool { return svc.State() != sprag.Running })
	r.mu.Unlock()
	if len(running) == 0 {
		return
	}
	names := make([]string, len(running))
	for i, svc := range running {
		names[i] = svc.Name()
	}
	r.log.Warn(why, zap.Strings("services", names))
	r.stopAll(ctx, running)
}

// stopAll stops services with the ended context ctx, the last first, each
// to the end of its teardown before the next.
func (r *Ready) stopAll(ctx context.Context, services []sprag.Interface) {
	for i := len(services) - 1; i >= 0; i-- {
		if err := services[i].Stop(ctx); err != nil {
			r.log.Warn("stop after a deadline", zap.String("service", services[i].Name()), zap.Error(err))
		}
		<-services[i].Done()
	}
}

// appendReadyHook gives the app a first hook of Ready's own, which
// announces the start and the stop of an app without services.
func appendReadyHook(lc fx.Lifecycle, r *Ready) {
	seq := r.nextSeq()
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			r.afterStart(ctx, seq)
			return nil
		},
		OnStop: func(ctx context.Context) error {
			r.beforeStop(ctx, seq)
			return nil
		},
	})
}
