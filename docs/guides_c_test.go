package docs_test

// Tests of promises of controllers.md and operations.md that no other test
// holds, or only from inside the package: each names the guide's section
// and the promise it checks.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// gcStderr runs fn while os.Stderr is a pipe, and returns what was
// written to it. fxmodule's default logger takes os.Stderr when the app is
// built, so fn builds the app and logs. What fn writes must fit in the
// pipe's buffer (64 KiB on Linux), since nothing reads it meanwhile.
func gcStderr(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer func() { _ = r.Close() }()
	old := os.Stderr
	os.Stderr = w
	func() {
		defer func() { os.Stderr = old }()
		fn()
	}()
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(out)
}

// TestGuideCDefaultLogger: operations.md#logs. Without a logger of the
// app's, fxmodule's own writes JSON to standard error at info level, with
// the caller of each line and no stacktrace of the logging call, and
// samples: of one message and level, the first 100 lines of a second, then
// one in 100. SPRAG_LOG=dev makes it a development logger, with the level
// in colour unless NO_COLOR is set; any value but dev and json fails
// fx.New.
//
// The lines are logged in a synctest bubble, whose clock stands still
// while they are written: they all fall in one second of the sampler.
func TestGuideCDefaultLogger(t *testing.T) {
	logAll := func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var rt sprag.Runtime
			app := fxmodule.App(fx.Populate(&rt))
			require.NoError(t, app.Err())
			rt.Logger.Debug("hidden: below info")
			rt.Logger.Info("ready")
			for i := range 250 {
				rt.Logger.Error("ledger failed", zap.Int("i", i), zap.Error(errors.New("connection reset")))
			}
		})
	}

	t.Run("production JSON", func(t *testing.T) {
		t.Setenv(fxmodule.EnvLog, "")
		out := gcStderr(t, func() { logAll(t) })
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		require.Len(t, lines, 1+100+1, "the info line, the first 100 errors, then one in 100 (the 200th)")
		var kept []float64
		for n, line := range lines {
			var entry map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &entry), "JSON lines: %s", line)
			assert.NotContains(t, entry, "stacktrace", "no stack of the logging call")
			assert.Regexp(t, `^docs/guides_c_test\.go:\d+$`, entry["caller"], "the caller of the line")
			assert.Contains(t, entry, "ts")
			if n == 0 {
				assert.Equal(t, "info", entry["level"])
				assert.Equal(t, "ready", entry["msg"])
				continue
			}
			assert.Equal(t, "error", entry["level"])
			assert.Equal(t, "ledger failed", entry["msg"])
			assert.Equal(t, "connection reset", entry["error"])
			kept = append(kept, entry["i"].(float64))
		}
		assert.InDelta(t, 99, kept[99], 0)
		assert.InDelta(t, 199, kept[100], 0, "after 100, one in 100")
	})

	t.Run("SPRAG_LOG=dev", func(t *testing.T) {
		t.Setenv(fxmodule.EnvLog, "dev")
		t.Setenv("NO_COLOR", "1")
		out := gcStderr(t, func() { logAll(t) })
		first, _, _ := strings.Cut(out, "\n")
		assert.Regexp(t, `^\d\d:\d\d:\d\d\.\d\d\d\tINFO\tready$`, first, "a human-readable line")
		assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d\.\d\d\d\tERROR\tledger failed\t\{"i": 0, "error": "connection reset"\}$`, out)
		assert.NotContains(t, out, "hidden", "info level")
		assert.NotContains(t, out, "stacktrace")
	})

	t.Run("SPRAG_LOG=dev in colour", func(t *testing.T) {
		t.Setenv(fxmodule.EnvLog, "dev")
		t.Setenv("NO_COLOR", "")
		out := gcStderr(t, func() { logAll(t) })
		assert.Contains(t, out, "\x1b[31mERROR\x1b[0m\tledger failed")
	})

	t.Run("any other value fails fx.New", func(t *testing.T) {
		t.Setenv(fxmodule.EnvLog, "verbose")
		var err error
		gcStderr(t, func() { err = fxmodule.App().Err() })
		require.Error(t, err)
		assert.Contains(t, err.Error(), `SPRAG_LOG="verbose"`)
	})
}

// TestGuideCAppIsAnApplication: operations.md#signals-and-run.
// fxmodule.App returns an *fxmodule.Application, an *fx.App.
func TestGuideCAppIsAnApplication(t *testing.T) {
	t.Parallel()
	app := fxmodule.App(fx.Supply(zap.NewNop()))
	var _ *fxmodule.Application = app //nolint:staticcheck // the type is the promise checked
	var _ *fx.App = app.App           //nolint:staticcheck // as above
	require.NoError(t, app.Err())
}

// TestGuideCStartDeadlineLogs: operations.md#start-and-stop-deadlines.
// When the start context ends before every service has started, the
// failure is logged once at error level, "start failed" (logger fx)
// naming the service still starting, and fxmodule stops the services that
// had started, logging "stopping the services that had started" at warn
// level with their names and the stop timeout; App's Start returns once
// they are stopped, with a fresh context bounded by fx.StopTimeout.
func TestGuideCStartDeadlineLogs(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.DebugLevel)
		metrics := &MetricsStop{}
		hangs := &Hangs{release: make(chan struct{})}
		defer close(hangs.release)
		app := fxmodule.App(fx.Supply(zap.New(core)),
			fx.StartTimeout(10*time.Second),
			fx.StopTimeout(5*time.Second),
			fxmodule.Service("metrics", func() *MetricsStop { return metrics }),
			fxmodule.Service("importer", func() *Hangs { return hangs }),
		)
		ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
		defer cancel()

		err := app.Start(ctx)
		synctest.Wait()

		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, sprag.Stopped, metrics.State(), "stopped before Start returned")
		require.NoError(t, metrics.stopErr, "with a context that had not ended")
		assert.Equal(t, 5*time.Second, metrics.stopDeadline, "bounded by fx.StopTimeout")

		errorLines := logs.FilterLevelExact(zap.ErrorLevel).All()
		require.Len(t, errorLines, 1, "the failure is logged once")
		assert.Equal(t, "start failed", errorLines[0].Message)
		assert.Equal(t, "fx", errorLines[0].LoggerName)
		assert.Equal(t, `start service "importer": still starting when the start ended: context deadline exceeded`,
			errorLines[0].ContextMap()["error"])

		stopping := logs.FilterMessage("stopping the services that had started").All()
		require.Len(t, stopping, 1)
		assert.Equal(t, zapcore.WarnLevel, stopping[0].Level)
		assert.Equal(t, []any{"metrics"}, stopping[0].ContextMap()["services"])
		assert.Equal(t, 5*time.Second, stopping[0].ContextMap()["timeout"])
	})
}

// gcFailing answers with the error its path names.
type gcFailing struct{}

func (gcFailing) Route() string { return "GET /gc/{kind}" }

func (gcFailing) Load(_ context.Context, r *controllers.Request) (any, error) {
	switch r.PathValue("kind") {
	case "status302":
		return nil, controllers.NewError(http.StatusFound, "elsewhere")
	case "teapot":
		return nil, &controllers.HTTPError{Status: http.StatusTeapot, Message: "no coffee",
			Err: errors.New("pot: 10.0.0.3 refused")}
	case "unavailable":
		return nil, &controllers.HTTPError{Status: http.StatusServiceUnavailable, Message: "try later",
			Err: errors.New("db: 10.0.0.4 refused")}
	}
	return nil, nil
}

// gcProblem decodes a problem+json answer.
func gcProblem(t *testing.T, rec *httptest.ResponseRecorder) controllers.Problem {
	t.Helper()
	require.Equal(t, controllers.ContentTypeProblem, rec.Header().Get("Content-Type"), rec.Body.String())
	var p controllers.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	return p
}

// TestGuideCHTTPErrorStatusAndCause: controllers.md#redirects-and-http-errors.
// An HTTPError's Err is never sent and is logged only for a status of 500
// or more; a status outside 400–599 is answered as 500, without detail,
// and logged as "http error with a status outside 400-599".
func TestGuideCHTTPErrorStatusAndCause(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	srv, err := controllers.NewServer(nil, controllers.WithLogger(zap.New(core)), controllers.WithControllers(gcFailing{}))
	require.NoError(t, err)
	serve := func(kind string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/gc/"+kind, nil)
		req.Header.Set(controllers.HeaderRequestID, "rid-"+kind)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}

	rec := serve("status302")
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, controllers.Problem{Type: "about:blank", Title: "Internal Server Error", Status: 500,
		Instance: "/gc/status302", RequestID: "rid-status302"}, gcProblem(t, rec))
	mistake := logs.FilterMessage("http error with a status outside 400-599").All()
	require.Len(t, mistake, 1)
	assert.Equal(t, zapcore.ErrorLevel, mistake[0].Level)
	fields := mistake[0].ContextMap()
	assert.Equal(t, "http 302: elsewhere", fields["error"])
	assert.Equal(t, "docs_test.gcFailing", fields["controller"])
	assert.Equal(t, "GET /gc/{kind}", fields["route"])
	assert.Equal(t, "rid-status302", fields["request_id"])

	rec = serve("teapot")
	assert.Equal(t, http.StatusTeapot, rec.Code)
	assert.Equal(t, "no coffee", gcProblem(t, rec).Detail)
	assert.NotContains(t, rec.Body.String(), "10.0.0.3")

	rec = serve("unavailable")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "try later", gcProblem(t, rec).Detail, "the message is sent whatever the status")
	assert.NotContains(t, rec.Body.String(), "10.0.0.4")

	failed := logs.FilterMessage("request failed").All()
	require.Len(t, failed, 1, "the cause of a 4xx is not logged; that of a 5xx is")
	assert.Equal(t, "http 503: try later: db: 10.0.0.4 refused", failed[0].ContextMap()["error"])
	assert.Equal(t, "rid-unavailable", failed[0].ContextMap()["request_id"])
}

// gcOrder is the input of gcForms' actions.
type gcOrder struct {
	Email string `json:"email" validate:"required,email"`
	Qty   int    `json:"qty" validate:"min=1"`
}

// gcForms has an action that takes an object and one that takes a number.
type gcForms struct{}

func (gcForms) Route() string { return "GET /gcforms" }

func (gcForms) Load(context.Context, *controllers.Request) (any, error) { return nil, nil }

func (gcForms) Actions() []*controllers.ActionHandler {
	return []*controllers.ActionHandler{
		controllers.Action("order", func(_ context.Context, _ *controllers.Request, in gcOrder) (any, error) { return in, nil }),
		controllers.Action("count", func(_ context.Context, _ *controllers.Request, n int) (any, error) { return n, nil }),
	}
}

// TestGuideCActionRefusals: controllers.md#actions, Input. Every refusal
// is a problem; a 400 of the body as a whole says why in its detail and
// has no errors; a 400 of fields at fault has the detail "invalid input"
// and lists them in errors; a type other than JSON and a form answers 415,
// and so does a form for an action whose input is not an object.
func TestGuideCActionRefusals(t *testing.T) {
	t.Parallel()
	srv, err := controllers.NewServer(nil, controllers.WithControllers(gcForms{}))
	require.NoError(t, err)
	post := func(target, contentType, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}

	for body, detail := range map[string]string{
		``:                     "request body is empty",
		`{"email":`:            "request body is not valid JSON: it ends too early",
		`{"email":"a@b.c"} []`: "request body has data after the JSON value",
		`[1]`:                  "request body must be a JSON object",
		`null`:                 "request body must be a JSON object",
	} {
		rec := post("/gcforms/order", "application/json", body)
		assert.Equal(t, http.StatusBadRequest, rec.Code, body)
		p := gcProblem(t, rec)
		assert.Equal(t, detail, p.Detail, body)
		assert.Empty(t, p.Errors, "%s: the body as a whole is at fault", body)
	}

	for _, tt := range []struct{ contentType, body string }{
		{"application/json", `{"email":"ada","qty":0}`},
		{"application/x-www-form-urlencoded", "email=ada&qty=0"},
	} {
		rec := post("/gcforms/order", tt.contentType, tt.body)
		assert.Equal(t, http.StatusBadRequest, rec.Code)
		p := gcProblem(t, rec)
		assert.Equal(t, "invalid input", p.Detail)
		assert.Equal(t, []controllers.FieldError{
			{Field: "email", Rule: "email", Message: "must be a valid email address"},
			{Field: "qty", Rule: "min", Param: "1", Message: "must be at least 1"},
		}, p.Errors, "%s: the same fields and messages for JSON and forms", tt.contentType)
	}

	rec := post("/gcforms/order", "text/plain", `{}`)
	assert.Equal(t, http.StatusUnsupportedMediaType, rec.Code)
	assert.Equal(t, "request body must be application/json or application/x-www-form-urlencoded", gcProblem(t, rec).Detail)

	rec = post("/gcforms/count", "application/x-www-form-urlencoded", "n=2")
	assert.Equal(t, http.StatusUnsupportedMediaType, rec.Code, "a form for an input that is not an object")
	gcProblem(t, rec)
	rec = post("/gcforms/count", "application/json", "2")
	assert.Equal(t, http.StatusOK, rec.Code, "JSON suits it")
	assert.Equal(t, "2", rec.Body.String())
}

// gcStartServer starts srv, bound as the service "http" and provided to
// its registry so that /readyz reports it, and returns the runtime.
func gcStartServer(t *testing.T, srv *controllers.Server) sprag.Runtime {
	t.Helper()
	rt := sprag.NewRuntime(nil)
	require.NoError(t, sprag.Bind(srv, "http", rt))
	require.NoError(t, srv.Registry().Provide("http", srv))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Start(ctx))
	return rt
}

// gcGet sends a GET over a connection of its own and returns the status
// and the body.
func gcGet(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// gcEvent is one Server-Sent Event.
type gcEvent struct{ id, event, data string }

// gcNextEvent reads the next event of a stream, skipping heartbeats.
func gcNextEvent(t *testing.T, sc *bufio.Scanner) gcEvent {
	t.Helper()
	var e gcEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" && e != (gcEvent{}):
			return e
		case strings.HasPrefix(line, "id: "):
			e.id = line[len("id: "):]
		case strings.HasPrefix(line, "event: "):
			e.event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			e.data = line[len("data: "):]
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("the stream ended before an event; got %+v", e)
	return e
}

// TestGuideCDrainOverTCP: controllers.md#the-server (Stop) and
// operations.md#health-probes (Start and stop), over loopback. Once the
// stop begins, /readyz answers 503 with "draining":true while every other
// route, streams included, goes on serving, for the drain delay or until
// the stop's context ends; "http server draining" is logged with the
// delay; then the streams end and the listener closes, after which the
// probes fail to connect. Also the stream's wire format
// (controllers.md#streams): its headers, ids "<run>-<n>" and, for a
// Last-Event-ID of no run of the server, the gap marker
// {"reason":"unknown_id"}.
func TestGuideCDrainOverTCP(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	srv, err := controllers.NewServer(sprag.NewRegistry(),
		controllers.WithAddr("127.0.0.1:0"),
		controllers.WithLogger(zap.New(core)),
		controllers.WithDrainDelay(time.Hour), // ended by the stop's context
		controllers.WithControllers(gcHere{}),
		controllers.WithStream("GET /events", controllers.Forward("order:*")))
	require.NoError(t, err)
	rt := gcStartServer(t, srv)
	base := "http://" + srv.Addr()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	streamCtx, endStream := context.WithTimeout(context.Background(), 30*time.Second)
	defer endStream()
	req, err := http.NewRequestWithContext(streamCtx, http.MethodGet, base+"/events", nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "no", resp.Header.Get("X-Accel-Buffering"))
	assert.Equal(t, "HTTP/1.1", resp.Proto)
	events := bufio.NewScanner(resp.Body)

	require.NoError(t, rt.Bus.Emit(context.Background(), "order:created", map[string]int{"id": 7}))
	first := gcNextEvent(t, events)
	assert.Regexp(t, `^[^-\s]+-1$`, first.id, "<run>-<n>, n from 1")
	assert.Equal(t, gcEvent{id: first.id, event: "order:created", data: `{"id":7}`}, first)

	stale, err := http.NewRequestWithContext(streamCtx, http.MethodGet, base+"/events", nil)
	require.NoError(t, err)
	stale.Header.Set("Last-Event-ID", "another-run-1")
	staleResp, err := client.Do(stale)
	require.NoError(t, err)
	defer func() { _ = staleResp.Body.Close() }()
	gap := gcNextEvent(t, bufio.NewScanner(staleResp.Body))
	assert.Equal(t, controllers.StreamGapEvent, gap.event)
	assert.JSONEq(t, `{"reason":"unknown_id"}`, gap.data)

	stopCtx, endStop := context.WithCancel(context.Background())
	defer endStop()
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop(stopCtx) }()

	// The service turns to stopping, and /readyz to 503, before OnStop
	// begins the drain: wait for the drain itself.
	var status int
	var readiness controllers.Readiness
	for deadline := time.Now().Add(10 * time.Second); ; {
		var body string
		status, body = gcGet(t, client, base+"/readyz")
		readiness = controllers.Readiness{}
		if status == http.StatusServiceUnavailable {
			require.NoError(t, json.Unmarshal([]byte(body), &readiness))
		}
		if readiness.Draining || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	require.Equal(t, http.StatusServiceUnavailable, status, "/readyz turns 503 once the stop begins")
	assert.False(t, readiness.Ready)
	assert.True(t, readiness.Draining)
	assert.Equal(t, []controllers.ServiceReadiness{{Name: "http", State: "stopping", Healthy: false}}, readiness.Services)
	require.Len(t, readiness.Streams, 1)
	assert.Equal(t, int64(2), readiness.Streams[0].Clients)

	status, body := gcGet(t, client, base+"/here")
	assert.Equal(t, http.StatusOK, status, "other routes go on serving")
	assert.Equal(t, `"here"`, body)
	status, _ = gcGet(t, client, base+"/healthz")
	assert.Equal(t, http.StatusOK, status, "liveness holds while draining")
	require.NoError(t, rt.Bus.Emit(context.Background(), "order:paid", map[string]int{"id": 7}))
	assert.Equal(t, `{"id":7}`, gcNextEvent(t, events).data, "streams go on while the server drains")
	select {
	case err := <-stopped:
		t.Fatalf("the stop returned during the drain delay: %v", err)
	default:
	}
	draining := logs.FilterMessage("http server draining").All()
	require.Len(t, draining, 1)
	assert.Equal(t, zapcore.InfoLevel, draining[0].Level)
	assert.Equal(t, time.Hour, draining[0].ContextMap()["delay"])

	endStop() // the drain ends with the stop's context
	select {
	case err := <-stopped:
		if err != nil {
			require.ErrorIs(t, err, sprag.ErrStillRunning, "Stop does not wait past its context")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stop did not end with its context")
	}
	<-srv.Done()
	for events.Scan() { // the stream ends (abruptly, maybe: the stop's context had ended, so connections are closed at once)
	}

	var d net.Dialer
	conn, err := d.DialContext(context.Background(), "tcp", srv.Addr())
	if err == nil {
		_ = conn.Close()
	}
	require.Error(t, err, "the listener is closed: the probes fail to connect")
}

// TestGuideCPlainHTTP11: operations.md#http-server-hardening. The server
// speaks plain HTTP/1.1: a client that speaks only unencrypted HTTP/2
// (h2c with prior knowledge) gets no answer.
func TestGuideCPlainHTTP11(t *testing.T) {
	t.Parallel()
	srv, err := controllers.NewServer(nil, controllers.WithAddr("127.0.0.1:0"), controllers.WithControllers(gcHere{}))
	require.NoError(t, err)
	gcStartServer(t, srv)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Stop(ctx))
	}()

	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &h2c, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.Addr()+"/here", nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err, "no HTTP/2 without TLS")

	req, err = http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.Addr()+"/here", nil)
	require.NoError(t, err)
	resp, err = (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	assert.Equal(t, "HTTP/1.1", resp.Proto)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// gcSlow is a controller whose Load holds its request until released,
// whatever its context, and that serves the service "metrics".
type gcSlow struct {
	entered chan struct{}
	release chan struct{}
}

func (c *gcSlow) Route() string { return "GET /slow" }

func (c *gcSlow) Load(context.Context, *controllers.Request) (any, error) {
	close(c.entered)
	<-c.release
	return "late", nil
}

// TestGuideCSlowRequestAtTheStopDeadline: operations.md#start-and-stop-deadlines.
// The HTTP server stops before the services it serves, and its graceful
// shutdown waits for a request in flight up to the stop's deadline: a
// request that outlasts fx.StopTimeout takes the whole stop, the client
// gets no response, and the services the server did not reach are then
// stopped by fxmodule, after the deadline, with "the app's stop ran out of
// time: stopping the services it did not reach" at warn level.
func TestGuideCSlowRequestAtTheStopDeadline(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	slow := &gcSlow{entered: make(chan struct{}), release: make(chan struct{})}
	var metrics *MetricsService
	var server *controllers.Server
	app := fxmodule.App(fx.Supply(zap.New(core)),
		fx.StopTimeout(300*time.Millisecond),
		fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0")),
		fxmodule.Service("metrics", func() *MetricsService {
			metrics = &MetricsService{}
			return metrics
		}),
		fxmodule.Controllers(func(AfterMetrics) *gcSlow { return slow }),
		fx.Populate(fx.Annotate(&server, fx.ParamTags(`name:"http"`))),
	)
	require.NoError(t, app.Err())
	startCtx, cancelStart := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelStart()
	require.NoError(t, app.Start(startCtx))

	answered := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+server.Addr()+"/slow", nil)
		if err == nil {
			var resp *http.Response
			if resp, err = (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req); err == nil {
				_ = resp.Body.Close()
			}
		}
		answered <- err
	}()
	select {
	case <-slow.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach Load")
	}

	stopCtx, cancelStop := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancelStop()
	err := app.Stop(stopCtx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the request took the whole stop")

	select {
	case <-metrics.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the service the server serves was not stopped after the deadline")
	}
	assert.Equal(t, sprag.Stopped, metrics.State())
	reached := logs.FilterMessage("the app's stop ran out of time: stopping the services it did not reach").All()
	require.Len(t, reached, 1)
	assert.Equal(t, zapcore.WarnLevel, reached[0].Level)
	assert.Equal(t, []any{"metrics"}, reached[0].ContextMap()["services"])

	require.Error(t, <-answered, "the connection is closed at the deadline: no response")
	close(slow.release)
	<-server.Done()
}

// gcAsks is a controller whose action answers what r.WantsHTML and
// r.Form say.
type gcAsks struct{}

func (gcAsks) Route() string { return "GET /asks" }

func (gcAsks) Load(_ context.Context, r *controllers.Request) (any, error) { return r.WantsHTML(), nil }

func (gcAsks) Actions() []*controllers.ActionHandler {
	return []*controllers.ActionHandler{
		controllers.Action("tell", func(_ context.Context, r *controllers.Request, _ map[string]any) (any, error) {
			return map[string]bool{"wants_html": r.WantsHTML(), "form": r.Form() != nil}, nil
		}),
	}
}

// TestGuideCWantsHTML: controllers.md, the Request and Rendering and
// content negotiation. WantsHTML says whether Accept prefers a page: in
// Load, whether the server answers with one; an action called with JSON
// gets JSON whatever its Accept header, and answers with pages only for a
// form post (a 303 to its page on success).
func TestGuideCWantsHTML(t *testing.T) {
	t.Parallel()
	srv, err := controllers.NewServer(nil, controllers.WithControllers(gcAsks{}))
	require.NoError(t, err)
	serve := func(method, target, contentType, body, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}

	for accept, page := range map[string]bool{"text/html": true, "application/json": false, "": false} {
		rec := serve(http.MethodGet, "/asks", "", "", accept)
		assert.Equal(t, page, rec.Header().Get("Content-Type") == "text/html; charset=utf-8", accept)
		if !page {
			assert.Equal(t, "false", rec.Body.String(), "Load is told: JSON")
		}
	}

	rec := serve(http.MethodPost, "/asks/tell", "application/json", `{}`, "text/html")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"), "an action called with JSON gets JSON")
	assert.JSONEq(t, `{"wants_html":true,"form":false}`, rec.Body.String(), "WantsHTML reads Accept only")

	rec = serve(http.MethodPost, "/asks/tell", "application/x-www-form-urlencoded", "a=1", "text/html")
	assert.Equal(t, http.StatusSeeOther, rec.Code, "a browser's form post is answered with pages")
	assert.Equal(t, "/asks", rec.Header().Get("Location"))
}
