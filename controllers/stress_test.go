package controllers

// Stress tests: many concurrent requests, clients that come and go, and
// requests and streams concurrent with the server's start and stop. Each
// one checks a promise of doc.go, docs/controllers.md or
// docs/operations.md under load; run them with -race.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// stressCounter is a service whose state every request changes.
type stressCounter struct {
	sprag.Service
	mu sync.Mutex
	n  int
}

func (c *stressCounter) next() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

func (c *stressCounter) value() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// stressGet requests url with client and returns the status and the body.
func stressGet(client *http.Client, url string) (int, string, http.Header, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, string(body), resp.Header, err
}

// TestStressConcurrentLoadsShareServiceState: doc.go, "Concurrency": "Load
// and actions run concurrently, one call per request"; docs/controllers.md:
// Load "is called for every matching request, concurrently from many
// goroutines". 400 requests from 8 keep-alive clients, half of them
// actions, reach one service through controllers.Service: each request's
// answer carries a distinct value of the service's counter, and the
// counter counts every request once.
func TestStressConcurrentLoadsShareServiceState(t *testing.T) {
	t.Parallel()
	reg := sprag.NewRegistry()
	counter := &stressCounter{}
	startService(t, reg, "counter", counter, counter)
	type bump struct {
		By int `json:"by" validate:"min=1,max=1"`
	}
	ctrl := &loader{route: "GET /count/{who}", load: func(_ context.Context, r *Request) (any, error) {
		svc, err := Service[*stressCounter](r, "counter")
		if err != nil {
			return nil, err
		}
		return map[string]any{"n": svc.next(), "who": r.PathValue("who"), "id": r.ID()}, nil
	}, actions: []*ActionHandler{Action("bump", func(_ context.Context, r *Request, in bump) (any, error) {
		svc, err := Service[*stressCounter](r, "counter")
		if err != nil {
			return nil, err
		}
		return map[string]any{"n": svc.next(), "who": r.PathValue("who"), "id": r.ID()}, nil
	})}}
	srv, _ := newServer(t, reg, []Option{WithAddr("127.0.0.1:0")}, ctrl)
	base, _ := startHTTP(t, srv)

	const workers, each = 8, 50
	type answer struct {
		N   int    `json:"n"`
		Who string `json:"who"`
		ID  string `json:"id"`
	}
	answers := make(chan answer, workers*each)
	wait := clients(workers, 0, func(w int, client *http.Client) {
		for i := range each {
			who := fmt.Sprintf("w%d-%d", w, i)
			var resp *http.Response
			var err error
			if i%2 == 0 {
				resp, err = client.Get(base + "/count/" + who)
			} else {
				resp, err = client.Post(base+"/count/"+who+"/bump", "application/json", strings.NewReader(`{"by":1}`))
			}
			if !assert.NoError(t, err) { //nolint:testifylint // on a client's goroutine, where require cannot stop the test
				return
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			assert.NoError(t, err) //nolint:testifylint // on a client's goroutine, where require cannot stop the test
			if !assert.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body) {
				continue
			}
			var a answer
			assert.NoError(t, json.Unmarshal(body, &a), "body: %s", body) //nolint:testifylint // on a client's goroutine, where require cannot stop the test
			assert.Equal(t, who, a.Who, "each request sees its own path values")
			assert.Equal(t, resp.Header.Get(HeaderRequestID), a.ID, "and its own request id")
			answers <- a
		}
	})
	wait()
	close(answers)
	seen := map[int]bool{}
	for a := range answers {
		assert.False(t, seen[a.N], "value %d answered twice", a.N)
		seen[a.N] = true
	}
	assert.Len(t, seen, workers*each)
	assert.Equal(t, workers*each, counter.value(), "every request reached the service once")
}

