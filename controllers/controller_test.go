package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/sprag-go/sprag/sprag"
)

type ctxKeyTest struct{}

func TestLoadSeesTheRequest(t *testing.T) {
	t.Parallel()
	type seen struct {
		ID        string `json:"id"`
		Missing   string `json:"missing"`
		Query     string `json:"query"`
		Header    string `json:"header"`
		Route     string `json:"route"`
		RequestID string `json:"request_id"`
		FromCtx   string `json:"from_ctx"`
		SameCtx   bool   `json:"same_ctx"`
	}
	ctrl := &loader{route: "GET /orders/{id}", load: func(ctx context.Context, r *Request) (any, error) {
		v, _ := r.Context().Value(ctxKeyTest{}).(string)
		return seen{
			ID:        r.PathValue("id"),
			Missing:   r.PathValue("nope"),
			Query:     r.Query().Get("sort"),
			Header:    r.Header().Get("X-Tenant"),
			Route:     r.Route(),
			RequestID: RequestID(ctx),
			FromCtx:   v,
			SameCtx:   ctx == r.Context() && r.ID() == RequestID(ctx) && r.HTTP().Context() == ctx,
		}, nil
	}}
	srv, _ := newServer(t, nil, nil, ctrl)

	req := httptest.NewRequest(http.MethodGet, "/orders/a%2Fb?sort=desc", nil)
	req = req.WithContext(context.WithValue(req.Context(), ctxKeyTest{}, "user value"))
	req.Header.Set("X-Tenant", "acme")
	req.Header.Set(HeaderRequestID, "req-42")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)

	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "Accept", rec.Header().Get("Vary"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "req-42", rec.Header().Get(HeaderRequestID))
	assert.Equal(t, seen{
		ID: "a/b", Query: "desc", Header: "acme", Route: "GET /orders/{id}",
		RequestID: "req-42", FromCtx: "user value", SameCtx: true,
	}, decodeJSON[seen](t, rec.Body.Bytes()))
}

func TestZeroRequestIsSafe(t *testing.T) {
	t.Parallel()
	var r Request
	assert.Empty(t, r.PathValue("id"))
	assert.Empty(t, r.Query())
	assert.Empty(t, r.Header())
	assert.Empty(t, r.ID())
	assert.Empty(t, r.Route())
	assert.Nil(t, r.HTTP())
	assert.NotNil(t, r.Context())
	_, err := Service[*testService](&r, "metrics")
	require.ErrorIs(t, err, ErrNoServer)
	_, err = Service[*testService](nil, "metrics")
	require.ErrorIs(t, err, ErrNoServer)
}

func TestLoadNilDataIsJSONNull(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil, &loader{route: "GET /empty"})
	rec := serve(srv, http.MethodGet, "/empty", nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, "null", rec.Body.String())
}

func TestRouteWithoutMethodMeansGET(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil, &static{route: "/plain", data: "ok"})
	assert.Contains(t, srv.Routes(), "GET /plain")

	assert.Equal(t, http.StatusOK, serve(srv, http.MethodGet, "/plain", nil).Code)
	head := serve(srv, http.MethodHead, "/plain", nil)
	assert.Equal(t, http.StatusOK, head.Code)

	rec := serve(srv, http.MethodDelete, "/plain", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	assert.Equal(t, "Method Not Allowed", problemOf(t, rec).Title)
}

func TestRouterErrorsAreProblems(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil, &static{route: "GET /here", data: 1})

	t.Run("not found as JSON", func(t *testing.T) {
		t.Parallel()
		rec := serve(srv, http.MethodGet, "/nowhere", nil, HeaderRequestID, "abc")
		assert.Equal(t, http.StatusNotFound, rec.Code)
		body := problemOf(t, rec)
		assert.Equal(t, Problem{Type: "about:blank", Title: "Not Found", Status: 404, Instance: "/nowhere", RequestID: "abc"}, body)
		assert.NotContains(t, rec.Body.String(), "page not found") // the mux's text is dropped
	})
	t.Run("not found as a page", func(t *testing.T) {
		t.Parallel()
		rec := serve(srv, http.MethodGet, "/nowhere", nil, "Accept", browserAccept)
		assert.Equal(t, http.StatusNotFound, rec.Code)
		assert.Equal(t, contentTypeHTML, rec.Header().Get("Content-Type"))
		body := decodeJSON[Problem](t, []byte(scriptData(t, rec.Body.String())))
		assert.Equal(t, 404, body.Status)
		assert.Equal(t, "Not Found", body.Message())
		assert.Contains(t, rec.Body.String(), "<h1>404 Not Found</h1>")
	})
	t.Run("method not allowed", func(t *testing.T) {
		t.Parallel()
		rec := serve(srv, http.MethodPut, "/here", nil)
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
		assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
		problemOf(t, rec)
	})
}

