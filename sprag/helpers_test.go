package sprag_test

import (
	"context"
	"sync"
	"testing"

	"github.com/sprag-go/sprag/sprag"
)

// probe is a service whose hooks each test sets.
type probe struct {
	sprag.Service
	onStart func(ctx context.Context, p *probe) error
	onStop  func(ctx context.Context, p *probe) error
	health  func(ctx context.Context) error
}

func (p *probe) OnStart(ctx context.Context) error {
	if p.onStart == nil {
		return nil
	}
	return p.onStart(ctx, p)
}

func (p *probe) OnStop(ctx context.Context) error {
	if p.onStop == nil {
		return nil
	}
	return p.onStop(ctx, p)
}

func (p *probe) Health(ctx context.Context) error {
	if p.health == nil {
		return nil
	}
	return p.health(ctx)
}

// plain is a service with no hooks at all.
type plain struct{ sprag.Service }

// journal records steps from any goroutine.
type journal struct {
	mu    sync.Mutex
	steps []string
}

func (j *journal) add(step string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.steps = append(j.steps, step)
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.steps...)
}

// bound returns p bound to a fresh runtime under name.
func bound(t *testing.T, name string, p sprag.Interface) sprag.Interface {
	t.Helper()
	if err := sprag.Bind(p, name, sprag.NewRuntime(nil)); err != nil {
		t.Fatal(err)
	}
	return p
}

// must returns v, and panics with err when it is not nil: in a test, a
// failure with its stack, also inside OnStart.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
