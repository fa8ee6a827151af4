package fxmodule

import (
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
		checkWiring,
		appendWatchHook, // the app's first hook: see deadlineWatch
		launch,
		appendReadyHook, // after every service's hook
	),
)

func newBus(l *logger) *eventbus.Bus {
	return eventbus.New(eventbus.WithErrorHandler(sprag.LogListenerErrors(l.Logger)))
}

func newRuntime(l *logger, bus *eventbus.Bus) sprag.Runtime {
	return sprag.Runtime{Bus: bus, Logger: l.Logger}
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
