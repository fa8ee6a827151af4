package eventbus

import (
	"context"
	"errors"
	"runtime/debug"
)

// Emit calls every listener of topic with payload, synchronously: on the
// caller's goroutine, in subscription order, before it returns. Listeners
// of patterns that match topic are included in that order. The set of
// listeners is the one registered when Emit began; listeners added or
// removed meanwhile, also by a listener, take effect from the next emit.
// A listener may emit again (nested emits run to completion first).
//
// A listener that returns an error, panics, or expects another payload type
// does not stop the others: each failure is given to the bus's
// [ErrorHandler] as a *[ListenerError] and Emit returns them joined with
// errors.Join, or nil when every listener succeeded. Emit does not look at
// ctx; it hands it to the listeners.
//
// An empty topic, one with an empty segment, or one that holds '*' is
// refused with an error wrapping [ErrInvalidTopic]. Emit takes no lock. It
// does not allocate unless a listener fails, or the topic has no listener
// of its own and pattern listeners match it.
func (b *Bus) Emit(ctx context.Context, topic string, payload any) error {
	if m := b.topics.Load(); m != nil {
		if e := (*m)[topic]; e != nil { // emitEntry, spelled out to save a call
			ls := e.subs.Load().ls
			next, err := runFrom(ctx, topic, payload, ls, 0)
			if err == nil {
				return nil
			}
			return finish(ctx, b, topic, payload, ls, next, err)
		}
	}
	if err := validateTopic(topic); err != nil {
		return err
	}
	if ps := b.patterns.Load(); ps != nil {
		return dispatchPatterns(ctx, b, topic, payload, ps.ls)
	}
	return nil
}

// emitEntry calls the listeners of e.
func emitEntry[T any](ctx context.Context, b *Bus, e *entry, payload T) error {
	ls := e.subs.Load().ls
	next, err := runFrom(ctx, e.topic, payload, ls, 0)
	if err == nil {
		return nil
	}
	return finish(ctx, b, e.topic, payload, ls, next, err)
}

// dispatch calls the listeners ls in order and returns their joined errors.
func dispatch[T any](ctx context.Context, b *Bus, topic string, payload T, ls []*listener) error {
	next, err := runFrom(ctx, topic, payload, ls, 0)
	if err == nil {
		return nil
	}
	return finish(ctx, b, topic, payload, ls, next, err)
}

// finish handles an emit after the listener ls[next] failed with err: it
// reports err, resumes after that listener, and joins every failure.
func finish[T any](ctx context.Context, b *Bus, topic string, payload T, ls []*listener, next int, err error) error {
	var errs []error
	for err != nil {
		b.report(ctx, topic, ls[next], err, &errs)
		next, err = runFrom(ctx, topic, payload, ls, next+1)
	}
	return errors.Join(errs...)
}

// runFrom calls ls[i:] in order until one fails. It returns len(ls) and nil
// when all succeed, or the index of the listener that returned an error or
// panicked and that error (a *PanicError for a panic). One deferred recover
// per call keeps the loop free of per-listener defers, and the short
// argument list stays in registers: this is the whole hot path.
func runFrom[T any](ctx context.Context, topic string, payload T, ls []*listener, i int) (next int, err error) {
	defer catch(&err)
	for next = i; next < len(ls); next++ {
		l := ls[next]
		if f, ok := l.typed.(func(context.Context, T) error); ok {
			err = f(ctx, payload)
		} else if l.event == nil {
			err = l.fn(ctx, payload)
		} else {
			err = l.event(ctx, Event{Topic: topic, Payload: payload})
		}
		if err != nil {
			return next, err
		}
	}
	return next, nil
}

// catch is runFrom's deferred call: it turns a listener's panic into a
// *PanicError. A plain function rather than a closure costs less per emit.
func catch(err *error) {
	if r := recover(); r != nil {
		*err = &PanicError{Value: r, Stack: debug.Stack()}
	}
}

// runTyped is runFrom for a list whose listeners are all typed listeners
// of T, given as their functions: the loop neither reads the listeners nor
// checks their types.
func runTyped[T any](ctx context.Context, payload T, fns []func(context.Context, T) error) (next int, err error) {
	defer catch(&err)
	for next = 0; next < len(fns); next++ {
		if err = fns[next](ctx, payload); err != nil {
			return next, err
		}
	}
	return next, nil
}

// dispatchPatterns calls the pattern listeners in ls that match topic, a
// topic that no listener subscribed to by name.
func dispatchPatterns(ctx context.Context, b *Bus, topic string, payload any, ls []*listener) error {
	var matched []*listener
	for _, l := range ls {
		if l.pat.match(topic) {
			matched = append(matched, l)
		}
	}
	if matched == nil {
		return nil
	}
	return dispatch(ctx, b, topic, payload, matched)
}

// report builds the ListenerError for l, appends it to errs and hands it to
// the error handler.
func (b *Bus) report(ctx context.Context, topic string, l *listener, err error, errs *[]error) {
	le := &ListenerError{Topic: topic, Listener: l.name, ID: l.id, Err: err}
	*errs = append(*errs, le)
	if b.onError != nil {
		callHandler(ctx, b.onError, le)
	}
}

// callHandler runs h and drops a panic from it: the failure it was told of
// is still returned by Emit.
func callHandler(ctx context.Context, h ErrorHandler, le *ListenerError) {
	defer func() { _ = recover() }()
	h(ctx, le)
}
