package sprag

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag/internal/runs"
	"github.com/sprag-go/sprag/sprag/internal/telemetry"
	"github.com/sprag-go/sprag/sprag/internal/timerq"
)

// Scope is the managed-resources helper: it owns timers, tasks, callbacks
// such as bus listeners, adopted child services, owned resources and
// cleanups, and [Scope.Close] tears all of them down in a fixed order,
// bounded by a deadline. Every [Service] is built on one (see
// [Service.Scope]); a Scope also works alone, as a struct field, in a test
// or in a command-line program:
//
//	var sc sprag.Scope
//	defer sc.Close(ctx)
//	sc.Interval(time.Second, poll)
//
// The zero value is an open scope with no name, a bus of its own and a
// no-op logger; [NewScope] gives it a name and a [Runtime]. A Scope must
// not be copied after first use. Its methods are safe for concurrent use.
//
// # Locks
//
// One mutex guards the scope's bookkeeping: the sets of timers, tasks,
// callbacks, children, cleanups and health reports, and the teardown
// state. It is held only to change those sets, never while user code
// runs. Runs in progress are counted with atomics (no lock on a task's
// end or a callback), and each handle ([Timer], [Task], [Callback])
// guards its own state. The primitives in the packages under sprag/ each
// own their lock and reach the scope only through its public methods.
type Scope struct {
	phase atomic.Int32 // a phase; changed under mu, read without it

	ready atomic.Bool // init has run; set under mu

	mu       sync.Mutex
	name     string
	rt       Runtime
	tel      *telemetry.T                       // rt's; set with rt, read without the lock by runs
	obs      *telemetry.Service                 // the scope's own figures: tasks and timers alive, a service's state
	observed atomic.Pointer[telemetry.Resolved] // what runs measure and trace, resolved when the scope opens
	log      *zap.Logger
	owner    *Service // the service built on this scope, or nil
	parent   *Scope   // the scope that adopted owner, or nil
	ctx      context.Context
	cancel   context.CancelFunc
	stopCtx  context.Context // Close's context, set before ctx is cancelled

	timers    timerq.Queue[*Timer] // waiting timers, by due time
	running   map[*Timer]struct{}  // timers whose run is under way
	wheel     *time.Timer          // fires fireDue when the first timer is due
	epoch     time.Time            // the origin of timers' due times
	tasks     []*Task              // in start order; ended ones are pruned as it grows
	tasksAt   int                  // len(tasks) at which the next prune happens
	callbacks map[*Callback]struct{}
	children  []*Service
	names     map[string]*Service // children by short name
	cleanups  []cleanup
	reports   []*report
	gaveUp    []string // labels of tasks that exhausted their restarts
	refused   []error  // managed calls made before the owner started

	closing  bool          // teardown has begun; it runs once
	current  *activity     // the teardown step running in the background
	tornDown chan struct{} // closed when the cleanups have run
	stopped  chan struct{} // closed when the first Close has returned
	done     chan struct{} // closed when everything of the scope has returned
	onDone   func()        // the owner's last word before done closes
	atDone   []func()      // run as the scope ends, before done closes

	runs   runs.Tracker // runs of managed work in progress, without the lock
	chainG atomic.Int64 // the goroutine that stops children and runs cleanups
}

// The phases of a scope. A service's scope is held until the service
// starts; a scope of its own is open from the start.
const (
	phaseOpen int32 = iota
	phaseHeld
	phaseClosing
	phaseClosed
)

// Owner is anything that has a scope: a *[Scope] itself, and every
// service (the struct that embeds [Service]). The primitives of the
// packages under sprag/ take an Owner, so that they work the same for a
// service and for a scope of one's own.
type Owner interface {
	Scope() *Scope
}

// NewScope returns an open scope named name (the "service" field of its
// logs and the prefix of its errors) that shares rt's bus and logger. A
// nil bus or logger in rt is replaced by a new bus or a no-op logger.
func NewScope(name string, rt Runtime) *Scope {
	s := &Scope{}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked(name, rt)
	return s
}

// Scope returns s itself, so that a *Scope is an [Owner].
func (s *Scope) Scope() *Scope { return s }

// initLocked names the scope and gives it its runtime; the first call
// also makes its context and channels. A zero Scope is set up on first
// use: open, unnamed, with a bus of its own. The caller holds mu.
func (s *Scope) initLocked(name string, rt Runtime) {
	s.name, s.rt = name, rt.withDefaults()
	s.tel = s.rt.tel
	s.obs = s.tel.Service(name)
	s.observed.Store(s.obs.ResolveNow())
	s.log = s.rt.Logger
	if name != "" {
		s.log = s.log.With(zap.String("service", name))
	}
	if !s.ready.Load() {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.running = make(map[*Timer]struct{})
		s.epoch = time.Now()
		s.tornDown, s.stopped = make(chan struct{}), make(chan struct{})
		s.done = make(chan struct{})
		s.ready.Store(true)
	}
}

// lock takes mu, setting a zero Scope up first.
func (s *Scope) lock() {
	s.mu.Lock()
	if !s.ready.Load() {
		s.initLocked("", Runtime{})
	}
}

