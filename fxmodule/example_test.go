package fxmodule_test

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

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
