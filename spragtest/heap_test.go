package spragtest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sprag-go/sprag/spragtest"
)

func TestHeapGrowthPerCycleWithoutCycles(t *testing.T) {
	var warmups int
	got := spragtest.HeapGrowthPerCycle(0, func(i int) {
		assert.Negative(t, i, "only the warm-up cycles run")
		warmups++
	})
	assert.Zero(t, got)
	assert.Equal(t, 200, warmups)
}