// TestStressPanicsUnderConcurrency: doc.go, "Panics": "A panic in Load, an
// action, a middleware, a handler or a stream's authorization hook is
// recovered, logged at error level through zap with the stack, the route
// and the request id, and answered with a 500 problem; the server goes on
// serving." Requests whose Load, action, server middleware or stream
// authorization hook panics run at once with healthy ones over TCP: every
// panic is a 500 problem with no detail and one log line with its request
// id; every healthy request is answered 200; the server serves afterwards.
func TestStressPanicsUnderConcurrency(t *testing.T) {
	t.Parallel()
	type in struct {
		X int `json:"x"`
	}
	ctrl := &loader{route: "GET /p/{kind}", load: func(_ context.Context, r *Request) (any, error) {
		if r.PathValue("kind") == "boom" {
			panic("secret panic value " + r.ID())
		}
		return "fine", nil
	}, actions: []*ActionHandler{Action("act", func(_ context.Context, r *Request, _ in) (any, error) {
		panic(errors.New("action panic " + r.ID()))
	})}}
	panicky := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Has("mw-panic") {
				panic("middleware panic")
			}
			next.ServeHTTP(w, r)
		})
	}
	srv, logs := newServer(t, nil, []Option{WithAddr("127.0.0.1:0"), WithMiddleware(panicky)}, ctrl)
	_, err := srv.Stream("/events", Forward("x"), StreamAuthorize(func(r *Request, _ []string) ([]string, error) {
		panic("authorize panic " + r.ID())
	}))
	require.NoError(t, err)
	base, _ := startHTTP(t, srv)

	const workers, each = 8, 40
	var panics atomic.Int64
	ids := make(chan string, workers*each)
	wait := clients(workers, 0, func(w int, client *http.Client) {
		for i := range each {
			id := fmt.Sprintf("req-%d-%d", w, i)
			var req *http.Request
			switch i % 5 {
			case 4:
				req, _ = http.NewRequest(http.MethodGet, base+"/events", nil)
			case 0:
				req, _ = http.NewRequest(http.MethodGet, base+"/p/boom", nil)
			case 1:
				req, _ = http.NewRequest(http.MethodPost, base+"/p/x/act", strings.NewReader(`{"x":1}`))
				req.Header.Set("Content-Type", "application/json")
			case 2:
				req, _ = http.NewRequest(http.MethodGet, base+"/p/ok?mw-panic=1", nil)
			default:
				req, _ = http.NewRequest(http.MethodGet, base+"/p/ok", nil)
			}
			req.Header.Set(HeaderRequestID, id)
			resp, err := client.Do(req)
			if !assert.NoError(t, err) { //nolint:testifylint // on a client's goroutine, where require cannot stop the test
				return
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			assert.NoError(t, err) //nolint:testifylint // on a client's goroutine, where require cannot stop the test
			if i%5 == 3 {
				assert.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
				assert.JSONEq(t, `"fine"`, string(body))
				continue
			}
			panics.Add(1)
			ids <- id
			assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			assert.Equal(t, ContentTypeProblem, resp.Header.Get("Content-Type"))
			var p Problem
			if assert.NoError(t, json.Unmarshal(body, &p), "body: %s", body) {
				assert.Equal(t, http.StatusInternalServerError, p.Status)
				assert.Empty(t, p.Detail, "no detail for a panic")
				assert.Equal(t, id, p.RequestID)
			}
			assert.NotContains(t, string(body), "panic", "the panic value never reaches the client")
		}
	})
	wait()
	close(ids)

	logged := map[string]int{}
	for _, e := range logsWith(logs, "panic in http handler") {
		assert.Equal(t, zapcore.ErrorLevel, e.Level)
		f := e.ContextMap()
		assert.NotEmpty(t, f["stack"])
		logged[f["request_id"].(string)]++
	}
	assert.Len(t, logged, int(panics.Load()), "one line per panic")
	for id := range ids {
		assert.Equal(t, 1, logged[id], "the panic of %s is logged once", id)
	}
	status, body, _, err := stressGet(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, base+"/p/ok")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status, "the server goes on serving: %s", body)
}

