package sprag_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
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
	if _, err := m.Interval(time.Minute, m.collect, sprag.Label("collect")); err != nil {
		return err
	}
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
	_, err := svc.Interval(10*time.Millisecond, func(context.Context) error {
		select {
		case ticks <- time.Now():
		default:
		}
		return nil
	}, sprag.Immediately(), sprag.Label("tick"))
	if err != nil {
		fmt.Println("not scheduled:", err)
		return
	}
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

func ExampleScope() {
	var sc sprag.Scope // the zero Scope is open: no service, no Bind, no Start

	polled := make(chan struct{}, 1)
	_, err := sc.Interval(10*time.Millisecond, func(context.Context) error {
		select {
		case polled <- struct{}{}:
		default: // the example has not read the last one yet
		}
		return nil
	}, sprag.Label("poll"))
	if err != nil {
		fmt.Println("not scheduled:", err)
		return
	}
	follower, err := sc.Spawn(func(ctx context.Context) error {
		<-ctx.Done() // the scope's work ends when the scope closes
		return ctx.Err()
	}, sprag.Label("follow"))
	if err != nil {
		fmt.Println("not started:", err)
		return
	}
	<-polled

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println("close:", sc.Close(ctx)) // cancels the interval, ends the task, waits for both
	<-sc.Done()                          // closed already: everything of the scope has returned
	fmt.Println("task:", follower.Err())
	_, err = sc.Timeout(time.Second, func(context.Context) error { return nil })
	fmt.Println("after Close:", errors.Is(err, sprag.ErrNotRunning))
	// Output:
	// close: <nil>
	// task: context canceled
	// after Close: true
}

func ExampleScope_Schedule() {
	sc := sprag.NewScope("reports", sprag.NewRuntime(nil)) // a name for its logs and errors
	defer func() { _ = sc.Close(context.Background()) }()

	runs := make(chan struct{}, 3)
	report, err := sc.Schedule(sprag.FixedRate(10*time.Millisecond), func(context.Context) error {
		select {
		case runs <- struct{}{}:
		default:
		}
		return nil
	}, sprag.Label("report"))
	if err != nil {
		fmt.Println("not scheduled:", err)
		return
	}
	for range 3 {
		<-runs
	}
	fmt.Println(report.Label(), report.Active())
	fmt.Println(report.Cancel(), report.Active(), report.Cancel()) // the first Cancel stops it

	_, err = sc.Schedule(sprag.FixedRate(0), func(context.Context) error { return nil }, sprag.Label("bad"))
	fmt.Println(err)
	// Output:
	// report true
	// true false false
	// service "reports": interval bad: sprag: invalid argument: duration must be positive, got 0s
}

// threeTimes is a Schedule of its own: every d, three runs in all.
type threeTimes struct{ d time.Duration }

func (s threeTimes) Next(now time.Time, last sprag.Run) time.Time {
	if last.N == 3 {
		return time.Time{} // the zero time ends the timer
	}
	return now.Add(s.d)
}

func ExampleSchedule() {
	var sc sprag.Scope
	var runs atomic.Int32
	third := make(chan struct{})
	timer, err := sc.Schedule(threeTimes{d: time.Millisecond}, func(context.Context) error {
		if runs.Add(1) == 3 {
			close(third)
		}
		return nil
	}, sprag.Label("thrice"))
	if err != nil {
		fmt.Println("not scheduled:", err)
		return
	}
	<-third
	_ = sc.Close(context.Background()) // waits for the third run to return
	fmt.Println("runs:", runs.Load(), "active:", timer.Active())
	// Output:
	// runs: 3 active: false
}

func ExampleTask_Cancel() {
	sc := sprag.NewScope("jobs", sprag.NewRuntime(nil))
	defer func() { _ = sc.Close(context.Background()) }()

	export, err := sc.Spawn(func(ctx context.Context) error {
		<-ctx.Done() // ends at Cancel, or when the scope closes
		return ctx.Err()
	}, sprag.Label("export"))
	if err != nil {
		fmt.Println("not started:", err)
		return
	}
	fmt.Println(export.Cancel(), export.Cancel()) // the first call cancels it
	fmt.Println(export.Wait(context.Background()))

	reminder, err := sc.SpawnAfter(time.Hour, func(context.Context) error { return nil }, sprag.Label("reminder"))
	if err != nil {
		fmt.Println("not scheduled:", err)
		return
	}
	fmt.Println(reminder.Cancel(), reminder.Err()) // it never starts

	var none *sprag.Task // the handle a failed Spawn returns: its methods do nothing
	fmt.Println(none.Cancel(), none.Wait(context.Background()))
	// Output:
	// true false
	// context canceled
	// true task reminder did not run: context canceled
	// false <nil>
}

// Orders announces the orders it completes on the bus.
type Orders struct{ sprag.Service }

// Complete announces that order id is completed.
func (o *Orders) Complete(ctx context.Context, id string) error {
	return o.Emit(ctx, "order:completed", id)
}

// Mail listens to the orders another service completes.
type Mail struct{ sprag.Service }

func (m *Mail) OnStart(context.Context) error {
	_, err := m.Listen("order:completed", m.onOrder)
	return err
}

