package state_test

import (
	"context"
	"sync"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

// collected gathers values from any goroutine.
type collected[T any] struct {
	mu   sync.Mutex
	vals []T
}

func (c *collected[T]) add(v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vals = append(c.vals, v)
}

func (c *collected[T]) get() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]T(nil), c.vals...)
}

// stopWithin stops p with a context that ends after d and returns Stop's
// error.
func stopWithin(p sprag.Interface, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.Stop(ctx)
}
