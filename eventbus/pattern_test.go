package eventbus_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
)

func TestPatternRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		topic   string
		want    bool
	}{
		{"order:*", "order:completed", true},
		{"order:*", "order:item:added", true},
		{"order:*", "order", false},
		{"order:*", "orders:completed", false},
		{"*", "order", true},
		{"*", "order:completed:late", true},
		{"order:*:failed", "order:7:failed", true},
		{"order:*:failed", "order:failed", false},
		{"order:*:failed", "order:7:failed:again", false},
		{"*:completed", "order:completed", true},
		{"*:completed", "order:x:completed", false},
		{"*:*", "a:b", true},
		{"*:*", "a:b:c", true},
		{"*:*", "a", false},
		{"a:b", "a:b", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.topic, func(t *testing.T) {
			t.Parallel()
			b := eventbus.New()
			called := false
			mustListen(t, b, tt.pattern, func(context.Context, any) error {
				called = true
				return nil
			})
			require.NoError(t, b.Emit(context.Background(), tt.topic, nil))
			assert.Equal(t, tt.want, called)
			assert.Equal(t, tt.want, referenceMatch(tt.pattern, tt.topic), "the reference matcher agrees")
		})
	}
}

func TestPatternListenersMergeWithTopicListenersInSubscriptionOrder(t *testing.T) {
	t.Parallel()
	b := eventbus.New()
	var rec recorder
	mustListen(t, b, "order:*", rec.listener("p1"))
	mustListen(t, b, "order:completed", rec.listener("e1"))
	mustListen(t, b, "*", rec.listener("p2"))
	mustListen(t, b, "order:completed", rec.listener("e2"))
	p3 := mustListen(t, b, "order:*", rec.listener("p3"))

	require.NoError(t, b.Emit(context.Background(), "order:completed", 1))
	require.NoError(t, b.Emit(context.Background(), "order:shipped", 2), "a topic with pattern listeners only")
	p3.Unsubscribe()
	require.NoError(t, b.Emit(context.Background(), "order:completed", 3))
	assert.Equal(t, []string{
		"p1:1", "e1:1", "p2:1", "e2:1", "p3:1",
		"p1:2", "p2:2", "p3:2",
		"p1:3", "e1:3", "p2:3", "e2:3",
	}, rec.get())
}

func TestIsPattern(t *testing.T) {
	t.Parallel()
	assert.True(t, eventbus.IsPattern("order:*"))
	assert.False(t, eventbus.IsPattern("order:completed"))
}

// referenceMatch is the pattern rule written the obvious way, on split
// segments: a trailing '*' takes one or more segments, any other '*' one.
// It returns false for a malformed pattern or topic.
func referenceMatch(pattern, topic string) bool {
	if !wellFormed(pattern, true) || !wellFormed(topic, false) {
		return false
	}
	ps, ts := strings.Split(pattern, ":"), strings.Split(topic, ":")
	last := len(ps) - 1
	if ps[last] == "*" {
		if len(ts) < len(ps) {
			return false
		}
		ps, ts = ps[:last], ts[:last]
	} else if len(ts) != len(ps) {
		return false
	}
	for i := range ps {
		if ps[i] != "*" && ps[i] != ts[i] {
			return false
		}
	}
	return true
}

func wellFormed(name string, pattern bool) bool {
	if name == "" {
		return false
	}
	for _, s := range strings.Split(name, ":") {
		if s == "" || (strings.Contains(s, "*") && (!pattern || s != "*")) {
			return false
		}
	}
	return true
}

// FuzzPatternMatch checks the bus's matcher against referenceMatch, and that
// malformed names are refused rather than matched. Run it with
//
//	go test -fuzz FuzzPatternMatch ./eventbus
func FuzzPatternMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"order:*", "order:completed"},
		{"*", "a:b:c"},
		{"a:*:c", "a:b:c"},
		{"a:*:c", "a::c"},
		{"ord*", "order"},
		{"*:*", "x"},
		{"a", "a:"},
		{"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		b := eventbus.New()
		called := false
		_, err := b.Listen(pattern, func(context.Context, any) error {
			called = true
			return nil
		})
		if !wellFormed(pattern, true) {
			if err == nil {
				t.Fatalf("Listen(%q) accepted a malformed pattern", pattern)
			}
			return
		}
		if err != nil {
			t.Fatalf("Listen(%q): %v", pattern, err)
		}
		emitErr := b.Emit(context.Background(), topic, nil)
		if !wellFormed(topic, false) {
			if emitErr == nil {
				t.Fatalf("Emit(%q) accepted a malformed topic", topic)
			}
			return
		}
		if emitErr != nil {
			t.Fatalf("Emit(%q): %v", topic, emitErr)
		}
		if want := referenceMatch(pattern, topic); called != want {
			t.Fatalf("pattern %q, topic %q: called=%v, reference says %v", pattern, topic, called, want)
		}
		// The precomputed path (a topic with its own listener) must agree.
		if _, err := b.Listen(topic, func(context.Context, any) error { return nil }); err != nil {
			t.Fatalf("Listen(%q): %v", topic, err)
		}
		called = false
		if err := b.Emit(context.Background(), topic, nil); err != nil {
			t.Fatal(err)
		}
		if want := referenceMatch(pattern, topic); called != want {
			t.Fatalf("pattern %q, topic %q with a listener of its own: called=%v, reference says %v", pattern, topic, called, want)
		}
	})
}
