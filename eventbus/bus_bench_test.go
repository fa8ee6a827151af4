package eventbus_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sprag-go/sprag/eventbus"
)

// order is the payload of the benchmarks: a small struct, as events are.
type order struct {
	ID    int64
	Total int64
}

// sink is what every listener below does: add the order's total to an
// atomic counter. Listeners may run on several goroutines at once, so even
// the smallest real listener guards its state; an atomic add is that
// smallest work, and it keeps the call from being optimized away. The
// counter sits on cache lines of its own: wherever the heap put it next to
// the bus's data, BenchmarkEmit/listeners=1 moved from 20 to 30 ns/op
// between runs of the same binary.
type sink struct {
	_ [64]byte
	n atomic.Int64
	_ [64]byte
}

func (s *sink) anyListener(_ context.Context, p any) error {
	s.n.Add(p.(order).Total)
	return nil
}

func (s *sink) typedListener(_ context.Context, o order) error {
	s.n.Add(o.Total)
	return nil
}

var listenerCounts = []int{1, 10}

// BenchmarkDirectLoop is the floor: a plain loop over a slice of listener
// functions, with no bus at all.
func BenchmarkDirectLoop(b *testing.B) {
	for _, n := range listenerCounts {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			var s sink
			ls := make([]func(context.Context, any) error, n)
			for i := range ls {
				ls[i] = s.anyListener
			}
			ctx := context.Background()
			var payload any = order{ID: 1, Total: 3}
			b.ReportAllocs()
			for b.Loop() {
				for _, l := range ls {
					_ = l(ctx, payload)
				}
			}
		})
	}
}

