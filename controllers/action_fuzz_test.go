package controllers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
)

// fuzzBodyLimit is the body limit of the fuzzed servers: small, so that
// the fuzzer reaches the 413 too.
const fuzzBodyLimit = 2048

// fzItem, fzAddress and fzInput are an action's input with every kind of
// field a form or a JSON body can fill: strings, numbers of several sizes,
// a bool, pointers, a slice of values, a slice of structs, an array, a
// nested struct, a map, an interface, bytes, a TextUnmarshaler and an
// ignored field.
type fzItem struct {
	SKU  string   `json:"sku"`
	Qty  int      `json:"qty"`
	Tags []string `json:"tags"`
}

type fzAddress struct {
	Street string `json:"street"`
	Zip    *int   `json:"zip"`
}

type fzInput struct {
	Name    string            `json:"name" validate:"max=16"`
	Count   int8              `json:"count"`
	Price   float64           `json:"price"`
	Active  bool              `json:"active"`
	Ptr     *uint16           `json:"ptr"`
	Nums    []int             `json:"nums"`
	Items   []fzItem          `json:"items"`
	Pair    [2]int            `json:"pair"`
	Address fzAddress         `json:"address"`
	Labels  map[string]string `json:"labels"`
	Extra   any               `json:"extra"`
	Raw     []byte            `json:"raw"`
	When    *time.Time        `json:"when"`
	Skipped string            `json:"-"`
}

// fzOrders is the controller of the fuzzed action: GET /orders, with the
// action "submit" on POST /orders/submit, which keeps the input it got.
type fzOrders struct {
	got  *fzInput
	form url.Values
}

func (c *fzOrders) Route() string { return "GET /orders" }

func (c *fzOrders) Load(context.Context, *controllers.Request) (any, error) {
	return map[string]string{"page": "orders"}, nil
}

func (c *fzOrders) Actions() []*controllers.ActionHandler {
	return []*controllers.ActionHandler{
		controllers.Action("submit", func(_ context.Context, r *controllers.Request, in fzInput) (any, error) {
			c.got, c.form = &in, r.Form()
			return nil, nil
		}),
	}
}

// fzShell renders the status and, for a refused form, each field at fault,
// in a list that the fuzz targets compare with the API client's problem.
var fzShell = template.Must(template.New("fz").Parse(
	`status={{.Status}}|{{with .Form}}form={{.Action}}|{{with .Problem}}{{range .Errors}}<li>{{.Field}}</li>{{end}}{{end}}{{end}}`))

// fzFieldItem renders one field as fzShell does.
var fzFieldItem = template.Must(template.New("li").Parse(`<li>{{.}}</li>`))

// newFuzzServer returns a server with the fzOrders controller mounted.
func newFuzzServer(tb testing.TB, ctrl controllers.Controller) *controllers.Server {
	tb.Helper()
	srv, err := controllers.NewServer(nil,
		controllers.WithLogger(zap.NewNop()),
		controllers.WithBodyLimit(fuzzBodyLimit),
		controllers.WithShell(fzShell))
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Mount(ctrl); err != nil {
		tb.Fatal(err)
	}
	return srv
}

// fuzzPost posts body with the content type and Accept header given.
func fuzzPost(srv http.Handler, target, contentType, accept string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

// checkProblem checks that rec is a well-formed problem+json answer of its
// status and returns it.
func checkProblem(t *testing.T, rec *httptest.ResponseRecorder) controllers.Problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != controllers.ContentTypeProblem {
		t.Fatalf("status %d with Content-Type %q, want %s; body %q", rec.Code, ct, controllers.ContentTypeProblem, rec.Body.String())
	}
	var p controllers.Problem
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body does not parse: %v: %q", err, rec.Body.String())
	}
	if p.Status != rec.Code || p.Title == "" || p.Type == "" {
		t.Fatalf("problem %+v does not match status %d", p, rec.Code)
	}
	for _, fe := range p.Errors {
		if fe.Rule == "" || fe.Message == "" {
			t.Fatalf("field error without rule or message: %+v", fe)
		}
	}
	return p
}

// validHTTPStatus reports whether code is a status a handler may write.
func validHTTPStatus(code int) bool { return code >= 100 && code <= 599 }

// strictDecode decodes body as the action documents: exactly one JSON
// value, no unknown field, not null.
func strictDecode(body []byte) (fzInput, bool) {
	var in fzInput
	p := &in
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return in, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return in, false
	}
	return in, p != nil
}

