package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
)

// Edge cases of re-entrancy, introspection and typed topics, checked
// against the package documentation.

func TestEdgeListenerUnsubscribesEarlierAndLater(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	subs := make([]*eventbus.Subscription, 5)
	for i := range subs {
		i := i
		subs[i] = mustListen(t, b, "t", func(context.Context, any) error {
			rec.add(fmt.Sprint(i))
			if i == 2 {
				assert.True(t, subs[0].Unsubscribe())
				assert.True(t, subs[4].Unsubscribe())
				assert.True(t, subs[2].Unsubscribe()) // itself
			}
			return nil
		})
	}
	require.NoError(t, b.Emit(context.Background(), "t", nil))
	assert.Equal(t, []string{"0", "1", "2", "3"}, rec.get(), "a later listener removed during the emit is skipped")
	require.NoError(t, b.Emit(context.Background(), "t", nil))
	assert.Equal(t, []string{"0", "1", "2", "3", "1", "3"}, rec.get())
	assert.Equal(t, 2, b.ListenerCount("t"))
	assert.Equal(t, 2, b.Len())
}

func TestEdgeClearAndClearAllInsideListener(t *testing.T) {
	t.Parallel()
	for _, all := range []bool{false, true} {
		b := eventbus.New()
		var rec recorder
		var removed atomic.Int32
		onRem := eventbus.OnRemoved(func() { removed.Add(1) })
		mustListen(t, b, "t", rec.listener("a"), onRem)
		mustListen(t, b, "t", func(context.Context, any) error {
			rec.add("clear")
			if all {
				assert.Equal(t, 5, b.ClearAll())
			} else {
				assert.Equal(t, 3, b.Clear("t"))
			}
			return nil
		}, onRem)
		mustListen(t, b, "t", rec.listener("c"), onRem)
		mustListen(t, b, "t:*", rec.listener("p"), onRem) // does not match "t"
		mustListen(t, b, "*", rec.listener("star"), onRem)
		require.NoError(t, b.Emit(context.Background(), "t", 1))
		if all {
			assert.Equal(t, []string{"a:1", "clear"}, rec.get(), "ClearAll skips every later listener")
			assert.EqualValues(t, 5, removed.Load())
			assert.Zero(t, b.Len())
			assert.Empty(t, b.Topics())
		} else {
			assert.Equal(t, []string{"a:1", "clear", "star:1"}, rec.get(), "Clear(topic) leaves the patterns")
			assert.EqualValues(t, 3, removed.Load())
			assert.Equal(t, []string{"*", "t:*"}, b.Topics())
		}
	}
}

func TestEdgeOnceListenerReEmitsItsTopic(t *testing.T) {
	t.Parallel()
	for _, observed := range []bool{false, true} {
		var opts []eventbus.Option
		if observed {
			opts = append(opts, eventbus.WithObserver(nopObserver{}))
		}
		b := eventbus.New(opts...)
		var calls, removedCalls atomic.Int32
		var sub *eventbus.Subscription
		sub = mustListen(t, b, "t", func(ctx context.Context, _ any) error {
			calls.Add(1)
			assert.False(t, sub.Active(), "claimed before it runs")
			assert.Zero(t, removedCalls.Load(), "OnRemoved runs when the listener returns")
			return b.Emit(ctx, "t", nil)
		}, eventbus.Once(), eventbus.OnRemoved(func() { removedCalls.Add(1) }))
		require.NoError(t, b.Emit(context.Background(), "t", nil))
		require.NoError(t, b.Emit(context.Background(), "t", nil))
		assert.EqualValues(t, 1, calls.Load(), "observed=%v", observed)
		assert.EqualValues(t, 1, removedCalls.Load())
		assert.False(t, sub.Unsubscribe())
		assert.Zero(t, b.Len())
	}
}

