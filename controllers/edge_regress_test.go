package controllers

import (
	"context"
	"strings"

	"github.com/sprag-go/sprag/sprag"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

// flushingWrapper is a middleware's writer of the most common shape: it
// wraps the ResponseWriter (to record the status, say) and passes Flush
// on, but has no Unwrap method.
type flushingWrapper struct {
	http.ResponseWriter
}

func (w flushingWrapper) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

func wrapWithFlusher(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(flushingWrapper{w}, r)
	})
}

// TestEdgeRegressStreamBehindWrappingMiddlewareOutlivesTimeouts: docs/controllers.md
// (Streams, "Costs and guarantees") promises that "the server's read
// timeout does not end streams" and that only a write that makes no
// progress ends one; WithMiddleware "wraps every route of the server: ...
// streams". With a server middleware whose writer wraps the
// ResponseWriter and passes Flush on but has no Unwrap (the usual shape),
// Stream.ServeHTTP builds its http.ResponseController on that wrapper
// (rw.out()), so SetReadDeadline and SetWriteDeadline fail with
// ErrNotSupported and are ignored: net/http's read deadline and the
// write deadline set at the request's start stay, and the stream of a
// client that reads everything is cut WithWriteTimeout after it opened
// (here after 1 heartbeat with a 10s timeout; after 6 with 30s).
//
// Suggested fix: in Stream.ServeHTTP, take the deadlines from the
// server's own writer, which unwraps to the connection's:
// dl := http.NewResponseController(rw) for SetReadDeadline and in
// streamConn for SetWriteDeadline, keeping rc := NewResponseController(out)
// for Flush (so that the middleware's buffers are flushed).
func TestEdgeRegressStreamBehindWrappingMiddlewareOutlivesTimeouts(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, []Option{
			WithReadTimeout(time.Second), WithWriteTimeout(10 * time.Second),
			WithMiddleware(wrapWithFlusher),
		}, func(s *Server) {
			_, err := s.Stream("/events", Forward("tick"), StreamHeartbeat(5*time.Second))
			require.NoError(t, err)
		})
		stream := m.open(t, "/events")
		events := stream.all(100)
		time.Sleep(time.Minute) // past the read timeout and the write timeout; the client reads every heartbeat
		synctest.Wait()
		m.emit(t, "tick", 1)
		synctest.Wait()
		var got []sseEvent
		for e := range events {
			got = append(got, e)
			if e.data == "1" {
				break
			}
		}
		require.NotEmpty(t, got, "the stream ended at once")
		assert.Equal(t, "1", got[len(got)-1].data, "the stream was cut by a timeout after %d heartbeats", len(got))
		_ = stream.resp.Body.Close()
		for range events {
		}
	})
}

// TestEdgeRegressStopIsHeldUpByAStreamClientThatStopsReading: doc.go
// (Streams) and docs/controllers.md promise that every stream ends as
// soon as the drain is over, "before the graceful shutdown, so that they
// do not hold it up", and OnStop step 2 says "every stream ends ... so
// that no stream holds up the shutdown". A client that stopped reading
// leaves its handler blocked in a Write (sse.Reader.Serve only looks at
// the hub's closed channel between writes), so Hub.Close does not end it:
// http.Server.Shutdown then waits for that handler until the stop's
// context ends (or the write timeout passes), and Stop fails although no
// request was in flight.
//
// Suggested fix: when the hub closes (or the request's context ends),
// make the blocked write fail at once: in Stream.ServeHTTP, register
// stop := context.AfterFunc-like watcher on hub.Closed() that calls
// rc.SetWriteDeadline(time.Now()) on the connection's controller (see
// the other bug: the server's own writer's), and stop it when Serve
// returns.
func TestEdgeRegressStopIsHeldUpByAStreamClientThatStopsReading(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv, _ := newServer(t, nil, []Option{WithWriteTimeout(time.Minute)})
		_, err := srv.Stream("/events", Forward("big"))
		require.NoError(t, err)
		ln := newMemListener()
		srv.listen = ln.listen
		rt := sprag.NewRuntime(nil)
		require.NoError(t, sprag.Bind(srv, "http", rt))
		require.NoError(t, srv.Start(context.Background()))
		client := memClient(ln)

		resp, err := client.Get("http://mem/events") // never reads its body
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		synctest.Wait()
		require.NoError(t, rt.Bus.Emit(context.Background(), "big", strings.Repeat("x", 64<<10)))
		synctest.Wait() // the handler is blocked writing the event

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		began := time.Now()
		err = srv.Stop(ctx)
		require.NoError(t, err, "no request was in flight: the stream should have ended before the shutdown")
		assert.Less(t, time.Since(began), time.Second, "Stop waited for the blocked stream")
	})
}

