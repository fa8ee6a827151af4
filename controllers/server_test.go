package controllers

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/sprag"
)

// httpServer returns the http.Server that OnStart made.
func (s *Server) httpServer() *http.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hs
}

func TestServerServesOverTCP(t *testing.T) {
	t.Parallel()
	srv, logs := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")}, &static{route: "GET /hello", data: map[string]string{"hi": "there"}})
	assert.Equal(t, "127.0.0.1:0", srv.Addr(), "before start, the configured address")

	base, client := startHTTP(t, srv)
	assert.NotEqual(t, "127.0.0.1:0", srv.Addr(), "after start, the bound address")
	assert.True(t, strings.HasPrefix(srv.Addr(), "127.0.0.1:"))
	require.NotEmpty(t, logsWith(logs, "http server listening"))

	resp, err := client.Get(base + "/hello")
	require.NoError(t, err)
	defer func() { assert.NoError(t, resp.Body.Close()) }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"hi":"there"}`, string(body))
	assert.NotEmpty(t, resp.Header.Get(HeaderRequestID))
	assert.NoError(t, srv.Health(context.Background()))
}

func TestServerStopsListening(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")})
	require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
	require.NoError(t, srv.Start(context.Background()))
	addr := srv.Addr()

	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	require.NoError(t, srv.Stop(context.Background()))
	_, err = net.Dial("tcp", addr)
	require.Error(t, err, "the listener is closed after Stop")
	assert.Equal(t, sprag.Stopped, srv.State())
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	ctrl := &loader{route: "GET /slow", load: func(ctx context.Context, _ *Request) (any, error) {
		close(entered)
		<-release
		return map[string]bool{"done": true}, ctx.Err()
	}}
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")}, ctrl)
	require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
	require.NoError(t, srv.Start(context.Background()))
	addr := srv.Addr()
	shutdownBegan := make(chan struct{})
	srv.httpServer().RegisterOnShutdown(func() { close(shutdownBegan) })

	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	type result struct {
		status int
		body   string
		err    error
	}
	results := make(chan result, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/slow")
		if err != nil {
			results <- result{err: err}
			return
		}
		defer func() { assert.NoError(t, resp.Body.Close()) }()
		b, err := io.ReadAll(resp.Body)
		results <- result{status: resp.StatusCode, body: string(b), err: err}
	}()

	<-entered
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- srv.Stop(ctx)
	}()
	<-shutdownBegan // Shutdown has closed the listener and waits for the request

	_, err := net.Dial("tcp", addr)
	require.Error(t, err, "no new connections during shutdown")
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned before the in-flight request finished: %v", err)
	default:
	}

	close(release)
	res := <-results
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusOK, res.status)
	assert.JSONEq(t, `{"done":true}`, res.body)
	require.NoError(t, <-stopped)
	assert.Equal(t, sprag.Stopped, srv.State())
}

// TestShutdownDeadlineClosesConnections holds OnStop's step 3: when the
// stop's context ends before a request in flight completes, its
// connection is closed at once, so the client gets no response, and the
// stop reports the deadline. The Load here ignores its context, as a
// handler stuck in a call without one would, so that nothing but the
// closed connection can end the client's wait.
func TestShutdownDeadlineClosesConnections(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		ctrl := &loader{route: "GET /stuck", load: func(context.Context, *Request) (any, error) {
			<-release
			return "late", nil
		}}
		srv, _ := newServer(t, nil, nil, ctrl)
		ln := newMemListener()
		srv.listen = ln.listen
		core, logs := observer.New(zapcore.ErrorLevel)
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(zap.New(core))))
		require.NoError(t, srv.Start(context.Background()))

		got := make(chan error, 1)
		go func() {
			status, err := get(memClient(ln), "/stuck")
			if err == nil {
				err = fmt.Errorf("a response, status %d", status)
			}
			got <- err
		}()
		synctest.Wait() // the request is in Load

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		began := time.Now()
		err := srv.Stop(ctx)
		assert.Equal(t, 5*time.Second, time.Since(began), "Stop waits until the deadline, no longer")
		require.ErrorIs(t, err, sprag.ErrStillRunning, "sprag names what still ran at the deadline")

		clientErr := <-got
		require.Error(t, clientErr, "the connection is closed: the client gets no response")
		assert.NotContains(t, clientErr.Error(), "a response")
		synctest.Wait() // OnStop has returned
		failed := logs.FilterMessage("OnStop failed").AllUntimed()
		require.Len(t, failed, 1)
		assert.Contains(t, failed[0].ContextMap()["error"], "shutdown: context deadline exceeded", "OnStop's error wraps the context's")
		select {
		case <-srv.Done():
			t.Fatal("Done closed while the Load still runs")
		default:
		}

		close(release) // Load returns; its answer has no connection left to go to
		<-srv.Done()   // the teardown is complete
	})
}

func TestWithControllers(t *testing.T) {
	t.Parallel()
	srv, err := NewServer(nil,
		WithControllers(&static{route: "GET /a", data: "a"}),
		WithControllers(&static{route: "GET /b", data: "b"}))
	require.NoError(t, err)
	assert.Equal(t, []string{HealthzRoute, ReadyzRoute, "GET /a", "GET /b"}, srv.Routes())

	srv, err = NewServer(nil, WithControllers(&static{route: "GET /a"}, &loader{route: "GET /a"}))
	require.ErrorIs(t, err, ErrRouteConflict)
	assert.Nil(t, srv)
	assert.Contains(t, err.Error(), "new http server: mount controller *controllers.loader")
}

func TestPortInUseFailsStart(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { assert.NoError(t, taken.Close()) }()
	addr := taken.Addr().String()

	srv, _ := newServer(t, nil, []Option{WithAddr(addr)})
	require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
	err = srv.Start(context.Background())
	require.Error(t, err)
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	assert.Contains(t, err.Error(), `http server: listen on "`+addr+`"`)
	assert.Contains(t, err.Error(), `start service "http"`)
	assert.Equal(t, sprag.Failed, srv.State())
	assert.NoError(t, srv.Stop(context.Background()))
}

func TestServerHealthWhenServingEnds(t *testing.T) {
	t.Parallel()
	reg := sprag.NewRegistry()
	srv, _ := newServer(t, reg, []Option{WithAddr("127.0.0.1:0")})
	require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
	require.NoError(t, reg.Provide("http", srv))
	require.NoError(t, srv.Start(context.Background()))
	defer func() { assert.NoError(t, srv.Stop(context.Background())) }()
	assert.True(t, reg.Health(context.Background()).Healthy)

	require.NoError(t, srv.httpServer().Close()) // as if the listener died under the service
	srv.mu.Lock()
	task := srv.serving
	srv.mu.Unlock()
	<-task.Done()

	err := srv.Health(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no longer serving")
	report := reg.Health(context.Background())
	assert.False(t, report.Healthy)
	assert.Equal(t, []string{"http"}, names(report.Unhealthy()))
}

func names(sts []sprag.Status) []string {
	out := make([]string, len(sts))
	for i, st := range sts {
		out[i] = st.Name
	}
	return out
}

func TestServerUsesItsServiceLogger(t *testing.T) {
	t.Parallel()
	srv, err := NewServer(nil)
	require.NoError(t, err)
	assert.NotNil(t, srv.log(), "a no-op logger before Bind")
	require.NoError(t, sprag.Bind(srv, "http", sprag.Runtime{Logger: zap.NewNop()}))
	assert.NotNil(t, srv.log())
	assert.Equal(t, http.StatusOK, serve(srv, http.MethodGet, "/healthz", nil).Code)
}

func TestAddress(t *testing.T) { // not parallel: it sets the environment
	t.Setenv("SPRAG_ADDR", "127.0.0.1:9999")
	srv, err := NewServer(nil)
	require.NoError(t, err)
	assert.Equal(t, "localhost:8080", srv.Addr(), "the loopback interface by default; the environment is the app's to read")

	srv, err = NewServer(nil, WithAddr(":8080"))
	require.NoError(t, err)
	assert.Equal(t, ":8080", srv.Addr(), "every interface is an explicit choice")
}

func TestServerSettings(t *testing.T) {
	t.Parallel()
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")})
		startHTTP(t, srv)
		hs := srv.httpServer()
		assert.Equal(t, DefaultReadHeaderTimeout, hs.ReadHeaderTimeout)
		assert.Equal(t, DefaultReadTimeout, hs.ReadTimeout)
		assert.Equal(t, DefaultWriteTimeout, hs.WriteTimeout)
		assert.Equal(t, DefaultIdleTimeout, hs.IdleTimeout)
		assert.Equal(t, DefaultMaxHeaderBytes, hs.MaxHeaderBytes)
		assert.Equal(t, int64(DefaultBodyLimit), srv.cfg.bodyLimit)
		assert.NotNil(t, hs.ErrorLog)
	})
	t.Run("options", func(t *testing.T) {
		t.Parallel()
		srv, _ := newServer(t, nil, []Option{
			WithAddr("127.0.0.1:0"),
			WithReadHeaderTimeout(time.Second), WithReadTimeout(2 * time.Second),
			WithWriteTimeout(0), WithIdleTimeout(4 * time.Second),
			WithMaxHeaderBytes(4096), WithBodyLimit(10),
		})
		startHTTP(t, srv)
		hs := srv.httpServer()
		assert.Equal(t, time.Second, hs.ReadHeaderTimeout)
		assert.Equal(t, 2*time.Second, hs.ReadTimeout)
		assert.Zero(t, hs.WriteTimeout)
		assert.Equal(t, 4*time.Second, hs.IdleTimeout)
		assert.Equal(t, 4096, hs.MaxHeaderBytes)
		assert.Equal(t, int64(10), srv.cfg.bodyLimit)
	})
	t.Run("header limit enforced", func(t *testing.T) {
		t.Parallel()
		srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0"), WithMaxHeaderBytes(1024)})
		base, client := startHTTP(t, srv)
		req, err := http.NewRequest(http.MethodGet, base+"/healthz", nil)
		require.NoError(t, err)
		req.Header.Set("X-Big", strings.Repeat("b", 8<<10))
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer func() { assert.NoError(t, resp.Body.Close()) }()
		assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	})
}

func TestInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give Option
		want string
	}{
		{WithAddr(""), `controllers.WithAddr("")`},
		{WithReadHeaderTimeout(-1), "controllers.WithReadHeaderTimeout(-1ns)"},
		{WithReadTimeout(-time.Second), "controllers.WithReadTimeout(-1s)"},
		{WithWriteTimeout(-time.Second), "controllers.WithWriteTimeout(-1s)"},
		{WithIdleTimeout(-time.Second), "controllers.WithIdleTimeout(-1s)"},
		{WithMaxHeaderBytes(0), "controllers.WithMaxHeaderBytes(0)"},
		{WithBodyLimit(-5), "controllers.WithBodyLimit(-5)"},
		{WithShell(nil), "controllers.WithShell(nil)"},
		{WithLogger(nil), "controllers.WithLogger()"},
		{WithValidator(nil), "controllers.WithValidator()"},
		{WithDrainDelay(-time.Second), "controllers.WithDrainDelay(-1s)"},
		{WithMaxStreams(0), "controllers.WithMaxStreams(0)"},
		{WithRequestLogSampling(0, 1, 1), "controllers.WithRequestLogSampling(0s, 1, 1)"},
		{WithRequestLogSampling(time.Second, -1, 1), "controllers.WithRequestLogSampling(1s, -1, 1)"},
		{WithMiddleware(nil), "controllers.WithMiddleware(nil)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			srv, err := NewServer(nil, tt.give)
			require.ErrorIs(t, err, ErrInvalidOption)
			assert.Nil(t, srv)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := NewServer(nil, WithBodyLimit(0), WithAddr(""))
	require.ErrorIs(t, err, ErrInvalidOption)
	assert.Contains(t, err.Error(), "controllers.WithBodyLimit(0)", "every invalid option is named")
	assert.Contains(t, err.Error(), `controllers.WithAddr("")`)
}

func TestOptionStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give Option
		want string
	}{
		{WithAddr(":9000"), `controllers.WithAddr(":9000")`},
		{WithReadHeaderTimeout(time.Second), "controllers.WithReadHeaderTimeout(1s)"},
		{WithReadTimeout(time.Minute), "controllers.WithReadTimeout(1m0s)"},
		{WithWriteTimeout(0), "controllers.WithWriteTimeout(0s)"},
		{WithIdleTimeout(time.Hour), "controllers.WithIdleTimeout(1h0m0s)"},
		{WithMaxHeaderBytes(1024), "controllers.WithMaxHeaderBytes(1024)"},
		{WithBodyLimit(2048), "controllers.WithBodyLimit(2048)"},
		{WithShell(template.New("app")), `controllers.WithShell("app")`},
		{WithTitle("Acme"), `controllers.WithTitle("Acme")`},
		{WithLogger(zap.NewNop()), "controllers.WithLogger()"},
		{WithValidator(validator.New()), "controllers.WithValidator()"},
		{WithControllers(&static{}, &loader{}), "controllers.WithControllers(*controllers.static, *controllers.loader)"},
		{WithDrainDelay(5 * time.Second), "controllers.WithDrainDelay(5s)"},
		{WithMaxStreams(10), "controllers.WithMaxStreams(10)"},
		{WithRequestLogLevel(zapcore.InfoLevel), "controllers.WithRequestLogLevel(info)"},
		{WithRequestLogSampling(time.Second, 100, 10), "controllers.WithRequestLogSampling(1s, 100, 10)"},
		{WithMiddleware(passThrough), "controllers.WithMiddleware(controllers.passThrough)"},
		{WithCrossOriginProtection(nil), "controllers.WithCrossOriginProtection(nil)"},
		{WithCrossOriginProtection(http.NewCrossOriginProtection()), "controllers.WithCrossOriginProtection()"},
		{WithMeterProvider(nil), "controllers.WithMeterProvider()"},
		{WithTracerProvider(nil), "controllers.WithTracerProvider()"},
		{WithPropagator(nil), "controllers.WithPropagator()"},
		{WithStream("/events", Forward("a", "b:*"), StreamBuffer(8), StreamHeartbeat(time.Second)),
			`controllers.WithStream("/events", controllers.Forward("a", "b:*"), controllers.StreamBuffer(8), controllers.StreamHeartbeat(1s))`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.give.String())
	}
	srv, err := NewServer(nil, nil, WithTitle("x")) // a nil option is skipped
	require.NoError(t, err)
	assert.Equal(t, "x", srv.cfg.title)
}

func TestPanicAfterTheResponseBeganAbortsIt(t *testing.T) {
	t.Parallel()
	srv, logs := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")})
	require.NoError(t, srv.Handle("GET /half", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"partial":`))
		_ = http.NewResponseController(w).Flush()
		panic("midway")
	})))
	require.NoError(t, srv.Handle("GET /abort", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	})))
	base, client := startHTTP(t, srv)

	resp, err := client.Get(base + "/half")
	require.NoError(t, err)
	_, err = io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Error(t, err, "the client sees a broken response, not a short one")
	assert.Len(t, logsWith(logs, "panic in http handler"), 1)

	_, err = client.Get(base + "/abort") //nolint:bodyclose // no response: the connection is dropped
	require.Error(t, err)
	assert.Len(t, logsWith(logs, "panic in http handler"), 1, "http.ErrAbortHandler is not a failure to log")

	resp, err = client.Get(base + "/healthz")
	require.NoError(t, err, "the server goes on serving")
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestPanicDropsTheHandlersHeaders(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil)
	require.NoError(t, srv.Handle("GET /gz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", "12345")
		panic("before writing")
	})))
	rec := serve(srv, http.MethodGet, "/gz", nil, HeaderRequestID, "p-1")
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Empty(t, rec.Header().Get("Content-Encoding"))
	assert.Empty(t, rec.Header().Get("Content-Length"))
	assert.Equal(t, "p-1", problemOf(t, rec).RequestID)
}

func TestFlushAndInformationalStatus(t *testing.T) {
	t.Parallel()
	srv, logs := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")})
	require.NoError(t, srv.Handle("GET /stream", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.(http.Flusher).Flush()
		_, _ = w.Write([]byte("a"))
		w.WriteHeader(http.StatusTeapot) // superfluous: dropped
		_ = http.NewResponseController(w).Flush()
	})))
	base, client := startHTTP(t, srv)

	var informational []int
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			informational = append(informational, code)
			return nil
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/stream", nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, []int{http.StatusEarlyHints}, informational)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the informational status is not the final one")
	assert.Equal(t, "a", string(body))

	requests := logsWith(logs, "http request")
	require.Len(t, requests, 1)
	assert.EqualValues(t, http.StatusOK, requests[0].ContextMap()["status"])
}

func TestStartWithoutBindFails(t *testing.T) {
	t.Parallel()
	srv := newServerForTest(t)
	err := srv.Start(context.Background())
	require.ErrorIs(t, err, sprag.ErrNotBound)
	assert.NotErrorIs(t, err, ErrInvalidRoute)
}

// passThrough is a middleware that changes nothing.
func passThrough(next http.Handler) http.Handler { return next }
