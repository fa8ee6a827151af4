package controllers

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

func TestProblemDocument(t *testing.T) {
	t.Parallel()
	outOfCredit := &HTTPError{
		Status: http.StatusForbidden, Message: "your balance is 30, but that costs 50",
		Type: "https://example.com/probs/out-of-credit", Title: "You do not have enough credit.",
		Err: errors.New("ledger row 7 locked"),
	}
	srv, _ := newServer(t, nil, nil, &loader{route: "GET /buy/{item}", load: func(context.Context, *Request) (any, error) {
		return nil, outOfCredit
	}})

	rec := serve(srv, http.MethodGet, "/buy/a%20b?token=secret", nil, HeaderRequestID, "p-7")
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Equal(t, ContentTypeProblem, rec.Header().Get("Content-Type"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.JSONEq(t, `{
		"type": "https://example.com/probs/out-of-credit",
		"title": "You do not have enough credit.",
		"status": 403,
		"detail": "your balance is 30, but that costs 50",
		"instance": "/buy/a%20b",
		"request_id": "p-7"
	}`, rec.Body.String(), "the instance is the path without the query; the cause is not sent")
}

func TestProblemMessage(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "order not found", Problem{Title: "Not Found", Detail: "order not found"}.Message())
	assert.Equal(t, "Not Found", Problem{Title: "Not Found"}.Message())
}

func TestProblemOfUnknownStatus(t *testing.T) {
	t.Parallel()
	p := (&HTTPError{Status: 599}).problem()
	assert.Equal(t, &Problem{Type: ProblemTypeDefault, Title: "Error", Status: 599}, p)
	assert.Equal(t, "http 599: error", (&HTTPError{Status: 599}).Error())
}

func TestProblemForValidation(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil, nil, ordersController{})
	rec := postJSON(srv, "/orders/7/create", `{"customer_email":"nope","items":[{"sku":"A","qty":1}],"shipping_address":{"zip":"12345"}}`,
		HeaderRequestID, "v-1")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	assert.JSONEq(t, `{
		"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "invalid input",
		"instance": "/orders/7/create", "request_id": "v-1",
		"errors": [{"field": "customer_email", "rule": "email", "message": "must be a valid email address"}]
	}`, rec.Body.String())
}

// TestProblemDetailOf500 holds Problem.Detail's promise: a 500 has the
// message of an *HTTPError that chose the status, and no detail for any
// other error or a panic, whose cause is only logged.
func TestProblemDetailOf500(t *testing.T) {
	t.Parallel()
	srv, logs := newServer(t, nil, nil, &loader{route: "GET /fail/{kind}", load: func(_ context.Context, r *Request) (any, error) {
		switch r.PathValue("kind") {
		case "http-error":
			return nil, &HTTPError{Status: http.StatusInternalServerError, Message: "the ledger is being migrated",
				Err: errors.New("ledger: table locked by pid 4711")}
		case "error":
			return nil, errors.New("dial postgres://admin:s3cret@10.0.0.7: refused")
		}
		panic("nil map")
	}})
	tests := []struct {
		give       string
		wantDetail string
	}{
		{"http-error", "the ledger is being migrated"},
		{"error", ""},
		{"panic", ""},
	}
	for _, tt := range tests {
		rec := serve(srv, http.MethodGet, "/fail/"+tt.give, nil)
		require.Equal(t, http.StatusInternalServerError, rec.Code, tt.give)
		p := problemOf(t, rec)
		assert.Equal(t, tt.wantDetail, p.Detail, tt.give)
		assert.NotContains(t, rec.Body.String(), "s3cret", tt.give)
		assert.NotContains(t, rec.Body.String(), "4711", tt.give)
	}
	assert.Len(t, logs.FilterLevelExact(zapcore.ErrorLevel).AllUntimed(), 3, "each cause is logged")
}