// TestStressInFlightRequestsFinishAtStop: doc.go: "Server.OnStop stops in
// three steps: ... then http.Server.Shutdown with the stop context lets
// the requests in flight complete"; docs/controllers.md (The server,
// Stop): "the listener closes, idle connections close, and in-flight
// requests run to completion". With 40 requests in Load when Stop
// begins, a request sent while Shutdown waits is refused, every request
// in flight gets its 200, Stop returns nil only after the last Load has
// returned, and no Load runs after it.
func TestStressInFlightRequestsFinishAtStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const inFlight = 40
		release := make(chan struct{})
		var running, calls atomic.Int64
		slow := &loader{route: "GET /slow/{n}", load: func(_ context.Context, r *Request) (any, error) {
			calls.Add(1)
			running.Add(1)
			defer running.Add(-1)
			<-release
			return r.PathValue("n"), nil
		}}
		srv, _ := newServer(t, nil, nil, slow)
		ln := newMemListener()
		srv.listen = ln.listen
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
		require.NoError(t, srv.Start(context.Background()))
		client := memClient(ln)

		type result struct {
			n      int
			status int
			body   string
			err    error
		}
		results := make(chan result, inFlight)
		for i := range inFlight {
			go func() {
				status, body, _, err := stressGet(client, "http://mem/slow/"+strconv.Itoa(i))
				results <- result{i, status, body, err}
			}()
		}
		synctest.Wait()
		require.Equal(t, int64(inFlight), running.Load(), "every request is in Load")

		stopped := make(chan error, 1)
		go func() { stopped <- srv.Stop(context.Background()) }()
		synctest.Wait() // Shutdown waits for the requests in flight
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned while requests were in flight: %v", err)
		default:
		}
		_, _, _, err := stressGet(client, "http://mem/slow/late")
		require.Error(t, err, "the listener is closed: a new request is refused")

		close(release)
		require.NoError(t, <-stopped)
		assert.Zero(t, running.Load(), "no Load runs once Stop has returned")
		for range inFlight {
			r := <-results
			if assert.NoError(t, r.err, "request %d", r.n) {
				assert.Equal(t, http.StatusOK, r.status, "request %d", r.n)
				assert.JSONEq(t, strconv.Quote(strconv.Itoa(r.n)), r.body)
			}
		}
		assert.Equal(t, int64(inFlight), calls.Load(), "the refused request never reached Load")
		<-srv.Done()
	})
}

// TestStressRequestsRacingStopOverTCP: docs/operations.md (Health probes,
// Start and stop): "Then the streams end and the listener closes; the
// requests in flight complete, until the stop's deadline". Keep-alive
// clients hammer a controller while the server stops: every request gets
// a whole 200 answer or a transport error (never a truncated or wrong
// body), Stop returns nil, no Load is running when it returns, and none
// starts afterwards.
func TestStressRequestsRacingStopOverTCP(t *testing.T) {
	t.Parallel()
	var running, calls atomic.Int64
	ctrl := &loader{route: "GET /work/{n}", load: func(_ context.Context, r *Request) (any, error) {
		calls.Add(1)
		running.Add(1)
		defer running.Add(-1)
		time.Sleep(200 * time.Microsecond)
		return map[string]string{"n": r.PathValue("n"), "pad": strings.Repeat("x", 2048)}, nil
	}}
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")}, ctrl)
	require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
	require.NoError(t, srv.Start(context.Background()))
	base := "http://" + srv.Addr()

	const workers = 8
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	wait := clients(workers, 5*time.Second, func(w int, client *http.Client) {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := fmt.Sprintf("%d-%d", w, i)
			status, body, _, err := stressGet(client, base+"/work/"+n)
			if err != nil {
				failed.Add(1)
				continue
			}
			ok.Add(1)
			if assert.Equal(t, http.StatusOK, status, "body: %s", body) {
				var got map[string]string
				if assert.NoError(t, json.Unmarshal([]byte(body), &got), "a whole body") {
					assert.Equal(t, n, got["n"])
				}
			}
		}
	})
	for calls.Load() < 100 { // the clients are busy
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Stop(ctx))
	assert.Zero(t, running.Load(), "no Load runs once Stop has returned")
	after := calls.Load()
	for failed.Load() < workers { // each client has seen the server go away
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wait()
	assert.Equal(t, after, calls.Load(), "no request reached Load after Stop returned")
	assert.Positive(t, ok.Load())
}

// closeRecorder is a listener that records its Close.
type closeRecorder struct {
	net.Listener
	closed atomic.Bool
}

func (l *closeRecorder) Close() error {
	l.closed.Store(true)
	return l.Listener.Close()
}

