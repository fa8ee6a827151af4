package controllers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sprag-go/sprag/controllers/internal/sse"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// The defaults of a stream.
const (
	DefaultStreamBuffer    = 256              // events held for resuming and for lagging clients
	DefaultStreamHeartbeat = 15 * time.Second // silence before a heartbeat comment
	// StreamGapEvent is the event name of the gap marker, sent when a
	// client missed events.
	StreamGapEvent = sse.GapEvent
)

// Stream is an endpoint that pushes bus events to browsers as Server-Sent
// Events; [Server.Stream] and [WithStream] make one. See the package
// documentation for the wire format. Its methods are safe for concurrent
// use.
type Stream struct {
	srv     *Server
	rt      *route
	entries []streamEntry
	cfg     streamConfig

	// hub is the current run's; nil before the server's first start. A
	// stopped server's hub is closed.
	hub  atomic.Pointer[sse.Hub]
	subs []*eventbus.Subscription // the current run's bus listeners; guarded by srv.mu

	refused atomic.Uint64             // streams refused: over the limit, or not running
	past    atomic.Pointer[sse.Stats] // the figures of earlier runs
}

// streamEntry is one forwarded topic or pattern of a stream.
type streamEntry struct {
	name   string // what clients select it by: the topic or pattern
	listen func(bus *eventbus.Bus, publish func(topic string, payload any) error, name eventbus.ListenOption) (*eventbus.Subscription, error)
}

// streamConfig is what the stream options set.
type streamConfig struct {
	entries   []streamEntry
	buffer    int
	heartbeat time.Duration
	authorize func(r *Request, topics []string) ([]string, error)
}

// streamSpec is a stream given to NewServer by WithStream.
type streamSpec struct {
	route string
	opts  []StreamOption
}

// StreamStats are a stream's figures, since the server was built.
type StreamStats struct {
	Route     string `json:"route"`     // the stream's pattern
	Clients   int64  `json:"clients"`   // clients connected now
	Published uint64 `json:"published"` // events forwarded from the bus
	Dropped   uint64 `json:"dropped"`   // events that lagging clients skipped, summed over clients
	Gaps      uint64 `json:"gaps"`      // gap markers sent
	Refused   uint64 `json:"refused"`   // connections refused: over WithMaxStreams, or the server not running
}

