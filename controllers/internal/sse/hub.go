package sse

import (
	"context"
	"crypto/rand"
	"math/bits"
	"strconv"
	"strings"
	"sync/atomic"
)

// GapEvent is the event name of the gap marker: the client missed events.
const GapEvent = "sprag:stream:gap"

// Hub is the shared state of one stream: the intake of published events,
// the ring of encoded ones and the figures. Its methods are safe for
// concurrent use. Build one with [NewHub]; the zero value is not usable.
type Hub struct {
	epoch string

	// intake is a lock-free LIFO list of published events: Publish
	// pushes with a compare-and-swap, the dispatcher takes the whole list
	// with one swap and reverses it. Nodes are never reused, so there is
	// no ABA problem.
	intake atomic.Pointer[pending]
	wake   chan struct{} // capacity 1: the dispatcher has work

	// ring holds the last len(ring) events; the event of seq s is in
	// ring[s&mask]. Only the dispatcher writes it, each slot before it
	// moves head to it; readers check each slot's seq, since the
	// dispatcher may overwrite a slot while they read it.
	ring []atomic.Pointer[frame]
	mask uint64
	head atomic.Uint64 // the seq of the newest event in the ring; 0 for none

	// notify is closed and replaced when head advances: readers wait on
	// the channel they loaded before they last read head.
	notify atomic.Pointer[chan struct{}]

	// ctx is cancelled by Close; closed is its Done channel. A context,
	// so that context.AfterFunc can act on the close without a goroutine.
	ctx    context.Context
	cancel context.CancelFunc
	closed <-chan struct{}

	clients   atomic.Int64
	published atomic.Uint64
	dropped   atomic.Uint64
	gaps      atomic.Uint64
}

// pending is one published event waiting for the dispatcher.
type pending struct {
	entry int
	topic string
	data  []byte
	next  *pending
}

// frame is one event in the ring, encoded once for every client.
type frame struct {
	seq   uint64
	entry int
	text  []byte // "id: …\nevent: …\ndata: …\n\n"
}

// NewHub returns a hub whose ring holds at least size events (rounded up to
// a power of two; at least 1).
func NewHub(size int) *Hub {
	n := uint64(1)
	if size > 1 {
		n = 1 << bits.Len64(uint64(size-1))
	}
	h := &Hub{
		epoch: rand.Text()[:8],
		wake:  make(chan struct{}, 1),
		ring:  make([]atomic.Pointer[frame], n),
		mask:  n - 1,
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.closed = h.ctx.Done()
	ch := make(chan struct{})
	h.notify.Store(&ch)
	return h
}

// Publish hands an encoded event to the hub: data is the event's JSON, one
// line; entry says which of the stream's subscriptions it came from, for the
// clients' filters. It never blocks and takes no lock. A topic holding CR or
// LF, which would break the framing, is not published.
func (h *Hub) Publish(entry int, topic string, data []byte) {
	if strings.ContainsAny(topic, "\r\n") {
		return
	}
	p := &pending{entry: entry, topic: topic, data: data}
	for {
		old := h.intake.Load()
		p.next = old
		if h.intake.CompareAndSwap(old, p) {
			break
		}
	}
	select {
	case h.wake <- struct{}{}:
	default: // a wake-up is already pending; it will see this event
	}
}

// Run is the dispatcher: it moves published events into the ring, in the
// order they were published, and wakes the clients. It returns nil when
// ctx ends or the hub is closed. Exactly one Run may be active per hub.
//
// The intake cannot outgrow the dispatcher: each Publish costs its emitter
// the encoding of the payload, more than the dispatcher spends per event,
// so the list stays short unless this goroutine is starved of CPU.
func (h *Hub) Run(ctx context.Context) error {
	for {
		select {
		case <-h.wake:
		case <-ctx.Done():
			return nil
		case <-h.closed:
			return nil
		}
		h.dispatch()
	}
}

// dispatch moves every pending event into the ring and wakes the readers.
func (h *Hub) dispatch() {
	list := h.intake.Swap(nil)
	if list == nil {
		return
	}
	// The list is newest first; reverse it.
	var fifo *pending
	for list != nil {
		next := list.next
		list.next = fifo
		fifo, list = list, next
	}
	head := h.head.Load()
	for p := fifo; p != nil; p = p.next {
		head++
		f := &frame{seq: head, entry: p.entry, text: h.encode(head, p.topic, p.data)}
		h.ring[head&h.mask].Store(f)
		h.head.Store(head) // each event is readable at once, by readers awake already
		h.published.Add(1)
	}
	ch := make(chan struct{})
	old := h.notify.Swap(&ch)
	close(*old)
}

// encode writes one event in the wire format.
func (h *Hub) encode(seq uint64, topic string, data []byte) []byte {
	b := make([]byte, 0, len("id: -\nevent: \ndata: \n\n")+len(h.epoch)+20+len(topic)+len(data))
	b = append(b, "id: "...)
	b = h.appendID(b, seq)
	b = append(b, "\nevent: "...)
	b = append(b, topic...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	return b
}

// Close ends the hub: Run returns and every reader's Serve returns. It is
// idempotent.
func (h *Hub) Close() { h.cancel() }

// Closed returns a channel closed by Close.
func (h *Hub) Closed() <-chan struct{} { return h.closed }

// Context returns a context cancelled by Close.
func (h *Hub) Context() context.Context { return h.ctx }

// Head returns the seq of the newest event, 0 before the first.
func (h *Hub) Head() uint64 { return h.head.Load() }

// ID returns the event id of seq.
func (h *Hub) ID(seq uint64) string { return string(h.appendID(nil, seq)) }

func (h *Hub) appendID(b []byte, seq uint64) []byte {
	b = append(b, h.epoch...)
	b = append(b, '-')
	return strconv.AppendUint(b, seq, 10)
}

// ParseID returns the seq of an id of this hub. It reports false for an id
// of another hub or run, a malformed one, and one ahead of the head.
func (h *Hub) ParseID(id string) (uint64, bool) {
	epoch, seq, ok := strings.Cut(id, "-")
	if !ok || epoch != h.epoch {
		return 0, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil || n > h.head.Load() {
		return 0, false
	}
	return n, true
}

// Stats are a hub's figures.
type Stats struct {
	Clients   int64  // readers serving now
	Published uint64 // events put in the ring
	Dropped   uint64 // events readers skipped because they fell behind
	Gaps      uint64 // gap markers sent
}

// Stats returns the hub's figures.
func (h *Hub) Stats() Stats {
	return Stats{
		Clients:   h.clients.Load(),
		Published: h.published.Load(),
		Dropped:   h.dropped.Load(),
		Gaps:      h.gaps.Load(),
	}
}
