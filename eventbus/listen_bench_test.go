package eventbus_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/sprag-go/sprag/eventbus"
)

// The benchmarks of this file measure what subscriptions cost: the time to
// subscribe n listeners and remove them all, per listener, which must not
// grow with n, and the memory an idle listener and an idle topic hold.

var listenSizes = []int{1_000, 100_000}

// noop is the listener of these benchmarks: a plain function, so that no
// closure is allocated per listener and the figures are the bus's own.
func noop(context.Context, any) error { return nil }

// entityTopics returns n per-entity topics, "order:<i>:updated".
func entityTopics(n int) []string {
	topics := make([]string, n)
	for i := range topics {
		topics[i] = fmt.Sprintf("order:%d:updated", i)
	}
	return topics
}

// perListener reports the time of the benchmark per listener subscribed.
func perListener(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/listener")
}

// BenchmarkListenDistinctTopics subscribes one listener to each of n
// per-entity topics, then unsubscribes them all, in subscription order.
func BenchmarkListenDistinctTopics(b *testing.B) {
	for _, n := range listenSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			topics := entityTopics(n)
			subs := make([]*eventbus.Subscription, n)
			bus := eventbus.New()
			b.ReportAllocs()
			for b.Loop() {
				for i, topic := range topics {
					sub, err := bus.Listen(topic, noop)
					if err != nil {
						b.Fatal(err)
					}
					subs[i] = sub
				}
				for _, sub := range subs {
					sub.Unsubscribe()
				}
			}
			perListener(b, n)
		})
	}
}

// BenchmarkListenOneTopic subscribes n listeners to one topic, then
// unsubscribes them all, in subscription order.
func BenchmarkListenOneTopic(b *testing.B) {
	for _, n := range listenSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			subs := make([]*eventbus.Subscription, n)
			bus := eventbus.New()
			b.ReportAllocs()
			for b.Loop() {
				for i := range subs {
					sub, err := bus.Listen("order:completed", noop)
					if err != nil {
						b.Fatal(err)
					}
					subs[i] = sub
				}
				for _, sub := range subs {
					sub.Unsubscribe()
				}
			}
			perListener(b, n)
		})
	}
}

// mutexListenBus is the usual Go bus: a map of listener slices behind a
// mutex, where unsubscribing finds the listener in its topic's slice.
type mutexListenBus struct {
	mu        sync.Mutex
	nextID    uint64
	listeners map[string][]mutexListener
}

type mutexListener struct {
	id uint64
	fn func(context.Context, any) error
}

func (m *mutexListenBus) listen(topic string, fn func(context.Context, any) error) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextID++
	m.listeners[topic] = append(m.listeners[topic], mutexListener{id: m.nextID, fn: fn})
	return m.nextID
}

func (m *mutexListenBus) unsubscribe(topic string, id uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ls := m.listeners[topic]
	i := slices.IndexFunc(ls, func(l mutexListener) bool { return l.id == id })
	if i < 0 {
		return
	}
	if ls = slices.Delete(ls, i, i+1); len(ls) == 0 {
		delete(m.listeners, topic)
	} else {
		m.listeners[topic] = ls
	}
}

// BenchmarkMutexBusListen is BenchmarkListenDistinctTopics on
// mutexListenBus, the baseline of both Listen benchmarks. (On one topic,
// its unsubscribe costs O(listeners) each, quadratic in all.)
func BenchmarkMutexBusListen(b *testing.B) {
	for _, n := range listenSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			topics := entityTopics(n)
			ids := make([]uint64, n)
			bus := &mutexListenBus{listeners: map[string][]mutexListener{}}
			b.ReportAllocs()
			for b.Loop() {
				for i, topic := range topics {
					ids[i] = bus.listen(topic, noop)
				}
				for i, topic := range topics {
					bus.unsubscribe(topic, ids[i])
				}
			}
			perListener(b, n)
		})
	}
}

// heapInUse returns the bytes of live heap objects after a full collection.
func heapInUse() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc)
}

// BenchmarkIdleMemory measures what idle subscriptions hold: 100,000
// listeners of one topic (B/listener), and 100,000 topics of one listener
// each, whose cost beyond their listener is B/topic. The topic names and
// the slice of subscriptions exist before the first measure and are not
// counted.
func BenchmarkIdleMemory(b *testing.B) {
	const n = 100_000
	topics := entityTopics(n)
	subs := make([]*eventbus.Subscription, n)
	var perListener, perTopic float64
	for b.Loop() {
		base := heapInUse()
		one := eventbus.New()
		for i := range subs {
			subs[i], _ = one.Listen("order:completed", noop)
		}
		oneTopic := heapInUse()
		runtime.KeepAlive(one)
		clear(subs)

		base2 := heapInUse()
		many := eventbus.New()
		for i, topic := range topics {
			subs[i], _ = many.Listen(topic, noop)
		}
		manyTopics := heapInUse()
		runtime.KeepAlive(many)
		clear(subs)

		perListener = (oneTopic - base) / n
		perTopic = (manyTopics-base2)/n - perListener
	}
	b.ReportMetric(perListener, "B/listener")
	b.ReportMetric(perTopic, "B/topic")
}
