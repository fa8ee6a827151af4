package fxmodule

import (
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// Module provides what services share in an fx app, and runs them:
//
//   - the app's *eventbus.Bus, whose listener failures are logged through zap;
//   - the *sprag.Registry every [Service] registers in, for lookups by name,
//     iteration and health reports ([sprag.Registry.Health]);
//   - the sprag.Runtime (bus and logger) services are bound to;
//   - the *[Ready] signal of the app's start;
//   - the app's *controllers.Server, named "http", once [Controllers] is
//     used.
//
// Its invokes, which fx runs before those of the app's top level, check
// the wiring of every [Service] and [Controllers] (failing fx.New with a
// *[WiringError] per mistake), then construct every service, in
// declaration order and each after what it takes, so that their hooks
// come in dependency order, then append [Ready]'s hook after them. Put
// Module first in fx.New, so that the check runs before any other invoke
// of yours can construct a service.
//
// It logs with the app's *zap.Logger, if one is provided (fx.Supply(logger)
// or a constructor), and otherwise with a logger of its own, production
// JSON by default ([DevLogger], [EnvLog]), that it syncs at stop. fx's own
// events go to fx's console logger unless the app adds [LogFxEvents], as
// [App] does.
var Module = fx.Module("sprag",
	fx.Provide(
		newLogger,
		newBus,
		sprag.NewRegistry,
		newRuntime,
		newReady,
		newDeadlineWatch,
		newWiring,
	),
	serverProvide, // constructed only when Controllers asks for it
	fx.Invoke(
		checkLogEnv,
		checkWiring,
		appendWatchHook, // the app's first hook: see deadlineWatch
		launch,
		appendReadyHook, // after every service's hook
	),
)

// newBus provides the runtime's bus.
func newBus(rt sprag.Runtime) *eventbus.Bus { return rt.Bus }

type runtimeParams struct {
	fx.In
	Logger    *logger
	Telemetry *telemetryConfig `optional:"true"`
}

// newRuntime builds the app's runtime: its bus logs listener failures
// through zap, and its services record their metrics and traces to the
// providers of [Telemetry], or to OpenTelemetry's globals.
func newRuntime(p runtimeParams) sprag.Runtime {
	var opts []sprag.RuntimeOption
	if t := p.Telemetry; t != nil {
		if t.mp != nil {
			opts = append(opts, sprag.WithMeterProvider(t.mp))
		}
		if t.tp != nil {
			opts = append(opts, sprag.WithTracerProvider(t.tp))
		}
	}
	return sprag.NewRuntime(p.Logger.Logger, opts...)
}

// telemetryConfig is what [Telemetry] hands to the runtime.
type telemetryConfig struct {
	mp metric.MeterProvider
	tp trace.TracerProvider
}

// Telemetry makes the app's services, its bus and its HTTP server record
// their metrics to mp and their spans with tp, instead of OpenTelemetry's
// global providers; a nil one keeps the global. Without it, the app
// records to the global providers (otel.SetMeterProvider,
// otel.SetTracerProvider) as they are when each service starts: install
// them before the app starts; while none is installed, nothing is
// measured or traced and it costs next to nothing. docs/operations.md
// lists the metrics and spans.
func Telemetry(mp metric.MeterProvider, tp trace.TracerProvider) fx.Option {
	return fx.Supply(&telemetryConfig{mp: mp, tp: tp})
}

// checkWiring fails fx.New with the app's wiring mistakes, before anything
// is constructed.
func checkWiring(w *wiring) error { return w.check() }

// launchParams asks for every service of the app: fx constructs them,
// each after what it takes, in the order they were declared.
type launchParams struct {
	fx.In
	Services []sprag.Interface `group:"sprag.launch"`
}

// launch makes fx construct every service, also those that nothing takes.
func launch(launchParams) {}
