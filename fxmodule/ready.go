package fxmodule

import (
	"context"
	"errors"
	"fmt"
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
// Ready has a hook of its own, which [Module] appends once fx has
// constructed every service: it comes after the hooks of all services, so
// it starts last and stops first. Its OnStart announces the start
// ([AppStarted], then Done); its OnStop announces the stop ([AppStopping]).
type Ready struct {
	once sync.Once
	done chan struct{}

	log      *logger
	bus      *eventbus.Bus
	registry *sprag.Registry
}

func newReady(l *logger, bus *eventbus.Bus, registry *sprag.Registry) *Ready {
	return &Ready{done: make(chan struct{}), log: l, bus: bus, registry: registry}
}

// Done returns a channel that is closed once every service has started:
// by Ready's own start hook, which comes after the hooks of every
// [Service] and of what they take. Hooks that the app's own invokes
// append run after Done is closed. Done is never closed when a service
// fails to start.
func (r *Ready) Done() <-chan struct{} { return r.done }

// Wait waits until the app has started or ctx ends. Once the app has
// started it returns nil, even with a ctx that has ended.
func (r *Ready) Wait(ctx context.Context) error {
	if ctx == nil {
		return errors.New("wait for the app to start: the context is nil")
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		select {
		case <-r.done: // started already: that wins over an ended ctx
			return nil
		default:
		}
		return fmt.Errorf("wait for the app to start: %w", context.Cause(ctx))
	}
}

// appendReadyHook appends Ready's hook, after every service's. Before it
// announces the start, it fails the start when a service value that no
// fxmodule.Service provided reached a constructor and nothing started it
// (see [WiringError]), and it starts the services that were constructed
// after it was appended (the HTTP server taken by an invoke of the app's
// own, say); it stops those after AppStopping, the last first.
func appendReadyHook(lc fx.Lifecycle, r *Ready, w *deadlineWatch, wr *wiring) {
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if err := wr.checkUnmanaged(); err != nil {
				return err
			}
			late := wr.lateHooks()
			for i, h := range late {
				if err := h.OnStart(ctx); err != nil {
					_ = stopHooks(ctx, late[:i]) // fx runs no OnStop of a hook whose OnStart failed
					return err
				}
			}
			w.markReady()
			emit(ctx, r.log, r.bus, AppStarted, AppEvent{Services: r.registry.Names()})
			r.once.Do(func() { close(r.done) })
			return nil
		},
		OnStop: func(ctx context.Context) error {
			w.watchStop(ctx)
			emit(ctx, r.log, r.bus, AppStopping, AppEvent{Services: r.registry.Names()})
			return stopHooks(ctx, wr.lateHooks())
		},
	})
	wr.hookReady()
}

// stopHooks runs the OnStop of hooks, the last first, and returns their
// errors joined.
func stopHooks(ctx context.Context, hooks []fx.Hook) error {
	var errs []error
	for i := len(hooks) - 1; i >= 0; i-- {
		errs = append(errs, hooks[i].OnStop(ctx))
	}
	return errors.Join(errs...)
}

// emit emits on bus and logs a failure; the callers are hooks whose own
// work must not fail because a listener did.
func emit[T any](ctx context.Context, l *logger, bus *eventbus.Bus, topic *eventbus.Topic[T], payload T) {
	if err := topic.Emit(ctx, bus, payload); err != nil {
		l.Warn("listener of an app event failed", zap.String("topic", topic.Name()), zap.Error(err))
	}
}
