package sprag_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

// startedPlain starts a service with no hooks for a benchmark.
func startedPlain(b *testing.B) *plain {
	b.Helper()
	p := &plain{}
	if err := sprag.Bind(p, "bench", sprag.NewRuntime(nil)); err != nil {
		b.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return p
}

// liveBytes returns the heap and stack in use after a full collection.
func liveBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

const idleIntervals = 100_000

// BenchmarkIdleIntervals measures what an idle interval costs: 100,000 of
// them on one service, an hour apart, reported as bytes per interval (heap
// and stacks after GC). A goroutine per interval would cost about 3,000 B.
func BenchmarkIdleIntervals(b *testing.B) {
	noop := func(context.Context) error { return nil }
	b.ReportAllocs()
	var perInterval float64
	for b.Loop() {
		p := startedPlain(b)
		before := liveBytes()
		for range idleIntervals {
			p.Interval(time.Hour, noop)
		}
		after := liveBytes()
		perInterval = float64(after-before) / idleIntervals
		if err := p.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(perInterval, "B/interval")
}

// BenchmarkIdleGoroutineIntervals is the baseline BenchmarkIdleIntervals
// avoids: an interval as a goroutine parked on a ticker.
func BenchmarkIdleGoroutineIntervals(b *testing.B) {
	b.ReportAllocs()
	var perInterval float64
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		before := liveBytes()
		for range idleIntervals {
			wg.Go(func() {
				t := time.NewTicker(time.Hour)
				defer t.Stop()
				for {
					select {
					case <-t.C:
					case <-ctx.Done():
						return
					}
				}
			})
		}
		after := liveBytes()
		perInterval = float64(after-before) / idleIntervals
		cancel()
		wg.Wait()
	}
	b.ReportMetric(perInterval, "B/interval")
}

// BenchmarkSpawn starts a task and waits for it to finish, b.N times: the
// round trip of a managed goroutine. The task only marks a WaitGroup done.
func BenchmarkSpawn(b *testing.B) {
	p := startedPlain(b)
	defer func() { _ = p.Stop(context.Background()) }()
	var wg sync.WaitGroup
	work := func(context.Context) error {
		wg.Done()
		return nil
	}
	b.ReportAllocs()
	for b.Loop() {
		wg.Add(1)
		p.Spawn(work)
		wg.Wait()
	}
}

// BenchmarkRawGo is BenchmarkSpawn's baseline: a go statement and a
// WaitGroup, same work.
func BenchmarkRawGo(b *testing.B) {
	var wg sync.WaitGroup
	work := func(context.Context) error {
		wg.Done()
		return nil
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		wg.Add(1)
		go func() { _ = work(ctx) }()
		wg.Wait()
	}
}

const parkedTasks = 10_000

// BenchmarkStopWithTasks stops a service whose 10,000 tasks are parked on
// their context.
func BenchmarkStopWithTasks(b *testing.B) {
	park := func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	}
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		p := startedPlain(b)
		for range parkedTasks {
			p.Spawn(park)
		}
		b.StartTimer()
		if err := p.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawCancel is BenchmarkStopWithTasks's baseline: 10,000
// goroutines parked on a context, then cancel and WaitGroup.Wait.
func BenchmarkRawCancel(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range parkedTasks {
			wg.Go(func() { <-ctx.Done() })
		}
		b.StartTimer()
		cancel()
		wg.Wait()
	}
}
