package eventbus_test

// Stress tests of the bus's concurrency promises: each goroutine checks
// what the documentation promises about its own sequence of calls, while
// other goroutines churn the same topics, patterns and lists (growth,
// compaction, entries leaving the table, table rehashes).

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
)

// token is the payload of one goroutine's own emit: listeners count only
// the emits of their own goroutine and step.
type token struct{ g, step int }

// TestStressOwnListenAndUnsubscribeUnderChurn: doc.go:18-28 and
// Subscription.Unsubscribe: a listener subscribed when an emit begins is
// called by it, in subscription order; once Unsubscribe has returned, an
// emit that reaches the listener skips it. Each goroutine subscribes an
// exact, a pattern, a typed and a ListenEvents listener, emits (each is
// called exactly once, in subscription order), unsubscribes one or all of
// them and emits again (the removed ones are not called), on a bus with
// and without an observer, while every other goroutine does the same on
// the same topics.
func TestStressOwnListenAndUnsubscribeUnderChurn(t *testing.T) {
	t.Parallel()
	const (
		goroutines = 6
		steps      = 800
	)
	typed := eventbus.NewTopic[token]("stress:own")
	for _, observed := range []bool{false, true} {
		t.Run(fmt.Sprintf("observed=%v", observed), func(t *testing.T) {
			t.Parallel()
			var over atomic.Int32
			var opts []eventbus.Option
			if observed {
				opts = append(opts, eventbus.WithObserver(strictObserver{over: &over}))
			}
			b := eventbus.New(opts...)
			ctx := context.Background()
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for step := range steps {
						own := token{g, step}
						var mu sync.Mutex
						var order []string
						record := func(name string, payload any) {
							if p, ok := payload.(token); ok && p == own {
								mu.Lock()
								order = append(order, name)
								mu.Unlock()
							}
						}
						subs := make([]*eventbus.Subscription, 0, 4)
						add := func(sub *eventbus.Subscription, err error) {
							if err != nil {
								t.Error(err)
								return
							}
							subs = append(subs, sub)
						}
						add(b.Listen("stress:own", func(_ context.Context, p any) error { record("exact", p); return nil }))
						add(b.Listen("stress:*", func(_ context.Context, p any) error { record("pattern", p); return nil }))
						add(typed.Listen(b, func(_ context.Context, p token) error { record("typed", p); return nil }))
						add(b.ListenEvents("*", func(_ context.Context, e eventbus.Event) error { record("events", e.Payload); return nil }))
						if len(subs) != 4 {
							return
						}
						emit := func() {
							var err error
							if step%2 == 0 {
								err = b.Emit(ctx, "stress:own", own)
							} else {
								err = typed.Emit(ctx, b, own)
							}
							if err != nil {
								t.Error(err)
							}
						}
						emit()
						mu.Lock()
						got := order
						order = nil
						mu.Unlock()
						if !assert.Equal(t, []string{"exact", "pattern", "typed", "events"}, got, "goroutine %d step %d", g, step) {
							return
						}

						// Remove one (or all, every fourth step), then emit again.
						gone := map[string]bool{}
						names := []string{"exact", "pattern", "typed", "events"}
						if step%4 == 3 {
							for i, sub := range subs {
								assert.True(t, sub.Unsubscribe())
								gone[names[i]] = true
							}
						} else {
							i := step % 3
							assert.True(t, subs[i].Unsubscribe())
							gone[names[i]] = true
						}
						emit()
						mu.Lock()
						got = order
						mu.Unlock()
						for _, name := range got {
							assert.False(t, gone[name], "goroutine %d step %d: %s called after its Unsubscribe returned", g, step, name)
						}
						assert.Len(t, got, 4-len(gone), "goroutine %d step %d: the others are still called", g, step)
						for _, sub := range subs {
							sub.Unsubscribe()
						}
					}
				})
			}
			wg.Wait()
			assert.Zero(t, b.Len())
			assert.Empty(t, b.Topics())
			assert.Zero(t, b.ListenerCount("stress:own"))
			assert.Zero(t, over.Load(), "emits that called more listeners than EmitStart was told")
		})
	}
}

