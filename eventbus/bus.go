package eventbus

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Bus is a synchronous in-process event bus. Listeners subscribe to a topic
// ("order:completed") or a pattern ("order:*"); Emit calls every listener of
// the topic on the caller's goroutine, in subscription order, before it
// returns.
//
// The zero value is an empty bus with no error handler, ready to use. A Bus
// must not be copied after first use. All methods are safe for concurrent
// use, also from inside a listener while an emit is running.
//
// Emit reads an immutable snapshot of the subscriptions through one atomic
// load: it takes no lock and allocates nothing unless a listener fails.
// Listen, Unsubscribe and Clear copy the affected listener list under a
// mutex, so they cost O(listeners of the topic) plus, for a pattern,
// O(topics).
type Bus struct {
	mu       sync.Mutex                        // serializes every change below
	topics   atomic.Pointer[map[string]*entry] // copy on write; nil means empty
	patterns atomic.Pointer[list]              // pattern subscriptions, in subscription order
	total    atomic.Int64                      // live subscriptions
	nextID   uint64                            // guarded by mu
	onError  ErrorHandler                      // set by New only
}

// list is an immutable slice of listeners in subscription order.
type list struct{ ls []*listener }

// entry holds what an emit of one exact topic calls: its own listeners and
// the pattern listeners that match it, merged in subscription order.
type entry struct {
	topic  string
	bus    *Bus
	exact  int  // listeners subscribed to exactly this topic; guarded by bus.mu
	pinned bool // created for a typed Topic, which caches it; never removed
	subs   atomic.Pointer[list]
}

type listener struct {
	bus     *Bus
	id      uint64
	topic   string   // the topic or pattern it was subscribed with
	pat     *pattern // nil for an exact topic
	name    string
	once    bool
	fired   atomic.Bool // claimed by an emit; once listeners only
	removed bool        // guarded by bus.mu
	fn      func(context.Context, any) error
	event   func(context.Context, Event) error // for ListenEvents, else nil
	typed   any                                // func(context.Context, T) error for a typed listener, else nil
}

// Event is what a listener subscribed with [Bus.ListenEvents] receives: the
// topic that was emitted, which a pattern listener cannot know otherwise,
// and the payload.
type Event struct {
	Topic   string
	Payload any
}

// makeOnce wraps the listener so that the first emit to reach it claims
// it, removes it and calls it, and every other emit skips it. The typed
// form is dropped so that emits go through the wrapper: the hot loop then
// needs no check of its own for once listeners.
func (l *listener) makeOnce() {
	l.typed = nil
	if fn := l.event; fn != nil {
		l.event = func(ctx context.Context, e Event) error {
			if !l.claim() {
				return nil
			}
			return fn(ctx, e)
		}
		return
	}
	fn := l.fn
	l.fn = func(ctx context.Context, payload any) error {
		if !l.claim() {
			return nil
		}
		return fn(ctx, payload)
	}
}

// claim marks a once listener as fired and removes it. It reports false
// when another emit claimed it first.
func (l *listener) claim() bool {
	if !l.fired.CompareAndSwap(false, true) {
		return false
	}
	l.bus.unsubscribe(l)
	return true
}

// New returns an empty bus configured by opts.
func New(opts ...Option) *Bus {
	b := &Bus{}
	for _, o := range opts {
		o.apply(b)
	}
	return b
}

// Listen subscribes fn to topic, which is a plain topic or a pattern (see
// the package documentation for the rules), and returns the subscription.
// The listener is called for every later emit of a matching topic until the
// subscription is removed by [Subscription.Unsubscribe] or [Bus.Clear].
//
// Listen fails with an error wrapping [ErrNilListener] or [ErrInvalidTopic]
// and naming the topic; it never panics.
func (b *Bus) Listen(topic string, fn func(ctx context.Context, payload any) error, opts ...ListenOption) (*Subscription, error) {
	if fn == nil {
		return nil, fmt.Errorf("listen to %q: %w", topic, ErrNilListener)
	}
	l := &listener{fn: fn}
	return b.subscribe(topic, l, fn, opts)
}

// ListenEvents is [Bus.Listen] for a listener that needs to know which
// topic was emitted, such as one subscribed to "*" that audits every event:
// fn receives the topic with the payload.
func (b *Bus) ListenEvents(topic string, fn func(ctx context.Context, e Event) error, opts ...ListenOption) (*Subscription, error) {
	if fn == nil {
		return nil, fmt.Errorf("listen to %q: %w", topic, ErrNilListener)
	}
	l := &listener{event: fn}
	return b.subscribe(topic, l, fn, opts)
}

