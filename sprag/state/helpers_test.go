package state_test

import (
	"context"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

// stopWithin stops p with a context that ends after d and returns Stop's
// error.
func stopWithin(p sprag.Interface, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.Stop(ctx)
}