// TestStressObserverNeverSeesMoreCallsThanItWasTold: Observer.EmitStart is
// given "how many listeners it found subscribed (listeners removed while
// it runs are skipped, so it may call fewer)". Emits of a topic with
// listeners of its own and of one reached by patterns only run while other
// goroutines subscribe and remove listeners of both; every emit calls at
// most the count it was given.
func TestStressObserverNeverSeesMoreCallsThanItWasTold(t *testing.T) {
	t.Parallel()
	var over atomic.Int32
	b := eventbus.New(eventbus.WithObserver(strictObserver{over: &over}))
	ctx := context.Background()
	stop := make(chan struct{})
	var churn sync.WaitGroup
	for _, name := range []string{"obs:own", "obs:*", "*", "obs:own"} {
		churn.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				first := goListen(t, b, name)
				second := goListen(t, b, name)
				first.Unsubscribe()
				second.Unsubscribe()
			}
		})
	}
	var emits sync.WaitGroup
	for g := range 4 {
		emits.Go(func() {
			for i := range 5000 {
				topic := "obs:own"
				if (g+i)%2 == 1 {
					topic = "obs:patterns-only"
				}
				if err := b.Emit(ctx, topic, i); err != nil {
					t.Error(err)
				}
			}
		})
	}
	emits.Wait()
	close(stop)
	churn.Wait()
	assert.Zero(t, over.Load(), "emits that called more listeners than EmitStart was told")
	assert.Zero(t, b.Len())
}

// strictObserver checks, for every emit, that the listeners called are
// no more than the count EmitStart was given (observer.go:29-30:
// "listeners removed while it runs are skipped, so it may call fewer"),
// and counts in over the emits that called more. (A panic in an Observer
// is dropped: it counts instead.)
type strictObserver struct{ over *atomic.Int32 }

type emitCount struct {
	found  int
	called atomic.Int32
}

type emitCountKey struct{}

func (strictObserver) EmitStart(ctx context.Context, _ string, listeners int) context.Context {
	return context.WithValue(ctx, emitCountKey{}, &emitCount{found: listeners})
}

func (o strictObserver) EmitEnd(ctx context.Context, _ string, _ error) {
	if c, ok := ctx.Value(emitCountKey{}).(*emitCount); !ok || int(c.called.Load()) > c.found {
		o.over.Add(1)
	}
}

func (strictObserver) ListenerStart(ctx context.Context, _ string, _ *eventbus.Subscription) context.Context {
	if c, ok := ctx.Value(emitCountKey{}).(*emitCount); ok {
		c.called.Add(1)
	}
	return nil
}

func (strictObserver) ListenerEnd(context.Context, string, *eventbus.Subscription, error) {}

// TestStressRemovalCountsAddUp: every subscription is removed exactly once
// (options.go:84-88: OnRemoved "runs exactly once ... before the call that
// removed it returns"), and the removals that the API reports add up:
// Unsubscribe's true results, Clear's and ClearAll's counts and the Once
// listeners that ran (a Once listener "runs at most once": the first emit
// that reaches it claims it and removes it) together equal the
// subscriptions made. Emits, Unsubscribe, Clear of topics and patterns and
// ClearAll race on exact, pattern and Once listeners.
func TestStressRemovalCountsAddUp(t *testing.T) {
	t.Parallel()
	const (
		rounds = 40
		subsN  = 64
	)
	ctx := context.Background()
	for round := range rounds {
		b := eventbus.New()
		names := []string{"rm:a", "rm:b", "rm:*", "*"}
		subs := make([]*eventbus.Subscription, subsN)
		onRemoved := make([]atomic.Int32, subsN)
		calls := make([]atomic.Int32, subsN)
		once := make([]bool, subsN)
		for i := range subsN {
			opts := []eventbus.ListenOption{eventbus.OnRemoved(func() {
				onRemoved[i].Add(1)
			})}
			if i%3 == 0 {
				once[i] = true
				opts = append(opts, eventbus.Once())
			}
			subs[i] = mustListen(t, b, names[i%len(names)], func(context.Context, any) error {
				calls[i].Add(1)
				return nil
			}, opts...)
		}
		var removedByAPI atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 8 {
			wg.Go(func() {
				<-start
				for i := range subsN {
					switch (g + i + round) % 8 {
					case 0, 1:
						if subs[(i*7+g)%subsN].Unsubscribe() {
							removedByAPI.Add(1)
						}
					case 2:
						removedByAPI.Add(int64(b.Clear(names[(i+g)%len(names)])))
					case 3:
						if i%16 == 0 {
							removedByAPI.Add(int64(b.ClearAll()))
						}
					default:
						if err := b.Emit(ctx, []string{"rm:a", "rm:b", "rm:c", "other"}[(i+g)%4], i); err != nil {
							t.Error(err)
						}
					}
				}
			})
		}
		close(start)
		wg.Wait()
		removedByAPI.Add(int64(b.ClearAll()))

		fired := int64(0)
		for i := range subsN {
			assert.Equal(t, int32(1), onRemoved[i].Load(), "round %d: OnRemoved of subscription %d", round, i)
			assert.False(t, subs[i].Active())
			if once[i] {
				n := calls[i].Load()
				assert.LessOrEqual(t, n, int32(1), "round %d: Once listener %d ran %d times", round, i, n)
				fired += int64(n)
			}
		}
		assert.Equal(t, int64(subsN), removedByAPI.Load()+fired,
			"round %d: Unsubscribe, Clear, ClearAll and the Once listeners that ran remove each subscription once", round)
		assert.Zero(t, b.Len())
		assert.Empty(t, b.Topics())
	}
}

