package eventbus_test

// This file checks, as a black box, promises of the package documentation
// and of docs/events.md that the other tests leave unchecked or check
// only in part.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
)

// Bad input is an error, never a panic: a nil Option or ListenOption is
// ignored, and the options beside it still apply.
func TestNilOptionsAreIgnored(t *testing.T) {
	t.Parallel()
	reported := 0
	b := eventbus.New(nil, eventbus.WithErrorHandler(func(context.Context, *eventbus.ListenerError) { reported++ }), nil)
	var rec recorder
	sub, err := b.Listen("t", rec.listener("plain"), nil, eventbus.WithName("plain"), nil)
	require.NoError(t, err)
	assert.Equal(t, "plain", sub.Name())
	_, err = b.ListenEvents("t", func(_ context.Context, e eventbus.Event) error {
		rec.add("events:" + e.Topic)
		return nil
	}, nil, eventbus.Once())
	require.NoError(t, err)
	_, err = eventbus.NewTopic[int]("t").Listen(b, func(context.Context, int) error { return errors.New("typed") }, nil)
	require.NoError(t, err)

	require.Error(t, b.Emit(context.Background(), "t", 1))
	require.Error(t, b.Emit(context.Background(), "t", 2))
	assert.Equal(t, []string{"plain:1", "events:t", "plain:2"}, rec.get(), "Once still applies")
	assert.Equal(t, 2, reported, "the error handler still applies")
}

// "A nil fn is ignored": it does not undo an OnRemoved given before it.
func TestOnRemovedNilDoesNotUndoAnEarlierOne(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	calls := 0
	sub := mustListen(t, b, "t", noop, eventbus.OnRemoved(func() { calls++ }), eventbus.OnRemoved(nil))
	require.True(t, sub.Unsubscribe())
	assert.Equal(t, 1, calls)
}

// Unsubscribe of a Once listener that an emit on another goroutine has
// claimed and is running: the emit removed it, so Unsubscribe reports
// false, and OnRemoved runs when the listener returns, before that emit
// returns.
func TestUnsubscribeOfARunningOnceListener(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	inside, resume := make(chan struct{}), make(chan struct{})
	var removed atomic.Int32
	sub := mustListen(t, b, "t", func(context.Context, any) error {
		close(inside)
		<-resume
		return nil
	}, eventbus.Once(), eventbus.OnRemoved(func() { removed.Add(1) }))
	done := make(chan error)
	go func() { done <- b.Emit(context.Background(), "t", nil) }()
	<-inside
	assert.False(t, sub.Active(), "the emit claimed it before calling it")
	assert.Equal(t, 0, b.Len())
	assert.Equal(t, 0, b.ListenerCount("t"))
	assert.False(t, sub.Unsubscribe(), "the emit removed it, not this call")
	assert.Equal(t, int32(0), removed.Load(), "OnRemoved waits for the listener to return")
	close(resume)
	require.NoError(t, <-done)
	assert.Equal(t, int32(1), removed.Load(), "and runs before the emit returns")
}

func TestSubscriptionMethodsAreSafeOnNil(t *testing.T) {
	t.Parallel()
	var sub *eventbus.Subscription
	assert.NotPanics(t, func() {
		assert.False(t, sub.Unsubscribe())
		assert.False(t, sub.Active())
		assert.Empty(t, sub.Topic())
		assert.Empty(t, sub.Name())
		assert.Zero(t, sub.ID())
	})
}

// The error handler is told of each failure as it happens, on the emitting
// goroutine (plain writes: the race detector would see another one), with
// the emit's context, before the next listener runs: on a topic with
// listeners of its own, on one reached by patterns only, and through a
// typed topic, first resolved and then cached.
func TestErrorHandlerRunsAsTheFailureHappens(t *testing.T) {
	t.Parallel()
	type key struct{}
	var steps []string
	b := eventbus.New(eventbus.WithErrorHandler(func(ctx context.Context, err *eventbus.ListenerError) {
		steps = append(steps, fmt.Sprintf("handler %s %s ctx=%v", err.Topic, err.Listener, ctx.Value(key{})))
	}))
	step := func(name string) func(context.Context, any) error {
		return func(ctx context.Context, _ any) error {
			steps = append(steps, fmt.Sprintf("%s ctx=%v", name, ctx.Value(key{})))
			return nil
		}
	}
	mustListen(t, b, "x:*", step("a"), eventbus.WithName("a"))
	mustListen(t, b, "x:*", func(context.Context, any) error { return errors.New("boom") }, eventbus.WithName("b"))
	mustListen(t, b, "x:*", step("c"), eventbus.WithName("c"))
	mustListen(t, b, "x:*", func(context.Context, any) error { panic("kaput") }, eventbus.WithName("d"))
	mustListen(t, b, "x:*", step("e"), eventbus.WithName("e"))
	mustListen(t, b, "x:own", step("own"), eventbus.WithName("own"))
	typed := eventbus.NewTopic[int]("x:typed")

	for _, emit := range []struct {
		topic string
		fn    func(ctx context.Context) error
	}{
		{"x:own", func(ctx context.Context) error { return b.Emit(ctx, "x:own", 1) }},
		{"x:patterns", func(ctx context.Context) error { return b.Emit(ctx, "x:patterns", 1) }},
		{"x:typed", func(ctx context.Context) error { return typed.Emit(ctx, b, 1) }},
		{"x:typed", func(ctx context.Context) error { return typed.Emit(ctx, b, 1) }},
	} {
		steps = nil
		ctx := context.WithValue(context.Background(), key{}, emit.topic)
		err := emit.fn(ctx)
		require.Error(t, err)
		want := []string{
			"a ctx=" + emit.topic,
			"handler " + emit.topic + " b ctx=" + emit.topic,
			"c ctx=" + emit.topic,
			"handler " + emit.topic + " d ctx=" + emit.topic,
			"e ctx=" + emit.topic,
		}
		if emit.topic == "x:own" {
			want = append(want, "own ctx=x:own")
		}
		assert.Equal(t, want, steps, emit.topic)
	}
}

