package cluster

import (
	"context"
	"sync"
	"time"
)

// alive tells the engine, every period, that a delivery is still being
// handled, until stop. Its timer runs on the time package's goroutine;
// stop waits for a call in progress.
type alive struct {
	mu      sync.Mutex
	t       *time.Timer
	stopped bool // guarded by mu
	running sync.WaitGroup
}

// keepAlive calls inProgress every period, to tell the engine a delivery
// is still being handled.
func keepAlive(ctx context.Context, inProgress func(context.Context) error, period time.Duration) *alive {
	a := &alive{}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.t = time.AfterFunc(period, func() {
		a.mu.Lock()
		if a.stopped {
			a.mu.Unlock()
			return
		}
		a.running.Add(1)
		a.mu.Unlock()
		defer a.running.Done()
		_ = inProgress(ctx) // a lost signal only risks a redelivery, which at least once allows
		a.mu.Lock()
		if !a.stopped {
			a.t.Reset(period)
		}
		a.mu.Unlock()
	})
	return a
}

// stop ends the signals and waits for one in progress.
func (a *alive) stop() {
	a.mu.Lock()
	a.stopped = true
	a.t.Stop()
	a.mu.Unlock()
	a.running.Wait()
}
