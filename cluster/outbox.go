package cluster

import "sync"

// outbox holds, in order, the at-least-once events that could not be
// published when they were emitted, up to a limit.
type outbox struct {
	mu     sync.Mutex
	items  []outItem // guarded by mu
	closed bool      // takeAll has run: nothing is added any more; guarded by mu
	limit  int
	wake   chan struct{} // signalled when an item is added
}

type outItem struct {
	m *Message
	g Guarantee
}

func newOutbox(limit int) *outbox {
	return &outbox{limit: limit, wake: make(chan struct{}, 1)}
}

// add appends it unless the outbox is full or closed, and wakes the
// flusher. It reports whether it added it, and else whether it is closed.
func (o *outbox) add(it outItem) (added, closed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false, true
	}
	if len(o.items) >= o.limit {
		return false, false
	}
	o.items = append(o.items, it)
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true, false
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items)
}

// head returns the oldest item.
func (o *outbox) head() (outItem, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.items) == 0 {
		return outItem{}, false
	}
	return o.items[0], true
}

// pop removes the oldest item.
func (o *outbox) pop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.items[0] = outItem{}
	o.items = o.items[1:]
}

// takeAll empties the outbox and returns what it held.
// takeAll empties the outbox and closes it: a later add fails.
func (o *outbox) takeAll() []outItem {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	items := o.items
	o.items = nil
	return items
}
