package spragtest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// fakeT records what spragtest reports, so that failures can be tested.
type fakeT struct {
	testing.TB
	errors, fatals []string
	cleanups       []func()
}

func (f *fakeT) Helper()           {}
func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
}
func (f *fakeT) Logf(string, ...any) {}

func (f *fakeT) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

type failing struct {
	sprag.Service
	startErr, stopErr error
}

func (s *failing) OnStart(context.Context) error { return s.startErr }
func (s *failing) OnStop(context.Context) error  { return s.stopErr }

func TestStartStopsTheServiceWhenTheTestEnds(t *testing.T) {
	t.Parallel()
	var svc *failing
	t.Run("inner", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			svc = &failing{}
			spragtest.Start(t, "svc", svc)
			assert.Equal(t, sprag.Running, svc.State())
		})
	})
	assert.Equal(t, sprag.Stopped, svc.State(), "stopped by the bubble's cleanup")
}

func TestStartReportsFailures(t *testing.T) {
	t.Parallel()
	f := &fakeT{TB: t}
	spragtest.Start(f, "bad", &failing{startErr: errors.New("no start")})
	require.Len(t, f.fatals, 1)
	assert.Contains(t, f.fatals[0], `start service "bad": no start`)

	f = &fakeT{TB: t}
	svc := &failing{stopErr: errors.New("no stop")}
	spragtest.Start(f, "svc", svc, spragtest.StopTimeout(time.Second))
	assert.Empty(t, f.fatals)
	assert.Equal(t, sprag.Running, svc.State())
	f.runCleanups()
	assert.Equal(t, sprag.Stopped, svc.State(), "the cleanup stopped it")
	require.Len(t, f.errors, 1)
	assert.Contains(t, f.errors[0], "no stop")
}

func TestStartWithASharedRuntime(t *testing.T) {
	t.Parallel()
	rt := spragtest.Runtime(t)
	a, b := &failing{}, &failing{}
	spragtest.Start(t, "a", a, spragtest.WithRuntime(rt))
	spragtest.Start(t, "b", b, spragtest.WithRuntime(rt))
	assert.Same(t, a.Runtime().Bus, b.Runtime().Bus)
	assert.Equal(t, "WithRuntime(...)", spragtest.WithRuntime(rt).String())
	assert.Equal(t, "StopTimeout(1s)", spragtest.StopTimeout(time.Second).String())
}

func TestStopReportsAStopError(t *testing.T) {
	t.Parallel()
	f := &fakeT{TB: t}
	svc := &failing{stopErr: errors.New("no stop")}
	spragtest.Start(f, "svc", svc)
	spragtest.Stop(f, svc, time.Second)
	require.Len(t, f.errors, 1)
	assert.Contains(t, f.errors[0], "no stop")
}

func TestRecorder(t *testing.T) {
	t.Parallel()
	rt := spragtest.Runtime(t)
	rec := spragtest.Record(t, rt.Bus, "order:*")
	require.NoError(t, rt.Bus.Emit(context.Background(), "order:completed", 1))
	require.NoError(t, rt.Bus.Emit(context.Background(), "order:shipped", 2))
	require.NoError(t, rt.Bus.Emit(context.Background(), "user:created", 3))
	assert.Equal(t, 2, rec.Len())
	assert.Equal(t, []any{1, 2}, rec.Payloads())
	assert.Equal(t, "order:shipped", rec.Events()[1].Topic)
	rec.Reset()
	assert.Zero(t, rec.Len())

	f := &fakeT{TB: t}
	spragtest.Record(f, rt.Bus, "bad::topic")
	require.Len(t, f.fatals, 1)
}

func TestObservedRuntimeCapturesLogs(t *testing.T) {
	t.Parallel()
	rt, logs := spragtest.ObservedRuntime(t)
	rt.Logger.Info("hello")
	assert.Equal(t, 1, logs.FilterMessage("hello").Len())
}