func TestEdgeOnRemovedListensAgainAndPanics(t *testing.T) {
	t.Parallel()
	var handled []*eventbus.ListenerError
	b := eventbus.New(eventbus.WithErrorHandler(func(_ context.Context, le *eventbus.ListenerError) {
		handled = append(handled, le)
	}))
	var rec recorder
	var resub func()
	resub = func() {
		_, err := b.Listen("t", rec.listener("x"), eventbus.WithName("again"), eventbus.Once(), eventbus.OnRemoved(resub))
		assert.NoError(t, err)
	}
	resub()
	for i := range 3 {
		require.NoError(t, b.Emit(context.Background(), "t", i))
	}
	assert.Equal(t, []string{"x:0", "x:1", "x:2"}, rec.get(), "a listener subscribed by OnRemoved gets the next emit, not the current one")
	assert.Equal(t, 1, b.Len())

	sub := mustListen(t, b, "p", rec.listener("p"), eventbus.WithName("boom"), eventbus.OnRemoved(func() { panic("on removed") }))
	assert.True(t, sub.Unsubscribe(), "a panic in OnRemoved does not undo the removal")
	assert.False(t, sub.Active())
	require.Len(t, handled, 1)
	require.ErrorIs(t, handled[0], eventbus.ErrOnRemoved)
	var pe *eventbus.PanicError
	require.ErrorAs(t, handled[0], &pe)
	assert.Equal(t, "boom", handled[0].Listener)
	assert.Equal(t, "p", handled[0].Topic)
}

// panicObserver panics in every method.
type panicObserver struct{ calls atomic.Int32 }

func (o *panicObserver) EmitStart(context.Context, string, int) context.Context {
	o.calls.Add(1)
	panic("emit start")
}

func (o *panicObserver) EmitEnd(context.Context, string, error) { o.calls.Add(1); panic("emit end") }
func (o *panicObserver) ListenerStart(context.Context, string, *eventbus.Subscription) context.Context {
	o.calls.Add(1)
	panic("listener start")
}

func (o *panicObserver) ListenerEnd(context.Context, string, *eventbus.Subscription, error) {
	o.calls.Add(1)
	panic("listener end")
}

func TestEdgePanickingObserverEveryListenerRuns(t *testing.T) {
	t.Parallel()
	o := &panicObserver{}
	var handled atomic.Int32
	b := eventbus.New(eventbus.WithObserver(o), eventbus.WithErrorHandler(func(context.Context, *eventbus.ListenerError) { handled.Add(1) }))
	var rec recorder
	mustListen(t, b, "t", rec.listener("a"))
	mustListen(t, b, "t", func(context.Context, any) error { return errors.New("fail") })
	mustListen(t, b, "*", func(context.Context, any) error { panic("listener") })
	mustListen(t, b, "t", rec.listener("d"))
	err := b.Emit(context.Background(), "t", 1)
	assert.Equal(t, []string{"a:1", "d:1"}, rec.get())
	var les []*eventbus.ListenerError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var le *eventbus.ListenerError
		require.ErrorAs(t, e, &le)
		les = append(les, le)
	}
	require.Len(t, les, 2)
	var pe *eventbus.PanicError
	require.ErrorAs(t, les[1], &pe)
	assert.EqualValues(t, 2, handled.Load())
	assert.EqualValues(t, 2+4*2, o.calls.Load(), "EmitStart, EmitEnd, and ListenerStart and ListenerEnd per listener")
	// A topic reached by patterns only, and a typed emit, on the same bus.
	rec2 := 0
	_, err = eventbus.NewTopic[int]("u").Listen(b, func(context.Context, int) error { rec2++; return nil })
	require.NoError(t, err)
	require.Error(t, eventbus.NewTopic[int]("u").Emit(context.Background(), b, 1), "the '*' listener panics")
	assert.Equal(t, 1, rec2)
}

func TestEdgeErrorHandlerEmitsAndListens(t *testing.T) {
	t.Parallel()
	var b *eventbus.Bus
	var rec recorder
	b = eventbus.New(eventbus.WithErrorHandler(func(ctx context.Context, le *eventbus.ListenerError) {
		if le.Topic == "t" {
			_ = b.Emit(ctx, "failure", le.Listener)
			_, _ = b.Listen("t", rec.listener("late"))
		}
	}))
	mustListen(t, b, "failure", rec.listener("f"))
	mustListen(t, b, "t", func(context.Context, any) error { return errors.New("x") }, eventbus.WithName("bad"))
	mustListen(t, b, "t", rec.listener("after"))
	err := b.Emit(context.Background(), "t", 1)
	require.Error(t, err)
	assert.Equal(t, []string{"f:bad", "after:1"}, rec.get(), "the handler runs before the next listener; its listener waits for the next emit")
	assert.Equal(t, 3, b.ListenerCount("t"))
}

func TestEdgeDeepReEntrantChain(t *testing.T) {
	t.Parallel()
	const depth = 5000
	b := eventbus.New()
	var deepest atomic.Int64
	mustListen(t, b, "chain", func(ctx context.Context, p any) error {
		n := p.(int)
		if int64(n) > deepest.Load() {
			deepest.Store(int64(n))
		}
		if n < depth {
			return b.Emit(ctx, "chain", n+1)
		}
		return nil
	})
	require.NoError(t, b.Emit(context.Background(), "chain", 1))
	assert.EqualValues(t, depth, deepest.Load())
}

