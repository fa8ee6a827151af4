package fxmoduletest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/fxmodule/fxmoduletest"
	"github.com/sprag-go/sprag/sprag"
)

// recorder is a test that records what New does to it, from any
// goroutine: its logs and its failures. FailNow does not end the
// goroutine.
type recorder struct {
	mu       sync.Mutex
	logs     []string
	errors   []string
	failNows int
	failed   bool
}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
	r.failed = true
}

func (r *recorder) Fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}

func (r *recorder) FailNow() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failNows++
	r.failed = true
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (*recorder) Name() string { return "recorder" }

// logged returns the lines logged that contain every one of parts.
func (r *recorder) logged(parts ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.logs {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}

func TestNewFailsTheTestOnAWiringMistake(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	fxmoduletest.New(r, fxmodule.Service("greeter", func() Greeter { return Greeter{} }))
	assert.Equal(t, 1, r.failNows, "at once, as fxtest.New does")
	require.Len(t, r.errors, 1)
	assert.Contains(t, r.errors[0], `service "greeter" (fxmoduletest_test.TestNewFailsTheTestOnAWiringMistake.func1 at `)
	assert.Contains(t, r.errors[0], "returns fxmoduletest_test.Greeter, a struct value")
}

func TestNewLogsTheServicesAndFxsEventsToTheTestAtDebugLevel(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	app := fxmoduletest.New(r, fxmodule.Service("quiet", func() *Quiet { return &Quiet{} }))
	app.RequireStart().RequireStop()
	assert.False(t, r.Failed())
	assert.NotEmpty(t, r.logged("DEBUG", "fx", "OnStart hook executed"), "fx's events, at debug level")
	assert.NotEmpty(t, r.logged("INFO", "service started", `"service": "quiet"`), "the services' own")
	assert.Empty(t, r.logged("makeFuncStub"))
}

// Quiet is a service that does nothing.
type Quiet struct{ sprag.Service }

// Stuck is a service whose OnStart ignores its context until release is
// closed.
type Stuck struct {
	sprag.Service
	release chan struct{}
}

func (s *Stuck) OnStart(context.Context) error {
	<-s.release
	return nil
}

// TestNewStartTimeoutRunsOnVirtualTime: fx's start timeout runs on the
// bubble's clock.
func TestNewStartTimeoutRunsOnVirtualTime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		stuck := &Stuck{release: make(chan struct{})}
		app := fxmoduletest.New(r, fx.StartTimeout(time.Hour), fxmodule.Service("stuck", func() *Stuck { return stuck }))
		begin := time.Now()
		app.RequireStart()
		assert.Equal(t, time.Hour, time.Since(begin))
		require.Len(t, r.errors, 1)
		assert.Contains(t, r.errors[0], "application didn't start cleanly: context deadline exceeded")
		assert.Len(t, r.logged("ERROR", "start failed", `start service \"stuck\": still starting when the start ended`), 1,
			"the service that hung, named in the test's log")

		close(stuck.release)
		<-stuck.Done() // started after the start ended: stopped at once
		assert.Equal(t, sprag.Stopped, stuck.State())
	})
}
