// Package fxmodule runs sprag services in a go.uber.org/fx app. It is the
// only package of sprag-go that imports fx: sprag, eventbus and controllers
// work without it.
//
// # Composing an app
//
//	fxmodule.App(
//		fxmodule.Providers(map[string]any{"metrics": NewMetricsService, "email": NewEmailService}),
//		fxmodule.Controllers(NewDashboardController),
//	).Run()
//
// [App] is fx.New with [Module], fx's events logged through zap
// ([LogFxEvents]) and the HTTP server's address from SPRAG_ADDR; its Err,
// Start and Run report mistakes in fxmodule's terms. The same app with
// fx.New:
//
//	fx.New(
//		fxmodule.Module,                                 // first: bus, registry, runtime, logs, the wiring check
//		fxmodule.LogFxEvents,                            // fx's events through zap
//		fxmodule.Service("metrics", NewMetricsService), // provided as `name:"metrics"`, and by type
//		fxmodule.Service("email", NewEmailService, fxmodule.As(new(Mailer))),
//		fx.Supply(logger),                               // optional: the app's *zap.Logger
//	).Run()
//
// # Services
//
// [Service] takes an ordinary fx constructor whose result is a pointer to
// a struct that embeds sprag.Service. The service is provided under its
// name, and by its type to the constructors given to Service and
// [Controllers] when it is the only service of that type. It is
// constructed when the app is built even when nothing takes it, bound to
// the app's runtime, registered in the app's *sprag.Registry, and started
// and stopped by one fx hook appended when it is constructed. fx
// constructs dependencies first, so a service starts after the services
// it takes and stops before them. [ParamTags] (or fx.Annotate with
// fx.ParamTags) names a constructor's parameters.
//
// # Wiring mistakes
//
// [Module] checks the wiring of the whole app before it constructs
// anything: every mistake fails fx.New with a *[WiringError] that names
// the service, its constructor with the file and line, what is wrong and
// what to do, such as a constructor returning a struct value, a misspelled
// name (with the closest one), or a type that two services have. A value
// embedding sprag.Service that a service or a controller takes from
// elsewhere than fxmodule fails the start when nothing started it. The
// errors of fx and dig name the user's constructors, never
// "reflect".makeFuncStub. docs/wiring-errors.md shows every message.
//
// # Start and stop deadlines
//
// When a service fails to start, the app's Start returns the error, which
// names the service, and fx stops the services that had started, in
// reverse. When the start's context ends before every service has started
// (fx.StartTimeout), fx's rollback receives that ended context and runs no
// stop hook (fx issue 1035): fxmodule then logs, at error level, which
// service was still starting (App's Start names it in its error too), and
// stops the services that had started, the last first, each with a fresh
// context bounded by the app's stop timeout (see [StopTimeout]). When it
// ends later, in a hook that the app's own invokes appended after the
// services', [App]'s Start stops the services the same way; an app built
// with fx.New leaves them running.
//
// A stop bounded by fx.StopTimeout returns at the deadline; work still
// running then is named, service and task, in the error that fx logs for
// the service's hook. fx runs no stop hook after that deadline; fxmodule
// stops the services fx did not reach, with the ended context, so that
// their timers and tasks are cancelled at once; with [App], also when the
// hook that outlasted the deadline is one of the app's own. After a stop
// that met its deadline, nothing of fxmodule runs any more.
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
// health with Health.
//
// # Logs
//
// Services, the bus and fx itself log through the app's *zap.Logger, or,
// without one, through Module's own: production JSON, or with [DevLogger]
// or SPRAG_LOG=dev ([EnvLog]) human-readable lines with the level in
// colour. [LogFxEvents] logs each failure once, one line per mistake,
// and fx's other events at debug level. Package fxmoduletest builds test
// apps with a zaptest logger, also inside a testing/synctest bubble.
package fxmodule
