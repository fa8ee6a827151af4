package sse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// event is one parsed SSE event, or a comment line.
type event struct {
	id, name, data, comment string
}

// conn is a Conn that records what is written. While gate is not nil,
// each Write waits for a value from it.
type conn struct {
	mu      sync.Mutex
	text    strings.Builder
	gate    chan struct{}
	failing error
	writes  int
}

func (c *conn) Write(p []byte) (int, error) {
	if c.gate != nil {
		<-c.gate
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failing != nil {
		return 0, c.failing
	}
	c.writes++
	return c.text.Write(p)
}

func (c *conn) Flush() error { return nil }

// events parses what was written so far.
func (c *conn) events() []event {
	c.mu.Lock()
	text := c.text.String()
	c.mu.Unlock()
	var out []event
	for block := range strings.SplitSeq(text, "\n\n") {
		if block == "" {
			continue
		}
		var e event
		for line := range strings.SplitSeq(block, "\n") {
			field, value, _ := strings.Cut(line, ": ")
			switch field {
			case "id":
				e.id = value
			case "event":
				e.name = value
			case "data":
				e.data = value
			case "":
				e.comment = value
			}
		}
		out = append(out, e)
	}
	return out
}

// names returns the event names and, for gap markers, their data.
func names(es []event) []string {
	var out []string
	for _, e := range es {
		switch {
		case e.comment != "":
			out = append(out, ":"+e.comment)
		case e.name == GapEvent:
			out = append(out, "gap "+e.data)
		default:
			out = append(out, e.name+" "+e.data)
		}
	}
	return out
}

// serve runs the hub's dispatcher and a reader on c inside the bubble, and
// returns a function that ends both and returns Serve's error.
func serve(t *testing.T, h *Hub, r *Reader, c *conn, heartbeat time.Duration) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = h.Run(ctx) })
	errc := make(chan error, 1)
	go func() { errc <- r.Serve(ctx, c, heartbeat) }()
	return func() error {
		cancel()
		wg.Wait()
		return <-errc
	}
}

func publish(h *Hub, entry int, topic string, n int) {
	for i := range n {
		h.Publish(entry, topic, fmt.Appendf(nil, "%d", i))
	}
}

func TestEventsReachTheReaderInOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(8)
		c := &conn{}
		stop := serve(t, h, h.NewReader([]bool{true, true}), c, 0)
		h.Publish(0, "order:created", []byte(`{"id":1}`))
		h.Publish(1, "metrics:collected", []byte(`{"n":2}`))
		synctest.Wait()
		require.NoError(t, stop())

		es := c.events()
		assert.Equal(t, []string{`order:created {"id":1}`, `metrics:collected {"n":2}`}, names(es))
		assert.Equal(t, h.ID(1), es[0].id)
		assert.Equal(t, h.ID(2), es[1].id)
		assert.Regexp(t, `^[A-Z2-7]{8}-2$`, es[1].id)
		assert.Equal(t, Stats{Published: 2}, h.Stats())
	})
}

func TestReaderFiltersEntries(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(8)
		c := &conn{}
		stop := serve(t, h, h.NewReader([]bool{false, true}), c, 0)
		h.Publish(0, "a", []byte("1"))
		h.Publish(1, "b", []byte("2"))
		h.Publish(2, "c", []byte("3")) // an entry the reader does not know
		synctest.Wait()
		require.NoError(t, stop())
		assert.Equal(t, []string{"b 2"}, names(c.events()))
	})
}

func TestReaderStartsAfterTheNewestEvent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(8)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = h.Run(ctx); close(done) }()
		h.Publish(0, "old", []byte("1"))
		synctest.Wait()

		c := &conn{}
		r := h.NewReader([]bool{true})
		go func() { _ = r.Serve(ctx, c, 0) }()
		h.Publish(0, "new", []byte("2"))
		synctest.Wait()
		cancel()
		<-done
		synctest.Wait()
		assert.Equal(t, []string{"new 2"}, names(c.events()))
	})
}

func TestSlowReaderGetsAGapAndGoesOn(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(4)
		slow := &conn{gate: make(chan struct{})}
		fast := &conn{}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = h.Run(ctx) })
		slowReader, fastReader := h.NewReader([]bool{true}), h.NewReader([]bool{true})
		wg.Go(func() { _ = slowReader.Serve(ctx, slow, 0) })
		wg.Go(func() { _ = fastReader.Serve(ctx, fast, 0) })

		h.Publish(0, "e", []byte("0"))
		synctest.Wait() // the slow reader is stuck writing event 1
		for i := 1; i <= 10; i++ {
			h.Publish(0, "e", fmt.Appendf(nil, "%d", i))
			synctest.Wait() // the fast reader keeps up, one event at a time
		}
		assert.Len(t, fast.events(), 11, "the fast reader is not held up by the slow one")

		slow.gate <- struct{}{} // event 1 goes out; then the gap, then the 4 held
		close(slow.gate)
		synctest.Wait()
		cancel()
		wg.Wait()

		got := slow.events()
		assert.Equal(t, []string{"e 0", `gap {"reason":"lagged","missed":6}`, "e 7", "e 8", "e 9", "e 10"}, names(got))
		assert.Equal(t, h.ID(7), got[1].id, "resuming from the marker's id continues after it")
		assert.Equal(t, Stats{Published: 11, Dropped: 6, Gaps: 1}, h.Stats())
	})
}

