package controllers

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