// TestStressStopWhileStarting: sprag's Service.Start: "When Stop arrives
// while OnStart runs, OnStart's ctx is cancelled and Start returns an
// error wrapping ErrStopped"; doc.go: "The listener opens in
// Server.OnStart". A Stop that arrives while OnStart opens the listener
// leaves nothing behind: Start fails with ErrStopped, Stop returns nil, the
// listener that OnStart opened is closed, and the service is done.
func TestStressStopWhileStarting(t *testing.T) {
	t.Parallel()
	for range 20 {
		srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")}, &static{route: "GET /x", data: 1})
		_, err := srv.Stream("/events", Forward("x"))
		require.NoError(t, err)
		entered, proceed := make(chan struct{}), make(chan struct{})
		var opened *closeRecorder
		srv.listen = func(ctx context.Context, network, addr string) (net.Listener, error) {
			close(entered)
			<-proceed
			var lc net.ListenConfig
			ln, err := lc.Listen(context.WithoutCancel(ctx), network, addr)
			if err != nil {
				return nil, err
			}
			opened = &closeRecorder{Listener: ln}
			return opened, nil
		}
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(nil)))
		started := make(chan error, 1)
		go func() { started <- srv.Start(context.Background()) }()
		<-entered
		stopped := make(chan error, 1)
		go func() { stopped <- srv.Stop(context.Background()) }()
		for srv.State() != sprag.Stopping {
			time.Sleep(100 * time.Microsecond)
		}
		close(proceed)
		require.ErrorIs(t, <-started, sprag.ErrStopped)
		require.NoError(t, <-stopped)
		<-srv.Done()
		assert.Equal(t, sprag.Stopped, srv.State())
		require.NotNil(t, opened)
		assert.True(t, opened.closed.Load(), "the listener OnStart opened is closed")
		hub := srv.Streams()[0].hub.Load()
		assert.True(t, hub == nil || isClosed(hub.Closed()), "no stream is left running")
	}
}

// parseSSEID splits "<run>-<n>".
func parseSSEID(id string) (string, uint64, error) {
	run, n, ok := strings.Cut(id, "-")
	if !ok {
		return "", 0, fmt.Errorf("malformed id %q", id)
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("malformed id %q: %w", id, err)
	}
	return run, seq, nil
}

// churnClient is one client of TestStressStreamChurnKeepsOrderAcrossResume:
// it reads a few items, hangs up and resumes with Last-Event-ID, until it
// has reached the position total. It reports the first broken promise.
type churnClient struct {
	c        int
	base     string
	total    uint64
	payloads *sync.Map // seq -> [2]int{emitter, n}, shared by the clients
	once     func()    // called once the first stream is open

	run      string
	last     uint64 // the position of the last item received; 0 before any
	lastN    [2]int
	reconns  int
	received int
}

func (cc *churnClient) loop() error {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for cc.last < cc.total {
		if err := cc.connection(client); err != nil {
			return fmt.Errorf("client %d, connection %d: %w", cc.c, cc.reconns, err)
		}
		cc.reconns++
	}
	return nil
}

