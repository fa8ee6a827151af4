package sse

import (
	"strconv"
	"strings"
	"testing"
)

// sseFrame is one event of a reader's output.
type sseFrame struct{ id, event, data string }

// parseFrames splits a reader's output into its events, failing on
// anything that is not "id:", "event:" and "data:" lines ending in a blank
// line.
func parseFrames(t *testing.T, out string) []sseFrame {
	t.Helper()
	var frames []sseFrame
	for out != "" {
		block, rest, ok := strings.Cut(out, "\n\n")
		if !ok {
			t.Fatalf("unterminated event %q", out)
		}
		out = rest
		var f sseFrame
		for line := range strings.SplitSeq(block, "\n") {
			field, value, ok := strings.Cut(line, ": ")
			switch {
			case !ok:
				t.Fatalf("malformed line %q", line)
			case field == "id":
				f.id = value
			case field == "event":
				f.event = value
			case field == "data":
				f.data = value
			default:
				t.Fatalf("unknown field %q", line)
			}
		}
		frames = append(frames, f)
	}
	return frames
}

// FuzzResume resumes a reader from an arbitrary Last-Event-ID ("EPOCH" in
// the input stands for the hub's epoch, which the fuzzer cannot guess) on
// a hub of a few events. An id of this hub up to the newest event resumes
// right after it, with a lag marker when the ring no longer holds the next
// ones; any other id gets exactly the unknown_id marker, at the newest
// event. Either way, a client that reconnects with the last id it got
// receives nothing again.
func FuzzResume(f *testing.F) {
	for _, seed := range []struct {
		id                    string
		size, published, mask uint8
	}{
		{"EPOCH-3", 8, 5, 0},
		{"EPOCH-0", 8, 5, 1},
		{"EPOCH-5", 8, 5, 0},
		{"EPOCH-6", 8, 5, 0},
		{"EPOCH-1", 4, 20, 0},
		{"EPOCH-007", 8, 9, 0},
		{"EPOCH-+3", 8, 5, 0},
		{"EPOCH-", 8, 5, 0},
		{"EPOCH--1", 8, 5, 0},
		{"EPOCH-18446744073709551616", 8, 5, 0},
		{"other-3", 8, 5, 0},
		{"EPOCH-3-4", 8, 5, 0},
		{"3", 8, 5, 0},
		{"", 8, 0, 0},
	} {
		f.Add(seed.id, seed.size, seed.published, seed.mask)
	}
	f.Fuzz(func(t *testing.T, id string, size, published, mask uint8) {
		h := NewHub(int(size%16) + 1)
		n := int(published % 40)
		for i := range n {
			h.Publish(i%2, "e"+strconv.Itoa(i+1), []byte(strconv.Itoa(i+1)))
		}
		h.dispatch()
		head := h.Head()
		if head != uint64(n) {
			t.Fatalf("head %d after %d events", head, n)
		}
		allow := []bool{true, mask%2 == 0}
		lastID := strings.ReplaceAll(id, "EPOCH", h.epoch)

		r := h.NewReader(allow)
		r.Resume(lastID)
		r.collect()
		got := parseFrames(t, string(r.buf))
		r.Close()

		// The documented meaning of the id, independently.
		var seq uint64
		known := false
		if digits, ok := strings.CutPrefix(lastID, h.epoch+"-"); ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
			v, err := strconv.ParseUint(digits, 10, 64)
			known = err == nil && v <= head
			seq = v
		}
		var want []sseFrame
		if !known {
			want = append(want, sseFrame{h.ID(head), GapEvent, `{"reason":"unknown_id"}`})
		} else {
			oldest := uint64(1)
			if ringLen := uint64(len(h.ring)); head > ringLen {
				oldest = head - ringLen + 1
			}
			next := seq + 1
			if next < oldest {
				want = append(want, sseFrame{h.ID(oldest - 1), GapEvent,
					`{"reason":"lagged","missed":` + strconv.FormatUint(oldest-next, 10) + `}`})
				next = oldest
			}
			for s := next; s <= head; s++ {
				if allow[(s-1)%2] {
					want = append(want, sseFrame{h.ID(s), "e" + strconv.FormatUint(s, 10), strconv.FormatUint(s, 10)})
				}
			}
		}
		if len(got) != len(want) {
			t.Fatalf("resume from %q (head %d, ring %d): got %q, want %q", lastID, head, len(h.ring), got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("resume from %q (head %d, ring %d): event %d is %q, want %q", lastID, head, len(h.ring), i, got[i], want[i])
			}
		}

		// Reconnecting with the last id received sends nothing again.
		if len(got) > 0 {
			again := h.NewReader(allow)
			again.Resume(got[len(got)-1].id)
			again.collect()
			if len(again.buf) != 0 {
				t.Fatalf("reconnecting with %q after resuming from %q sends %q again", got[len(got)-1].id, lastID, again.buf)
			}
			again.Close()
		}
		if c := h.Stats().Clients; c != 0 {
			t.Fatalf("%d clients after every reader closed", c)
		}
	})
}
