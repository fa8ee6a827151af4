package sprag

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
)

// Service is the base of a long-lived service. Embed it in a struct and give
// the struct's pointer type the hooks it needs:
//
//	type MetricsService struct {
//		sprag.Service
//		orders atomic.Int64
//	}
//
//	func (m *MetricsService) OnStart(ctx context.Context) error {
//		if _, err := m.Interval(time.Minute, m.collect); err != nil {
//			return err
//		}
//		_, err := m.Listen("order:completed", m.onOrder)
//		return err
//	}
//
// The embedded Service gives the struct its lifecycle (Start, Stop, State)
// and the managed methods of its [Scope] (Interval, Timeout, Schedule,
// Spawn, SpawnAfter, Listen, Emit, Adopt, Own, AddCleanup). Everything
// they create is torn down by Stop, in the order [Service.Stop] gives.
//
// The zero value is a service in the Created state with no name; [Bind]
// gives it its name and runtime before Start. A Service must not be copied
// after Bind. Its methods are safe for concurrent use.
type Service struct {
	scope Scope
	state atomic.Int32 // a State; changed under scope.mu, read without it

	// Guarded by scope.mu.
	self        Interface // the struct that embeds this Service
	startCancel context.CancelFunc
	startDone   chan struct{} // closed when Start has finished
	startErr    error
	onStartOK   bool // OnStart succeeded, so Stop runs OnStop
	selfStop    bool // OnStart itself called Stop: Start tears down
	startedAt   time.Time

	startAct activity // OnStart's run
	stopAct  activity // OnStop's run
}

// Interface is implemented by a pointer to any struct that embeds
// [Service], through the methods the embedded Service promotes; the
// unexported one means nothing else implements it. The package's functions
// take an Interface so that they reach both the embedded Service and the
// user's hooks.
type Interface interface {
	Owner
	Name() string
	State() State
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Done() <-chan struct{}
	service() *Service
}

func (s *Service) service() *Service { return s }

// Starter is implemented by a service that has work to do when it starts.
// OnStart runs once, during Start, with every managed method usable; ctx is
// Start's context and is also cancelled when Stop arrives first. An error
// or a panic fails the start: whatever OnStart registered is torn down.
type Starter interface {
	OnStart(ctx context.Context) error
}

// Stopper is implemented by a service that has work to do when it stops.
// OnStop runs first in Stop, before any managed resource is torn down, with
// Stop's context.
type Stopper interface {
	OnStop(ctx context.Context) error
}

// HealthChecker is implemented by a service that can tell whether it is
// healthy beyond being running: a database service that pings its pool,
// say. Health is called by [Service.Status] and [Registry.Health].
type HealthChecker interface {
	Health(ctx context.Context) error
}

// Bind gives svc its name and runtime. It must be called once, before
// Start; fxmodule calls it for the services it provides, and
// [Scope.Adopt] for children. A nil bus or logger in rt is replaced by a
// new bus or a no-op logger.
//
// Bind fails with an error wrapping [ErrInvalidArgument] for a nil svc, a
// struct that embeds a nil *Service, or a name that [CheckName] refuses,
// and [ErrAlreadyBound] for a service bound before.
func Bind(svc Interface, name string, rt Runtime) error {
	if isNil(svc) {
		return fmt.Errorf("bind service %q: %w: nil service", name, ErrInvalidArgument)
	}
	if err := CheckName(name); err != nil {
		return fmt.Errorf("bind service of type %T: %w", svc, err)
	}
	s := svc.service()
	if s == nil { // a struct that embeds a nil *Service
		return fmt.Errorf("bind service %q: %w: %T embeds a nil *sprag.Service: embed sprag.Service itself, not a pointer", name, ErrInvalidArgument, svc)
	}
	return s.bind(svc, name, rt, nil)
}

func (s *Service) bind(self Interface, name string, rt Runtime, parent *Scope) error {
	sc := &s.scope
	sc.hold(s)
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if s.self != nil {
		return fmt.Errorf("bind service %q: %w as %q", name, ErrAlreadyBound, sc.name)
	}
	s.self = self
	sc.initLocked(name, rt)
	sc.parent = parent
	sc.onDone = s.finished
	sc.obs.State(int(Created))
	s.startDone = make(chan struct{})
	s.startAct = activity{kind: KindOnStart}
	s.stopAct = activity{kind: KindOnStop}
	return nil
}