// connection reads one connection's items.
func (cc *churnClient) connection(client *http.Client) error {
	req, err := http.NewRequest(http.MethodGet, cc.base+"/events", nil)
	if err != nil {
		return err
	}
	resumed := cc.run != ""
	if resumed {
		id := cc.run + "-" + strconv.FormatUint(cc.last, 10)
		if cc.reconns%2 == 0 {
			req.Header.Set("Last-Event-ID", id) // as EventSource resumes
		} else {
			req.URL.RawQuery = "last_event_id=" + id // as a page that embeds LastEventID connects
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // hang up, perhaps while the server writes
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if cc.once != nil {
		cc.once()
		cc.once = nil
	}
	s := &sseStream{resp: resp, br: bufio.NewReader(resp.Body)}
	budget := 1 + (cc.c*7+cc.reconns*13)%40 // items to read before hanging up
	chained := resumed                      // the next item must continue from cc.last
	for ; budget > 0 && cc.last < cc.total; budget-- {
		e, err := s.next()
		if err != nil {
			return fmt.Errorf("the stream ended while the server ran: %w", err)
		}
		run, seq, err := parseSSEID(e.id)
		if err != nil {
			return err
		}
		if cc.run == "" {
			cc.run = run
		}
		if run != cc.run {
			return fmt.Errorf("run %q, then %q", cc.run, run)
		}
		if chained && seq <= cc.last {
			return fmt.Errorf("position %d after %d: a duplicate", seq, cc.last)
		}
		if e.name == StreamGapEvent {
			var d struct {
				Reason string `json:"reason"`
				Missed uint64 `json:"missed"`
			}
			if err := json.Unmarshal([]byte(e.data), &d); err != nil {
				return fmt.Errorf("gap marker %q: %w", e.data, err)
			}
			if d.Reason != "lagged" {
				return fmt.Errorf("gap marker %q: not a lag", e.data)
			}
			if chained && d.Missed != seq-cc.last {
				return fmt.Errorf("gap marker %s after %d says %d missed: its id is not the last event skipped", e.id, cc.last, d.Missed)
			}
		} else {
			var emit, n int
			if _, err := fmt.Sscanf(e.data, `{"e":%d,"n":%d}`, &emit, &n); err != nil {
				return fmt.Errorf("data %q: %w", e.data, err)
			}
			if chained && seq != cc.last+1 {
				return fmt.Errorf("event %d after %d without a gap marker", seq, cc.last)
			}
			if n <= cc.lastN[emit] {
				return fmt.Errorf("emitter %d's event %d after its event %d", emit, n, cc.lastN[emit])
			}
			cc.lastN[emit] = n
			if old, loaded := cc.payloads.LoadOrStore(seq, [2]int{emit, n}); loaded && old != [2]int{emit, n} {
				return fmt.Errorf("event %d is %v for one client, %v for another", seq, old, [2]int{emit, n})
			}
			cc.received++
		}
		cc.last, chained = seq, true
	}
	return nil
}

// TestStressStreamChurnKeepsOrderAcrossResume: doc.go (Streams): "each
// client reads the buffer at its own pace ... one that falls further
// behind than the buffer skips the oldest events and is told so"; id is
// "<run>-<n>", "EventSource sends the last id back as Last-Event-ID when
// it reconnects, and the stream resumes after it from its buffer" (and
// so with the last_event_id parameter); the gap marker's data gives "missed", the stream's events skipped, and "Its
// id is that of the last event skipped, so that the stream continues
// after it". Two emitters emit 1500 events each, in bursts, while 8
// clients read a few events, hang up mid-stream and reconnect with their
// last id, over and over. For every client, over all its connections:
// positions strictly increase (no duplicate across a resume), each event
// or marker continues from the one before (an event is the next one, a
// marker's missed is exactly the distance skipped), each emitter's events
// come in the order emitted, and every client agrees on what each id
// carries. Once every client has gone, the stream has no client left and
// its open-stream slots are free.
func TestStressStreamChurnKeepsOrderAcrossResume(t *testing.T) {
	t.Parallel()
	const (
		emitters = 2
		perEmit  = 1500
		clients  = 8
		total    = emitters * perEmit
	)
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")})
	stream, err := srv.Stream("/events", Forward("a", "b"), StreamBuffer(64), StreamHeartbeat(0))
	require.NoError(t, err)
	base, _ := startHTTP(t, srv)
	bus := srv.bus()

	var payloads sync.Map
	var connected sync.WaitGroup
	connected.Add(clients)
	ccs := make([]*churnClient, clients)
	var wg sync.WaitGroup
	for c := range clients {
		ccs[c] = &churnClient{c: c, base: base, total: total, payloads: &payloads, once: connected.Done}
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, ccs[c].loop())
		}()
	}
	connected.Wait()
	var emitWG sync.WaitGroup
	for e := range emitters {
		emitWG.Add(1)
		go func() {
			defer emitWG.Done()
			topic := []string{"a", "b"}[e]
			for n := 1; n <= perEmit; n++ {
				assert.NoError(t, bus.Emit(context.Background(), topic, map[string]int{"e": e, "n": n}))
				if n%25 == 0 {
					time.Sleep(time.Millisecond) // bursts, so that clients keep up now and then
				}
			}
		}()
	}
	emitWG.Wait()
	wg.Wait()

	for _, cc := range ccs {
		assert.Positive(t, cc.received, "client %d", cc.c)
		assert.Greater(t, cc.reconns, 1, "client %d resumed", cc.c)
	}
	st := stream.Stats()
	assert.Equal(t, uint64(total), st.Published)
	require.Eventually(t, func() bool { return stream.Stats().Clients == 0 && srv.openStreams.Load() == 0 },
		5*time.Second, time.Millisecond, "every hung-up client frees its slot")
	assert.Zero(t, st.Refused)
}

