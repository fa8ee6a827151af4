package controllers

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
)

// rawExchange sends raw on a new TCP connection to addr and returns the
// response read with the request's method, body read whole.
func rawExchange(t *testing.T, addr, raw, method string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, raw)
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp, string(body)
}

func TestEdgeHeadToLoadRoute(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")}, &static{route: "GET /item", data: map[string]int{"n": 7}})
	base, client := startHTTP(t, srv)
	for _, accept := range []string{"", browserAccept} {
		resp, body := edgeDo(t, client, http.MethodHead, base+"/item", accept) //nolint:bodyclose // edgeDo closed it
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Empty(t, body)
		want := contentTypeJSON
		if accept != "" {
			want = contentTypeHTML
		}
		assert.Equal(t, want, resp.Header.Get("Content-Type"), "HEAD negotiates as GET does")
		assert.Equal(t, "Accept", resp.Header.Get("Vary"))
		assert.Equal(t, "nosniff", resp.Header.Get(headerNoSniffKey))
		assert.NotEmpty(t, resp.Header.Get(HeaderRequestID))
	}
}

func TestEdgeOptionsAndOtherMethodsAre405Problems(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil, &static{route: "GET /item", data: 1})
	for _, method := range []string{http.MethodOptions, http.MethodPut, http.MethodDelete, "PATCH"} {
		rec := serve(srv, method, "/item", nil)
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, method)
		p := problemOf(t, rec)
		assert.Equal(t, "/item", p.Instance)
		allow := rec.Header().Get("Allow")
		assert.Contains(t, allow, http.MethodGet, method)
		assert.Contains(t, allow, http.MethodHead, method)
	}
}

func TestEdgeHTTP10Clients(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")}, &static{route: "GET /item", data: map[string]int{"n": 7}})
	_, err := srv.Stream("/events", Forward("tick"))
	require.NoError(t, err)
	rt := startRuntimeHTTP(t, srv)

	resp, body := rawExchange(t, srv.Addr(), "GET /item HTTP/1.0\r\nHost: x\r\n\r\n", http.MethodGet) //nolint:bodyclose // rawExchange read the body and closed the connection
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"n":7}`, body)

	resp, body = rawExchange(t, srv.Addr(), "GET /nope HTTP/1.0\r\n\r\n", http.MethodGet) //nolint:bodyclose // rawExchange read the body and closed the connection
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, body, `"status":404`)

	// A stream to an HTTP/1.0 client: no chunking, the events flow and
	// the connection's end ends the body.
	conn, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, "GET /events HTTP/1.0\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	sresp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet}) //nolint:bodyclose // the connection, closed by the deferred Close, holds the body
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, sresp.StatusCode)
	assert.Equal(t, "text/event-stream", sresp.Header.Get("Content-Type"))
	assert.Empty(t, sresp.TransferEncoding, "HTTP/1.0 has no chunked encoding")
	stream := &sseStream{resp: sresp, br: bufio.NewReader(sresp.Body)}
	require.Eventually(t, func() bool { return srv.StreamStats()[0].Clients == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, rt.Bus.Emit(context.Background(), "tick", 42))
	e := stream.mustNext(t)
	assert.Equal(t, "tick", e.name)
	assert.Equal(t, "42", e.data)
}

func TestEdgeExpectContinueWithARefusedBody(t *testing.T) {
	t.Parallel()
	type in struct {
		N int `json:"n"`
	}
	c := &loader{route: "GET /things", actions: []*ActionHandler{Action("add", func(context.Context, *Request, in) (any, error) {
		return "added", nil
	})}}
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0"), WithBodyLimit(1 << 10)}, c)
	_ = startRuntimeHTTP(t, srv)

	// Over the limit: refused before the body is asked for, no 100 Continue.
	resp, body := rawExchange(t, srv.Addr(), "POST /things/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+ //nolint:bodyclose // rawExchange read the body and closed the connection
		"Content-Length: 1048576\r\nExpect: 100-continue\r\n\r\n", http.MethodPost)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Contains(t, body, `"status":413`)
	assert.True(t, resp.Close, "the unread body closes the connection")

	// A wrong type: 415, no 100 Continue either.
	resp, body = rawExchange(t, srv.Addr(), "POST /things/add HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"+ //nolint:bodyclose // rawExchange read the body and closed the connection
		"Content-Length: 10\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", http.MethodPost)
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	assert.Contains(t, body, `"status":415`)

	// Accepted: the client gets 100 Continue, sends, and gets the answer.
	conn, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, "POST /things/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: 7\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1 100 Continue\r\n", line)
	_, err = br.ReadString('\n') // the blank line after the 100
	require.NoError(t, err)
	_, err = io.WriteString(conn, `{"n":1}`)
	require.NoError(t, err)
	final, err := http.ReadResponse(br, &http.Request{Method: http.MethodPost})
	require.NoError(t, err)
	b, _ := io.ReadAll(final.Body)
	_ = final.Body.Close()
	assert.Equal(t, http.StatusOK, final.StatusCode)
	assert.Equal(t, `"added"`, string(b))
}

func TestEdgeStreamClientGoneFreesItsSlot(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var st *Stream
		m := startMem(t, []Option{WithMaxStreams(1)}, func(s *Server) {
			var err error
			st, err = s.Stream("/events", Forward("tick"))
			require.NoError(t, err)
		})
		for i := range 3 {
			resp := m.do(t, "/events")
			require.Equal(t, http.StatusOK, resp.StatusCode, "round %d: the slot was freed", i)
			synctest.Wait()
			assert.Equal(t, int64(1), st.Stats().Clients)
			refused := m.request(t, "/events")
			assert.Equal(t, http.StatusServiceUnavailable, refused.StatusCode)
			assert.NotEmpty(t, refused.Header.Get("Retry-After"))
			require.NoError(t, resp.Body.Close()) // the client goes away mid-stream
			synctest.Wait()
			assert.Equal(t, int64(0), st.Stats().Clients, "round %d: its reader ended", i)
			assert.Equal(t, int64(0), m.openStreams.Load())
		}
		assert.Equal(t, uint64(3), st.Stats().Refused)
	})
}

func TestEdgeLargeResponses(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("é<x>", 1<<18) // 1.25 MB of JSON once escaped
	srv, _ := newServer(t, nil, []Option{WithAddr("127.0.0.1:0")}, &static{route: "GET /big", data: big})
	base, client := startHTTP(t, srv)
	for _, accept := range []string{"application/json", browserAccept} {
		resp, body := edgeDo(t, client, http.MethodGet, base+"/big", accept) //nolint:bodyclose // edgeDo closed it
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Greater(t, len(body), len(big), accept)
		if accept == browserAccept {
			assert.True(t, strings.HasSuffix(string(body), "</html>\n"), "the whole page")
		} else {
			var got string
			require.NoError(t, decodeBody(&http.Response{Body: io.NopCloser(strings.NewReader(string(body)))}, &got))
			assert.Equal(t, big, got)
		}
	}
}

// startRuntimeHTTP starts srv as the service "http" and returns its
// runtime, for its bus. The server stops at the end of the test.
func startRuntimeHTTP(t *testing.T, srv *Server) sprag.Runtime {
	t.Helper()
	rt := sprag.NewRuntime(nil)
	require.NoError(t, sprag.Bind(srv, "http", rt))
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Stop(ctx))
	})
	return rt
}

// edgeDo sends a request with the Accept header accept and returns the
// response with its body, read whole and closed.
func edgeDo(t *testing.T, client *http.Client, method, url, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil) //nolint:noctx // the client's own timeout bounds it
	require.NoError(t, err)
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, body
}
