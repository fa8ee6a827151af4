package sprag

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
)

// Runtime is what a service shares with the others of its app: the event
// bus its Listen and Emit use and the logger its managed work logs to.
// fxmodule builds one per app; without fx, build one with [NewRuntime] and
// hand the same value to every service that should hear the others.
type Runtime struct {
	Bus    *eventbus.Bus
	Logger *zap.Logger
}

// NewRuntime returns a Runtime with a new bus whose listener failures are
// logged to logger through [LogListenerErrors]. A nil logger logs nothing.
func NewRuntime(logger *zap.Logger) Runtime {
	if logger == nil {
		logger = zap.NewNop()
	}
	return Runtime{
		Bus:    eventbus.New(eventbus.WithErrorHandler(LogListenerErrors(logger))),
		Logger: logger,
	}
}

// withDefaults fills in a missing bus or logger.
func (rt Runtime) withDefaults() Runtime {
	if rt.Logger == nil {
		rt.Logger = zap.NewNop()
	}
	if rt.Bus == nil {
		rt.Bus = NewRuntime(rt.Logger).Bus
	}
	return rt
}

// LogListenerErrors returns an eventbus error handler that logs each failed
// listener at error level with its topic, name, error and, for a panic, the
// stack. Failures of listeners registered through [Service.Listen] are
// skipped: the service has already logged them with its own name.
func LogListenerErrors(logger *zap.Logger) eventbus.ErrorHandler {
	return func(_ context.Context, le *eventbus.ListenerError) {
		var ce *CallbackError
		if errors.As(le.Err, &ce) {
			return
		}
		fields := []zap.Field{
			zap.String("kind", KindListener.String()),
			zap.String("topic", le.Topic),
			zap.String("label", le.Listener),
			zap.Error(le.Err),
		}
		var pe *PanicError
		if errors.As(le.Err, &pe) {
			fields = append(fields, zap.ByteString("stack", pe.Stack))
		}
		logger.Error("listener failed", fields...)
	}
}