func TestLoadRedirects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		give       error
		wantStatus int
		wantLoc    string
	}{
		{"found", Redirect(http.StatusFound, "/login"), http.StatusFound, "/login"},
		{"see other", Redirect(http.StatusSeeOther, "https://example.com/x?y=1"), http.StatusSeeOther, "https://example.com/x?y=1"},
		{"temporary", Redirect(http.StatusTemporaryRedirect, "/t"), http.StatusTemporaryRedirect, "/t"},
		{"permanent", Redirect(http.StatusMovedPermanently, "/p"), http.StatusMovedPermanently, "/p"},
		{"wrapped", fmt.Errorf("check session: %w", Redirect(http.StatusSeeOther, "/login")), http.StatusSeeOther, "/login"},
		{"not a redirect status", Redirect(http.StatusOK, "/x"), http.StatusInternalServerError, ""},
		{"empty url", Redirect(http.StatusFound, ""), http.StatusInternalServerError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, logs := newServer(t, nil, nil, &loader{route: "GET /r", load: func(context.Context, *Request) (any, error) {
				return "ignored", tt.give
			}})
			for _, accept := range []string{"application/json", browserAccept} {
				rec := serve(srv, http.MethodGet, "/r", nil, "Accept", accept)
				assert.Equal(t, tt.wantStatus, rec.Code)
				assert.Equal(t, tt.wantLoc, rec.Header().Get("Location"))
				if tt.wantStatus == http.StatusInternalServerError {
					assert.NotEmpty(t, logsWith(logs, "invalid redirect: need status 301, 302, 303, 307 or 308 and a url"))
				} else {
					assert.Empty(t, rec.Body.String())
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	secret := errors.New("dial postgres://admin:s3cret@10.0.0.7")
	tests := []struct {
		name        string
		give        error
		wantStatus  int
		wantMessage string
		wantLogged  bool
	}{
		{"http error", NewError(http.StatusNotFound, "order not found"), 404, "order not found", false},
		{"http error without message", NewError(http.StatusConflict, ""), 409, "Conflict", false},
		{"wrapped http error", fmt.Errorf("load order 7: %w", NewError(http.StatusForbidden, "not yours")), 403, "not yours", false},
		{"http error with cause", &HTTPError{Status: http.StatusBadGateway, Message: "upstream unavailable", Err: secret}, 502, "upstream unavailable", true},
		{"client error cause not logged", &HTTPError{Status: http.StatusGone, Message: "gone", Err: secret}, 410, "gone", false},
		{"status below 400", NewError(http.StatusOK, "fine?"), 500, "Internal Server Error", true},
		{"status above 599", NewError(700, "odd"), 500, "Internal Server Error", true},
		{"plain error", secret, 500, "Internal Server Error", true},
		{"context error", context.DeadlineExceeded, 500, "Internal Server Error", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, logs := newServer(t, nil, nil, &loader{route: "GET /e", load: func(context.Context, *Request) (any, error) {
				return nil, tt.give
			}})
			rec := serve(srv, http.MethodGet, "/e", nil)
			assert.Equal(t, tt.wantStatus, rec.Code)
			body := problemOf(t, rec)
			assert.Equal(t, tt.wantMessage, body.Message())
			assert.NotContains(t, rec.Body.String(), "s3cret")
			assert.NotContains(t, rec.Body.String(), "http ")
			failures := logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("http request").AllUntimed()
			assert.Empty(t, failures, "the request line of a 5xx is a warning")
			failures = logs.FilterLevelExact(zapcore.ErrorLevel).AllUntimed()
			if !tt.wantLogged {
				assert.Empty(t, failures)
				return
			}
			require.Len(t, failures, 1)
			fields := failures[0].ContextMap()
			assert.Equal(t, "*controllers.loader", fields["controller"])
			assert.Equal(t, "GET /e", fields["route"])
			assert.Equal(t, body.RequestID, fields["request_id"])
			assert.Contains(t, fields["error"], tt.give.Error())
		})
	}
}

func TestHTTPErrorText(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	e := &HTTPError{Status: 502, Message: "upstream", Err: cause}
	assert.Equal(t, "http 502: upstream: boom", e.Error())
	require.ErrorIs(t, e, cause)
	assert.Equal(t, "http 404: not found", NewError(404, "").Error())
	assert.Equal(t, `redirect 303 to "/x"`, Redirect(303, "/x").Error())
}

func TestLoadPanicIsLogged500(t *testing.T) {
	t.Parallel()
	calls := 0
	ctrl := &loader{route: "GET /boom", load: func(context.Context, *Request) (any, error) {
		calls++
		if calls == 1 {
			panic("secret panic value")
		}
		return "recovered", nil
	}}
	srv, logs := newServer(t, nil, nil, ctrl)

	rec := serve(srv, http.MethodGet, "/boom", nil, "Accept", browserAccept)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, contentTypeHTML, rec.Header().Get("Content-Type"))
	assert.NotContains(t, rec.Body.String(), "secret panic value")
	assert.NotContains(t, rec.Body.String(), "goroutine")

	rec = serve(srv, http.MethodGet, "/boom", nil)
	assert.Equal(t, http.StatusOK, rec.Code, "the server goes on serving")

	panics := logsWith(logs, "panic in http handler")
	require.Len(t, panics, 1)
	fields := panics[0].ContextMap()
	assert.Equal(t, "secret panic value", fields["panic"])
	assert.Equal(t, "GET /boom", fields["route"])
	assert.Contains(t, fields["stack"], "controller_test.go")
	assert.Equal(t, zapcore.ErrorLevel, panics[0].Level)

	requests := logsWith(logs, "http request")
	require.Len(t, requests, 2)
	assert.EqualValues(t, 500, requests[0].ContextMap()["status"])
}

func TestServiceLookup(t *testing.T) {
	t.Parallel()
	reg := sprag.NewRegistry()
	metrics := &testService{}
	startService(t, reg, "metrics", metrics, metrics)

	type result struct {
		Same bool   `json:"same"`
		Err  string `json:"err"`
	}
	var lookupErr error
	ctrl := &loader{route: "GET /svc/{name}", load: func(ctx context.Context, r *Request) (any, error) {
		switch r.PathValue("name") {
		case "metrics":
			m, err := Service[*testService](r, "metrics")
			return result{Same: m == metrics}, err
		case "wrong-type":
			_, err := Service[*Server](r, "metrics")
			lookupErr = err
			return nil, err
		default:
			_, err := Service[*testService](r, r.PathValue("name"))
			lookupErr = err
			return nil, err
		}
	}}
	srv, logs := newServer(t, reg, nil, ctrl)
	assert.Same(t, reg, srv.Registry())

	rec := serve(srv, http.MethodGet, "/svc/metrics", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, decodeJSON[result](t, rec.Body.Bytes()).Same)

	rec = serve(srv, http.MethodGet, "/svc/email", nil)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "Internal Server Error", problemOf(t, rec).Message())
	require.ErrorIs(t, lookupErr, sprag.ErrNotFound)
	assert.Contains(t, lookupErr.Error(), "controller *controllers.loader")
	assert.Contains(t, lookupErr.Error(), `"email"`)
	assert.Contains(t, lookupErr.Error(), `"metrics"`, "the error lists what is registered")

	rec = serve(srv, http.MethodGet, "/svc/wrong-type", nil)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	require.ErrorIs(t, lookupErr, sprag.ErrWrongType)
	assert.Contains(t, lookupErr.Error(), "*controllers.Server")
	assert.NotContains(t, rec.Body.String(), "metrics")

	assert.Len(t, logsWith(logs, "request failed"), 2)
}
