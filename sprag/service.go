package sprag

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
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
//		m.Interval(time.Minute, m.collect)
//		_, err := m.Listen("order:completed", m.onOrder)
//		return err
//	}
//
// The embedded Service gives the struct its managed methods (Interval,
// Timeout, Spawn, SpawnAfter, Listen, Emit, Adopt, Own, AddCleanup) and its
// lifecycle (Start, Stop, State). Everything the managed methods create is
// torn down by Stop, in the order the package documentation gives.
//
// The zero value is a service in the Created state with no name; [Bind]
// gives it its name and runtime before Start. A Service must not be copied
// after Bind. Its methods are safe for concurrent use.
type Service struct {
	mu    sync.Mutex
	state atomic.Int32 // a State; changed under mu, read without it

	self   Interface // the struct that embeds this Service
	name   string
	rt     Runtime
	log    *zap.Logger // rt.Logger with the service's name
	parent *Service

	ctx    context.Context // ends when Stop begins to tear down
	cancel context.CancelFunc

	stopCtx context.Context // Stop's context, set before ctx is cancelled; see stopContext

	startCancel context.CancelFunc // cancels OnStart's context; set while starting
	startDone   chan struct{}      // closed when Start has finished
	stopDone    chan struct{}      // closed when Stop has finished
	startErr    error
	onStartOK   bool // OnStart succeeded, so Stop runs OnStop
	tearingDown bool // teardown has begun; it runs once
	startedAt   time.Time

	timers    map[*Timer]struct{}
	subs      []subscription
	tasks     []*Task // spawned, in order; finished ones are pruned as it grows
	pruneAt   int     // len(tasks) at which Spawn prunes next
	children  []*Service
	cleanups  []cleanup
	busy      atomic.Int64  // runs of managed work in progress (see activity.go)
	waiting   atomic.Bool   // a Stop waits for busy to reach zero
	idle      chan struct{} // closed when busy reaches zero; nil if nobody waits
	gaveUp    []string      // labels of tasks that exhausted their restarts
	reporters []reporter    // managed primitives' health figures
	current   *activity     // the teardown step running in the background
}

// Interface is implemented by a pointer to any struct that embeds
// [Service], through the methods the embedded Service promotes; the
// unexported one means nothing else implements it. The package's functions
// take an Interface so that they reach both the embedded Service and the
// user's hooks.
type Interface interface {
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
// Start; fxmodule calls it for the services it provides, and [Service.Adopt]
// for children. A nil bus or logger in rt is replaced by a new bus or a
// no-op logger.
//
// Bind fails with an error wrapping [ErrInvalidArgument] for a nil svc or
// an empty name, and [ErrAlreadyBound] for a service bound before.
func Bind(svc Interface, name string, rt Runtime) error {
	if isNil(svc) {
		return fmt.Errorf("bind service %q: %w: nil service", name, ErrInvalidArgument)
	}
	return svc.service().bind(svc, name, rt.withDefaults(), nil)
}

func (s *Service) bind(self Interface, name string, rt Runtime, parent *Service) error {
	if name == "" {
		return fmt.Errorf("bind service of type %T: %w: empty name", self, ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.self != nil {
		return fmt.Errorf("bind service %q: %w as %q", name, ErrAlreadyBound, s.name)
	}
	s.self, s.name, s.rt, s.parent = self, name, rt, parent
	s.log = rt.Logger.With(zap.String("service", name))
	s.startDone = make(chan struct{})
	s.stopDone = make(chan struct{})
	return nil
}

// Name returns the name the service was bound with; a child's name is
// "parent/child". It is empty before Bind.
func (s *Service) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// State returns the service's current state.
func (s *Service) State() State { return State(s.state.Load()) }

// Logger returns the runtime's logger with the service's name as a field,
// or a no-op logger before Bind.
func (s *Service) Logger() *zap.Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return zap.NewNop()
	}
	return s.log
}

// Runtime returns the runtime the service was bound with.
func (s *Service) Runtime() Runtime {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rt
}

// Context returns the service's context: it is the context that tasks and
// callbacks receive, and it is cancelled when Stop tears the service down.
// Before Start it is an already-cancelled context.
func (s *Service) Context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	return s.ctx
}

// setState changes the state; the caller holds mu.
func (s *Service) setState(st State) { s.state.Store(int32(st)) }

// notRunning builds, logs and returns the error of a managed method called
// at the wrong time. The caller holds mu.
func (s *Service) notRunningLocked(kind Kind, label string) error {
	return s.refusedLocked(kind.String(), label)
}

// refusedLocked builds, logs and returns the error of a managed method or
// primitive what (a kind, "queue", ...) asked for while the service is not
// starting or running. The caller holds mu.
func (s *Service) refusedLocked(what, label string) error {
	err := fmt.Errorf("service %q: %s %s: %w (state %s)", s.name, what, label, ErrNotRunning, s.State())
	s.logger().Warn("managed method called while not running",
		zap.String("kind", what), zap.String("label", label), zap.String("state", s.State().String()))
	return err
}

// logger returns the service's logger, or a no-op one before Bind.
func (s *Service) logger() *zap.Logger {
	if s.log == nil {
		return zap.NewNop()
	}
	return s.log
}

// invalid builds and logs an ErrInvalidArgument error.
func (s *Service) invalid(kind Kind, label, format string, args ...any) error {
	return s.invalidPrimitive(kind.String(), label, format, args...)
}

// isNil reports whether svc is nil or a nil pointer.
func isNil(svc Interface) bool {
	if svc == nil {
		return true
	}
	v := reflect.ValueOf(svc)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// childName checks a child's name: non-empty and without '/'.
func childName(name string) error {
	if name == "" || strings.Contains(name, "/") {
		return errors.New("a child's name must be non-empty and hold no '/'")
	}
	return nil
}
