package spragtest_test

// A test of a behaviour of spragtest that once contradicted its
// documentation, said in the comment above it.

import (
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// goexitT is a fakeT whose FailNow ends the goroutine, as testing's does
// (require's assertions call it).
type goexitT struct{ *fakeT }

func (g goexitT) FailNow() { runtime.Goexit() }

// TestEdge_FailNowInStartedSetupHangsTheCleanup: docs/testing.md shows
// require.NoError(t, err) inside the setup of spragtest.Started, which
// runs in the probe's OnStart. When that assertion fails, FailNow ends
// the test's goroutine (runtime.Goexit) in the middle of sprag's Start,
// which recovers panics but not Goexit: the probe stays Starting, its
// start never completes, and the stop that Start registered as a cleanup
// waits for it until its timeout (10s, real time outside a bubble), then
// reports a *sprag.StuckError, "still running at the stop deadline:
// OnStart", that is not what failed. Expected: the cleanup stops the probe at once, with no error of
// its own; the test fails with the assertion's message alone.
func TestEdge_FailNowInStartedSetupHangsTheCleanup(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := &fakeT{TB: t}
		var p *spragtest.Probe
		done := make(chan struct{})
		begin := time.Now()
		go func() {
			defer close(done)
			defer f.runCleanups() // testing runs the cleanups after FailNow
			spragtest.Started(goexitT{f}, "svc", func(probe *spragtest.Probe) {
				p = probe
				goexitT{f}.FailNow() // a require.NoError that fails
			})
		}()
		<-done

		assert.Zero(t, time.Since(begin), "the cleanup waited for a start that will never end")
		assert.Empty(t, f.errors, "the cleanup's own error")
		<-p.Done()
		assert.Contains(t, []string{sprag.Stopped.String(), sprag.Failed.String()}, p.State().String())
	})
}
