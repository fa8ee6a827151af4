package fxmodule_test

// Stress tests of fxmodule under concurrency: many waiters of Ready,
// concurrent Starts, and requests through the app's HTTP server while the
// app stops. Run them with -race.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// stressSvc is a service whose OnStart and OnStop run the given functions,
// and count their calls.
type stressSvc struct {
	sprag.Service
	onStart func(context.Context) error
	onStop  func(context.Context) error
	starts  atomic.Int32
	stops   atomic.Int32
}

func (s *stressSvc) OnStart(ctx context.Context) error {
	s.starts.Add(1)
	if s.onStart != nil {
		return s.onStart(ctx)
	}
	return nil
}

func (s *stressSvc) OnStop(ctx context.Context) error {
	s.stops.Add(1)
	if s.onStop != nil {
		return s.onStop(ctx)
	}
	return nil
}

// TestStressReadyWaitFromManyGoroutines: Ready.Wait "waits until the app
// has started or ctx ends. Once the app has started it returns nil, even
// with a ctx that has ended"; Done "is closed once every service has
// started". 64 goroutines wait with a live context and 64 with one that
// ends before the start: the first get nil once the app has started, and
// not before; the second get the context's error; after the start, a
// Wait with an ended context returns nil.
func TestStressReadyWaitFromManyGoroutines(t *testing.T) {
	t.Parallel()
	var ready *fxmodule.Ready
	release := make(chan struct{})
	svc := &stressSvc{onStart: func(context.Context) error { <-release; return nil }}
	app := fxmodule.App(fx.Supply(zap.NewNop()), fx.Populate(&ready),
		fxmodule.Service("db", func() *stressSvc { return svc }))
	require.NoError(t, app.Err())

	const waiters = 64
	var live, ended sync.WaitGroup
	var early atomic.Int32
	started := make(chan struct{})
	for range waiters {
		live.Add(1)
		go func() {
			defer live.Done()
			err := ready.Wait(context.Background())
			assert.NoError(t, err)
			select {
			case <-started:
			default:
				early.Add(1)
			}
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	for range waiters {
		ended.Add(1)
		go func() {
			defer ended.Done()
			assert.ErrorIs(t, ready.Wait(ctx), context.Canceled)
		}()
	}
	cancel()
	ended.Wait()

	startErr := make(chan error, 1)
	go func() { startErr <- app.Start(context.Background()) }()
	for svc.starts.Load() == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	select {
	case <-ready.Done():
		t.Fatal("Done is closed while a service is starting")
	default:
	}
	close(started)
	close(release)
	require.NoError(t, <-startErr)
	live.Wait()
	assert.Zero(t, early.Load(), "a Wait returned before the app had started")
	assert.NoError(t, ready.Wait(ctx), "once started, an ended ctx still gets nil")
	require.NoError(t, app.Stop(context.Background()))
}

// TestStressConcurrentStartsAreRefused: Application.Start: "A Start while
// the app runs, or while another Start is under way, is refused with an
// error and changes nothing: fx's own Start would roll the running app
// back, stopping every service." 16 Starts at once: one succeeds, the 15
// others are refused, every service starts once and is still running, and
// one Stop stops them.
func TestStressConcurrentStartsAreRefused(t *testing.T) {
	t.Parallel()
	for range 10 {
		gate := make(chan struct{})
		db := &stressSvc{onStart: func(context.Context) error { <-gate; return nil }}
		cache := &stressSvc{}
		type cacheIn struct {
			fx.In
			DB *stressSvc `name:"db"`
		}
		app := fxmodule.App(fx.Supply(zap.NewNop()),
			fxmodule.Service("db", func() *stressSvc { return db }),
			fxmodule.Service("cache", func(cacheIn) *stressSvc { return cache }))
		require.NoError(t, app.Err())

		const starters = 16
		errs := make(chan error, starters)
		var wg sync.WaitGroup
		for range starters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- app.Start(context.Background())
			}()
		}
		for db.starts.Load() == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		// every Start but the one under way is refused before db's OnStart ends
		for refused := 0; refused < starters-1; refused++ {
			err := <-errs
			require.Error(t, err)
			assert.Contains(t, err.Error(), "it has started already")
		}
		close(gate)
		wg.Wait()
		require.NoError(t, <-errs, "the one Start under way")
		assert.Equal(t, int32(1), db.starts.Load())
		assert.Equal(t, int32(1), cache.starts.Load())
		assert.Equal(t, sprag.Running, db.State())
		assert.Equal(t, sprag.Running, cache.State())
		require.NoError(t, app.Stop(context.Background()))
		assert.Equal(t, sprag.Stopped, db.State())
		assert.Equal(t, sprag.Stopped, cache.State())
		assert.Equal(t, int32(1), db.stops.Load())
	}
}

// stressCtrl is a controller that uses a service on every request and
// records each request that found it not running.
type stressCtrl struct {
	svc        *stressSvc
	served     atomic.Int64
	notRunning atomic.Int64
}

func (c *stressCtrl) Route() string { return "GET /use/{n}" }

func (c *stressCtrl) Load(_ context.Context, r *controllers.Request) (any, error) {
	if c.svc.State() != sprag.Running {
		c.notRunning.Add(1)
		return nil, errors.New("the service is " + c.svc.State().String())
	}
	time.Sleep(100 * time.Microsecond) // in flight for a while
	if c.svc.State() != sprag.Running {
		c.notRunning.Add(1)
		return nil, errors.New("the service stopped under the request")
	}
	c.served.Add(1)
	return r.PathValue("n"), nil
}