// jsonKeys returns every member name of the first JSON value of doc.
func jsonKeys(doc []byte) map[string]bool {
	keys := map[string]bool{}
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber() // a number beyond float64 is still a value
	if dec.Decode(&v) != nil {
		return keys
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				keys[k] = true
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return keys
}

// namesMember reports whether the path field ends in one of keys: it is
// that key, or a path to it ("items[1].color").
func namesMember(field string, keys map[string]bool) bool {
	for k := range keys {
		if field == k || (strings.HasSuffix(field, "."+k) && len(field) > len(k)+1) {
			return true
		}
	}
	return false
}

// FuzzActionJSONBody posts arbitrary JSON bodies to an action. The server
// must agree with the documented contract, checked against encoding/json
// itself: a body over the limit is a 413; a body that a strict decoder
// (unknown fields refused, one value, not null) refuses, or that fails the
// validation, is a 400 problem whose fields are named; any other body
// reaches the action as the same value. Never a 5xx.
func FuzzActionJSONBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"ann","count":3,"price":1.5,"active":true,"ptr":7,"nums":[1,2],"items":[{"sku":"A","qty":1,"tags":["x"]}],"pair":[1,2],"address":{"street":"s","zip":12345},"labels":{"a":"b"},"extra":{"k":[1,"x",null]},"raw":"aGk=","when":"2024-01-02T03:04:05Z"}`,
		`{"name":"a very long name indeed"}`,
		`{"count":300}`,
		`{"count":1.5}`,
		`{"count":1e2}`,
		`{"price":1e400}`,
		`{"items":[{"sku":"A"},{"color":"red"}]}`,
		`{"address":{"street":"x","country":"y"}}`,
		`{"Skipped":"x"}`,
		`{"-":"x"}`,
		`null`,
		`[]`,
		`"x"`,
		`{} {}`,
		`{"name":"a"`,
		``,
		`{"NAME":"case"}`,
		`{"labels":{"a":1}}`,
		`{"pair":[1,2,3]}`,
		`{"a.b":1}`,
	} {
		f.Add([]byte(seed))
	}
	ctrl := &fzOrders{}
	srv := newFuzzServer(f, ctrl)
	f.Fuzz(func(t *testing.T, body []byte) {
		ctrl.got = nil
		rec := fuzzPost(srv, "/orders/submit", "application/json", "", body)
		if !validHTTPStatus(rec.Code) || rec.Code >= 500 {
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.String())
		}
		want, ok := strictDecode(body)
		tooLong := ok && utf8.RuneCountInString(want.Name) > 16
		switch {
		case len(body) > fuzzBodyLimit:
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d for a body of %d bytes, want 413", rec.Code, len(body))
			}
			checkProblem(t, rec)
		case !ok || tooLong:
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d for body %q, which encoding/json refuses (or which fails validation), want 400: %s",
					rec.Code, body, rec.Body.String())
			}
			p := checkProblem(t, rec)
			if ctrl.got != nil {
				t.Fatalf("the action ran for a refused body %q", body)
			}
			if tooLong && !slices.ContainsFunc(p.Errors, func(fe controllers.FieldError) bool {
				return fe.Field == "name" && fe.Rule == "max"
			}) {
				t.Fatalf("a name over 16 runes is refused without naming it: %+v", p)
			}
			keys := jsonKeys(body)
			for _, fe := range p.Errors {
				if fe.Rule == "unknown" && !namesMember(fe.Field, keys) {
					t.Fatalf("unknown field %q is not a member of body %q", fe.Field, body)
				}
				if fe.Rule != "unknown" && fe.Field == "" {
					t.Fatalf("field error without field: %+v", fe)
				}
			}
			if json.Valid(body) && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) && len(p.Errors) == 0 {
				t.Fatalf("body %q is a JSON object refused with no field named: %+v", body, p)
			}
		default:
			if rec.Code != http.StatusNoContent {
				t.Fatalf("status %d for body %q, which encoding/json accepts, want 204: %s", rec.Code, body, rec.Body.String())
			}
			if ctrl.got == nil {
				t.Fatal("204 without the action")
			}
			gotJSON, err := json.Marshal(ctrl.got)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Fatalf("body %q reached the action as\n%s\nwant\n%s", body, gotJSON, wantJSON)
			}
		}
	})
}

// formKey is the documented grammar of a form field's name: members
// separated by dots, each followed by indexes ("items[0].sku").
var formKey = regexp.MustCompile(`^[^.\[]+(\[[0-9]+\])*(\.[^.\[]+(\[[0-9]+\])*)*$`)

// sameFormField reports whether the distinct form names a and b stand for
// the same field of an fzInput: struct members match as encoding/json
// matches them, ignoring case; map keys (of labels and extra) and indexes
// exactly.
func sameFormField(a, b string) bool {
	sa, sb := formSteps(a), formSteps(b)
	if a == b || sa == nil || len(sa) != len(sb) {
		return false
	}
	mapKeys := false // the next member is a map key, not a struct member
	for i := range sa {
		switch {
		case strings.HasPrefix(sa[i], "["):
			if sa[i] != sb[i] {
				return false
			}
			continue
		case mapKeys:
			if sa[i] != sb[i] {
				return false
			}
		case !strings.EqualFold(sa[i], sb[i]):
			return false
		}
		mapKeys = mapKeys || (!mapKeys && (strings.EqualFold(sa[i], "labels") || strings.EqualFold(sa[i], "extra")) && i == 0)
	}
	return true
}

// formSteps splits a name of the formKey grammar into its members and
// indexes ("[0]"); nil for another name.
func formSteps(key string) []string {
	if !formKey.MatchString(key) {
		return nil
	}
	var steps []string
	for part := range strings.SplitSeq(key, ".") {
		name, rest, _ := strings.Cut(part, "[")
		steps = append(steps, name)
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			steps = append(steps, "["+idx+"]")
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return steps
}

// encodeForm writes in as the form that stands for it, by the documented
// naming rules: "address.zip", "items[0].sku", a repeated name for a slice
// of values. It is canonical: an input decoded from a form re-encodes to
// the same values as the input decoded from that encoding.
func encodeForm(in *fzInput) url.Values {
	v := url.Values{}
	v.Set("name", in.Name)
	v.Set("count", strconv.Itoa(int(in.Count)))
	v.Set("price", strconv.FormatFloat(in.Price, 'g', -1, 64))
	v.Set("active", strconv.FormatBool(in.Active))
	if in.Ptr != nil {
		v.Set("ptr", strconv.Itoa(int(*in.Ptr)))
	}
	for _, n := range in.Nums {
		v.Add("nums", strconv.Itoa(n))
	}
	if in.Nums != nil && len(in.Nums) == 0 {
		v.Set("nums", "") // an empty number is absent: an empty list
	}
	for i, it := range in.Items {
		p := "items[" + strconv.Itoa(i) + "]."
		v.Set(p+"sku", it.SKU)
		v.Set(p+"qty", strconv.Itoa(it.Qty))
		for _, tag := range it.Tags {
			v.Add(p+"tags", tag)
		}
	}
	v.Add("pair", strconv.Itoa(in.Pair[0]))
	v.Add("pair", strconv.Itoa(in.Pair[1]))
	v.Set("address.street", in.Address.Street)
	if in.Address.Zip != nil {
		v.Set("address.zip", strconv.Itoa(*in.Address.Zip))
	}
	for k, x := range in.Labels {
		v.Set("labels."+k, x)
	}
	var extra func(prefix string, x any)
	extra = func(prefix string, x any) {
		switch x := x.(type) {
		case string:
			v.Set(prefix, x)
		case map[string]any:
			for k, y := range x {
				extra(prefix+"."+k, y)
			}
		case nil:
		default:
			v.Set(prefix, "unexpected "+reflect.TypeOf(x).String())
		}
	}
	extra("extra", in.Extra)
	if in.Raw != nil {
		v.Set("raw", base64.StdEncoding.EncodeToString(in.Raw))
	}
	if in.When != nil {
		b, _ := in.When.MarshalText()
		v.Set("when", string(b))
	}
	return v
}

// FuzzActionFormBody posts arbitrary form bodies to an action, as an API
// client and as a browser. Never a 5xx; a form over the limit is a 413; a
// refused form is a 400 problem that names the fields at fault (unless
// the body is no form at all), and the browser gets the same status with
// the same fields on the page; an accepted form has only names of the
// documented grammar, and its input, encoded back into a form, decodes to
// the same input (the browser gets a 303 to the page).
func FuzzActionFormBody(f *testing.F) {
	for _, seed := range []string{
		"name=ann&count=3&price=1.5&active=on&ptr=7&nums=1&nums=2&items[0].sku=A&items[0].qty=1&items[0].tags=x&pair=1&pair=2&address.street=s&address.zip=12345&labels.a=b&extra.k=v&raw=aGk%3D&when=2024-01-02T03%3A04%3A05Z",
		"name=a+very+long+name+indeed",
		"count=300",
		"count=",
		"count=+1",
		"count=1e2",
		"price=1e400",
		"active=maybe",
		"items[1].sku=A&items[0].qty=2",
		"items[99].sku=A",
		"items[0].color=red",
		"items[0]=x",
		"items[0].sku=A&items[0].sku=B",
		"address=x&address.zip=1",
		"address.zip=&address.street=",
		"name=a&name=b",
		"nums=&nums=1",
		"nums[0]=1&nums=2",
		"pair[2]=1",
		"pair[1]=5",
		"labels.a.b=1",
		"labels.=1",
		"extra=1&extra.a=2",
		"extra.a.b=1",
		"when=",
		"Skipped=x",
		"items[+1].sku=A",
		"a.b[0]c=1",
		"%zz",
		"a=1;b=2",
		"",
	} {
		f.Add(seed)
	}
	ctrl := &fzOrders{}
	srv := newFuzzServer(f, ctrl)
	const formType = "application/x-www-form-urlencoded"
	const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	f.Fuzz(func(t *testing.T, body string) {
		ctrl.got, ctrl.form = nil, nil
		rec := fuzzPost(srv, "/orders/submit", formType, "application/json", []byte(body))
		got := ctrl.got
		ctrl.got = nil
		page := fuzzPost(srv, "/orders/submit", formType, browserAccept, []byte(body))
		for _, r := range []*httptest.ResponseRecorder{rec, page} {
			if !validHTTPStatus(r.Code) || r.Code >= 500 {
				t.Fatalf("status %d for form %q: %s", r.Code, body, r.Body.String())
			}
		}
		values, parseErr := url.ParseQuery(body)
		switch {
		case len(body) > fuzzBodyLimit:
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d for a form of %d bytes, want 413", rec.Code, len(body))
			}
		case rec.Code == http.StatusNoContent:
			if got == nil {
				t.Fatal("204 without the action")
			}
			if parseErr != nil {
				t.Fatalf("form %q accepted, but it does not parse: %v", body, parseErr)
			}
			for key := range values {
				if !formKey.MatchString(key) {
					t.Fatalf("form %q accepted with the malformed field name %q: its value went to another field", body, key)
				}
			}
			keys := slices.Sorted(maps.Keys(values))
			for i, k := range keys {
				if n := strings.Count(k, ".") + strings.Count(k, "["); n >= 32 {
					t.Fatalf("form %q accepted with the field name %q of %d steps, over the documented 32", body, k, n+1)
				}
				for _, k2 := range keys[i+1:] {
					if sameFormField(k, k2) {
						t.Fatalf("form %q accepted with the field given twice, as %q and %q: one value is dropped", body, k, k2)
					}
				}
			}
			if vs := values["name"]; len(vs) == 1 && got.Name != vs[0] &&
				!slices.ContainsFunc(slices.Collect(maps.Keys(values)), func(k string) bool { return k != "name" && strings.EqualFold(k, "name") }) {
				t.Fatalf("form %q reached the action with name %q", body, got.Name)
			}
			if !reflect.DeepEqual(ctrl.form, values) {
				t.Fatalf("Request.Form is %v, want %v", ctrl.form, values)
			}
			// Encode the input back into a form: it decodes to the same input.
			enc := encodeForm(got)
			again := fuzzPost(srv, "/orders/submit", formType, "application/json", []byte(enc.Encode()))
			if again.Code != http.StatusNoContent || ctrl.got == nil {
				t.Fatalf("form %q decoded to %+v, whose encoding %q is refused: %d %s",
					body, got, enc.Encode(), again.Code, again.Body.String())
			}
			if enc2 := encodeForm(ctrl.got); !reflect.DeepEqual(enc, enc2) {
				t.Fatalf("form %q decoded to %+v; its encoding\n%v\ndecodes to %+v, encoded\n%v", body, got, enc, ctrl.got, enc2)
			}
			if page.Code != http.StatusSeeOther || page.Header().Get("Location") != "/orders" {
				t.Fatalf("browser: %d to %q for an accepted form, want 303 to /orders", page.Code, page.Header().Get("Location"))
			}
			return
		default:
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d for form %q, want 204 or 400: %s", rec.Code, body, rec.Body.String())
			}
		}
		if got != nil {
			t.Fatalf("the action ran for the refused form %q", body)
		}
		p := checkProblem(t, rec)
		if rec.Code == http.StatusBadRequest && parseErr == nil && len(p.Errors) == 0 {
			t.Fatalf("form %q refused without naming a field: %+v", body, p)
		}
		// The browser gets the same refusal on the page, with the same fields.
		if page.Code != rec.Code {
			t.Fatalf("browser got %d, API client %d, for form %q", page.Code, rec.Code, body)
		}
		if ct := page.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("browser got Content-Type %q", ct)
		}
		wantPage := "status=" + strconv.Itoa(rec.Code) + "|form=submit|"
		for _, fe := range p.Errors {
			var li strings.Builder
			if err := fzFieldItem.Execute(&li, fe.Field); err != nil {
				t.Fatal(err)
			}
			wantPage += li.String()
		}
		// The problem's JSON turned each byte of invalid UTF-8 in a field
		// name into U+FFFD; the page has it as sent.
		if perByteValidUTF8(page.Body.String()) != wantPage {
			t.Fatalf("browser page %q, want %q", page.Body.String(), wantPage)
		}
	})
}

// perByteValidUTF8 replaces each byte of invalid UTF-8 in s with U+FFFD,
// as encoding/json does.
func perByteValidUTF8(s string) string {
	var b strings.Builder
	for _, r := range s { // one utf8.RuneError for each invalid byte
		b.WriteRune(r)
	}
	return b.String()
}
