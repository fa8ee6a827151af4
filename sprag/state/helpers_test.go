package state_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
)

// stopWithin stops p with a context that ends after d and returns Stop's
// error.
func stopWithin(p sprag.Interface, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.Stop(ctx)
}

// requireOrderedUpTo checks what a subscriber saw: values in the order they
// were stored, never an older one after a newer one, ending with last.
func requireOrderedUpTo(t *testing.T, got []int, last int) {
	t.Helper()
	require.NotEmpty(t, got)
	for i := 1; i < len(got); i++ {
		require.Less(t, got[i-1], got[i], "never an older value after a newer one")
	}
	require.Equal(t, last, got[len(got)-1], "the latest value arrives last")
}
