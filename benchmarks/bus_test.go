package benchmarks

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	evbus "github.com/asaskevich/EventBus"

	"github.com/sprag-go/sprag/eventbus"
)

type order struct {
	ID    int64
	Total int64
}

// Every listener does the same work: add the order's total to an atomic
// counter, the least a listener that may run on several goroutines does.
// The counter sits on cache lines of its own: wherever the heap put it
// next to the bus's data, the timings moved by up to 50% between runs.
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

// evbusListener is the same work in the form EventBus calls (by reflection).
func (s *sink) evbusListener(o order) { s.n.Add(o.Total) }

// mutexBus is the bus people write by hand: a map of slices behind a
// sync.RWMutex.
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

const topicName = "order:completed"

// BenchmarkEmit emits one event to n listeners of one topic.
func BenchmarkEmit(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			ctx := context.Background()
			payload := order{ID: 1, Total: 3}
			var boxed any = payload

			b.Run("direct-loop", func(b *testing.B) {
				var s sink
				ls := make([]func(context.Context, any) error, n)
				for i := range ls {
					ls[i] = s.anyListener
				}
				b.ReportAllocs()
				for b.Loop() {
					for _, l := range ls {
						_ = l(ctx, boxed)
					}
				}
			})
			b.Run("sprag-typed", func(b *testing.B) {
				var s sink
				bus := eventbus.New()
				topic := eventbus.NewTopic[order](topicName)
				for range n {
					if _, err := topic.Listen(bus, s.typedListener); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				for b.Loop() {
					_ = topic.Emit(ctx, bus, payload)
				}
			})
			b.Run("sprag-string", func(b *testing.B) {
				var s sink
				bus := eventbus.New()
				for range n {
					if _, err := bus.Listen(topicName, s.anyListener); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				for b.Loop() {
					_ = bus.Emit(ctx, topicName, boxed)
				}
			})
			b.Run("mutex-bus", func(b *testing.B) {
				var s sink
				bus := &mutexBus{listeners: map[string][]func(context.Context, any) error{}}
				for range n {
					bus.listen(topicName, s.anyListener)
				}
				b.ReportAllocs()
				for b.Loop() {
					bus.emit(ctx, topicName, boxed)
				}
			})
			b.Run("asaskevich-EventBus", func(b *testing.B) {
				var s sink
				bus := evbus.New()
				for range n {
					if err := bus.Subscribe(topicName, s.evbusListener); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				for b.Loop() {
					bus.Publish(topicName, payload)
				}
			})
		})
	}
}

// BenchmarkEmitParallel emits from every P at once to 4 listeners.
func BenchmarkEmitParallel(b *testing.B) {
	const listeners = 4
	ctx := context.Background()
	payload := order{ID: 1, Total: 3}
	var boxed any = payload

	b.Run("sprag-string", func(b *testing.B) {
		var s sink
		bus := eventbus.New()
		for range listeners {
			if _, err := bus.Listen(topicName, s.anyListener); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = bus.Emit(ctx, topicName, boxed)
			}
		})
	})
	b.Run("mutex-bus", func(b *testing.B) {
		var s sink
		bus := &mutexBus{listeners: map[string][]func(context.Context, any) error{}}
		for range listeners {
			bus.listen(topicName, s.anyListener)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				bus.emit(ctx, topicName, boxed)
			}
		})
	})
	b.Run("asaskevich-EventBus", func(b *testing.B) {
		var s sink
		bus := evbus.New()
		for range listeners {
			if err := bus.Subscribe(topicName, s.evbusListener); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				bus.Publish(topicName, payload)
			}
		})
	})
}

// TestContendersAgree checks that every contender delivers the event to
// every listener, so that the benchmarks compare the same work.
func TestContendersAgree(t *testing.T) {
	ctx := context.Background()
	payload := order{ID: 1, Total: 3}
	var typed, str, mutex, ev sink

	bus := eventbus.New()
	topic := eventbus.NewTopic[order](topicName)
	strBus := eventbus.New()
	mb := &mutexBus{listeners: map[string][]func(context.Context, any) error{}}
	eb := evbus.New()
	for range 2 {
		if _, err := topic.Listen(bus, typed.typedListener); err != nil {
			t.Fatal(err)
		}
		if _, err := strBus.Listen(topicName, str.anyListener); err != nil {
			t.Fatal(err)
		}
		mb.listen(topicName, mutex.anyListener)
		if err := eb.Subscribe(topicName, ev.evbusListener); err != nil {
			t.Fatal(err)
		}
	}
	if err := topic.Emit(ctx, bus, payload); err != nil {
		t.Fatal(err)
	}
	if err := strBus.Emit(ctx, topicName, payload); err != nil {
		t.Fatal(err)
	}
	mb.emit(ctx, topicName, payload)
	eb.Publish(topicName, payload)
	for name, s := range map[string]*sink{"typed": &typed, "string": &str, "mutex": &mutex, "EventBus": &ev} {
		if got := s.n.Load(); got != 6 {
			t.Errorf("%s: listeners saw %d, want 6", name, got)
		}
	}
}
