package eventbus_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sprag-go/sprag/eventbus"
)

func ExampleBus_Listen() {
	bus := eventbus.New()
	sub, err := bus.Listen("order:completed", func(ctx context.Context, payload any) error {
		fmt.Println("order completed:", payload)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	_ = bus.Emit(context.Background(), "order:completed", 42)
	sub.Unsubscribe()
	_ = bus.Emit(context.Background(), "order:completed", 43) // nobody listens now
	// Output:
	// order completed: 42
}

func ExampleBus_Emit() {
	bus := eventbus.New(eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.ListenerError) {
		fmt.Println("reported:", err.Listener, err.Err)
	}))
	_, _ = bus.Listen("job:done", func(context.Context, any) error {
		return errors.New("disk full")
	}, eventbus.WithName("archiver"))
	_, _ = bus.Listen("job:done", func(_ context.Context, payload any) error {
		fmt.Println("notified:", payload)
		return nil
	})

	err := bus.Emit(context.Background(), "job:done", "job-7")
	fmt.Println("emit failed:", err != nil)
	// Output:
	// reported: archiver disk full
	// notified: job-7
	// emit failed: true
}

// Order is the payload of the typed topic below.
type Order struct {
	ID    int
	Total float64
}

// OrderCompleted is declared once, where producers and consumers can both
// import it.
var OrderCompleted = eventbus.NewTopic[Order]("order:completed")

func Example_typedTopics() {
	bus := eventbus.New()
	_, _ = OrderCompleted.Listen(bus, func(_ context.Context, o Order) error {
		fmt.Printf("order %d: %.2f\n", o.ID, o.Total) // o is an Order: no type assertion
		return nil
	})

	_ = OrderCompleted.Emit(context.Background(), bus, Order{ID: 7, Total: 19.90})

	// The string API reaches typed listeners too, and a wrong payload is an
	// error, not a panic.
	err := bus.Emit(context.Background(), "order:completed", "seven")
	fmt.Println(errors.Is(err, eventbus.ErrPayloadType))
	// Output:
	// order 7: 19.90
	// true
}

func Example_patterns() {
	bus := eventbus.New()
	_, _ = bus.Listen("order:*", func(_ context.Context, payload any) error {
		fmt.Println("order event:", payload)
		return nil
	})
	_, _ = bus.Listen("*", func(_ context.Context, payload any) error {
		fmt.Println("audit:", payload)
		return nil
	})

	_ = bus.Emit(context.Background(), "order:completed", "A")
	_ = bus.Emit(context.Background(), "user:created", "B")
	fmt.Println(bus.ListenerCount("order:shipped"), bus.Topics())
	// Output:
	// order event: A
	// audit: A
	// audit: B
	// 2 [* order:*]
}

func ExampleOnce() {
	bus := eventbus.New()
	_, _ = bus.Listen("app:ready", func(context.Context, any) error {
		fmt.Println("ready, once")
		return nil
	}, eventbus.Once())
	_ = bus.Emit(context.Background(), "app:ready", nil)
	_ = bus.Emit(context.Background(), "app:ready", nil)
	fmt.Println(bus.HasListeners("app:ready"))
	// Output:
	// ready, once
	// false
}

func ExampleOnRemoved() {
	bus := eventbus.New()
	// A connection keeps the subscriptions it owns, and forgets each one
	// the moment it is removed, whatever removed it.
	owned := map[string]*eventbus.Subscription{}
	for _, topic := range []string{"order:7:updated", "order:8:updated", "order:9:updated"} {
		sub, _ := bus.Listen(topic, func(context.Context, any) error { return nil },
			eventbus.OnRemoved(func() {
				delete(owned, topic)
				fmt.Println("removed", topic)
			}))
		owned[topic] = sub
	}

	owned["order:7:updated"].Unsubscribe()
	bus.Clear("order:8:updated")
	bus.ClearAll()
	fmt.Println(len(owned), bus.Len())
	// Output:
	// removed order:7:updated
	// removed order:8:updated
	// removed order:9:updated
	// 0 0
}

// printObserver prints what it observes, where a real Observer records
// spans and metrics. sub.Topic() is the subscribed topic or pattern: a
// bounded set of names, fit for a metric label.
type printObserver struct{}

func (printObserver) EmitStart(ctx context.Context, topic string, listeners int) context.Context {
	fmt.Printf("emit %s to %d listeners\n", topic, listeners)
	return ctx // a tracing Observer returns the context of the emit's span
}

func (printObserver) EmitEnd(_ context.Context, topic string, err error) {
	fmt.Printf("emit %s done, failed: %v\n", topic, err != nil)
}

func (printObserver) ListenerStart(ctx context.Context, _ string, sub *eventbus.Subscription) context.Context {
	fmt.Printf("  %s (%s)\n", sub.Name(), sub.Topic())
	return ctx // the listener receives this context
}

func (printObserver) ListenerEnd(_ context.Context, _ string, sub *eventbus.Subscription, err error) {
	if err != nil {
		fmt.Printf("  %s failed: %v\n", sub.Name(), err)
	}
}

func ExampleWithObserver() {
	bus := eventbus.New(eventbus.WithObserver(printObserver{}))
	_, _ = bus.Listen("order:*", func(context.Context, any) error { return nil }, eventbus.WithName("audit"))
	_, _ = bus.Listen("order:completed", func(context.Context, any) error {
		return errors.New("smtp: connection refused")
	}, eventbus.WithName("mailer"))

	_ = bus.Emit(context.Background(), "order:completed", 7)
	// Output:
	// emit order:completed to 2 listeners
	//   audit (order:*)
	//   mailer (order:completed)
	//   mailer failed: smtp: connection refused
	// emit order:completed done, failed: true
}
