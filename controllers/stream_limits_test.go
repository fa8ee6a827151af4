package controllers

import (
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
	"go.uber.org/zap/zapcore"

	"github.com/sprag-go/sprag/sprag"
)

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
		dropped := logsWith(m.logs, "stream client dropped")
		require.Len(t, dropped, 1)
		assert.Equal(t, zapcore.DebugLevel, dropped[0].Level)
		fields := dropped[0].ContextMap()
		assert.Equal(t, "GET /events", fields["route"])
		assert.NotEmpty(t, fields["request_id"])
		assert.NotEmpty(t, fields["error"], "why the write failed")
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
		events := stream.all(100)
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

func TestStreamThatCannotStartIsNotAdded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv, _ := newServer(t, nil, []Option{WithDrainDelay(time.Minute)})
		ln := newMemListener()
		srv.listen = ln.listen
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
		require.NoError(t, srv.Start(context.Background()))
		client := memClient(ln)
		routes := srv.Routes()
		stopped := make(chan error, 1)
		go func() { stopped <- srv.Stop(context.Background()) }()
		synctest.Wait() // the stop drains: the service takes no new task, the server still serves

		st, err := srv.Stream("/late", Forward("x"))
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		assert.Nil(t, st)
		assert.Equal(t, routes, srv.Routes(), "no route is left behind")
		assert.Empty(t, srv.Streams())
		status, err := get(client, "/late")
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, status, "not a 503 of a stream that never runs")
		require.NoError(t, <-stopped)
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
