package sprag_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// The examples of this file are the code of docs/primitives.md, which
// TestPrimitivesDocIsCompiled holds to them.

// Mailer sends emails through a queue with four workers.
type Mailer struct {
	sprag.Service
	emails *sprag.Queue[string]
	sent   atomic.Int32
}

func (m *Mailer) OnStart(ctx context.Context) error {
	var err error
	m.emails, err = sprag.NewQueue(m, m.send,
		sprag.Workers(4), sprag.Capacity(1000), sprag.Label("emails"),
		sprag.Overflow(m.keepForLater))
	return err
}

func (m *Mailer) send(ctx context.Context, to string) error {
	m.sent.Add(1) // a real mailer talks to its SMTP server with ctx
	return nil
}

func (m *Mailer) keepForLater(ctx context.Context, unsent []string) error {
	fmt.Println("kept for the next start:", unsent)
	return nil
}

func ExampleNewQueue() {
	m := &Mailer{}
	if err := sprag.Bind(m, "mailer", sprag.NewRuntime(nil)); err != nil {
		fmt.Println(err)
		return
	}
	if err := m.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}

	for _, to := range []string{"ada@example.com", "bob@example.com"} {
		if err := m.emails.TryEnqueue(to); err != nil {
			fmt.Println(err) // errors.Is(err, sprag.ErrQueueFull): the caller decides
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Stop(ctx); err != nil { // stops accepting, drains until ctx's deadline
		fmt.Println(err)
	}
	fmt.Println("sent:", m.sent.Load())
	fmt.Println(m.emails.TryEnqueue("late@example.com"))
	// Output:
	// sent: 2
	// service "mailer": queue emails: sprag: service not running: the queue stopped accepting
}

func ExampleOverflow() {
	svc := &Jobs{}
	_ = sprag.Bind(svc, "importer", sprag.NewRuntime(nil))
	_ = svc.Start(context.Background())

	busy, release := make(chan struct{}), make(chan struct{})
	rows, err := sprag.NewQueue(svc, func(ctx context.Context, row int) error {
		busy <- struct{}{}
		<-release // a slow import
		return nil
	}, sprag.Label("rows"), sprag.Overflow(func(ctx context.Context, left []int) error {
		fmt.Println("not imported:", left)
		return nil
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	for row := range 4 {
		_ = rows.TryEnqueue(row)
	}
	<-busy // row 0 is being imported

	ctx, cancel := context.WithCancel(context.Background())
	cancel()          // no time left to drain
	_ = svc.Stop(ctx) // returns at once: row 0 is still running
	<-svc.Done()      // the overflow ran among the cleanups
	close(release)
	fmt.Println("handed over:", rows.Stats().Overflowed)
	// Output:
	// not imported: [1 2 3]
	// handed over: 3
}

// ConfigService follows a remote configuration's version.
type ConfigService struct {
	sprag.Service
	fetch   func(ctx context.Context) (string, error)
	version *sprag.Watcher[string]
}

func (c *ConfigService) OnStart(ctx context.Context) error {
	var err error
	c.version, err = sprag.NewWatcher(c, c.fetch, 10*time.Millisecond,
		sprag.Dedupe(), sprag.RetryBackoff(10*time.Millisecond, time.Second),
		sprag.UnhealthyAfter(5), sprag.Label("version"))
	return err
}

func ExampleNewWatcher() {
	answers := []string{"v1", "v1", "v2"} // what the remote side says, poll after poll
	var polls atomic.Int32
	cfg := &ConfigService{fetch: func(context.Context) (string, error) {
		i := min(int(polls.Add(1)), len(answers)) - 1
		return answers[i], nil
	}}
	_ = sprag.Bind(cfg, "config", sprag.NewRuntime(nil))
	if err := cfg.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = cfg.Stop(context.Background()) }()

	v2 := make(chan struct{})
	_, err := cfg.version.Subscribe(cfg, func(ctx context.Context, version string) error {
		fmt.Println("config version:", version)
		if version == "v2" {
			close(v2)
		}
		return nil
	}, sprag.NotifyCurrent())
	if err != nil {
		fmt.Println(err)
		return
	}
	<-v2
	fmt.Println("changes:", cfg.version.Stats().Changes)
	// Output:
	// config version: v1
	// config version: v2
	// changes: 2
}

func ExampleNewStreamWatcher() {
	svc := &Jobs{}
	_ = sprag.Bind(svc, "prices", sprag.NewRuntime(nil))
	_ = svc.Start(context.Background())
	defer func() { _ = svc.Stop(context.Background()) }()

	// follow stands for a subscription to a feed: it sends what arrives
	// and returns when the connection drops; the watcher reconnects.
	var connections atomic.Int32
	follow := func(ctx context.Context, send func(price int)) error {
		if connections.Add(1) == 1 {
			send(100)
			return errors.New("connection reset")
		}
		send(101)
		<-ctx.Done()
		return ctx.Err()
	}
	price, err := sprag.NewStreamWatcher(svc, follow, sprag.Label("price"),
		sprag.RetryBackoff(10*time.Millisecond, time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	for p := range price.Watch(context.Background()) {
		if p == 101 {
			fmt.Println("price after a reconnect:", p, "errors:", price.Stats().Errors)
			break
		}
	}
	// Output:
	// price after a reconnect: 101 errors: 1
}

// ImporterStatus is what the importer tells other services about itself.
type ImporterStatus struct {
	Ready   bool
	Backlog int
}

// Importer publishes its status as an observable.
type Importer struct {
	sprag.Service
	status *sprag.Observable[ImporterStatus]
}

func (i *Importer) OnStart(ctx context.Context) error {
	var err error
	i.status, err = sprag.NewObservable(i, ImporterStatus{}, sprag.Label("status"), sprag.Dedupe())
	return err
}

// Dashboard follows the importer's status while it runs.
type Dashboard struct {
	sprag.Service
	importer *Importer
}

func (d *Dashboard) OnStart(ctx context.Context) error {
	_, err := d.importer.status.Subscribe(d, func(ctx context.Context, st ImporterStatus) error {
		fmt.Printf("dashboard: ready=%v backlog=%d\n", st.Ready, st.Backlog)
		return nil
	}, sprag.NotifyCurrent())
	return err
}

func ExampleNewObservable() {
	rt := sprag.NewRuntime(nil)
	importer := &Importer{}
	dashboard := &Dashboard{importer: importer}
	_ = sprag.Bind(importer, "importer", rt)
	_ = sprag.Bind(dashboard, "dashboard", rt)
	_ = importer.Start(context.Background())
	_ = dashboard.Start(context.Background())

	importer.status.Set(ImporterStatus{Ready: true})
	importer.status.Update(func(st ImporterStatus) ImporterStatus {
		st.Backlog += 10
		return st
	})
	importer.status.Set(ImporterStatus{Ready: true, Backlog: 10}) // equal: Dedupe skips it

	_ = dashboard.Stop(context.Background()) // its subscriber goes with it
	importer.status.Set(ImporterStatus{})
	fmt.Println("subscribers left:", importer.status.Stats().Subscribers)
	_ = importer.Stop(context.Background())
	// Output:
	// dashboard: ready=false backlog=0
	// dashboard: ready=true backlog=0
	// dashboard: ready=true backlog=10
	// subscribers left: 0
}

func ExampleObservable_Watch() {
	svc := &Jobs{}
	_ = sprag.Bind(svc, "jobs", sprag.NewRuntime(nil))
	_ = svc.Start(context.Background())
	level, _ := sprag.NewObservable(svc, 1, sprag.Label("level"))

	ch := level.Watch(context.Background())
	fmt.Println(<-ch) // the current value first
	level.Set(2)
	level.Set(3)
	fmt.Println(<-ch) // a receiver that falls behind gets the latest
	_ = svc.Stop(context.Background())
	_, open := <-ch
	fmt.Println("open:", open)
	// Output:
	// 1
	// 3
	// open: false
}

func ExampleStartProcess() {
	svc := &Jobs{}
	_ = sprag.Bind(svc, "builder", sprag.NewRuntime(nil))
	_ = svc.Start(context.Background())
	defer func() { _ = svc.Stop(context.Background()) }()

	build, err := sprag.StartProcess(svc, "sh", []string{"-c", "echo compiling; echo done"},
		sprag.Label("build"),
		sprag.Stdout(func(line string) { fmt.Println("build says:", line) }),
		sprag.Grace(2*time.Second))
	if err != nil {
		fmt.Println(err) // errors.Is(err, exec.ErrNotFound) without sh
		return
	}
	if err := build.Wait(context.Background()); err != nil {
		fmt.Println(err)
	}
	exit, _ := build.LastExit()
	fmt.Println(exit.Status)
	// Output:
	// build says: compiling
	// build says: done
	// exit status 0
}

func ExampleRestart_process() {
	svc := &Jobs{}
	_ = sprag.Bind(svc, "agent", sprag.NewRuntime(nil))
	_ = svc.Start(context.Background())
	defer func() { _ = svc.Stop(context.Background()) }()

	agent, err := sprag.StartProcess(svc, "sh", []string{"-c", "echo starting; exit 1"},
		sprag.Label("agent"),
		sprag.Stdout(func(line string) { fmt.Println(line) }),
		sprag.Restart(sprag.RestartPolicy{MaxRestarts: 2, Backoff: 10 * time.Millisecond}))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = agent.Wait(context.Background())
	fmt.Println("gave up:", errors.Is(err, sprag.ErrRestartLimit), "restarts:", agent.Restarts())
	// Output:
	// starting
	// starting
	// starting
	// gave up: true restarts: 2
}

// Reports builds a report every five minutes, on the minute.
type Reports struct {
	sprag.Service
	built atomic.Int32
}

func (r *Reports) OnStart(ctx context.Context) error {
	return r.Cron("CRON_TZ=Europe/Paris 0 */5 * * * *", r.build, sprag.Label("report")).Err()
}

func (r *Reports) build(ctx context.Context) error {
	r.built.Add(1)
	return nil
}

func ExampleService_Cron() {
	r := &Reports{}
	_ = sprag.Bind(r, "reports", sprag.NewRuntime(nil))
	fmt.Println(r.Start(context.Background()))
	defer func() { _ = r.Stop(context.Background()) }()

	typo := r.Cron("every five minutes", r.build, sprag.Label("typo"))
	fmt.Println(typo.Err())
	// Output:
	// <nil>
	// service "reports": interval typo: sprag: invalid argument: cron spec "every five minutes": expected 5 to 6 fields, found 3: [every five minutes]
}

// TestReportsRunEveryFiveMinutes is the way to test a cron job: in a
// synctest bubble an hour passes at once.
func TestReportsRunEveryFiveMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &Reports{}
		spragtest.Start(t, "reports", r)

		time.Sleep(time.Hour) // virtual: returns at once
		synctest.Wait()

		assert.Equal(t, int32(12), r.built.Load())
	})
}
