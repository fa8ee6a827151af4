package eventbus

import (
	"cmp"
	"slices"
)

// ListenerCount reports how many listeners an emit of topic would call now:
// those subscribed to topic itself and those whose pattern matches it. For a
// pattern it reports the listeners subscribed with that exact pattern. A
// malformed name has none. It takes no lock; it costs O(1) for a topic
// that has listeners of its own and O(pattern listeners) otherwise.
func (b *Bus) ListenerCount(topic string) int {
	if b == nil {
		return 0
	}
	if IsPattern(topic) {
		n := 0
		for sub := range subs(b.patterns.snapshot()) {
			if sub.topic == topic {
				n++
			}
		}
		return n
	}
	if e := b.lookup(topic); e != nil {
		return e.list.len()
	}
	if validateTopic(topic) != nil {
		return 0
	}
	n := 0
	for sub := range subs(b.patterns.snapshot()) {
		if sub.pat.match(topic) {
			n++
		}
	}
	return n
}

// HasListeners reports whether an emit of topic would call any listener;
// for a pattern, whether any listener is subscribed with it.
func (b *Bus) HasListeners(topic string) bool { return b.ListenerCount(topic) > 0 }

// Len reports the number of live subscriptions on the bus, over all topics
// and patterns.
func (b *Bus) Len() int {
	if b == nil {
		return 0
	}
	return int(b.total.Load())
}

// Topics returns, sorted, the topics and patterns that have at least one
// listener subscribed with that exact name. It costs O(topics + pattern
// listeners).
func (b *Bus) Topics() []string {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var names []string
	if t := b.topics.Load(); t != nil {
		t.each(func(e *entry) {
			if e.list.owned() > 0 {
				names = append(names, e.topic)
			}
		})
	}
	for sub := range subs(b.patterns.snapshot()) {
		names = append(names, sub.topic)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Clear removes every listener subscribed with exactly the topic or pattern
// name, as [Subscription.Unsubscribe] would, and returns how many it
// removed. Listeners of patterns that match a topic are not listeners of
// that topic: Clear("order:completed") leaves "order:*" alone.
//
// Clear of a topic costs O(listeners of the topic), counting the pattern
// listeners that match it; Clear of a pattern costs O(pattern listeners),
// plus O(topics) for each listener removed. The [OnRemoved] functions of
// the removed listeners run before Clear returns, in subscription order.
func (b *Bus) Clear(name string) int {
	if b == nil {
		return 0
	}
	var victims []*Subscription
	b.mu.Lock()
	var ls []slot
	if IsPattern(name) {
		ls = b.patterns.snapshot()
	} else if e := b.lookup(name); e != nil {
		ls = e.list.snapshot()
	}
	for i := range ls {
		if sub := ls[i].sub.Load(); sub != nil && sub.topic == name && sub.state.CompareAndSwap(subscribed, removed) {
			victims = append(victims, sub)
		}
	}
	b.detachAllLocked(victims)
	b.mu.Unlock()
	b.notifyAll(victims)
	return len(victims)
}

// ClearAll removes every listener from the bus and returns how many it
// removed. It costs O(n log n) for n listeners, plus, for each pattern
// listener, O(topics that typed topics keep on the bus). The [OnRemoved]
// functions of the removed listeners run before ClearAll returns, in
// subscription order.
func (b *Bus) ClearAll() int {
	if b == nil {
		return 0
	}
	var victims []*Subscription
	b.mu.Lock()
	if t := b.topics.Load(); t != nil {
		t.each(func(e *entry) {
			for sub := range subs(e.list.snapshot()) {
				if sub.pat == nil && sub.state.CompareAndSwap(subscribed, removed) {
					victims = append(victims, sub)
				}
			}
		})
	}
	for sub := range subs(b.patterns.snapshot()) {
		if sub.state.CompareAndSwap(subscribed, removed) {
			victims = append(victims, sub)
		}
	}
	b.detachAllLocked(victims)
	b.mu.Unlock()
	slices.SortFunc(victims, func(a, c *Subscription) int { return cmp.Compare(a.id, c.id) })
	b.notifyAll(victims)
	return len(victims)
}

// detachAllLocked detaches the victims, which this goroutine marked
// removed. Listeners of topics go first: the entries they leave without a
// listener of their own are dropped, so that each pattern listener then
// visits only the topics still there. The caller holds b.mu.
func (b *Bus) detachAllLocked(victims []*Subscription) {
	for _, sub := range victims {
		if sub.pat == nil {
			b.detachLocked(sub)
		}
	}
	for _, sub := range victims {
		if sub.pat != nil {
			b.detachLocked(sub)
		}
	}
}

// notifyAll calls the OnRemoved functions of the victims, in order.
func (b *Bus) notifyAll(victims []*Subscription) {
	for _, sub := range victims {
		b.notifyDetached(sub)
	}
}
