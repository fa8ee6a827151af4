package docs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/sprag"
)

// MetricsService is the seed's MetricsService: it collects its figures
// every minute and counts the orders that other services announce.
type MetricsService struct {
	sprag.Service
	orders atomic.Int64
}

func (m *MetricsService) OnStart(ctx context.Context) error {
	if _, err := m.Interval(time.Minute, m.collect, sprag.Label("collect")); err != nil {
		return err // nothing was scheduled: fail the start
	}
	_, err := m.Listen("order:completed", m.onOrder)
	return err
}

func (m *MetricsService) OnStop(ctx context.Context) error {
	return nil // optional: what the managed methods created is torn down anyway
}

func (m *MetricsService) collect(ctx context.Context) error {
	return m.Emit(ctx, "metrics:updated", m.orders.Load())
}

func (m *MetricsService) onOrder(ctx context.Context, payload any) error {
	m.orders.Add(1) // listeners may run concurrently: guard fields (atomics, a mutex)
	return nil
}

// Orders returns how many orders the service has counted.
func (m *MetricsService) Orders() int64 { return m.orders.Load() }

// NewMetricsService is MetricsService's constructor, for fx.
func NewMetricsService() *MetricsService { return &MetricsService{} }

// Bare is a service without hooks: the examples give it work from outside.
type Bare struct{ sprag.Service }

func Example_servicesWithoutFx() {
	rt := sprag.NewRuntime(zap.NewNop()) // the bus and the logger that services share
	metrics := &MetricsService{}
	if err := sprag.Bind(metrics, "metrics", rt); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := metrics.Start(ctx); err != nil { // runs OnStart
		fmt.Println(err)
		return
	}

	_ = rt.Bus.Emit(ctx, "order:completed", "order-1") // as another service would
	fmt.Println(metrics.Name(), metrics.State(), metrics.Orders())

	if err := metrics.Stop(ctx); err != nil { // bounded by ctx's deadline
		fmt.Println(err)
	}
	fmt.Println(metrics.State(), "listeners left:", rt.Bus.Len())
	// Output:
	// metrics running 1
	// stopped listeners left: 0
}

// Greeter has both optional hooks.
type Greeter struct{ sprag.Service }

func (g *Greeter) OnStart(ctx context.Context) error {
	fmt.Println("OnStart while", g.State())
	return nil
}

func (g *Greeter) OnStop(ctx context.Context) error {
	fmt.Println("OnStop while", g.State())
	return nil
}

func Example_servicesLifecycle() {
	ctx := context.Background()
	g := &Greeter{}
	fmt.Println(g.State(), errors.Is(g.Start(ctx), sprag.ErrNotBound))
	_ = sprag.Bind(g, "greeter", sprag.NewRuntime(nil))

	err := g.Start(ctx)
	fmt.Println(err, g.State())
	fmt.Println(g.Start(ctx)) // a second Start returns the first one's result
	err = g.Stop(ctx)
	fmt.Println(err, g.State())
	fmt.Println(g.Stop(ctx))  // a second Stop waits for the first and returns nil
	fmt.Println(g.Start(ctx)) // a stopped service does not start again
	// Output:
	// created true
	// OnStart while starting
	// <nil> running
	// <nil>
	// OnStop while stopping
	// <nil> stopped
	// <nil>
	// start service "greeter": sprag: service stopped
}

// Loader takes its time to start: its OnStart waits to be let through, or
// for its context to end.
type Loader struct {
	sprag.Service
	started, proceed chan struct{}
}

func (l *Loader) OnStart(ctx context.Context) error {
	close(l.started)
	select {
	case <-l.proceed:
		return nil
	case <-ctx.Done(): // Stop cancels OnStart's context
		return ctx.Err()
	}
}

func Example_servicesStopDuringStart() {
	l := &Loader{started: make(chan struct{}), proceed: make(chan struct{})}
	_ = sprag.Bind(l, "loader", sprag.NewRuntime(nil))
	startErr := make(chan error, 1)
	go func() { startErr <- l.Start(context.Background()) }()
	<-l.started

	fmt.Println(l.Stop(context.Background())) // cancels OnStart, waits for Start, tears down
	fmt.Println(<-startErr)
	fmt.Println(l.State())
	// Output:
	// <nil>
	// start service "loader": sprag: service stopped while starting: context canceled
	// stopped
}

