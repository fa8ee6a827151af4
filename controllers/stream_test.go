package controllers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// sseEvent is one event of a stream as a client parses it; a comment line
// has only comment set.
type sseEvent struct {
	id, name, data, comment string
}

// sseStream is a client's open stream.
type sseStream struct {
	resp *http.Response
	br   *bufio.Reader
}

// next reads the next event or comment.
func (s *sseStream) next() (sseEvent, error) {
	var e sseEvent
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			return e, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return e, nil
		}
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
}

// mustNext reads the next event, failing the test on an error.
func (s *sseStream) mustNext(t *testing.T) sseEvent {
	t.Helper()
	e, err := s.next()
	require.NoError(t, err)
	return e
}

// memServer is a server started in a synctest bubble on in-memory
// connections, with its bus.
type memServer struct {
	*Server
	ln     *memListener
	client *http.Client
	bus    *eventbus.Bus
}

// startMem starts a server with opts in the current bubble; setup adds
// streams before the start. The server stops at the end of the test.
func startMem(t *testing.T, opts []Option, setup func(*Server)) *memServer {
	t.Helper()
	srv, _ := newServer(t, nil, opts)
	if setup != nil {
		setup(srv)
	}
	ln := newMemListener()
	srv.listen = ln.listen
	rt := sprag.NewRuntime(nil)
	require.NoError(t, sprag.Bind(srv, "http", rt))
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		assert.NoError(t, srv.Stop(context.Background()))
	})
	return &memServer{Server: srv, ln: ln, client: memClient(ln), bus: rt.Bus}
}

// open connects to the stream at path; headers are name, value pairs. The
// stream is closed at the end of the test.
func (m *memServer) open(t *testing.T, path string, headers ...string) *sseStream {
	t.Helper()
	resp := m.do(t, path, headers...)
	t.Cleanup(func() { _ = resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return &sseStream{resp: resp, br: bufio.NewReader(resp.Body)}
}

// response is what a client received.
type response struct {
	StatusCode int
	Header     http.Header
	Body       string
}

// request sends a GET for path and returns the response, read whole.
func (m *memServer) request(t *testing.T, path string, headers ...string) response {
	t.Helper()
	resp := m.do(t, path, headers...)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{StatusCode: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

// do sends a GET for path. The caller closes the body.
func (m *memServer) do(t *testing.T, path string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://mem"+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := m.client.Do(req)
	require.NoError(t, err)
	return resp
}

func (m *memServer) emit(t *testing.T, topic string, payload any) {
	t.Helper()
	require.NoError(t, m.bus.Emit(context.Background(), topic, payload))
}

type orderEvent struct {
	ID    int    `json:"id"`
	Email string `json:"email"`
}

var orderShipped = eventbus.NewTopic[orderEvent]("order:shipped")

func TestStreamForwardsEvents(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, nil, func(s *Server) {
			_, err := s.Stream("/events", Forward("order:*", "metrics:collected"), ForwardTopic(orderShipped))
			require.NoError(t, err)
		})
		stream := m.open(t, "/events")
		assert.Equal(t, "text/event-stream", stream.resp.Header.Get("Content-Type"))
		assert.Equal(t, "no-cache", stream.resp.Header.Get("Cache-Control"))
		assert.Equal(t, "no", stream.resp.Header.Get("X-Accel-Buffering"))
		assert.NotEmpty(t, stream.resp.Header.Get(HeaderRequestID))
		synctest.Wait()

		m.emit(t, "order:created", orderEvent{ID: 7, Email: "a@b.c"})
		m.emit(t, "metrics:collected", map[string]int{"orders": 3})
		require.NoError(t, orderShipped.Emit(context.Background(), m.bus, orderEvent{ID: 7}))
		m.emit(t, "unrelated", 1)

		e1, e2, e3 := stream.mustNext(t), stream.mustNext(t), stream.mustNext(t)
		// order:shipped matches "order:*" too: each forwarded entry has
		// its own listener, so the event comes once per entry.
		e4 := stream.mustNext(t)
		assert.Equal(t, sseEvent{id: e1.id, name: "order:created", data: `{"id":7,"email":"a@b.c"}`}, e1)
		assert.Equal(t, sseEvent{id: e2.id, name: "metrics:collected", data: `{"orders":3}`}, e2)
		assert.Equal(t, "order:shipped", e3.name)
		assert.JSONEq(t, `{"id":7,"email":""}`, e3.data)
		assert.Equal(t, "order:shipped", e4.name)
		assert.Regexp(t, `^[A-Z2-7]{8}-1$`, e1.id)
		assert.Equal(t, strings.TrimSuffix(e1.id, "1")+"4", e4.id, "ids count the stream's events")

		stats := m.StreamStats()
		require.Len(t, stats, 1)
		assert.Equal(t, StreamStats{Route: "GET /events", Clients: 1, Published: 4}, stats[0])
	})
}

func TestStreamTopicSelection(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, nil, func(s *Server) {
			_, err := s.Stream("GET /events", Forward("order:*", "metrics:collected"))
			require.NoError(t, err)
		})
		metrics := m.open(t, "/events?topic=metrics:collected")
		orders := m.open(t, "/events?topic=order:*")
		synctest.Wait()
		m.emit(t, "order:created", 1)
		m.emit(t, "metrics:collected", 2)
		assert.Equal(t, "metrics:collected", metrics.mustNext(t).name)
		assert.Equal(t, "order:created", orders.mustNext(t).name)

		resp := m.request(t, "/events?topic=order:created&topic=secret", HeaderRequestID, "s-1")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, ContentTypeProblem, resp.Header.Get("Content-Type"))
		assert.JSONEq(t, `{"type":"about:blank","title":"Bad Request","status":400,"detail":"invalid input",
			"instance":"/events","request_id":"s-1","errors":[{"field":"topic","rule":"oneof",
			"param":"order:* metrics:collected","message":"must be one of: order:*, metrics:collected"}]}`, resp.Body,
			"clients name the stream's topics as configured")
	})
}

