package docs_test

// Tests of the promises of docs/events.md, docs/fx.md and
// docs/wiring-errors.md that no Example and no other test of this package
// shows. Each test names the guide and the promise it checks.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// ---------------------------------------------------------------------
// docs/events.md

func gbNoop(context.Context, any) error { return nil }

// events.md, "Listen and Emit": the zero value is a bus; Unsubscribe
// reports whether this call removed the listener, false after Clear and
// after a Once listener ran; a nil *Subscription is safe.
func TestGuidesB_EventsZeroValueAndUnsubscribe(t *testing.T) {
	t.Parallel()
	var bus eventbus.Bus
	ctx := context.Background()
	var got []any
	sub, err := bus.Listen("order:completed", func(_ context.Context, p any) error {
		got = append(got, p)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, "order:completed", 1))
	assert.Equal(t, []any{1}, got)
	assert.True(t, sub.Unsubscribe())
	assert.False(t, sub.Unsubscribe(), "a second call")
	require.NoError(t, bus.Emit(ctx, "order:completed", 2))
	assert.Equal(t, []any{1}, got)

	cleared, err := bus.Listen("a", gbNoop)
	require.NoError(t, err)
	assert.Equal(t, 1, bus.Clear("a"))
	assert.False(t, cleared.Unsubscribe(), "a call after Clear")

	once, err := bus.Listen("b", gbNoop, eventbus.Once())
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, "b", nil))
	assert.False(t, once.Active())
	assert.False(t, once.Unsubscribe(), "a call after a Once listener ran")

	var none *eventbus.Subscription
	assert.NotPanics(t, func() {
		assert.False(t, none.Unsubscribe())
		assert.False(t, none.Active())
		assert.Empty(t, none.Topic())
		assert.Empty(t, none.Name())
		assert.Zero(t, none.ID())
	})

	// Emit does not look at ctx: it hands it to the listeners.
	type key struct{}
	canceled, cancel := context.WithCancel(context.WithValue(ctx, key{}, "v"))
	cancel()
	var seen any
	_, err = bus.Listen("c", func(ctx context.Context, _ any) error {
		seen = ctx.Value(key{})
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(canceled, "c", nil), "an ended context is handed on, not refused")
	assert.Equal(t, "v", seen)
}

// events.md, "Ordering and synchrony": listeners run on the emitting
// goroutine; a listener added from another goroutine while an emit runs
// is called from the next emit on; a nested emit's failures come back to
// the listener as Emit's error.
func TestGuidesB_EventsOrderingAndNesting(t *testing.T) {
	t.Parallel()
	bus := eventbus.New()
	ctx := context.Background()
	var order []string
	added := make(chan struct{})
	_, err := bus.Listen("x", func(context.Context, any) error {
		order = append(order, "first")
		go func() { // another goroutine listens while this emit runs
			defer close(added)
			_, _ = bus.Listen("x", func(context.Context, any) error {
				order = append(order, "added")
				return nil
			})
		}()
		<-added
		return nil
	}, eventbus.Once())
	require.NoError(t, err)
	_, err = bus.Listen("x", func(context.Context, any) error {
		order = append(order, "second")
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, "x", nil))
	assert.Equal(t, []string{"first", "second"}, order, "added meanwhile: not called by this emit")
	require.NoError(t, bus.Emit(ctx, "x", nil))
	assert.Equal(t, []string{"first", "second", "second", "added"}, order, "called from the next emit on")

	inner := errors.New("inner failed")
	_, err = bus.Listen("inner", func(context.Context, any) error { return inner })
	require.NoError(t, err)
	var nested error
	_, err = bus.Listen("outer", func(ctx context.Context, _ any) error {
		nested = bus.Emit(ctx, "inner", nil)
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, "outer", nil), "the listener handled the nested failure")
	require.ErrorIs(t, nested, inner, "the nested emit's failures come back to the listener")
}

type gbPayload struct{ N int }

// events.md, "Typed topics": typed and string listeners share the topic;
// a wrong payload is reported wrapping ErrPayloadType and the typed
// listener is not called; nil reaches a typed listener of a pointer type
// as the zero T, and is of the wrong type for a struct; a malformed name
// is reported by every Listen and Emit; a nil bus is an error; a pattern
// can be listened to but not emitted.
func TestGuidesB_EventsTypedTopics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bus := eventbus.New()
	topic := eventbus.NewTopic[gbPayload]("gb:typed")
	assert.Equal(t, "gb:typed", topic.Name())
	assert.Equal(t, "gb:typed (docs_test.gbPayload)", topic.String())

	var calls []string
	_, err := topic.Listen(bus, func(_ context.Context, p gbPayload) error {
		calls = append(calls, fmt.Sprint("typed ", p.N))
		return nil
	})
	require.NoError(t, err)
	_, err = bus.Listen("gb:typed", func(_ context.Context, p any) error {
		calls = append(calls, fmt.Sprintf("string %T", p))
		return nil
	})
	require.NoError(t, err)

	require.NoError(t, topic.Emit(ctx, bus, gbPayload{N: 1}))
	require.NoError(t, bus.Emit(ctx, "gb:typed", gbPayload{N: 2}), "a string emit of a T reaches the typed listener")
	err = bus.Emit(ctx, "gb:typed", "two")
	require.ErrorIs(t, err, eventbus.ErrPayloadType)
	var le *eventbus.ListenerError
	require.ErrorAs(t, err, &le, "reported like any listener failure")
	err = bus.Emit(ctx, "gb:typed", nil)
	require.ErrorIs(t, err, eventbus.ErrPayloadType, "nil is of the wrong type for a struct T")
	assert.Equal(t, []string{
		"typed 1", "string docs_test.gbPayload",
		"typed 2", "string docs_test.gbPayload",
		"string string", // the typed listener was not called
		"string <nil>",
	}, calls)

	ptr := eventbus.NewTopic[*gbPayload]("gb:pointer")
	var gotNil bool
	_, err = ptr.Listen(bus, func(_ context.Context, p *gbPayload) error {
		gotNil = p == nil
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, bus.Emit(ctx, "gb:pointer", nil))
	assert.True(t, gotNil, "nil reaches a typed listener of a pointer type as the zero T")

	bad := eventbus.NewTopic[int]("gb::bad")
	_, err = bad.Listen(bus, func(context.Context, int) error { return nil })
	require.ErrorIs(t, err, eventbus.ErrInvalidTopic)
	require.ErrorIs(t, bad.Emit(ctx, bus, 1), eventbus.ErrInvalidTopic)

	_, err = topic.Listen(nil, func(context.Context, gbPayload) error { return nil })
	require.Error(t, err, "a nil bus is an error")
	require.NotPanics(t, func() { err = topic.Emit(ctx, nil, gbPayload{}) })
	require.Error(t, err, "a nil bus is an error")

	pattern := eventbus.NewTopic[gbPayload]("gb:*")
	_, err = pattern.Listen(bus, func(context.Context, gbPayload) error { return nil })
	require.NoError(t, err, "a pattern can be listened to")
	require.ErrorIs(t, pattern.Emit(ctx, bus, gbPayload{}), eventbus.ErrInvalidTopic, "but not emitted")
}

