package sse

import (
	"context"
	"strconv"
	"time"
)

// Conn is where a reader writes: the HTTP response. Serve writes each batch
// of events with one Write and then calls Flush.
type Conn interface {
	Write(p []byte) (int, error)
	Flush() error
}

// Heartbeat is the comment line a reader writes after a quiet interval, so
// that proxies keep the connection.
const Heartbeat = ": heartbeat\n\n"

// maxBatch bounds the bytes one Write carries; a backlog is sent in
// several.
const maxBatch = 64 << 10

// Reader is one client's position in a hub. It is used by one goroutine.
type Reader struct {
	hub    *Hub
	cursor uint64 // the seq of the last event handled
	allow  []bool // allow[entry]: the client takes the entry's events
	buf    []byte

	// A gap to report before the next events: lagged events, or a
	// resume id that the hub does not know.
	missed  uint64
	unknown bool
	closed  bool
}

// NewReader returns a reader that starts after the newest event, sending
// only the events of the entries that allow marks. The hub counts it as a
// client until Close, which Serve calls when it returns.
func (h *Hub) NewReader(allow []bool) *Reader {
	h.clients.Add(1)
	return &Reader{hub: h, cursor: h.Head(), allow: allow}
}

// Close stops counting the reader as a client of its hub. It is
// idempotent.
func (r *Reader) Close() {
	if !r.closed {
		r.closed = true
		r.hub.clients.Add(-1)
	}
}

// Resume places the reader after the event of id lastID, as the
// Last-Event-ID header asks. An id the hub does not know (another run, a
// malformed one) leaves the reader at the newest event with a gap marker
// for its first write; an id older than the ring gives a gap marker too.
func (r *Reader) Resume(lastID string) {
	seq, ok := r.hub.ParseID(lastID)
	if !ok {
		r.unknown = true
		return
	}
	r.cursor = seq
}

// Serve writes the reader's events to w until ctx ends or the hub closes,
// when it returns nil, or until a write fails, when it returns the error.
// After heartbeat of silence it writes [Heartbeat]; heartbeat ≤ 0 sends
// none.
func (r *Reader) Serve(ctx context.Context, w Conn, heartbeat time.Duration) error {
	h := r.hub
	defer r.Close()

	var beat <-chan time.Time
	var timer *time.Timer
	if heartbeat > 0 {
		timer = time.NewTimer(heartbeat)
		defer timer.Stop()
		beat = timer.C
	}
	for {
		wait := *h.notify.Load() // before reading head: no wake-up is lost
		r.collect()
		if len(r.buf) > 0 {
			if err := r.flush(w); err != nil {
				return err
			}
			if timer != nil {
				timer.Reset(heartbeat)
			}
			continue // more may have come meanwhile
		}
		select {
		case <-wait:
		case <-beat:
			r.buf = append(r.buf[:0], Heartbeat...)
			if err := r.flush(w); err != nil {
				return err
			}
			timer.Reset(heartbeat)
		case <-ctx.Done():
			return nil
		case <-h.closed:
			return nil
		}
	}
}

func (r *Reader) flush(w Conn) error {
	_, err := w.Write(r.buf)
	r.buf = r.buf[:0]
	if err != nil {
		return err
	}
	return w.Flush()
}

// collect appends to r.buf the gap marker and the events due, up to
// maxBatch bytes.
func (r *Reader) collect() {
	h := r.hub
	r.buf = r.buf[:0]
	if r.unknown {
		r.unknown = false
		r.buf = r.appendGap(r.buf, `{"reason":"unknown_id"}`)
	}
	for {
		head := h.head.Load()
		if r.cursor >= head {
			break
		}
		if oldest := oldestHeld(head, uint64(len(h.ring))); r.cursor+1 < oldest {
			r.missed += oldest - 1 - r.cursor
			r.cursor = oldest - 1
		}
		f := h.ring[(r.cursor+1)&h.mask].Load()
		if f == nil || f.seq < r.cursor+1 {
			break // not reached: the slot is written before head moves past it
		}
		if f.seq > r.cursor+1 {
			// Overwritten since head was read: the event is lost to
			// this reader. Counting it here, rather than waiting for
			// head, keeps a reader from spinning on the dispatcher.
			r.missed++
			r.cursor++
			continue
		}
		if r.missed > 0 {
			r.reportLag()
		}
		r.cursor = f.seq
		if f.entry < len(r.allow) && r.allow[f.entry] {
			r.buf = append(r.buf, f.text...)
		}
		if len(r.buf) >= maxBatch {
			break
		}
	}
}

// reportLag appends the gap marker for the events skipped before the
// cursor's next one, and counts them.
func (r *Reader) reportLag() {
	h := r.hub
	h.dropped.Add(r.missed)
	var data [48]byte
	d := append(data[:0], `{"reason":"lagged","missed":`...)
	d = strconv.AppendUint(d, r.missed, 10)
	d = append(d, '}')
	r.missed = 0
	r.buf = r.appendGap(r.buf, string(d))
}

// appendGap appends a gap marker whose id is the cursor's, so that a client
// that reconnects with it resumes where the marker left it.
func (r *Reader) appendGap(b []byte, data string) []byte {
	r.hub.gaps.Add(1)
	b = append(b, "id: "...)
	b = r.hub.appendID(b, r.cursor)
	b = append(b, "\nevent: "+GapEvent+"\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// oldestHeld returns the seq of the oldest event a ring of size holds when
// its newest is head.
func oldestHeld(head, size uint64) uint64 {
	if head < size {
		return 1
	}
	return head - size + 1
}