// subscribe validates topic, finishes l and adds it to the bus. named is the
// user's function, whose name identifies the listener by default.
func (b *Bus) subscribe(topic string, l *listener, named any, opts []ListenOption) (*Subscription, error) {
	l.bus, l.topic = b, topic
	if IsPattern(topic) {
		p, err := compilePattern(topic)
		if err != nil {
			return nil, err
		}
		l.pat = p
	} else if err := validateTopic(topic); err != nil {
		return nil, err
	}
	for _, o := range opts {
		o.applyListen(l)
	}
	if l.name == "" {
		l.name = funcName(named)
	}
	if l.once {
		l.makeOnce()
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	l.id = b.nextID
	if l.pat == nil {
		e := b.entryLocked(topic)
		e.exact++
		e.subs.Store(appendList(e.subs.Load(), l))
	} else {
		b.patterns.Store(appendList(b.patterns.Load(), l))
		for _, e := range b.topicMap() {
			if l.pat.match(e.topic) {
				e.subs.Store(appendList(e.subs.Load(), l))
			}
		}
	}
	b.total.Add(1)
	return &Subscription{bus: b, l: l}, nil
}

// topicMap returns the current topic map, which must be treated as
// read-only; it is nil for a bus that has none.
func (b *Bus) topicMap() map[string]*entry {
	if m := b.topics.Load(); m != nil {
		return *m
	}
	return nil
}

// entryLocked returns the entry of topic, creating it with the pattern
// listeners that match it. The caller holds b.mu.
func (b *Bus) entryLocked(topic string) *entry {
	old := b.topicMap()
	if e, ok := old[topic]; ok {
		return e
	}
	e := &entry{topic: topic, bus: b}
	var merged []*listener
	if ps := b.patterns.Load(); ps != nil {
		for _, l := range ps.ls {
			if l.pat.match(topic) {
				merged = append(merged, l)
			}
		}
	}
	e.subs.Store(&list{ls: merged})
	m := make(map[string]*entry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[topic] = e
	b.topics.Store(&m)
	return e
}

// unsubscribe removes l and reports whether this call removed it.
func (b *Bus) unsubscribe(l *listener) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.removeLocked(l)
}

func (b *Bus) removeLocked(l *listener) bool {
	if l.removed {
		return false
	}
	l.removed = true
	b.total.Add(-1)
	m := b.topicMap()
	if l.pat == nil {
		e := m[l.topic]
		e.exact--
		e.subs.Store(removeList(e.subs.Load(), l))
		if e.exact == 0 && !e.pinned {
			b.dropEntryLocked(l.topic)
		}
		return true
	}
	b.patterns.Store(removeList(b.patterns.Load(), l))
	for _, e := range m {
		if l.pat.match(e.topic) {
			e.subs.Store(removeList(e.subs.Load(), l))
		}
	}
	return true
}

// dropEntryLocked removes the entry of a topic that has no exact listener
// left; emits of it fall back to the pattern list, with the same result.
func (b *Bus) dropEntryLocked(topic string) {
	old := b.topicMap()
	m := make(map[string]*entry, len(old))
	for k, v := range old {
		if k != topic {
			m[k] = v
		}
	}
	b.topics.Store(&m)
}

func appendList(old *list, l *listener) *list {
	var ls []*listener
	if old != nil {
		ls = old.ls
	}
	return &list{ls: append(slices.Clip(ls), l)}
}

func removeList(old *list, l *listener) *list {
	return &list{ls: slices.DeleteFunc(slices.Clone(old.ls), func(x *listener) bool { return x == l })}
}

// funcName names fn as the runtime does, "pkg.(*T).method-fm" for a method
// value.
func funcName(fn any) string {
	v := reflect.ValueOf(fn)
	if f := runtime.FuncForPC(v.Pointer()); f != nil {
		return f.Name()
	}
	return v.Type().String()
}

// Subscription is one listener's registration on a bus, returned by Listen.
// Its methods are safe for concurrent use, and on a nil *Subscription.
type Subscription struct {
	bus *Bus
	l   *listener
}

// Unsubscribe removes the listener from the bus and reports whether this
// call removed it: a second call, a call after [Bus.Clear], and a call
// after a [Once] listener ran are harmless and return false. An emit that
// began before Unsubscribe may still call the listener once; no emit that
// begins after it does.
func (s *Subscription) Unsubscribe() bool {
	if s == nil || s.l == nil {
		return false
	}
	return s.bus.unsubscribe(s.l)
}

// Active reports whether the subscription is still registered.
func (s *Subscription) Active() bool {
	if s == nil || s.l == nil {
		return false
	}
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return !s.l.removed
}

// Topic returns the topic or pattern the listener subscribed to.
func (s *Subscription) Topic() string {
	if s == nil || s.l == nil {
		return ""
	}
	return s.l.topic
}

// Name returns the listener's name as error reports show it.
func (s *Subscription) Name() string {
	if s == nil || s.l == nil {
		return ""
	}
	return s.l.name
}

// ID returns the subscription's id, unique within its bus and increasing in
// subscription order.
func (s *Subscription) ID() uint64 {
	if s == nil || s.l == nil {
		return 0
	}
	return s.l.id
}
