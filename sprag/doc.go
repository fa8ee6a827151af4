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
//		if _, err := m.Interval(time.Minute, m.collect); err != nil { // every minute
//			return err
//		}
//		_, err := m.Listen("order:completed", m.onOrder) // an event from another service
//		return err
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
// runs, and Stop from the service's own work: a timer run, a task or a
// listener that stops its service returns from Stop, and the service is
// Stopped once that run returns. [Starter], [Stopper] and [HealthChecker]
// are the optional hooks of the user's type.
//
// Stop tears down in a fixed order: OnStop; intervals and timeouts are
// cancelled; the contexts seen by tasks and timer runs are cancelled;
// listeners are removed; running work is waited for until the stop
// context ends; adopted children stop, the last first; cleanups run, the
// last added first. Every step runs even when an earlier one failed and all
// errors come back joined. Stop never waits past its context: work still
// running then is named in a *[StuckError]. [Service.Done] closes only when
// every goroutine the service started has returned: after Done, nothing of
// the service runs.
//
// # The managed-resources helper
//
// All of that is a [Scope]'s work: the managed methods of a Service are the
// methods of its scope ([Service.Scope]), and a Scope works on its own too,
// as a struct field, in a test, in a command-line program:
//
//   - [Scope.Interval], [Scope.Timeout] and [Scope.Schedule]: timers on a
//     [Schedule] ([FixedDelay], [FixedRate], cron in sprag/cron); an idle
//     timer costs no goroutine.
//   - [Scope.Spawn] and [Scope.SpawnAfter]: tracked goroutines with a
//     label, a context that ends at stop or at [Task.Cancel], a handle to
//     wait on, and an optional [RestartPolicy].
//   - [Scope.Listen], [Scope.Emit], [ListenTopic] and [EmitTopic]: the
//     runtime's event bus. A listener is not called once its scope has
//     begun to close.
//   - [Scope.Adopt]: child services named "parent/child" that start at
//     once and stop with the parent; a child that stops first leaves it.
//   - [Scope.Own] and [Scope.AddCleanup]: resources released at stop.
//
// # Errors
//
// Every managed method returns its handle and an error: the error says
// that nothing was scheduled, wrapping [ErrNotRunning] when the scope does
// not accept work (before its service starts, or once it stops) and
// [ErrInvalidArgument] for bad arguments. The handle's Wait and Err are
// the work's own result. Bad arguments are also logged at error level, and
// a call once the scope stops at warn level. A managed method called
// before its service starts (in a constructor, say) makes the service's
// Start fail instead, naming the call and its file and line, so that an
// ignored error cannot hide a listener or a timer that never exists.
// Nothing here panics at the caller; methods of a nil handle do nothing.
//
// # Primitives
//
// The packages under sprag/ hold the primitives, each built on a Scope's
// public API only, as a user's own primitive would be: sprag/queue (a
// bounded work queue that drains at stop and loses nothing), sprag/watch
// (watchers that poll or follow a stream with backoff), sprag/state
// (observable values), sprag/process (managed subprocesses) and
// sprag/cron (cron schedules). What they use is public: [Callback] and
// [Call] for functions that others call, [Scope.Report] for health
// figures, [Scope.Accepting], [Scope.CloseContext], [Safely] and
// [Scope.LogFailure].
//
// # Concurrency
//
// Callbacks run concurrently with each other: an interval's run, a task and
// a listener may all be running at once, so a service guards its own
// fields (atomics, a mutex). A given timer never overlaps itself. The
// methods of Service, Scope, [Registry], [Timer] and [Task] are safe from
// any goroutine.
//
// # Panics
//
// A panic in an interval, a timeout, a task, a listener, a callback, a
// cleanup, OnStart or OnStop is recovered. It is logged at error level
// with the service's name, the kind of work, its label and the stack, and
// becomes a *[PanicError]: the error of a task's handle, of Start (for
// OnStart), of Stop (for OnStop and cleanups), or of the emit (for a
// listener). The service and the process keep running; a failing interval
// keeps ticking.
//
// # Time and tests
//
// Timers use the standard time package. Inside a testing/synctest bubble
// time is virtual, so a test of a one-minute interval runs an hour of ticks
// in microseconds, deterministically, without sleeping. Package spragtest
// has helpers that start services in a test and record events; its
// documentation shows the recipe.
//
// # Registry and health
//
// A [Registry] holds services by name for controllers and other modules:
// [Registry.Resolve], [Get] for a typed lookup, [Registry.WaitFor] for late
// binding, [Registry.Unregister] and [Registry.Replace], and
// [UntilStopped] for entries that leave with their service.
// [Registry.Health] reports every service's [Status]. [CheckName] is the
// one rule for names.
//
// # Logs
//
// Services log through the runtime's zap logger with fields, not formatted
// strings: service, kind, label, topic, error, and stack for panics. A log
// line about user work names that work by its label (the function's name),
// not by a line of the library.
package sprag
