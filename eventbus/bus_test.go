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

// recorder collects what listeners saw, safely from any goroutine.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, s)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// listener returns a listener that records name and its payload.
func (r *recorder) listener(name string) func(context.Context, any) error {
	return func(_ context.Context, p any) error {
		r.add(fmt.Sprintf("%s:%v", name, p))
		return nil
	}
}

func mustListen(t *testing.T, b *eventbus.Bus, topic string, fn func(context.Context, any) error, opts ...eventbus.ListenOption) *eventbus.Subscription {
	t.Helper()
	sub, err := b.Listen(topic, fn, opts...)
	require.NoError(t, err)
	return sub
}

func TestEmitCallsListenersInSubscriptionOrderBeforeReturning(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	for _, name := range []string{"a", "b", "c"} {
		mustListen(t, b, "order:completed", rec.listener(name))
	}
	mustListen(t, b, "order:other", rec.listener("x"))

	require.NoError(t, b.Emit(context.Background(), "order:completed", 1))
	assert.Equal(t, []string{"a:1", "b:1", "c:1"}, rec.get(), "every listener ran, in order, before Emit returned")
}

func TestEmitRunsListenersOnTheCallersGoroutineWithItsContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	b := eventbus.New()
	var got any
	inside := false
	mustListen(t, b, "t", func(ctx context.Context, _ any) error {
		got = ctx.Value(key{})
		inside = true // a plain write: the race detector proves it is the caller's goroutine
		return nil
	})
	ctx := context.WithValue(context.Background(), key{}, "v")
	require.NoError(t, b.Emit(ctx, "t", nil))
	assert.True(t, inside)
	assert.Equal(t, "v", got)
}

func TestZeroValueBusIsUsable(t *testing.T) {
	t.Parallel()
	var b eventbus.Bus
	require.NoError(t, b.Emit(context.Background(), "nobody:listens", 1))
	assert.Equal(t, 0, b.Len())
	var rec recorder
	_, err := b.Listen("t", rec.listener("a"))
	require.NoError(t, err)
	require.NoError(t, b.Emit(context.Background(), "t", 2))
	assert.Equal(t, []string{"a:2"}, rec.get())
}

func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	sub := mustListen(t, b, "t", rec.listener("a"))
	mustListen(t, b, "t", rec.listener("b"))

	assert.True(t, sub.Active())
	assert.True(t, sub.Unsubscribe(), "the first call removes it")
	assert.False(t, sub.Unsubscribe(), "a second call is harmless")
	assert.False(t, sub.Active())
	require.NoError(t, b.Emit(context.Background(), "t", 1))
	assert.Equal(t, []string{"b:1"}, rec.get())

	var nilSub *eventbus.Subscription
	assert.False(t, nilSub.Unsubscribe(), "a nil subscription is harmless too")
	assert.False(t, nilSub.Active())
}

func TestSubscriptionDescribesItself(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	first := mustListen(t, b, "order:*", func(context.Context, any) error { return nil }, eventbus.WithName("audit"))
	second := mustListen(t, b, "t", namedListener)
	assert.Equal(t, "order:*", first.Topic())
	assert.Equal(t, "audit", first.Name())
	assert.Contains(t, second.Name(), "namedListener", "the default name is the function's")
	assert.Less(t, first.ID(), second.ID(), "ids grow in subscription order")
}

func namedListener(context.Context, any) error { return nil }

func TestOnceRunsAtMostOnce(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	sub := mustListen(t, b, "t", rec.listener("once"), eventbus.Once())
	mustListen(t, b, "t", rec.listener("always"))

	require.NoError(t, b.Emit(context.Background(), "t", 1))
	require.NoError(t, b.Emit(context.Background(), "t", 2))
	assert.Equal(t, []string{"once:1", "always:1", "always:2"}, rec.get())
	assert.False(t, sub.Active(), "a once listener removes itself when it runs")
	assert.False(t, sub.Unsubscribe())
	assert.Equal(t, 1, b.ListenerCount("t"))
}

func TestOnceRunsAtMostOnceUnderConcurrentEmits(t *testing.T) {
	t.Parallel()
	for range 50 {
		b := eventbus.New()
		var mu sync.Mutex
		calls := 0
		mustListen(t, b, "t", func(context.Context, any) error {
			mu.Lock()
			calls++
			mu.Unlock()
			return nil
		}, eventbus.Once())
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				<-start
				assert.NoError(t, b.Emit(context.Background(), "t", nil))
			})
		}
		close(start)
		wg.Wait()
		assert.Equal(t, 1, calls)
	}
}

