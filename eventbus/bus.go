package eventbus

import (
	"context"
	"fmt"
	"hash/maphash"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Bus is a synchronous in-process event bus. Listeners subscribe to a topic
// ("order:completed") or a pattern ("order:*"); Emit calls every listener of
// the topic on the caller's goroutine, in subscription order, before it
// returns.
//
// The zero value is an empty bus with no error handler and no observer,
// ready to use. A Bus must not be copied after first use. All methods are
// safe for concurrent use, also from inside a listener while an emit is
// running.
//
// Emit takes no lock: it finds the topic's entry in a hash table and
// iterates the entry's listener list, both read through atomic loads, and
// allocates nothing unless a listener fails (see [Bus.Emit] for the
// exceptions). Listen, Unsubscribe and Clear change them under one mutex,
// in place: no change copies the table or a whole list, except the
// amortized growth and compaction that keep each O(1) (see the package
// documentation, "Cost").
type Bus struct {
	// Read by every emit; written by New, and through the atomic pointers.
	topics   atomic.Pointer[table] // nil until the first topic
	patterns list                  // pattern listeners, in subscription order
	observer Observer              // set by New only
	onError  ErrorHandler          // set by New only

	// Keeps the fields below, which every change writes, off the cache
	// lines that emits read.
	_ [64]byte

	mu     sync.Mutex   // serializes every change of topics, patterns and the lists
	nextID uint64       // guarded by mu
	total  atomic.Int64 // live subscriptions
}

// New returns an empty bus configured by opts. A nil Option is ignored.
func New(opts ...Option) *Bus {
	b := &Bus{}
	for _, o := range opts {
		if o != nil {
			o.apply(b)
		}
	}
	return b
}

// Listen subscribes fn to topic, which is a plain topic or a pattern (see
// the package documentation for the rules), and returns the subscription.
// The listener is called for every later emit of a matching topic until the
// subscription is removed by [Subscription.Unsubscribe], [Bus.Clear],
// [Bus.ClearAll] or, for a [Once] listener, its first call. An emit that is
// under way when Listen returns does not call it.
//
// Listen costs O(1) amortized for a topic: the first listener of a topic
// also costs O(pattern listeners), to merge those that match. A pattern
// costs O(topics). Listen fails with an error wrapping [ErrNilListener] or
// [ErrInvalidTopic] and naming the topic; it never panics. A nil
// ListenOption is ignored, and a nil *Bus is an error.
func (b *Bus) Listen(topic string, fn func(ctx context.Context, payload any) error, opts ...ListenOption) (*Subscription, error) {
	if fn == nil {
		return nil, fmt.Errorf("listen to %q: %w", topic, ErrNilListener)
	}
	return b.subscribe(topic, &Subscription{call: fn, fn: fn}, fn, opts)
}

// ListenEvents is [Bus.Listen] for a listener that needs to know which
// topic was emitted, such as one subscribed to "*" that audits every event:
// fn receives the topic with the payload.
func (b *Bus) ListenEvents(topic string, fn func(ctx context.Context, e Event) error, opts ...ListenOption) (*Subscription, error) {
	if fn == nil {
		return nil, fmt.Errorf("listen to %q: %w", topic, ErrNilListener)
	}
	return b.subscribe(topic, &Subscription{call: eventsFunc(fn)}, fn, opts)
}

// subscribe validates topic, finishes sub and adds it to the bus. named is
// the user's function, whose name identifies the listener by default.
func (b *Bus) subscribe(topic string, sub *Subscription, named any, opts []ListenOption) (*Subscription, error) {
	if b == nil {
		return nil, nilBus("listen to", topic)
	}
	sub.bus, sub.topic = b, topic
	if IsPattern(topic) {
		p, err := compilePattern(topic)
		if err != nil {
			return nil, err
		}
		sub.pat = p
	} else if err := validateTopic(topic); err != nil {
		return nil, err
	}
	var cfg listenConfig
	for _, o := range opts {
		if o != nil { // bad input is never a panic
			cfg = o.applyListen(cfg)
		}
	}
	sub.name, sub.onRemoved = cfg.name, cfg.onRemoved
	if sub.name == "" {
		sub.pc = reflect.ValueOf(named).Pointer() // named lazily: FuncForPC costs more than the rest of Listen
	}
	if cfg.once {
		sub.makeOnce()
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	sub.id = b.nextID
	if sub.pat == nil {
		sub.entry = b.entryLocked(topic)
		sub.entry.list.add(sub, true)
	} else {
		b.patterns.add(sub, true)
		if t := b.topics.Load(); t != nil {
			t.each(func(e *entry) {
				if sub.pat.match(e.topic) {
					e.list.add(sub, false)
				}
			})
		}
	}
	b.total.Add(1)
	return sub, nil
}

// entryLocked returns the entry of topic, creating it with the pattern
// listeners that match it. The caller holds b.mu.
func (b *Bus) entryLocked(topic string) *entry {
	t := b.topics.Load()
	if t != nil {
		if e := t.get(topic); e != nil {
			return e
		}
	} else {
		t = newTable(maphash.MakeSeed(), 1)
	}
	e := &entry{topic: topic, hash: t.hash(topic)}
	for sub := range subs(b.patterns.snapshot()) {
		if sub.pat.match(topic) {
			e.list.add(sub, false)
		}
	}
	if e.list.cur.Load() == nil { // no pattern matches: start with the embedded seg
		e.first.slots = e.slot[:]
		e.list.cur.Store(&e.first)
	}
	b.topics.Store(t.insert(e))
	return e
}

// claim marks sub removed and, if this call did, takes it off the bus. It
// reports whether this call removed it. The caller calls notifyRemoved
// afterwards, outside any lock. The mark is made under b.mu, as Clear's
// are: a call that finds sub already marked returns only once the call
// that marked it has taken it off every list, so that no emit that begins
// afterwards can find it there.
func (b *Bus) claim(sub *Subscription) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !sub.state.CompareAndSwap(subscribed, removed) {
		return false
	}
	b.detachLocked(sub)
	return true
}

// detachLocked takes sub, already marked removed, off every list that
// holds it. The caller holds b.mu.
func (b *Bus) detachLocked(sub *Subscription) {
	b.total.Add(-1)
	if e := sub.entry; e != nil {
		e.list.removeAt(sub.idx, sub)
		if e.list.owned() == 0 && !e.pinned {
			// The entry leaves the table with the slots of the pattern
			// listeners that match it, which removals will no longer
			// clear: emits under way check their state from now on.
			e.list.retire()
			b.topics.Store(b.topics.Load().remove(e))
			return
		}
		e.list.compact()
		return
	}
	b.patterns.removeAt(sub.idx, sub)
	b.patterns.compact()
	if t := b.topics.Load(); t != nil {
		t.each(func(e *entry) {
			if sub.pat.match(e.topic) {
				if i := e.list.find(sub.id); i >= 0 && e.list.holds(i, sub) {
					e.list.removeAt(i, sub)
					e.list.compact()
				}
			}
		})
	}
}

// notifyDetached is notifyRemoved for a removal outside any emit, which
// has no context of its own.
//
//nolint:contextcheck,nolintlint // callers are not flagged: Unsubscribe, Clear and ClearAll take no context, so the error handler gets a background one (contextcheck reads this on the declaration)
func (b *Bus) notifyDetached(sub *Subscription) {
	b.notifyRemoved(context.Background(), sub)
}

// notifyRemoved calls sub's OnRemoved function, if any. A panic in it is
// recovered and reported to the error handler.
func (b *Bus) notifyRemoved(ctx context.Context, sub *Subscription) {
	if sub.onRemoved == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil && b.onError != nil {
			err := fmt.Errorf("%w: %w", ErrOnRemoved, &PanicError{Value: r, Stack: debug.Stack()})
			callHandler(ctx, b.onError, &ListenerError{Topic: sub.topic, Listener: sub.Name(), ID: sub.id, Err: err})
		}
	}()
	sub.onRemoved()
}
