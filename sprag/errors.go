package sprag

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sprag-go/sprag/eventbus"
)

var (
	// ErrNotRunning is returned by a managed method (Interval, Timeout,
	// Schedule, Spawn, Listen, Emit, Adopt, Own, AddCleanup, and the
	// primitives) called when its scope is not open: before its service
	// starts, or once it has begun to stop. Nothing is scheduled.
	ErrNotRunning = errors.New("sprag: service not running")

	// ErrNotBound is returned by Start when the service was never given a
	// name and a runtime with [Bind].
	ErrNotBound = errors.New("sprag: service not bound")

	// ErrAlreadyBound is returned by [Bind] for a service that already has a
	// name or a parent.
	ErrAlreadyBound = errors.New("sprag: service already bound")

	// ErrStopped is returned by Start on a service that was stopped, or
	// that Stop interrupted while OnStart ran; it is also the error of a
	// task that never ran because its service stopped first.
	ErrStopped = errors.New("sprag: service stopped")

	// ErrInvalidArgument is wrapped by errors about a bad argument to a
	// managed method: a nil function, a duration that is not positive, an
	// empty name.
	ErrInvalidArgument = errors.New("sprag: invalid argument")

	// ErrUnsupportedResource is returned by Own for a value that has none of
	// the methods Own knows how to call.
	ErrUnsupportedResource = errors.New("sprag: unsupported resource")

	// ErrCycle is returned by Adopt when the child is the parent itself or
	// one of its ancestors.
	ErrCycle = errors.New("sprag: adoption cycle")

	// ErrDuplicateName is returned when a name is already taken: in a
	// [Registry], or among a parent's children.
	ErrDuplicateName = errors.New("sprag: duplicate name")

	// ErrNotFound is returned by a [Registry] lookup of a name nobody
	// provided.
	ErrNotFound = errors.New("sprag: service not found")

	// ErrWrongType is returned by [Get] when the service under a name is not
	// of the type asked for.
	ErrWrongType = errors.New("sprag: service of another type")

	// ErrRestartLimit is the error of a task that failed more often than its
	// [RestartPolicy] allows and gave up.
	ErrRestartLimit = errors.New("sprag: restart limit reached")

	// ErrStillRunning is wrapped by the *[StuckError] that Stop returns for
	// work still running at its deadline.
	ErrStillRunning = errors.New("sprag: still running at the stop deadline")
)

// PanicError reports a panic recovered from a callback, a task, OnStart,
// OnStop or a cleanup: the value passed to panic and the stack of the
// goroutine that panicked. It is the eventbus type, so errors.As finds a
// panic the same way whether a listener or a task raised it.
type PanicError = eventbus.PanicError

// CallbackError is a failure of one piece of managed work: the error it
// returned or a *[PanicError]. The scope logs it when it happens; Stop
// returns the ones from OnStop and cleanups, a task's handle returns its
// own, and an emit returns its listeners'.
type CallbackError struct {
	Service string // the full name of the service, "parent/child" for a child
	Kind    Kind   // what failed
	Label   string // the work's label: its Label option, or its function's name
	Err     error
}

// Error implements error.
func (e *CallbackError) Error() string {
	if e.Label == "" {
		return fmt.Sprintf("service %q: %s: %v", e.Service, e.Kind, e.Err)
	}
	return fmt.Sprintf("service %q: %s %s: %v", e.Service, e.Kind, e.Label, e.Err)
}

// Unwrap returns the underlying error.
func (e *CallbackError) Unwrap() error { return e.Err }

// StuckError names work that was still running when Stop's context ended.
// It wraps [ErrStillRunning].
type StuckError struct {
	Service string
	Running []Activity // what was still running: tasks in spawn order, then timer runs by label, then callbacks
}

// Activity is one piece of managed work that is running: a task, a timer
// run, a listener or other callback, OnStart or OnStop, or the child's
// stop or the cleanup in progress.
type Activity struct {
	Kind  Kind
	Label string
}

// Error implements error.
func (e *StuckError) Error() string {
	names := make([]string, len(e.Running))
	for i, a := range e.Running {
		names[i] = a.Kind.String()
		if a.Label != "" {
			names[i] += " " + a.Label
		}
	}
	return fmt.Sprintf("service %q: %v: %s", e.Service, ErrStillRunning, strings.Join(names, ", "))
}

// Unwrap returns [ErrStillRunning].
func (e *StuckError) Unwrap() error { return ErrStillRunning }

// Kind says what a piece of managed work is, in logs and errors.
type Kind uint8

// The kinds of managed work.
const (
	KindOnStart Kind = iota + 1
	KindOnStop
	KindInterval
	KindTimeout
	KindTask
	KindListener
	KindCleanup
	KindChild
	KindHealth
	KindCallback
)

var kindNames = [...]string{
	KindOnStart:  "OnStart",
	KindOnStop:   "OnStop",
	KindInterval: "interval",
	KindTimeout:  "timeout",
	KindTask:     "task",
	KindListener: "listener",
	KindCleanup:  "cleanup",
	KindChild:    "child",
	KindHealth:   "health",
	KindCallback: "callback",
}

// String returns the kind's name as logs show it.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}