func Example_servicesTimers() {
	m := &MetricsService{}
	_ = sprag.Bind(m, "metrics", sprag.NewRuntime(nil))
	_ = m.Start(context.Background())

	every, _ := m.Interval(time.Minute, m.collect) // labelled after the method
	hourly, _ := m.Schedule(sprag.FixedRate(time.Hour), m.collect, sprag.Jitter(time.Minute), sprag.Label("report"))
	reminder, _ := m.Timeout(24*time.Hour, m.collect, sprag.Label("reminder"))
	fmt.Println(every.Label(), hourly.Label(), reminder.Label())
	fmt.Println(reminder.Cancel(), reminder.Cancel()) // the first call cancels it
	fmt.Println(every.Active(), reminder.Active())

	_, err := m.Interval(0, m.collect, sprag.Label("bad"))
	fmt.Println(err)

	_ = m.Stop(context.Background())
	_, err = m.Timeout(time.Second, m.collect, sprag.Label("late"))
	fmt.Println(errors.Is(err, sprag.ErrNotRunning))
	// Output:
	// (*MetricsService).collect report reminder
	// true false
	// true false
	// service "metrics": interval bad: sprag: invalid argument: duration must be positive, got 0s
	// true
}

func Example_servicesSpawn() {
	svc := &Bare{}
	_ = sprag.Bind(svc, "jobs", sprag.NewRuntime(nil))
	_ = svc.Start(context.Background())

	failed, _ := svc.Spawn(func(ctx context.Context) error {
		return errors.New("disk full")
	}, sprag.Label("import"))
	err := failed.Wait(context.Background())
	var ce *sprag.CallbackError
	fmt.Println(err, errors.As(err, &ce), ce.Kind, ce.Label)

	panicked, _ := svc.Spawn(func(ctx context.Context) error { panic("kaput") }, sprag.Label("parse"))
	var pe *sprag.PanicError
	fmt.Println(errors.As(panicked.Wait(context.Background()), &pe), pe.Value, svc.State())

	follower, _ := svc.Spawn(func(ctx context.Context) error {
		<-ctx.Done() // the task's context: it ends when Stop tears down, or at Cancel
		return ctx.Err()
	}, sprag.Label("follow"))
	later, _ := svc.SpawnAfter(time.Hour, func(ctx context.Context) error {
		return nil
	}, sprag.Label("later"))

	_ = svc.Stop(context.Background())
	fmt.Println(follower.Err()) // a clean exit on cancellation: not a failure, not logged
	fmt.Println(later.Err())
	// Output:
	// service "jobs": task import: disk full true task import
	// true kaput running
	// context canceled
	// task later did not run: sprag: service stopped
}

// Pipeline registers one resource of each kind and prints the order in
// which Stop tears them down.
type Pipeline struct{ sprag.Service }

