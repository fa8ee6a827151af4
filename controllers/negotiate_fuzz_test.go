package controllers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
)

// fzNegotiation is a page whose Load reports what Request.WantsHTML said.
type fzNegotiation struct{ wants *bool }

func (c *fzNegotiation) Route() string { return "GET /page" }

func (c *fzNegotiation) Load(_ context.Context, r *controllers.Request) (any, error) {
	w := r.WantsHTML()
	c.wants = &w
	return map[string]bool{"html": w}, nil
}

// rfcQ is a qvalue of RFC 9110, section 12.4.2.
var rfcQ = regexp.MustCompile(`^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$`)

// refWantsHTML is the documented negotiation, written independently: HTML
// when text/html or application/xhtml+xml has a quality above JSON's, whose
// quality is that of the most specific of application/json,
// application/* and */* that the header names (0 when none). It reports
// false for ok when a quality is not an RFC qvalue or a media type is not
// ASCII, where the documentation does not say.
func refWantsHTML(values []string) (want, ok bool) {
	html := 0
	jsonQ := map[int]int{} // by range: 0 */*, 1 application/*, 2 application/json
	for _, v := range values {
		for _, mr := range strings.Split(v, ",") {
			params := strings.Split(mr, ";")
			typ := strings.TrimSpace(params[0])
			for i := range len(typ) {
				if typ[i] >= 0x80 {
					return false, false
				}
			}
			q := 1000
			for _, p := range params[1:] {
				name, val, found := strings.Cut(p, "=")
				if !found || !strings.EqualFold(strings.TrimSpace(name), "q") {
					continue
				}
				val = strings.TrimSpace(val)
				if !rfcQ.MatchString(val) {
					return false, false
				}
				q = int(val[0]-'0') * 1000
				scale := 100
				for _, c := range val[min(2, len(val)):] {
					q += int(c-'0') * scale
					scale /= 10
				}
				break
			}
			spec := -1
			switch strings.ToLower(typ) {
			case "text/html", "application/xhtml+xml":
				html = max(html, q)
			case "application/json":
				spec = 2
			case "application/*":
				spec = 1
			case "*/*":
				spec = 0
			}
			if old, ok := jsonQ[spec]; spec >= 0 && (!ok || q > old) {
				jsonQ[spec] = q
			}
		}
	}
	j := 0
	for spec := range 3 { // the most specific range given wins
		if q, ok := jsonQ[spec]; ok {
			j = q
		}
	}
	return html > 0 && html > j, true
}

// FuzzAcceptNegotiation sends arbitrary Accept headers (several values
// when the input holds newlines). Request.WantsHTML must agree with the
// documented rules (checked against refWantsHTML where the header is
// RFC-conformant), give the same answer for the values joined into one,
// prefer JSON once the header names application/json at full quality, and
// ignore an added text/html;q=0. The server must answer Load, and a 404, as
// a page exactly when WantsHTML is true, and its 404 problem must parse.
func FuzzAcceptNegotiation(f *testing.F) {
	for _, seed := range []string{
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"application/json",
		"*/*",
		"",
		"text/html;q=0.5, application/json;q=0.4",
		"text/html;q=0.5, application/*;q=0.4, application/json;q=0.6",
		"text/html, */*;q=1",
		"TEXT/HTML;Q=0.9, */*;q=0.1",
		"text/html;level=1;q=0.7, application/json;q=0.7",
		"text/html;q=1.5",
		"text/html;q=0.0001",
		"text/html;q=.5",
		"text/html;q=",
		"text/html\napplication/json;q=0.1",
		"application/xhtml+xml;q=0.2\n*/*;q=0.1",
		";;,,;q=1",
		"text/html;q=0;q=1",
	} {
		f.Add(seed)
	}
	ctrl := &fzNegotiation{}
	srv, err := controllers.NewServer(nil, controllers.WithLogger(zap.NewNop()))
	if err != nil {
		f.Fatal(err)
	}
	if err := srv.Mount(ctrl); err != nil {
		f.Fatal(err)
	}
	// wants serves GET path with the Accept values and returns what Load's
	// WantsHTML said, checking that the answer has the matching type.
	wants := func(t *testing.T, values []string) bool {
		t.Helper()
		ctrl.wants = nil
		req := httptest.NewRequest(http.MethodGet, "/page", nil)
		req.Header["Accept"] = values
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || ctrl.wants == nil {
			t.Fatalf("GET /page with Accept %q: %d %s", values, rec.Code, rec.Body.String())
		}
		ct := rec.Header().Get("Content-Type")
		if html := strings.HasPrefix(ct, "text/html"); html != *ctrl.wants {
			t.Fatalf("Accept %q: WantsHTML is %v, but the page is answered as %q", values, *ctrl.wants, ct)
		}
		if !*ctrl.wants && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("Accept %q: JSON answer does not parse: %q", values, rec.Body.String())
		}
		// The router's 404 follows the same choice.
		req = httptest.NewRequest(http.MethodGet, "/nowhere", nil)
		req.Header["Accept"] = values
		rec = httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("GET /nowhere: %d", rec.Code)
		}
		if *ctrl.wants {
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("Accept %q: the page prefers HTML, the 404 is %q", values, ct)
			}
		} else {
			checkProblem(t, rec)
		}
		return *ctrl.wants
	}
	f.Fuzz(func(t *testing.T, accept string) {
		values := strings.Split(accept, "\n")
		got := wants(t, values)
		if ref, ok := refWantsHTML(values); ok && got != ref {
			t.Fatalf("Accept %q: WantsHTML is %v, the documented rules say %v", values, got, ref)
		}
		joined := strings.Join(values, ",")
		if len(values) > 1 {
			if j := wants(t, []string{joined}); j != got {
				t.Fatalf("Accept %q: WantsHTML is %v, and %v for the values joined into %q", values, got, j, joined)
			}
		}
		if wants(t, []string{joined + ",application/json"}) {
			t.Fatalf("Accept %q: HTML is preferred although application/json is named at full quality", joined+",application/json")
		}
		if wants(t, []string{joined + ",text/html;q=0"}) != got {
			t.Fatalf("Accept %q: adding text/html;q=0 changes the choice from %v", joined, got)
		}
	})
}
