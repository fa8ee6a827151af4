package cluster_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/eventbus"
)

func TestSubjectOf(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "order:completed", want: "order.completed"},
		{give: "tick", want: "tick"},
		{give: "order:*:failed", want: "order.*.failed"},
		{give: "order:*", want: "order.>"},
		{give: "*", want: ">"},
		{give: "*:*", want: "*.>"},
		{give: "v1.0:état", want: "v1%2E0.%C3%A9tat"},
		{give: "a b:c>d:50%", want: "a%20b.c%3Ed.50%25"},
		{give: "user_id:is-ok", want: "user_id.is-ok"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := cluster.SubjectOf(tt.give)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			back, err := cluster.TopicOf(got)
			require.NoError(t, err)
			assert.Equal(t, tt.give, back, "the mapping is reversible")
		})
	}
}

func TestSubjectOfRefusesWhatTheBusRefuses(t *testing.T) {
	for _, give := range []string{"", ":a", "a:", "a::b", "ord*", "a:**", "*x:y"} {
		t.Run(give, func(t *testing.T) {
			_, err := cluster.SubjectOf(give)
			require.ErrorIs(t, err, eventbus.ErrInvalidTopic)
			assert.Contains(t, err.Error(), give)
		})
	}
}

func TestTopicOfRefusesForeignSubjects(t *testing.T) {
	for _, give := range []string{"", "a..b", "a.>.b", "a.*", "%41", "a%3Ab", "a%2A", "a%zz", "a%4", "a b", "a\tb"} {
		t.Run(give, func(t *testing.T) {
			_, err := cluster.TopicOf(give)
			require.ErrorIs(t, err, eventbus.ErrInvalidTopic)
		})
	}
}

// randomName builds a random topic (patterns false) or pattern out of a
// small alphabet, so that random topics and patterns often match.
func randomName(r *rand.Rand, pattern bool) string {
	alphabet := []string{"a", "b", "order", "é", "x.y", "%", "a b", ">", "-_"}
	n := 1 + r.IntN(4)
	segs := make([]string, n)
	for i := range segs {
		if pattern && r.IntN(3) == 0 {
			segs[i] = "*"
			continue
		}
		var b strings.Builder
		for range 1 + r.IntN(2) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		segs[i] = b.String()
	}
	return strings.Join(segs, ":")
}

// busMatches reports whether the local bus calls a listener of pattern
// for an emit of topic: the reference the subjects must agree with.
func busMatches(t testing.TB, pattern, topic string) bool {
	bus := eventbus.New()
	called := false
	_, err := bus.Listen(pattern, func(context.Context, any) error { called = true; return nil })
	require.NoError(t, err)
	require.NoError(t, bus.Emit(context.Background(), topic, nil))
	return called
}

// checkMapping holds the mapping's properties for one pattern and one
// topic: both map to valid subjects, both map back, and NATS matches the
// topic's subject against the pattern's exactly when the bus matches.
func checkMapping(t testing.TB, pattern, topic string) {
	ps, err := cluster.SubjectOf(pattern)
	require.NoError(t, err, pattern)
	ts, err := cluster.SubjectOf(topic)
	require.NoError(t, err, topic)
	require.True(t, server.IsValidSubject(ps), "pattern %q → %q is a valid subject", pattern, ps)
	require.True(t, server.IsValidLiteralSubject(ts), "topic %q → %q is a valid literal subject", topic, ts)
	back, err := cluster.TopicOf(ps)
	require.NoError(t, err)
	require.Equal(t, pattern, back)
	back, err = cluster.TopicOf(ts)
	require.NoError(t, err)
	require.Equal(t, topic, back)
	require.Equal(t, busMatches(t, pattern, topic), server.SubjectMatchesFilter(ts, ps),
		"pattern %q (%s) and topic %q (%s): NATS and the bus disagree", pattern, ps, topic, ts)
}

func TestSubjectMappingAgreesWithTheBus(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // a reproducible sequence of test cases
	matched := 0
	for range 5000 {
		pattern, topic := randomName(r, true), randomName(r, false)
		checkMapping(t, pattern, topic)
		if busMatches(t, pattern, topic) {
			matched++
		}
	}
	assert.Greater(t, matched, 100, "the cases cover matches as well as misses")
}

func FuzzSubjectMapping(f *testing.F) {
	f.Add("order:*", "order:completed")
	f.Add("order:*:failed", "order:7:failed")
	f.Add("*", "a:b:c")
	f.Add("a:*", "a")
	f.Add("x.y:*", "x.y:%")
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		if _, err := eventbus.New().Listen(pattern, func(context.Context, any) error { return nil }); err != nil {
			_, err := cluster.SubjectOf(pattern)
			require.ErrorIs(t, err, eventbus.ErrInvalidTopic, "SubjectOf refuses what the bus refuses: %q", pattern)
			return
		}
		if eventbus.IsPattern(topic) || eventbus.New().Emit(context.Background(), topic, nil) != nil {
			return
		}
		checkMapping(t, pattern, topic)
	})
}