// WithErrorHandler(nil) and WithObserver(nil) restore the defaults: no
// handler, no observer.
func TestNilHandlerAndObserverRestoreTheDefaults(t *testing.T) {
	t.Parallel()
	called := false
	obs := &callLog{}
	b := eventbus.New(
		eventbus.WithErrorHandler(func(context.Context, *eventbus.ListenerError) { called = true }),
		eventbus.WithObserver(obs),
		eventbus.WithErrorHandler(nil),
		eventbus.WithObserver(nil),
	)
	mustListen(t, b, "t", func(context.Context, any) error { return errors.New("boom") })
	require.Error(t, b.Emit(context.Background(), "t", nil), "failures are still returned")
	assert.False(t, called)
	assert.Empty(t, obs.get())
}

// A ListenerError names the emitted topic (not the pattern), the
// listener and its subscription's id; Emit returns one per failure, in
// the order the listeners ran, joined; a PanicError's text has no stack.
func TestListenerErrorDescribesTheFailure(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	boom := errors.New("boom")
	mustListen(t, b, "order:completed", noop) // ids start at 1 and grow
	audit := mustListen(t, b, "order:*", func(context.Context, any) error { return boom }, eventbus.WithName("audit"))
	ledger := mustListen(t, b, "order:completed", func(context.Context, any) error { panic("kaput") }, eventbus.WithName("ledger"))
	typed, err := eventbus.NewTopic[order]("order:completed").Listen(b, func(context.Context, order) error { return nil }, eventbus.WithName("typed"))
	require.NoError(t, err)

	err = b.Emit(context.Background(), "order:completed", "not an order")
	require.Error(t, err)
	var joined interface{ Unwrap() []error }
	require.ErrorAs(t, err, &joined)
	errs := joined.Unwrap()
	require.Len(t, errs, 3)
	les := make([]*eventbus.ListenerError, len(errs))
	for i, e := range errs {
		require.ErrorAs(t, e, &les[i])
		assert.Equal(t, "order:completed", les[i].Topic, "the emitted topic, also for a pattern listener")
	}
	var first *eventbus.ListenerError
	require.ErrorAs(t, err, &first)
	assert.Same(t, les[0], first)

	assert.Equal(t, "audit", les[0].Listener)
	assert.Equal(t, audit.ID(), les[0].ID)
	assert.Equal(t, boom, les[0].Err)
	assert.Equal(t, fmt.Sprintf(`eventbus: topic "order:completed": listener audit (#%d): boom`, audit.ID()), les[0].Error())

	assert.Equal(t, "ledger", les[1].Listener)
	assert.Equal(t, ledger.ID(), les[1].ID)
	var pe *eventbus.PanicError
	require.ErrorAs(t, les[1], &pe)
	assert.Equal(t, "kaput", pe.Value)
	assert.Equal(t, "panic: kaput", pe.Error(), "without the stack")
	require.NoError(t, pe.Unwrap(), "a value that is not an error unwraps to nil")
	assert.Contains(t, string(pe.Stack), "promises_test.go")

	assert.Equal(t, "typed", les[2].Listener)
	assert.Equal(t, typed.ID(), les[2].ID)
	require.ErrorIs(t, les[2], eventbus.ErrPayloadType)

	assert.Equal(t, errors.Join(errs...).Error(), err.Error())
}

// A topic reached by patterns only goes another way than one with
// listeners of its own: there too a failure or a panic stops nothing, and
// each is reported and returned.
func TestFailuresOnATopicReachedByPatternsOnly(t *testing.T) {
	t.Parallel()
	var reported []string
	b := eventbus.New(eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.ListenerError) {
		reported = append(reported, err.Topic+" "+err.Listener)
	}))
	var rec recorder
	boom := errors.New("boom")
	mustListen(t, b, "x:*", rec.listener("p1"))
	mustListen(t, b, "x:*", func(context.Context, any) error { return boom }, eventbus.WithName("failing"))
	mustListen(t, b, "y:*", rec.listener("other"))
	mustListen(t, b, "*", func(context.Context, any) error { panic(boom) }, eventbus.WithName("panicking"))
	mustListen(t, b, "x:*", rec.listener("p2"))

	var err error
	require.NotPanics(t, func() { err = b.Emit(context.Background(), "x:nobody", 1) })
	assert.Equal(t, []string{"p1:1", "p2:1"}, rec.get())
	assert.Equal(t, []string{"x:nobody failing", "x:nobody panicking"}, reported)
	var joined interface{ Unwrap() []error }
	require.ErrorAs(t, err, &joined)
	assert.Len(t, joined.Unwrap(), 2)
	require.ErrorIs(t, err, boom)
	var pe *eventbus.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, boom, pe.Value)
}

