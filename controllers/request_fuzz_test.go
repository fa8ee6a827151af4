package controllers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
)

// fzParams is a controller that answers its path value and query.
type fzParams struct{ route, name string }

func (c *fzParams) Route() string { return c.route }

func (c *fzParams) Load(_ context.Context, r *controllers.Request) (any, error) {
	return fzParamsAnswer{Value: r.PathValue(c.name), Query: r.Query(), Route: r.Route()}, nil
}

type fzParamsAnswer struct {
	Value string              `json:"value"`
	Query map[string][]string `json:"query"`
	Route string              `json:"route"`
}

// FuzzPathAndQuery sends requests with arbitrary path segments, queries
// and methods, parsed from the wire as net/http does, to routes with a
// one-segment and a multi-segment wildcard. Never a 5xx; a miss or a wrong
// method is a 404 or 405 problem that parses (a 405 with Allow), or a
// redirect to the cleaned path; a hit answers the path value unescaped
// from the request's path and the query as net/url parses it.
func FuzzPathAndQuery(f *testing.F) {
	for _, seed := range []struct {
		path, query string
		method      uint8
	}{
		{"items/7", "a=1&b=2", 0},
		{"items/a%2Fb", "", 0},
		{"items/%E2%82%AC", "x=%zz&y=2", 0},
		{"items/", "", 0},
		{"items/7/", "", 0},
		{"items/../files/x", "", 0},
		{"files/a/b/c", "q=1;r=2", 0},
		{"files/a%2F..%2Fb", "", 0},
		{"files//x", "", 0},
		{"items/7", "", 2},
		{"items/7", "", 1},
		{"items/%00", "%00=%00", 0},
		{"items/%", "", 0},
		{"items/7", "a=1&a=2&=&&", 5},
	} {
		f.Add(seed.path, seed.query, seed.method)
	}
	srv, err := controllers.NewServer(nil, controllers.WithLogger(zap.NewNop()))
	if err != nil {
		f.Fatal(err)
	}
	if err := srv.Mount(&fzParams{route: "GET /items/{id}", name: "id"}, &fzParams{route: "GET /files/{rest...}", name: "rest"}); err != nil {
		f.Fatal(err)
	}
	methods := []string{"GET", "HEAD", "POST", "DELETE", "OPTIONS", "BREW"}
	f.Fuzz(func(t *testing.T, path, query string, method uint8) {
		m := methods[int(method)%len(methods)]
		target := "/" + path
		if query != "" {
			target += "?" + query
		}
		// What a client can send: a request line net/http reads.
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(m + " " + target + " HTTP/1.1\r\nHost: example.com\r\n\r\n")))
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		switch code := rec.Code; {
		case !validHTTPStatus(code) || code >= 500:
			t.Fatalf("%s %q: status %d: %s", m, target, code, rec.Body.String())
		case code == http.StatusMovedPermanently || code == http.StatusTemporaryRedirect || code == http.StatusPermanentRedirect:
			loc, err := url.ParseRequestURI(rec.Header().Get("Location")) // as the mux writes it: the query raw
			if err != nil || loc.Path == req.URL.Path && loc.RawQuery == req.URL.RawQuery {
				t.Fatalf("%s %q: redirect to %q", m, target, rec.Header().Get("Location"))
			}
		case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
			if m != "HEAD" {
				checkProblem(t, rec)
			}
			if code == http.StatusMethodNotAllowed && rec.Header().Get("Allow") == "" {
				t.Fatalf("%s %q: 405 without Allow", m, target)
			}
		case code == http.StatusOK:
			if m != "GET" && m != "HEAD" {
				t.Fatalf("%s %q: 200 for a GET route", m, target)
			}
			if m == "HEAD" {
				return
			}
			var got fzParamsAnswer
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("%s %q: answer does not parse: %v: %q", m, target, err, rec.Body.String())
			}
			escaped := req.URL.EscapedPath()
			var rest string
			switch got.Route {
			case "GET /items/{id}":
				rest, _ = strings.CutPrefix(escaped, "/items/")
				if rest == "" || strings.Contains(rest, "/") {
					t.Fatalf("%q matched %s", escaped, got.Route)
				}
			case "GET /files/{rest...}":
				rest, _ = strings.CutPrefix(escaped, "/files/")
			default:
				t.Fatalf("%q: unexpected route %q", target, got.Route)
			}
			want, err := url.PathUnescape(rest)
			if err != nil {
				t.Fatalf("%q: path %q does not unescape, yet it was served", target, rest)
			}
			if got.Value != perByteValidUTF8(want) { // as JSON carries it
				t.Fatalf("%s %q: path value %q, want %q", m, target, got.Value, want)
			}
			wantQuery, _ := url.ParseQuery(req.URL.RawQuery)
			if len(wantQuery) == 0 && len(got.Query) == 0 {
				return
			}
			// JSON turned invalid UTF-8 into U+FFFD: compare through it.
			wq, _ := json.Marshal(wantQuery)
			var wantAgain map[string][]string
			_ = json.Unmarshal(wq, &wantAgain)
			if !reflect.DeepEqual(got.Query, wantAgain) {
				t.Fatalf("%s %q: query %v, want %v", m, target, got.Query, wantAgain)
			}
		default:
			t.Fatalf("%s %q: unexpected status %d: %s", m, target, code, rec.Body.String())
		}
	})
}
