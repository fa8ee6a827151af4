package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag"
)

// ServeHTTP serves one client of the stream; the server routes to it.
func (st *Stream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := st.srv
	rw := s.enter(w, r, st.rt)
	req := rw.request(r)

	allow, err := st.choose(req)
	if err != nil {
		s.fail(rw, err, false)
		return
	}
	hub := st.hub.Load()
	if hub == nil || isClosed(hub.Closed()) {
		st.refused.Add(1)
		s.writeError(rw, http.StatusServiceUnavailable, "stream is not running", false)
		return
	}
	if s.openStreams.Add(1) > int64(s.cfg.maxStreams) {
		s.openStreams.Add(-1)
		st.refused.Add(1)
		rw.out().Header().Set("Retry-After", "5")
		s.writeError(rw, http.StatusServiceUnavailable, "too many streams", false)
		return
	}
	defer s.openStreams.Add(-1)

	reader := hub.NewReader(allow)
	defer reader.Close()
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		reader.Resume(id)
	} else if id := req.Query().Get("last_event_id"); id != "" {
		reader.Resume(id)
	}
	out := rw.out()
	if !canFlush(out) {
		s.log().Error("stream cannot flush: a middleware's writer has neither Flush nor Unwrap",
			zap.String("route", st.rt.pattern), zap.String("request_id", rw.id))
		s.writeError(rw, http.StatusInternalServerError, "", false)
		return
	}
	rw.setHeader(slotContentType, "Content-Type", "text/event-stream")
	out.Header().Set("Cache-Control", "no-cache")
	out.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	out.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	// Deadlines through the server's own writer, which unwraps to the
	// connection whatever a middleware's writer does; flushes through the
	// middleware's. The server's read timeout would end the request's
	// context, and so the stream: a stream lives until the client, the
	// server or a failed write ends it.
	deadlines := http.NewResponseController(rw)
	_ = deadlines.SetReadDeadline(time.Time{}) // not supported by test recorders: nothing to lift then
	conn := &streamConn{w: out, flush: http.NewResponseController(out), deadlines: deadlines, timeout: s.cfg.writeTimeout}
	if err := conn.Flush(); err != nil {
		return
	}
	// When the stream stops (the server's stop), a write blocked on a
	// client that reads nothing fails soon, so that no stream holds up the
	// shutdown; a client that reads still gets the stream's clean end.
	stop := context.AfterFunc(hub.Context(), conn.end) //nolint:contextcheck // the stream's life, not the request's, is watched here
	defer stop()
	if err := reader.Serve(r.Context(), conn, st.cfg.heartbeat); err != nil {
		if ce := s.log().Check(zap.DebugLevel, "stream client dropped"); ce != nil {
			ce.Write(zap.String("route", st.rt.pattern), zap.String("request_id", rw.id), zap.Error(err))
		}
	}
}

// choose returns which entries the client takes: those its topic
// parameters name (every one without), less those the authorization hook
// refuses.
func (st *Stream) choose(req *Request) ([]bool, error) {
	want := req.Query()["topic"]
	if len(want) == 0 {
		want = st.Topics()
	}
	for _, name := range want {
		if !slices.ContainsFunc(st.entries, func(e streamEntry) bool { return e.name == name }) {
			return nil, &HTTPError{Status: http.StatusBadRequest, Message: "invalid input", Fields: []FieldError{{
				Field: "topic", Rule: "oneof", Param: strings.Join(st.Topics(), " "),
				Message: "must be one of: " + strings.Join(st.Topics(), ", "),
			}}}
		}
	}
	if st.cfg.authorize != nil {
		granted, err := callAuthorize(st.cfg.authorize, req, slices.Clone(want))
		if err != nil {
			return nil, err
		}
		want = slices.DeleteFunc(want, func(name string) bool { return !slices.Contains(granted, name) })
		if len(want) == 0 {
			return nil, NewError(http.StatusForbidden, "no topic of this stream is allowed")
		}
	}
	allow := make([]bool, len(st.entries))
	for i, e := range st.entries {
		allow[i] = slices.Contains(want, e.name)
	}
	return allow, nil
}

// callAuthorize calls the authorization hook. A panic is an error holding
// a *sprag.PanicError, which is answered 500 and logged with its stack.
func callAuthorize(fn func(*Request, []string) ([]string, error), r *Request, topics []string) (granted []string, err error) {
	err = sprag.Safely(func() (err error) {
		granted, err = fn(r, topics)
		return err
	})
	var pe *sprag.PanicError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("stream authorization: %w", err)
	}
	return granted, err
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// streamConn writes a stream's batches under a write deadline, so that a
// client that stopped reading is dropped rather than held forever: a write
// that makes no progress for between half the server's write timeout and
// all of it fails. The deadline is moved only when less than half of it
// is left, since moving it costs a timer update. Once the stream stops
// ([streamConn.end]) it is never moved again.
type streamConn struct {
	w         http.ResponseWriter
	flush     *http.ResponseController // through the writer the middleware gave
	deadlines *http.ResponseController // through the server's own, to the connection
	timeout   time.Duration
	deadline  time.Time // the last one Write set; Write's alone

	mu     sync.Mutex  // orders Write's moves of the deadline with end's
	ending atomic.Bool // end was called
}

func (c *streamConn) Write(p []byte) (int, error) {
	if c.timeout > 0 && !c.ending.Load() {
		if now := time.Now(); c.deadline.Sub(now) < c.timeout/2 {
			c.mu.Lock()
			if !c.ending.Load() {
				c.deadline = now.Add(c.timeout)
				_ = c.deadlines.SetWriteDeadline(c.deadline) // unsupported only by test recorders
			}
			c.mu.Unlock()
		}
	}
	return c.w.Write(p)
}

// end gives the stream's last writes [streamEndGrace] from now, as its
// stop begins: a client that reads gets the clean end, and a write
// blocked on one that does not fails then.
func (c *streamConn) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ending.Store(true)
	_ = c.deadlines.SetWriteDeadline(time.Now().Add(streamEndGrace))
}

func (c *streamConn) Flush() error { return c.flush.Flush() }

// streamEndGrace is how long a stream's last writes may take once the
// stream stops: enough for a client that reads, not for one that does not.
const streamEndGrace = 250 * time.Millisecond

// canFlush reports whether w, or a writer it unwraps to, can flush.
func canFlush(w http.ResponseWriter) bool {
	for {
		if _, ok := w.(http.Flusher); ok {
			return true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}