// events.md, "Topics and patterns": bad input is an error naming the
// topic, never a panic; IsPattern does not say whether a name is well
// formed; Listen and ListenEvents on a nil *Bus are errors, Emit panics.
func TestGuidesB_EventsBadInput(t *testing.T) {
	t.Parallel()
	var nilBus *eventbus.Bus
	_, err := nilBus.Listen("order:completed", gbNoop)
	require.ErrorContains(t, err, `"order:completed"`)
	_, err = nilBus.ListenEvents("order:*", func(context.Context, eventbus.Event) error { return nil })
	require.ErrorContains(t, err, `"order:*"`)
	assert.Panics(t, func() { _ = nilBus.Emit(context.Background(), "order:completed", nil) })

	bus := eventbus.New()
	_, err = bus.Listen("order:completed", nil)
	require.ErrorIs(t, err, eventbus.ErrNilListener)
	assert.Contains(t, err.Error(), `"order:completed"`)
	_, err = bus.ListenEvents("order:*", nil)
	require.ErrorIs(t, err, eventbus.ErrNilListener)
	assert.Contains(t, err.Error(), `"order:*"`)
	_, err = bus.ListenEvents("order::x", func(context.Context, eventbus.Event) error { return nil })
	require.ErrorIs(t, err, eventbus.ErrInvalidTopic)
	assert.Contains(t, err.Error(), `"order::x"`)
	for _, topic := range []string{"", "order:", ":order", "order::x", "order:*", "*"} {
		err := bus.Emit(context.Background(), topic, nil)
		require.ErrorIs(t, err, eventbus.ErrInvalidTopic, topic)
		assert.Contains(t, err.Error(), fmt.Sprintf("%q", topic))
	}
	assert.True(t, eventbus.IsPattern("ord*"), "holds a '*', although malformed")
	assert.False(t, eventbus.IsPattern("order:completed"))
}

type gbAudit struct{ n int }

func (a *gbAudit) record(context.Context, any) error {
	a.n++
	return errors.New("audit failed")
}

// events.md, "Once, ListenEvents and names": without WithName, a
// subscription is named after its function, as the runtime reports it
// (a method value ends in "-fm").
func TestGuidesB_EventsDefaultNames(t *testing.T) {
	t.Parallel()
	bus := eventbus.New()
	audit := &gbAudit{}
	sub, err := bus.Listen("gb:audit", audit.record)
	require.NoError(t, err)
	assert.Equal(t, "github.com/sprag-go/sprag/docs_test.(*gbAudit).record-fm", sub.Name())
	err = bus.Emit(context.Background(), "gb:audit", nil)
	var le *eventbus.ListenerError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, sub.Name(), le.Listener, "the name in error reports")

	named, err := bus.Listen("gb:audit", gbNoop, eventbus.WithName("auditor"))
	require.NoError(t, err)
	assert.Equal(t, "auditor", named.Name())
	assert.Greater(t, named.ID(), sub.ID(), "IDs increase in subscription order")

	var events []eventbus.Event
	_, err = bus.ListenEvents("gb:*", func(_ context.Context, e eventbus.Event) error {
		events = append(events, e)
		return nil
	})
	require.NoError(t, err)
	_ = bus.Emit(context.Background(), "gb:audit", 7)
	assert.Equal(t, []eventbus.Event{{Topic: "gb:audit", Payload: 7}}, events)
}

var errGBSentinel = errors.New("sentinel")

// events.md, "Failures": the handler gets each failure on the emitting
// goroutine before the next listener runs; Emit joins them; errors.Is
// sees through a ListenerError and through a PanicError whose value is an
// error; a panic in the handler is dropped.
func TestGuidesB_EventsFailures(t *testing.T) {
	t.Parallel()
	var steps []string
	var handlerGoroutine int
	bus := eventbus.New(eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.ListenerError) {
		steps = append(steps, "handler "+err.Listener)
		handlerGoroutine = gbGoroutineID()
		panic("the handler panics") // recovered and dropped
	}))
	_, err := bus.Listen("gb:fail", func(context.Context, any) error {
		steps = append(steps, "first")
		return fmt.Errorf("wrapped: %w", errGBSentinel)
	}, eventbus.WithName("first"))
	require.NoError(t, err)
	_, err = bus.Listen("gb:fail", func(context.Context, any) error {
		steps = append(steps, "second")
		panic(errGBSentinel)
	}, eventbus.WithName("second"))
	require.NoError(t, err)
	_, err = bus.Listen("gb:fail", func(context.Context, any) error {
		steps = append(steps, "third")
		return nil
	}, eventbus.WithName("third"))
	require.NoError(t, err)

	var emitErr error
	require.NotPanics(t, func() { emitErr = bus.Emit(context.Background(), "gb:fail", nil) })
	assert.Equal(t, []string{"first", "handler first", "second", "handler second", "third"}, steps)
	assert.Equal(t, gbGoroutineID(), handlerGoroutine, "on the emitting goroutine")

	joined, ok := emitErr.(interface{ Unwrap() []error })
	require.True(t, ok, "errors.Join")
	require.Len(t, joined.Unwrap(), 2)
	require.ErrorIs(t, emitErr, errGBSentinel)
	var pe *eventbus.PanicError
	require.ErrorAs(t, emitErr, &pe)
	assert.Equal(t, "panic: sentinel", pe.Error(), "without the stack")
	assert.NotEmpty(t, pe.Stack)
	require.ErrorIs(t, pe, errGBSentinel, "Unwrap returns the value when it is an error")
	assert.Equal(t,
		"eventbus: topic \"gb:fail\": listener first (#1): wrapped: sentinel\n"+
			"eventbus: topic \"gb:fail\": listener second (#2): panic: sentinel",
		emitErr.Error())
}