type stringer interface{ String() string }

type named struct{ n string }

func (x *named) String() string { return x.n }

func TestEdgeTypedTopicsOfNilablePayloads(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	ctx := context.Background()
	iface := eventbus.NewTopic[stringer]("x:iface")
	ptr := eventbus.NewTopic[*named]("x:ptr")
	val := eventbus.NewTopic[named]("x:val")
	var got []string
	_, err := iface.Listen(b, func(_ context.Context, s stringer) error {
		if s == nil {
			got = append(got, "iface:nil")
		} else {
			got = append(got, "iface:"+fmt.Sprintf("%T", s))
		}
		return nil
	})
	require.NoError(t, err)
	_, err = ptr.Listen(b, func(_ context.Context, p *named) error {
		got = append(got, fmt.Sprintf("ptr:%v", p == nil))
		return nil
	})
	require.NoError(t, err)
	_, err = val.Listen(b, func(context.Context, named) error { got = append(got, "val"); return nil })
	require.NoError(t, err)

	require.NoError(t, b.Emit(ctx, "x:iface", nil))
	require.NoError(t, b.Emit(ctx, "x:iface", &named{"a"}))
	require.NoError(t, iface.Emit(ctx, b, nil))
	require.NoError(t, b.Emit(ctx, "x:ptr", nil))
	require.NoError(t, ptr.Emit(ctx, b, nil))
	require.ErrorIs(t, b.Emit(ctx, "x:val", nil), eventbus.ErrPayloadType, "nil is a wrong type for a struct")
	require.ErrorIs(t, b.Emit(ctx, "x:iface", 3), eventbus.ErrPayloadType)
	require.ErrorIs(t, b.Emit(ctx, "x:ptr", named{}), eventbus.ErrPayloadType)
	assert.Equal(t, []string{"iface:nil", "iface:*eventbus_test.named", "iface:nil", "ptr:true", "ptr:true"}, got)
}

func TestEdgeSameFunctionTwice(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var n atomic.Int32
	fn := func(context.Context, any) error { n.Add(1); return nil }
	s1 := mustListen(t, b, "t", fn)
	s2 := mustListen(t, b, "t", fn)
	assert.NotEqual(t, s1.ID(), s2.ID())
	assert.Equal(t, s1.Name(), s2.Name())
	require.NoError(t, b.Emit(context.Background(), "t", nil))
	assert.EqualValues(t, 2, n.Load())
	assert.True(t, s1.Unsubscribe())
	require.NoError(t, b.Emit(context.Background(), "t", nil))
	assert.EqualValues(t, 3, n.Load())
	assert.True(t, s2.Active())
}

func TestEdgePatternShapes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"*", []string{"a", "a:b", "a:b:c:d:e:f:g:h"}, nil},
		{"*:*", []string{"a:b", "a:b:c:d"}, []string{"a"}},
		{"a:*:c:*", []string{"a:x:c:d", "a:x:c:d:e:f"}, []string{"a:x:c", "a:x:y:c:d", "b:x:c:d"}},
		{"*:b", []string{"a:b", "z:b"}, []string{"b", "a:b:c", "a:c"}},
		{"a:b:c:d:e:f:g:h:i:j:*", []string{"a:b:c:d:e:f:g:h:i:j:k", "a:b:c:d:e:f:g:h:i:j:k:l"}, []string{"a:b:c:d:e:f:g:h:i:j"}},
	}
	for _, c := range cases {
		for _, withTopic := range []bool{false, true} {
			b := eventbus.New()
			var hits atomic.Int32
			mustListen(t, b, c.pattern, func(context.Context, any) error { hits.Add(1); return nil })
			for _, topic := range append(append([]string(nil), c.match...), c.miss...) {
				if withTopic {
					mustListen(t, b, topic, func(context.Context, any) error { return nil })
				}
				hits.Store(0)
				require.NoError(t, b.Emit(context.Background(), topic, nil))
				want := 0
				for _, m := range c.match {
					if m == topic {
						want = 1
					}
				}
				assert.EqualValues(t, want, hits.Load(), "%q on %q (own listener %v)", c.pattern, topic, withTopic)
				own := 0
				if withTopic {
					own = 1
				}
				assert.Equal(t, want+own, b.ListenerCount(topic), "%q on %q", c.pattern, topic)
			}
		}
	}
	b := eventbus.New()
	for _, bad := range []string{"a:*x", "**", "a::*", "*:", ":*", "a:**:b"} {
		_, err := b.Listen(bad, func(context.Context, any) error { return nil })
		require.ErrorIs(t, err, eventbus.ErrInvalidTopic, bad)
		assert.Contains(t, err.Error(), fmt.Sprintf("%q", bad))
		assert.Zero(t, b.ListenerCount(bad))
	}
}

