package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

func TestRequestLog(t *testing.T) {
	t.Parallel()
	srv, logs := newServer(t, nil, nil,
		&static{route: "GET /orders/{id}", data: 1},
		&loader{route: "GET /broken", load: func(context.Context, *Request) (any, error) {
			return nil, errors.New("disk full")
		}})

	serve(srv, http.MethodGet, "/orders/7", nil, HeaderRequestID, "log-1")
	serve(srv, http.MethodPost, "/missing", nil, HeaderRequestID, "log-2")
	serve(srv, http.MethodGet, "/healthz", nil, HeaderRequestID, "log-3")
	serve(srv, http.MethodGet, "/broken", nil, HeaderRequestID, "log-4")

	entries := logsWith(logs, "http request")
	require.Len(t, entries, 4)

	ok := entries[0]
	assert.Equal(t, zapcore.DebugLevel, ok.Level, "a success is logged at debug level by default")
	fields := ok.ContextMap()
	assert.Equal(t, "GET", fields["method"])
	assert.Equal(t, "GET /orders/{id}", fields["route"], "the pattern, not the path")
	assert.EqualValues(t, 200, fields["status"])
	assert.Equal(t, "log-1", fields["request_id"])
	assert.IsType(t, time.Duration(0), fields["duration"])
	assert.NotContains(t, fields, "path")
	assert.NotContains(t, fields, "trace_id", "no trace without a tracer")

	missing := entries[1]
	assert.Equal(t, zapcore.DebugLevel, missing.Level)
	assert.Equal(t, "POST", missing.ContextMap()["method"])
	assert.Empty(t, missing.ContextMap()["route"])
	assert.EqualValues(t, 404, missing.ContextMap()["status"])

	assert.Equal(t, zapcore.DebugLevel, entries[2].Level, "health probes are logged at debug level")

	broken := entries[3]
	assert.Equal(t, zapcore.WarnLevel, broken.Level, "a 5xx is always logged")
	assert.EqualValues(t, 500, broken.ContextMap()["status"])
	require.Len(t, logs.FilterLevelExact(zapcore.ErrorLevel).AllUntimed(), 1, "its failure has its own error line")
}

func TestRequestLogAtInfoLogsNoSuccess(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.InfoLevel) // what a production logger enables
	srv, err := NewServer(nil, WithLogger(zap.New(core)), WithControllers(
		&static{route: "GET /ok", data: 1},
		&loader{route: "GET /down", load: func(context.Context, *Request) (any, error) {
			return nil, NewError(http.StatusServiceUnavailable, "maintenance")
		}}))
	require.NoError(t, err)
	for range 10 {
		serve(srv, http.MethodGet, "/ok", nil)
		serve(srv, http.MethodGet, "/nope", nil)
	}
	serve(srv, http.MethodGet, "/down", nil)
	entries := logsWith(logs, "http request")
	require.Len(t, entries, 1, "only the 5xx")
	assert.EqualValues(t, 503, entries[0].ContextMap()["status"])
}

func TestRequestLogLevel(t *testing.T) {
	t.Parallel()
	srv, logs := newServer(t, nil, []Option{WithRequestLogLevel(zapcore.InfoLevel)}, &static{route: "GET /ok", data: 1})
	serve(srv, http.MethodGet, "/ok", nil)
	serve(srv, http.MethodGet, "/nope", nil)
	serve(srv, http.MethodGet, "/healthz", nil)
	entries := logsWith(logs, "http request")
	require.Len(t, entries, 3)
	assert.Equal(t, zapcore.InfoLevel, entries[0].Level)
	assert.Equal(t, zapcore.InfoLevel, entries[1].Level)
	assert.Equal(t, zapcore.DebugLevel, entries[2].Level, "probes stay at debug level")
}

