package fxmodule_test

// Edge cases of the wiring and of the lifecycle that no other test held.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// edgeUser is a service that takes another.
type edgeUser struct {
	sprag.Service
	dep *edgeBare
}

func TestEdgeNamesWithUnusualCharactersWork(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"métriques", "日本", `x"y`, "x`y", "a,b", "x\u200by", "a:b", strings.Repeat("n", 128)} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			t.Parallel()
			var registry *sprag.Registry
			var dep *edgeBare
			var user *edgeUser
			app := fxmodule.App(fx.Supply(zap.NewNop()),
				fxmodule.Service("user", func(d *edgeBare) *edgeUser { user = &edgeUser{dep: d}; return user },
					fxmodule.ParamTags(fmt.Sprintf("name:%q", name))),
				fxmodule.Service(name, func() *edgeBare { dep = &edgeBare{}; return dep }),
				fx.Populate(&registry),
			)
			require.NoError(t, app.Err())
			require.NoError(t, app.Start(context.Background()))
			assert.Equal(t, []string{name, "user"}, registry.Names(), "the service the user takes starts first")
			assert.Same(t, dep, user.dep, "taken by its name")
			assert.Equal(t, name, dep.Name())
			require.NoError(t, app.Stop(context.Background()))
		})
	}
}

func TestEdgeInvalidNamesAreWiringErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, want string }{
		{"", "the name is empty"},
		{"a/b", "holds a '/'"},
		{"a b", "holds a space"},
		{"\u00a0", "holds a space"},
		{"tab\t", "holds a space or a control character"},
		{"bad\xff", "holds a space or a control character"},
		{strings.Repeat("n", 129), "longer than 128 bytes"},
		{fxmodule.HTTPServiceName, `"http" is the name of the app's HTTP server`},
	} {
		app := fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.Service(tt.name, func() *edgeBare { return &edgeBare{} }))
		var we *fxmodule.WiringError
		require.ErrorAs(t, app.Err(), &we, "%q", tt.name)
		assert.Equal(t, tt.name, we.Service)
		assert.Contains(t, we.Error(), tt.want)
		assert.True(t, strings.HasSuffix(we.File, "edge_test.go"), "the constructor's file, not %q", we.File)
		assert.Contains(t, we.Constructor, "fxmodule_test.TestEdgeInvalidNamesAreWiringErrors")
	}
}

// edgeGen is a generic service.
type edgeGen[T any] struct {
	sprag.Service
	v T //nolint:unused // gives the generic type a field of its parameter, as a real service has
}

func newEdgeGen[T any]() *edgeGen[T] { return &edgeGen[T]{} }

func newEdgeGenFail[T any]() (*edgeGen[T], error) { return nil, errors.New("no generic") }

func TestEdgeGenericConstructors(t *testing.T) {
	t.Parallel()
	var ints *edgeGen[int]
	app := fxmodule.App(fx.Supply(zap.NewNop()),
		fxmodule.Service("ints", newEdgeGen[int]),
		fxmodule.Service("strings", newEdgeGen[string]),
		fx.Populate(fx.Annotate(&ints, fx.ParamTags(`name:"ints"`))),
	)
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(context.Background()))
	assert.Equal(t, sprag.Running, ints.State())
	require.NoError(t, app.Stop(context.Background()))

	app = fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.Service("ints", newEdgeGenFail[int]))
	var we *fxmodule.WiringError
	require.ErrorAs(t, app.Err(), &we)
	assert.Equal(t, "fxmodule_test.newEdgeGenFail[...]", we.Constructor)
	assert.True(t, strings.HasSuffix(we.File, "edge_test.go"))
	assert.Equal(t, "no generic", we.Err.Error())
}

// edgeShutter shuts the app down from its OnStart.
type edgeShutter struct {
	sprag.Service
	j  *journal
	sd fx.Shutdowner
}

func (s *edgeShutter) OnStart(context.Context) error {
	s.j.add("start shutter")
	return s.sd.Shutdown(fx.ExitCode(4))
}

func (s *edgeShutter) OnStop(context.Context) error {
	s.j.add("stop shutter")
	return nil
}

// A constructor may take fx.Lifecycle and fx.Shutdowner: a hook it
// appends comes before its service's, and a shutdown asked for while the
// app starts is what Wait then returns.
func TestEdgeConstructorTakesLifecycleAndShutdowner(t *testing.T) {
	t.Parallel()
	j := &journal{}
	app := fxmodule.App(fx.Supply(zap.NewNop()),
		fxmodule.Service("shutter", func(lc fx.Lifecycle, sd fx.Shutdowner) *edgeShutter {
			lc.Append(fx.Hook{
				OnStart: func(context.Context) error { j.add("start own hook"); return nil },
				OnStop:  func(context.Context) error { j.add("stop own hook"); return nil },
			})
			return &edgeShutter{j: j, sd: sd}
		}),
	)
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(context.Background()))
	select {
	case sig := <-app.Wait():
		assert.Equal(t, 4, sig.ExitCode)
	case <-time.After(10 * time.Second):
		t.Fatal("the shutdown asked for during the start was lost")
	}
	require.NoError(t, app.Stop(context.Background()))
	assert.Equal(t, []string{"start own hook", "start shutter", "stop shutter", "stop own hook"}, j.get())
}

