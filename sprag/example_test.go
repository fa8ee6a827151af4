package sprag_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

// MetricsService is the Services page's example: it collects on an
// interval and counts the orders other services announce.
type MetricsService struct {
	sprag.Service
	orders atomic.Int64
}

func (m *MetricsService) OnStart(ctx context.Context) error {
	m.Interval(time.Minute, m.collect, sprag.Label("collect"))
	_, err := m.Listen("order:completed", m.onOrder)
	return err
}

func (m *MetricsService) collect(ctx context.Context) error {
	return m.Emit(ctx, "metrics:updated", m.orders.Load())
}

func (m *MetricsService) onOrder(context.Context, any) error {
	m.orders.Add(1)
	return nil
}

func ExampleService_Interval() {
	rt := sprag.NewRuntime(nil)
	svc := &Jobs{}
	_ = sprag.Bind(svc, "ticker", rt)
	_ = svc.Start(context.Background())

	ticks := make(chan time.Time, 3)
	svc.Interval(10*time.Millisecond, func(context.Context) error {
		select {
		case ticks <- time.Now():
		default:
		}
		return nil
	}, sprag.Immediately(), sprag.Label("tick"))
	for range 3 {
		<-ticks
	}
	_ = svc.Stop(context.Background())
	fmt.Println("three ticks, then stopped:", svc.State())
	// Output:
	// three ticks, then stopped: stopped
}

func Example() {
	rt := sprag.NewRuntime(nil) // a bus and a (here silent) logger, shared by services
	metrics := &MetricsService{}
	if err := sprag.Bind(metrics, "metrics", rt); err != nil {
		fmt.Println(err)
		return
	}
	if err := metrics.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}

	_ = rt.Bus.Emit(context.Background(), "order:completed", "order-1")
	_ = rt.Bus.Emit(context.Background(), "order:completed", "order-2")
	fmt.Println("orders:", metrics.orders.Load(), "state:", metrics.State())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := metrics.Stop(ctx); err != nil { // cancels the interval, removes the listener
		fmt.Println(err)
	}
	fmt.Println("state:", metrics.State(), "listeners left:", rt.Bus.Len())
	// Output:
	// orders: 2 state: running
	// state: stopped listeners left: 0
}

// Worker is a child service.
type Worker struct{ sprag.Service }

func (w *Worker) OnStart(context.Context) error {
	fmt.Println("start", w.Name())
	return nil
}

func (w *Worker) OnStop(context.Context) error {
	fmt.Println("stop", w.Name())
	return nil
}

// Pool adopts two workers: they start at once and stop with it, the last
// adopted first, before its cleanups run.
type Pool struct{ sprag.Service }

func (p *Pool) OnStart(ctx context.Context) error {
	for _, name := range []string{"worker-1", "worker-2"} {
		if err := p.Adopt(ctx, name, &Worker{}); err != nil {
			return err
		}
	}
	return p.AddCleanup(func(context.Context) error {
		fmt.Println("cleanup", p.Name())
		return nil
	})
}

func ExampleService_Adopt() {
	pool := &Pool{}
	_ = sprag.Bind(pool, "pool", sprag.NewRuntime(nil))
	_ = pool.Start(context.Background())
	_ = pool.Stop(context.Background())
	// Output:
	// start pool/worker-1
	// start pool/worker-2
	// stop pool/worker-2
	// stop pool/worker-1
	// cleanup pool
}

// Jobs runs background jobs.
type Jobs struct{ sprag.Service }

func ExampleService_Spawn() {
	svc := &Jobs{}
	_ = sprag.Bind(svc, "jobs", sprag.NewRuntime(nil))
	_ = svc.Start(context.Background())
	defer func() { _ = svc.Stop(context.Background()) }()

	task, err := svc.Spawn(func(ctx context.Context) error {
		return fmt.Errorf("job failed")
	}, sprag.Label("import"))
	if err != nil {
		fmt.Println("not started:", err)
		return
	}
	fmt.Println(task.Wait(context.Background()))
	// Output:
	// service "jobs": task import: job failed
}

func ExampleRegistry() {
	rt := sprag.NewRuntime(nil)
	registry := sprag.NewRegistry()
	metrics := &MetricsService{}
	_ = sprag.Bind(metrics, "metrics", rt)
	_ = registry.Provide("metrics", metrics)
	_ = metrics.Start(context.Background())
	defer func() { _ = metrics.Stop(context.Background()) }()

	m, err := sprag.Get[*MetricsService](registry, "metrics") // typed lookup
	fmt.Println(m == metrics, err)
	_, err = registry.Resolve("email")
	fmt.Println(err)
	fmt.Println(registry.Health(context.Background()).Healthy)
	// Output:
	// true <nil>
	// resolve service "email": sprag: service not found (registered: "metrics")
	// true
}