// hold sets up, on first use, the scope of a service that is not bound
// yet: held, so that it refuses work until the service starts.
func (s *Scope) hold(owner *Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready.Load() {
		s.initLocked("", Runtime{})
		s.owner = owner
		s.phase.Store(phaseHeld)
	}
}

// Name returns the scope's name: the service's, "parent/child" for an
// adopted child, or what [NewScope] was given.
func (s *Scope) Name() string {
	s.lock()
	defer s.mu.Unlock()
	return s.name
}

// Logger returns the runtime's logger with the scope's name as the
// "service" field.
func (s *Scope) Logger() *zap.Logger {
	s.lock()
	defer s.mu.Unlock()
	return s.log
}

// Runtime returns the bus and logger the scope shares with others.
func (s *Scope) Runtime() Runtime {
	s.lock()
	defer s.mu.Unlock()
	return s.rt
}

// Context returns the scope's context: timer runs receive it, and it is
// cancelled when the scope closes (step 3 of [Scope.Close]). A task
// receives a context of its own, cancelled at the same step, by
// [Task.Cancel], or when the task returns.
func (s *Scope) Context() context.Context {
	s.lock()
	defer s.mu.Unlock()
	return s.ctx
}

// Done returns a channel that is closed when the scope has closed and
// every goroutine it started has returned: its tasks, its timer runs, the
// calls of its callbacks, its children's, and the teardown steps that
// outlived Close's deadline. After Done, nothing of the scope runs.
func (s *Scope) Done() <-chan struct{} {
	s.lock()
	defer s.mu.Unlock()
	return s.done
}

// open reports whether managed work may be scheduled.
func (s *Scope) open() bool { return s.phase.Load() == phaseOpen }

// refuseLocked builds the error of a managed call (what: "interval",
// "queue", ...) that the scope does not accept because it is not open. A
// call made before the owner started is recorded, so that the owner's
// Start fails with it (an ignored error must not hide a listener or a
// timer that never exists), and Start's failure is what reports it; a
// call made once the scope closes is logged at warn level. The caller
// holds mu.
func (s *Scope) refuseLocked(what, label string) error {
	phase := s.phase.Load()
	if phase == phaseHeld {
		refused := fmt.Errorf("%s %s called before Start, at %s (call it in OnStart): %w", what, label, userCallSite(), ErrNotRunning)
		s.refused = append(s.refused, refused) // the owner's Start fails with it, and that is reported
		return fmt.Errorf("service %q: %w", s.name, refused)
	}
	err := fmt.Errorf("service %q: %s %s: %w (%s)", s.name, what, label, ErrNotRunning, phaseName(phase))
	s.log.Warn("managed method called while not running", zap.String("kind", what), zap.String("label", label))
	return err
}

func phaseName(p int32) string {
	if p == phaseClosed {
		return "stopped"
	}
	return "stopping"
}

// invalid builds and logs an ErrInvalidArgument error about a managed call.
func (s *Scope) invalid(what, label, format string, args ...any) error {
	err := fmt.Errorf("service %q: %s %s: %w: %s", s.Name(), what, label, ErrInvalidArgument, fmt.Sprintf(format, args...))
	s.Logger().WithOptions(zap.WithCaller(false)).Error("invalid argument", zap.String("kind", what), zap.String("label", label), zap.Error(err))
	return err
}

// Invalid returns an error wrapping [ErrInvalidArgument] that names the
// scope, the kind of work what ("queue", "watcher") and its label, and
// logs it at error level. Primitives built on a Scope use it, so that
// their errors read like the scope's own.
func (s *Scope) Invalid(what, label, format string, args ...any) error {
	return s.invalid(what, label, format, args...)
}

// Accepting returns nil when the scope accepts new work, and otherwise
// the error a managed method returns then (wrapping [ErrNotRunning]):
// before the owner's start it is recorded so that Start fails with it;
// once the scope stops it is logged at warn level. Primitives built on a
// Scope call it before they create anything.
func (s *Scope) Accepting(what, label string) error {
	s.lock()
	defer s.mu.Unlock()
	if s.open() {
		return nil
	}
	return s.refuseLocked(what, label)
}

// whenDone runs fn as the scope ends, just before done closes: at once
// if it has ended.
func (s *Scope) whenDone(fn func()) {
	s.lock()
	if s.phase.Load() != phaseClosed {
		s.atDone = append(s.atDone, fn)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	fn()
}

// ScopeOf returns o's scope, or an error wrapping [ErrInvalidArgument]
// for a nil o or a nil pointer: the first step of every primitive built
// on a Scope, named what ("queue", "watcher") in the error.
func ScopeOf(o Owner, what string) (*Scope, error) {
	if o == nil {
		return nil, fmt.Errorf("new %s: %w: nil owner", what, ErrInvalidArgument)
	}
	if v := reflect.ValueOf(o); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("new %s: %w: nil owner %T", what, ErrInvalidArgument, o)
	}
	return o.Scope(), nil
}

// Meter returns the meter of the scope's runtime (see [WithMeterProvider]),
// for primitives that record figures of their own: their instruments are
// named "sprag.<primitive>.<figure>" and carry the scope's name as the
// "sprag.service" attribute.
func (s *Scope) Meter() metric.Meter {
	s.lock()
	defer s.mu.Unlock()
	return s.tel.Meter()
}
