package eventbus

import (
	"iter"
	"sync/atomic"
)

// list is the listener list of one topic (its own listeners and the
// pattern listeners that match it) or the bus's list of pattern listeners,
// in subscription order.
//
// Emits read it without a lock: they load the current seg and its
// published length once, and iterate that prefix. Changes are made under
// the bus's mutex and never copy the list:
//
//   - a new listener is written to the first free slot past the published
//     length and the length is then published, so an emit that began
//     earlier never sees it;
//   - a removed listener's slot is cleared in place (a tombstone) after its
//     state was set to removed: an emit that finds the slot cleared skips
//     it;
//   - when the seg is full, or when tombstones outnumber listeners, the live
//     listeners are copied to a new seg with room for as many again, which
//     is published with one atomic store. Emits under way keep iterating the
//     old seg, whose slots are no longer cleared: it is marked retired
//     first, and emits check the state of each listener of a retired seg,
//     which keeps them from calling a listener removed after the copy. A
//     current seg spares them that load.
//
// A copy moves k listeners after at least k/2 additions or removals since
// the last one, so every change costs O(1) amortized. A copy leaves two
// slots per listener; additions fill them, and removals without additions
// leave at least half of them live, so a seg never holds more than four
// slots per listener (one for a list of one).
type list struct {
	cur atomic.Pointer[seg] // nil until the first listener
}

// seg is one version of a list.
type seg struct {
	n       atomic.Int32 // published length: emits read slots[:n]
	retired atomic.Bool  // a newer seg replaced this one: its slots are no longer cleared
	live    atomic.Int32 // non-empty slots in slots[:n]; written under the bus's mutex
	own     int32        // of those, listeners subscribed to exactly the entry's topic; guarded by the bus's mutex
	slots   []slot       // slots[n:] are free; len(slots) is the capacity
}

// slot is one position of a seg. It holds the listener's function beside
// the subscription, so that an emit reaches the function without loading
// the subscription's own fields; only in a retired seg does it read the
// subscription's state (see seg.skip).
type slot struct {
	call any                          // the subscription's call, immutable once published
	sub  atomic.Pointer[Subscription] // nil once the subscription is removed
	id   uint64                       // the subscription's id; slots are sorted by it
}

// snapshot returns the slots an emit that begins now iterates.
func (l *list) snapshot() []slot {
	_, ls := l.load()
	return ls
}

// load returns the current seg and the slots an emit that begins now
// iterates.
func (l *list) load() (*seg, []slot) {
	s := l.cur.Load()
	if s == nil {
		return nil, nil
	}
	return s, s.slots[:s.n.Load()]
}

// skip reports whether an emit iterating s skips the listener sub, read
// from one of its slots: a cleared slot, or, in a retired seg, a listener
// whose state is no longer subscribed.
func (s *seg) skip(sub *Subscription) bool {
	return sub == nil || s.retired.Load() && sub.state.Load() != subscribed
}

// subs yields the subscriptions of the slots ls that are not empty, in
// order.
func subs(ls []slot) iter.Seq[*Subscription] {
	return func(yield func(*Subscription) bool) {
		for i := range ls {
			if sub := ls[i].sub.Load(); sub != nil && !yield(sub) {
				return
			}
		}
	}
}

// capFor returns the capacity of a seg built for k listeners: room for as
// many again, so that the next copy is at least k changes away.
func capFor(k int) int {
	if k <= 1 {
		return k
	}
	return 2 * k
}

// add appends sub and returns its index in the current seg. home says
// whether this list is sub's home, the list whose index sub records. The
// caller holds the bus's mutex.
func (l *list) add(sub *Subscription, home bool) int {
	s := l.cur.Load()
	if s == nil || int(s.n.Load()) == len(s.slots) {
		live := 0
		if s != nil {
			live = int(s.live.Load())
		}
		s = l.rebuild(capFor(live + 1))
	}
	i := s.n.Load()
	s.slots[i].call, s.slots[i].id = sub.call, sub.id
	s.slots[i].sub.Store(sub)
	s.live.Add(1)
	if sub.pat == nil {
		s.own++
	}
	s.n.Store(i + 1) // publishes the slot
	if home {
		sub.idx = int(i)
	}
	return int(i)
}

// removeAt clears slot i of the current seg, which holds sub. The caller
// holds the bus's mutex and calls compact once it knows the list stays.
func (l *list) removeAt(i int, sub *Subscription) {
	s := l.cur.Load()
	s.slots[i].sub.Store(nil)
	s.live.Add(-1)
	if sub.pat == nil {
		s.own--
	}
}

// compact copies the list to a smaller seg when tombstones outnumber
// listeners. The caller holds the bus's mutex.
func (l *list) compact() {
	s := l.cur.Load()
	if s == nil {
		return
	}
	if live, dead := s.live.Load(), s.n.Load()-s.live.Load(); dead > live {
		l.rebuild(capFor(int(live)))
	}
}

// rebuild publishes a new seg of capacity c holding the listeners of the
// current one, and records their new index in those whose home it is. The
// caller holds the bus's mutex.
func (l *list) rebuild(c int) *seg {
	ns := &seg{slots: make([]slot, c)}
	j := int32(0)
	if old := l.cur.Load(); old != nil {
		for i := range old.slots[:old.n.Load()] {
			sub := old.slots[i].sub.Load()
			if sub == nil {
				continue
			}
			ns.slots[j].call, ns.slots[j].id = old.slots[i].call, old.slots[i].id
			ns.slots[j].sub.Store(sub)
			if sub.home() == l {
				sub.idx = int(j)
			}
			j++
		}
		ns.own = old.own
		old.retired.Store(true) // before ns is published: see list
	}
	ns.live.Store(j)
	ns.n.Store(j)
	l.cur.Store(ns)
	return ns
}

// retire marks the current seg retired: its slots will no longer be
// cleared. The caller holds the bus's mutex.
func (l *list) retire() {
	if s := l.cur.Load(); s != nil {
		s.retired.Store(true)
	}
}

// find returns the index of the subscription id in the current seg, or -1.
// The caller holds the bus's mutex.
func (l *list) find(id uint64) int {
	s := l.cur.Load()
	if s == nil {
		return -1
	}
	lo, hi := 0, int(s.n.Load())
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.slots[m].id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < int(s.n.Load()) && s.slots[lo].id == id {
		return lo
	}
	return -1
}

// holds reports whether slot i of the current seg holds sub. The caller
// holds the bus's mutex.
func (l *list) holds(i int, sub *Subscription) bool {
	return l.cur.Load().slots[i].sub.Load() == sub
}

// len reports the listeners of the list.
func (l *list) len() int {
	if s := l.cur.Load(); s != nil {
		return int(s.live.Load())
	}
	return 0
}

// owned reports the listeners subscribed to exactly the entry's topic. The
// caller holds the bus's mutex.
func (l *list) owned() int {
	if s := l.cur.Load(); s != nil {
		return int(s.own)
	}
	return 0
}
