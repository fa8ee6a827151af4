package eventbus

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
)

// Subscription is one listener's registration on a bus, returned by Listen.
// Its methods are safe for concurrent use, and on a nil *Subscription.
type Subscription struct {
	// The first 64 bytes hold what emits may read (state, in a retired
	// seg; fn, pat for a pattern listener), and are written only when the
	// subscription is removed (state). Rebuilding a list writes idx, in the
	// second half, so that emits under way do not lose the cache line.
	// 128 bytes in all: the size class of the allocation, aligned to it.
	state atomic.Uint32                    // subscribed or removed, set under the bus's mutex
	call  any                              // the listener as subscribed, copied into its slots
	fn    func(context.Context, any) error // for a typed listener, call converting the payload
	pat   *pattern                         // nil for an exact topic
	bus   *Bus
	id    uint64 // unique within the bus, increasing in subscription order
	_     [8]byte

	entry     *entry  // the topic's entry for an exact listener, nil for a pattern; immutable
	idx       int     // index in the home list's current seg; guarded by bus.mu
	topic     string  // the topic or pattern it was subscribed with
	name      string  // WithName, or "" to name it after pc
	pc        uintptr // the listener function's entry point
	onRemoved func()  // OnRemoved, or nil
}

const (
	subscribed uint32 = iota
	removed
)

// Event is what a listener subscribed with [Bus.ListenEvents] receives: the
// topic that was emitted, which a pattern listener cannot know otherwise,
// and the payload.
type Event struct {
	Topic   string
	Payload any
}

// eventsFunc is the call of a ListenEvents listener. Its own type keeps
// it apart from a typed listener of Topic[Event], whose function has the
// same signature but wants the payload as is.
type eventsFunc func(ctx context.Context, e Event) error

// home returns the list whose index sub records: its topic's list, or the
// bus's pattern list.
func (s *Subscription) home() *list {
	if s.entry != nil {
		return &s.entry.list
	}
	return &s.bus.patterns
}

// makeOnce wraps the listener so that the first emit to reach it claims
// it, removes it and calls it, and every other emit skips it. A typed
// listener is called through its converting form, so that emits go through
// the wrapper: the hot loop then needs no check of its own for once
// listeners.
func (s *Subscription) makeOnce() {
	if fn, ok := s.call.(eventsFunc); ok {
		s.call = eventsFunc(func(ctx context.Context, e Event) error {
			if !s.bus.claim(s) {
				return nil
			}
			if s.onRemoved != nil {
				defer s.bus.notifyRemoved(ctx, s)
			}
			return fn(ctx, e)
		})
		return
	}
	fn := s.fn
	s.fn = func(ctx context.Context, payload any) error {
		if !s.bus.claim(s) {
			return nil
		}
		if s.onRemoved != nil {
			defer s.bus.notifyRemoved(ctx, s)
		}
		return fn(ctx, payload)
	}
	s.call = s.fn
}

// Unsubscribe removes the listener from the bus and reports whether this
// call removed it: a second call, a call after [Bus.Clear], and a call
// after a [Once] listener ran are harmless and return false.
//
// The removal takes effect at once, also for emits under way: an emit that
// reaches the listener after Unsubscribe returned skips it, and no emit
// that begins afterwards calls it. Only a call that an emit on another
// goroutine had already begun may still be running or about to run. When
// a call that removed the subscription (it returns true) returns, the
// function given to [OnRemoved] has run; a call that returns false does
// not wait for the call that removed it, and the OnRemoved of a [Once]
// listener that an emit claimed runs only when the listener returns.
//
// Unsubscribe costs O(1) amortized for a listener of a topic, and
// O(topics) for a pattern listener (times log n for each topic it
// matches, n the listeners of that topic).
func (s *Subscription) Unsubscribe() bool {
	if s == nil || s.bus == nil {
		return false
	}
	if !s.bus.claim(s) {
		return false
	}
	s.bus.notifyDetached(s)
	return true
}

// Active reports whether the subscription is still registered.
func (s *Subscription) Active() bool {
	return s != nil && s.bus != nil && s.state.Load() == subscribed
}

// Topic returns the topic or pattern the listener subscribed to.
func (s *Subscription) Topic() string {
	if s == nil {
		return ""
	}
	return s.topic
}

// Name returns the listener's name as error reports show it: the one given
// with [WithName], or the listener function's, as the runtime reports it.
func (s *Subscription) Name() string {
	if s == nil {
		return ""
	}
	if s.name != "" {
		return s.name
	}
	if f := runtime.FuncForPC(s.pc); f != nil {
		return f.Name()
	}
	return fmt.Sprintf("func@%#x", s.pc)
}

// ID returns the subscription's id, unique within its bus and increasing in
// subscription order.
func (s *Subscription) ID() uint64 {
	if s == nil {
		return 0
	}
	return s.id
}