// TestStressStreamsEndCleanlyAtStopUnderLoad: doc.go (Streams): "every one
// ends as soon as the drain is over, before the graceful shutdown, so that
// they do not hold it up"; stream_client.go: "a client that reads still
// gets the stream's clean end". 64 reading clients, while events are
// emitted without pause: Stop returns nil long before its 10s deadline
// (it takes well under a second; the bound leaves room for a loaded
// machine), and each client sees its events in order and then a clean
// end of the stream.
func TestStressStreamsEndCleanlyAtStopUnderLoad(t *testing.T) {
	t.Parallel()
	const clients = 64
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")})
	_, err := srv.Stream("/events", Forward("tick"), StreamHeartbeat(0))
	require.NoError(t, err)
	rt := sprag.NewRuntime(nil)
	require.NoError(t, sprag.Bind(srv, "http", rt))
	require.NoError(t, srv.Start(context.Background()))

	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ended := make(chan error, clients)
	var receiving atomic.Int64 // clients that have had an event
	for range clients {
		resp, err := client.Get("http://" + srv.Addr() + "/events") //nolint:bodyclose // closed by its reader
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		go func() {
			defer func() { _ = resp.Body.Close() }()
			s := &sseStream{resp: resp, br: bufio.NewReader(resp.Body)}
			var prev uint64
			for {
				e, err := s.next()
				if err != nil {
					if errors.Is(err, io.EOF) && e.id == "" {
						ended <- nil
					} else {
						ended <- err
					}
					return
				}
				_, seq, err := parseSSEID(e.id)
				if err != nil {
					ended <- err
					return
				}
				if prev != 0 && e.name != StreamGapEvent && seq != prev+1 {
					ended <- fmt.Errorf("event %d after %d", seq, prev)
					return
				}
				if prev == 0 {
					receiving.Add(1)
				}
				prev = seq
			}
		}()
	}
	emitting := make(chan struct{})
	emitterDone := make(chan struct{})
	go func() {
		defer close(emitterDone)
		for n := 0; ; n++ {
			select {
			case <-emitting:
				return
			default:
			}
			_ = rt.Bus.Emit(context.Background(), "tick", n) // reaches no stream once the stop removed its listener
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); receiving.Load() < clients && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	require.Equal(t, int64(clients), receiving.Load(), "every client gets events before the stop")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	require.NoError(t, srv.Stop(ctx))
	took := time.Since(began)
	close(emitting)
	<-emitterDone
	assert.Less(t, took, 3*time.Second, "Stop with %d busy streams is not held up until its deadline", clients)
	for range clients {
		assert.NoError(t, <-ended, "each client sees its events in order and a clean end")
	}
}

// TestStressRequestLogSamplingSequential is the baseline of the sampling
// fix (stress_regress_test.go): one request at a time, the first line of the
// tick is logged and no other.
func TestStressRequestLogSamplingSequential(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	srv, err := NewServer(nil, WithLogger(zap.New(core)), WithRequestLogLevel(zapcore.InfoLevel),
		WithRequestLogSampling(time.Hour, 1, 0), WithControllers(&static{route: "GET /ok", data: 1}))
	require.NoError(t, err)
	for range 32 {
		assert.Equal(t, http.StatusOK, serve(srv, http.MethodGet, "/ok", nil).Code)
	}
	assert.Len(t, logsWith(logs, "http request"), 1)
}

// TestStressStreamLimitUnderConcurrentConnects: doc.go (Streams):
// "WithMaxStreams bounds the streams open at once"; "A stream client
// refused for the limit gets a 503 problem with Retry-After". 40 clients
// connect at once to a server that allows 10 streams: exactly 10 streams
// open, the 30 others get the 503 problem with Retry-After and are
// counted as refused; once the 10 have hung up, the slots are free again.
func TestStressStreamLimitUnderConcurrentConnects(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const limit, clients = 10, 40
		var stream *Stream
		m := startMem(t, []Option{WithMaxStreams(limit)}, func(s *Server) {
			var err error
			stream, err = s.Stream("/events", Forward("x"))
			require.NoError(t, err)
		})
		type outcome struct {
			resp *http.Response
			err  error
		}
		outcomes := make(chan outcome, clients)
		for range clients {
			go func() {
				resp, err := m.client.Get("http://mem/events") //nolint:bodyclose // closed by the test, which receives it
				outcomes <- outcome{resp, err}
			}()
		}
		var open []*http.Response
		for range clients {
			o := <-outcomes
			require.NoError(t, o.err)
			if o.resp.StatusCode == http.StatusOK {
				open = append(open, o.resp) //nolint:bodyclose // closed once the limit is checked
				continue
			}
			body, err := io.ReadAll(o.resp.Body)
			_ = o.resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, http.StatusServiceUnavailable, o.resp.StatusCode, "body: %s", body)
			assert.Equal(t, ContentTypeProblem, o.resp.Header.Get("Content-Type"))
			assert.Equal(t, "5", o.resp.Header.Get("Retry-After"))
		}
		assert.Len(t, open, limit, "exactly the limit opens")
		st := stream.Stats()
		assert.Equal(t, int64(limit), st.Clients)
		assert.Equal(t, uint64(clients-limit), st.Refused)

		for _, resp := range open {
			_ = resp.Body.Close()
		}
		synctest.Wait() // the handlers see their clients go
		assert.Zero(t, stream.Stats().Clients)
		assert.Zero(t, m.openStreams.Load(), "every slot is free")
		s := m.open(t, "/events")
		m.emit(t, "x", 1)
		assert.Equal(t, "1", s.mustNext(t).data, "a new client gets a slot")
	})
}

