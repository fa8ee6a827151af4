package sprag_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
)

// TestConcurrentUseFromManyGoroutines hammers one service with Start, Stop,
// Listen, Spawn, Interval, Emit and AddCleanup from many goroutines. The
// race detector checks the locking; the assertions check that whatever was
// accepted before the stop was torn down by it.
func TestConcurrentUseFromManyGoroutines(t *testing.T) {
	t.Parallel()
	for range 20 {
		rt := sprag.NewRuntime(nil)
		p := &probe{}
		require.NoError(t, sprag.Bind(p, "svc", rt))
		var cleanups, cleaned atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 8 {
			wg.Go(func() {
				<-start
				_ = p.Start(context.Background())
				for i := range 20 {
					switch (g + i) % 5 {
					case 0:
						_, _ = p.Listen("t", func(context.Context, any) error { return nil })
					case 1:
						_, _ = p.Spawn(func(ctx context.Context) error {
							<-ctx.Done()
							return nil
						})
					case 2:
						_, _ = p.Interval(time.Millisecond, func(context.Context) error { return nil })
					case 3:
						_ = p.Emit(context.Background(), "t", i)
					case 4:
						if p.AddCleanup(func(context.Context) error {
							cleaned.Add(1)
							return nil
						}) == nil {
							cleanups.Add(1)
						}
					}
				}
				if g == 7 {
					_ = p.Stop(context.Background())
				}
			})
		}
		close(start)
		wg.Wait()
		require.NoError(t, p.Stop(context.Background()))
		<-p.Done()
		assert.Equal(t, sprag.Stopped, p.State())
		assert.Equal(t, 0, rt.Bus.Len(), "every accepted listener was removed")
		assert.Equal(t, cleanups.Load(), cleaned.Load(), "every accepted cleanup ran")
	}
}