// gbGoroutineID returns the id of the calling goroutine, from its stack.
func gbGoroutineID() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	var id int
	_, _ = fmt.Sscanf(string(buf), "goroutine %d ", &id)
	return id
}

// gbListening is a service whose listener fails.
type gbListening struct{ sprag.Service }

func (s *gbListening) OnStart(context.Context) error {
	_, err := s.Listen("gb:service", func(context.Context, any) error { return errors.New("service listener failed") })
	return err
}

// events.md, "Listen and Emit" and "Failures": an app has one bus, the
// *eventbus.Bus fxmodule provides and sprag.Runtime.Bus; its failures are
// logged through zap as `listener failed`, at error level, with kind,
// topic, label and error, and stack for a panic; the failures of a
// service's listeners are logged by the service only.
func TestGuidesB_EventsAppBusLogsListenerFailures(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	var bus *eventbus.Bus
	var rt sprag.Runtime
	app := fx.New(fxmodule.Module, fx.Supply(zap.New(core)), fx.NopLogger,
		fxmodule.Service("listening", func() *gbListening { return &gbListening{} }),
		fx.Populate(&bus, &rt))
	require.NoError(t, app.Start(context.Background()))
	defer func() { require.NoError(t, app.Stop(context.Background())) }()
	require.Same(t, bus, rt.Bus, "one bus")

	_, err := bus.Listen("gb:direct", func(context.Context, any) error { return errors.New("boom") }, eventbus.WithName("direct"))
	require.NoError(t, err)
	_, err = bus.Listen("gb:direct", func(context.Context, any) error { panic("ouch") }, eventbus.WithName("panicky"))
	require.NoError(t, err)
	require.Error(t, bus.Emit(context.Background(), "gb:direct", nil))

	failed := logs.FilterMessage("listener failed").FilterField(zap.String("topic", "gb:direct")).All()
	failed = append(failed, logs.FilterMessage("listener panicked").FilterField(zap.String("topic", "gb:direct")).All()...)
	require.Len(t, failed, 2, "listener failed for the error, listener panicked for the panic")
	for i, label := range []string{"direct", "panicky"} {
		e := failed[i]
		assert.Equal(t, zap.ErrorLevel, e.Level)
		fields := e.ContextMap()
		assert.Equal(t, "listener", fields["kind"])
		assert.Equal(t, label, fields["label"])
		assert.Contains(t, fields, "error")
		_, stack := fields["stack"]
		assert.Equal(t, label == "panicky", stack, "a stack for a panic only")
	}
	assert.Equal(t, "boom", failed[0].ContextMap()["error"])
	assert.Equal(t, "panic: ouch", failed[1].ContextMap()["error"])

	require.Error(t, bus.Emit(context.Background(), "gb:service", nil))
	byService := logs.FilterField(zap.String("topic", "gb:service")).All()
	require.Len(t, byService, 1, "logged once, by the service")
	assert.Equal(t, "listening", byService[0].ContextMap()["service"])
}

// events.md, "Introspection".
func TestGuidesB_EventsIntrospection(t *testing.T) {
	t.Parallel()
	bus := eventbus.New()
	_, _ = bus.Listen("order:completed", gbNoop)
	_, _ = bus.Listen("order:*", gbNoop)
	_, _ = bus.Listen("order:*", gbNoop)
	_, _ = bus.Listen("*", gbNoop)
	_, _ = bus.Listen("user:created", gbNoop)

	assert.Equal(t, 5, bus.Len())
	assert.Equal(t, []string{"*", "order:*", "order:completed", "user:created"}, bus.Topics())
	assert.Equal(t, 4, bus.ListenerCount("order:completed"), "its own and the matching patterns'")
	assert.Equal(t, 3, bus.ListenerCount("order:shipped"), "patterns only")
	assert.Equal(t, 2, bus.ListenerCount("order:*"), "a pattern: exactly that pattern")
	assert.Equal(t, 0, bus.ListenerCount("order::x"), "a malformed name has none")
	assert.Equal(t, 0, bus.ListenerCount("ord*"))
	assert.True(t, bus.HasListeners("anything"))
	assert.Equal(t, 1, bus.Clear("order:completed"), "the pattern listeners are not the topic's")
	assert.Equal(t, 3, bus.ListenerCount("order:completed"))
	assert.Equal(t, 2, bus.Clear("order:*"))
	assert.Equal(t, []string{"*", "user:created"}, bus.Topics())
	assert.Equal(t, 2, bus.ClearAll())
	assert.Equal(t, 0, bus.Len())
	assert.False(t, bus.HasListeners("anything"))

	// A topic that a typed Topic emitted on stays, but is not listed
	// without a listener of its own.
	typed := eventbus.NewTopic[int]("gb:pinned")
	sub, _ := typed.Listen(bus, func(context.Context, int) error { return nil })
	require.NoError(t, typed.Emit(context.Background(), bus, 1))
	sub.Unsubscribe()
	assert.Empty(t, bus.Topics())
}

// events.md, "Knowing when a subscription is gone": the OnRemoved of a
// Once listener runs when the listener returns, also when it panicked,
// on the emitting goroutine; fn may listen again.
func TestGuidesB_EventsOnRemoved(t *testing.T) {
	t.Parallel()
	bus := eventbus.New()
	var steps []string
	_, err := bus.Listen("gb:once", func(context.Context, any) error {
		steps = append(steps, "listener")
		panic("once")
	}, eventbus.Once(), eventbus.OnRemoved(func() {
		steps = append(steps, "removed")
		_, err := bus.Listen("gb:once", func(context.Context, any) error { // listen again
			steps = append(steps, "again")
			return nil
		})
		if err != nil {
			steps = append(steps, err.Error())
		}
	}))
	require.NoError(t, err)
	var pe *eventbus.PanicError
	require.ErrorAs(t, bus.Emit(context.Background(), "gb:once", nil), &pe, "the listener's panic is reported, not the OnRemoved")
	assert.Equal(t, []string{"listener", "removed"}, steps)
	require.NoError(t, bus.Emit(context.Background(), "gb:once", nil))
	assert.Equal(t, []string{"listener", "removed", "again"}, steps)

	var reported []*eventbus.ListenerError
	b2 := eventbus.New(eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.ListenerError) { reported = append(reported, err) }))
	sub, _ := b2.Listen("gb:*", gbNoop, eventbus.OnRemoved(func() { panic("in OnRemoved") }))
	assert.True(t, sub.Unsubscribe(), "the removal stands")
	require.Len(t, reported, 1)
	assert.Equal(t, "gb:*", reported[0].Topic, "the subscribed pattern")
	require.ErrorIs(t, reported[0], eventbus.ErrOnRemoved)
	require.ErrorAs(t, reported[0], &pe)
}