func TestStreamAuthorization(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		authorize := func(r *Request, topics []string) ([]string, error) {
			switch r.Header().Get("Authorization") {
			case "":
				return nil, &HTTPError{Status: http.StatusUnauthorized, Message: "sign in"}
			case "admin":
				return topics, nil
			case "panic":
				panic("auth bug")
			}
			var allowed []string
			for _, topic := range topics {
				if !strings.HasPrefix(topic, "admin:") {
					allowed = append(allowed, topic)
				}
			}
			return allowed, nil
		}
		m := startMem(t, nil, func(s *Server) {
			_, err := s.Stream("/events", Forward("admin:*", "public"), StreamAuthorize(authorize))
			require.NoError(t, err)
		})
		user := m.open(t, "/events", "Authorization", "user")
		admin := m.open(t, "/events", "Authorization", "admin")
		synctest.Wait()
		m.emit(t, "admin:audit", "x")
		m.emit(t, "public", "y")
		assert.Equal(t, "public", user.mustNext(t).name, "the refused topic is left out")
		assert.Equal(t, "admin:audit", admin.mustNext(t).name)
		assert.Equal(t, "public", admin.mustNext(t).name)

		tests := []struct {
			name    string
			path    string
			headers []string
			want    int
		}{
			{"only refused topics", "/events?topic=admin:*", []string{"Authorization", "user"}, http.StatusForbidden},
			{"hook's error", "/events", nil, http.StatusUnauthorized},
			{"hook's panic", "/events", []string{"Authorization", "panic"}, http.StatusInternalServerError},
		}
		for _, tt := range tests {
			resp := m.request(t, tt.path, tt.headers...)
			assert.Equal(t, tt.want, resp.StatusCode, tt.name)
			assert.Equal(t, ContentTypeProblem, resp.Header.Get("Content-Type"), tt.name)
		}
	})
}

