package sprag_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/spragtest"
)

// Once a bug (sprag/events.go, Scope.subscribe / Scope.Listen): Scope.Listen
// promises "A listener that is removed (Unsubscribe, a Once listener that
// fired) leaves the scope's bookkeeping too: listening and unsubscribing for
// ever keeps memory flat." The scope passes its own eventbus.OnRemoved
// (cb.Close, which deletes the callback from s.callbacks) and then appends
// the caller's opts; eventbus keeps the last non-nil OnRemoved, so a caller
// that passes eventbus.OnRemoved replaces the scope's: the callback is never
// forgotten and memory grows by one callback per Listen/Unsubscribe.
// (Not telemetry strictly, but found while probing the listener telemetry.)
// Fixed: eventbus now runs every OnRemoved given, in order, the scope's
// first, then the caller's.
func TestRegressScopeListenUserOnRemovedLeaksCallbacks(t *testing.T) {
	svc := &probe{}
	spragtest.Start(t, "leaky", svc)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	churn := func(opts ...eventbus.ListenOption) {
		for range 20000 {
			sub, err := svc.Listen("t", func(context.Context, any) error { return nil }, opts...)
			require.NoError(t, err)
			sub.Unsubscribe()
		}
	}
	churn() // warm up
	before := heap()
	churn()
	flat := int64(heap()) - int64(before) //nolint:gosec // heap sizes are far below 2^63
	removed := 0
	before = heap()
	churn(eventbus.OnRemoved(func() { removed++ }))
	grown := int64(heap()) - int64(before) //nolint:gosec // as above
	assert.Equal(t, 20000, removed)
	t.Logf("heap growth: without OnRemoved %d bytes, with %d bytes", flat, grown)
	assert.Less(t, grown, int64(1<<20), "listening and unsubscribing for ever keeps memory flat, also with the caller's OnRemoved")
}
