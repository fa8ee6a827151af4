package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
)

type pathKey struct{}

// path returns the trail of observer calls that made ctx.
func path(ctx context.Context) string {
	p, _ := ctx.Value(pathKey{}).(string)
	return p
}

// callLog is an Observer that records its calls and marks the contexts it
// returns, so that a test can tell which context reached whom.
type callLog struct {
	mu       sync.Mutex
	calls    []string
	emitErrs []error
	panicAt  string // the method that panics, if any
}

func (c *callLog) add(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, fmt.Sprintf(format, args...))
}

func (c *callLog) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

func (c *callLog) EmitStart(ctx context.Context, topic string, listeners int) context.Context {
	c.add("emit-start %s listeners=%d ctx=%q", topic, listeners, path(ctx))
	if c.panicAt == "EmitStart" {
		panic("observer")
	}
	return context.WithValue(ctx, pathKey{}, path(ctx)+"/emit:"+topic)
}

func (c *callLog) EmitEnd(ctx context.Context, topic string, err error) {
	c.add("emit-end %s ctx=%q err=%v", topic, path(ctx), err != nil)
	c.mu.Lock()
	c.emitErrs = append(c.emitErrs, err)
	c.mu.Unlock()
	if c.panicAt == "EmitEnd" {
		panic("observer")
	}
}

func (c *callLog) ListenerStart(ctx context.Context, topic string, sub *eventbus.Subscription) context.Context {
	c.add("listener-start %s %s (%s) ctx=%q", topic, sub.Name(), sub.Topic(), path(ctx))
	if c.panicAt == "ListenerStart" {
		panic("observer")
	}
	return context.WithValue(ctx, pathKey{}, path(ctx)+"/listener:"+sub.Name())
}

func (c *callLog) ListenerEnd(ctx context.Context, topic string, sub *eventbus.Subscription, err error) {
	var pe *eventbus.PanicError
	switch {
	case err == nil:
		c.add("listener-end %s %s ctx=%q", topic, sub.Name(), path(ctx))
	case errors.As(err, &pe):
		c.add("listener-end %s %s ctx=%q panic=%v", topic, sub.Name(), path(ctx), pe.Value)
	default:
		c.add("listener-end %s %s ctx=%q err=%v", topic, sub.Name(), path(ctx), err)
	}
	if c.panicAt == "ListenerEnd" {
		panic("observer")
	}
}

func TestObserverSeesEmitsAndListenerCallsInOrder(t *testing.T) {
	t.Parallel()
	var handled []string
	obs := &callLog{}
	b := eventbus.New(eventbus.WithObserver(obs), eventbus.WithErrorHandler(func(ctx context.Context, err *eventbus.ListenerError) {
		handled = append(handled, fmt.Sprintf("%s ctx=%q", err.Listener, path(ctx)))
	}))
	var got []string
	record := func(name string) func(context.Context, any) error {
		return func(ctx context.Context, _ any) error {
			got = append(got, fmt.Sprintf("%s ctx=%q", name, path(ctx)))
			return nil
		}
	}
	mustListen(t, b, "x:t", record("a"), eventbus.WithName("a"))
	mustListen(t, b, "x:t", func(context.Context, any) error { return errors.New("boom") }, eventbus.WithName("b"))
	mustListen(t, b, "x:*", func(context.Context, any) error { panic("kaput") }, eventbus.WithName("p"))
	mustListen(t, b, "x:t", record("c"), eventbus.WithName("c"))

	err := b.Emit(context.Background(), "x:t", 1)
	require.Error(t, err)
	assert.Equal(t, []string{
		`emit-start x:t listeners=4 ctx=""`,
		`listener-start x:t a (x:t) ctx="/emit:x:t"`,
		`listener-end x:t a ctx="/emit:x:t/listener:a"`,
		`listener-start x:t b (x:t) ctx="/emit:x:t"`,
		`listener-end x:t b ctx="/emit:x:t/listener:b" err=boom`,
		`listener-start x:t p (x:*) ctx="/emit:x:t"`,
		`listener-end x:t p ctx="/emit:x:t/listener:p" panic=kaput`,
		`listener-start x:t c (x:t) ctx="/emit:x:t"`,
		`listener-end x:t c ctx="/emit:x:t/listener:c"`,
		`emit-end x:t ctx="/emit:x:t" err=true`,
	}, obs.get())
	assert.Equal(t, []string{`a ctx="/emit:x:t/listener:a"`, `c ctx="/emit:x:t/listener:c"`}, got, "listeners receive ListenerStart's context")
	assert.Equal(t, []string{`b ctx="/emit:x:t/listener:b"`, `p ctx="/emit:x:t/listener:p"`}, handled, "so does the error handler")
	require.Len(t, obs.emitErrs, 1)
	assert.Equal(t, err, obs.emitErrs[0], "EmitEnd gets the error Emit returns")
}