// A typed emit that goes through the Topic's cached entry reports
// failures as the first one does.
func TestTypedEmitsThroughTheCacheReportFailures(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	topic := eventbus.NewTopic[int]("n")
	boom := errors.New("boom")
	var after []int
	_, err := topic.Listen(b, func(context.Context, int) error { return boom })
	require.NoError(t, err)
	_, err = topic.Listen(b, func(context.Context, int) error { panic("typed") })
	require.NoError(t, err)
	_, err = topic.Listen(b, func(_ context.Context, n int) error {
		after = append(after, n)
		return nil
	})
	require.NoError(t, err)
	for i := range 3 {
		err = topic.Emit(context.Background(), b, i)
		require.ErrorIs(t, err, boom)
		var pe *eventbus.PanicError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "typed", pe.Value)
	}
	assert.Equal(t, []int{0, 1, 2}, after)
}

// checkNilPayload emits nil through the string API to a typed listener of
// T: it receives the zero T when T is nilable, and is otherwise not called
// and reported with ErrPayloadType.
func checkNilPayload[T any](t *testing.T, nilable bool) {
	t.Helper()
	b := eventbus.New()
	topic := eventbus.NewTopic[T]("n")
	called := false
	var got T
	_, err := topic.Listen(b, func(_ context.Context, v T) error {
		called = true
		got = v
		return nil
	})
	require.NoError(t, err)
	err = b.Emit(context.Background(), "n", nil)
	if nilable {
		require.NoError(t, err, topic.String())
		assert.True(t, called, topic.String())
		assert.True(t, reflect.ValueOf(&got).Elem().IsZero(), topic.String())
		return
	}
	require.ErrorIs(t, err, eventbus.ErrPayloadType, topic.String())
	assert.False(t, called, topic.String())
}

func TestTypedListenerNilPayloadOfEveryKind(t *testing.T) {
	t.Parallel()
	checkNilPayload[*order](t, true)
	checkNilPayload[any](t, true)
	checkNilPayload[error](t, true)
	checkNilPayload[fmt.Stringer](t, true)
	checkNilPayload[map[string]int](t, true)
	checkNilPayload[[]int](t, true)
	checkNilPayload[func()](t, true)
	checkNilPayload[chan int](t, true)
	checkNilPayload[int](t, false)
	checkNilPayload[string](t, false)
	checkNilPayload[bool](t, false)
	checkNilPayload[order](t, false)
	checkNilPayload[[2]int](t, false)
	checkNilPayload[struct{}](t, false)
}

type auditor struct{}

func (*auditor) record(context.Context, any) error { return nil }

func typedNamedListener(context.Context, int) error { return nil }

func eventsNamedListener(context.Context, eventbus.Event) error { return nil }

// Without WithName, a listener is named after its function, as the runtime
// reports it: the user's function, whatever the bus wraps it in.
func TestDefaultNamesAreTheListenerFunctions(t *testing.T) {
	t.Parallel()
	const pkg = "github.com/sprag-go/sprag/eventbus_test."
	b := eventbus.New()
	a := &auditor{}
	method := mustListen(t, b, "t", a.record)
	assert.Equal(t, pkg+"(*auditor).record-fm", method.Name())
	once := mustListen(t, b, "t", a.record, eventbus.Once())
	assert.Equal(t, pkg+"(*auditor).record-fm", once.Name())
	typed, err := eventbus.NewTopic[int]("t").Listen(b, typedNamedListener)
	require.NoError(t, err)
	assert.Equal(t, pkg+"typedNamedListener", typed.Name())
	typedOnce, err := eventbus.NewTopic[int]("t").Listen(b, typedNamedListener, eventbus.Once())
	require.NoError(t, err)
	assert.Equal(t, pkg+"typedNamedListener", typedOnce.Name())
	events, err := b.ListenEvents("t", eventsNamedListener)
	require.NoError(t, err)
	assert.Equal(t, pkg+"eventsNamedListener", events.Name())

	failing := eventbus.New()
	mustListen(t, failing, "t", func(context.Context, any) error { return errors.New("boom") })
	var le *eventbus.ListenerError
	require.ErrorAs(t, failing.Emit(context.Background(), "t", nil), &le)
	assert.Equal(t, pkg+"TestDefaultNamesAreTheListenerFunctions.func1", le.Listener)
}

// Clear and ClearAll run the OnRemoved functions in subscription order,
// also after the lists were copied and across topics and patterns.
func TestClearRunsOnRemovedInSubscriptionOrder(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var removed, all []uint64
	byName := map[string][]uint64{}
	var gaps []*eventbus.Subscription
	for i := range 60 {
		name := []string{"a:t", "b:t", "a:*", "*", "c:t:u"}[i%5]
		var sub *eventbus.Subscription
		sub = mustListen(t, b, name, noop, eventbus.OnRemoved(func() { removed = append(removed, sub.ID()) }))
		if i%3 == 0 {
			gaps = append(gaps, sub) // removed below: the lists are copied
			continue
		}
		byName[name] = append(byName[name], sub.ID())
		all = append(all, sub.ID())
	}
	for _, sub := range gaps {
		require.True(t, sub.Unsubscribe())
	}
	for _, name := range []string{"a:t", "a:*"} {
		removed = nil
		assert.Equal(t, len(byName[name]), b.Clear(name))
		assert.Equal(t, byName[name], removed, "Clear(%q): in subscription order", name)
	}
	rest := slices.DeleteFunc(all, func(id uint64) bool {
		return slices.Contains(byName["a:t"], id) || slices.Contains(byName["a:*"], id)
	})
	removed = nil
	assert.Equal(t, len(rest), b.ClearAll())
	assert.Equal(t, rest, removed, "ClearAll: in subscription order")
}

