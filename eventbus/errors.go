package eventbus

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidTopic is wrapped by every error about a malformed topic or
	// pattern: an empty name, an empty segment, or a misplaced '*'.
	ErrInvalidTopic = errors.New("eventbus: invalid topic")

	// ErrNilListener is returned by Listen when the listener function is nil.
	ErrNilListener = errors.New("eventbus: nil listener")

	// ErrPayloadType is wrapped by the error reported when a typed listener
	// receives a payload of another type, for example a string emit of an int
	// on a topic whose listeners expect an Order.
	ErrPayloadType = errors.New("eventbus: payload of the wrong type")

	// ErrOnRemoved is wrapped, with the *PanicError, by the error reported
	// when a function given to [OnRemoved] panics.
	ErrOnRemoved = errors.New("eventbus: OnRemoved function panicked")
)

// ListenerError is one listener's failure during an emit: the error it
// returned, a *[PanicError] when it panicked, or an error wrapping
// [ErrPayloadType]. It is passed to the bus's [ErrorHandler] and joined into
// the error that Emit returns. The handler also receives one when a
// function given to [OnRemoved] panics: Topic is then the subscription's
// topic or pattern, and Err wraps [ErrOnRemoved].
type ListenerError struct {
	Topic    string // the topic that was emitted (for OnRemoved, the subscription's)
	Listener string // the listener's name: [WithName], or its function's name
	ID       uint64 // the subscription's id, unique within its bus
	Err      error  // what went wrong
}

// Error implements error.
func (e *ListenerError) Error() string {
	return fmt.Sprintf("eventbus: topic %q: listener %s (#%d): %v", e.Topic, e.Listener, e.ID, e.Err)
}

// Unwrap returns the listener's error, so that errors.Is and errors.As see
// through a ListenerError.
func (e *ListenerError) Unwrap() error { return e.Err }

// PanicError reports a panic recovered from a listener.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack, as debug.Stack returns it
}

// Error implements error. It does not include the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v", e.Value)
}

// Unwrap returns the panic value when it is an error, so that a listener
// that panics with an error can still be matched with errors.Is.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// nilBus is the error of a call of what ("listen to") on a nil *Bus.
func nilBus(what, topic string) error { return fmt.Errorf("%s %q: nil *eventbus.Bus", what, topic) }
