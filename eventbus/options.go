package eventbus

import (
	"context"
	"fmt"
)

// ErrorHandler receives every listener failure as it happens, on the emitting
// goroutine, before the next listener runs. A panic in the handler is
// recovered and dropped; the failure it was told of is still returned by
// Emit.
type ErrorHandler func(ctx context.Context, err *ListenerError)

// An Option configures a [Bus] built by [New].
type Option interface {
	apply(*Bus)
	String() string
}

type errorHandlerOption struct{ h ErrorHandler }

func (o errorHandlerOption) apply(b *Bus)   { b.onError = o.h }
func (o errorHandlerOption) String() string { return "WithErrorHandler()" }

// WithErrorHandler sets the function that is told of each listener that
// fails or panics. Without it, failures are only returned by Emit. A nil
// handler restores the default.
func WithErrorHandler(h ErrorHandler) Option { return errorHandlerOption{h} }

// A ListenOption configures one subscription made by [Bus.Listen] or
// [Topic.Listen].
type ListenOption interface {
	applyListen(*listener)
	String() string
}

type onceOption struct{}

func (onceOption) applyListen(l *listener) { l.once = true }
func (onceOption) String() string          { return "Once()" }

// Once makes a subscription that runs at most once: the first emit that
// reaches it claims it and removes it, also when several goroutines emit at
// the same time.
func Once() ListenOption { return onceOption{} }

type nameOption string

func (o nameOption) applyListen(l *listener) { l.name = string(o) }
func (o nameOption) String() string          { return fmt.Sprintf("WithName(%q)", string(o)) }

// WithName names a subscription in error reports. Without it the name is
// that of the listener function, as the runtime reports it.
func WithName(name string) ListenOption { return nameOption(name) }
