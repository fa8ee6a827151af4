package state_test

// Regression tests of concurrency bugs: each failed, before its fix,
// because the library broke a promise when its API was used from several
// goroutines or concurrently with its owner's stop. Each says what is
// promised and what used to happen.

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/state"
)

var spinSink atomic.Int64

// spin busy-waits for about n short steps.
func spin(n int) {
	for i := range n {
		spinSink.Add(int64(i))
	}
}

// TestObservableSubscribeRacingItsSubscribersStop:
//
// Promise (sprag/state/state.go:30-33): a subscriber "is no longer called
// once that service has begun to stop, it is removed when that service
// stops"; Subscriber.Cancel (state.go:82-84): "A cancelled subscriber
// leaves no trace in its service: subscribing and cancelling for ever
// keeps memory flat"; Observable (state.go:16-17): "Its methods are safe
// for concurrent use".
//
// Subscribe races with the close of the subscriber's scope, while other
// goroutines update the observable: Subscribe either fails with
// ErrNotRunning or subscribes a subscriber that the close removes, and no
// subscriber is left behind. Subscribe used to set the observer's
// callback without a lock and append the observer without looking
// whether the close had removed it meanwhile: a dead subscriber then
// stayed in the observable's list for ever. The test tries a bounded
// number of times (for at most 4 s).
func TestObservableSubscribeRacingItsSubscribersStop(t *testing.T) {
	// The race needs Subscribe and the close to run at the same time: with
	// one P they run one after the other. Not parallel, so that nothing
	// else runs while GOMAXPROCS is raised.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	owner := sprag.NewScope("owner", sprag.NewRuntime(nil))
	defer func() { _ = owner.Close(context.Background()) }()
	value, err := state.New(owner, 0, state.Label("value"))
	require.NoError(t, err)

	var stop atomic.Bool
	var writers sync.WaitGroup
	for range 2 { // contention on the observable's lock widens the window
		writers.Go(func() {
			for !stop.Load() {
				value.Update(func(v int) int { return v + 1 })
			}
		})
	}
	rt := sprag.NewRuntime(nil)
	deadline := time.Now().Add(4 * time.Second)
	tries, subscribed := 0, 0
	delay := 0 // how long the close waits, in spins; tuned to keep the two close
	for tries < 20000 && time.Now().Before(deadline) {
		tries++
		sub := sprag.NewScope("subscriber", rt)
		start := make(chan struct{})
		var wg sync.WaitGroup
		var subErr error
		wg.Go(func() {
			<-start
			_, subErr = value.Subscribe(sub, func(context.Context, int) error { return nil })
		})
		wg.Go(func() {
			<-start
			spin(delay)
			_ = sub.Close(context.Background())
		})
		close(start)
		wg.Wait()
		<-sub.Done()
		if subErr == nil {
			subscribed++
			delay = max(delay-delay/8-1, 0) // the close came late: bring it closer
		} else {
			delay = min(delay+delay/8+1, 1<<17) // the close came first: let Subscribe start
			require.ErrorIs(t, subErr, sprag.ErrNotRunning)
		}
		if value.Stats().Subscribers != 0 {
			break
		}
	}
	stop.Store(true)
	writers.Wait()
	t.Logf("%d tries, %d subscribed before the close", tries, subscribed)
	assert.Zero(t, value.Stats().Subscribers,
		"every subscriber's scope is closed: none may be left in the observable (left after %d tries)", tries)
}
