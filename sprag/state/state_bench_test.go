package state_test

import (
	"context"
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
