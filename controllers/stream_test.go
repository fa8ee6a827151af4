package controllers

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

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

// all reads the stream on a goroutine of its own and sends each event or
// comment on the channel it returns (buffered for size), which closes when
// the stream ends.
func (s *sseStream) all(size int) <-chan sseEvent {
	events := make(chan sseEvent, size)
	go func() {
		defer close(events)
		for {
			e, err := s.next()
			if err != nil {
				return
			}
			events <- e
		}
	}()
	return events
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
	logs   *observer.ObservedLogs // the server's log
}

// startMem starts a server with opts in the current bubble; setup adds
// streams before the start. The server stops at the end of the test.
func startMem(t *testing.T, opts []Option, setup func(*Server)) *memServer {
	t.Helper()
	srv, logs := newServer(t, nil, opts)
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
	return &memServer{Server: srv, ln: ln, client: memClient(ln), bus: rt.Bus, logs: logs}
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

		// The hook's panic: a 500 problem that says nothing of it, and a
		// log line that says everything, as for a panic in Load.
		resp := m.request(t, "/events", "Authorization", "panic", HeaderRequestID, "auth-7")
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		assert.JSONEq(t, `{"type":"about:blank","title":"Internal Server Error","status":500,
			"instance":"/events","request_id":"auth-7"}`, resp.Body)
		var panics []observer.LoggedEntry
		for _, e := range logsWith(m.logs, "panic in http handler") {
			if e.ContextMap()["request_id"] == "auth-7" {
				panics = append(panics, e)
			}
		}
		require.Len(t, panics, 1)
		assert.Equal(t, zapcore.ErrorLevel, panics[0].Level)
		fields := panics[0].ContextMap()
		assert.Equal(t, "GET /events", fields["route"])
		assert.Equal(t, "auth bug", fields["panic"])
		assert.Equal(t, "stream authorization: panic: auth bug", fields["error"])
		assert.Contains(t, fields["stack"], "TestStreamAuthorization", "the stack of the hook's panic")
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

// sumPoints returns the data points of an int64 sum metric.
func sumPoints(t *testing.T, data metricdata.Aggregation) []metricdata.DataPoint[int64] {
	t.Helper()
	sum, ok := data.(metricdata.Sum[int64])
	require.True(t, ok, "%T is not an int64 sum", data)
	return sum.DataPoints
}
