package queue_test

// Regression tests of concurrency bugs: each failed, before its fix,
// because the library broke a promise when its API was used from several
// goroutines or concurrently with its owner's stop. Each says what is
// promised and what used to happen.

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/spragtest"
)

// localStore is a Backend that keeps its items in this process only, so
// that Drain returns every item it holds (no other consumer will handle
// them). Its TryPush can be held, as a push over the network takes time,
// and it reports when a Pull has returned because its context ended and
// when Drain is called.
type localStore struct {
	mu    sync.Mutex
	items []int

	holdPush    chan struct{} // TryPush waits for it to close
	pushing     chan struct{} // closed when a TryPush has begun
	pulling     chan struct{} // closed when a Pull has begun
	pullEnded   chan struct{} // closed when a Pull returned because its context ended
	drained     chan struct{} // closed when Drain was called
	pushOnce    sync.Once
	pullingOnce sync.Once
	pullOnce    sync.Once
	drainOnce   sync.Once
}

func newLocalStore() *localStore {
	return &localStore{
		holdPush:  make(chan struct{}),
		pushing:   make(chan struct{}),
		pulling:   make(chan struct{}),
		pullEnded: make(chan struct{}),
		drained:   make(chan struct{}),
	}
}

func (s *localStore) TryPush(item int) error {
	s.pushOnce.Do(func() { close(s.pushing) })
	<-s.holdPush
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, item)
	return nil
}

func (s *localStore) Push(_ context.Context, item int) error { return s.TryPush(item) }

func (s *localStore) Pull(ctx context.Context) (int, func(error), error) {
	s.pullingOnce.Do(func() { close(s.pulling) })
	<-ctx.Done() // hands nothing out: the item under test arrives once the stop began
	s.pullOnce.Do(func() { close(s.pullEnded) })
	return 0, nil, ctx.Err()
}

func (s *localStore) Drain(context.Context) []int {
	s.drainOnce.Do(func() { close(s.drained) })
	s.mu.Lock()
	defer s.mu.Unlock()
	rest := s.items
	s.items = nil
	return rest
}

// hookedCtx is a stop context without a deadline whose AfterFunc method,
// which context.AfterFunc calls synchronously, runs hook first when it is
// called from a queue's stopAccepting (step 4 of the stop): a test holds
// step 4 there, after the workers' contexts have ended (step 3).
type hookedCtx struct {
	mu     sync.Mutex
	done   chan struct{}
	afters []func()
	hook   func()
}

func newHookedCtx(hook func()) *hookedCtx {
	return &hookedCtx{done: make(chan struct{}), hook: hook}
}

func (c *hookedCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *hookedCtx) Done() <-chan struct{}       { return c.done }
func (c *hookedCtx) Value(any) any               { return nil }

