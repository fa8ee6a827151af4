package controllers

// Regression tests of bugs found under load or concurrency: one test per
// bug, each with the promise it holds the library to, which the test
// failed before the fix.

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/sprag"
)

// TestStreamEndGraceIsKeptByTheWriteDeadline: the promise of
// controllers/doc.go:211-213, "Streams go on while the server
// drains ([WithDrainDelay]) and every one ends as soon as the drain is
// over, before the graceful shutdown, so that they do not hold it up";
// server.go:226-227 (OnStop step 2), "every stream ends ... so that no
// stream holds up the shutdown"; stream_client.go:75-77, "When the stream
// stops (the server's stop), a write blocked on a client that reads
// nothing fails soon"; docs/operations.md:114, "Streams do not hold up
// the stop".
//
// At the stop, a stream's writes get 250ms (streamEndGrace) to end: the
// client reads the event being written when the stop began, then reads
// nothing more, and Stop returns after about 250ms. streamConn.Write used
// to move the write deadline to now+WithWriteTimeout while it wrote the
// rest of the backlog, replacing the grace deadline: Stop waited the 10s
// of the write timeout here (30s by default, more than fx's default
// StopTimeout of 15s).
func TestStreamEndGraceIsKeptByTheWriteDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, []Option{WithWriteTimeout(10 * time.Second)}, func(s *Server) {
			_, err := s.Stream("/events", Forward("tick"), StreamHeartbeat(0))
			require.NoError(t, err)
		})
		stream := m.open(t, "/events")
		m.emit(t, "tick", 1)
		require.Equal(t, "1", stream.mustNext(t).data) // the first write sets the deadline to 10s
		time.Sleep(4 * time.Second)
		m.emit(t, "tick", 2) // 6s of the deadline left: not moved; the write blocks, the client reads nothing
		synctest.Wait()
		m.emit(t, "tick", 3) // the backlog
		synctest.Wait()
		time.Sleep(2 * time.Second) // 4s of the deadline left: the next write would move it

		began := time.Now()
		stopped := make(chan error, 1)
		go func() { stopped <- m.Stop(context.Background()) }()
		synctest.Wait() // the streams have stopped; Shutdown waits for the stream's handler
		require.Equal(t, "2", stream.mustNext(t).data, "the client reads the event of the blocked write, then nothing more")

		require.NoError(t, <-stopped)
		assert.Less(t, time.Since(began), time.Second,
			"Stop waited that long for a stream whose client reads nothing (streamEndGrace is %v)", streamEndGrace)
	})
}

// TestServersDoneWaitsForALoadPastTheDeadline: the promise of
// controllers/doc.go:35-36, "Requests are served on a task of the
// service, never on a goroutine nobody waits for"; docs/controllers.md:987
// -989, "Requests are served on a task of the service (labelled serve
// <addr>)"; sprag/lifecycle.go:174-175, the service "is Stopped, and Done
// closes, once everything it started has returned"; sprag/scope.go:196,
// "After Done, nothing of the scope runs".
//
// A Load that ignores its context outlives the stop's deadline: Stop
// returns ErrStillRunning naming the serve task, and the server's Done
// closes only once the Load has returned. The serve task used to return
// as soon as Shutdown began, and Done closed while the Load still ran.
func TestServersDoneWaitsForALoadPastTheDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		loadDone := make(chan struct{})
		stuck := &loader{route: "GET /stuck", load: func(context.Context, *Request) (any, error) {
			defer close(loadDone)
			<-release // ignores its context, as a call into a library without one would
			return "late", nil
		}}
		srv, _ := newServer(t, nil, nil, stuck)
		ln := newMemListener()
		srv.listen = ln.listen
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(zap.NewNop())))
		require.NoError(t, srv.Start(context.Background()))
		go func() { _, _ = get(memClient(ln), "/stuck") }()
		synctest.Wait() // the request is in Load

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Stop(ctx)
		require.ErrorIs(t, err, sprag.ErrStillRunning)
		require.ErrorContains(t, err, "serve", "the serve task, which waits for the request, is named")
		synctest.Wait()
		select {
		case <-srv.Done():
			t.Fatal("the server's Done closed while a Load runs")
		default:
		}
		close(release)
		<-srv.Done()
		select {
		case <-loadDone:
		default:
			t.Error("the server's Done closed before the Load returned")
		}
	})
}

// TestRequestLogSamplingOfConcurrentFirstRequests: the promise of
// controllers/requestlog.go:106-109 (WithRequestLogSampling),
// "passes the request lines of requests answered below 500 through zap's
// sampler (zapcore.NewSamplerWithOptions): in each tick, the first lines
// are logged, then one in thereafter (none when thereafter is 0)";
// requestlog.go:31-33, the sampled logger "is built once per base
// logger".
//
// With first=1 and thereafter=0 in an hour's tick, 32 concurrent first
// requests log one line. Server.requestLogger used to build the sampler
// with a Load and a Store, no compare-and-swap: requests that finished
// together each built their own sampler, with counters of its own, and
// each logged its "first" line.
func TestRequestLogSamplingOfConcurrentFirstRequests(t *testing.T) {
	t.Parallel()
	const requests, rounds = 32, 50
	worst := 0
	for range rounds {
		var arrived sync.WaitGroup
		arrived.Add(requests)
		gate := make(chan struct{})
		core, logs := observer.New(zapcore.DebugLevel)
		srv, err := NewServer(nil, WithLogger(zap.New(core)), WithRequestLogLevel(zapcore.InfoLevel),
			WithRequestLogSampling(time.Hour, 1, 0),
			WithControllers(&loader{route: "GET /ok", load: func(context.Context, *Request) (any, error) {
				arrived.Done()
				<-gate // every request finishes at once
				return 1, nil
			}}))
		require.NoError(t, err)
		var wg sync.WaitGroup
		for range requests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.Equal(t, http.StatusOK, serve(srv, http.MethodGet, "/ok", nil).Code)
			}()
		}
		arrived.Wait()
		close(gate)
		wg.Wait()
		worst = max(worst, len(logsWith(logs, "http request")))
		if worst > 1 {
			break
		}
	}
	assert.Equal(t, 1, worst, "lines logged in one tick of WithRequestLogSampling(time.Hour, 1, 0) by %d concurrent first requests", requests)
}
