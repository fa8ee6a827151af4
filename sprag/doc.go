// Package sprag is the service runtime of sprag-go: long-lived services
// with a managed lifecycle, in the model of SPECTER/SPRAG's Services.
//
// A service is a struct that embeds [Service]. The embedded Service gives it
// managed methods whose resources are torn down when it stops, so that
// OnStop has nothing left to clean by hand:
//
//	type MetricsService struct {
//		sprag.Service
//		orders atomic.Int64
//	}
//
//	func (m *MetricsService) OnStart(ctx context.Context) error {
//		m.Interval(time.Minute, m.collect)            // every minute
//		_, err := m.Listen("order:completed", m.onOrder) // an event from another service
//		return err
//	}
//
//	func (m *MetricsService) collect(ctx context.Context) error {
//		return m.Emit(ctx, "metrics:updated", gather())
//	}
//
// # Running a service
//
// fxmodule runs services inside an fx app. Without fx, give a service a
// name and a [Runtime] (the shared event bus and logger) with [Bind], then
// Start and Stop it:
//
//	rt := sprag.NewRuntime(logger)
//	m := &MetricsService{}
//	if err := sprag.Bind(m, "metrics", rt); err != nil { ... }
//	if err := m.Start(ctx); err != nil { ... }
//	defer m.Stop(stopCtx) // bounded by stopCtx's deadline
//
// # Lifecycle
//
// A service goes Created → Starting → Running → Stopping → Stopped, or ends
// Failed when OnStart fails; [Service.State] reads it at any time. Start and
// Stop are idempotent and safe from any goroutine, also Stop while Start
// runs. [Starter], [Stopper] and [HealthChecker] are the optional hooks of
// the user's type.
//
// Stop tears down in a fixed order: OnStop; intervals and timeouts are
// cancelled; the service context seen by tasks and callbacks is cancelled;
// listeners are removed; running callbacks and tasks are waited for until
// the stop context ends; adopted children stop, the last first; cleanups
// run, the last added first. Every step runs even when an earlier one
// failed and all errors come back joined. Stop never waits past its
// context: work still running then is named in a *[StuckError].
//
// # Managed resources
//
//   - [Service.Interval] and [Service.Timeout]: timers with a cancel handle.
//     An idle timer costs no goroutine.
//   - [Service.Spawn] and [Service.SpawnAfter]: tracked goroutines with a
//     label, a context that ends at stop, a handle to wait on, and an
//     optional [RestartPolicy].
//   - [Service.Listen], [Service.Emit], [ListenTopic] and [EmitTopic]: the
//     runtime's event bus. A listener is not called once its service has
//     begun to stop.
//   - [Service.Adopt]: child services named "parent/child" that start at
//     once and stop with the parent.
//   - [Service.Own] and [Service.AddCleanup]: resources released at stop.
//
// A managed method called when the service is neither starting nor
// running schedules nothing: it reports [ErrNotRunning] (returned, or on the
// handle) and logs it. Bad arguments are errors wrapping
// [ErrInvalidArgument]. Nothing here panics at the caller.
//
// # Primitives
//
// Beyond the managed methods, a service can own: a [Queue] of typed items
// with N workers that drains at stop and hands what is left to [Overflow]
// ([NewQueue]); a [Watcher] that polls or follows a stream with retry
// backoff and tells subscribers of changes ([NewWatcher],
// [NewStreamWatcher]); an [Observable] value other services subscribe to
// ([NewObservable]); a managed subprocess stopped with SIGTERM, a grace
// period, then SIGKILL ([StartProcess]); and cron jobs ([Service.Cron]).
// Each is created while its service starts or runs, reports its figures in
// [Status.Details], and is torn down by Stop. docs/primitives.md has the
// details.
//
// # Concurrency
//
// Callbacks run concurrently with each other: an interval's run, a task and
// a listener may all be running at once, so a service guards its own
// fields (atomics, a mutex). A given interval never overlaps itself. The
// methods of Service, [Registry], [Timer] and [Task] are safe from any
// goroutine.
//
// # Panics
//
// A panic in an interval, a timeout, a task, a listener, a cleanup, OnStart
// or OnStop is recovered. It is logged at error level with the service's
// name, the kind of work, its label and the stack, and becomes a
// *[PanicError]: the error of a task's handle, of Start (for OnStart), of
// Stop (for OnStop and cleanups), or of the emit (for a listener). The
// service and the process keep running; a failing interval keeps ticking.
//
// # Time and tests
//
// Timers use the standard time package. Inside a testing/synctest bubble
// time is virtual, so a test of a one-minute interval runs an hour of ticks
// in microseconds, deterministically, without sleeping. Package spragtest
// has helpers that start a service in a test and record events; its
// documentation shows the recipe.
//
// # Registry and health
//
// A [Registry] holds services by name for controllers and other modules:
// [Registry.Resolve], [Get] for a typed lookup, [Registry.WaitFor] for late
// binding. [Registry.Health] reports every service's [Status].
//
// # Logs
//
// Services log through the runtime's zap logger with fields, not formatted
// strings: service, kind, label, topic, error, and stack for panics.
package sprag
