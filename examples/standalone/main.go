// Command standalone runs a tree of sprag services without fx: a pipeline
// that adopts two workers and registers cleanups, started and stopped by
// hand. It prints the order in which things start and stop.
//
//	go run ./examples/standalone
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

// Worker is a child service.
type Worker struct {
	sprag.Service
	say func(a ...any)
}

// OnStart runs when the parent adopts the worker.
func (w *Worker) OnStart(context.Context) error {
	w.say("start", w.Name())
	return nil
}

// OnStop runs when the parent stops.
func (w *Worker) OnStop(context.Context) error {
	w.say("stop ", w.Name())
	return nil
}

// Pipeline adopts its workers and registers cleanups.
type Pipeline struct {
	sprag.Service
	say func(a ...any)
}

// OnStart adopts two workers and registers two cleanups.
func (p *Pipeline) OnStart(ctx context.Context) error {
	p.say("start", p.Name())
	for _, name := range []string{"fetch", "store"} {
		if err := p.Adopt(ctx, name, &Worker{say: p.say}); err != nil {
			return err
		}
	}
	if err := p.AddCleanup(func(context.Context) error {
		p.say("cleanup: close the database")
		return nil
	}); err != nil {
		return err
	}
	return p.AddCleanup(func(context.Context) error {
		p.say("cleanup: flush the cache")
		return nil
	})
}

// OnStop runs first when the pipeline stops, before its children.
func (p *Pipeline) OnStop(context.Context) error {
	p.say("stop ", p.Name())
	return nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	say := func(a ...any) { _, _ = fmt.Fprintln(out, a...) }
	rt := sprag.NewRuntime(nil) // a bus and a silent logger
	pipeline := &Pipeline{say: say}
	if err := sprag.Bind(pipeline, "pipeline", rt); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := pipeline.Start(ctx); err != nil {
		return err
	}
	say("running:", pipeline.State(), "children:", len(pipeline.Children()))
	return pipeline.Stop(ctx)
}
