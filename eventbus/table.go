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
type entry struct {
	list   list   // read by emits
	topic  string // immutable
	pinned bool   // guarded by the bus's mutex
}

// tombstone marks a table slot whose entry was removed, so that probes for
// the topics placed after it go on. It is never modified and matches no
// topic: lookups compare the pointer before they accept a hit.
var tombstone = &entry{}

// table is the bus's map from topic to entry: an open-addressing hash table
// with linear probing, read without a lock by emits and written under the
// bus's mutex.
//
// Inserting writes an empty slot (or a tombstone) with one atomic store,
// removing writes a tombstone; neither moves another entry, so a lookup
// running meanwhile finds every entry that was there when it began and
// not removed since. When live entries and tombstones fill half the slots,
// or live entries fall under a sixteenth, the entries are rehashed into a
// new table sized for four times as many, published with one atomic store;
// lookups under way finish on the old table, which is never written again.
// A rehash of k entries follows at least k/4 inserts or removals since the
// last one, so each costs O(1) amortized.
type table struct {
	seed  maphash.Seed
	slots []atomic.Pointer[entry] // len is a power of two
	mask  uint64                  // len(slots) - 1
	live  uint64                  // entries; guarded by the bus's mutex
	used  uint64                  // entries and tombstones; guarded by the bus's mutex
}

const minTableSize = 8

// get returns the entry of topic, or nil.
func (t *table) get(topic string) *entry {
	for i := maphash.String(t.seed, topic) & t.mask; ; i = (i + 1) & t.mask {
		e := t.slots[i].Load()
		if e == nil {
			return nil
		}
		if e.topic == topic && e != tombstone {
			return e
		}
	}
}

// newTable returns an empty table with room for about n entries.
func newTable(seed maphash.Seed, n uint64) *table {
	size := uint64(minTableSize)
	for size < 4*n {
		size *= 2
	}
	return &table{seed: seed, slots: make([]atomic.Pointer[entry], size), mask: size - 1}
}

// insert adds e, whose topic the table does not hold, and returns the
// table that now holds it: t, or a larger one that the caller publishes.
// The caller holds the bus's mutex.
func (t *table) insert(e *entry) *table {
	if (t.used+1)*2 > t.mask+1 {
		t = t.rehash(t.live + 1)
	}
	for i := maphash.String(t.seed, e.topic) & t.mask; ; i = (i + 1) & t.mask {
		switch t.slots[i].Load() {
		case nil:
			t.used++
		case tombstone:
		default:
			continue
		}
		t.slots[i].Store(e)
		t.live++
		return t
	}
}

// remove replaces e by a tombstone and returns the table that no longer
// holds it: t, or a smaller one that the caller publishes. The caller holds
// the bus's mutex.
func (t *table) remove(e *entry) *table {
	for i := maphash.String(t.seed, e.topic) & t.mask; ; i = (i + 1) & t.mask {
		switch t.slots[i].Load() {
		case nil:
			return t // not here
		case e:
			t.slots[i].Store(tombstone)
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
	t.each(func(e *entry) {
		nt.place(e)
	})
	return nt
}

// place puts e in the first empty slot of its probe sequence, in a table
// that no emit reads yet.
func (t *table) place(e *entry) {
	for i := maphash.String(t.seed, e.topic) & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == nil {
			t.slots[i].Store(e)
			t.live++
			t.used++
			return
		}
	}
}

// each calls fn for every entry of t.
func (t *table) each(fn func(*entry)) {
	for i := range t.slots {
		if e := t.slots[i].Load(); e != nil && e != tombstone {
			fn(e)
		}
	}
}