type gbCtxKey struct{}

// gbObserver records what it observes and marks the contexts it returns.
type gbObserver struct {
	mu    sync.Mutex
	steps []string
}

func (o *gbObserver) add(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.steps = append(o.steps, s)
}

func (o *gbObserver) EmitStart(ctx context.Context, topic string, n int) context.Context {
	o.add(fmt.Sprintf("emit %s %d", topic, n))
	return context.WithValue(ctx, gbCtxKey{}, "emit "+topic)
}

func (o *gbObserver) EmitEnd(ctx context.Context, topic string, err error) {
	o.add(fmt.Sprintf("end %s (%v) %v", topic, ctx.Value(gbCtxKey{}), err != nil))
}

func (o *gbObserver) ListenerStart(ctx context.Context, topic string, sub *eventbus.Subscription) context.Context {
	o.add(fmt.Sprintf("  start %s (%v)", sub.Name(), ctx.Value(gbCtxKey{})))
	return context.WithValue(ctx, gbCtxKey{}, "listener "+sub.Name())
}

func (o *gbObserver) ListenerEnd(ctx context.Context, topic string, sub *eventbus.Subscription, err error) {
	o.add(fmt.Sprintf("  end %s (%v) payload-type=%v", sub.Name(), ctx.Value(gbCtxKey{}), errors.Is(err, eventbus.ErrPayloadType)))
}

// events.md, "Observing emits": the calls and their order, the contexts
// that flow to the listener, ListenerEnd and the error handler, nested
// emits inside the listener's calls, typed emits, and no call for a
// malformed topic.
func TestGuidesB_EventsObserver(t *testing.T) {
	t.Parallel()
	obs := &gbObserver{}
	var handlerCtx any
	bus := eventbus.New(eventbus.WithObserver(obs), eventbus.WithErrorHandler(func(ctx context.Context, _ *eventbus.ListenerError) {
		handlerCtx = ctx.Value(gbCtxKey{})
	}))
	var listenerCtx any
	_, _ = bus.Listen("gb:outer", func(ctx context.Context, _ any) error {
		listenerCtx = ctx.Value(gbCtxKey{})
		return bus.Emit(ctx, "gb:inner", nil)
	}, eventbus.WithName("outer"))
	_, _ = eventbus.NewTopic[int]("gb:inner").Listen(bus, func(context.Context, int) error { return nil }, eventbus.WithName("inner"))

	err := bus.Emit(context.Background(), "gb:outer", nil)
	require.ErrorIs(t, err, eventbus.ErrPayloadType)
	assert.Equal(t, "listener outer", listenerCtx)
	assert.Equal(t, "listener outer", handlerCtx, "the error handler gets ListenerStart's context")
	require.ErrorIs(t, bus.Emit(context.Background(), "gb:*", nil), eventbus.ErrInvalidTopic)
	require.NoError(t, eventbus.NewTopic[int]("gb:inner").Emit(context.Background(), bus, 1))
	assert.Equal(t, []string{
		"emit gb:outer 1",
		"  start outer (emit gb:outer)",
		"emit gb:inner 1", // nested: inside the listener's calls
		"  start inner (emit gb:inner)",
		"  end inner (listener inner) payload-type=true",
		"end gb:inner (emit gb:inner) true",
		"  end outer (listener outer) payload-type=true",
		"end gb:outer (emit gb:outer) true",
		// nothing for the malformed topic
		"emit gb:inner 1", // a typed emit, observed the same way
		"  start inner (emit gb:inner)",
		"  end inner (listener inner) payload-type=false",
		"end gb:inner (emit gb:inner) false",
	}, obs.steps)
}

// ---------------------------------------------------------------------
// docs/fx.md

// fx.md, "The module": what Module provides; the bus is the runtime's;
// the names of fxmodule's constants.
func TestGuidesB_FxModuleProvides(t *testing.T) {
	t.Parallel()
	var p struct {
		fx.In
		Bus      *eventbus.Bus
		Registry *sprag.Registry
		Runtime  sprag.Runtime
		Ready    *fxmodule.Ready
	}
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger, fx.Populate(&p))
	require.NoError(t, app.Err())
	assert.Same(t, p.Bus, p.Runtime.Bus)
	assert.NotNil(t, p.Registry)
	assert.NotNil(t, p.Ready)

	assert.Equal(t, "http", fxmodule.HTTPServiceName)
	assert.Equal(t, "SPRAG_ADDR", fxmodule.EnvAddr)
	assert.Equal(t, "localhost:8080", fxmodule.DefaultAddr)
	assert.Equal(t, "SPRAG_LOG", fxmodule.EnvLog)
	assert.Equal(t, "sprag:app:started", fxmodule.AppStarted.Name())
	assert.Equal(t, "sprag:app:stopping", fxmodule.AppStopping.Name())
}

// gbCtxService records the context values its hooks get.
type gbCtxService struct {
	sprag.Service
	mu         sync.Mutex
	start, end any
}

func (s *gbCtxService) OnStart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start = ctx.Value(gbCtxKey{})
	return nil
}

func (s *gbCtxService) OnStop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.end = ctx.Value(gbCtxKey{})
	return nil
}

// gbPlain is a service that records nothing.
type gbPlain struct{ sprag.Service }

// gbAfterA makes a constructor depend on the service "a".
type gbAfterA struct {
	fx.In
	A *gbPlain `name:"a"`
}