func (m *Mail) onOrder(_ context.Context, id any) error {
	fmt.Println("mail: order", id, "completed")
	return nil
}

func ExampleService_Listen() {
	ctx := context.Background()
	rt := sprag.NewRuntime(nil) // one runtime for both: they share its bus
	orders, mail := &Orders{}, &Mail{}
	_ = sprag.Bind(orders, "orders", rt)
	_ = sprag.Bind(mail, "mail", rt)
	_ = orders.Start(ctx)
	_ = mail.Start(ctx)

	_ = orders.Complete(ctx, "A-1") // Emit calls mail's listener before it returns
	_ = mail.Stop(ctx)              // its listener leaves the bus
	fmt.Println(orders.Complete(ctx, "A-2"), "listeners:", rt.Bus.Len())
	_ = orders.Stop(ctx)
	// Output:
	// mail: order A-1 completed
	// <nil> listeners: 0
}

func ExampleRegistry_Replace() {
	rt := sprag.NewRuntime(nil)
	registry := sprag.NewRegistry()
	primary, standby := &Jobs{}, &Jobs{}
	_ = sprag.Bind(primary, "db-primary", rt)
	_ = sprag.Bind(standby, "db-standby", rt)
	_ = registry.Provide("db", primary)

	old, err := registry.Replace("db", standby) // starts and stops nothing
	fmt.Println(old == sprag.Interface(primary), err)
	svc, _ := registry.Resolve("db")
	fmt.Println(svc.Name())

	gone, err := registry.Unregister("db")
	fmt.Println(gone.Name(), err)
	_, err = registry.Unregister("db")
	fmt.Println(err)
	// Output:
	// true <nil>
	// db-standby
	// db-standby <nil>
	// unregister service "db": sprag: service not found (registered: none)
}

func ExampleUntilStopped() {
	ctx := context.Background()
	rt := sprag.NewRuntime(nil)
	registry := sprag.NewRegistry()
	job := &Jobs{}
	_ = sprag.Bind(job, "import-1", rt)
	_ = registry.Provide("import", job, sprag.UntilStopped())
	_ = job.Start(ctx)
	fmt.Println(registry.Names())

	_ = job.Stop(ctx) // the entry leaves with the service
	fmt.Println(registry.Names())

	next := &Jobs{}
	_ = sprag.Bind(next, "import-2", rt)
	fmt.Println(registry.Provide("import", next, sprag.UntilStopped())) // the name is free
	// Output:
	// [import]
	// []
	// <nil>
}

func ExampleCheckName() {
	for _, name := range []string{"metrics", "", "pool/worker", "my service"} {
		fmt.Println(sprag.CheckName(name))
	}
	// Output:
	// <nil>
	// sprag: invalid argument: the name is empty
	// sprag: invalid argument: the name "pool/worker" holds a '/', which joins an adopted child's name to its parent's (parent/child)
	// sprag: invalid argument: the name "my service" holds a space or a control character
}

// Alarm is a primitive of one's own, built as the packages under sprag/
// are: services hear it ring through functions that run as work of their
// own scope, so that each leaves with its service.
type Alarm struct {
	mu    sync.Mutex
	hooks []*alarmHook
}

type alarmHook struct {
	cb *sprag.Callback
	fn func(ctx context.Context, why string) error
}

// OnRing makes fn, work of o, hear the alarm for as long as o's scope is
// open.
func (a *Alarm) OnRing(o sprag.Owner, fn func(ctx context.Context, why string) error) error {
	sc, err := sprag.ScopeOf(o, "alarm hook")
	if err != nil {
		return err
	}
	h := &alarmHook{fn: fn}
	h.cb, err = sc.Callback("alarm "+sprag.FuncLabel(fn), func() { a.remove(h) }) // removed when sc closes
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hooks = append(a.hooks, h)
	return nil
}

func (a *Alarm) remove(h *alarmHook) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hooks = slices.DeleteFunc(a.hooks, func(x *alarmHook) bool { return x == h })
}

// Ring calls every hook on the caller's goroutine and returns their errors.
func (a *Alarm) Ring(ctx context.Context, why string) error {
	a.mu.Lock()
	hooks := slices.Clone(a.hooks)
	a.mu.Unlock()
	var errs []error
	for _, h := range hooks {
		errs = append(errs, sprag.Call(ctx, h.cb, h.fn, why)) // recovers, logs, and skips a closing scope
	}
	return errors.Join(errs...)
}

func ExampleCallback() {
	ctx := context.Background()
	var alarm Alarm
	guard := sprag.NewScope("guard", sprag.NewRuntime(nil))
	_ = alarm.OnRing(guard, func(ctx context.Context, why string) error {
		fmt.Println("guard heard:", why)
		return nil
	})
	_ = alarm.OnRing(guard, func(ctx context.Context, why string) error {
		return errors.New("asleep")
	})

	fmt.Println(alarm.Ring(ctx, "smoke"))
	_ = guard.Close(ctx) // its hooks leave the alarm
	fmt.Println(alarm.Ring(ctx, "fire"), len(alarm.hooks))
	// Output:
	// guard heard: smoke
	// service "guard": callback alarm ExampleCallback.func2: asleep
	// <nil> 0
}
