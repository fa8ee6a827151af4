package queue_test

import (
	"context"
	"sync"
	"testing"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/spragtest"
)

// BenchmarkQueue measures an item's way through a queue: Enqueue, a
// worker, the handler and the figures. BenchmarkQueueBaseline is the same
// with a bare buffered channel and a goroutine.
func BenchmarkQueue(b *testing.B) {
	p := &spragtest.Probe{}
	spragtest.Start(b, "svc", p, spragtest.WithRuntime(sprag.NewRuntime(nil)))
	var handled sync.WaitGroup
	q, err := queue.New(p, func(context.Context, int) error {
		handled.Done()
		return nil
	}, queue.Capacity(1024))
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
}

func BenchmarkQueueBaseline(b *testing.B) {
	ch := make(chan int, 1024)
	var handled sync.WaitGroup
	handler := func(context.Context, int) error {
		handled.Done()
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
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
	<-done
}