type edgeCfg struct{ v string }

type edgeCfgUser struct {
	sprag.Service
	cfg edgeCfg
}

// A service provided inside an fx.Module, with a dependency private to
// it, is checked, constructed and run like any other.
func TestEdgeServiceInsideAModuleWithAPrivateDependency(t *testing.T) {
	t.Parallel()
	var registry *sprag.Registry
	var svc *edgeCfgUser
	app := fxmodule.App(fx.Supply(zap.NewNop()),
		fx.Module("billing",
			fx.Provide(fx.Private, func() edgeCfg { return edgeCfg{v: "eu"} }),
			fxmodule.Service("billing", func(c edgeCfg) *edgeCfgUser { svc = &edgeCfgUser{cfg: c}; return svc }),
		),
		fx.Populate(&registry),
	)
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(context.Background()))
	assert.Equal(t, []string{"billing"}, registry.Names())
	assert.Equal(t, sprag.Running, svc.State())
	assert.Equal(t, "eu", svc.cfg.v)
	require.NoError(t, app.Stop(context.Background()))
	assert.Equal(t, sprag.Stopped, svc.State())
}

type edgeUserIn struct {
	fx.In
	Dep *edgeBare `name:"dep"`
}

type edgeOptionalIn struct {
	fx.In
	Dep *edgeBare `name:"missing" optional:"true"`
}

// A service value supplied with fx.Supply is never started: taking it by
// name or by type is a wiring mistake.
func TestEdgeSuppliedServiceValuesAreWiringErrors(t *testing.T) {
	t.Parallel()
	app := fxmodule.App(fx.Supply(zap.NewNop()),
		fx.Supply(fx.Annotated{Name: "dep", Target: &edgeBare{}}),
		fxmodule.Service("user", func(p edgeUserIn) *edgeUser { return &edgeUser{dep: p.Dep} }),
	)
	var we *fxmodule.WiringError
	require.ErrorAs(t, app.Err(), &we)
	assert.Equal(t, "user", we.Service)
	assert.Contains(t, we.Error(), `no service is named "dep"`)
	assert.Contains(t, we.Error(), "a service provided otherwise is never started")

	app = fxmodule.App(fx.Supply(zap.NewNop()),
		fx.Supply(&edgeBare{}),
		fxmodule.Service("user", func(d *edgeBare) *edgeUser { return &edgeUser{dep: d} }),
	)
	require.ErrorAs(t, app.Err(), &we)
	assert.Contains(t, we.Error(), "no service is a *fxmodule_test.edgeBare")
}

func TestEdgeAnOptionalNameThatNoServiceHasIsNil(t *testing.T) {
	t.Parallel()
	var user *edgeUser
	app := fxmodule.App(fx.Supply(zap.NewNop()),
		fxmodule.Service("user", func(p edgeOptionalIn) *edgeUser { user = &edgeUser{dep: p.Dep}; return user }),
	)
	require.NoError(t, app.Err())
	require.NoError(t, app.Start(context.Background()))
	assert.Nil(t, user.dep)
	require.NoError(t, app.Stop(context.Background()))
}

// Listeners of AppStarted and AppStopping that panic fail neither the
// start nor the stop: the bus logs the panic, the hook a warning.
func TestEdgeAppEventListenersThatPanic(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	var ready *fxmodule.Ready
	var svc *edgeBare
	app := fxmodule.App(fx.Supply(zap.New(core)),
		fxmodule.Service("db", func() *edgeBare { svc = &edgeBare{}; return svc }),
		fx.Populate(&ready),
		fx.Invoke(func(bus *eventbus.Bus) error {
			_, err := fxmodule.AppStarted.Listen(bus, func(context.Context, fxmodule.AppEvent) error { panic("started") })
			if err != nil {
				return err
			}
			_, err = fxmodule.AppStopping.Listen(bus, func(context.Context, fxmodule.AppEvent) error { panic("stopping") })
			return err
		}),
	)
	require.NoError(t, app.Start(context.Background()))
	select {
	case <-ready.Done():
	default:
		t.Fatal("Done is not closed after AppStarted's listener panicked")
	}
	require.NoError(t, app.Stop(context.Background()))
	assert.Equal(t, sprag.Stopped, svc.State())
	assert.Equal(t, 2, logs.FilterMessage("listener panicked").Len())
	warned := logs.FilterMessage("listener of an app event failed").All()
	require.Len(t, warned, 2)
	assert.Equal(t, "sprag:app:started", warned[0].ContextMap()["topic"])
	assert.Equal(t, "sprag:app:stopping", warned[1].ContextMap()["topic"])
}

// edgeStopGiver's task fails from the moment its OnStop begins, until its
// restart policy gives up while the app stops.
type edgeStopGiver struct {
	sprag.Service
	stopping chan struct{}
	gaveUp   chan struct{}
}