// Under churn on other goroutines, introspection of a topic whose own
// listeners never change stays exact, and Topics always holds it.
func TestEdgeIntrospectionDuringChurn(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	for range 3 {
		mustListen(t, b, "stable", func(context.Context, any) error { return nil })
	}
	mustListen(t, b, "stable:*", func(context.Context, any) error { return nil })
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s, err := b.Listen(fmt.Sprintf("churn:%d:%d", g, i%7), func(context.Context, any) error { return nil })
				if err != nil {
					t.Error(err)
					return
				}
				p, _ := b.Listen("*", func(context.Context, any) error { return nil })
				_ = b.Emit(context.Background(), "stable", nil)
				s.Unsubscribe()
				p.Unsubscribe()
			}
		}()
	}
	for range 2000 {
		n := b.ListenerCount("stable")
		assert.True(t, n >= 3 && n <= 5, "count %d", n)
		assert.Equal(t, 1, b.ListenerCount("stable:*"))
		topics := b.Topics()
		assert.Contains(t, topics, "stable")
		assert.Contains(t, topics, "stable:*")
		assert.GreaterOrEqual(t, b.Len(), 4)
	}
	close(stop)
	wg.Wait()
	assert.Equal(t, 3, b.ListenerCount("stable"))
	assert.Equal(t, []string{"stable", "stable:*"}, b.Topics())
	assert.Equal(t, 4, b.Len())
}

func TestEdgeEmitAllocatesNothingWithReEntrantSuccess(t *testing.T) {
	if eventbus.RaceEnabled {
		t.Skip("the race detector allocates")
	}
	b := eventbus.New()
	ctx := context.Background()
	mustListen(t, b, "outer", func(ctx context.Context, _ any) error { return b.Emit(ctx, "inner", 1) })
	mustListen(t, b, "inner", func(context.Context, any) error { return nil })
	_, err := b.ListenEvents("*", func(context.Context, eventbus.Event) error { return nil })
	require.NoError(t, err)
	payload := any(7)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = b.Emit(ctx, "outer", payload) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = b.Emit(ctx, "only:pattern", payload) }))
}

func TestEdgeOnceListenerAndOnRemovedBothPanic(t *testing.T) {
	t.Parallel()
	for _, observed := range []bool{false, true} {
		var opts []eventbus.Option
		var handled []*eventbus.ListenerError
		opts = append(opts, eventbus.WithErrorHandler(func(_ context.Context, le *eventbus.ListenerError) { handled = append(handled, le) }))
		if observed {
			opts = append(opts, eventbus.WithObserver(nopObserver{}))
		}
		b := eventbus.New(opts...)
		ran := 0
		_, err := b.Listen("order:*", func(context.Context, any) error { panic("listener") }, eventbus.Once(),
			eventbus.OnRemoved(func() { panic("onremoved") }), eventbus.WithName("o"))
		require.NoError(t, err)
		mustListen(t, b, "order:1", func(context.Context, any) error { ran++; return nil })
		err = b.Emit(context.Background(), "order:1", nil)
		var pe *eventbus.PanicError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "listener", pe.Value)
		require.NotErrorIs(t, err, eventbus.ErrOnRemoved)
		assert.Equal(t, 1, ran)
		require.Len(t, handled, 2, "observed=%v", observed)
		var onRem, lis *eventbus.ListenerError
		for _, le := range handled {
			if errors.Is(le, eventbus.ErrOnRemoved) {
				onRem = le
			} else {
				lis = le
			}
		}
		require.NotNil(t, onRem)
		require.NotNil(t, lis)
		assert.Equal(t, "order:*", onRem.Topic, "OnRemoved's report names the subscription's pattern")
		assert.Equal(t, "order:1", lis.Topic)
		require.NoError(t, b.Emit(context.Background(), "order:1", nil))
		assert.Equal(t, 2, ran)
		assert.Equal(t, 1, b.Len())
	}
}