// An emit of a topic reached by patterns only, or of one with listeners of
// its own, calls the listeners of the moment it began minus those removed
// since: a pattern listener added during it, or the topic's first own
// listener, waits for the next emit, also when so many are added that the
// lists are copied.
func TestChangesDuringAnEmitReachingPatternListeners(t *testing.T) {
	t.Parallel()
	for _, own := range []bool{false, true} {
		for _, added := range []int{1, 100} {
			t.Run(fmt.Sprintf("own=%v added=%d", own, added), func(t *testing.T) {
				t.Parallel()
				b := eventbus.New()
				var rec recorder
				if own {
					mustListen(t, b, "x:y", rec.listener("own"))
				}
				var p3 *eventbus.Subscription
				first := true
				mustListen(t, b, "x:*", func(_ context.Context, p any) error {
					rec.add(fmt.Sprintf("p1:%v", p))
					if first {
						first = false
						for i := range added {
							mustListen(t, b, "x:*", rec.listener(fmt.Sprintf("new%d", i)))
						}
						mustListen(t, b, "x:y", rec.listener("newOwn"))
						assert.True(t, p3.Unsubscribe())
					}
					return nil
				})
				mustListen(t, b, "*", rec.listener("p2"))
				p3 = mustListen(t, b, "x:*", rec.listener("p3"))
				mustListen(t, b, "x:*", rec.listener("p4"))
				ctx := context.Background()

				require.NoError(t, b.Emit(ctx, "x:y", 1))
				want := []string{"p1:1", "p2:1", "p4:1"}
				if own {
					want = append([]string{"own:1"}, want...)
				}
				assert.Equal(t, want, rec.get(), "the added listeners wait; the removed one is skipped")

				rec.seen = nil
				require.NoError(t, b.Emit(ctx, "x:y", 2))
				want = []string{"p1:2", "p2:2", "p4:2"}
				if own {
					want = append([]string{"own:2"}, want...)
				}
				for i := range added {
					want = append(want, fmt.Sprintf("new%d:2", i))
				}
				want = append(want, "newOwn:2")
				assert.Equal(t, want, rec.get(), "the next emit calls them, in subscription order")
			})
		}
	}
}

// Clear of a pattern from inside a listener: the pattern's listeners the
// emit has not reached yet are skipped, on either way an emit goes.
func TestClearOfAPatternDuringAnEmit(t *testing.T) {
	t.Parallel()
	for _, own := range []bool{false, true} {
		t.Run(fmt.Sprintf("own=%v", own), func(t *testing.T) {
			t.Parallel()
			b := eventbus.New()
			var rec recorder
			if own {
				mustListen(t, b, "x:y", rec.listener("own"))
			}
			cleared := 0
			mustListen(t, b, "x:*", func(_ context.Context, p any) error {
				rec.add(fmt.Sprintf("clearer:%v", p))
				if p == 1 {
					cleared = b.Clear("x:*")
				}
				return nil
			})
			mustListen(t, b, "*", rec.listener("star"))
			mustListen(t, b, "x:*", rec.listener("gone"))

			require.NoError(t, b.Emit(context.Background(), "x:y", 1))
			require.NoError(t, b.Emit(context.Background(), "x:y", 2))
			assert.Equal(t, 2, cleared)
			want := []string{"clearer:1", "star:1", "star:2"}
			if own {
				want = []string{"own:1", "clearer:1", "star:1", "own:2", "star:2"}
			}
			assert.Equal(t, want, rec.get())
		})
	}
}

// A typed Topic's entry stays on the bus without listeners; pattern
// listeners added and removed later, by each way of removal, reach it or
// stop reaching it as on any topic.
func TestPatternListenersOfAPinnedTypedTopic(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	topic := eventbus.NewTopic[int]("a:b")
	ctx := context.Background()
	var rec recorder
	emit := func(n int) {
		t.Helper()
		require.NoError(t, topic.Emit(ctx, b, n))
	}
	emit(0) // the entry, without listeners
	p := mustListen(t, b, "a:*", rec.listener("p"))
	emit(1)
	assert.Equal(t, 1, b.ListenerCount("a:b"))
	require.True(t, p.Unsubscribe())
	emit(2)
	assert.Equal(t, 0, b.ListenerCount("a:b"))
	mustListen(t, b, "a:*", rec.listener("q"))
	emit(3)
	assert.Equal(t, 1, b.Clear("a:*"))
	emit(4)
	mustListen(t, b, "*", rec.listener("r"))
	emit(5)
	assert.Equal(t, 1, b.ClearAll())
	emit(6)
	s := mustListen(t, b, "a:b", rec.listener("s"))
	emit(7)
	require.NoError(t, b.Emit(ctx, "a:b", 8))
	require.True(t, s.Unsubscribe())
	mustListen(t, b, "*", rec.listener("u"))
	emit(9)
	require.NoError(t, b.Emit(ctx, "a:b", 10))
	assert.Equal(t, []string{"p:1", "q:3", "r:5", "s:7", "s:8", "u:9", "u:10"}, rec.get())
	assert.Empty(t, slices.DeleteFunc(b.Topics(), func(n string) bool { return n == "*" }))
}

