package fxmodule

import (
	"context"
	"errors"
	"syscall"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// Module provides what services share in an fx app:
//
//   - the app's *eventbus.Bus, whose listener failures are logged through zap;
//   - the *sprag.Registry every [Service] registers in, for lookups by name,
//     iteration and health reports ([sprag.Registry.Health]);
//   - the sprag.Runtime (bus and logger) services are bound to;
//   - the *[Ready] signal of the app's start;
//   - the app's *controllers.Server, named "http", once [Controllers] is
//     used.
//
// It logs with the app's *zap.Logger, if one is provided (fx.Supply(logger)
// or a constructor), and otherwise with a production logger of its own that
// it syncs at stop. It logs its own fx events through zap (errors at error
// level, the rest at debug level); add [LogFxEvents]
// at the top of the app to route all of fx's events there too ([App] does).
var Module = fx.Module("sprag",
	fx.Provide(
		newLogger,
		newBus,
		sprag.NewRegistry,
		newRuntime,
		newReady,
		newWiring,
	),
	serverProvide, // built only when Controllers asks for it
	fx.WithLogger(newFxLogger),
	fx.Invoke(appendReadyHook), // the app's first hook; see Ready
)

// LogFxEvents routes fx's own events (provides, hooks, start, stop) to the
// logger of [Module], at the level of the option's position: put it at the
// top level of fx.New to cover the whole app.
var LogFxEvents = fx.WithLogger(newFxLogger)

// logger is the logger Module uses: the app's, or a default one.
type logger struct{ *zap.Logger }

type loggerParams struct {
	fx.In
	Logger    *zap.Logger `optional:"true"`
	Lifecycle fx.Lifecycle
}

func newLogger(p loggerParams) (*logger, error) {
	if p.Logger != nil {
		return &logger{p.Logger}, nil
	}
	l, err := zap.NewProduction()
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StopHook(func() error {
		// Syncing a terminal or a pipe is refused by some systems; that
		// is not a failure of the app.
		if err := l.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTTY) {
			return err
		}
		return nil
	}))
	return &logger{l}, nil
}

// newFxLogger logs fx's events through zap: its errors at error level, the
// rest (every provide, invoke and hook) at debug level, so that a
// production logger shows only what goes wrong.
func newFxLogger(l *logger) fxevent.Logger {
	fl := &fxevent.ZapLogger{Logger: l.Named("fx")}
	fl.UseLogLevel(zapcore.DebugLevel)
	return fl
}

func newBus(l *logger) *eventbus.Bus {
	return eventbus.New(eventbus.WithErrorHandler(sprag.LogListenerErrors(l.Logger)))
}

func newRuntime(l *logger, bus *eventbus.Bus) sprag.Runtime {
	return sprag.Runtime{Bus: bus, Logger: l.Logger}
}

// emit emits on bus and logs a failure; the callers are hooks whose own
// work must not fail because a listener did.
func emit[T any](ctx context.Context, l *logger, bus *eventbus.Bus, topic *eventbus.Topic[T], payload T) {
	if err := topic.Emit(ctx, bus, payload); err != nil {
		l.Warn("listener of an app event failed", zap.String("topic", topic.Name()), zap.Error(err))
	}
}