func TestStreamResume(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var stream *Stream
		m := startMem(t, nil, func(s *Server) {
			var err error
			stream, err = s.Stream("/events", Forward("tick"), StreamBuffer(4))
			require.NoError(t, err)
		})
		before := stream.LastEventID()
		assert.Regexp(t, `-0$`, before, "before the first event")
		first := m.open(t, "/events")
		synctest.Wait()
		for i := range 3 {
			m.emit(t, "tick", i)
		}
		e0, e1 := first.mustNext(t), first.mustNext(t)
		assert.Equal(t, "0", e0.data)
		assert.Equal(t, "1", e1.data)

		again := m.open(t, "/events", "Last-Event-ID", e0.id) // a reconnecting EventSource
		assert.Equal(t, "1", again.mustNext(t).data)
		assert.Equal(t, "2", again.mustNext(t).data)

		fromPage := m.open(t, "/events?last_event_id="+before) // a page that rendered before the events
		assert.Equal(t, "0", fromPage.mustNext(t).data)

		for i := 3; i < 10; i++ {
			m.emit(t, "tick", i)
		}
		late := m.open(t, "/events", "Last-Event-ID", e1.id) // the buffer holds 6 to 9 now
		gap := late.mustNext(t)
		assert.Equal(t, StreamGapEvent, gap.name)
		assert.JSONEq(t, `{"reason":"lagged","missed":4}`, gap.data)
		assert.Equal(t, "6", late.mustNext(t).data)

		unknown := m.open(t, "/events", "Last-Event-ID", "ZZZZZZZZ-3") // from another run of the process
		synctest.Wait()
		m.emit(t, "tick", 10)
		gap = unknown.mustNext(t)
		assert.Equal(t, StreamGapEvent, gap.name)
		assert.JSONEq(t, `{"reason":"unknown_id"}`, gap.data)
		assert.Equal(t, "10", unknown.mustNext(t).data)
	})
}

func TestStreamSlowClientBlocksNobody(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var stream *Stream
		m := startMem(t, nil, func(s *Server) {
			var err error
			stream, err = s.Stream("/events", Forward("big"), StreamBuffer(8))
			require.NoError(t, err)
		})
		slow := m.open(t, "/events") // never reads until the end: in-memory connections do not buffer
		fast := m.open(t, "/events")
		synctest.Wait()

		payload := strings.Repeat("x", 8<<10) // more than net/http's write buffer: the slow client's write blocks
		for i := range 40 {
			m.emit(t, "big", fmt.Sprintf("%d%s", i, payload)) // Emit returns: nothing waits for the slow client
			e := fast.mustNext(t)
			assert.True(t, strings.HasPrefix(e.data, fmt.Sprintf(`"%dx`, i)), "the fast client gets each event at once")
		}
		st := stream.Stats()
		assert.Equal(t, uint64(40), st.Published)
		assert.Equal(t, int64(2), st.Clients)

		// The slow client's handler is still writing its first batch
		// (event 0, perhaps 1): when it reads, it gets that batch, a gap
		// marker, and the 8 events the buffer holds.
		var got []int
		var gaps []string
		for len(got) == 0 || got[len(got)-1] != 39 {
			e := slow.mustNext(t)
			if e.name == StreamGapEvent {
				gaps = append(gaps, e.data)
				continue
			}
			var n int
			_, err := fmt.Sscanf(e.data, `"%d`, &n)
			require.NoError(t, err)
			got = append(got, n)
		}
		require.Len(t, gaps, 1)
		first := len(got) - 8
		require.Positive(t, first)
		assert.Equal(t, []int{32, 33, 34, 35, 36, 37, 38, 39}, got[first:], "the events the buffer holds")
		for i := range first {
			assert.Equal(t, i, got[i], "the batch it was writing")
		}
		missed := 32 - first
		assert.JSONEq(t, fmt.Sprintf(`{"reason":"lagged","missed":%d}`, missed), gaps[0])
		st = stream.Stats()
		assert.EqualValues(t, missed, st.Dropped)
		assert.Equal(t, uint64(1), st.Gaps)
	})
}

func TestStreamDropsAClientThatStopsReading(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var stream *Stream
		m := startMem(t, []Option{WithWriteTimeout(10 * time.Second)}, func(s *Server) {
			var err error
			stream, err = s.Stream("/events", Forward("big"))
			require.NoError(t, err)
		})
		m.open(t, "/events") // never reads
		synctest.Wait()
		m.emit(t, "big", strings.Repeat("x", 8<<10))
		synctest.Wait()
		assert.Equal(t, int64(1), stream.Stats().Clients)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Equal(t, int64(0), stream.Stats().Clients, "its write timed out and its stream ended")
	})
}

func TestStreamHeartbeatAndReadTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, []Option{WithReadTimeout(time.Second)}, func(s *Server) {
			_, err := s.Stream("/events", Forward("tick"), StreamHeartbeat(5*time.Second))
			require.NoError(t, err)
		})
		stream := m.open(t, "/events")
		events := make(chan sseEvent, 100)
		go func() {
			defer close(events)
			for {
				e, err := stream.next()
				if err != nil {
					return
				}
				events <- e
			}
		}()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		assert.Equal(t, sseEvent{comment: "heartbeat"}, <-events)
		time.Sleep(time.Minute) // far past the server's read timeout and write timeout
		synctest.Wait()
		assert.Len(t, events, 12, "one heartbeat every 5s of silence")
		m.emit(t, "tick", 1)
		synctest.Wait()
		for range 12 {
			assert.Equal(t, sseEvent{comment: "heartbeat"}, <-events)
		}
		assert.Equal(t, "1", (<-events).data, "the read timeout does not end a stream")
		require.NoError(t, stream.resp.Body.Close())
	})
}

func TestStreamLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var a, b *Stream
		m := startMem(t, []Option{WithMaxStreams(2)}, func(s *Server) {
			var err error
			a, err = s.Stream("/a", Forward("x"))
			require.NoError(t, err)
			b, err = s.Stream("/b", Forward("x"))
			require.NoError(t, err)
		})
		m.open(t, "/a")
		m.open(t, "/b")
		resp := m.request(t, "/a")
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the limit is per server")
		assert.Equal(t, "5", resp.Header.Get("Retry-After"))
		assert.Equal(t, uint64(1), a.Stats().Refused)
		assert.Equal(t, uint64(0), b.Stats().Refused)
	})
}

func TestStreamHead(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, nil, func(s *Server) {
			_, err := s.Stream("/events", Forward("x"))
			require.NoError(t, err)
		})
		req, err := http.NewRequest(http.MethodHead, "http://mem/events", nil)
		require.NoError(t, err)
		resp, err := m.client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	})
}

func TestStreamAddedWhileRunning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, nil, nil)
		st, err := m.Stream("/late", Forward("x"))
		require.NoError(t, err)
		stream := m.open(t, "/late")
		synctest.Wait()
		m.emit(t, "x", true)
		assert.Equal(t, "true", stream.mustNext(t).data)
		assert.Equal(t, []*Stream{st}, m.Streams())
	})
}

func TestStreamPayloadThatCannotBeEncoded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, nil, func(s *Server) {
			_, err := s.Stream("/events", Forward("x"))
			require.NoError(t, err)
		})
		stream := m.open(t, "/events")
		synctest.Wait()
		err := m.bus.Emit(context.Background(), "x", func() {})
		require.Error(t, err, "the emitter learns of it, as of any failing listener")
		assert.Contains(t, err.Error(), `stream "GET /events": encode "x" as json`)
		m.emit(t, "x", 2)
		assert.Equal(t, "2", stream.mustNext(t).data, "the stream goes on")
	})
}

func TestStreamLastEventIDFromLoad(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var seen string
		m := startMem(t, nil, func(s *Server) {
			_, err := s.Stream("/events", Forward("x"))
			require.NoError(t, err)
			require.NoError(t, s.Mount(&loader{route: "GET /page", load: func(_ context.Context, r *Request) (any, error) {
				seen = r.StreamLastEventID("/events")
				assert.Equal(t, seen, r.StreamLastEventID("GET /events"))
				assert.Empty(t, r.StreamLastEventID("/nope"))
				return nil, nil
			}}))
		})
		m.emit(t, "x", 1)
		synctest.Wait()
		resp := m.request(t, "/page")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Regexp(t, `^[A-Z2-7]{8}-1$`, seen)
	})
}

func TestStreamNotRunning(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil)
	st, err := srv.Stream("/events", Forward("x"))
	require.NoError(t, err)
	assert.Empty(t, st.LastEventID())
	rec := serve(srv, http.MethodGet, "/events", nil)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "stream is not running", problemOf(t, rec).Detail)
	assert.Equal(t, uint64(1), st.Stats().Refused)
}

func TestStreamStatsInReadyzAndMetrics(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		k := newTelemetryKit(t)
		m := startMem(t, k.options(), func(s *Server) {
			_, err := s.Stream("/events", Forward("x"))
			require.NoError(t, err)
		})
		stream := m.open(t, "/events")
		synctest.Wait()
		m.emit(t, "x", 1)
		stream.mustNext(t)

		rec := serve(m.Server, http.MethodGet, "/readyz", nil)
		body := decodeJSON[Readiness](t, rec.Body.Bytes())
		assert.Equal(t, []StreamStats{{Route: "GET /events", Clients: 1, Published: 1}}, body.Streams)

		for name, want := range map[string]int64{MetricStreamClients: 1, MetricStreamPublished: 1, MetricStreamDropped: 0, MetricStreamGaps: 0, MetricStreamRefused: 0} {
			metric := k.metric(t, name)
			points := sumPoints(t, metric.Data)
			require.Len(t, points, 1, name)
			assert.Equal(t, want, points[0].Value, name)
			assert.Equal(t, map[string]any{"http.route": "/events"}, attrs(points[0].Attributes), name)
		}
	})
}

func TestStreamMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route string
		opts  []StreamOption
		want  error
		text  string
	}{
		{"no topic", "/e", nil, ErrInvalidStream, "no topic"},
		{"empty route", "", []StreamOption{Forward("x")}, ErrNoRoute, `stream ""`},
		{"bad pattern", "GET /e/{", []StreamOption{Forward("x")}, ErrInvalidRoute, "GET /e/{"},
		{"not GET", "POST /e", []StreamOption{Forward("x")}, ErrInvalidStream, "not POST"},
		{"bad topic", "/e", []StreamOption{Forward("a::b")}, ErrInvalidStream, `controllers.Forward("a::b")`},
		{"reserved name", "/e", []StreamOption{Forward(StreamGapEvent)}, ErrInvalidStream, "gap marker"},
		{"twice", "/e", []StreamOption{Forward("x"), Forward("x")}, ErrInvalidStream, `"x" is forwarded twice`},
		{"buffer", "/e", []StreamOption{Forward("x"), StreamBuffer(0)}, ErrInvalidStream, "controllers.StreamBuffer(0)"},
		{"heartbeat", "/e", []StreamOption{Forward("x"), StreamHeartbeat(-time.Second)}, ErrInvalidStream, "controllers.StreamHeartbeat(-1s)"},
		{"nil hook", "/e", []StreamOption{Forward("x"), StreamAuthorize(nil)}, ErrInvalidStream, "controllers.StreamAuthorize()"},
		{"nil topic", "/e", []StreamOption{ForwardTopic[int](nil)}, ErrInvalidStream, "controllers.ForwardTopic(nil)"},
		{"conflict", "/healthz", []StreamOption{Forward("x")}, ErrRouteConflict, "stream \"GET /healthz\" conflicts with built-in route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := newServer(t, nil, nil)
			st, err := srv.Stream(tt.route, tt.opts...)
			require.ErrorIs(t, err, tt.want)
			assert.Nil(t, st)
			assert.Contains(t, err.Error(), tt.text)
			assert.Empty(t, srv.Streams())
			require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
			assert.ErrorIs(t, srv.Start(context.Background()), tt.want, "a failed Stream keeps the server from starting")
		})
	}

	_, err := NewServer(nil, WithStream("/e"))
	require.ErrorIs(t, err, ErrInvalidStream, "WithStream fails the constructor")
	srv, err := NewServer(nil, WithStream("/e", Forward("x"), nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, srv.Streams()[0].Topics())
	assert.Equal(t, "GET /e", srv.Streams()[0].Route())
}

// TestShutdownWithOpenStreams checks over loopback that streams do not
// hold up the graceful shutdown, as they would a plain net/http server
// (golang/go#41344).
func TestShutdownWithOpenStreams(t *testing.T) {
	t.Parallel()
	const clients = 500
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")})
	_, err := srv.Stream("/events", Forward("x"))
	require.NoError(t, err)
	rt := sprag.NewRuntime(nil)
	require.NoError(t, sprag.Bind(srv, "http", rt))
	require.NoError(t, srv.Start(context.Background()))

	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ended := make(chan error, clients)
	for range clients {
		resp, err := client.Get("http://" + srv.Addr() + "/events") //nolint:bodyclose // closed by the goroutine that reads it
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		go func() {
			_, err := io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			ended <- err
		}()
	}
	require.Equal(t, int64(clients), srv.StreamStats()[0].Clients)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	require.NoError(t, srv.Stop(ctx))
	took := time.Since(began)
	assert.Less(t, took, time.Second, "graceful shutdown with %d open streams", clients)
	t.Logf("stop with %d open streams: %v", clients, took)
	for range clients {
		assert.NoError(t, <-ended, "each client sees its stream end cleanly")
	}
}

// sumPoints returns the data points of an int64 sum metric.
func sumPoints(t *testing.T, data metricdata.Aggregation) []metricdata.DataPoint[int64] {
	t.Helper()
	sum, ok := data.(metricdata.Sum[int64])
	require.True(t, ok, "%T is not an int64 sum", data)
	return sum.DataPoints
}
