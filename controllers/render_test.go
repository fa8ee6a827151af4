package controllers

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scriptData returns the text of the page's data script element: from the
// end of its opening tag to the first "</script" after it, which is where
// an HTML parser ends the element.
func scriptData(t *testing.T, page string) string {
	t.Helper()
	const open = `<script id="sprag-data" type="application/json">`
	start := strings.Index(page, open)
	require.GreaterOrEqual(t, start, 0, "no data script in %s", page)
	rest := page[start+len(open):]
	end := strings.Index(strings.ToLower(rest), "</script")
	require.GreaterOrEqual(t, end, 0)
	return rest[:end]
}

func TestWantsHTML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want bool
	}{
		{"", false},
		{"application/json", false},
		{"*/*", false},
		{browserAccept, true},
		{"text/html", true},
		{"TEXT/HTML", true},
		{"application/xhtml+xml", true},
		{"text/html, application/json", false},           // a tie goes to JSON
		{"application/json, text/html", false},           // order does not matter
		{"text/html;q=0.9, application/json", false},     // JSON preferred
		{"application/json;q=0.5, text/html", true},      // HTML preferred
		{"text/html;q=0, */*", false},                    // HTML refused
		{"text/html, application/json;q=0", true},        // JSON refused
		{"text/html;q=0.8, */*", false},                  // */* outranks HTML
		{"text/html, application/*;q=0.1", true},         // */* less specific than application/*
		{"application/json;q=0.1, */*, text/html", true}, // the specific JSON range wins over */*
		{"text/html;level=1;q=0.7, */*;q=0.5", true},
		{"text/html;q=bogus, */*;q=0.1", false}, // a malformed q is 0
		{"text/html ;q=1.000", true},
		{"text/html;q=1.0001", false},
		{"image/png", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			r, err := http.NewRequest(http.MethodGet, "/", nil)
			require.NoError(t, err)
			if tt.give != "" {
				r.Header.Set("Accept", tt.give)
			}
			assert.Equal(t, tt.want, wantsHTML(r))
			assert.Equal(t, tt.want, (&Request{http: r}).WantsHTML(), "Request.WantsHTML")
		})
	}
}

// TestRequestWantsHTMLAgreesWithTheAnswer: what Request.WantsHTML tells
// Load is what the server then answers with.
func TestRequestWantsHTMLAgreesWithTheAnswer(t *testing.T) {
	t.Parallel()
	var told bool
	srv, _ := newServer(t, nil, nil, &loader{route: "GET /x", load: func(_ context.Context, r *Request) (any, error) {
		told = r.WantsHTML()
		return 1, nil
	}})
	for _, accept := range []string{"", "*/*", browserAccept, "text/html, application/json", "application/json;q=0.5, text/html", "text/html;q=0, */*"} {
		rec := serve(srv, http.MethodGet, "/x", nil, "Accept", accept)
		require.Equal(t, http.StatusOK, rec.Code, accept)
		assert.Equal(t, told, rec.Header().Get("Content-Type") == contentTypeHTML, "Accept: %q", accept)
	}
	assert.False(t, (&Request{}).WantsHTML(), "a Request that no server made")
}

func TestParseQ(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want int
	}{
		{"1", 1000}, {"0", 0}, {"0.5", 500}, {"0.25", 250}, {"0.125", 125}, {"1.000", 1000},
		{"1.5", 1000}, {"", 0}, {"2", 0}, {"0.", 0}, {"0.1234", 0}, {"0.x", 0}, {"05", 0},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, parseQ(tt.give), "parseQ(%q)", tt.give)
	}
}

func TestBrowserGetsTheShell(t *testing.T) {
	t.Parallel()
	data := map[string]any{"title": "Dashboard", "orders": []int{1, 2}}
	srv, _ := newServer(t, nil, []Option{WithTitle("Acme")}, &static{route: "GET /dashboard", data: data})

	rec := serve(srv, http.MethodGet, "/dashboard", nil, "Accept", browserAccept, HeaderRequestID, "page-1")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, contentTypeHTML, rec.Header().Get("Content-Type"))
	assert.Equal(t, "Accept", rec.Header().Get("Vary"))
	page := rec.Body.String()
	assert.True(t, strings.HasPrefix(page, "<!DOCTYPE html>"))
	assert.Contains(t, page, "<title>Acme</title>")
	assert.Contains(t, page, `data-status="200"`)
	assert.JSONEq(t, `{"title":"Dashboard","orders":[1,2]}`, scriptData(t, page))

	rec = serve(srv, http.MethodGet, "/dashboard", nil, "Accept", "application/json")
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"title":"Dashboard","orders":[1,2]}`, rec.Body.String())
}

func TestHostileDataCannotLeaveTheScript(t *testing.T) {
	t.Parallel()
	hostile := []string{
		`</script><script>alert(1)</script>`,
		`</SCRIPT >`,
		`<!--`,
		`<!-- <script>`,
		"line\u2028separator\u2029paragraph",
		`<>&'"`,
		`\u003c/script>`,
		"]]>",
	}
	data := map[string]any{"values": hostile}
	for _, h := range hostile {
		data[h] = h // keys too
	}
	srv, _ := newServer(t, nil, nil, &static{route: "GET /x", data: data})

	rec := serve(srv, http.MethodGet, "/x", nil, "Accept", browserAccept)
	require.Equal(t, http.StatusOK, rec.Code)
	script := scriptData(t, rec.Body.String())
	for _, forbidden := range []string{"<", ">", "&", "\u2028", "\u2029"} {
		assert.NotContains(t, script, forbidden)
	}

	var back map[string]any
	require.NoError(t, json.Unmarshal([]byte(script), &back), "the element holds the whole JSON document")
	want, err := json.Marshal(data)
	require.NoError(t, err)
	got, err := json.Marshal(back)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got), "JSON.parse gives the original values back")
	assert.Equal(t, 1, strings.Count(rec.Body.String(), "</script>"), "only the shell's own element closes")
}

