// Package timerq is the queue of a scope's waiting timers: a min-heap by
// due time, with removal of any timer by its slot.
package timerq

import "time"

// Slot is a timer's place in a Queue. Init it before the first Push.
type Slot struct {
	due   time.Duration
	index int // in the queue, or -1
}

// Init marks the slot as out of any queue.
func (s *Slot) Init() { s.index = -1 }

// Queued reports whether the slot's timer waits in a queue.
func (s *Slot) Queued() bool { return s.index >= 0 }

// Queue is a min-heap of values T by the due time of their slots. The zero
// value is empty; it is not safe for concurrent use (its owner's lock
// guards it).
type Queue[T any] struct {
	items []item[T]
}

type item[T any] struct {
	v    T
	slot *Slot
}

// Len returns how many values wait.
func (q *Queue[T]) Len() int { return len(q.items) }

// FirstDue returns the due time of the first value; the queue must not be
// empty.
func (q *Queue[T]) FirstDue() time.Duration { return q.items[0].slot.due }

// First returns the first value; the queue must not be empty.
func (q *Queue[T]) First() T { return q.items[0].v }

// Push adds v, whose slot is slot, due at due.
func (q *Queue[T]) Push(v T, slot *Slot, due time.Duration) {
	slot.due, slot.index = due, len(q.items)
	q.items = append(q.items, item[T]{v, slot})
	q.up(len(q.items) - 1)
}

// Pop removes and returns the first value; the queue must not be empty.
func (q *Queue[T]) Pop() T {
	v := q.items[0].v
	q.Remove(q.items[0].slot)
	return v
}

// Remove takes the value of slot out of the queue, if it is there.
func (q *Queue[T]) Remove(slot *Slot) {
	i := slot.index
	if i < 0 {
		return
	}
	last := len(q.items) - 1
	slot.index = -1
	if i != last {
		q.items[i] = q.items[last]
		q.items[i].slot.index = i
	}
	q.items[last] = item[T]{}
	q.items = q.items[:last]
	if i < last {
		q.down(i)
		q.up(i)
	}
	if cap(q.items) > 64 && len(q.items) < cap(q.items)/4 { // give memory back after a burst
		q.items = append([]item[T](nil), q.items...)
	}
}

func (q *Queue[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if q.items[p].slot.due <= q.items[i].slot.due {
			return
		}
		q.swap(i, p)
		i = p
	}
}

func (q *Queue[T]) down(i int) {
	for {
		l, small := 2*i+1, i
		if l < len(q.items) && q.items[l].slot.due < q.items[small].slot.due {
			small = l
		}
		if r := l + 1; r < len(q.items) && q.items[r].slot.due < q.items[small].slot.due {
			small = r
		}
		if small == i {
			return
		}
		q.swap(i, small)
		i = small
	}
}

func (q *Queue[T]) swap(i, j int) {
	q.items[i], q.items[j] = q.items[j], q.items[i]
	q.items[i].slot.index, q.items[j].slot.index = i, j
}