func TestResume(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give func(h *Hub) string
		want []string
	}{
		{"known id", func(h *Hub) string { return h.ID(8) }, []string{"e 8", "e 9", "e 10"}},
		{"newest id", func(h *Hub) string { return h.ID(11) }, []string{"e 10"}},
		{"older than the ring", func(h *Hub) string { return h.ID(2) }, []string{`gap {"reason":"lagged","missed":1}`, "e 3", "e 4", "e 5", "e 6", "e 7", "e 8", "e 9", "e 10"}},
		{"another run", func(*Hub) string { return "AAAAAAAA-3" }, []string{`gap {"reason":"unknown_id"}`, "e 10"}},
		{"ahead of the head", func(h *Hub) string { return h.ID(99) }, []string{`gap {"reason":"unknown_id"}`, "e 10"}},
		{"malformed", func(*Hub) string { return "x" }, []string{`gap {"reason":"unknown_id"}`, "e 10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := NewHub(8)
				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				wg.Go(func() { _ = h.Run(ctx) })
				publish(h, 0, "e", 10) // seqs 1 to 10, data 0 to 9
				synctest.Wait()
				h.Publish(0, "skip", nil) // seq 11; the ring holds 4 to 11
				synctest.Wait()

				c := &conn{}
				r := h.NewReader([]bool{true})
				r.Resume(tt.give(h))
				wg.Go(func() { _ = r.Serve(ctx, c, 0) })
				synctest.Wait()
				h.Publish(0, "e", []byte("10"))
				synctest.Wait()
				cancel()
				wg.Wait()

				var got []string
				for _, n := range names(c.events()) {
					if !strings.HasPrefix(n, "skip") {
						got = append(got, n)
					}
				}
				assert.Equal(t, tt.want, got)
			})
		})
	}
}

func TestHeartbeatAfterSilence(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(8)
		c := &conn{}
		stop := serve(t, h, h.NewReader([]bool{true}), c, 15*time.Second)

		time.Sleep(14 * time.Second)
		synctest.Wait()
		h.Publish(0, "e", []byte("1")) // resets the heartbeat timer
		time.Sleep(14 * time.Second)
		synctest.Wait()
		assert.Equal(t, []string{"e 1"}, names(c.events()), "no heartbeat while events flow")

		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, []string{"e 1", ":heartbeat"}, names(c.events()))
		time.Sleep(15 * time.Second)
		synctest.Wait()
		assert.Equal(t, []string{"e 1", ":heartbeat", ":heartbeat"}, names(c.events()))
		require.NoError(t, stop())
	})
}

func TestCloseEndsReadersAndRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(8)
		errs := make(chan error, 3)
		go func() { errs <- h.Run(context.Background()) }()
		for range 2 {
			go func() { errs <- h.NewReader(nil).Serve(context.Background(), &conn{}, time.Minute) }()
		}
		synctest.Wait()
		assert.Equal(t, int64(2), h.Stats().Clients)
		h.Close()
		h.Close() // idempotent
		for range 3 {
			require.NoError(t, <-errs)
		}
		assert.Equal(t, int64(0), h.Stats().Clients)
	})
}

func TestWriteErrorEndsServe(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(8)
		broken := errors.New("connection reset")
		c := &conn{failing: broken}
		stop := serve(t, h, h.NewReader([]bool{true}), c, 0)
		h.Publish(0, "e", []byte("1"))
		synctest.Wait()
		assert.ErrorIs(t, stop(), broken)
	})
}

func TestTopicWithNewlineIsNotPublished(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(8)
		c := &conn{}
		stop := serve(t, h, h.NewReader([]bool{true}), c, 0)
		h.Publish(0, "a\ndata: forged", []byte("1"))
		h.Publish(0, "b\r", []byte("2"))
		h.Publish(0, "ok", []byte("3"))
		synctest.Wait()
		require.NoError(t, stop())
		assert.Equal(t, []string{"ok 3"}, names(c.events()))
	})
}

func TestNewHubRoundsTheSize(t *testing.T) {
	t.Parallel()
	tests := []struct{ give, want int }{{-1, 1}, {0, 1}, {1, 1}, {2, 2}, {3, 4}, {256, 256}, {257, 512}}
	for _, tt := range tests {
		assert.Len(t, NewHub(tt.give).ring, tt.want, "NewHub(%d)", tt.give)
	}
}

// TestConcurrentPublishers checks, with the race detector, that events of
// many emitters all reach every reader, each emitter's in its order, and
// that every reader sees one same order.
func TestConcurrentPublishers(t *testing.T) {
	t.Parallel()
	const emitters, each, readers = 4, 500, 3
	h := NewHub(emitters * each)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = h.Run(ctx) })
	conns := make([]*conn, readers)
	for i := range conns {
		conns[i] = &conn{}
		r := h.NewReader([]bool{true})
		wg.Go(func() { _ = r.Serve(ctx, conns[i], 0) })
	}
	for h.Stats().Clients < readers {
		time.Sleep(time.Millisecond) // the readers take their cursors at 0 before any event
	}
	var emit sync.WaitGroup
	for e := range emitters {
		emit.Go(func() {
			for i := range each {
				h.Publish(0, fmt.Sprintf("e%d", e), fmt.Appendf(nil, "%d", i))
			}
		})
	}
	emit.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range conns {
		for len(c.events()) < emitters*each && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	cancel()
	wg.Wait()

	first := names(conns[0].events())
	require.Len(t, first, emitters*each)
	for _, c := range conns[1:] {
		assert.Equal(t, first, names(c.events()), "every reader sees the same order")
	}
	next := map[string]int{}
	for _, n := range first {
		topic, data, _ := strings.Cut(n, " ")
		assert.Equal(t, fmt.Sprint(next[topic]), data, "each emitter's events in its order")
		next[topic]++
	}
}
