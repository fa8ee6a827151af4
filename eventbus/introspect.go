package eventbus

import (
	"slices"
)

// ListenerCount reports how many listeners an emit of topic would call now:
// those subscribed to topic itself and those whose pattern matches it. For a
// pattern it reports the listeners subscribed with that exact pattern. A
// malformed name has none.
func (b *Bus) ListenerCount(topic string) int {
	if IsPattern(topic) {
		n := 0
		if ps := b.patterns.Load(); ps != nil {
			for _, l := range ps.ls {
				if l.topic == topic {
					n++
				}
			}
		}
		return n
	}
	if e := b.topicMap()[topic]; e != nil {
		return len(e.subs.Load().ls)
	}
	if validateTopic(topic) != nil {
		return 0
	}
	n := 0
	if ps := b.patterns.Load(); ps != nil {
		for _, l := range ps.ls {
			if l.pat.match(topic) {
				n++
			}
		}
	}
	return n
}

// HasListeners reports whether an emit of topic would call any listener;
// for a pattern, whether any listener is subscribed with it.
func (b *Bus) HasListeners(topic string) bool { return b.ListenerCount(topic) > 0 }

// Len reports the number of live subscriptions on the bus, over all topics
// and patterns.
func (b *Bus) Len() int { return int(b.total.Load()) }

// Topics returns, sorted, the topics and patterns that have at least one
// listener subscribed with that exact name.
func (b *Bus) Topics() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var names []string
	for name, e := range b.topicMap() {
		if e.exact > 0 {
			names = append(names, name)
		}
	}
	if ps := b.patterns.Load(); ps != nil {
		for _, l := range ps.ls {
			names = append(names, l.topic)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Clear removes every listener subscribed with exactly the topic or pattern
// name, as [Subscription.Unsubscribe] would, and returns how many it
// removed. Listeners of patterns that match a topic are not listeners of
// that topic: Clear("order:completed") leaves "order:*" alone.
func (b *Bus) Clear(name string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var victims []*listener
	if IsPattern(name) {
		if ps := b.patterns.Load(); ps != nil {
			for _, l := range ps.ls {
				if l.topic == name {
					victims = append(victims, l)
				}
			}
		}
	} else if e := b.topicMap()[name]; e != nil {
		for _, l := range e.subs.Load().ls {
			if l.pat == nil {
				victims = append(victims, l)
			}
		}
	}
	return b.removeAllLocked(victims)
}

// ClearAll removes every listener from the bus and returns how many it
// removed.
func (b *Bus) ClearAll() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var victims []*listener
	for _, e := range b.topicMap() {
		for _, l := range e.subs.Load().ls {
			if l.pat == nil {
				victims = append(victims, l)
			}
		}
	}
	if ps := b.patterns.Load(); ps != nil {
		victims = append(victims, ps.ls...)
	}
	return b.removeAllLocked(victims)
}

func (b *Bus) removeAllLocked(victims []*listener) int {
	n := 0
	for _, l := range victims {
		if b.removeLocked(l) {
			n++
		}
	}
	return n
}