func (c *hookedCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

func (c *hookedCtx) AfterFunc(f func()) func() bool {
	buf := make([]byte, 1<<14)
	if strings.Contains(string(buf[:runtime.Stack(buf, false)]), ").stopAccepting(") {
		c.hook()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.afters = append(c.afters, f)
	i := len(c.afters) - 1
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		ok := c.afters[i] != nil
		c.afters[i] = nil
		return ok
	}
}

// TestQueueBackendDrainedOnceTheQueueStopsAccepting:
//
// Promise (sprag/queue/queue.go:50-56): "Once the last worker has
// returned, what is still queued is handed to the [Overflow] callback, or
// ... counted as Dropped ... So no accepted item is lost silently:
// handled + overflowed + dropped equals accepted, exactly", with a
// backend too (queue.go:58-64: "what the backend's Drain returns then
// goes to Overflow or is counted as dropped, as above"); and
// (queue.go:42-44) the queue "stops accepting once the owner's callbacks
// are closed (step 4 of sprag.Scope.Close)".
//
// A TryEnqueue whose push began before the stop returns nil, and its item
// is handed to Overflow: the backed queue's Drain waits until the queue
// has stopped accepting. The workers of a backed queue end at step 3 of
// the stop, and the last one used to call Drain at once, while the queue
// still accepted: the item then reached the backend after Drain, and
// nobody handled it, overflowed it or counted it. The test holds step 4
// at its start (a stop context whose AfterFunc the queue's stopAccepting
// calls) to make the interleaving certain.
func TestQueueBackendDrainedOnceTheQueueStopsAccepting(t *testing.T) {
	t.Parallel()
	p := spragtest.Started(t, "svc", nil)
	s := newLocalStore()
	var left spragtest.Collector[int]
	q, err := queue.New(p, func(context.Context, int) error { return nil },
		queue.Label("jobs"), queue.BackedBy[int](s),
		queue.Overflow(func(_ context.Context, items []int) error {
			for _, it := range items {
				left.Add(it)
			}
			return nil
		}))
	require.NoError(t, err)
	<-s.pulling // the worker waits for an item

	pushed := make(chan error, 1)
	go func() { pushed <- q.TryEnqueue(1) }()
	<-s.pushing // the push is under way: the queue has not refused it

	waitDrain := func() {
		select {
		case <-s.drained: // the bug: Drain comes before the queue stops accepting
		case <-time.After(2 * time.Second): // a fixed queue waits for the push first
		}
	}
	stopCtx := newHookedCtx(waitDrain)
	stopped := make(chan error, 1)
	go func() { stopped <- p.Stop(stopCtx) }()
	<-s.pullEnded // step 3 of the stop: the worker's context ended
	waitDrain()
	close(s.holdPush)

	require.NoError(t, <-pushed, "the push began before the stop: the item is accepted")
	require.NoError(t, <-stopped)
	<-p.Done()

	st := q.Stats()
	assert.Equal(t, int64(1), st.Processed+st.Failed+st.Overflowed+st.Dropped,
		"handled + overflowed + dropped = accepted (1); stats %+v", st)
	assert.Equal(t, []int{1}, left.All(), "the accepted item that no worker handled goes to Overflow")
	s.mu.Lock()
	assert.Empty(t, s.items, "the accepted item must not be left in the backend after Drain")
	s.mu.Unlock()
}

// holdingProvider is a MeterProvider whose meters hold a queue's
// RegisterCallback (in New, after the queue's callback is registered and
// before its workers are spawned) until hold closes, and report it on
// registering.
type holdingProvider struct {
	metric.MeterProvider
	registering chan struct{}
	hold        chan struct{}
}

func (p holdingProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return holdingMeter{Meter: p.MeterProvider.Meter(name, opts...), p: p}
}

type holdingMeter struct {
	metric.Meter
	p holdingProvider
}

func (m holdingMeter) RegisterCallback(f metric.Callback, instruments ...metric.Observable) (metric.Registration, error) {
	buf := make([]byte, 1<<14)
	if strings.Contains(string(buf[:runtime.Stack(buf, false)]), "sprag/queue.(*Queue[") {
		close(m.p.registering)
		<-m.p.hold
	}
	return m.Meter.RegisterCallback(f, instruments...)
}

// queueSeries returns the data points of the queue's observable figures
// (sprag.queue.depth, handled and failed) for the queue labelled label.
func queueSeries(t *testing.T, reader *sdkmetric.ManualReader, label string) []string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	var found []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var sets []attribute.Set
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					sets = append(sets, p.Attributes)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					sets = append(sets, p.Attributes)
				}
			}
			for _, set := range sets {
				if v, ok := set.Value("sprag.queue"); ok && v.AsString() == label &&
					(m.Name == "sprag.queue.depth" || m.Name == "sprag.queue.handled" || m.Name == "sprag.queue.failed") {
					found = append(found, m.Name)
				}
			}
		}
	}
	return found
}

// TestQueueNewRacingCloseLeavesNoMetricsCallback:
//
// Promise (sprag/queue/queue.go:117-118): "New fails, creating nothing,
// with an error wrapping sprag.ErrNotRunning when o's scope is not open";
// and (queue.go:366) the figures' callback goes once the figures are
// final.
//
// When the owner begins to stop while New runs, after New registered the
// queue's metrics callback and before it spawned the first worker, New
// fails with ErrNotRunning and unregisters the callback. It used to leave
// it registered: the failed queue was reported for ever, and the meter
// provider kept it alive.
func TestQueueNewRacingCloseLeavesNoMetricsCallback(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	hp := holdingProvider{MeterProvider: mp, registering: make(chan struct{}), hold: make(chan struct{})}
	sc := sprag.NewScope("svc", sprag.NewRuntime(nil, sprag.WithMeterProvider(hp)))

	made := make(chan error, 1)
	go func() {
		q, err := queue.New(sc, func(context.Context, int) error { return nil }, queue.Label("jobs"))
		if q != nil {
			err = errors.Join(err, errors.New("New returned a queue"))
		}
		made <- err
	}()
	<-hp.registering // New has registered its callback and not spawned its workers
	require.NoError(t, sc.Close(context.Background()))
	close(hp.hold)
	require.ErrorIs(t, <-made, sprag.ErrNotRunning, "the scope closed while New ran")
	<-sc.Done()

	control := sprag.NewScope("control", sprag.NewRuntime(nil, sprag.WithMeterProvider(mp)))
	_, err := queue.New(control, func(context.Context, int) error { return nil }, queue.Label("control"))
	require.NoError(t, err)
	require.NotEmpty(t, queueSeries(t, reader, "control"), "a queue that runs is reported: the reading works")
	require.NoError(t, control.Close(context.Background()))
	<-control.Done()

	assert.Empty(t, queueSeries(t, reader, "jobs"),
		"a queue that New refused is not reported: its metrics callback must be unregistered")
}
