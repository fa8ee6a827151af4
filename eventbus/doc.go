// Package eventbus is a synchronous in-process publish/subscribe bus: the
// event bus of SPECTER/SPRAG's services, made Go-native.
//
// Services talk through it without knowing each other: one emits
// "order:completed", any number of others listen to it.
//
//	bus := eventbus.New()
//	sub, err := bus.Listen("order:completed", func(ctx context.Context, payload any) error {
//		fmt.Println("order", payload)
//		return nil
//	})
//	...
//	err = bus.Emit(ctx, "order:completed", 42)
//	sub.Unsubscribe()
//
// # Delivery
//
// [Bus.Emit] is synchronous: every listener of the topic runs on the
// caller's goroutine, in subscription order, before Emit returns. An emit
// sees the listeners as they were when it began; a listener may listen,
// unsubscribe and emit again (nested emits run to completion inside the
// outer one). Every method of [Bus], [Topic] and [Subscription] is safe for
// concurrent use.
//
// # Failures
//
// A listener that returns an error, panics, or is given a payload of a type
// it does not accept does not stop the others. Each failure becomes a
// *[ListenerError] naming the topic and the listener; it is given to the
// [ErrorHandler] set with [WithErrorHandler] (fxmodule logs it through zap),
// and Emit returns all of them joined. A panic is recovered and reported as
// a *[PanicError] carrying the panic value and the stack. Nothing of the
// sort escapes to the caller as a panic.
//
// Bad input is an error, never a panic: [Bus.Listen] refuses a nil listener
// ([ErrNilListener]) and a malformed topic or pattern ([ErrInvalidTopic]),
// and the error names the topic.
//
// # Typed topics
//
// A [Topic] gives a topic a payload type checked by the compiler:
//
//	var OrderCompleted = eventbus.NewTopic[Order]("order:completed")
//
//	OrderCompleted.Listen(bus, func(ctx context.Context, o Order) error { ... })
//	OrderCompleted.Emit(ctx, bus, Order{ID: 7})
//
// Typed and string listeners of the same name share the topic. A string
// emit whose payload is not an Order reaches the typed listener as an error
// wrapping [ErrPayloadType], reported like any other failure.
//
// # Topics and patterns
//
// A topic is a non-empty string of segments separated by ':', such as
// "order:completed" or "tick"; no segment is empty and none holds '*'.
// A pattern is a name in which some segments are exactly "*":
//
//   - a '*' in the last segment matches one or more segments:
//     "order:*" matches "order:completed" and "order:item:added", not "order";
//   - a '*' anywhere else matches exactly one segment:
//     "order:*:failed" matches "order:7:failed", not "order:failed";
//   - "*" alone matches every topic.
//
// A '*' that shares its segment with other characters ("ord*", "**") and an
// empty segment are malformed. Patterns can be listened to; only topics can
// be emitted. Emits of a topic that has listeners of its own cost the same
// whatever pattern listeners exist elsewhere: each topic keeps the pattern
// listeners that match it merged with its own.
//
// # Cost
//
// Emit reads an immutable snapshot through atomic loads; it takes no lock
// and allocates nothing while the listeners succeed. Changes (Listen,
// Unsubscribe, Clear) copy the affected lists under a mutex. The figures
// are in docs/benchmarks.md.
package eventbus