// fx.md, "Services": the hook starts and stops the service with the
// context fx gives it; independent services are constructed, and
// started, in declaration order, a dependency before what takes it; a
// service nobody takes is still run.
func TestGuidesB_FxServiceHooksAndOrder(t *testing.T) {
	t.Parallel()
	svc := &gbCtxService{}
	var registry *sprag.Registry
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("ctx", func() *gbCtxService { return svc }),
		fxmodule.Service("b", func(gbAfterA) *gbPlain { return &gbPlain{} }),
		fxmodule.Service("c", func() *gbPlain { return &gbPlain{} }),
		fxmodule.Service("a", func() *gbPlain { return &gbPlain{} }),
		fx.Populate(&registry),
	)
	require.NoError(t, app.Start(context.WithValue(context.Background(), gbCtxKey{}, "start")))
	assert.Equal(t, []string{"ctx", "a", "b", "c"}, registry.Names())
	assert.Equal(t, sprag.Running, svc.State(), "nobody takes it; it runs")
	require.NoError(t, app.Stop(context.WithValue(context.Background(), gbCtxKey{}, "stop")))
	assert.Equal(t, "start", svc.start)
	assert.Equal(t, "stop", svc.end)
	assert.Equal(t, sprag.Stopped, svc.State())
}

// gbTaker takes the service "maybe", which may not exist.
type gbTaker struct {
	sprag.Service
	maybe *gbPlain
}

type gbMaybeParams struct {
	fx.In
	Maybe *gbPlain `name:"maybe" optional:"true"`
}

type gbMaybeByType struct {
	fx.In
	Maybe *gbPlain `optional:"true"`
}

// fx.md, "Taking services": optional:"true" works as in fx, by name and
// by type.
func TestGuidesB_FxOptionalByName(t *testing.T) {
	t.Parallel()
	var byType *gbPlain
	app0 := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("taker", func(p gbMaybeByType) *gbTaker { byType = p.Maybe; return &gbTaker{} }))
	require.NoError(t, app0.Start(context.Background()))
	assert.Nil(t, byType, "no service of the type")
	require.NoError(t, app0.Stop(context.Background()))

	var taker *gbTaker
	newTaker := func(p gbMaybeParams) *gbTaker {
		taker = &gbTaker{maybe: p.Maybe}
		return taker
	}
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger, fxmodule.Service("taker", newTaker))
	require.NoError(t, app.Start(context.Background()))
	assert.Nil(t, taker.maybe)
	require.NoError(t, app.Stop(context.Background()))

	app = fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("taker", newTaker),
		fxmodule.Service("maybe", func() *gbPlain { return &gbPlain{} }))
	require.NoError(t, app.Start(context.Background()))
	require.NotNil(t, taker.maybe)
	assert.Equal(t, sprag.Running, taker.maybe.State())
	require.NoError(t, app.Stop(context.Background()))
}

// gbFailing fails its start.
type gbFailing struct{ sprag.Service }

func (*gbFailing) OnStart(context.Context) error { return errors.New("index missing") }

// fx.md, "Start failure and rollback" and "Ready": the failed service is
// Failed, the error names it, what had started is stopped, and Done is
// never closed.
func TestGuidesB_FxStartFailure(t *testing.T) {
	t.Parallel()
	var ready *fxmodule.Ready
	failing := &gbFailing{}
	var first *gbPlain
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("first", func() *gbPlain { first = &gbPlain{}; return first }),
		fxmodule.Service("failing", func() *gbFailing { return failing }),
		fx.Populate(&ready))
	err := app.Start(context.Background())
	require.EqualError(t, err, `start service "failing": index missing`)
	assert.Equal(t, sprag.Failed, failing.State())
	assert.Equal(t, sprag.Stopped, first.State(), "rolled back")
	select {
	case <-ready.Done():
		t.Fatal("Done is closed although a service failed to start")
	default:
	}
}

// gbStopFails fails its stop.
type gbStopFails struct{ sprag.Service }

func (s *gbStopFails) OnStop(context.Context) error { return errors.New("flush " + s.Name()) }

// fx.md, "Stop and StopTimeout": before the deadline, the errors of
// every hook are combined in Stop's error.
func TestGuidesB_FxStopErrorsAreCombined(t *testing.T) {
	t.Parallel()
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("one", func() *gbStopFails { return &gbStopFails{} }),
		fxmodule.Service("two", func() *gbStopFails { return &gbStopFails{} }))
	require.NoError(t, app.Start(context.Background()))
	err := app.Stop(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "flush one")
	assert.Contains(t, err.Error(), "flush two")
}

// gbStopEvents records the error of every OnStop hook fx runs.
type gbStopEvents struct {
	mu   sync.Mutex
	errs []error
}

func (l *gbStopEvents) LogEvent(ev fxevent.Event) {
	if e, ok := ev.(*fxevent.OnStopExecuted); ok && e.Err != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.errs = append(l.errs, e.Err)
	}
}

// gbStuck's task ignores its context until released.
type gbStuck struct {
	sprag.Service
	release chan struct{}
}

func (s *gbStuck) OnStart(context.Context) error {
	_, err := s.Spawn(func(context.Context) error {
		<-s.release
		return nil
	}, sprag.Label("upload"))
	return err
}

// fx.md, "Stop and StopTimeout": at the deadline, the service still
// stopping returns from Stop with a *sprag.StuckError that names it and
// its stuck work; fx's Stop returns the context's error.
func TestGuidesB_FxStuckServiceAtTheStopDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		events := &gbStopEvents{}
		stuck := &gbStuck{release: make(chan struct{})}
		app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()),
			fx.WithLogger(func() fxevent.Logger { return events }),
			fxmodule.Service("exporter", func() *gbStuck { return stuck }))
		require.NoError(t, app.Start(context.Background()))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := app.Stop(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		synctest.Wait() // fx reports the hook's result on a goroutine of its own
		close(stuck.release)
		<-stuck.Done()

		events.mu.Lock()
		defer events.mu.Unlock()
		require.Len(t, events.errs, 1)
		var se *sprag.StuckError
		require.ErrorAs(t, events.errs[0], &se)
		assert.Equal(t, "exporter", se.Service)
		require.Len(t, se.Running, 1)
		assert.Equal(t, "upload", se.Running[0].Label)
		assert.Equal(t, sprag.KindTask, se.Running[0].Kind)
	})
}

