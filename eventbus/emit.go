package eventbus

import (
	"context"
	"errors"
	"runtime/debug"
)

// Emit calls every listener of topic with payload, synchronously: on the
// caller's goroutine, in subscription order, before it returns. Listeners
// of patterns that match topic are included in that order. Emit calls the
// listeners that were subscribed when it began and are still subscribed
// when it reaches them: a listener added meanwhile, also by a listener,
// is called from the next emit on, and one removed before Emit reaches it
// is skipped. A listener may emit again (nested emits run to completion
// first).
//
// A listener that returns an error, panics, or expects another payload type
// does not stop the others: each failure is given to the bus's
// [ErrorHandler] as a *[ListenerError] and Emit returns them joined with
// errors.Join, or nil when every listener succeeded. Emit does not look at
// ctx; it hands it to the listeners (through the [Observer], if the bus
// has one).
//
// An empty topic, one with an empty segment, or one that holds '*' is
// refused with an error wrapping [ErrInvalidTopic]. Emit takes no lock and
// does not allocate unless a listener fails, but for two exceptions:
// removing a [Once] listener that it calls is a change, made under the
// bus's mutex as [Subscription.Unsubscribe] makes it, and refusing a
// malformed topic allocates the error that names it. It costs one hash
// lookup and O(listeners of the topic); a topic that has no listener of
// its own costs O(pattern listeners), to find those that match.
func (b *Bus) Emit(ctx context.Context, topic string, payload any) error {
	if b.observer != nil {
		return emitObserved(ctx, b, topic, payload, b.lookup(topic))
	}
	if t := b.topics.Load(); t != nil {
		if e := t.get(topic); e != nil { // emitEntry, spelled out to save a call
			s := e.list.cur.Load()
			n := int(s.n.Load())
			next, failed, err := runFrom(ctx, topic, payload, s, n, 0)
			if err == nil {
				return nil
			}
			return finish(ctx, b, topic, payload, s, n, false, next, failed, err)
		}
	}
	if err := validateTopic(topic); err != nil {
		return err
	}
	return dispatchPatterns(ctx, b, topic, payload)
}

// lookup returns the entry of topic, or nil.
func (b *Bus) lookup(topic string) *entry {
	if t := b.topics.Load(); t != nil {
		return t.get(topic)
	}
	return nil
}

// emitEntry calls the listeners of e.
func emitEntry[T any](ctx context.Context, b *Bus, e *entry, payload T) error {
	s := e.list.cur.Load()
	n := int(s.n.Load())
	next, failed, err := runFrom(ctx, e.topic, payload, s, n, 0)
	if err == nil {
		return nil
	}
	return finish(ctx, b, e.topic, payload, s, n, false, next, failed, err)
}

// dispatchPatterns calls the pattern listeners that match topic, a topic
// that no listener subscribed to by name.
func dispatchPatterns[T any](ctx context.Context, b *Bus, topic string, payload T) error {
	s, ls := b.patterns.load()
	next, failed, err := runMatching(ctx, topic, payload, s, len(ls), 0)
	if err == nil {
		return nil
	}
	return finish(ctx, b, topic, payload, s, len(ls), true, next, failed, err)
}

// finish handles an emit of the first n slots of s after the listener
// failed, at slot next, failed with err: it reports err, resumes after
// that listener, and joins every failure. matching says that s is the
// pattern list's, whose listeners that do not match topic are skipped.
func finish[T any](ctx context.Context, b *Bus, topic string, payload T, s *seg, n int, matching bool, next int, failed *Subscription, err error) error {
	var errs []error
	for err != nil {
		b.report(ctx, topic, failed, err, &errs)
		if matching {
			next, failed, err = runMatching(ctx, topic, payload, s, n, next+1)
		} else {
			next, failed, err = runFrom(ctx, topic, payload, s, n, next+1)
		}
	}
	return errors.Join(errs...)
}

// runFrom calls the listeners of the slots i to n-1 of s, in order until
// one fails, skipping removed ones (see seg.skip). It returns n and nil
// when all succeed, or the index and the subscription of the listener
// that returned an error or panicked and that error (a *PanicError for a
// panic). One deferred recover per call keeps the loop free of
// per-listener defers: this is the whole hot path. It takes s and n rather
// than a slice, and indexes s.slots afresh after each call, so that fewer
// values live across the listener's call.
func runFrom[T any](ctx context.Context, topic string, payload T, s *seg, n, i int) (next int, failed *Subscription, err error) {
	defer catch(&err)
	for next = i; next < n; next++ {
		sl := &s.slots[next]
		failed = sl.sub.Load()
		if s.skip(failed) {
			continue
		}
		// call, spelled out: the compiler does not inline it here.
		switch f := sl.call.(type) {
		case func(context.Context, T) error:
			err = f(ctx, payload)
		case func(context.Context, any) error:
			err = f(ctx, payload)
		case eventsFunc:
			err = f(ctx, Event{Topic: topic, Payload: payload})
		default:
			err = failed.fn(ctx, payload)
		}
		if err != nil {
			return next, failed, err
		}
	}
	return next, nil, nil
}

// runMatching is runFrom for the pattern list: it also skips the
// listeners whose pattern does not match topic.
func runMatching[T any](ctx context.Context, topic string, payload T, s *seg, n, i int) (next int, failed *Subscription, err error) {
	defer catch(&err)
	for next = i; next < n; next++ {
		failed = s.slots[next].sub.Load()
		if s.skip(failed) || !failed.pat.match(topic) {
			continue
		}
		if err = call(ctx, topic, payload, failed); err != nil {
			return next, failed, err
		}
	}
	return next, nil, nil
}

// call calls the listener sub with payload, in the form it was subscribed
// with: a typed listener of T gets payload as is, a string listener gets it
// as an any, a ListenEvents listener gets the Event, and a typed listener
// of another type goes through fn, which reports the payload's type.
func call[T any](ctx context.Context, topic string, payload T, sub *Subscription) error {
	switch f := sub.call.(type) {
	case func(context.Context, T) error:
		return f(ctx, payload)
	case func(context.Context, any) error:
		return f(ctx, payload)
	case eventsFunc:
		return f(ctx, Event{Topic: topic, Payload: payload})
	default:
		return sub.fn(ctx, payload)
	}
}

// catch is the deferred call of runFrom and runMatching: it turns a
// listener's panic into a *PanicError. A plain function rather than a
// closure costs less per emit.
func catch(err *error) {
	if r := recover(); r != nil {
		*err = &PanicError{Value: r, Stack: debug.Stack()}
	}
}

// report builds the ListenerError for sub, appends it to errs and hands it
// to the error handler.
func (b *Bus) report(ctx context.Context, topic string, sub *Subscription, err error, errs *[]error) {
	le := &ListenerError{Topic: topic, Listener: sub.Name(), ID: sub.id, Err: err}
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