// A Once listener runs at most once and its OnRemoved exactly once, when
// emits race for it on several goroutines, whatever its form and whatever
// way the emits reach it.
func TestOnceUnderConcurrentEmitsOfEveryForm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	typed := eventbus.NewTopic[int]("job:c")
	tests := []struct {
		name   string
		opts   []eventbus.Option
		listen func(b *eventbus.Bus, called func(), opts ...eventbus.ListenOption) error
		emit   func(b *eventbus.Bus, i int) error
	}{
		{
			name: "a pattern listener, through topics with and without listeners of their own",
			listen: func(b *eventbus.Bus, called func(), opts ...eventbus.ListenOption) error {
				if _, err := b.Listen("job:a", noop); err != nil {
					return err
				}
				_, err := b.Listen("job:*", func(context.Context, any) error { called(); return nil }, opts...)
				return err
			},
			emit: func(b *eventbus.Bus, i int) error {
				switch i % 3 {
				case 0:
					return b.Emit(ctx, "job:a", i)
				case 1:
					return b.Emit(ctx, "job:b", i)
				default:
					return typed.Emit(ctx, b, i)
				}
			},
		},
		{
			name: "a typed listener, through typed and string emits",
			listen: func(b *eventbus.Bus, called func(), opts ...eventbus.ListenOption) error {
				_, err := typed.Listen(b, func(context.Context, int) error { called(); return nil }, opts...)
				return err
			},
			emit: func(b *eventbus.Bus, i int) error {
				if i%2 == 0 {
					return typed.Emit(ctx, b, i)
				}
				return b.Emit(ctx, "job:c", i)
			},
		},
		{
			name: "a ListenEvents listener of every topic",
			listen: func(b *eventbus.Bus, called func(), opts ...eventbus.ListenOption) error {
				_, err := b.ListenEvents("*", func(context.Context, eventbus.Event) error { called(); return nil }, opts...)
				return err
			},
			emit: func(b *eventbus.Bus, i int) error { return b.Emit(ctx, fmt.Sprintf("e:%d", i%2), i) },
		},
		{
			name: "a listener on an observed bus",
			opts: []eventbus.Option{eventbus.WithObserver(noopObserver{})},
			listen: func(b *eventbus.Bus, called func(), opts ...eventbus.ListenOption) error {
				_, err := b.Listen("t", func(context.Context, any) error { called(); return nil }, opts...)
				return err
			},
			emit: func(b *eventbus.Bus, i int) error { return b.Emit(ctx, "t", i) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for range 30 {
				b := eventbus.New(tt.opts...)
				var calls, removed atomic.Int32
				require.NoError(t, tt.listen(b, func() { calls.Add(1) }, eventbus.Once(), eventbus.OnRemoved(func() { removed.Add(1) })))
				others := b.Len() - 1
				start := make(chan struct{})
				var wg sync.WaitGroup
				for g := range 8 {
					wg.Go(func() {
						<-start
						for i := range 3 {
							assert.NoError(t, tt.emit(b, g*3+i))
						}
					})
				}
				close(start)
				wg.Wait()
				assert.Equal(t, int32(1), calls.Load(), "the listener ran once")
				assert.Equal(t, int32(1), removed.Load(), "OnRemoved ran once")
				assert.Equal(t, others, b.Len())
			}
		})
	}
}

// One Topic used on several buses at once: each emit reaches the
// listeners of its own bus only.
func TestTypedTopicOnSeveralBusesConcurrently(t *testing.T) {
	t.Parallel()
	topic := eventbus.NewTopic[int]("n")
	const buses, perBus, emits = 3, 2, 300
	var bs [buses]*eventbus.Bus
	var typedCalls, stringCalls [buses]atomic.Int64
	for i := range bs {
		bs[i] = eventbus.New()
		_, err := topic.Listen(bs[i], func(_ context.Context, v int) error {
			if v != i {
				return fmt.Errorf("bus %d got an emit of bus %d", i, v)
			}
			typedCalls[i].Add(1)
			return nil
		})
		require.NoError(t, err)
		mustListen(t, bs[i], "n", func(_ context.Context, p any) error {
			if p != i {
				return fmt.Errorf("bus %d got an emit of bus %v", i, p)
			}
			stringCalls[i].Add(1)
			return nil
		})
	}
	var wg sync.WaitGroup
	for g := range buses * perBus {
		wg.Go(func() {
			i := g % buses
			for range emits {
				assert.NoError(t, topic.Emit(context.Background(), bs[i], i))
			}
		})
	}
	wg.Go(func() { // subscriptions come and go meanwhile, on every bus
		for range emits {
			for _, b := range bs {
				sub, err := topic.Listen(b, func(context.Context, int) error { return nil })
				if assert.NoError(t, err) {
					sub.Unsubscribe()
				}
			}
		}
	})
	wg.Wait()
	for i := range bs {
		assert.Equal(t, int64(perBus*emits), typedCalls[i].Load(), "bus %d", i)
		assert.Equal(t, int64(perBus*emits), stringCalls[i].Load(), "bus %d", i)
		assert.Equal(t, 2, bs[i].Len())
	}
}

