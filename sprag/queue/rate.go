package queue

import (
	"context"
	"sync"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

// window is the period a throughput figure covers.
const window = time.Minute

// throughput measures items per second over the last minute without
// costing the items anything: a timer of the queue's scope samples the
// count of handled items every second, half a second off the whole
// seconds, and the figure is the growth since the oldest sample of the
// last minute. It runs on virtual time in a testing/synctest bubble.
type throughput struct {
	mu      sync.Mutex
	samples [61]sample // a ring; next is the slot written next
	next    int
	n       int // samples held
}

type sample struct {
	at    time.Time
	count int64
}

// start takes the first sample and starts the sampling timer on sc.
func (m *throughput) start(sc *sprag.Scope, label string, count func() int64) (*sprag.Timer, error) {
	m.add(sample{at: time.Now(), count: count()})
	return sc.Schedule(everySecondOffByHalf{}, func(context.Context) error {
		m.add(sample{at: time.Now(), count: count()})
		return nil
	}, sprag.Label(label+" throughput"))
}

// everySecondOffByHalf runs half a second after it starts, then every
// second: samples never fall on the whole seconds that tests enqueue at.
type everySecondOffByHalf struct{}

func (everySecondOffByHalf) Next(now time.Time, last sprag.Run) time.Time {
	if last.N == 0 {
		return now.Add(time.Second / 2)
	}
	return now.Add(time.Second)
}

func (m *throughput) add(s sample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples[m.next] = s
	m.next = (m.next + 1) % len(m.samples)
	m.n = min(m.n+1, len(m.samples))
}

// perSecond returns the items per second since the oldest sample of the
// last minute, given the count now; since the start when the queue is
// younger than a minute.
func (m *throughput) perSecond(count int64) float64 {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	oldest := sample{}
	for i := range m.n {
		s := m.samples[(m.next-1-i+2*len(m.samples))%len(m.samples)]
		if now.Sub(s.at) > window {
			break
		}
		oldest = s
	}
	span := now.Sub(oldest.at).Seconds()
	if oldest.at.IsZero() || span <= 0 {
		return 0
	}
	return float64(count-oldest.count) / max(span, 1)
}
