package docs_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

func Example_eventsEmit() {
	bus := eventbus.New() // the zero value eventbus.Bus{} works too
	ctx := context.Background()
	first, _ := bus.Listen("order:completed", func(ctx context.Context, payload any) error {
		fmt.Println("first:", payload)
		return nil
	})
	_, _ = bus.Listen("order:completed", func(ctx context.Context, payload any) error {
		fmt.Println("second:", payload)
		return nil
	})

	err := bus.Emit(ctx, "order:completed", 42) // both run, in order, before Emit returns
	fmt.Println("emitted:", err)
	fmt.Println(first.Unsubscribe(), first.Unsubscribe()) // the second call is harmless
	_ = bus.Emit(ctx, "order:completed", 43)
	fmt.Println(bus.Emit(ctx, "nobody:listens", 44)) // no listener: nothing to do
	// Output:
	// first: 42
	// second: 42
	// emitted: <nil>
	// true false
	// second: 43
	// <nil>
}

func Example_eventsDuringEmit() {
	bus := eventbus.New()
	ctx := context.Background()
	var later *eventbus.Subscription
	_, _ = bus.Listen("cart:checkout", func(ctx context.Context, payload any) error {
		fmt.Println("checkout", payload)
		if later.Unsubscribe() { // removed before this emit reaches it: skipped
			_, _ = bus.Listen("cart:checkout", func(ctx context.Context, payload any) error {
				fmt.Println("added", payload) // not called by this emit; called by the next
				return nil
			})
		}
		return bus.Emit(ctx, "order:created", payload) // nested: runs to completion here
	})
	later, _ = bus.Listen("cart:checkout", func(ctx context.Context, payload any) error {
		fmt.Println("later", payload)
		return nil
	})
	_, _ = bus.Listen("order:created", func(ctx context.Context, payload any) error {
		fmt.Println("order created", payload)
		return nil
	})

	_ = bus.Emit(ctx, "cart:checkout", 1)
	_ = bus.Emit(ctx, "cart:checkout", 2)
	// Output:
	// checkout 1
	// order created 1
	// checkout 2
	// order created 2
	// added 2
}

// Order is the payload of the typed topic OrderCompleted.
type Order struct {
	ID         int
	TotalCents int64
}

// OrderCompleted is declared once, where producers and consumers can both
// import it.
var OrderCompleted = eventbus.NewTopic[Order]("order:completed")

func Example_eventsTyped() {
	bus := eventbus.New()
	ctx := context.Background()
	_, _ = OrderCompleted.Listen(bus, func(ctx context.Context, o Order) error {
		fmt.Println("typed:", o.ID, o.TotalCents) // o is an Order: no type assertion
		return nil
	})
	_, _ = bus.Listen("order:completed", func(ctx context.Context, payload any) error {
		fmt.Printf("string: %T\n", payload) // the same topic, through the string API
		return nil
	})

	_ = OrderCompleted.Emit(ctx, bus, Order{ID: 7, TotalCents: 1999}) // checked by the compiler
	err := bus.Emit(ctx, "order:completed", "seven")                  // not checked: reported
	fmt.Println(errors.Is(err, eventbus.ErrPayloadType))
	fmt.Println(OrderCompleted)
	// Output:
	// typed: 7 1999
	// string: docs_test.Order
	// string: string
	// true
	// order:completed (docs_test.Order)
}

func Example_eventsPatterns() {
	tests := []struct{ pattern, topic string }{
		{"order:*", "order:completed"},
		{"order:*", "order:item:added"},
		{"order:*", "order"},
		{"order:*:failed", "order:7:failed"},
		{"order:*:failed", "order:failed"},
		{"*:completed", "order:completed"},
		{"*:completed", "order:7:completed"},
		{"*", "order:completed:late"},
	}
	for _, tt := range tests {
		bus := eventbus.New()
		matched := false
		_, _ = bus.Listen(tt.pattern, func(context.Context, any) error {
			matched = true
			return nil
		})
		_ = bus.Emit(context.Background(), tt.topic, nil)
		fmt.Printf("%-15s %-21s %v\n", tt.pattern, tt.topic, matched)
	}
	for _, bad := range []string{"ord*", "order:**", "order::*", "order:", ""} {
		_, err := eventbus.New().Listen(bad, func(context.Context, any) error { return nil })
		fmt.Println(err)
	}
	fmt.Println(eventbus.New().Emit(context.Background(), "order:*", nil))
	// Output:
	// order:*         order:completed       true
	// order:*         order:item:added      true
	// order:*         order                 false
	// order:*:failed  order:7:failed        true
	// order:*:failed  order:failed          false
	// *:completed     order:completed       true
	// *:completed     order:7:completed     false
	// *               order:completed:late  true
	// eventbus: invalid topic: pattern "ord*": '*' must be a whole segment, found "ord*"
	// eventbus: invalid topic: pattern "order:**": '*' must be a whole segment, found "**"
	// eventbus: invalid topic: pattern "order::*" has an empty segment
	// eventbus: invalid topic: topic "order:" has an empty segment
	// eventbus: invalid topic: topic "" is empty
	// eventbus: invalid topic: topic "order:*" contains '*': patterns can be listened to, not emitted
}

