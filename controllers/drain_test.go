package controllers

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
)

// memListener is a net.Listener of in-memory connections (net.Pipe), so
// that a server can run in a synctest bubble, where blocking on them is
// durable and time is virtual.
type memListener struct {
	conns     chan net.Conn
	closeOnce sync.Once
	closed    chan struct{}
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *memListener) listen(context.Context, string, string) (net.Listener, error) { return l, nil }

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

// dial connects to the listener, as a client's transport dials.
func (l *memListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, errors.New("connection refused")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "mem:80" }

// memClient is an HTTP client of a memListener.
func memClient(l *memListener) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: l.dial, DisableKeepAlives: true}}
}

// get requests path and returns the status, or the error.
func get(c *http.Client, path string) (int, error) {
	resp, err := c.Get("http://mem" + path)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, errors.Join(err, resp.Body.Close())
}

func TestReadinessDrain(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		slow := &loader{route: "GET /slow", load: func(context.Context, *Request) (any, error) {
			<-release
			return "done", nil
		}}
		srv, logs := newServer(t, nil, []Option{WithDrainDelay(10 * time.Second)}, slow, &static{route: "GET /page", data: 1})
		ln := newMemListener()
		srv.listen = ln.listen
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
		require.NoError(t, srv.Start(context.Background()))
		client := memClient(ln)

		status, err := get(client, "/readyz")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status)

		slowStatus := make(chan int, 1)
		go func() {
			status, err := get(client, "/slow")
			assert.NoError(t, err)
			slowStatus <- status
		}()
		synctest.Wait() // the slow request is in flight

		began := time.Now()
		stopped := make(chan error, 1)
		go func() { stopped <- srv.Stop(context.Background()) }()
		synctest.Wait() // Stop waits out the drain delay

		status, err = get(client, "/readyz")
		require.NoError(t, err)
		assert.Equal(t, http.StatusServiceUnavailable, status, "the load balancer is told first")
		rec := serve(srv, http.MethodGet, "/readyz", nil)
		assert.True(t, decodeJSON[Readiness](t, rec.Body.Bytes()).Draining)
		status, err = get(client, "/page")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status, "requests are still served while draining")
		require.Len(t, logsWith(logs, "http server draining"), 1)

		time.Sleep(10*time.Second - time.Nanosecond)
		synctest.Wait()
		status, err = get(client, "/page")
		require.NoError(t, err, "still listening just before the delay ends")
		assert.Equal(t, http.StatusOK, status)
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned during the drain: %v", err)
		default:
		}

		time.Sleep(time.Nanosecond)
		synctest.Wait() // the listener closes; Shutdown waits for /slow
		_, err = get(client, "/page")
		require.Error(t, err, "no new connections after the drain")
		assert.Equal(t, 10*time.Second, time.Since(began))

		close(release)
		assert.Equal(t, http.StatusOK, <-slowStatus, "the request in flight completes")
		require.NoError(t, <-stopped)
	})
}

func TestDrainEndsWithTheStopContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv, _ := newServer(t, nil, []Option{WithDrainDelay(time.Minute)})
		ln := newMemListener()
		srv.listen = ln.listen
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
		require.NoError(t, srv.Start(context.Background()))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		began := time.Now()
		err := srv.Stop(ctx)
		assert.Equal(t, 5*time.Second, time.Since(began), "the drain is cut short by the stop's deadline")
		require.ErrorIs(t, err, sprag.ErrStillRunning, "a delay as long as the deadline leaves no time to shut down")
		<-srv.Done()
	})
}

func TestNoDrainByDefault(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv, logs := newServer(t, nil, nil)
		ln := newMemListener()
		srv.listen = ln.listen
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
		require.NoError(t, srv.Start(context.Background()))
		began := time.Now()
		require.NoError(t, srv.Stop(context.Background()))
		assert.Zero(t, time.Since(began))
		assert.Empty(t, logsWith(logs, "http server draining"))
	})
}

// TestStreamsRunThroughTheDrain: a stream goes on forwarding events while
// the server drains, and ends when the drain delay is over, before the
// shutdown, which it then does not hold up.
func TestStreamsRunThroughTheDrain(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := startMem(t, []Option{WithDrainDelay(10 * time.Second)}, func(s *Server) {
			_, err := s.Stream("/events", Forward("tick"))
			require.NoError(t, err)
		})
		stream := m.open(t, "/events")
		synctest.Wait()

		began := time.Now()
		stopped := make(chan error, 1)
		go func() { stopped <- m.Stop(context.Background()) }()
		synctest.Wait() // draining

		m.emit(t, "tick", 1)
		assert.Equal(t, "1", stream.mustNext(t).data, "events still reach the stream during the drain")
		assert.Equal(t, int64(1), m.StreamStats()[0].Clients)

		_, err := stream.next()
		require.ErrorIs(t, err, io.EOF, "the stream ends cleanly")
		assert.Equal(t, 10*time.Second, time.Since(began), "when the drain delay is over")
		require.NoError(t, <-stopped, "the stop's context has no deadline: a stream that held the shutdown up would hang it")
		assert.Less(t, time.Since(began), 10*time.Second+time.Second, "the shutdown takes no more than net/http's first polls")
	})
}
