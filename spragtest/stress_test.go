package spragtest_test

// Stress tests of the test kit used from parallel subtests and from many
// goroutines at once.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/spragtest"
)

// TestStressParallelSubtestsShareARuntime: eight parallel subtests share
// one runtime (WithRuntime). Each starts two services with StartAll, a
// relay that hears its own topic and re-emits it, and records its own
// pattern with Record, while eight goroutines per subtest emit at once.
// Each recorder gets exactly its subtest's events, those of one emitting
// goroutine in the order they were emitted (recorder.go:11-12); the
// services of every subtest are stopped and every recorder unsubscribed
// when its subtest ends (start.go:83-85, recorder.go:18-19), so the
// shared bus is left with no listener at all.
func TestStressParallelSubtestsShareARuntime(t *testing.T) {
	t.Parallel()
	rt := spragtest.Runtime(t)
	const goroutines, perGoroutine = 8, 50
	t.Run("group", func(t *testing.T) {
		for sub := range 8 {
			t.Run(strconv.Itoa(sub), func(t *testing.T) {
				t.Parallel()
				in, out := fmt.Sprintf("in%d:job", sub), fmt.Sprintf("out%d:job", sub)
				relay := &spragtest.Probe{OnStartFunc: func(_ context.Context, p *spragtest.Probe) error {
					_, err := p.Listen(in, func(ctx context.Context, payload any) error {
						return p.Emit(ctx, out, payload)
					})
					return err
				}}
				emitter := &spragtest.Probe{}
				spragtest.StartAll(t, []spragtest.Named{
					{Name: "relay", Service: relay},
					{Name: "emitter", Service: emitter},
				}, spragtest.WithRuntime(rt))
				rec := spragtest.Record(t, rt.Bus, fmt.Sprintf("out%d:*", sub))

				var wg sync.WaitGroup
				for g := range goroutines {
					wg.Go(func() {
						for i := range perGoroutine {
							assert.NoError(t, emitter.Emit(context.Background(), in, fmt.Sprintf("%d %d %d", sub, g, i))) //nolint:testifylint // off the test's goroutine, where require cannot stop the test
							_ = rec.Len()
							_ = rec.Payloads()
						}
					})
				}
				wg.Wait()

				events := rec.Events()
				require.Len(t, events, goroutines*perGoroutine, "every event of this subtest, and no other")
				next := make([]int, goroutines)
				for _, e := range events {
					assert.Equal(t, out, e.Topic)
					var s, g, i int
					_, err := fmt.Sscanf(e.Payload.(string), "%d %d %d", &s, &g, &i)
					require.NoError(t, err)
					require.Equal(t, sub, s, "an event of another subtest")
					require.Equal(t, next[g], i, "one goroutine's events in the order emitted")
					next[g] = i + 1
				}
			})
		}
	})
	assert.Zero(t, rt.Bus.Len(), "every subtest's services stopped and recorders unsubscribed: %v", rt.Bus.Topics())
}

// TestStressCollectorAndTimelineFromManyGoroutinesInABubble: goroutines
// of a synctest bubble add to one Collector and mark one Timeline at
// different virtual times, concurrently with readers. The Collector keeps
// each goroutine's values in the order it added them (collect.go:11, 24,
// "safe for concurrent use"), and the Timeline's marks are the bubble's
// times, in the order they were made (collect.go:37-41, 53).
func TestStressCollectorAndTimelineFromManyGoroutinesInABubble(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tl := spragtest.NewTimeline()
		var c spragtest.Collector[string]
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := range 20 {
					time.Sleep(time.Duration(g+1) * time.Millisecond)
					tl.Mark()
					c.Add(fmt.Sprintf("%d %d", g, i))
					_ = c.Len()
					_ = tl.Times()
				}
			})
		}
		wg.Wait()

		times := tl.Times()
		require.Len(t, times, 16*20)
		assert.True(t, slices.IsSorted(times), "marks in the order they were made, on the bubble's clock")
		var want []time.Duration
		for g := range 16 {
			for i := range 20 {
				want = append(want, time.Duration(g+1)*time.Duration(i+1)*time.Millisecond)
			}
		}
		slices.Sort(want)
		assert.Equal(t, want, times, "each mark is the virtual time of its goroutine's sleep")

		next := make([]int, 16)
		for _, v := range c.All() {
			f := strings.Fields(v)
			g, _ := strconv.Atoi(f[0])
			i, _ := strconv.Atoi(f[1])
			require.Equal(t, next[g], i, "one goroutine's values in the order added")
			next[g] = i + 1
		}
		assert.Equal(t, slices.Repeat([]int{20}, 16), next)
	})
}
