package callsite_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/sprag-go/sprag/sprag/internal/callsite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type thing struct{}

func (thing) Method() {}

func TestFuncName(t *testing.T) {
	t.Parallel()
	var nilFunc func()
	tests := []struct {
		give any
		want string
	}{
		{thing{}.Method, "thing.Method"},
		{strings.ToUpper, "ToUpper"},
		{nilFunc, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, callsite.FuncName(tt.give))
	}
}

func TestOutsideSkipsTheRootsFrames(t *testing.T) {
	t.Parallel()
	// Outside's own frame is in the root; this test's package,
	// callsite_test, is not.
	site := callsite.Outside("github.com/sprag-go/sprag/sprag/internal/callsite", 0)
	assert.True(t, strings.HasPrefix(site, "callsite/callsite_test.go:"), site)
	site = callsite.Outside("github.com/sprag-go/sprag/sprag/internal/other", 0)
	assert.True(t, strings.HasPrefix(site, "callsite/callsite.go:"), "Outside's own frame, outside that root: %s", site)
}
