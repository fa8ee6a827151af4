package queue_test

// Tests of bugs once found with extreme inputs. Each says what is
// promised and what happened.

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
)

// TestEdgeHugeCapacityPanics: New promises to fail "with an error
// wrapping sprag.ErrInvalidArgument for ... a count that is not
// positive", and the project's rule is that bad input is an error, never
// a panic. New allocates the buffer eagerly with make(chan T, capacity):
// Capacity(math.MaxInt) panics at the caller with "makechan: size out of
// range" (and a capacity such as 1<<40 is a fatal, unrecoverable out of
// memory, which this test does not try).
//
// Fix: bound the capacity (refuse one whose buffer cannot be allocated,
// e.g. above a documented maximum, with ErrInvalidArgument), or keep the
// buffer out of a fixed-size channel.
func TestEdgeHugeCapacityPanics(t *testing.T) {
	t.Parallel()
	sc := sprag.NewScope("svc", sprag.NewRuntime(nil))
	defer func() { _ = sc.Close(context.Background()) }()
	var err error
	recovered := func() (r any) {
		defer func() { r = recover() }()
		_, err = queue.New(sc, func(context.Context, int) error { return nil }, queue.Capacity(math.MaxInt))
		return nil
	}()
	require.Nil(t, recovered, "queue.New panicked")
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
}