// Every method of Bus, Topic and Subscription is safe for concurrent use:
// emits, changes of every kind and introspection run together (the race
// detector checks them), and every subscription's OnRemoved runs exactly
// once.
func TestEveryMethodIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	b := eventbus.New(eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.ListenerError) {
		t.Errorf("unexpected failure: %v", err)
	}))
	typed := eventbus.NewTopic[int]("c:t")
	var made, removed atomic.Int64
	listen := func(name string, opts ...eventbus.ListenOption) *eventbus.Subscription {
		made.Add(1)
		sub, err := b.Listen(name, noop, append(opts, eventbus.OnRemoved(func() { removed.Add(1) }))...)
		if err != nil {
			made.Add(-1)
			t.Error(err)
		}
		return sub
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for i := range 400 {
				assert.NoError(t, b.Emit(ctx, "c:t", i))
				assert.NoError(t, typed.Emit(ctx, b, i))
				assert.NoError(t, b.Emit(ctx, "c:other", i))
			}
		})
	}
	for g, names := range [][3]string{{"c:t", "c:*", "*"}, {"c:other", "*", "c:*:x"}} {
		wg.Go(func() {
			for i := range 200 {
				own := listen(names[0])
				pattern := listen(names[1])
				listen(names[0], eventbus.Once())
				listen(names[2], eventbus.Once())
				if _, err := typed.Listen(b, func(context.Context, int) error { return nil },
					eventbus.OnRemoved(func() { removed.Add(1) })); err == nil {
					made.Add(1)
				}
				_ = own.Active()
				_, _, _ = own.Name(), own.Topic(), own.ID()
				_ = b.Topics()
				_ = b.ListenerCount(names[0])
				_ = b.ListenerCount(names[1])
				_ = b.HasListeners("c:x")
				_ = b.Len()
				own.Unsubscribe()
				if i%2 == g {
					pattern.Unsubscribe()
				}
				switch {
				case i%7 == 0:
					b.ClearAll()
				case i%5 == 0:
					b.Clear(names[1])
				case i%3 == 0:
					b.Clear(names[0])
				}
			}
		})
	}
	wg.Wait()
	b.ClearAll()
	assert.Equal(t, made.Load(), removed.Load(), "every subscription's OnRemoved ran once")
	assert.Equal(t, 0, b.Len())
	assert.Empty(t, b.Topics())
}

// Emits on different goroutines run their listeners on their own
// goroutines, at the same time: a listener that waits for its other call
// returns only if the two emits run at once (were they serialized, this
// test would hang).
func TestEmitsOnSeveralGoroutinesRunAtOnce(t *testing.T) {
	t.Parallel()
	for _, opts := range [][]eventbus.Option{nil, {eventbus.WithObserver(noopObserver{})}} {
		b := eventbus.New(opts...)
		var arrived atomic.Int32
		both := make(chan struct{})
		mustListen(t, b, "t", func(context.Context, any) error {
			if arrived.Add(1) == 2 {
				close(both)
			}
			<-both
			return nil
		})
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { assert.NoError(t, b.Emit(context.Background(), "t", nil)) })
		}
		wg.Wait()
	}
}

// Emit does not look at ctx: a canceled one still reaches every listener,
// as is, on every way an emit goes.
func TestEmitHandsOverAContextItDoesNotLookAt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := eventbus.New()
	var got []context.Context
	record := func(c context.Context, _ any) error {
		got = append(got, c)
		return nil
	}
	mustListen(t, b, "own", record)
	mustListen(t, b, "p:*", record)
	topic := eventbus.NewTopic[int]("typed")
	_, err := topic.Listen(b, func(c context.Context, _ int) error { return record(c, nil) })
	require.NoError(t, err)

	require.NoError(t, b.Emit(ctx, "own", nil))
	require.NoError(t, b.Emit(ctx, "p:only", nil))
	require.NoError(t, topic.Emit(ctx, b, 1))
	require.NoError(t, topic.Emit(ctx, b, 2))
	require.Len(t, got, 4)
	for _, c := range got {
		assert.Same(t, ctx, c, "the listener got the emit's context")
	}
}

// nilContextObserver returns nil contexts, which keep the context it was
// given.
type nilContextObserver struct{ noopObserver }

func (nilContextObserver) EmitStart(context.Context, string, int) context.Context { return nil }

func (nilContextObserver) ListenerStart(context.Context, string, *eventbus.Subscription) context.Context {
	return nil
}

func TestObserverNilContextsKeepTheContextGiven(t *testing.T) {
	t.Parallel()
	type key struct{}
	var handled any
	b := eventbus.New(eventbus.WithObserver(nilContextObserver{}), eventbus.WithErrorHandler(func(ctx context.Context, _ *eventbus.ListenerError) {
		handled = ctx.Value(key{})
	}))
	var got []any
	mustListen(t, b, "t", func(ctx context.Context, _ any) error {
		got = append(got, ctx.Value(key{}))
		return errors.New("boom")
	})
	ctx := context.WithValue(context.Background(), key{}, "v")
	require.Error(t, b.Emit(ctx, "t", nil))
	assert.Equal(t, []any{"v"}, got)
	assert.Equal(t, "v", handled)
}

// A refused emit reaches no Observer method, whether string or typed.
func TestRefusedEmitsAreNotObserved(t *testing.T) {
	t.Parallel()
	obs := &callLog{}
	b := eventbus.New(eventbus.WithObserver(obs))
	mustListen(t, b, "*", noop)
	ctx := context.Background()
	for _, topic := range []string{"", "a::b", "a:", "x:*", "*"} {
		require.ErrorIs(t, b.Emit(ctx, topic, nil), eventbus.ErrInvalidTopic, topic)
		require.ErrorIs(t, eventbus.NewTopic[int](topic).Emit(ctx, b, 1), eventbus.ErrInvalidTopic, topic)
	}
	assert.Empty(t, obs.get())
}

// "A malformed name has none": not even the listeners of "*".
func TestListenerCountOfMalformedNames(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	mustListen(t, b, "*", noop)
	mustListen(t, b, "a:*", noop)
	for _, name := range []string{"", ":a", "a:", "a::b", "ord*", "a:**", "*:", "a::*"} {
		assert.Equal(t, 0, b.ListenerCount(name), name)
		assert.False(t, b.HasListeners(name), name)
		assert.Equal(t, 0, b.Clear(name), name)
	}
	assert.Equal(t, 2, b.Len())
}