// fx.md, "Ready, AppStarted and AppStopping": AppStarted comes right
// before Done is closed, once every service has started; AppStopping
// before the first service's OnStop; both list the services in
// registration order; Wait returns nil once started.
func TestGuidesB_FxAppEvents(t *testing.T) {
	t.Parallel()
	var ready *fxmodule.Ready
	var steps []string
	var mu sync.Mutex
	add := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		steps = append(steps, s)
	}
	var a *gbPlain
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("b", func(gbAfterA) *gbStopFails { return &gbStopFails{} }),
		fxmodule.Service("a", func() *gbPlain { a = &gbPlain{}; return a }),
		fx.Populate(&ready),
		fx.Invoke(func(rt sprag.Runtime) error {
			_, err := fxmodule.AppStarted.Listen(rt.Bus, func(_ context.Context, e fxmodule.AppEvent) error {
				closed := false
				select {
				case <-ready.Done():
					closed = true
				default:
				}
				add(fmt.Sprintf("started %v, a %s, done %v", e.Services, a.State(), closed))
				return nil
			})
			if err != nil {
				return err
			}
			_, err = fxmodule.AppStopping.Listen(rt.Bus, func(_ context.Context, e fxmodule.AppEvent) error {
				add(fmt.Sprintf("stopping %v, a %s", e.Services, a.State()))
				return nil
			})
			return err
		}))
	require.NoError(t, app.Start(context.Background()))
	require.NoError(t, ready.Wait(context.Background()))
	_ = app.Stop(context.Background()) // b's OnStop fails
	assert.Equal(t, []string{
		"started [a b], a running, done false",
		"stopping [a b], a running",
	}, steps)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var never *fxmodule.Ready
	app = fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger, fx.Populate(&never))
	require.NoError(t, app.Err())
	require.ErrorIs(t, never.Wait(ctx), context.Canceled, "Wait ends with its context")
}

// fx.md, "Ready, AppStarted and AppStopping": a failing listener of an
// app event does not fail the hook; the bus logs it at error level, and
// the hook once more at warn level.
func TestGuidesB_FxFailingAppEventListener(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	app := fx.New(fxmodule.Module, fx.Supply(zap.New(core)), fx.NopLogger,
		fx.Invoke(func(rt sprag.Runtime) error {
			_, err := fxmodule.AppStarted.Listen(rt.Bus, func(context.Context, fxmodule.AppEvent) error {
				return errors.New("boom")
			}, eventbus.WithName("announcer"))
			return err
		}))
	require.NoError(t, app.Start(context.Background()))
	require.NoError(t, app.Stop(context.Background()))
	var got []string
	for _, e := range logs.FilterField(zap.String("topic", "sprag:app:started")).All() {
		got = append(got, fmt.Sprintf("%s %s: %v", e.Level, e.Message, e.ContextMap()["error"]))
	}
	assert.Equal(t, []string{
		"error listener failed: boom",
		`warn listener of an app event failed: eventbus: topic "sprag:app:started": listener announcer (#1): boom`,
	}, got)
}

// fx.md, "Logging through zap": SPRAG_LOG that is neither dev nor json
// fails fx.New of an app without a logger of its own only; when fx.New
// fails before anything is provided, LogFxEvents logs with a default
// logger, not the app's.
//
// Not parallel: it sets SPRAG_LOG and reads os.Stderr.
func TestGuidesB_FxDefaultLoggers(t *testing.T) {
	t.Setenv(fxmodule.EnvLog, "verbose")
	require.ErrorContains(t, fx.New(fxmodule.Module, fx.NopLogger).Err(), `SPRAG_LOG="verbose"`)
	require.NoError(t, fx.New(fxmodule.Module, fx.NopLogger, fx.Supply(zap.NewNop())).Err(), "the app's logger")

	t.Setenv(fxmodule.EnvLog, "json")
	core, logs := observer.New(zap.DebugLevel)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stderr := os.Stderr
	os.Stderr = w
	newBare := func() *Bare { return &Bare{} }
	app := fx.New(fxmodule.Module, fx.Supply(zap.New(core)), fxmodule.LogFxEvents,
		fxmodule.Service("same", newBare), fxmodule.Service("same", newBare))
	os.Stderr = stderr
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.Error(t, app.Err())
	assert.Zero(t, logs.Len(), "fx could not build the app's logger")
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 1, string(out))
	assert.Contains(t, lines[0], `"level":"error"`)
	assert.Contains(t, lines[0], `"logger":"fx"`)
	assert.Contains(t, lines[0], `"msg":"the app could not be built"`)

	// fx's provide error carries the stack of the call, one frame a line,
	// before its reason: the log keeps the reason alone.
	var entry map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &entry))
	msg, _ := entry["error"].(string)
	assert.NotContains(t, msg, "\n", "the message on one line")
	assert.True(t, strings.HasPrefix(msg, "cannot provide function"), "the reason alone: %s", msg)
	assert.Contains(t, msg, "already provided by")
}

// fx.md, "ShutdownOnTaskGiveUp": an exit code of 0 is refused by fx.New.
func TestGuidesB_FxShutdownOnTaskGiveUpRefusesZero(t *testing.T) {
	t.Parallel()
	err := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger, fxmodule.ShutdownOnTaskGiveUp(0)).Err()
	require.ErrorContains(t, err, "the exit code must not be 0")
}

// fx.md, "Logging through zap": with LogFxEvents, a provide names the
// constructor fxmodule builds after the service; fx's own console logger
// shows it as fx prints a function built with reflect.
func TestGuidesB_FxEventNames(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()),
		fx.WithLogger(func() fxevent.Logger { return &fxevent.ConsoleLogger{W: &buf} }),
		fxmodule.Service("db", func() *Bare { return &Bare{} }))
	require.NoError(t, app.Err())
	assert.Contains(t, buf.String(), `*docs_test.Bare[name = "db"] <= fx.Annotate(reflect.makeFuncStub()`)

	core, logs := observer.New(zap.DebugLevel)
	app = fx.New(fxmodule.Module, fx.Supply(zap.New(core)), fxmodule.LogFxEvents,
		fxmodule.Service("db", func() *Bare { return &Bare{} }))
	require.NoError(t, app.Err())
	provided := logs.FilterMessage("provided").FilterLoggerName("fx").FilterField(
		zap.String("type", `*docs_test.Bare[name = "db"]`)).All()
	require.Len(t, provided, 1)
	assert.Equal(t, zap.DebugLevel, provided[0].Level)
	assert.Equal(t, `fxmodule's constructor of *docs_test.Bare[name = "db"]`, provided[0].ContextMap()["constructor"])
}

