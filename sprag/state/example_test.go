package state_test

import (
	"context"
	"fmt"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/state"
)

// The examples of this file are the code of docs/primitives.md.

// ImporterStatus is what the importer tells other services about itself.
type ImporterStatus struct {
	Ready   bool
	Backlog int
}

// Importer publishes its status as an observable.
type Importer struct {
	sprag.Service
	status *state.Observable[ImporterStatus]
}

func (i *Importer) OnStart(ctx context.Context) error {
	var err error
	i.status, err = state.New(i, ImporterStatus{}, state.Label("status"), state.Dedupe())
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
	}, state.NotifyCurrent())
	return err
}

func ExampleNew() {
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
	stored := importer.status.Set(ImporterStatus{Ready: true, Backlog: 10}) // equal: Dedupe skips it
	fmt.Println("stored:", stored, "version:", importer.status.Version())

	_ = dashboard.Stop(context.Background()) // its subscriber goes with it
	importer.status.Set(ImporterStatus{})
	fmt.Println("subscribers left:", importer.status.Stats().Subscribers)
	_ = importer.Stop(context.Background())
	// Output:
	// dashboard: ready=false backlog=0
	// dashboard: ready=true backlog=0
	// dashboard: ready=true backlog=10
	// stored: false version: 3
	// subscribers left: 0
}

func ExampleObservable_Subscribe() {
	var sc sprag.Scope // owns the observable and the subscriber alike
	defer func() { _ = sc.Close(context.Background()) }()

	leader, err := state.New(&sc, "", state.Label("leader"), state.Unset())
	if err != nil {
		fmt.Println(err)
		return
	}
	sub, err := leader.Subscribe(&sc, func(ctx context.Context, node string) error {
		fmt.Println("leader is", node)
		return nil
	}, state.NotifyCurrent()) // nothing to send yet: the value is unset
	if err != nil {
		fmt.Println(err)
		return
	}
	_, ok := leader.Load()
	fmt.Println("has a value:", ok)

	leader.Set("node-1") // the subscriber runs before Set returns
	fmt.Println(sub.Cancel(), sub.Active())
	leader.Set("node-2") // nobody is told
	fmt.Println(leader.Load())
	// Output:
	// has a value: false
	// leader is node-1
	// true false
	// node-2 true
}

func ExampleObservable_Watch() {
	var sc sprag.Scope
	level, err := state.New(&sc, 1, state.Label("level"))
	if err != nil {
		fmt.Println(err)
		return
	}

	ch := level.Watch(context.Background())
	fmt.Println(<-ch) // the current value first
	level.Set(2)
	level.Set(3)
	fmt.Println(<-ch) // a receiver that falls behind gets the latest
	_ = sc.Close(context.Background())
	_, open := <-ch
	fmt.Println("open:", open)
	// Output:
	// 1
	// 3
	// open: false
}