type stressCtrlIn struct {
	fx.In
	Svc *stressSvc `name:"store"`
}

// TestStressNoRequestReachesAStoppedService: docs/fx.md (Providers, App
// and controllers): "the server starts after every service its controllers
// use and stops before them: no request reaches a stopped service through
// a controller." 8 keep-alive clients hammer a controller of an App while
// the app stops: every request answered 200 found its service running for
// its whole Load, no request found it stopped, and every request that
// got an answer got a 200.
func TestStressNoRequestReachesAStoppedService(t *testing.T) {
	t.Parallel()
	var ctrl *stressCtrl
	var server *controllers.Server
	store := &stressSvc{}
	app := fxmodule.App(fx.Supply(zap.NewNop()),
		fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0")),
		fxmodule.Service("store", func() *stressSvc { return store }),
		fxmodule.Controllers(func(p stressCtrlIn) *stressCtrl { ctrl = &stressCtrl{svc: p.Svc}; return ctrl }),
		fx.Populate(fx.Annotate(&server, fx.ParamTags(`name:"http"`))),
	)
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(context.Background()))
	base := "http://" + server.Addr()

	const workers = 8
	var answered, refused atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(fmt.Sprintf("%s/use/%d-%d", base, w, i))
				if err != nil {
					refused.Add(1)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil {
					refused.Add(1)
					continue
				}
				answered.Add(1)
				assert.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
			}
		}()
	}
	for ctrl.served.Load() < 100 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, app.Stop(ctx))
	for refused.Load() < workers {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, ctrl.notRunning.Load(), "requests found the store stopped")
	assert.Equal(t, answered.Load(), ctrl.served.Load(), "every answered request was served by Load")
	assert.Equal(t, sprag.Stopped, store.State())
	assert.Equal(t, sprag.Stopped, server.State())
}

// TestStartAndStopDuringAStop: app.go, Application.Start, "A Start while
// the app runs, while another Start is under way or while a Stop is, is
// refused with an error and changes nothing", and Application.Stop, "A
// Stop while another Stop runs waits for it and returns nil. Either wait
// ends with ctx, and Stop then returns an error wrapping ctx's."
func TestStartAndStopDuringAStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		entered, release := make(chan struct{}), make(chan struct{})
		db := &stressSvc{onStop: func(context.Context) error {
			close(entered)
			<-release
			return nil
		}}
		app := fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.Service("db", func() *stressSvc { return db }))
		require.NoError(t, app.Start(context.Background()))
		first := make(chan error, 1)
		go func() { first <- app.Stop(context.Background()) }()
		<-entered

		err := app.Start(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "it is stopping")
		assert.Equal(t, int32(1), db.starts.Load(), "the refused Start started nothing")

		short, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		began := time.Now()
		err = app.Stop(short)
		require.ErrorIs(t, err, context.DeadlineExceeded, "the second Stop waits for the first until its own ctx ends")
		assert.Equal(t, time.Second, time.Since(began))
		assert.Contains(t, err.Error(), "waiting for the stop under way")

		close(release)
		require.NoError(t, <-first)
		assert.Equal(t, sprag.Stopped, db.State())
	})
}

// TestStopDuringStartWaitsUntilItsContextEnds: app.go, Application.Stop,
// "A Stop while Start runs ends Start's context and waits for Start to
// return ... Either wait ends with ctx, and Stop then returns an error
// wrapping ctx's"; a later Stop finishes the job.
func TestStopDuringStartWaitsUntilItsContextEnds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		slow := &stressSvc{onStart: func(context.Context) error {
			<-release // ignores its context
			return nil
		}}
		app := fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.Service("slow", func() *stressSvc { return slow }))
		started := make(chan error, 1)
		go func() { started <- app.Start(context.Background()) }()
		synctest.Wait() // slow's OnStart runs

		short, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := app.Stop(short)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), `service "slow" is still starting`, "the Stop names the service it waited for")
		require.ErrorIs(t, <-started, context.Canceled, "the Stop ended the start")

		stopped := make(chan error, 1)
		go func() { stopped <- app.Stop(context.Background()) }()
		synctest.Wait()
		close(release) // slow starts, and its hook stops it at once
		require.NoError(t, <-stopped)
		assert.Equal(t, sprag.Stopped, slow.State())
		assert.Equal(t, int32(1), slow.stops.Load(), "OnStop ran once")
	})
}

// TestStartDuringAStopAfterAFailedStart: a Stop after a start that ended
// with a service still starting is the stop under way, also for an app
// that is not running: a Start meanwhile is refused (app.go,
// Application.Start), and the Stop returns once that service has started
// and been stopped again.
func TestStartDuringAStopAfterAFailedStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		slow := &stressSvc{onStart: func(context.Context) error {
			<-release // ignores its context
			return nil
		}}
		app := fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.Service("slow", func() *stressSvc { return slow }))
		short, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		require.ErrorIs(t, app.Start(short), context.DeadlineExceeded)

		stopped := make(chan error, 1)
		go func() { stopped <- app.Stop(context.Background()) }()
		synctest.Wait() // the Stop waits for slow's start hook
		err := app.Start(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "it is stopping")
		assert.Equal(t, int32(1), slow.starts.Load(), "the refused Start started nothing")

		close(release)
		require.NoError(t, <-stopped)
		assert.Equal(t, sprag.Stopped, slow.State())
	})
}
