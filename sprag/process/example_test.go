package process_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/process"
)

// The examples of this file are the code of docs/primitives.md. They run
// sh and sleep, as found on any Unix system.

// Builder runs builds as processes of its own.
type Builder struct{ sprag.Service }

func ExampleStart() {
	svc := &Builder{}
	_ = sprag.Bind(svc, "builder", sprag.NewRuntime(nil))
	_ = svc.Start(context.Background())
	defer func() { _ = svc.Stop(context.Background()) }()

	build, err := process.Start(svc, "sh", []string{"-c", "echo compiling; echo done"},
		process.Label("build"),
		process.Stdout(func(line string) { fmt.Println("build says:", line) }),
		process.Grace(2*time.Second))
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

func ExampleRestart() {
	var sc sprag.Scope // a scope owns processes as a service does
	defer func() { _ = sc.Close(context.Background()) }()

	agent, err := process.Start(&sc, "sh", []string{"-c", "echo starting; exit 1"},
		process.Label("agent"),
		process.Stdout(func(line string) { fmt.Println(line) }),
		process.Restart(sprag.RestartPolicy{MaxRestarts: 2, Backoff: 10 * time.Millisecond}))
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

func ExampleProcess_Stop() {
	var sc sprag.Scope
	defer func() { _ = sc.Close(context.Background()) }()

	nap, err := process.Start(&sc, "sleep", []string{"60"}, process.Label("nap"), process.Grace(time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println(nap.Stop(ctx)) // SIGTERM, SIGKILL after the grace period; waits until it is reaped
	exit, _ := nap.LastExit()
	fmt.Println(exit.Status, exit.Code, exit.Stopped, nap.Running())
	_, err = process.Start(&sc, "true", nil) // the scope runs on
	fmt.Println(err)
	// Output:
	// <nil>
	// signal: terminated -1 true false
	// <nil>
}