// Stream adds a stream on route, a GET pattern such as "GET /events", that
// forwards the bus topics its options name to the browsers that connect,
// as Server-Sent Events:
//
//	stream, err := srv.Stream("GET /events",
//		controllers.Forward("metrics:collected", "order:*"),
//		controllers.ForwardTopic(OrderCreated))
//
// A browser subscribes with EventSource("/events"), or to some of the
// topics with EventSource("/events?topic=order:*"), naming them as the
// options did. See the package documentation for the wire format, resuming
// with Last-Event-ID, gap markers and heartbeats.
//
// The stream subscribes one bus listener per forwarded topic or pattern
// when the server starts, not one per client: an Emit encodes the payload
// as JSON once and hands it to the stream without waiting for any client.
// Each client reads from the stream's buffer at its own pace on its own
// request goroutine; one that falls further behind than the buffer
// ([StreamBuffer]) skips the oldest events and gets a gap marker. The
// server ends every stream when its stop begins (after [WithDrainDelay]),
// so that its graceful shutdown is not held up by them.
//
// A payload that encoding/json cannot encode fails that listener: Emit
// reports the error, as for any failing listener, and the event is not
// sent. Stream fails with [ErrInvalidStream] for a stream without topics
// or with an invalid option, and as [Server.Mount] does for the route;
// like Mount's, its failure keeps the server from starting.
//
// It may be called while the server runs: the stream then starts before
// its route is served. When it cannot start, as once the server's stop
// has begun, Stream returns the error and adds nothing: no route, no
// stream, and no error kept for the next start.
func (s *Server) Stream(pattern string, opts ...StreamOption) (*Stream, error) {
	st, err := s.newStream(pattern, opts)
	if err != nil {
		return nil, s.add(nil, []error{err})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.addLocked([]*route{st.rt}, nil, func() error {
		if s.draining.Load() { // the stop has begun: the stream would never run
			return fmt.Errorf("stream %q: %w: the server is stopping", pattern, sprag.ErrNotRunning)
		}
		if !s.streamsLive {
			return nil
		}
		return st.start()
	})
	if err != nil {
		return nil, err
	}
	s.streams = append(s.streams, st)
	return st, nil
}

// newStream checks a stream's route and options.
func (s *Server) newStream(pattern string, opts []StreamOption) (*Stream, error) {
	wrap := func(err error) error { return fmt.Errorf("stream %q: %w", pattern, err) }
	if pattern == "" {
		return nil, wrap(ErrNoRoute)
	}
	if !strings.ContainsAny(pattern, " \t") {
		pattern = http.MethodGet + " " + pattern
	}
	if err := checkPattern(pattern); err != nil {
		return nil, wrap(fmt.Errorf("%w: %w", ErrInvalidRoute, err))
	}
	if method := pattern[:strings.IndexAny(pattern, " \t")]; method != http.MethodGet { // the method as the mux reads it
		return nil, wrap(fmt.Errorf("%w: a stream answers GET, not %s", ErrInvalidStream, method))
	}
	cfg := streamConfig{buffer: DefaultStreamBuffer, heartbeat: DefaultStreamHeartbeat}
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyStream(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	if len(cfg.entries) == 0 {
		errs = append(errs, fmt.Errorf("%w: no topic: add Forward or ForwardTopic", ErrInvalidStream))
	}
	seen := map[string]bool{}
	for _, e := range cfg.entries {
		if seen[e.name] {
			errs = append(errs, fmt.Errorf("%w: topic %q is forwarded twice", ErrInvalidStream, e.name))
		}
		seen[e.name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, wrap(err)
	}
	st := &Stream{srv: s, entries: cfg.entries, cfg: cfg}
	st.rt = &route{pattern: pattern, kind: kindStream, owner: "stream", httpRoute: routePath(pattern)}
	st.rt.handler = st
	return st, nil
}

// Route returns the stream's pattern, "GET /events".
func (st *Stream) Route() string { return st.rt.pattern }

// Topics returns the topics and patterns the stream forwards, in the order
// of its options: the names clients select them by.
func (st *Stream) Topics() []string {
	out := make([]string, len(st.entries))
	for i, e := range st.entries {
		out[i] = e.name
	}
	return out
}

// LastEventID returns the id of the newest event the stream has sent, or
// the id that stands before the first one. A page that renders data from
// the services can embed it, and the browser connect with
// EventSource("/events?last_event_id=" + id), so that no event between
// the render and the connection is lost. It is "" while the server has
// never started.
func (st *Stream) LastEventID() string {
	hub := st.hub.Load()
	if hub == nil {
		return ""
	}
	return hub.ID(hub.Head())
}

// Stats returns the stream's figures.
func (st *Stream) Stats() StreamStats {
	out := StreamStats{Route: st.rt.pattern, Refused: st.refused.Load()}
	if p := st.past.Load(); p != nil {
		out.Published, out.Dropped, out.Gaps = p.Published, p.Dropped, p.Gaps
	}
	if hub := st.hub.Load(); hub != nil {
		now := hub.Stats()
		out.Clients = now.Clients
		out.Published += now.Published
		out.Dropped += now.Dropped
		out.Gaps += now.Gaps
	}
	return out
}

// start subscribes the stream's listeners and runs its dispatcher on a task
// of the server. The caller holds srv.mu.
func (st *Stream) start() error {
	hub := sse.NewHub(st.cfg.buffer)
	bus := st.srv.bus()
	name := eventbus.WithName("http stream " + st.rt.pattern)
	subs := make([]*eventbus.Subscription, 0, len(st.entries))
	for i, e := range st.entries {
		publish := func(topic string, payload any) error {
			data, err := json.Marshal(payload)
			if err != nil {
				return fmt.Errorf("stream %q: encode %q as json: %w", st.rt.pattern, topic, err)
			}
			hub.Publish(i, topic, data)
			return nil
		}
		sub, err := e.listen(bus, publish, name)
		if err != nil {
			unsubscribe(subs)
			return fmt.Errorf("stream %q: %w", st.rt.pattern, err)
		}
		subs = append(subs, sub)
	}
	if _, err := st.srv.spawn("stream "+st.rt.pattern, hub.Run); err != nil {
		unsubscribe(subs)
		return fmt.Errorf("stream %q: %w", st.rt.pattern, err)
	}
	st.subs = subs
	if old := st.hub.Swap(hub); old != nil {
		st.keep(old.Stats())
	}
	return nil
}

// stop unsubscribes the stream's listeners and ends its clients and
// dispatcher. The caller holds srv.mu.
func (st *Stream) stop() {
	unsubscribe(st.subs)
	st.subs = nil
	if hub := st.hub.Load(); hub != nil {
		hub.Close()
	}
}

// keep adds the figures of a finished run to the past ones.
func (st *Stream) keep(s sse.Stats) {
	p := sse.Stats{}
	if old := st.past.Load(); old != nil {
		p = *old
	}
	p.Published += s.Published
	p.Dropped += s.Dropped
	p.Gaps += s.Gaps
	st.past.Store(&p)
}

func unsubscribe(subs []*eventbus.Subscription) {
	for _, sub := range subs {
		sub.Unsubscribe()
	}
}

// StreamStats returns the figures of every stream of the server, in the
// order they were added.
func (s *Server) StreamStats() []StreamStats {
	streams := s.Streams()
	out := make([]StreamStats, len(streams))
	for i, st := range streams {
		out[i] = st.Stats()
	}
	return out
}

// Streams returns the server's streams, in the order they were added.
func (s *Server) Streams() []*Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.streams)
}

// startStreams starts every stream, for OnStart. On a failure, those
// started are stopped again.
func (s *Server) startStreams() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, st := range s.streams {
		if err := st.start(); err != nil {
			for _, started := range s.streams[:i] {
				started.stop()
			}
			return err
		}
	}
	s.streamsLive = true
	return nil
}

// stopStreams ends every stream and its clients, for OnStop.
func (s *Server) stopStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streamsLive = false
	for _, st := range s.streams {
		st.stop()
	}
}
