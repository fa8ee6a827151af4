package spragtest

import (
	"context"

	"github.com/sprag-go/sprag/sprag"
)

// Probe is a ready-made service for tests whose hooks are the functions in
// its fields; a nil field is a hook that does nothing. Tests of primitives
// and of code that takes a service use it instead of declaring a type.
type Probe struct {
	sprag.Service
	OnStartFunc func(ctx context.Context, p *Probe) error
	OnStopFunc  func(ctx context.Context, p *Probe) error
	HealthFunc  func(ctx context.Context) error
}

// OnStart calls OnStartFunc.
func (p *Probe) OnStart(ctx context.Context) error {
	if p.OnStartFunc == nil {
		return nil
	}
	return p.OnStartFunc(ctx, p)
}

// OnStop calls OnStopFunc.
func (p *Probe) OnStop(ctx context.Context) error {
	if p.OnStopFunc == nil {
		return nil
	}
	return p.OnStopFunc(ctx, p)
}

// Health calls HealthFunc.
func (p *Probe) Health(ctx context.Context) error {
	if p.HealthFunc == nil {
		return nil
	}
	return p.HealthFunc(ctx)
}

// Started starts a Probe named name whose OnStart calls setup, with
// [Start] and its options: setup runs while the probe starts, where every
// managed method is usable. It returns the running probe.
func Started(t TB, name string, setup func(p *Probe), opts ...Option) *Probe {
	t.Helper()
	p := &Probe{OnStartFunc: func(_ context.Context, p *Probe) error {
		if setup != nil {
			setup(p)
		}
		return nil
	}}
	Start(t, name, p, opts...)
	return p
}
