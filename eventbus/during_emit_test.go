package eventbus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
)

// listenNamed subscribes n listeners to topic that record "<prefix><i>".
func listenNamed(t *testing.T, b *eventbus.Bus, topic, prefix string, n int, rec *recorder) []*eventbus.Subscription {
	t.Helper()
	subs := make([]*eventbus.Subscription, n)
	for i := range subs {
		name := fmt.Sprintf("%s%d", prefix, i)
		subs[i] = mustListen(t, b, topic, func(context.Context, any) error {
			rec.add(name)
			return nil
		})
	}
	return subs
}

func names(prefix string, idx ...int) []string {
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = fmt.Sprintf("%s%d", prefix, n)
	}
	return out
}

func span(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestUnsubscribeDuringEmitSkipsListenersNotYetReached(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give int // index of the listener removed by the first one, among l1..l4
		want []string
	}{
		{"the next listener", 1, []string{"l0", "l2", "l3", "l4"}},
		{"a middle listener", 2, []string{"l0", "l1", "l3", "l4"}},
		{"the last listener", 4, []string{"l0", "l1", "l2", "l3"}},
		{"the running listener itself", 0, []string{"l0", "l1", "l2", "l3", "l4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := eventbus.New()
			var rec recorder
			subs := make([]*eventbus.Subscription, 5)
			subs[0] = mustListen(t, b, "t", func(context.Context, any) error {
				rec.add("l0")
				assert.True(t, subs[tt.give].Unsubscribe())
				return nil
			})
			for i := 1; i < 5; i++ {
				name := fmt.Sprintf("l%d", i)
				subs[i] = mustListen(t, b, "t", func(context.Context, any) error {
					rec.add(name)
					return nil
				})
			}

			require.NoError(t, b.Emit(context.Background(), "t", nil))
			assert.Equal(t, tt.want, rec.get())
			assert.Equal(t, 4, b.ListenerCount("t"))
			assert.False(t, subs[tt.give].Active())
		})
	}
}

func TestUnsubscribeFromAnotherGoroutineDuringEmit(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	inside, resume := make(chan struct{}), make(chan struct{})
	mustListen(t, b, "t", func(context.Context, any) error {
		rec.add("first")
		close(inside)
		<-resume
		return nil
	})
	subs := listenNamed(t, b, "t", "l", 3, &rec)

	done := make(chan error)
	go func() { done <- b.Emit(context.Background(), "t", nil) }()
	<-inside
	require.True(t, subs[1].Unsubscribe(), "removed while the emit runs the first listener")
	close(resume)
	require.NoError(t, <-done)
	assert.Equal(t, []string{"first", "l0", "l2"}, rec.get(), "the emit under way skipped it")
}

func TestListenDuringEmitIsNotCalledByIt(t *testing.T) {
	t.Parallel()
	for _, added := range []int{1, 3, 100} { // 100 outgrows the list: it is copied during the emit
		t.Run(fmt.Sprintf("added=%d", added), func(t *testing.T) {
			t.Parallel()
			b := eventbus.New()
			var rec recorder
			first := true
			mustListen(t, b, "t", func(context.Context, any) error {
				rec.add("l0")
				if first {
					first = false
					listenNamed(t, b, "t", "new", added, &rec)
				}
				return nil
			})
			listenNamed(t, b, "t", "old", 2, &rec)

			require.NoError(t, b.Emit(context.Background(), "t", nil))
			assert.Equal(t, []string{"l0", "old0", "old1"}, rec.get())
			require.NoError(t, b.Emit(context.Background(), "t", nil))
			want := append([]string{"l0", "old0", "old1", "l0", "old0", "old1"}, names("new", span(0, added)...)...)
			assert.Equal(t, want, rec.get())
		})
	}
}

