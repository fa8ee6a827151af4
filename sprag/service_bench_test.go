package sprag_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

// startedPlain starts a service with no hooks for a benchmark, on a
// runtime of its own; the benchmark stops it.
func startedPlain(b *testing.B) *plain { return startedOn(b, sprag.NewRuntime(nil)) }

// startedOn starts a service with no hooks on rt for a benchmark; the
// benchmark stops it.
func startedOn(b *testing.B, rt sprag.Runtime) *plain {
	b.Helper()
	p := &plain{}
	if err := sprag.Bind(p, "bench", rt); err != nil {
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
			if _, err := p.Interval(time.Hour, noop); err != nil {
				b.Fatal(err)
			}
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
		if _, err := p.Spawn(work); err != nil {
			b.Fatal(err)
		}
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
// their context. The timer runs from the Stop, once every task is parked.
func BenchmarkStopWithTasks(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		p := startedPlain(b)
		var parked sync.WaitGroup
		parked.Add(parkedTasks)
		park := func(ctx context.Context) error {
			done := ctx.Done()
			parked.Done()
			<-done
			return nil
		}
		for range parkedTasks {
			if _, err := p.Spawn(park); err != nil {
				b.Fatal(err)
			}
		}
		parked.Wait()
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
		var wg, parked sync.WaitGroup
		parked.Add(parkedTasks)
		for range parkedTasks {
			wg.Go(func() {
				done := ctx.Done()
				parked.Done()
				<-done
			})
		}
		parked.Wait()
		b.StartTimer()
		cancel()
		wg.Wait()
	}
}
