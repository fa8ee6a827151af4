package controllers

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

func TestRequestLog(t *testing.T) {
	t.Parallel()
	srv, logs := newServer(t, nil, nil, &static{route: "GET /orders/{id}", data: 1})

	serve(srv, http.MethodGet, "/orders/7", nil, HeaderRequestID, "log-1")
	serve(srv, http.MethodPost, "/missing", nil, HeaderRequestID, "log-2")
	serve(srv, http.MethodGet, "/healthz", nil, HeaderRequestID, "log-3")

	entries := logsWith(logs, "http request")
	require.Len(t, entries, 3)

	ok := entries[0]
	assert.Equal(t, zapcore.InfoLevel, ok.Level)
	fields := ok.ContextMap()
	assert.Equal(t, "GET", fields["method"])
	assert.Equal(t, "GET /orders/{id}", fields["route"], "the pattern, not the path")
	assert.EqualValues(t, 200, fields["status"])
	assert.Equal(t, "log-1", fields["request_id"])
	assert.IsType(t, time.Duration(0), fields["duration"])
	assert.NotContains(t, fields, "path")

	missing := entries[1].ContextMap()
	assert.Equal(t, "POST", missing["method"])
	assert.Empty(t, missing["route"])
	assert.EqualValues(t, 404, missing["status"])

	assert.Equal(t, zapcore.DebugLevel, entries[2].Level, "health probes are logged at debug level")
}
