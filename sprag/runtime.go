package sprag

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag/internal/telemetry"
)

// Runtime is what a service shares with the others of its app: the event
// bus its Listen and Emit use, the logger its managed work logs to, and
// the telemetry it records. fxmodule builds one per app; without fx, build
// one with [NewRuntime] and hand the same value to every service that
// should hear the others.
type Runtime struct {
	Bus    *eventbus.Bus
	Logger *zap.Logger

	tel *telemetry.T // made by NewRuntime, or by the first service bound without it
}

// A RuntimeOption configures [NewRuntime].
type RuntimeOption interface {
	applyRuntime(*runtimeConfig)
	String() string
}

type runtimeConfig struct {
	mp metric.MeterProvider
	tp trace.TracerProvider
}

type meterProviderOption struct{ mp metric.MeterProvider }

func (o meterProviderOption) applyRuntime(c *runtimeConfig) { c.mp = o.mp }
func (meterProviderOption) String() string                  { return "sprag.WithMeterProvider(...)" }

// WithMeterProvider makes the runtime's services record their metrics to
// mp. Without it they record to OpenTelemetry's global MeterProvider: a
// service looks at it when it starts and, while none is installed, its
// runs pay one atomic load for the possibility. Install the global
// providers before the app starts.
func WithMeterProvider(mp metric.MeterProvider) RuntimeOption { return meterProviderOption{mp} }

type tracerProviderOption struct{ tp trace.TracerProvider }

func (o tracerProviderOption) applyRuntime(c *runtimeConfig) { c.tp = o.tp }
func (tracerProviderOption) String() string                  { return "sprag.WithTracerProvider(...)" }

// WithTracerProvider makes the runtime's services start their spans with
// tp. Without it they use OpenTelemetry's global TracerProvider as it is
// when each service starts, and start no span at all while none is
// installed. Install the global providers before the app starts.
func WithTracerProvider(tp trace.TracerProvider) RuntimeOption { return tracerProviderOption{tp} }

// NewRuntime returns a Runtime with a new bus whose listener failures are
// logged to logger through [LogListenerErrors], and whose emits and
// listener calls are measured and traced with the runtime's telemetry
// (docs/operations.md lists the metrics and spans). A nil logger logs
// nothing.
func NewRuntime(logger *zap.Logger, opts ...RuntimeOption) Runtime {
	if logger == nil {
		logger = zap.NewNop()
	}
	var c runtimeConfig
	for _, o := range opts {
		if o != nil {
			o.applyRuntime(&c)
		}
	}
	tel := telemetry.New(c.mp, c.tp)
	return Runtime{
		Bus:    eventbus.New(eventbus.WithErrorHandler(LogListenerErrors(logger)), eventbus.WithObserver(tel.Observer())),
		Logger: logger,
		tel:    tel,
	}
}

// withDefaults fills in a missing bus, logger or telemetry.
func (rt Runtime) withDefaults() Runtime {
	if rt.Logger == nil {
		rt.Logger = zap.NewNop()
	}
	if rt.Bus == nil || rt.tel == nil {
		def := NewRuntime(rt.Logger)
		if rt.Bus == nil {
			rt.Bus = def.Bus
		}
		if rt.tel == nil {
			rt.tel = def.tel
		}
	}
	return rt
}

// LogListenerErrors returns an eventbus error handler that logs each failed
// listener at error level with its topic, name and error, as "listener
// failed", or, for a panic, as "listener panicked" with the stack, as a
// service logs its own. Failures of listeners registered through
// [Service.Listen] are skipped: the service has already logged them with
// its own name.
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
		msg := "listener failed"
		var pe *PanicError
		if errors.As(le.Err, &pe) {
			fields = append(fields, zap.ByteString("stack", pe.Stack))
			msg = "listener panicked"
		}
		logger.Error(msg, fields...)
	}
}