func TestListenFromAnotherGoroutineDuringEmitIsNotCalledByIt(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	inside, resume := make(chan struct{}), make(chan struct{})
	once := sync.OnceFunc(func() {
		close(inside)
		<-resume
	})
	mustListen(t, b, "t", func(context.Context, any) error {
		rec.add("first")
		once()
		return nil
	})
	done := make(chan error)
	go func() { done <- b.Emit(context.Background(), "t", nil) }()
	<-inside
	listenNamed(t, b, "t", "late", 2, &rec)
	close(resume)
	require.NoError(t, <-done)
	assert.Equal(t, []string{"first"}, rec.get())
	require.NoError(t, b.Emit(context.Background(), "t", nil))
	assert.Equal(t, []string{"first", "first", "late0", "late1"}, rec.get())
}

// TestCompactionDuringEmit removes most of a topic's listeners from inside
// a listener, which copies the list to a smaller one while the emit walks
// the old one, and adds some after the copy.
func TestCompactionDuringEmit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		at       int   // the listener that makes the changes
		remove   []int // the listeners it removes
		wantNow  []int // what this emit calls
		wantNext []int // what the next emit calls, before the added ones
	}{
		{
			name:     "ahead of the emit",
			at:       0,
			remove:   span(1, 81),
			wantNow:  append([]int{0}, span(81, 100)...),
			wantNext: append([]int{0}, span(81, 100)...),
		},
		{
			name:     "behind and ahead of the emit",
			at:       50,
			remove:   append(span(0, 50), span(60, 91)...),
			wantNow:  append(span(0, 60), span(91, 100)...),
			wantNext: append(span(50, 60), span(91, 100)...),
		},
		{
			name:     "everything else",
			at:       99,
			remove:   span(0, 99),
			wantNow:  span(0, 100),
			wantNext: []int{99},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := eventbus.New()
			var rec recorder
			subs := make([]*eventbus.Subscription, 100)
			first := true
			for i := range subs {
				name := fmt.Sprintf("l%d", i)
				subs[i] = mustListen(t, b, "t", func(context.Context, any) error {
					rec.add(name)
					if i == tt.at && first {
						first = false
						for _, r := range tt.remove {
							assert.True(t, subs[r].Unsubscribe())
						}
						listenNamed(t, b, "t", "new", 5, &rec)
					}
					return nil
				})
			}

			require.NoError(t, b.Emit(context.Background(), "t", nil))
			assert.Equal(t, names("l", tt.wantNow...), rec.get())
			rec.seen = nil
			require.NoError(t, b.Emit(context.Background(), "t", nil))
			assert.Equal(t, append(names("l", tt.wantNext...), names("new", span(0, 5)...)...), rec.get())
			assert.Equal(t, len(tt.wantNext)+5, b.ListenerCount("t"))
		})
	}
}

func TestClearDuringEmit(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	var cleared int
	mustListen(t, b, "x:t", rec.listener("a"))
	mustListen(t, b, "x:*", rec.listener("p1"))
	mustListen(t, b, "x:t", func(ctx context.Context, p any) error {
		rec.add(fmt.Sprintf("clearer:%v", p))
		if p == 1 {
			cleared = b.Clear("x:t")
		}
		return nil
	})
	mustListen(t, b, "x:t", rec.listener("b"))
	mustListen(t, b, "*", rec.listener("p2"))

	require.NoError(t, b.Emit(context.Background(), "x:t", 1))
	assert.Equal(t, 3, cleared, "a, the clearer and b")
	assert.Equal(t, []string{"a:1", "p1:1", "clearer:1", "p2:1"}, rec.get(), "b was cleared before the emit reached it; patterns stay")
	require.NoError(t, b.Emit(context.Background(), "x:t", 2))
	assert.Equal(t, []string{"a:1", "p1:1", "clearer:1", "p2:1", "p1:2", "p2:2"}, rec.get())
	assert.Equal(t, []string{"*", "x:*"}, b.Topics())
}

