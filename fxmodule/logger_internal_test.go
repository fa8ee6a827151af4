package fxmodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx/fxevent"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestDefaultLoggers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		mode  logMode
		color bool
		check func(t *testing.T, out string)
	}{
		{"production JSON", jsonLogs, true, func(t *testing.T, out string) {
			var entry map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &entry), out)
			assert.Equal(t, "error", entry["level"])
			assert.Equal(t, "fx", entry["logger"])
			assert.Equal(t, "start failed", entry["msg"])
			assert.Equal(t, "port in use", entry["error"])
			assert.NotContains(t, entry, "stacktrace")
		}},
		{"development console, in colour", devLogs, true, func(t *testing.T, out string) {
			assert.Regexp(t, `^\d\d:\d\d:\d\d\.\d\d\d\t\x1b\[31mERROR\x1b\[0m\tfx\tstart failed\t\{"error": "port in use"\}\n$`, out)
		}},
		{"development console, NO_COLOR", devLogs, false, func(t *testing.T, out string) {
			assert.Regexp(t, `^\d\d:\d\d:\d\d\.\d\d\d\tERROR\tfx\tstart failed\t\{"error": "port in use"\}\n$`, out)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l := defaultLogger(tt.mode, zapcore.AddSync(&buf), tt.color)
			l.Debug("not shown: info level")
			l.Named("fx").Error("start failed", zap.Error(errors.New("port in use")))
			tt.check(t, buf.String())
		})
	}
}

// The tests below set environment variables: they are not parallel.

func TestSPRAGLogAndDevLoggerChooseTheDefaultLogger(t *testing.T) {
	tests := []struct {
		env     string
		dev     bool // DevLogger given
		wantErr string
		want    string // the type of the logger's core
	}{
		{env: "", want: "*zapcore.sampler"},
		{env: "json", want: "*zapcore.sampler"},
		{env: "dev", want: "*zapcore.ioCore"},
		{env: "", dev: true, want: "*zapcore.ioCore"},
		{env: "json", dev: true, want: "*zapcore.ioCore"},
		{env: "verbose", wantErr: `SPRAG_LOG="verbose": want "dev" (console logs) or "json" (the default)`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("SPRAG_LOG=%s, DevLogger %v", tt.env, tt.dev), func(t *testing.T) {
			t.Setenv(EnvLog, tt.env)
			p := loggerParams{Lifecycle: fxtest.NewLifecycle(t)}
			if tt.dev {
				p.Modes = []logMode{devLogs}
			}
			l, err := newLogger(p)
			require.NoError(t, err, "a logger, to report SPRAG_LOG's mistake with")
			if tt.wantErr != "" {
				require.EqualError(t, checkLogEnv(l), tt.wantErr, "Module's first invoke fails")
				return
			}
			require.NoError(t, checkLogEnv(l))
			assert.Equal(t, tt.want, fmt.Sprintf("%T", l.Core()))
			assert.True(t, l.Core().Enabled(zapcore.InfoLevel))
			assert.False(t, l.Core().Enabled(zapcore.DebugLevel))
		})
	}
}

func TestTheAppsLoggerWins(t *testing.T) {
	t.Setenv(EnvLog, "dev")
	mine := zap.NewNop()
	l, err := newLogger(loggerParams{Logger: mine, Modes: []logMode{devLogs}, Lifecycle: fxtest.NewLifecycle(t)})
	require.NoError(t, err)
	assert.Same(t, mine, l.Logger)
}

// TestFxEventLevels: a received signal and a rollback's start are logged
// at info level, failures at error level, the rest at debug level.
func TestFxEventLevels(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	l := newFxLogger(fxLoggerParams{Logger: &logger{Logger: zap.New(core)}})

	l.LogEvent(&fxevent.Stopping{Signal: syscall.SIGTERM})
	l.LogEvent(&fxevent.RollingBack{StartErr: errors.New("no database")})
	l.LogEvent(&fxevent.Started{Err: errors.New("no database")})
	l.LogEvent(&fxevent.Started{})

	var got []string
	for _, e := range logs.All() {
		assert.Equal(t, "fx", e.LoggerName)
		got = append(got, e.Level.String()+" "+e.Message)
	}
	assert.Equal(t, []string{"info received signal", "info start failed: rolling back", "error start failed", "debug started"}, got)
	assert.Equal(t, "terminated", logs.FilterMessage("received signal").All()[0].ContextMap()["signal"])
}
