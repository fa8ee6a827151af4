package fxmodule_test

import (
	"context"
	"sync"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// journal records lifecycle steps from any goroutine.
type journal struct {
	mu    sync.Mutex
	steps []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.steps = append(j.steps, s)
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.steps...)
}

// node is a service that records its start and stop in a journal.
type node struct {
	sprag.Service
	j        *journal
	startErr error
	onStart  func(ctx context.Context, n *node) error
}

func (n *node) OnStart(ctx context.Context) error {
	n.j.add("start " + n.Name())
	if n.onStart != nil {
		return n.onStart(ctx, n)
	}
	return n.startErr
}

func (n *node) OnStop(context.Context) error {
	n.j.add("stop " + n.Name())
	return nil
}

// observed returns a logger whose entries the test can read, also written
// to the test log.
func observed(t *testing.T) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zap.DebugLevel)
	return zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core())), logs
}

// newApp builds an fxtest app with the module, a test logger and opts.
func newApp(t *testing.T, logger *zap.Logger, opts ...fx.Option) *fxtest.App {
	t.Helper()
	return fxtest.New(t, append([]fx.Option{fxmodule.Module, fx.Supply(logger), fxmodule.LogFxEvents}, opts...)...)
}

func zapString(key, value string) zap.Field { return zap.String(key, value) }
