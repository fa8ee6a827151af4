package eventbus

import (
	"context"
	"fmt"
)

// ErrorHandler receives every listener failure as it happens, on the emitting
// goroutine, before the next listener runs, and a panic of a function given
// to [OnRemoved], on the goroutine that removed the subscription. A panic in
// the handler is recovered and dropped; the failure it was told of is still
// returned by Emit.
type ErrorHandler func(ctx context.Context, err *ListenerError)

// An Option configures a [Bus] built by [New].
type Option interface {
	apply(*Bus)
	String() string
}

type errorHandlerOption struct{ h ErrorHandler }

func (o errorHandlerOption) apply(b *Bus)   { b.onError = o.h }
func (o errorHandlerOption) String() string { return "eventbus.WithErrorHandler()" }

// WithErrorHandler sets the function that is told of each listener that
// fails or panics. Without it, failures are only returned by Emit. A nil
// handler restores the default.
func WithErrorHandler(h ErrorHandler) Option { return errorHandlerOption{h} }

// A ListenOption configures one subscription made by [Bus.Listen],
// [Bus.ListenEvents] or [Topic.Listen].
type ListenOption interface {
	applyListen(listenConfig) listenConfig // by value: a pointer through the interface would escape
	String() string
}

// listenConfig is what the ListenOptions of one subscription set.
type listenConfig struct {
	name      string
	once      bool
	onRemoved func()
}

type onceOption struct{}

func (onceOption) applyListen(c listenConfig) listenConfig { c.once = true; return c }
func (onceOption) String() string                          { return "eventbus.Once()" }

// Once makes a subscription that runs at most once: the first emit that
// reaches it claims it and removes it, also when several goroutines emit at
// the same time.
func Once() ListenOption { return onceOption{} }

type nameOption string

func (o nameOption) applyListen(c listenConfig) listenConfig { c.name = string(o); return c }
func (o nameOption) String() string                          { return fmt.Sprintf("eventbus.WithName(%q)", string(o)) }

// WithName names a subscription in error reports. Without it the name is
// that of the listener function, as the runtime reports it.
func WithName(name string) ListenOption { return nameOption(name) }

type onRemovedOption struct{ fn func() }

func (o onRemovedOption) applyListen(c listenConfig) listenConfig {
	switch first, fn := c.onRemoved, o.fn; {
	case fn == nil: // ignored: it does not undo an OnRemoved given before it
	case first == nil:
		c.onRemoved = fn
	default: // both run, in the order given, the second also when the first panics
		c.onRemoved = func() {
			defer fn()
			first()
		}
	}
	return c
}

func (onRemovedOption) String() string { return "eventbus.OnRemoved()" }

// OnRemoved makes the bus call fn once the subscription is removed, for
// whichever reason: [Subscription.Unsubscribe], [Bus.Clear], [Bus.ClearAll],
// or the first call of a [Once] listener. fn runs exactly once, after the
// removal has taken effect (no emit that reaches the listener calls it any
// more), outside the bus's lock, on the goroutine that removed the
// subscription, before the call that removed it returns: Unsubscribe, Clear
// and ClearAll call it themselves, and the emit that claims a Once listener
// calls it when the listener returns.
//
// fn may use the bus, also to listen again. A panic in fn is recovered and
// reported to the bus's [ErrorHandler] as a *[ListenerError] for the
// subscription, whose error wraps [ErrOnRemoved] and the *[PanicError]; the
// removal stands. A nil fn is ignored: it does not undo an OnRemoved given
// before it. Given several times, every fn runs, in the order given, also
// after one that panicked (the bus that wraps a listener, sprag's say, may
// give its own before the caller's).
func OnRemoved(fn func()) ListenOption { return onRemovedOption{fn} }