func TestCustomShell(t *testing.T) {
	t.Parallel()
	shell := template.Must(template.New("app").Parse(
		`<html><h1>{{.Data.name}}</h1><p>{{.Route}} {{.RequestID}}</p>` +
			`<script id="sprag-data" type="application/json">{{.JSON}}</script></html>`))
	srv, _ := newServer(t, nil, []Option{WithShell(shell)},
		&static{route: "GET /u", data: map[string]string{"name": `<img src=x onerror=alert(1)>`}})

	rec := serve(srv, http.MethodGet, "/u", nil, "Accept", "text/html", HeaderRequestID, "r1")
	require.Equal(t, http.StatusOK, rec.Code)
	page := rec.Body.String()
	assert.Contains(t, page, "<h1>&lt;img src=x onerror=alert(1)&gt;</h1>", "html/template escapes the shell's own use of the data")
	assert.Contains(t, page, "<p>GET /u r1</p>")
	assert.JSONEq(t, `{"name":"<img src=x onerror=alert(1)>"}`, scriptData(t, page))
}

func TestShellFailureIsA500(t *testing.T) {
	t.Parallel()
	broken := template.Must(template.New("broken").Parse(`<html>{{template "missing" .}}</html>`))
	srv, logs := newServer(t, nil, []Option{WithShell(broken)}, &static{route: "GET /p", data: 1})

	rec := serve(srv, http.MethodGet, "/p", nil, "Accept", browserAccept)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "Internal Server Error", problemOf(t, rec).Message(), "the error falls back to JSON")
	assert.NotContains(t, rec.Body.String(), "<html>")
	failures := logsWith(logs, "render page")
	require.Len(t, failures, 1)
	assert.Contains(t, failures[0].ContextMap()["error"], `execute shell template "broken"`)
}

func TestUnencodableDataIsA500(t *testing.T) {
	t.Parallel()
	srv, logs := newServer(t, nil, nil, &static{route: "GET /c", data: map[string]any{"ch": make(chan int)}})
	for _, accept := range []string{"application/json", browserAccept} {
		rec := serve(srv, http.MethodGet, "/c", nil, "Accept", accept)
		assert.Equal(t, http.StatusInternalServerError, rec.Code)
		problemOf(t, rec)
	}
	assert.Len(t, logsWith(logs, "request failed"), 2)
}

func TestBrowserErrorPage(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil, &loader{route: "GET /o/{id}", load: func(context.Context, *Request) (any, error) {
		return nil, NewError(http.StatusNotFound, `order <b>7</b> not found`)
	}})
	rec := serve(srv, http.MethodGet, "/o/7", nil, "Accept", browserAccept, HeaderRequestID, "e-1")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, contentTypeHTML, rec.Header().Get("Content-Type"))
	page := rec.Body.String()
	assert.Contains(t, page, "<h1>404 order &lt;b&gt;7&lt;/b&gt; not found</h1>")
	assert.Contains(t, page, "<code>e-1</code>")
	assert.Equal(t, Problem{Type: "about:blank", Title: "Not Found", Status: 404, Detail: "order <b>7</b> not found", Instance: "/o/7", RequestID: "e-1"},
		decodeJSON[Problem](t, []byte(scriptData(t, page))))
}

func TestDefaultShellIsFresh(t *testing.T) {
	t.Parallel()
	a, b := DefaultShell(), DefaultShell()
	assert.NotSame(t, a, b)
	var sb strings.Builder
	require.NoError(t, a.Execute(&sb, &Page{Title: "T", Status: 200, JSON: "null"}))
	assert.Contains(t, sb.String(), `<script id="sprag-data" type="application/json">null</script>`)
}

// TestWantsHTMLAllocatesNothing holds Request.WantsHTML's cost. Not
// parallel: testing.AllocsPerRun counts the allocations of the whole
// process.
func TestWantsHTMLAllocatesNothing(t *testing.T) {
	r, err := http.NewRequest(http.MethodGet, "/", nil)
	require.NoError(t, err)
	r.Header.Set("Accept", browserAccept)
	req := &Request{http: r}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = req.WantsHTML() }))
}
