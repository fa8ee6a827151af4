package timerq_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sprag-go/sprag/sprag/internal/timerq"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestQueueAgainstASortedList pushes, removes and pops at random and
// checks every pop against a sorted list of what should wait.
func TestQueueAgainstASortedList(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: a seeded sequence, for a reproducible test
	var q timerq.Queue[int]
	slots := make([]timerq.Slot, 300)
	for i := range slots {
		slots[i].Init()
	}
	due := make(map[int]time.Duration)
	for step := range 6000 {
		i := r.IntN(len(slots))
		switch {
		case !slots[i].Queued() && r.IntN(2) == 0:
			d := time.Duration(r.IntN(1000))
			q.Push(i, &slots[i], d)
			due[i] = d
		case slots[i].Queued() && r.IntN(3) == 0:
			q.Remove(&slots[i])
			delete(due, i)
		case q.Len() > 0 && step%5 == 0:
			first := q.FirstDue()
			v := q.Pop()
			require.Equal(t, due[v], first)
			for _, d := range due {
				require.LessOrEqual(t, first, d, "the first is the earliest")
			}
			delete(due, v)
			assert.False(t, slots[v].Queued())
		}
		require.Equal(t, len(due), q.Len())
	}
	var rest []time.Duration
	for q.Len() > 0 {
		rest = append(rest, q.FirstDue())
		q.Pop()
	}
	assert.True(t, slices.IsSorted(rest), "pops come in due order")
	q.Remove(&slots[0]) // removing what is not queued does nothing
}