// BenchmarkEmit emits on a string topic, which the bus must look up.
func BenchmarkEmit(b *testing.B) {
	for _, n := range listenerCounts {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			var s sink
			bus := eventbus.New()
			for range n {
				if _, err := bus.Listen("order:completed", s.anyListener); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			var payload any = order{ID: 1, Total: 3}
			b.ReportAllocs()
			for b.Loop() {
				if err := bus.Emit(ctx, "order:completed", payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEmitTyped emits on a typed topic to typed listeners.
func BenchmarkEmitTyped(b *testing.B) {
	for _, n := range listenerCounts {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			var s sink
			bus := eventbus.New()
			topic := eventbus.NewTopic[order]("order:completed")
			for range n {
				if _, err := topic.Listen(bus, s.typedListener); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			payload := order{ID: 1, Total: 3}
			b.ReportAllocs()
			for b.Loop() {
				if err := topic.Emit(ctx, bus, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEmitWithPatterns emits on a string topic while 100 pattern
// listeners are subscribed to other topics: it must cost what
// BenchmarkEmit/listeners=1 costs.
func BenchmarkEmitWithPatterns(b *testing.B) {
	var s sink
	bus := eventbus.New()
	if _, err := bus.Listen("order:completed", s.anyListener); err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		if _, err := bus.Listen(fmt.Sprintf("other%d:*", i), s.anyListener); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	var payload any = order{ID: 1, Total: 3}
	b.ReportAllocs()
	for b.Loop() {
		if err := bus.Emit(ctx, "order:completed", payload); err != nil {
			b.Fatal(err)
		}
	}
}

const parallelListeners = 4

// BenchmarkEmitParallel emits from every P at once to 4 listeners.
func BenchmarkEmitParallel(b *testing.B) {
	var s sink
	bus := eventbus.New()
	for range parallelListeners {
		if _, err := bus.Listen("order:completed", s.anyListener); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	var payload any = order{ID: 1, Total: 3}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := bus.Emit(ctx, "order:completed", payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// mutexBus is the baseline a hand-written bus usually is: a map of listener
// slices behind a sync.RWMutex.
type mutexBus struct {
	mu        sync.RWMutex
	listeners map[string][]func(context.Context, any) error
}

func (m *mutexBus) listen(topic string, fn func(context.Context, any) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listeners[topic] = append(m.listeners[topic], fn)
}

func (m *mutexBus) emit(ctx context.Context, topic string, payload any) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, l := range m.listeners[topic] {
		_ = l(ctx, payload)
	}
}

// BenchmarkMutexBusParallel is BenchmarkEmitParallel on mutexBus.
func BenchmarkMutexBusParallel(b *testing.B) {
	var s sink
	bus := &mutexBus{listeners: map[string][]func(context.Context, any) error{}}
	for range parallelListeners {
		bus.listen("order:completed", s.anyListener)
	}
	ctx := context.Background()
	var payload any = order{ID: 1, Total: 3}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bus.emit(ctx, "order:completed", payload)
		}
	})
}

// BenchmarkMutexBus is mutexBus on one goroutine, to compare with
// BenchmarkEmit/listeners=1.
func BenchmarkMutexBus(b *testing.B) {
	var s sink
	bus := &mutexBus{listeners: map[string][]func(context.Context, any) error{}}
	bus.listen("order:completed", s.anyListener)
	ctx := context.Background()
	var payload any = order{ID: 1, Total: 3}
	b.ReportAllocs()
	for b.Loop() {
		bus.emit(ctx, "order:completed", payload)
	}
}

// BenchmarkDirectLoopRecover is DirectLoop with what the bus's contract
// adds to any loop over listeners: a deferred recover, so that a panicking
// listener is reported instead of crashing the emitter. It is the floor of
// any bus that keeps that promise.
func BenchmarkDirectLoopRecover(b *testing.B) {
	for _, n := range listenerCounts {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			var s sink
			ls := make([]func(context.Context, any) error, n)
			for i := range ls {
				ls[i] = s.anyListener
			}
			ctx := context.Background()
			var payload any = order{ID: 1, Total: 3}
			b.ReportAllocs()
			for b.Loop() {
				_ = recoveringLoop(ctx, ls, payload)
			}
		})
	}
}

func recoveringLoop(ctx context.Context, ls []func(context.Context, any) error, payload any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	for _, l := range ls {
		if err = l(ctx, payload); err != nil {
			return err
		}
	}
	return nil
}

// noopObserver observes nothing: what an observer costs the bus itself.
type noopObserver struct{}

func (noopObserver) EmitStart(ctx context.Context, _ string, _ int) context.Context { return ctx }
func (noopObserver) EmitEnd(context.Context, string, error)                         {}
func (noopObserver) ListenerStart(ctx context.Context, _ string, _ *eventbus.Subscription) context.Context {
	return ctx
}
func (noopObserver) ListenerEnd(context.Context, string, *eventbus.Subscription, error) {}

// BenchmarkEmitObserved is BenchmarkEmit on a bus with a no-op Observer.
func BenchmarkEmitObserved(b *testing.B) {
	for _, n := range listenerCounts {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			var s sink
			bus := eventbus.New(eventbus.WithObserver(noopObserver{}))
			for range n {
				if _, err := bus.Listen("order:completed", s.anyListener); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			var payload any = order{ID: 1, Total: 3}
			b.ReportAllocs()
			for b.Loop() {
				if err := bus.Emit(ctx, "order:completed", payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

const (
	churnEmitters = 8
	churners      = 2
)

// BenchmarkEmitChurn emits from 8 goroutines to the 4 listeners of a
// topic, without and with 2 more goroutines that subscribe and unsubscribe
// listeners of the same topic as fast as they can meanwhile. emits/s is
// the emit rate of both runs; ns/op is the time per emit.
func BenchmarkEmitChurn(b *testing.B) {
	for _, churn := range []bool{false, true} {
		name := "churn=off"
		if churn {
			name = "churn=on"
		}
		b.Run(name, func(b *testing.B) {
			var s sink
			bus := eventbus.New()
			for range parallelListeners {
				if _, err := bus.Listen("order:completed", s.anyListener); err != nil {
					b.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var changes atomic.Int64
			if churn {
				for range churners {
					wg.Go(func() {
						for ctx.Err() == nil {
							sub, err := bus.Listen("order:completed", noop)
							if err != nil {
								b.Error(err)
								return
							}
							sub.Unsubscribe()
							changes.Add(2)
						}
					})
				}
			}
			var payload any = order{ID: 1, Total: 3}
			per := b.N/churnEmitters + 1
			b.ReportAllocs()
			b.ResetTimer()
			var emit sync.WaitGroup
			for range churnEmitters {
				emit.Go(func() {
					for range per {
						if err := bus.Emit(ctx, "order:completed", payload); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			emit.Wait()
			b.StopTimer()
			cancel()
			wg.Wait()
			seconds := b.Elapsed().Seconds()
			b.ReportMetric(float64(per*churnEmitters)/seconds, "emits/s")
			b.ReportMetric(float64(changes.Load())/seconds, "changes/s")
		})
	}
}