func TestTypedOnceListener(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	topic := eventbus.NewTopic[int]("n")
	var got []int
	_, err := topic.Listen(b, func(_ context.Context, n int) error {
		got = append(got, n)
		return nil
	}, eventbus.Once())
	require.NoError(t, err)
	require.NoError(t, topic.Emit(context.Background(), b, 1))
	require.NoError(t, topic.Emit(context.Background(), b, 2))
	assert.Equal(t, []int{1}, got)
}

func TestOptionsDescribeThemselves(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give fmt.Stringer
		want string
	}{
		{eventbus.Once(), "eventbus.Once()"},
		{eventbus.WithName("audit"), `eventbus.WithName("audit")`},
		{eventbus.OnRemoved(func() {}), "eventbus.OnRemoved()"},
		{eventbus.WithErrorHandler(nil), "eventbus.WithErrorHandler()"},
		{eventbus.WithObserver(nil), "eventbus.WithObserver(nil)"},
		{eventbus.WithObserver(&callLog{}), "eventbus.WithObserver(*eventbus_test.callLog)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.give.String())
	}
}

func TestFailingListenersAreReportedAndTheNextOneStillRuns(t *testing.T) {
	t.Parallel()
	var reported []*eventbus.ListenerError
	b := eventbus.New(eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.ListenerError) {
		reported = append(reported, err)
	}))
	var rec recorder
	boom := errors.New("boom")
	mustListen(t, b, "t", rec.listener("a"))
	mustListen(t, b, "t", func(context.Context, any) error { return boom }, eventbus.WithName("failing"))
	mustListen(t, b, "t", rec.listener("b"))
	mustListen(t, b, "t", func(context.Context, any) error { panic("kaput") }, eventbus.WithName("panicking"))
	mustListen(t, b, "t", func(context.Context, any) error { panic(boom) }, eventbus.WithName("panicking-error"))
	mustListen(t, b, "t", rec.listener("c"))

	err := b.Emit(context.Background(), "t", 1)

	assert.Equal(t, []string{"a:1", "b:1", "c:1"}, rec.get(), "every healthy listener ran, in order")
	require.Error(t, err)
	require.Len(t, reported, 3)
	assert.Equal(t, "failing", reported[0].Listener)
	assert.Equal(t, "t", reported[0].Topic)
	require.ErrorIs(t, reported[0], boom)

	assert.Equal(t, "panicking", reported[1].Listener)
	var pe *eventbus.PanicError
	require.ErrorAs(t, reported[1], &pe)
	assert.Equal(t, "kaput", pe.Value)
	assert.Contains(t, string(pe.Stack), "bus_test.go", "the stack shows where the listener panicked")

	assert.Equal(t, "panicking-error", reported[2].Listener)
	require.ErrorIs(t, reported[2], boom, "a panic with an error value unwraps to it")

	var joined interface{ Unwrap() []error }
	require.ErrorAs(t, err, &joined)
	assert.Len(t, joined.Unwrap(), 3, "Emit returns every failure, joined")
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), `topic "t": listener failing`)
}

func TestPanickingErrorHandlerDoesNotEscape(t *testing.T) {
	t.Parallel()
	b := eventbus.New(eventbus.WithErrorHandler(func(context.Context, *eventbus.ListenerError) {
		panic("handler")
	}))
	var rec recorder
	mustListen(t, b, "t", func(context.Context, any) error { panic("listener") })
	mustListen(t, b, "t", rec.listener("after"))
	var err error
	assert.NotPanics(t, func() { err = b.Emit(context.Background(), "t", 1) })
	require.Error(t, err, "the failure is still returned")
	assert.Equal(t, []string{"after:1"}, rec.get())
}

func TestNestedEmits(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	mustListen(t, b, "outer", func(ctx context.Context, p any) error {
		rec.add("outer:before")
		err := b.Emit(ctx, "inner", p)
		rec.add("outer:after")
		return err
	})
	mustListen(t, b, "inner", rec.listener("inner"))
	mustListen(t, b, "outer", rec.listener("outer2"))

	require.NoError(t, b.Emit(context.Background(), "outer", 7))
	assert.Equal(t, []string{"outer:before", "inner:7", "outer:after", "outer2:7"}, rec.get())
}

func TestNestedEmitFailureReachesTheOuterEmit(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	boom := errors.New("boom")
	mustListen(t, b, "outer", func(ctx context.Context, p any) error { return b.Emit(ctx, "inner", p) })
	mustListen(t, b, "inner", func(context.Context, any) error { return boom })
	assert.ErrorIs(t, b.Emit(context.Background(), "outer", 1), boom)
}