// mountedCtrl is a controller with two actions, mounted while the server
// serves.
type mountedCtrl struct{ i int }

func (c *mountedCtrl) Route() string { return fmt.Sprintf("GET /m/%d", c.i) }

func (c *mountedCtrl) Load(context.Context, *Request) (any, error) { return c.i, nil }

func (c *mountedCtrl) Actions() []*ActionHandler {
	act := func(context.Context, *Request, struct{}) (any, error) { return c.i, nil }
	return []*ActionHandler{Action("a", act), Action("b", act)}
}

// TestStressConcurrentMountsAndStreamsWhileServing: doc.go (Concurrency):
// "The methods of Server are safe for concurrent use; Mount and Stream may
// be called while the server serves and take effect for the next request,
// all at once"; Server.Mount: "a request sees all of a Mount's routes or
// none". 8 goroutines mount 5 controllers each, and 4 add a stream each,
// while clients probe the new routes: a controller's page that answers
// means its two actions answer too; at the end every route and stream is
// there, and each stream forwards its topic.
func TestStressConcurrentMountsAndStreamsWhileServing(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")})
	base, client := startHTTP(t, srv)
	const mounters, each, streamers = 8, 5, 4

	stop := make(chan struct{})
	var probes sync.WaitGroup
	var seenPages atomic.Int64
	for p := range 4 {
		probes.Add(1)
		go func() {
			defer probes.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := (i*7 + p) % (mounters * each)
				status, _, _, err := stressGet(client, fmt.Sprintf("%s/m/%d", base, n))
				if !assert.NoError(t, err) || status != http.StatusOK {
					continue
				}
				seenPages.Add(1)
				for _, a := range []string{"a", "b"} {
					resp, err := client.Post(fmt.Sprintf("%s/m/%d/%s", base, n, a), "application/json", strings.NewReader(`{}`))
					if assert.NoError(t, err) {
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
						assert.Equal(t, http.StatusOK, resp.StatusCode, "page %d answers but not its action %s", n, a)
					}
				}
			}
		}()
	}
	var adders sync.WaitGroup
	for g := range mounters {
		adders.Add(1)
		go func() {
			defer adders.Done()
			for k := range each {
				assert.NoError(t, srv.Mount(&mountedCtrl{i: g*each + k}))
			}
		}()
	}
	for g := range streamers {
		adders.Add(1)
		go func() {
			defer adders.Done()
			_, err := srv.Stream(fmt.Sprintf("/events/%d", g), Forward(fmt.Sprintf("topic:%d", g)))
			assert.NoError(t, err)
		}()
	}
	adders.Wait()
	for seenPages.Load() < 20 { // the probes see the late routes
		time.Sleep(time.Millisecond)
	}
	close(stop)
	probes.Wait()

	assert.Len(t, srv.Routes(), 2+mounters*each*3+streamers, "every route is there once")
	require.Len(t, srv.Streams(), streamers)
	for g := range streamers {
		resp, err := client.Get(fmt.Sprintf("%s/events/%d", base, g))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, srv.bus().Emit(context.Background(), fmt.Sprintf("topic:%d", g), g))
		s := &sseStream{resp: resp, br: bufio.NewReader(resp.Body)}
		e, err := s.next()
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(g), e.data)
		_ = resp.Body.Close()
	}
}

// clients runs fn on n goroutines, each with an HTTP client of its own
// (one kept-alive connection, and timeout, none for 0), and returns a
// function that waits for them.
func clients(n int, timeout time.Duration, fn func(w int, client *http.Client)) (wait func()) {
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			fn(w, &http.Client{Transport: tr, Timeout: timeout})
		})
	}
	return wg.Wait
}