// TestStressNestedEmitsWithConcurrentUnsubscribe: a listener may
// unsubscribe and emit again, and "nested emits run to completion inside
// the outer one" (doc.go:30-31), while other goroutines remove and add
// listeners of the same topics. Each goroutine's outer listener removes
// its inner listener of a shared topic and then emits that topic: the
// inner listener is not called by the nested emit, and the nested emit
// has called the goroutine's other inner listener before the outer
// listener goes on.
func TestStressNestedEmitsWithConcurrentUnsubscribe(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for step := range 300 {
				own := token{g, step}
				var removedCalls, keptCalls atomic.Int32
				removed, err := b.Listen("nest:inner", func(_ context.Context, p any) error {
					if p == any(own) {
						removedCalls.Add(1)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				kept, err := b.Listen("nest:*", func(_ context.Context, p any) error {
					if p == any(own) {
						keptCalls.Add(1)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				outer, err := b.Listen("outer", func(ctx context.Context, p any) error {
					if p != any(own) {
						return nil
					}
					if !removed.Unsubscribe() {
						return fmt.Errorf("goroutine %d step %d: the inner listener was removed by someone else", g, step)
					}
					if err := b.Emit(ctx, "nest:inner", own); err != nil {
						return err
					}
					if keptCalls.Load() != 1 {
						return fmt.Errorf("goroutine %d step %d: the nested emit returned before it called the kept listener", g, step)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				assert.NoError(t, b.Emit(ctx, "outer", own)) //nolint:testifylint // off the test's goroutine, where require cannot stop the test
				assert.Zero(t, removedCalls.Load(), "goroutine %d step %d: called after its Unsubscribe returned", g, step)
				assert.Equal(t, int32(1), keptCalls.Load(), "goroutine %d step %d", g, step)
				kept.Unsubscribe()
				outer.Unsubscribe()
			}
		})
	}
	wg.Wait()
	assert.Zero(t, b.Len())
}

// TestStressOnceClaimedByOneOfManyEmitters: Once (options.go:50-52) "the
// first emit that reaches it claims it and removes it, also when several
// goroutines emit at the same time", and its OnRemoved runs once, on the
// goroutine of the emit that claimed it, before that emit returns. Many
// Once listeners of one topic and of a pattern are emitted by 8
// goroutines at once; each runs exactly once, and its OnRemoved ran on the
// goroutine whose emit called it, before that emit returned.
func TestStressOnceClaimedByOneOfManyEmitters(t *testing.T) {
	t.Parallel()
	const listeners = 200
	ctx := context.Background()
	for round := range 20 {
		b := eventbus.New()
		type claim struct {
			runs      atomic.Int32
			by        atomic.Int64 // the emitting goroutine, plus one
			removedBy atomic.Int64
		}
		claims := make([]claim, listeners)
		for i := range listeners {
			name := "once:t"
			if i%2 == 1 {
				name = "once:*"
			}
			var emitter atomic.Int64 // the goroutine that ran the listener
			mustListen(t, b, name, func(_ context.Context, p any) error {
				claims[i].runs.Add(1)
				g, _ := p.(int)
				emitter.Store(int64(g + 1))
				claims[i].by.Store(int64(g + 1))
				return nil
			}, eventbus.Once(), eventbus.OnRemoved(func() {
				claims[i].removedBy.Store(emitter.Load())
			}))
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 8 {
			wg.Go(func() {
				<-start
				if err := b.Emit(ctx, "once:t", g); err != nil {
					t.Error(err)
				}
				// Every listener this emit ran has had its OnRemoved.
				for i := range claims {
					if claims[i].by.Load() == int64(g+1) && claims[i].removedBy.Load() != int64(g+1) {
						t.Errorf("round %d: the OnRemoved of listener %d had not run when the emit that claimed it returned", round, i)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		for i := range claims {
			require.Equal(t, int32(1), claims[i].runs.Load(), "round %d: Once listener %d", round, i)
		}
		assert.Zero(t, b.Len())
	}
}