// Scope returns the scope that holds the service's managed resources; the
// managed methods of Service are its methods. Primitives take it through
// the [Owner] interface.
func (s *Service) Scope() *Scope { return s.sc() }

// sc returns the service's scope, held until the service starts.
func (s *Service) sc() *Scope {
	if !s.scope.ready.Load() {
		s.scope.hold(s)
	}
	return &s.scope
}

// Name returns the name the service was bound with; a child's name is
// "parent/child". It is empty before Bind.
func (s *Service) Name() string { return s.sc().Name() }

// State returns the service's current state.
func (s *Service) State() State { return State(s.state.Load()) }

// Logger returns the runtime's logger with the service's name as a field,
// or a no-op logger before Bind.
func (s *Service) Logger() *zap.Logger { return s.sc().Logger() }

// Runtime returns the runtime the service was bound with.
func (s *Service) Runtime() Runtime { return s.sc().Runtime() }

// Context returns the service's context: the context that tasks and timer
// runs receive, cancelled when Stop tears the service down. Before Start
// it is a context that is not cancelled yet.
func (s *Service) Context() context.Context { return s.sc().Context() }

// Done returns a channel that is closed when the service has stopped, or
// failed to start, and every goroutine it started has returned; see
// [Scope.Done]. Before Bind it is a channel of its own scope all the same.
func (s *Service) Done() <-chan struct{} { return s.sc().Done() }

// Interval is [Scope.Interval] on the service's scope.
func (s *Service) Interval(d time.Duration, fn func(ctx context.Context) error, opts ...TimerOption) (*Timer, error) {
	return s.sc().Interval(d, fn, opts...)
}

// Timeout is [Scope.Timeout] on the service's scope.
func (s *Service) Timeout(d time.Duration, fn func(ctx context.Context) error, opts ...TimerOption) (*Timer, error) {
	return s.sc().Timeout(d, fn, opts...)
}

// Schedule is [Scope.Schedule] on the service's scope.
func (s *Service) Schedule(sched Schedule, fn func(ctx context.Context) error, opts ...TimerOption) (*Timer, error) {
	return s.sc().Schedule(sched, fn, opts...)
}

// Spawn is [Scope.Spawn] on the service's scope.
//
//nolint:contextcheck,nolintlint // fn's context derives from the service's on purpose
func (s *Service) Spawn(fn func(ctx context.Context) error, opts ...TaskOption) (*Task, error) {
	return s.sc().Spawn(fn, opts...)
}

// SpawnAfter is [Scope.SpawnAfter] on the service's scope.
func (s *Service) SpawnAfter(d time.Duration, fn func(ctx context.Context) error, opts ...TaskOption) (*Task, error) {
	return s.sc().SpawnAfter(d, fn, opts...)
}

// Listen is [Scope.Listen] on the service's scope.
func (s *Service) Listen(topic string, fn func(ctx context.Context, payload any) error, opts ...eventbus.ListenOption) (*eventbus.Subscription, error) {
	return s.sc().Listen(topic, fn, opts...)
}

// Emit is [Scope.Emit] on the service's scope: a service may emit while it
// starts, runs or stops (OnStop may announce its departure).
func (s *Service) Emit(ctx context.Context, topic string, payload any) error {
	return s.sc().Emit(ctx, topic, payload)
}

// Adopt is [Scope.Adopt] on the service's scope.
func (s *Service) Adopt(ctx context.Context, name string, child Interface) error {
	return s.sc().Adopt(ctx, name, child)
}

// Children is [Scope.Children] of the service's scope.
func (s *Service) Children() []Interface { return s.sc().Children() }

// AddCleanup is [Scope.AddCleanup] on the service's scope.
func (s *Service) AddCleanup(fn func(ctx context.Context) error) error {
	return s.sc().AddCleanup(fn)
}

// Own is [Scope.Own] on the service's scope.
func (s *Service) Own(resource any) error { return s.sc().Own(resource) }

// isNil reports whether v is nil, or a nil pointer, map, func, slice or
// channel.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Slice, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
