package state_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/state"
	"github.com/sprag-go/sprag/spragtest"
)

// BenchmarkObservableSet measures a Set that notifies one subscriber.
// BenchmarkObservableSetBaseline is a mutex-guarded value with a slice of
// callbacks, which has no ordering, ownership or panic guarantees.
func BenchmarkObservableSet(b *testing.B) {
	p := &spragtest.Probe{}
	spragtest.Start(b, "svc", p, spragtest.WithRuntime(sprag.NewRuntime(nil)))
	o, err := state.New(p, 0)
	if err != nil {
		b.Fatal(err)
	}
	var sum int
	if _, err := o.Subscribe(p, func(_ context.Context, v int) error {
		sum += v
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		o.Set(i)
	}
}

func BenchmarkObservableSetBaseline(b *testing.B) {
	var mu sync.Mutex
	var value, sum int
	subs := []func(context.Context, int) error{func(_ context.Context, v int) error {
		sum += v
		return nil
	}}
	set := func(v int) {
		mu.Lock()
		value = v
		fns := subs
		mu.Unlock()
		for _, fn := range fns {
			_ = fn(context.Background(), v)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		set(i)
	}
	_ = value
}

// BenchmarkObservableSetBaselineRecover is the baseline with the one thing
// any observable that recovers a subscriber's panic must add: a deferred
// recover around the notifications. It is the floor of that promise alone.
func BenchmarkObservableSetBaselineRecover(b *testing.B) {
	var mu sync.Mutex
	var value, sum int
	subs := []func(context.Context, int) error{func(_ context.Context, v int) error {
		sum += v
		return nil
	}}
	set := func(v int) (err error) {
		mu.Lock()
		value = v
		fns := subs
		mu.Unlock()
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		for _, fn := range fns {
			_ = fn(context.Background(), v)
		}
		return nil
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = set(i)
	}
	_ = value
}

// BenchmarkObservableSetBaselineCallback is the baseline with each
// notification made as the observable makes it: a [sprag.Call] of the
// subscriber's [sprag.Callback], which claims a run of the subscriber's
// scope (so that its Stop waits for it and names it), skips the call once
// that scope stops, and recovers and logs a panic. It is the floor of an
// observable whose subscribers are work of their own services.
func BenchmarkObservableSetBaselineCallback(b *testing.B) {
	p := &spragtest.Probe{}
	spragtest.Start(b, "svc", p, spragtest.WithRuntime(sprag.NewRuntime(nil)))
	cb, err := p.Scope().Callback("subscriber", nil)
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var value, sum int
	fn := func(_ context.Context, v int) error {
		sum += v
		return nil
	}
	ctx := context.Background()
	set := func(v int) {
		mu.Lock()
		value = v
		mu.Unlock()
		_ = sprag.Call(ctx, cb, fn, v)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		set(i)
	}
	_ = value
}