func (p *Pipeline) OnStart(ctx context.Context) error {
	if _, err := p.Interval(time.Hour, func(context.Context) error { return nil }, sprag.Label("flush")); err != nil {
		return err
	}
	if _, err := p.Spawn(func(ctx context.Context) error {
		<-ctx.Done()
		fmt.Println("task: its context ended")
		return nil
	}, sprag.Label("consume")); err != nil {
		return err
	}
	if _, err := p.Listen("pipeline:pause", func(context.Context, any) error { return nil }); err != nil {
		return err
	}
	for _, name := range []string{"fetch", "store"} {
		if err := p.Adopt(ctx, name, &Stage{}); err != nil {
			return err
		}
	}
	for _, what := range []string{"close the database", "flush the cache"} {
		if err := p.AddCleanup(func(context.Context) error {
			fmt.Println("cleanup:", what)
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func (p *Pipeline) OnStop(ctx context.Context) error {
	fmt.Println("OnStop: listeners on the bus:", p.Runtime().Bus.Len())
	return nil
}

// Stage is a child of Pipeline.
type Stage struct{ sprag.Service }

func (s *Stage) OnStart(ctx context.Context) error {
	fmt.Println("start", s.Name())
	return nil
}

func (s *Stage) OnStop(ctx context.Context) error {
	fmt.Println("stop", s.Name()+": listeners on the bus:", s.Runtime().Bus.Len())
	return nil
}

func Example_servicesTeardownOrder() {
	p := &Pipeline{}
	_ = sprag.Bind(p, "pipeline", sprag.NewRuntime(nil))
	if err := p.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("children:", len(p.Children()))
	if err := p.Stop(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// start pipeline/fetch
	// start pipeline/store
	// children: 2
	// OnStop: listeners on the bus: 1
	// task: its context ended
	// stop pipeline/store: listeners on the bus: 0
	// stop pipeline/fetch: listeners on the bus: 0
	// cleanup: flush the cache
	// cleanup: close the database
}

// conn stands for a connection that a service opens itself.
type conn struct{ name string }

func (c *conn) Close() error {
	fmt.Println("close", c.name)
	return nil
}

func Example_servicesOwn() {
	svc := &Bare{}
	_ = sprag.Bind(svc, "store", sprag.NewRuntime(nil))
	_ = svc.Start(context.Background())

	_ = svc.Own(&conn{name: "db"})           // has Close() error
	_ = svc.Own(time.NewTicker(time.Minute)) // has Stop()
	_ = svc.AddCleanup(func(ctx context.Context) error {
		fmt.Println("cleanup with Stop's context")
		return nil
	})
	err := svc.Own(42)
	fmt.Println(errors.Is(err, sprag.ErrUnsupportedResource))
	fmt.Println(err)

	_ = svc.Stop(context.Background()) // the last added first
	// Output:
	// true
	// service "store": own int: sprag: unsupported resource: it has no Shutdown(ctx) error, Stop(ctx) error, Close() error or Stop() method
	// cleanup with Stop's context
	// close db
}

func Example_servicesStopDeadline() {
	svc := &Bare{}
	_ = sprag.Bind(svc, "exporter", sprag.NewRuntime(nil))
	_ = svc.Start(context.Background())
	release := make(chan struct{})
	task, _ := svc.Spawn(func(context.Context) error {
		<-release // ignores its context
		return nil
	}, sprag.Label("upload"))

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a stop deadline that has already passed
	err := svc.Stop(ctx)
	var stuck *sprag.StuckError
	fmt.Println(errors.Is(err, sprag.ErrStillRunning), errors.As(err, &stuck))
	fmt.Println(stuck.Service, stuck.Running)
	fmt.Println(err)

	fmt.Println(svc.State()) // until the task returns
	close(release)
	_ = task.Wait(context.Background())
	<-svc.Done() // closed once everything the service started has returned
	fmt.Println(svc.State())
	// Output:
	// true true
	// exporter [{task upload}]
	// stop service "exporter": service "exporter": sprag: still running at the stop deadline: task upload
	// stopping
	// stopped
}

func Example_servicesPanics() {
	core, logs := observer.New(zap.ErrorLevel)
	svc := &Bare{}
	_ = sprag.Bind(svc, "parser", sprag.NewRuntime(zap.New(core)))
	_ = svc.Start(context.Background())
	defer func() { _ = svc.Stop(context.Background()) }()

	task, _ := svc.Spawn(func(context.Context) error { panic("kaput") }, sprag.Label("parse"))
	err := task.Wait(context.Background())
	var pe *sprag.PanicError
	fmt.Println(errors.As(err, &pe), pe.Value, svc.State())

	entry := logs.FilterMessage("task panicked").All()[0]
	fields := entry.ContextMap()
	fmt.Println(entry.Level, fields["service"], fields["kind"], fields["label"], fields["error"])
	fmt.Println(strings.Contains(fields["stack"].(string), "Example_servicesPanics"))
	// Output:
	// true kaput running
	// error parser task parse panic: kaput
	// true
}

func Example_servicesRegistry() {
	rt := sprag.NewRuntime(nil)
	registry := sprag.NewRegistry()
	metrics := &MetricsService{}
	_ = sprag.Bind(metrics, "metrics", rt)
	_ = registry.Provide("metrics", metrics)

	// WaitFor is late binding: it returns once "metrics" is provided and
	// has finished starting.
	found := make(chan sprag.Interface, 1)
	go func() {
		svc, err := registry.WaitFor(context.Background(), "metrics")
		if err != nil {
			fmt.Println(err)
		}
		found <- svc
	}()
	_ = metrics.Start(context.Background())
	fmt.Println((<-found).State())

	m, err := sprag.Get[*MetricsService](registry, "metrics") // typed
	fmt.Println(m == metrics, err)
	_, err = sprag.Get[*Greeter](registry, "metrics")
	fmt.Println(err)
	fmt.Println(registry.Require("metrics", "email", "sms"))
	_, err = registry.Resolve("email")
	fmt.Println(errors.Is(err, sprag.ErrNotFound))
	for name, svc := range registry.All() { // registration order
		fmt.Println(name, svc.State())
	}
	_ = metrics.Stop(context.Background())
	// Output:
	// running
	// true <nil>
	// resolve service "metrics": sprag: service of another type: it is *docs_test.MetricsService, not *docs_test.Greeter
	// require services "email", "sms": sprag: service not found (registered: "metrics")
	// true
	// metrics running
}

// Database reports itself unhealthy while its (simulated) pool is down.
type Database struct {
	sprag.Service
	down atomic.Bool
}

// Health makes Database a sprag.HealthChecker.
func (d *Database) Health(ctx context.Context) error {
	if d.down.Load() {
		return errors.New("ping: connection refused")
	}
	return nil
}

func Example_servicesHealth() {
	rt := sprag.NewRuntime(nil)
	registry := sprag.NewRegistry()
	db, idle := &Database{}, &Bare{}
	_ = sprag.Bind(db, "db", rt)
	_ = sprag.Bind(idle, "idle", rt)
	_ = registry.Provide("db", db)
	_ = registry.Provide("idle", idle)
	_ = db.Start(context.Background()) // idle is never started
	defer func() { _ = db.Stop(context.Background()) }()

	fmt.Println(db.Status(context.Background()).Healthy)
	db.down.Store(true)
	report := registry.Health(context.Background())
	for _, st := range report.Services {
		fmt.Println(st.Name, st.State, st.Healthy, st.Err)
	}
	fmt.Println(report.Healthy)
	fmt.Println(report.Err())
	// Output:
	// true
	// db running false ping: connection refused
	// idle created false service is created
	// false
	// service "db" (running): ping: connection refused
	// service "idle" (created): service is created
}

// Eager makes a classic mistake: it listens in its constructor, before
// the service has started, and ignores the error.
type Eager struct{ sprag.Service }

func NewEager() *Eager {
	e := &Eager{}
	_, _ = e.Listen("order:completed", e.onOrder) // refused: listen in OnStart
	return e
}

func (e *Eager) onOrder(ctx context.Context, payload any) error { return nil }

func Example_servicesCallBeforeStart() {
	e := NewEager()
	_ = sprag.Bind(e, "eager", sprag.NewRuntime(nil))
	err := e.Start(context.Background()) // fails: the listener never existed
	fmt.Println(errors.Is(err, sprag.ErrNotRunning), e.State())
	msg, _, _ := strings.Cut(err.Error(), ", at ") // then the file and line of the call
	fmt.Println(msg)
	// Output:
	// true failed
	// start service "eager": listener (*Eager).onOrder called before Start
}

// OneShot imports once, then stops itself from its own task.
type OneShot struct{ sprag.Service }

func (o *OneShot) OnStart(ctx context.Context) error {
	_, err := o.Spawn(o.importAll, sprag.Label("import"))
	return err
}

func (o *OneShot) importAll(ctx context.Context) error {
	fmt.Println("imported")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := o.Stop(stopCtx) // does not wait for this run, which is still under way
	fmt.Println("Stop returned", err, "while", o.State())
	return nil
}

func Example_servicesStopFromOwnWork() {
	o := &OneShot{}
	_ = sprag.Bind(o, "import", sprag.NewRuntime(nil))
	_ = o.Start(context.Background())
	<-o.Done() // closed once importAll has returned
	fmt.Println(o.State())
	// Output:
	// imported
	// Stop returned <nil> while stopping
	// stopped
}

// Job is a child service that does one job.
type Job struct {
	sprag.Service
	id int
}

func (j *Job) OnStart(ctx context.Context) error {
	fmt.Println("start", j.Name(), j.id)
	return nil
}

func Example_servicesPerJobChildren() {
	ctx := context.Background()
	pool := &Bare{}
	_ = sprag.Bind(pool, "pool", sprag.NewRuntime(nil))
	_ = pool.Start(ctx)
	defer func() { _ = pool.Stop(ctx) }()

	for id := range 3 {
		job := &Job{id: id}
		if err := pool.Adopt(ctx, "job", job); err != nil { // the name is free again
			fmt.Println(err)
			return
		}
		for _, c := range pool.Children() {
			fmt.Println("child", c.Name(), c.(*Job).id) // the adopted value, of its own type
		}
		_ = job.Stop(ctx) // the stopped child leaves the pool
	}
	fmt.Println("children left:", len(pool.Children()))
	// Output:
	// start pool/job 0
	// child pool/job 0
	// start pool/job 1
	// child pool/job 1
	// start pool/job 2
	// child pool/job 2
	// children left: 0
}
