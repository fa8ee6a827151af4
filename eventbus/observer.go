package eventbus

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// Observer watches a bus's emits and listener calls, for metrics and
// traces; install one with [WithObserver]. The bus stays free of any
// telemetry library: an Observer adapts it to one (sprag records
// OpenTelemetry spans and metrics through it).
//
// For each emit of a valid topic the bus calls, on the emitting goroutine:
// EmitStart; then for each listener it calls, ListenerStart, the listener,
// ListenerEnd; then EmitEnd. A nested emit, made by a listener, is observed
// inside the listener's ListenerStart and ListenerEnd, with the context
// the listener passes it. Emits on several goroutines call the Observer
// concurrently: its methods must be safe for concurrent use.
//
// The topic is the emitted topic; a [Subscription]'s Topic is the topic or
// pattern it subscribed with, which bounds the cardinality of anything
// keyed by it. A panic in an Observer method is recovered and dropped, as
// one in the [ErrorHandler] is: the emit goes on with the context it had,
// and every listener still runs.
type Observer interface {
	// EmitStart is called when an emit of topic begins, before its first
	// listener, with how many listeners it found subscribed (listeners
	// removed while it runs are skipped, so it may call fewer). The
	// context it returns is the one the listeners receive, through
	// ListenerStart, and the one EmitEnd receives; a nil context keeps
	// ctx.
	EmitStart(ctx context.Context, topic string, listeners int) context.Context

	// EmitEnd is called when the emit has called every listener, with the
	// error Emit returns.
	EmitEnd(ctx context.Context, topic string, err error)

	// ListenerStart is called before the listener of sub is called, with
	// the context EmitStart returned. The context it returns is passed to
	// the listener, to ListenerEnd, and to the ErrorHandler if the
	// listener fails; a nil context keeps ctx.
	ListenerStart(ctx context.Context, topic string, sub *Subscription) context.Context

	// ListenerEnd is called when the listener of sub has returned, with its
	// error: the error it returned, a *PanicError if it panicked, or an
	// error wrapping ErrPayloadType. It is nil when the listener succeeded.
	ListenerEnd(ctx context.Context, topic string, sub *Subscription, err error)
}

type observerOption struct{ o Observer }

func (o observerOption) apply(b *Bus) { b.observer = o.o }
func (o observerOption) String() string {
	if o.o == nil {
		return "eventbus.WithObserver(nil)"
	}
	return fmt.Sprintf("eventbus.WithObserver(%T)", o.o)
}

// WithObserver installs o, which is told of every emit and every listener
// call of the bus; see [Observer]. A nil o, the default, observes nothing:
// emits then pay one nil check for the possibility.
//
// The bus adds no allocation to an observed emit: what it costs beyond an
// unobserved one is the Observer's own work, plus a deferred recover for
// each listener and two for the emit.
func WithObserver(o Observer) Option { return observerOption{o} }

// emitObserved is Emit, and Topic.Emit, on a bus that has an observer. e is
// the topic's entry, or nil when the topic has no listener of its own.
func emitObserved[T any](ctx context.Context, b *Bus, topic string, payload T, e *entry) error {
	var ls []slot
	if e != nil {
		ls = e.list.snapshot()
	} else {
		if err := validateTopic(topic); err != nil {
			return err
		}
		ls = b.patterns.snapshot()
	}
	matching := e == nil
	o := b.observer
	n := 0
	for i := range ls {
		if sub := ls[i].sub.Load(); sub != nil && sub.state.Load() == subscribed && (!matching || sub.pat.match(topic)) {
			n++
		}
	}
	ctx = observeEmitStart(ctx, o, topic, n)
	var errs []error
	for i := range ls {
		sub := ls[i].sub.Load()
		if sub == nil || sub.state.Load() != subscribed || (matching && !sub.pat.match(topic)) {
			continue
		}
		lctx, err, started := observeListener(ctx, o, topic, payload, sub)
		if !started { // ListenerStart panicked: call the listener all the same
			lctx = ctx
			err = callRecovering(lctx, topic, payload, sub)
			observeListenerEnd(lctx, o, topic, sub, err)
		}
		if err != nil {
			b.report(lctx, topic, sub, err, &errs)
		}
	}
	err := errors.Join(errs...)
	observeEmitEnd(ctx, o, topic, err)
	return err
}

// observeListener calls the listener of sub between ListenerStart and
// ListenerEnd, under one deferred recover, and returns the listener's
// context and error. A panic of the listener becomes its *PanicError; one of
// ListenerEnd is dropped; one of ListenerStart returns started false,
// without calling the listener, for the caller to call it.
func observeListener[T any](ctx context.Context, o Observer, topic string, payload T, sub *Subscription) (lctx context.Context, err error, started bool) {
	const (
		inStart = iota
		inListener
		inEnd
		done
	)
	stage := inStart
	lctx = ctx
	defer func() {
		if stage == done {
			return
		}
		r := recover()
		switch stage {
		case inStart:
			lctx, err, started = ctx, nil, false
		case inListener:
			err, started = &PanicError{Value: r, Stack: debug.Stack()}, true
			observeListenerEnd(lctx, o, topic, sub, err)
		default: // ListenerEnd panicked: dropped
			started = true
		}
	}()
	if c := o.ListenerStart(ctx, topic, sub); c != nil {
		lctx = c
	}
	stage = inListener
	err = call(lctx, topic, payload, sub)
	stage = inEnd
	o.ListenerEnd(lctx, topic, sub, err)
	stage = done
	return lctx, err, true
}

// callRecovering calls sub as runFrom does, for one listener.
func callRecovering[T any](ctx context.Context, topic string, payload T, sub *Subscription) (err error) {
	defer catch(&err)
	return call(ctx, topic, payload, sub)
}

func observeEmitStart(ctx context.Context, o Observer, topic string, n int) (out context.Context) {
	out = ctx
	defer func() { _ = recover() }()
	if c := o.EmitStart(ctx, topic, n); c != nil {
		out = c
	}
	return out
}

func observeEmitEnd(ctx context.Context, o Observer, topic string, err error) {
	defer func() { _ = recover() }()
	o.EmitEnd(ctx, topic, err)
}

func observeListenerEnd(ctx context.Context, o Observer, topic string, sub *Subscription, err error) {
	defer func() { _ = recover() }()
	o.ListenerEnd(ctx, topic, sub, err)
}
