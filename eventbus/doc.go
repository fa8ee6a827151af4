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
// calls the listeners that were subscribed when it began and are still
// subscribed when it reaches them:
//
//   - a listener added during an emit, by another goroutine or by a
//     listener, is called from the next emit on;
//   - a removal takes effect at once, also for emits under way: once
//     [Subscription.Unsubscribe], [Bus.Clear] or [Bus.ClearAll] has
//     returned, an emit that reaches the listener skips it. Only a call
//     that an emit on another goroutine had already begun may still run.
//
// A listener may listen, unsubscribe and emit again (nested emits run to
// completion inside the outer one). Every method of [Bus], [Topic] and
// [Subscription] is safe for concurrent use. [OnRemoved] tells the owner of
// a subscription when it is gone, whatever removed it.
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
// and the error names the topic. A nil *Bus refuses Listen and has no
// listeners; [Bus.Emit] alone panics on it, as a method of a nil pointer
// does, so that the emit's path spends no check on it.
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
// # Observing
//
// [WithObserver] installs an [Observer], told of every emit and every
// listener call: when they start, how many listeners an emit found, the
// errors, and the contexts passed along. It is how a telemetry library
// (sprag uses OpenTelemetry) records spans and metrics, while this package
// depends on nothing but the standard library. A bus without an observer
// pays one nil check per emit.
//
// # Cost
//
// Emit takes no lock and allocates nothing while the listeners succeed
// (removing a [Once] listener that it calls is a change, made as
// Unsubscribe makes it; refusing a malformed topic allocates the error).
// Listen and Unsubscribe take one mutex and, on a topic, cost the same at
// 100,000 listeners as at 1,000. The structures behind that:
//
//   - Topics are kept in an open-addressing hash table that emits read
//     through atomic loads. Adding or removing a topic writes one slot; the
//     table is rehashed into a new one, published atomically, when it is
//     half full or a sixteenth full, which amortizes to O(1) per change.
//   - Each topic has one listener list: its own listeners and the pattern
//     listeners that match it, merged in subscription order, so that an
//     emit never looks at patterns of other topics. The list is an array
//     of slots that emits read up to the length they loaded when they
//     began. Listen writes the next free slot, then publishes the length;
//     Unsubscribe marks the subscription removed and clears its slot,
//     which emits check (and, in an array a copy replaced, the mark).
//     The array is copied only when it is full or when cleared slots
//     outnumber listeners, into an array with room for as many again,
//     which amortizes to O(1) per change; emits under way keep reading
//     the old array.
//
// What each operation costs, for n listeners of the topic concerned, t
// topics and p pattern listeners on the bus:
//
//	Emit of a topic with listeners of its own   one hash lookup + O(n)
//	Emit of a topic reached by patterns only    O(p)
//	Topic.Emit (typed)                          O(n), no lookup after the first emit on a bus
//	Listen to a topic                           O(1) amortized; O(p) more for a topic's first listener
//	Listen to a pattern                         O(t)
//	Unsubscribe from a topic                    O(1) amortized
//	Unsubscribe from a pattern                  O(t log n)
//	Clear(topic)                                O(n)
//	Clear(pattern)                              O(p) + O(t log n) per listener removed
//	ListenerCount(topic)                        O(1); O(p) for a topic reached by patterns only
//
// Memory, on 64-bit platforms, beside the listener function itself:
//
//   - an idle listener holds its [Subscription] (128 bytes) and a 32-byte
//     slot in its topic's list, which keeps up to twice as many slots as
//     listeners (four after removals): 191 bytes each for 100,000 listeners
//     of one topic, measured by BenchmarkIdleMemory;
//   - a topic holds its entry (112 bytes, with room for its first
//     listener) and 2 to 16 slots of 16 bytes in the table: 91 bytes each
//     beyond its listener, for 100,000 topics of one listener each;
//   - a pattern listener also holds a slot in the list of every topic it
//     matches;
//   - a topic's entry leaves the table with its last listener of its own,
//     except the entry of a typed [Topic] that was emitted on the bus,
//     which stays for the bus's lifetime so that the Topic can cache it.
//
// The figures, with the commands that produced them, are in
// docs/benchmarks.md.
package eventbus
