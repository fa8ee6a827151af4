package telemetry

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTopicValuesAreBounded(t *testing.T) {
	t.Parallel()
	b := newBoundedNames(3)
	first := b.set("order:1")
	assert.Equal(t, first, b.set("order:1"), "a name keeps its set")
	b.set("order:2")
	b.set("order:3")
	assert.Equal(t, b.other, b.set("order:4"), "past the bound, names share OtherTopic's set")
	for i := range 1000 {
		b.set(fmt.Sprintf("order:%d", i))
	}
	assert.Len(t, b.sets, 3, "the bound holds")
}