// fx.md, "Logging through zap": a failed start is logged once at error
// level (`start failed`), the rollback's start at info level, and no
// stack or errorVerbose is added.
func TestGuidesB_FxLogFxEventsOnAFailedStart(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	app := fxmodule.App(fx.Supply(zap.New(core)),
		fxmodule.Service("first", func() *gbPlain { return &gbPlain{} }),
		fxmodule.Service("failing", func() *gbFailing { return &gbFailing{} }))
	require.Error(t, app.Start(context.Background()))
	fxLogs := logs.FilterLoggerName("fx")
	errs := fxLogs.FilterLevelExact(zap.ErrorLevel).All()
	require.Len(t, errs, 1, "logged once")
	assert.Equal(t, "start failed", errs[0].Message)
	assert.Equal(t, `start service "failing": index missing`, errs[0].ContextMap()["error"])
	assert.NotContains(t, errs[0].ContextMap(), "errorVerbose")
	assert.Empty(t, errs[0].Stack)
	infos := fxLogs.FilterLevelExact(zap.InfoLevel).All()
	require.Len(t, infos, 1)
	assert.Equal(t, "start failed: rolling back", infos[0].Message)
}

// ---------------------------------------------------------------------
// docs/wiring-errors.md

// gbEager asks for an interval in its constructor.
type gbEager struct{ sprag.Service }

func (e *gbEager) tick(context.Context) error { return nil }

func newGBEager() *gbEager {
	e := &gbEager{}
	_, _ = e.Interval(time.Second, e.tick) // too early: refused
	return e
}

// wiring-errors.md, "A managed method is called in the constructor": the
// start fails with the service's own error, which wraps
// sprag.ErrNotRunning and names the call and its line; it is logged once,
// as `start failed`.
func TestGuidesB_WiringManagedCallInTheConstructor(t *testing.T) {
	t.Parallel()
	{
		core, logs := observer.New(zap.DebugLevel)
		app := fxmodule.App(fx.Supply(zap.New(core)), fxmodule.Service("eager", newGBEager))
		require.NoError(t, app.Err(), "fx.New succeeds")
		err := app.Start(context.Background())
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		var we *fxmodule.WiringError
		assert.NotErrorAs(t, err, &we, "the service's start error, not a WiringError")
		assert.Regexp(t, `^start service "eager": interval \(\*gbEager\)\.tick called before Start, at docs/guides_b_test\.go:\d+ \(call it in OnStart\): sprag: service not running$`, err.Error())
		failed := logs.FilterLevelExact(zap.ErrorLevel).FilterLoggerName("fx").All()
		require.Len(t, failed, 1)
		assert.Equal(t, "start failed", failed[0].Message)
		assert.Equal(t, err.Error(), failed[0].ContextMap()["error"])
	}
}

// gbSelf takes a service of its own type by type.
type gbSelf struct{ sprag.Service }

func newGBSelf(*gbSelf) *gbSelf { return &gbSelf{} }

func newGBWrong() gbPlain { return gbPlain{} } // the mistake: a struct value

// wiring-errors.md, "Where the message shows" and the sections: the
// fields of a WiringError, its text with the file relative to the
// working directory, a service that takes its own type by type, a nil
// function and a value that is not one, reported on the call of
// fxmodule.Service.
func TestGuidesB_WiringErrorFieldsAndMessages(t *testing.T) {
	t.Parallel()
	err := fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.Service("wrong", newGBWrong)).Err()
	var we *fxmodule.WiringError
	require.ErrorAs(t, err, &we)
	assert.Equal(t, "wrong", we.Service)
	assert.Equal(t, "docs_test.newGBWrong", we.Constructor)
	assert.True(t, strings.HasSuffix(we.File, "/docs/guides_b_test.go"), we.File)
	assert.Positive(t, we.Line)
	assert.Equal(t, fmt.Sprintf(`service "wrong" (docs_test.newGBWrong at guides_b_test.go:%d): returns docs_test.gbPlain, a struct value: return *docs_test.gbPlain, a pointer, so that the service is not copied`, we.Line), err.Error())

	err = fxmodule.App(fx.Supply(zap.NewNop()),
		fxmodule.Service("self", newGBSelf), fxmodule.Service("other", func() *gbSelf { return &gbSelf{} })).Err()
	require.ErrorAs(t, err, &we)
	assert.Equal(t, "self", we.Service)
	assert.Contains(t, err.Error(), "takes *docs_test.gbSelf (parameter 0) by type, and is a *docs_test.gbSelf itself: take the other service by its name")

	_, _, line, _ := runtime.Caller(0)
	nilFunc := fxmodule.Service("nilfunc", (func() *gbPlain)(nil))
	notFunc := fxmodule.Service("notfunc", gbPlain{}) // the mistake: not a function
	err = fxmodule.App(fx.Supply(zap.NewNop()), nilFunc, notFunc).Err()
	assert.Equal(t,
		fmt.Sprintf("service \"nilfunc\" (fxmodule.Service at guides_b_test.go:%d): the constructor is a nil func() *docs_test.gbPlain: pass a function\n", line+1)+
			fmt.Sprintf("service \"notfunc\" (fxmodule.Service at guides_b_test.go:%d): the constructor is of type docs_test.gbPlain, not a function: pass a function", line+2),
		err.Error())
}