func TestObserverSeesNestedEmitsInsideTheListener(t *testing.T) {
	t.Parallel()
	obs := &callLog{}
	b := eventbus.New(eventbus.WithObserver(obs))
	mustListen(t, b, "outer", func(ctx context.Context, p any) error {
		return b.Emit(ctx, "inner", p)
	}, eventbus.WithName("relay"))
	mustListen(t, b, "inner", func(context.Context, any) error { return nil }, eventbus.WithName("sink"))

	require.NoError(t, b.Emit(context.Background(), "outer", 1))
	assert.Equal(t, []string{
		`emit-start outer listeners=1 ctx=""`,
		`listener-start outer relay (outer) ctx="/emit:outer"`,
		`emit-start inner listeners=1 ctx="/emit:outer/listener:relay"`,
		`listener-start inner sink (inner) ctx="/emit:outer/listener:relay/emit:inner"`,
		`listener-end inner sink ctx="/emit:outer/listener:relay/emit:inner/listener:sink"`,
		`emit-end inner ctx="/emit:outer/listener:relay/emit:inner" err=false`,
		`listener-end outer relay ctx="/emit:outer/listener:relay"`,
		`emit-end outer ctx="/emit:outer" err=false`,
	}, obs.get())
}

func TestObserverSeesTypedEmits(t *testing.T) {
	t.Parallel()
	obs := &callLog{}
	b := eventbus.New(eventbus.WithObserver(obs))
	topic := eventbus.NewTopic[int]("n")
	var got []string
	_, err := topic.Listen(b, func(ctx context.Context, n int) error {
		got = append(got, fmt.Sprintf("%d ctx=%q", n, path(ctx)))
		return nil
	}, eventbus.WithName("typed"))
	require.NoError(t, err)

	require.NoError(t, topic.Emit(context.Background(), b, 1)) // resolves the entry
	require.NoError(t, topic.Emit(context.Background(), b, 2)) // through the cache
	err = b.Emit(context.Background(), "n", "two")
	require.ErrorIs(t, err, eventbus.ErrPayloadType)

	assert.Equal(t, []string{`1 ctx="/emit:n/listener:typed"`, `2 ctx="/emit:n/listener:typed"`}, got)
	calls := obs.get()
	require.Len(t, calls, 12)
	assert.Equal(t, `emit-start n listeners=1 ctx=""`, calls[4])
	assert.Contains(t, calls[10], "wrong type", "a payload of the wrong type reaches ListenerEnd as the listener's error")
}

func TestObserverCountsWhatTheEmitWillCall(t *testing.T) {
	t.Parallel()
	obs := &callLog{}
	b := eventbus.New(eventbus.WithObserver(obs))
	noop := func(context.Context, any) error { return nil }
	gone := mustListen(t, b, "a:b", noop)
	mustListen(t, b, "a:b", noop)
	mustListen(t, b, "a:*", noop)
	mustListen(t, b, "z:*", noop)
	gone.Unsubscribe()
	ctx := context.Background()

	require.NoError(t, b.Emit(ctx, "a:b", nil))
	require.NoError(t, b.Emit(ctx, "a:c", nil))
	require.NoError(t, b.Emit(ctx, "nobody", nil))
	require.ErrorIs(t, b.Emit(ctx, "a::c", nil), eventbus.ErrInvalidTopic)

	var starts []string
	for _, c := range obs.get() {
		if len(c) > 10 && c[:10] == "emit-start" {
			starts = append(starts, c)
		}
	}
	assert.Equal(t, []string{
		`emit-start a:b listeners=2 ctx=""`,
		`emit-start a:c listeners=1 ctx=""`,
		`emit-start nobody listeners=0 ctx=""`,
	}, starts, "removed listeners are not counted; a malformed topic is refused before any observer call")
}

func TestObserverPanicsAreRecovered(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"EmitStart", "ListenerStart", "ListenerEnd", "EmitEnd"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			obs := &callLog{panicAt: method}
			b := eventbus.New(eventbus.WithObserver(obs))
			var got []string
			for _, name := range []string{"a", "b"} {
				mustListen(t, b, "t", func(ctx context.Context, _ any) error {
					got = append(got, name)
					return nil
				})
			}
			var err error
			require.NotPanics(t, func() { err = b.Emit(context.Background(), "t", nil) })
			require.NoError(t, err)
			assert.Equal(t, []string{"a", "b"}, got, "every listener still ran")
			assert.Len(t, obs.get(), 6, "and the observer was still told of each step")
		})
	}
}

func TestObservedEmitsDoNotAllocate(t *testing.T) {
	b := eventbus.New(eventbus.WithObserver(noopObserver{}))
	var s sink
	mustListen(t, b, "order:completed", s.anyListener)
	mustListen(t, b, "order:*", s.anyListener)
	topic := eventbus.NewTopic[order]("typed:order")
	_, err := topic.Listen(b, s.typedListener)
	require.NoError(t, err)
	ctx := context.Background()
	var payload any = order{ID: 1, Total: 3}
	require.NoError(t, topic.Emit(ctx, b, order{ID: 1, Total: 3})) // caches the bus

	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = b.Emit(ctx, "order:completed", payload) }), "a topic")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = b.Emit(ctx, "order:shipped", payload) }), "a topic with pattern listeners only")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = topic.Emit(ctx, b, order{ID: 1, Total: 3}) }), "a typed topic")
}