// A Once listener that panics, whose OnRemoved panics too: both are
// reported, nothing escapes, and the next listener still runs.
func TestOnceListenerAndItsOnRemovedBothPanicking(t *testing.T) {
	t.Parallel()
	var reported []*eventbus.ListenerError
	b := eventbus.New(eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.ListenerError) {
		reported = append(reported, err)
	}))
	var rec recorder
	sub := mustListen(t, b, "t", func(context.Context, any) error { panic("listener") },
		eventbus.Once(), eventbus.WithName("once"), eventbus.OnRemoved(func() { panic("removed") }))
	mustListen(t, b, "t", rec.listener("after"))

	var err error
	require.NotPanics(t, func() { err = b.Emit(context.Background(), "t", 1) })
	var pe *eventbus.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "listener", pe.Value)
	assert.Equal(t, []string{"after:1"}, rec.get())
	assert.False(t, sub.Active())
	require.Len(t, reported, 2)
	var onRemoved, listener int
	for _, le := range reported {
		assert.Equal(t, "once", le.Listener)
		assert.Equal(t, sub.ID(), le.ID)
		if errors.Is(le, eventbus.ErrOnRemoved) {
			onRemoved++
			require.ErrorAs(t, le, &pe)
			assert.Equal(t, "removed", pe.Value)
		} else {
			listener++
		}
	}
	assert.Equal(t, 1, onRemoved)
	assert.Equal(t, 1, listener)
}

func TestSeparatorWildcardAndIsPattern(t *testing.T) {
	t.Parallel()
	assert.Equal(t, ':', eventbus.Separator)
	assert.Equal(t, "*", eventbus.Wildcard)
	for _, name := range []string{"*", "a:*", "ord*", "**", "a::*"} {
		assert.True(t, eventbus.IsPattern(name), "%q holds a '*', well formed or not", name)
	}
	for _, name := range []string{"", "a", "a:b", "a::b"} {
		assert.False(t, eventbus.IsPattern(name), name)
	}
}

