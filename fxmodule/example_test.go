package fxmodule_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// Store is a service other services depend on.
type Store struct{ sprag.Service }

func NewStore() *Store { return &Store{} }

func (s *Store) OnStart(context.Context) error { fmt.Println("start", s.Name()); return nil }
func (s *Store) OnStop(context.Context) error  { fmt.Println("stop", s.Name()); return nil }

// Orders takes the store by its name.
type Orders struct {
	sprag.Service
	store *Store
}

type OrdersParams struct {
	fx.In
	Store *Store `name:"store"`
}

func NewOrders(p OrdersParams) *Orders { return &Orders{store: p.Store} }

func (o *Orders) OnStart(context.Context) error {
	fmt.Println("start", o.Name(), "with", o.store.Name())
	return nil
}

func (o *Orders) OnStop(context.Context) error { fmt.Println("stop", o.Name()); return nil }

func Example() {
	app := fx.New(
		fxmodule.Module,
		fx.Supply(zap.NewNop()), // the app's logger; without one, a production logger
		fx.NopLogger,
		fxmodule.Service("orders", NewOrders), // declared first, started second
		fxmodule.Service("store", NewStore),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if err := app.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// start store
	// start orders with store
	// stop orders
	// stop store
}

func ExampleProviders() {
	var registry *sprag.Registry
	app := fx.New(
		fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Providers(map[string]any{"orders": NewOrders, "store": NewStore}),
		fx.Populate(&registry),
	)
	_ = app.Start(context.Background())
	fmt.Println(registry.Names(), registry.Health(context.Background()).Healthy)
	_ = app.Stop(context.Background())
	// Output:
	// start store
	// start orders with store
	// [store orders] true
	// stop orders
	// stop store
}

func ExampleReady() {
	var ready *fxmodule.Ready
	var bus *eventbus.Bus
	app := fx.New(
		fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("store", NewStore),
		fx.Populate(&ready, &bus),
	)
	_, _ = fxmodule.AppStarted.Listen(bus, func(_ context.Context, e fxmodule.AppEvent) error {
		fmt.Println("app started with", e.Services)
		return nil
	})
	_ = app.Start(context.Background())
	<-ready.Done() // closed once every service has started
	fmt.Println("ready")
	_ = app.Stop(context.Background())
	// Output:
	// start store
	// app started with [store]
	// ready
	// stop store
}

// Invoicing takes the store by its type: one service is a *Store.
type Invoicing struct {
	sprag.Service
	store *Store
}

func NewInvoicing(store *Store) *Invoicing { return &Invoicing{store: store} }

func (i *Invoicing) OnStart(context.Context) error {
	fmt.Println("start", i.Name(), "with", i.store.Name(), i.store.State())
	return nil
}

func ExampleService() {
	app := fx.New(
		fxmodule.Module,
		fx.Supply(zap.NewNop()),
		fx.NopLogger,
		fxmodule.Service("invoicing", NewInvoicing), // takes the *Store: starts after it
		fxmodule.Service("store", NewStore),
	)
	if err := app.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	_ = app.Stop(context.Background())
	// Output:
	// start store
	// start invoicing with store running
	// stop store
}

func ExampleParamTags() {
	app := fx.New(
		fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("store", NewStore),
		fxmodule.Service("archive", NewStore),
		// Two services are a *Store: NewInvoicing's parameter names one.
		fxmodule.Service("invoicing", NewInvoicing, fxmodule.ParamTags(`name:"archive"`)),
	)
	if err := app.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	_ = app.Stop(context.Background())
	// Output:
	// start store
	// start archive
	// start invoicing with archive running
	// stop archive
	// stop store
}

// StatusParams is what NewStatusController takes: a service by its name.
type StatusParams struct {
	fx.In
	Store *Store `name:"store"`
}

// StatusController serves the store's state.
type StatusController struct{ store *Store }

func NewStatusController(p StatusParams) *StatusController { return &StatusController{store: p.Store} }

func (c *StatusController) Route() string { return "GET /status" }

func (c *StatusController) Load(context.Context, *controllers.Request) (any, error) {
	return map[string]string{"store": c.store.State().String()}, nil
}

func ExampleControllers() {
	var server *controllers.Server
	app := fxmodule.App(
		fx.Supply(zap.NewNop()),
		fxmodule.Service("store", NewStore),
		fxmodule.Controllers(NewStatusController),
		fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0")),
		fx.Populate(fx.Annotate(&server, fx.ParamTags(`name:"http"`))), // the server is the service "http"
	)
	if err := app.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	rec := httptest.NewRecorder()
	server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
	fmt.Println(rec.Code, rec.Body)
	_ = app.Stop(context.Background())
	// Output:
	// start store
	// 200 {"store":"running"}
	// stop store
}

func ExampleWiringError() {
	app := fxmodule.App(
		fx.Supply(zap.NewNop()),
		fxmodule.Service("store", NewStore),
		fxmodule.Service("orders", NewOrders),
		fxmodule.Service("invoicing", func(*Orders) Invoicing { return Invoicing{} }), // a struct, not a pointer
	)
	var wiringErr *fxmodule.WiringError
	if errors.As(app.Err(), &wiringErr) {
		fmt.Println(wiringErr.Service)
		fmt.Println(wiringErr.Err)
	}
	// Output:
	// invoicing
	// returns fxmodule_test.Invoicing, a struct value: return *fxmodule_test.Invoicing, a pointer, so that the service is not copied
}
