// Package fxmodule runs sprag services in a go.uber.org/fx app. It is the
// only package of sprag-go that imports fx: sprag, eventbus and controllers
// work without it.
//
// # Composing an app
//
//	fx.New(
//		fxmodule.Module,                                 // bus, registry, runtime, logs
//		fxmodule.Service("metrics", NewMetricsService), // provided as `name:"metrics"`
//		fxmodule.Service("email", NewEmailService, fxmodule.As(new(Mailer))),
//		fx.Supply(logger),                               // optional: the app's *zap.Logger
//	).Run()
//
// or, with the seed's providers map, controllers and fx's events in zap:
//
//	fxmodule.App(
//		fxmodule.Providers(map[string]any{"metrics": NewMetricsService, "email": NewEmailService}),
//		fxmodule.Controllers(NewDashboardController),
//	).Run()
//
// # Services
//
// [Service] takes an ordinary fx constructor whose result embeds
// sprag.Service. The service is provided under its name, constructed even
// when nothing injects it, bound to the app's runtime, registered in the
// app's *sprag.Registry, and started and stopped by one fx hook appended
// when it is constructed. fx constructs dependencies first, so a service
// starts after the services it takes and stops before them.
//
// When a service fails to start, the app's Start returns the error, which
// names the service, and fx stops the services that had started, in
// reverse. When the start times out, fx's rollback receives an expired
// context and skips every stop hook (fx issue 1035); [Ready] stops those
// services itself, so that none of their timers or goroutines survives.
//
// A stop bounded by fx.StopTimeout returns at the deadline; work still
// running then is named, service and task, in the error that fx logs for
// the service's hook. fx runs no stop hook after that deadline; [Ready]
// stops the services fx did not reach, with the ended context.
//
// # Start and stop signals
//
// Once every service has started, the app's bus carries [AppStarted] and
// [Ready.Done] is closed; [AppStopping] is emitted before the first service
// stops. [ShutdownOnTaskGiveUp] shuts the app down with an exit code when a
// task exhausts its restart policy.
//
// # Iterating services
//
// Other modules reach every service through the *sprag.Registry: by name,
// with sprag.Get, or all of them in registration order with All, and their
// health with Health. fxmodule does not also put services in an fx value
// group: the registry already holds them, in order, with their names.
//
// # Logs
//
// Services, the bus and fx itself log through the app's *zap.Logger: fx's
// errors at error level and its other events at debug level. Package
// fxmoduletest builds test apps with a zaptest logger, also inside a
// testing/synctest bubble.
package fxmodule