func TestClearAllDuringEmit(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	removed := 0
	count := eventbus.OnRemoved(func() { removed++ })
	mustListen(t, b, "x:t", rec.listener("a"), count)
	mustListen(t, b, "x:t", func(context.Context, any) error {
		rec.add("clearer")
		assert.Equal(t, 5, b.ClearAll())
		return nil
	}, count)
	mustListen(t, b, "x:t", rec.listener("b"), count)
	mustListen(t, b, "x:*", rec.listener("p"), count)
	mustListen(t, b, "other", rec.listener("o"), count)

	require.NoError(t, b.Emit(context.Background(), "x:t", 1))
	assert.Equal(t, []string{"a:1", "clearer"}, rec.get())
	assert.Equal(t, 5, removed, "every OnRemoved ran before ClearAll returned")
	assert.Equal(t, 0, b.Len())
	assert.Empty(t, b.Topics())
	require.NoError(t, b.Emit(context.Background(), "x:t", 2))
	assert.Equal(t, []string{"a:1", "clearer"}, rec.get())
}

func TestPatternAddedAfterTopicsExist(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	exact := mustListen(t, b, "a:1", rec.listener("a1"))
	mustListen(t, b, "a:2", rec.listener("a2"))
	mustListen(t, b, "b:1", rec.listener("b1"))
	pattern := mustListen(t, b, "a:*", rec.listener("pattern"))
	ctx := context.Background()

	for _, topic := range []string{"a:1", "a:2", "b:1", "a:3"} {
		require.NoError(t, b.Emit(ctx, topic, topic))
	}
	assert.Equal(t, []string{
		"a1:a:1", "pattern:a:1",
		"a2:a:2", "pattern:a:2",
		"b1:b:1",
		"pattern:a:3",
	}, rec.get(), "topics made before the pattern get it, after their own listeners")
	assert.Equal(t, 2, b.ListenerCount("a:1"))

	rec.seen = nil
	exact.Unsubscribe() // a:1 is left with the pattern only
	require.NoError(t, b.Emit(ctx, "a:1", 1))
	mustListen(t, b, "a:1", rec.listener("again")) // made again, after the pattern
	require.NoError(t, b.Emit(ctx, "a:1", 2))
	pattern.Unsubscribe()
	require.NoError(t, b.Emit(ctx, "a:1", 3))
	require.NoError(t, b.Emit(ctx, "a:2", 4))
	assert.Equal(t, []string{"pattern:1", "pattern:2", "again:2", "again:3", "a2:4"}, rec.get())
}

func TestListenAndUnsubscribeDuringEmit(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	var later *eventbus.Subscription
	mustListen(t, b, "t", func(ctx context.Context, p any) error {
		rec.add(fmt.Sprintf("first:%v", p))
		if p == 1 {
			assert.True(t, later.Unsubscribe(), "removed before this emit reaches it")
			_, err := b.Listen("t", rec.listener("added"))
			return err
		}
		return nil
	})
	later = mustListen(t, b, "t", rec.listener("later"))

	require.NoError(t, b.Emit(context.Background(), "t", 1))
	assert.Equal(t, []string{"first:1"}, rec.get(), "the emit skipped the removed listener and not the added one")
	require.NoError(t, b.Emit(context.Background(), "t", 2))
	assert.Equal(t, []string{"first:1", "first:2", "added:2"}, rec.get(), "the next emit calls the added one")
}

// A call of Unsubscribe that loses to another returns only once the
// listener is off the bus: an emit after it never calls the listener.
func TestLosingUnsubscribeReturnsAfterTheRemoval(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	ctx := context.Background()
	for range 5000 {
		var late sync.WaitGroup
		called := make(chan struct{}, 4)
		sub := mustListen(t, b, "job:done", func(context.Context, any) error {
			called <- struct{}{}
			return nil
		})
		for range 2 {
			late.Go(func() {
				sub.Unsubscribe()
				_ = b.Emit(ctx, "job:done", nil) // after an Unsubscribe returned
			})
		}
		late.Wait()
		require.Empty(t, called, "an emit after Unsubscribe returned called the listener")
	}
}
