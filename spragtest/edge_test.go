package spragtest_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

func TestEdgeStartAllWithANilServiceFailsAtOnce(t *testing.T) {
	t.Parallel()
	var stops spragtest.Collector[string]
	a := stopLog(&stops)
	f := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		spragtest.StartAll(fatalT{f}, []spragtest.Named{{Name: "a", Service: a}, {Name: "nil", Service: nil}, {Name: "never", Service: &spragtest.Probe{}}})
	}()
	<-done
	require.Len(t, f.fatals, 1)
	assert.Contains(t, f.fatals[0], "nil service")
	assert.Equal(t, sprag.Running, a.State())
	f.runCleanups()
	assert.Equal(t, []string{"a"}, stops.All(), "the cleanups stopped what had started")
	assert.Empty(t, f.errors)
}

func TestEdgeStartWithABadNameFailsAtOnceAndRegistersNoStop(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "a/b", "a b"} {
		f := &fakeT{TB: t}
		p := &spragtest.Probe{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			spragtest.Start(fatalT{f}, name, p)
		}()
		<-done
		require.Len(t, f.fatals, 1, "%q", name)
		assert.Contains(t, f.fatals[0], sprag.ErrInvalidArgument.Error())
		assert.Empty(t, f.cleanups, "nothing to stop")
		assert.Equal(t, sprag.Created, p.State())
	}
}

func TestEdgeStartTheSameServiceTwiceFailsAtOnce(t *testing.T) {
	t.Parallel()
	p := spragtest.Started(t, "once", nil) // a nil setup does nothing
	f := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		spragtest.Start(fatalT{f}, "twice", p)
	}()
	<-done
	require.Len(t, f.fatals, 1)
	assert.Contains(t, f.fatals[0], sprag.ErrAlreadyBound.Error())
	assert.Equal(t, sprag.Running, p.State(), "the first start stands")
	assert.Equal(t, "once", p.Name())
}

// Stop in the middle of a test stops the service; the stop that Start
// registered then finds it stopped and reports nothing.
func TestEdgeStopMidTestLeavesTheCleanupQuiet(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := &fakeT{TB: t}
		var stops spragtest.Collector[string]
		p := stopLog(&stops)
		spragtest.Start(f, "svc", p)
		spragtest.Stop(f, p, time.Second)
		assert.Equal(t, sprag.Stopped, p.State())
		f.runCleanups()
		assert.Equal(t, []string{"svc"}, stops.All(), "OnStop ran once")
		assert.Empty(t, f.errors)
		assert.Empty(t, f.fatals)
	})
}

// Stop reports a stop that runs out of time, naming the stuck work, and
// returns at its timeout on the bubble's clock.
func TestEdgeStopReportsStuckWorkAtItsTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := &fakeT{TB: t}
		release := make(chan struct{})
		p := spragtest.Started(f, "svc", func(p *spragtest.Probe) {
			_, err := p.Spawn(func(context.Context) error { <-release; return nil }, sprag.Label("upload"))
			require.NoError(t, err)
		})
		begin := time.Now()
		spragtest.Stop(f, p, 3*time.Second)
		assert.Equal(t, 3*time.Second, time.Since(begin))
		require.Len(t, f.errors, 1)
		assert.Contains(t, f.errors[0], "still running at the stop deadline: task upload")
		close(release)
		<-p.Done()
		f.runCleanups()
		assert.Len(t, f.errors, 1, "the registered stop finds the service stopped")
	})
}

// Record takes a pattern, records every matching topic with its name,
// and stops recording when the test ends (its cleanups run), inside a
// bubble too.
func TestEdgeRecordAPatternInABubble(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := &fakeT{TB: t}
		p := &spragtest.Probe{}
		rt := spragtest.Start(f, "shop", p)
		rec := spragtest.Record(f, rt.Bus, "order:*")
		require.NoError(t, p.Emit(context.Background(), "order:placed", 1))
		require.NoError(t, p.Emit(context.Background(), "order:paid", 2))
		require.NoError(t, p.Emit(context.Background(), "stock:low", 3))
		synctest.Wait()
		require.Equal(t, 2, rec.Len())
		assert.Equal(t, "order:placed", rec.Events()[0].Topic)
		assert.Equal(t, "order:paid", rec.Events()[1].Topic)
		assert.Equal(t, []any{1, 2}, rec.Payloads())

		f.runCleanups() // the end of the test: unsubscribe, then stop
		assert.Equal(t, sprag.Stopped, p.State())
		require.NoError(t, rt.Bus.Emit(context.Background(), "order:placed", 4))
		synctest.Wait()
		assert.Equal(t, 2, rec.Len(), "unsubscribed when the test ended")
		assert.Empty(t, f.errors)
	})
}

func TestEdgeRecordABadTopicFailsAtOnce(t *testing.T) {
	t.Parallel()
	f := &fakeT{TB: t}
	rt := spragtest.Runtime(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		spragtest.Record(fatalT{f}, rt.Bus, "")
	}()
	<-done
	require.Len(t, f.fatals, 1)
	assert.Contains(t, f.fatals[0], "spragtest: record:")
	assert.Empty(t, f.cleanups)
}