// Every refusal of bad input names the topic, through the string API and
// the typed one.
func TestBadInputOfEveryListenNamesTheTopic(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	_, err := b.ListenEvents("a::b", func(context.Context, eventbus.Event) error { return nil })
	require.ErrorIs(t, err, eventbus.ErrInvalidTopic)
	assert.Contains(t, err.Error(), `"a::b"`)
	_, err = b.ListenEvents("order:*", nil)
	require.ErrorIs(t, err, eventbus.ErrNilListener)
	assert.Contains(t, err.Error(), `"order:*"`)
	_, err = b.Listen("order:*", nil)
	require.ErrorIs(t, err, eventbus.ErrNilListener)
	assert.Contains(t, err.Error(), `"order:*"`)
	_, err = eventbus.NewTopic[int]("order:completed").Listen(b, nil)
	require.ErrorIs(t, err, eventbus.ErrNilListener)
	assert.Contains(t, err.Error(), `"order:completed"`)
	_, err = eventbus.NewTopic[int]("ord*").Listen(b, func(context.Context, int) error { return nil })
	require.ErrorIs(t, err, eventbus.ErrInvalidTopic)
	assert.Contains(t, err.Error(), `"ord*"`)
	err = eventbus.NewTopic[int]("order:completed").Emit(context.Background(), nil, 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"order:completed"`)
	assert.Equal(t, 0, b.Len())
}

// Emit allocates nothing while the listeners succeed, whatever their form
// (string, typed, ListenEvents, a Once listener that ran), on both ways an
// emit goes, for nested emits, on a bus with an error handler or an
// observer, and for a typed emit of a pointer that string listeners
// receive. Not parallel: AllocsPerRun counts every goroutine's.
func TestEmitsDoNotAllocateWithAnyKindOfListener(t *testing.T) {
	plain := eventbus.New(eventbus.WithErrorHandler(func(context.Context, *eventbus.ListenerError) {}))
	observed := eventbus.New(eventbus.WithObserver(noopObserver{}))
	for _, b := range []*eventbus.Bus{plain, observed} {
		var s sink
		events := func(_ context.Context, e eventbus.Event) error {
			s.n.Add(e.Payload.(order).Total)
			return nil
		}
		_, err := b.ListenEvents("a:b", events)
		require.NoError(t, err)
		_, err = b.ListenEvents("a:*", events)
		require.NoError(t, err)
		_, err = eventbus.NewTopic[order]("a:b").Listen(b, s.typedListener)
		require.NoError(t, err)
		mustListen(t, b, "a:b", s.anyListener, eventbus.Once())
		mustListen(t, b, "nested", func(ctx context.Context, p any) error { return b.Emit(ctx, "a:b", p) })
		ptr := eventbus.NewTopic[*order]("ptr")
		mustListen(t, b, "ptr", func(_ context.Context, p any) error {
			s.n.Add(p.(*order).Total)
			return nil
		})
		_, err = ptr.Listen(b, func(_ context.Context, o *order) error {
			s.n.Add(o.Total)
			return nil
		})
		require.NoError(t, err)
		pinned := eventbus.NewTopic[order]("pinned")
		ctx := context.Background()
		var payload any = order{ID: 1, Total: 3}
		o := &order{ID: 2, Total: 5}
		require.NoError(t, b.Emit(ctx, "a:b", payload))  // the Once listener runs
		require.NoError(t, ptr.Emit(ctx, b, o))          // caches the bus
		require.NoError(t, pinned.Emit(ctx, b, order{})) // an entry without listeners

		for _, tt := range []struct {
			name string
			emit func()
		}{
			{"a topic with listeners of its own", func() { _ = b.Emit(ctx, "a:b", payload) }},
			{"a topic reached by a pattern only", func() { _ = b.Emit(ctx, "a:c", payload) }},
			{"a nested emit", func() { _ = b.Emit(ctx, "nested", payload) }},
			{"a typed emit of a pointer", func() { _ = ptr.Emit(ctx, b, o) }},
			{"a string emit of a typed topic's entry without listeners", func() { _ = b.Emit(ctx, "pinned", payload) }},
		} {
			assert.Zero(t, testing.AllocsPerRun(100, tt.emit), tt.name)
		}
	}
}

// bytesPerChange returns the bytes allocated, on average, by a Listen and
// an Unsubscribe made on a bus that holds n listeners: of one topic, or of
// n topics (distinct), each change then being of a new topic. It makes 4n
// changes, so that the amortized growth and compaction of the lists and
// the table are counted as often at every n.
func bytesPerChange(n int, distinct bool) float64 {
	b := eventbus.New()
	topics := entityTopics(4 * n)
	for i := range n {
		topic := "t"
		if distinct {
			topic = topics[i]
		}
		_, _ = b.Listen(topic, noop)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 4 * n {
		topic := "t"
		if distinct {
			topic = topics[(n+i)%len(topics)]
		}
		sub, _ := b.Listen(topic, noop)
		sub.Unsubscribe()
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(b)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(4*n)
}

// "Listen and Unsubscribe ... on a topic, cost the same at 100,000
// listeners as at 1,000": no change copies a whole list or the table
// except the amortized growth and compaction, so the bytes a change
// allocates do not grow with the listeners (a copy per change would make
// them grow a hundredfold). Not parallel: it reads the allocation
// counters.
func TestListenAndUnsubscribeCostTheSameAtAnySize(t *testing.T) {
	small, large := 1_000, manyListeners()
	for _, distinct := range []bool{false, true} {
		atSmall, atLarge := bytesPerChange(small, distinct), bytesPerChange(large, distinct)
		t.Logf("distinct topics=%v: %.0f B/change at %d listeners, %.0f at %d", distinct, atSmall, small, atLarge, large)
		assert.Less(t, atLarge, 2*atSmall, "distinct topics=%v", distinct)
	}
}

// The memory figures of the package documentation, which are for 100,000
// listeners: an idle listener of one topic holds 191 bytes, and a topic
// 91 more. Not parallel: it measures the heap.
func TestIdleMemoryMatchesTheDocumentation(t *testing.T) {
	const n = 100_000
	topics := entityTopics(n)
	subs := make([]*eventbus.Subscription, n)

	base := heapInUse()
	one := eventbus.New()
	for i := range subs {
		subs[i], _ = one.Listen("order:completed", noop)
	}
	perListener := (heapInUse() - base) / float64(n)
	runtime.KeepAlive(one)
	clear(subs)

	base = heapInUse()
	many := eventbus.New()
	for i, topic := range topics {
		subs[i], _ = many.Listen(topic, noop)
	}
	perTopic := (heapInUse()-base)/float64(n) - perListener
	runtime.KeepAlive(many)

	t.Logf("%.0f B/listener, %.0f B/topic", perListener, perTopic)
	assert.LessOrEqual(t, perListener, 195.0, "B/listener")
	assert.LessOrEqual(t, perTopic, 95.0, "B/topic")
}

// "Listen ... never panics": not on a nil *Bus either, which is an error
// naming the topic, as it is for a typed Topic.
func TestListenOnANilBusIsAnError(t *testing.T) {
	t.Parallel()
	var b *eventbus.Bus
	var err error
	require.NotPanics(t, func() { _, err = b.Listen("order:completed", noop) })
	require.ErrorContains(t, err, `"order:completed"`)
	require.NotPanics(t, func() {
		_, err = b.ListenEvents("order:*", func(context.Context, eventbus.Event) error { return nil })
	})
	require.ErrorContains(t, err, `"order:*"`)
}

// A nil *Bus refuses Listen and has no listeners: its introspection
// reports none and its Clear and ClearAll remove none, without a panic.
func TestPromiseNilBusHasNoListeners(t *testing.T) {
	var b *eventbus.Bus
	_, err := b.Listen("t", func(context.Context, any) error { return nil })
	require.ErrorContains(t, err, "nil *eventbus.Bus")
	assert.Zero(t, b.ListenerCount("t"))
	assert.False(t, b.HasListeners("t"))
	assert.Zero(t, b.Len())
	assert.Nil(t, b.Topics())
	assert.Zero(t, b.Clear("t"))
	assert.Zero(t, b.ClearAll())
	assert.Panics(t, func() { _ = b.Emit(context.Background(), "t", nil) }, "Emit spends no check on a nil bus")
}

// Given several times, every OnRemoved runs, in the order given, also after
// one that panicked; the panic is reported with ErrOnRemoved.
func TestPromiseEveryOnRemovedRunsInOrder(t *testing.T) {
	var reported []error
	b := eventbus.New(eventbus.WithErrorHandler(func(_ context.Context, le *eventbus.ListenerError) {
		reported = append(reported, le.Err)
	}))
	var order []string
	sub, err := b.Listen("t", func(context.Context, any) error { return nil },
		eventbus.OnRemoved(func() { order = append(order, "first"); panic("first") }),
		eventbus.OnRemoved(nil),
		eventbus.OnRemoved(func() { order = append(order, "second") }))
	require.NoError(t, err)
	require.True(t, sub.Unsubscribe())
	assert.Equal(t, []string{"first", "second"}, order)
	require.Len(t, reported, 1)
	require.ErrorIs(t, reported[0], eventbus.ErrOnRemoved)
}