func (g *edgeStopGiver) OnStart(context.Context) error {
	_, err := g.Spawn(func(context.Context) error {
		<-g.stopping
		return errors.New("upstream gone")
	}, sprag.Label("pull"), sprag.Restart(sprag.RestartPolicy{MaxRestarts: 1, Backoff: time.Millisecond}))
	return err
}

func (g *edgeStopGiver) OnStop(context.Context) error {
	close(g.stopping)
	<-g.gaveUp
	return nil
}

func TestEdgeShutdownOnTaskGiveUpWhileTheAppStops(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.DebugLevel)
		g := &edgeStopGiver{stopping: make(chan struct{}), gaveUp: make(chan struct{})}
		app := fx.New(fxmodule.Module, fx.Supply(zap.New(core)), fx.NopLogger,
			fxmodule.ShutdownOnTaskGiveUp(3),
			fxmodule.Service("syncer", func() *edgeStopGiver { return g }),
			fx.Invoke(func(bus *eventbus.Bus) error {
				_, err := sprag.TaskGaveUp.Listen(bus, func(context.Context, sprag.TaskFailure) error {
					close(g.gaveUp)
					return nil
				})
				return err
			}),
		)
		require.NoError(t, app.Start(context.Background()))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		begin := time.Now()
		require.NoError(t, app.Stop(ctx), "a shutdown asked for while the app stops fails nothing")
		assert.Less(t, time.Since(begin), time.Second)
		assert.Equal(t, sprag.Stopped, g.State())
		assert.Equal(t, 1, logs.FilterMessage("a task gave up: shutting the app down").Len())
	})
}

func TestEdgeStopBeforeStartAndStartAfterStop(t *testing.T) {
	t.Parallel()
	j := &journal{}
	app := fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.Service("db", func() *node { return &node{j: j} }))
	require.NoError(t, app.Stop(context.Background()), "a stop before the start stops nothing")
	assert.Empty(t, j.get())
	require.NoError(t, app.Start(context.Background()))
	require.NoError(t, app.Stop(context.Background()))
	err := app.Start(context.Background())
	require.ErrorIs(t, err, sprag.ErrStopped, "a stopped service does not start again")
	assert.Equal(t, `start service "db": sprag: service stopped`, err.Error())
	require.NoError(t, app.Stop(context.Background()))
	assert.Equal(t, []string{"start db", "stop db"}, j.get())
}

// A service whose OnStart stops it fails its start (its OnStart returned
// nil, so its OnStop runs); fx rolls back the services started before
// it, in reverse.
func TestEdgeOnStartThatStopsItsOwnService(t *testing.T) {
	t.Parallel()
	j := &journal{}
	app := fxmodule.App(fx.Supply(zap.NewNop()),
		fxmodule.Service("first", func() *node { return &node{j: j} }),
		fxmodule.Service("second", func(afterIn) *node { return &node{j: j} }),
		fxmodule.Service("quitter", func(afterIn) *node {
			return &node{j: j, onStart: func(ctx context.Context, n *node) error {
				return n.Stop(ctx)
			}}
		}),
	)
	err := app.Start(context.Background())
	require.ErrorIs(t, err, sprag.ErrStopped)
	assert.Contains(t, err.Error(), `start service "quitter"`)
	assert.Equal(t, []string{"start first", "start second", "start quitter", "stop quitter", "stop second", "stop first"}, j.get())
}

// edgePanicStop panics in its OnStop.
type edgePanicStop struct {
	sprag.Service
	j *journal
}

func (p *edgePanicStop) OnStop(context.Context) error {
	p.j.add("stop " + p.Name())
	panic("stop boom")
}

// An OnStop that panics fails the stop, naming the service, and fx stops
// the other services all the same, in reverse order.
func TestEdgeOnStopThatPanics(t *testing.T) {
	t.Parallel()
	j := &journal{}
	var panicky *edgePanicStop
	app := fxmodule.App(fx.Supply(zap.NewNop()),
		fxmodule.Service("first", func() *node { return &node{j: j} }),
		fxmodule.Service("panicky", func(afterIn) *edgePanicStop { panicky = &edgePanicStop{j: j}; return panicky }),
		fxmodule.Service("last", func(afterIn) *node { return &node{j: j} }),
	)
	require.NoError(t, app.Start(context.Background()))
	err := app.Stop(context.Background())
	var pe *sprag.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, err.Error(), `stop service "panicky"`)
	assert.Equal(t, []string{"start first", "start last", "stop last", "stop panicky", "stop first"}, j.get())
	<-panicky.Done()
	assert.Equal(t, sprag.Stopped, panicky.State())
}

// A constructor that returns a service and an error fails with the error;
// the service is not registered, nor started.
func TestEdgeConstructorReturnsAServiceAndAnError(t *testing.T) {
	t.Parallel()
	var registry *sprag.Registry
	svc := &edgeBare{}
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger, fx.Populate(&registry),
		fxmodule.Service("half", func() (*edgeBare, error) { return svc, errors.New("half built") }))
	var we *fxmodule.WiringError
	require.ErrorAs(t, app.Err(), &we)
	assert.Equal(t, "half built", we.Err.Error())
	assert.Equal(t, sprag.Created, svc.State())
	assert.Empty(t, svc.Name(), "not bound")
}
