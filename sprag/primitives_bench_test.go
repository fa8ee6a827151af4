package sprag_test

import (
	"context"
	"sync"
	"testing"

	"github.com/sprag-go/sprag/sprag"
)

// BenchmarkQueue measures an item's way through a queue: Enqueue, a
// worker, the handler and the figures. BenchmarkQueueBaseline is the same
// with a bare buffered channel and a goroutine.
func BenchmarkQueue(b *testing.B) {
	p := startedPlain(b)
	var handled sync.WaitGroup
	q, err := sprag.NewQueue(p, func(context.Context, int) error {
		handled.Done()
		return nil
	}, sprag.Capacity(1024))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		handled.Add(1)
		if err := q.Enqueue(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
	handled.Wait()
	if err := p.Stop(ctx); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkQueueBaseline(b *testing.B) {
	ch := make(chan int, 1024)
	var handled sync.WaitGroup
	handler := func(context.Context, int) error {
		handled.Done()
		return nil
	}
	go func() {
		for item := range ch {
			_ = handler(context.Background(), item)
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		handled.Add(1)
		ch <- 1
	}
	handled.Wait()
	close(ch)
}

// BenchmarkObservableSet measures a Set that notifies one subscriber.
// BenchmarkObservableSetBaseline is a mutex-guarded value with a slice of
// callbacks, which has no ordering, ownership or panic guarantees.
func BenchmarkObservableSet(b *testing.B) {
	p := startedPlain(b)
	o, err := sprag.NewObservable(p, 0)
	if err != nil {
		b.Fatal(err)
	}
	var sum int
	if _, err := o.Subscribe(p, func(_ context.Context, v int) error {
		sum += v
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		o.Set(i)
	}
	if err := p.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkObservableSetBaseline(b *testing.B) {
	var mu sync.Mutex
	var value, sum int
	subs := []func(context.Context, int) error{func(_ context.Context, v int) error {
		sum += v
		return nil
	}}
	set := func(v int) {
		mu.Lock()
		value = v
		fns := subs
		mu.Unlock()
		for _, fn := range fns {
			_ = fn(context.Background(), v)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		set(i)
	}
	_ = value
}