func Example_eventsOnceAndListenEvents() {
	bus := eventbus.New()
	ctx := context.Background()
	_, _ = bus.ListenEvents("*", func(ctx context.Context, e eventbus.Event) error {
		fmt.Println("audit:", e.Topic, e.Payload) // a pattern listener learns the topic
		return nil
	})
	_, _ = bus.Listen("app:ready", func(context.Context, any) error {
		fmt.Println("ready, once")
		return nil
	}, eventbus.Once())

	_ = bus.Emit(ctx, "app:ready", nil)
	_ = bus.Emit(ctx, "app:ready", nil)
	_ = bus.Emit(ctx, "user:created", "ada")
	// Output:
	// audit: app:ready <nil>
	// ready, once
	// audit: app:ready <nil>
	// audit: user:created ada
}

func Example_eventsFailures() {
	bus := eventbus.New(eventbus.WithErrorHandler(func(ctx context.Context, err *eventbus.ListenerError) {
		fmt.Println("handler:", err.Topic, err.Listener, err.ID, err.Err) // zap in fxmodule
	}))
	_, _ = bus.Listen("invoice:due", func(context.Context, any) error {
		return errors.New("smtp: connection refused")
	}, eventbus.WithName("mailer"))
	_, _ = bus.Listen("invoice:due", func(context.Context, any) error {
		panic("nil ledger")
	}, eventbus.WithName("ledger"))
	_, _ = bus.Listen("invoice:due", func(_ context.Context, payload any) error {
		fmt.Println("reminder for", payload) // still runs
		return nil
	}, eventbus.WithName("reminder"))

	err := bus.Emit(context.Background(), "invoice:due", "INV-7")
	var pe *eventbus.PanicError
	fmt.Println(errors.As(err, &pe), pe.Value, len(pe.Stack) > 0)
	fmt.Println(err)
	// Output:
	// handler: invoice:due mailer 1 smtp: connection refused
	// handler: invoice:due ledger 2 panic: nil ledger
	// reminder for INV-7
	// true nil ledger true
	// eventbus: topic "invoice:due": listener mailer (#1): smtp: connection refused
	// eventbus: topic "invoice:due": listener ledger (#2): panic: nil ledger
}

func Example_eventsIntrospection() {
	bus := eventbus.New()
	noop := func(context.Context, any) error { return nil }
	sub, _ := bus.Listen("order:completed", noop, eventbus.WithName("billing"))
	_, _ = bus.Listen("order:completed", noop)
	_, _ = bus.Listen("order:*", noop)

	fmt.Println(bus.Len(), bus.Topics())
	fmt.Println(bus.ListenerCount("order:completed"), bus.ListenerCount("order:shipped"), bus.ListenerCount("order:*"))
	fmt.Println(bus.HasListeners("order:shipped"), bus.HasListeners("user:created"))
	fmt.Println(sub.Topic(), sub.Name(), sub.ID(), sub.Active())
	fmt.Println(bus.Clear("order:completed"), sub.Active(), bus.ListenerCount("order:completed"))
	fmt.Println(bus.ClearAll(), bus.Len())
	// Output:
	// 3 [order:* order:completed]
	// 3 1 1
	// true false
	// order:completed billing 1 true
	// 2 false 1
	// 1 0
}

// Revenue adds up the orders it hears of, through the typed topic.
type Revenue struct {
	sprag.Service
	cents atomic.Int64
}

func (r *Revenue) OnStart(ctx context.Context) error {
	_, err := sprag.ListenTopic(r, OrderCompleted, func(ctx context.Context, o Order) error {
		r.cents.Add(o.TotalCents)
		return nil
	})
	return err
}

// Shop announces completed orders.
type Shop struct{ sprag.Service }

// Complete announces that o is completed.
func (s *Shop) Complete(ctx context.Context, o Order) error {
	return sprag.EmitTopic(ctx, s, OrderCompleted, o)
}

func Example_servicesEvents() {
	ctx := context.Background()
	rt := sprag.NewRuntime(nil) // one runtime, one bus: the services hear each other
	revenue, metrics, shop := &Revenue{}, &MetricsService{}, &Shop{}
	_ = sprag.Bind(revenue, "revenue", rt)
	_ = sprag.Bind(metrics, "metrics", rt) // listens to "order:completed" with the string API
	_ = sprag.Bind(shop, "shop", rt)
	for _, svc := range []sprag.Interface{revenue, metrics, shop} {
		_ = svc.Start(ctx)
	}

	_ = shop.Complete(ctx, Order{ID: 1, TotalCents: 1500})
	fmt.Println(revenue.cents.Load(), metrics.Orders())

	_ = revenue.Stop(ctx) // its listener is removed
	_ = shop.Complete(ctx, Order{ID: 2, TotalCents: 500})
	fmt.Println(revenue.cents.Load(), metrics.Orders())

	_ = shop.Stop(ctx)
	fmt.Println(errors.Is(shop.Complete(ctx, Order{ID: 3}), sprag.ErrNotRunning))
	_ = metrics.Stop(ctx)
	// Output:
	// 1500 1
	// 1500 2
	// true
}