// wiring-errors.md, "Where the message shows", "A name is given twice"
// and "Two services take each other": with fx.New, fx reports these two
// mistakes itself, naming the constructors; App reports them as
// WiringErrors. fx's other errors name the user's constructor.
func TestGuidesB_WiringMistakesFxReportsInItsOwnWords(t *testing.T) {
	t.Parallel()
	newA := func() *gbPlain { return &gbPlain{} }
	twice := []fx.Option{fxmodule.Service("same", newA), fxmodule.Service("same", newA)}
	err := fx.New(append([]fx.Option{fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger}, twice...)...).Err()
	require.Error(t, err)
	var we *fxmodule.WiringError
	assert.NotErrorAs(t, err, &we, "fx's own words")
	assert.True(t, strings.HasPrefix(err.Error(), "fx.Provide(fx.Annotate(reflect.makeFuncStub()) from:\n"), err.Error())
	assert.Contains(t, err.Error(), "\nFailed: cannot provide function ")
	assert.Contains(t, err.Error(), "already provided by")
	assert.Contains(t, err.Error(), `"github.com/sprag-go/sprag/docs_test".TestGuidesB_WiringMistakesFxReportsInItsOwnWords.func1 (`)
	err = fxmodule.App(append([]fx.Option{fx.Supply(zap.NewNop())}, twice...)...).Err()
	require.ErrorAs(t, err, &we)
	require.ErrorIs(t, err, sprag.ErrDuplicateName)
	err = fxmodule.App(fx.Supply(zap.NewNop()), fx.Options(twice[0]), fx.Options(fx.Options(twice[1]))).Err()
	require.ErrorAs(t, err, &we, "App sees the services inside fx.Options")
	err = fxmodule.App(fx.Supply(zap.NewNop()), fx.Module("mine", twice...)).Err()
	require.Error(t, err)
	assert.NotErrorAs(t, err, &we, "not inside an fx.Module: fx's own words")
	assert.True(t, strings.HasPrefix(err.Error(), "fx.Provide(fx.Annotate(reflect.makeFuncStub()) from:\n"), err.Error())

	err = fxmodule.App(fx.Supply(zap.NewNop()), fxmodule.Service("cfg", func(EmailConfig) *gbPlain { return &gbPlain{} })).Err()
	require.Error(t, err)
	assert.NotErrorAs(t, err, &we, "a value of the app's own is fx's to check")
	assert.NotContains(t, err.Error(), "makeFuncStub")
	assert.Regexp(t, `^could not build arguments for function "github.com/sprag-go/sprag/fxmodule".launch \(\S+/fxmodule/module.go:\d+\): `+
		`could not build value group sprag.Interface\[group="sprag.launch"\]: `+
		`missing dependencies for function "github.com/sprag-go/sprag/docs_test".TestGuidesB_WiringMistakesFxReportsInItsOwnWords.func2 \(\S+/docs/guides_b_test.go:\d+\): `+
		`missing type: docs_test.EmailConfig$`, err.Error())
}

// wiring-errors.md, "Two services take each other": fx.New reports the
// cycle itself, as `cycle detected in dependency graph`, naming the
// constructors, and, finding it when it builds the app's event logger,
// falls back to its own console logger; App reports a WiringError.
//
// Not parallel: fx's console logger writes to os.Stderr, which the test
// reads.
func TestGuidesB_WiringCycle(t *testing.T) {
	cycle := []fx.Option{
		fxmodule.Service("x", func(gbCycleY) *gbCycleX { return &gbCycleX{} }),
		fxmodule.Service("y", func(gbCycleX2) *gbCycleY2 { return &gbCycleY2{} }),
	}
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stderr := os.Stderr
	os.Stderr = w
	app := fx.New(append([]fx.Option{fxmodule.Module, fx.Supply(zap.NewNop()), fxmodule.LogFxEvents}, cycle...)...)
	os.Stderr = stderr
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())

	err = app.Err()
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "cycle detected in dependency graph"), err.Error())
	assert.Contains(t, err.Error(), "TestGuidesB_WiringCycle.func1 (")
	assert.Contains(t, err.Error(), "TestGuidesB_WiringCycle.func2 (")
	assert.Contains(t, string(out), "[Fx] ERROR\t\tFailed to initialize custom logger: cycle detected in dependency graph", "fx's console logger")

	var we *fxmodule.WiringError
	err = fxmodule.App(append([]fx.Option{fx.Supply(zap.NewNop())}, cycle...)...).Err()
	require.ErrorAs(t, err, &we)
	assert.Equal(t, "x", we.Service)
	assert.Contains(t, err.Error(), `takes service "y"`)
	assert.Contains(t, err.Error(), "which takes it in turn, so fx can construct neither")
}

// gbCycleX and gbCycleY take each other, by name.
type (
	gbCycleX  struct{ sprag.Service }
	gbCycleY2 struct{ sprag.Service }
	gbCycleY  struct {
		fx.In
		Y *gbCycleY2 `name:"y"`
	}
	gbCycleX2 struct {
		fx.In
		X *gbCycleX `name:"x"`
	}
)

// wiring-errors.md, "fx.Annotate gives the result a tag": fx.As,
// fx.From, fx.OnStart and fx.OnStop are refused, each with what to use
// instead.
func TestGuidesB_WiringRefusedAnnotations(t *testing.T) {
	t.Parallel()
	newPlain := func() *gbPlain { return &gbPlain{} }
	tests := []struct {
		give fx.Option
		want string
	}{
		{fxmodule.Service("p", fx.Annotate(newPlain, fx.As(new(sprag.Interface)))), "is annotated with fx.As: use fxmodule.As(new(Interface)) instead"},
		{fxmodule.Service("p", fx.Annotate(func(sprag.Interface) *gbPlain { return &gbPlain{} }, fx.From(new(*gbPlain)))), "is annotated with fx.From: take the interface in the constructor's own parameters instead"},
		{fxmodule.Service("p", fx.Annotate(newPlain, fx.OnStart(func() {}))), "is annotated with fx.OnStart and fx.OnStop: give the service OnStart and OnStop methods instead"},
		{fxmodule.Service("p", fx.Annotate(newPlain, fx.OnStop(func() {}))), "is annotated with fx.OnStart and fx.OnStop: give the service OnStart and OnStop methods instead"},
	}
	for _, tt := range tests {
		err := fxmodule.App(fx.Supply(zap.NewNop()), tt.give).Err()
		var we *fxmodule.WiringError
		require.ErrorAs(t, err, &we, tt.want)
		assert.Contains(t, err.Error(), tt.want)
	}
}

// wiring-errors.md, "The app has no fxmodule.Module".
func TestGuidesB_WiringWithoutModule(t *testing.T) {
	t.Parallel()
	err := fx.New(fx.NopLogger, fxmodule.Service("p", func() *gbPlain { return &gbPlain{} })).Err()
	require.ErrorContains(t, err, "fxmodule.Service and fxmodule.Controllers need fxmodule.Module, which checks, constructs and runs the services: add it to fx.New, first, or build the app with fxmodule.App")
}