func TestRequestLogSampling(t *testing.T) {
	t.Parallel()
	srv, logs := newServer(t, nil, []Option{
		WithRequestLogLevel(zapcore.InfoLevel),
		WithRequestLogSampling(time.Hour, 3, 5), // one tick for the whole test
	}, &static{route: "GET /ok", data: 1}, &loader{route: "GET /fail", load: func(context.Context, *Request) (any, error) {
		return nil, fmt.Errorf("boom")
	}})
	for range 23 {
		serve(srv, http.MethodGet, "/ok", nil)
	}
	for range 4 {
		serve(srv, http.MethodGet, "/fail", nil)
	}
	var ok, failed int
	for _, e := range logsWith(logs, "http request") {
		if e.ContextMap()["status"] == int64(http.StatusOK) {
			ok++
		} else {
			failed++
		}
	}
	assert.Equal(t, 3+4, ok, "the first 3, then every 5th of the next 20")
	assert.Equal(t, 4, failed, "5xx lines are never sampled")

	// The sampled logger is built once per base logger.
	first, second := srv.requestLogger(), srv.requestLogger()
	assert.Same(t, first, second)
}

// TestProbesAreLoggedAtDebugWhateverTheirStatus holds the exception to
// "5xx at warn": a /readyz that answers 503 is logged at debug level, and
// through the sampler, while another route's 503 is at warn, never
// sampled.
func TestProbesAreLoggedAtDebugWhateverTheirStatus(t *testing.T) {
	t.Parallel()
	reg := sprag.NewRegistry()
	idle := &testService{} // bound, never started: /readyz answers 503
	require.NoError(t, sprag.Bind(idle, "idle", sprag.NewRuntime(nil)))
	require.NoError(t, reg.Provide("idle", idle))
	srv, logs := newServer(t, reg, []Option{WithRequestLogSampling(time.Hour, 1, 0)}, // one line per message and level
		&loader{route: "GET /down", load: func(context.Context, *Request) (any, error) {
			return nil, NewError(http.StatusServiceUnavailable, "maintenance")
		}})
	for range 3 {
		require.Equal(t, http.StatusServiceUnavailable, serve(srv, http.MethodGet, "/readyz", nil).Code)
		require.Equal(t, http.StatusServiceUnavailable, serve(srv, http.MethodGet, "/down", nil).Code)
	}
	var probes, down []observer.LoggedEntry
	for _, e := range logsWith(logs, "http request") {
		switch e.ContextMap()["route"] {
		case ReadyzRoute:
			probes = append(probes, e)
		case "GET /down":
			down = append(down, e)
		}
	}
	require.Len(t, probes, 1, "the probe's lines are sampled")
	assert.Equal(t, zapcore.DebugLevel, probes[0].Level)
	assert.EqualValues(t, http.StatusServiceUnavailable, probes[0].ContextMap()["status"])
	require.Len(t, down, 3, "5xx lines of other routes are never sampled")
	for _, e := range down {
		assert.Equal(t, zapcore.WarnLevel, e.Level)
	}
	assert.Len(t, logsWith(logs, "not ready"), 3, "why /readyz is 503 has a warning of its own, on every probe")
}

// TestServiceLoggerBeforeAndAfterStart: without WithLogger, requests are
// logged through the service's logger, with its service field, both when
// the server is an unstarted handler and once it serves, when the logger
// it read at the start is used without taking the scope's lock.
func TestServiceLoggerBeforeAndAfterStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv, err := NewServer(nil, WithRequestLogLevel(zapcore.InfoLevel))
		require.NoError(t, err)
		core, logs := observer.New(zapcore.InfoLevel)
		require.NoError(t, sprag.Bind(srv, "http", sprag.NewRuntime(zap.New(core))))
		assert.Nil(t, srv.logger.Load(), "nothing is cached before the start")
		serve(srv, http.MethodGet, "/healthz", nil, HeaderRequestID, "before") // at debug level: not logged
		serve(srv, http.MethodGet, "/nowhere", nil, HeaderRequestID, "before")

		ln := newMemListener()
		srv.listen = ln.listen
		require.NoError(t, srv.Start(context.Background()))
		assert.Same(t, srv.Logger(), srv.logger.Load(), "the service's logger, read once")
		status, err := get(memClient(ln), "/nowhere")
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, status)
		require.NoError(t, srv.Stop(context.Background()))

		entries := logsWith(logs, "http request")
		require.Len(t, entries, 2)
		for _, e := range entries {
			assert.Equal(t, "http", e.ContextMap()["service"])
			assert.Equal(t, zapcore.InfoLevel, e.Level)
		}
		assert.Equal(t, "before", entries[0].ContextMap()["request_id"])
	})
}