func TestBadInputIsAnErrorNamingTheTopic(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	ok := func(context.Context, any) error { return nil }
	tests := []struct {
		name     string
		give     string
		fn       func(context.Context, any) error
		wantIs   error
		wantText string
	}{
		{"empty topic", "", ok, eventbus.ErrInvalidTopic, `topic "" is empty`},
		{"nil listener", "order:completed", nil, eventbus.ErrNilListener, `"order:completed"`},
		{"star inside a segment", "ord*", ok, eventbus.ErrInvalidTopic, `"ord*"`},
		{"double star", "order:**", ok, eventbus.ErrInvalidTopic, `"order:**"`},
		{"empty segment in pattern", "order::*", ok, eventbus.ErrInvalidTopic, `"order::*"`},
		{"empty segment in topic", "order::x", ok, eventbus.ErrInvalidTopic, `"order::x"`},
		{"leading separator", ":order", ok, eventbus.ErrInvalidTopic, `":order"`},
		{"trailing separator", "order:", ok, eventbus.ErrInvalidTopic, `"order:"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var sub *eventbus.Subscription
			var err error
			require.NotPanics(t, func() { sub, err = b.Listen(tt.give, tt.fn) })
			assert.Nil(t, sub)
			require.ErrorIs(t, err, tt.wantIs)
			assert.Contains(t, err.Error(), tt.wantText)
		})
	}
	assert.Equal(t, 0, b.Len(), "nothing was subscribed")
}

func TestEmitRefusesMalformedTopics(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	mustListen(t, b, "*", func(context.Context, any) error { return nil })
	for _, give := range []string{"", "order:*", "*", "a::b", "a:"} {
		err := b.Emit(context.Background(), give, nil)
		require.ErrorIs(t, err, eventbus.ErrInvalidTopic, give)
		assert.Contains(t, err.Error(), fmt.Sprintf("%q", give))
	}
}

func TestCountsAndIntrospection(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	noop := func(context.Context, any) error { return nil }
	assert.False(t, b.HasListeners("order:completed"))
	assert.Empty(t, b.Topics())

	mustListen(t, b, "order:completed", noop)
	mustListen(t, b, "order:completed", noop)
	mustListen(t, b, "order:*", noop)
	mustListen(t, b, "user:created", noop)

	assert.Equal(t, 4, b.Len())
	assert.Equal(t, 3, b.ListenerCount("order:completed"), "its own two and the matching pattern")
	assert.Equal(t, 1, b.ListenerCount("order:shipped"), "only the pattern")
	assert.Equal(t, 1, b.ListenerCount("order:*"), "a pattern counts its own listeners")
	assert.Equal(t, 0, b.ListenerCount("nobody"))
	assert.Equal(t, 0, b.ListenerCount(""))
	assert.True(t, b.HasListeners("order:shipped"))
	assert.False(t, b.HasListeners("user:deleted"))
	assert.Equal(t, []string{"order:*", "order:completed", "user:created"}, b.Topics())

	assert.Equal(t, 2, b.Clear("order:completed"), "Clear removes the topic's own listeners")
	assert.Equal(t, 1, b.ListenerCount("order:completed"), "the pattern is not the topic's")
	assert.Equal(t, 0, b.Clear("order:completed"))
	assert.Equal(t, 1, b.Clear("order:*"))
	assert.Equal(t, []string{"user:created"}, b.Topics())
	assert.Equal(t, 1, b.Len())

	mustListen(t, b, "*", noop)
	assert.Equal(t, 2, b.ClearAll())
	assert.Equal(t, 0, b.Len())
	assert.Empty(t, b.Topics())
	assert.False(t, b.HasListeners("user:created"))
}

func TestClearMakesUnsubscribeHarmless(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	sub := mustListen(t, b, "t", func(context.Context, any) error { return nil })
	assert.Equal(t, 1, b.ClearAll())
	assert.False(t, sub.Unsubscribe())
	assert.Equal(t, 0, b.Len())
}

func TestListenEventsReceivesTheEmittedTopic(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var got []eventbus.Event
	_, err := b.ListenEvents("order:*", func(_ context.Context, e eventbus.Event) error {
		got = append(got, e)
		return nil
	})
	require.NoError(t, err)
	_, err = b.ListenEvents("*", func(_ context.Context, e eventbus.Event) error {
		got = append(got, eventbus.Event{Topic: "once " + e.Topic, Payload: e.Payload})
		return nil
	}, eventbus.Once())
	require.NoError(t, err)
	mustListen(t, b, "order:completed", func(context.Context, any) error { return nil })

	require.NoError(t, b.Emit(context.Background(), "order:completed", 1))
	require.NoError(t, eventbus.NewTopic[int]("order:shipped").Emit(context.Background(), b, 2))
	assert.Equal(t, []eventbus.Event{
		{Topic: "order:completed", Payload: 1},
		{Topic: "once order:completed", Payload: 1},
		{Topic: "order:shipped", Payload: 2},
	}, got)

	_, err = b.ListenEvents("x", nil)
	require.ErrorIs(t, err, eventbus.ErrNilListener)
}
