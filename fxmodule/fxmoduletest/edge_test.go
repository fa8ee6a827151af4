package fxmoduletest_test

import (
	"context"
	"errors"
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

// steps records lifecycle steps from any goroutine.
type steps struct {
	mu  sync.Mutex
	all []string
}

func (s *steps) add(step string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, step)
}

func (s *steps) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.all...)
}

// Step records its start and stop; a non-nil fail fails its start.
type Step struct {
	sprag.Service
	s    *steps
	fail error
}

func (st *Step) OnStart(context.Context) error {
	st.s.add("start " + st.Name())
	return st.fail
}

func (st *Step) OnStop(context.Context) error {
	st.s.add("stop " + st.Name())
	return nil
}

type afterDB struct {
	fx.In
	DB *Step `name:"db"`
}

// In a bubble, a service that fails to start fails RequireStart with the
// service's error, and fx stops what had started, in reverse; Ready is
// never done.
func TestEdgeNewInABubbleRollsBackAFailedStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		s := &steps{}
		var ready *fxmodule.Ready
		app := fxmoduletest.New(r,
			fxmodule.Service("db", func() *Step { return &Step{s: s} }),
			fxmodule.Service("cache", func(afterDB) *Step { return &Step{s: s} }),
			fxmodule.Service("search", func(afterDB) *Step { return &Step{s: s, fail: errors.New("index missing")} }),
			fx.Populate(&ready),
		)
		app.RequireStart()
		require.Len(t, r.errors, 1)
		assert.Contains(t, r.errors[0], `start service "search": index missing`)
		assert.Equal(t, 1, r.failNows)
		assert.Equal(t, []string{"start db", "start cache", "start search", "stop cache", "stop db"}, s.get())
		select {
		case <-ready.Done():
			t.Fatal("ready after a failed start")
		default:
		}
		assert.NotEmpty(t, r.logged("ERROR", "start failed", "index missing"), "the failure, in the test's log")
	})
}

// Stubborn's OnStop ignores its context until release is closed.
type Stubborn struct {
	sprag.Service
	release chan struct{}
}

func (s *Stubborn) OnStop(context.Context) error {
	<-s.release
	return nil
}

type afterBase struct {
	fx.In
	Base *Step `name:"base"`
}

// In a bubble, fx's stop timeout runs on virtual time: a stop stuck in a
// service's OnStop returns at the deadline, the test's log names the
// service, and fxmodule stops the service that fx did not reach.
func TestEdgeNewInABubbleStopTimeoutRunsOnVirtualTime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		base := &Step{s: &steps{}}
		stuck := &Stubborn{release: make(chan struct{})}
		app := fxmoduletest.New(r, fx.StopTimeout(time.Minute),
			fxmodule.Service("base", func() *Step { return base }),
			fxmodule.Service("stuck", func(afterBase) *Stubborn { return stuck }),
		)
		app.RequireStart()
		begin := time.Now()
		app.RequireStop()
		assert.Equal(t, time.Minute, time.Since(begin))
		require.Len(t, r.errors, 1)
		assert.Contains(t, r.errors[0], "application didn't stop cleanly: context deadline exceeded")
		<-base.Done() // fx ran no stop hook after the deadline; fxmodule stopped it
		assert.Equal(t, sprag.Stopped, base.State())
		synctest.Wait()
		assert.NotEmpty(t, r.logged("ERROR", "OnStop hook failed", `stop service \"stuck\"`, "still running at the stop deadline: OnStop"))
		close(stuck.release)
		<-stuck.Done()
	})
}