// nonFlushingWrapper is a middleware's writer with neither Flush nor
// Unwrap.
type nonFlushingWrapper struct{ w http.ResponseWriter }

func (p nonFlushingWrapper) Header() http.Header         { return p.w.Header() }
func (p nonFlushingWrapper) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p nonFlushingWrapper) WriteHeader(c int)           { p.w.WriteHeader(c) }

// TestEdgeRegressStreamBehindNonFlushingMiddlewareFailsSilently: WithMiddleware
// wraps "every route of the server: ... streams", and a stream that cannot
// work must fail clearly (a problem and a log line), not look like a
// success. With a server middleware whose writer cannot flush,
// Stream.ServeHTTP writes "200 text/event-stream" first, then its first
// conn.Flush() fails with http.ErrNotSupported and it returns silently:
// the client gets a 200 with an empty body (Content-Length: 0), the
// request is logged as a debug-level success, nothing says why, and an
// EventSource reconnects forever.
//
// Suggested fix: before WriteHeader, check that the writer the stream
// writes through can flush (walk Unwrap for an http.Flusher, or try
// rc.Flush on a writer that has not written yet is not possible, so a
// type check); if not, log an error naming the stream ("stream: response
// writer cannot flush; a middleware hides http.Flusher") and answer a 500
// problem.
func TestEdgeRegressStreamBehindNonFlushingMiddlewareFailsSilently(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, []Option{WithMiddleware(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next.ServeHTTP(nonFlushingWrapper{w}, r) })
		})}, func(s *Server) {
			_, err := s.Stream("/events", Forward("tick"))
			require.NoError(t, err)
		})
		resp := m.request(t, "/events")
		assert.NotEqual(t, http.StatusOK, resp.StatusCode,
			"a stream that cannot flush answered 200 with body %q", resp.Body)
		var warned bool
		for _, e := range m.logs.All() {
			if e.Level >= zapcore.WarnLevel {
				warned = true
			}
		}
		assert.True(t, warned, "nothing logged why the stream could not be served")
	})
}

// TestEdgeRegressStreamAddedDuringShutdownIsNeverRunning: Server.Stream's doc
// says "When it cannot start, as once the server's stop has begun, Stream
// returns the error and adds nothing: no route, no stream". That holds
// during the drain (sprag refuses the stream's task), but once OnStop has
// called stopStreams (streamsLive is false) and http.Server.Shutdown
// waits for a request in flight, Stream's ready hook sees
// !s.streamsLive, treats the server as not started, and adds the route
// and the stream without error: a stream that never runs, whose clients
// get 503 "stream is not running" (TestStreamThatCannotStartIsNotAdded:
// "not a 503 of a stream that never runs").
//
// Suggested fix: in Server.Stream's ready func, refuse when the stop has
// begun: if s.draining.Load() (set by drain, cleared by OnStart) return an
// error wrapping sprag.ErrNotRunning, before the !s.streamsLive check.
func TestEdgeRegressStreamAddedDuringShutdownIsNeverRunning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		slow := &loader{route: "GET /slow", load: func(context.Context, *Request) (any, error) {
			<-release
			return "done", nil
		}}
		srv, _ := newServer(t, nil, nil, slow)
		ln := newMemListener()
		srv.listen = ln.listen
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
		require.NoError(t, srv.Start(context.Background()))
		client := memClient(ln)
		done := make(chan int, 1)
		go func() { s, _ := get(client, "/slow"); done <- s }()
		synctest.Wait() // the slow request is in flight
		stopped := make(chan error, 1)
		go func() { stopped <- srv.Stop(context.Background()) }()
		synctest.Wait() // streams stopped; Shutdown waits for /slow

		routes := srv.Routes()
		st, err := srv.Stream("/late", Forward("x"))
		require.Error(t, err, "the stop has begun: the stream cannot start")
		assert.Nil(t, st)
		assert.Equal(t, routes, srv.Routes(), "no route is left behind")
		rec := serve(srv, http.MethodGet, "/late", nil)
		assert.NotEqual(t, http.StatusServiceUnavailable, rec.Code, "a stream that never runs: %s", rec.Body)

		close(release)
		assert.Equal(t, http.StatusOK, <-done)
		require.NoError(t, <-stopped)
	})
}
