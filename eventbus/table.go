package eventbus

import (
	"hash/maphash"
	"sync/atomic"
)

// entry is what an emit of one exact topic finds: the topic's listener
// list, which holds its own listeners and the pattern listeners that match
// it, merged in subscription order. An entry lives in the topic table while
// it has a listener of its own, or for good once a typed [Topic] has cached
// it (pinned).
//
// A topic's first listener usually stays its only one (per-entity topics
// such as "order:123:updated"), so the entry carries the list's first seg
// and slot: a new topic is one allocation.
type entry struct {
	list   list   // read by emits
	topic  string // immutable
	hash   uint64 // of topic, with the table's seed; immutable
	pinned bool   // guarded by the bus's mutex

	first seg     // the list's first seg, for a topic that no pattern matches
	slot  [1]slot // first's slots
}

// tombstone marks a table slot whose entry was removed, so that probes for
// the topics placed after it go on. It is never modified and matches no
// topic: lookups compare the pointer before they accept a hit.
var tombstone = &entry{}

// table is the bus's map from topic to entry: an open-addressing hash table
// with linear probing, read without a lock by emits and written under the
// bus's mutex.
//
// Inserting writes an empty slot (or a tombstone) with atomic stores,
// removing writes a tombstone; neither moves another entry, so a lookup
// running meanwhile finds every entry that was there when it began and
// not removed since. When live entries and tombstones fill half the slots,
// or live entries fall under a sixteenth, the entries are rehashed into a
// new table of at least three slots per entry (a power of two), published
// with one atomic store; lookups under way finish on the old table, which
// is never written again. A rehash of k entries follows at least k/2
// inserts or removals since the last one, so each costs O(1) amortized,
// and a table holds between 2 and 16 slots per entry (3 to 6 after a
// rehash).
//
// Each slot keeps its entry's hash beside the pointer, so that a probe
// and a rehash never read the entries they pass: with 100,000 topics
// those reads are cache misses.
type table struct {
	seed  maphash.Seed
	slots []tableSlot // len is a power of two
	mask  uint64      // len(slots) - 1
	live  uint64      // entries; guarded by the bus's mutex
	used  uint64      // entries and tombstones; guarded by the bus's mutex
}

// tableSlot is one slot of a table. An insert stores hash before e. A
// lookup loads e first: if it then reads the hash of an entry that took
// the slot after e was removed, it misses e, which a lookup running
// concurrently with e's removal may do; it never takes one topic for
// another, since it compares the topic too.
type tableSlot struct {
	hash atomic.Uint64
	e    atomic.Pointer[entry]
}

const minTableSize = 8

// get returns the entry of topic, or nil.
func (t *table) get(topic string) *entry {
	h := maphash.String(t.seed, topic)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		e := sl.e.Load()
		if e == nil {
			return nil
		}
		if sl.hash.Load() == h && e != tombstone && e.topic == topic {
			return e
		}
	}
}

// hash returns the hash of topic in t.
func (t *table) hash(topic string) uint64 { return maphash.String(t.seed, topic) }

// newTable returns an empty table of at least three slots per entry for n
// entries.
func newTable(seed maphash.Seed, n uint64) *table {
	size := uint64(minTableSize)
	for size < 3*n {
		size *= 2
	}
	return &table{seed: seed, slots: make([]tableSlot, size), mask: size - 1}
}

// insert adds e, whose topic the table does not hold and whose hash is
// set, and returns the table that now holds it: t, or a larger one that
// the caller publishes. The caller holds the bus's mutex.
func (t *table) insert(e *entry) *table {
	if (t.used+1)*2 > t.mask+1 {
		t = t.rehash(t.live + 1)
	}
	for i := e.hash & t.mask; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		switch sl.e.Load() {
		case nil:
			t.used++
		case tombstone:
		default:
			continue
		}
		sl.hash.Store(e.hash)
		sl.e.Store(e)
		t.live++
		return t
	}
}

// remove replaces e by a tombstone and returns the table that no longer
// holds it: t, or a smaller one that the caller publishes. The caller holds
// the bus's mutex.
func (t *table) remove(e *entry) *table {
	for i := e.hash & t.mask; ; i = (i + 1) & t.mask {
		switch t.slots[i].e.Load() {
		case nil:
			return t // not here
		case e:
			t.slots[i].e.Store(tombstone)
			t.live--
			if t.mask+1 > minTableSize && t.live*16 < t.mask+1 {
				return t.rehash(t.live)
			}
			return t
		}
	}
}

// rehash returns a new table, with room for n entries, that holds t's.
func (t *table) rehash(n uint64) *table {
	nt := newTable(t.seed, n)
	for i := range t.slots {
		if e := t.slots[i].e.Load(); e != nil && e != tombstone {
			nt.place(t.slots[i].hash.Load(), e)
		}
	}
	return nt
}

// place puts e, of hash h, in the first empty slot of its probe sequence,
// in a table that no emit reads yet.
func (t *table) place(h uint64, e *entry) {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		if sl := &t.slots[i]; sl.e.Load() == nil {
			sl.hash.Store(h)
			sl.e.Store(e)
			t.live++
			t.used++
			return
		}
	}
}

// each calls fn for every entry of t.
func (t *table) each(fn func(*entry)) {
	for i := range t.slots {
		if e := t.slots[i].e.Load(); e != nil && e != tombstone {
			fn(e)
		}
	}
}
