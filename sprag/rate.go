package sprag

import (
	"sync"
	"time"
)

// rateWindow is the period a rateMeter averages over.
const rateWindow = 60

// rateMeter counts events per second over the last minute. Counting takes
// a short lock and allocates nothing; it uses the monotonic clock, so it
// runs on virtual time in a testing/synctest bubble.
type rateMeter struct {
	mu      sync.Mutex
	start   time.Time
	newest  int64             // the second, since start, of buckets[newest%rateWindow]
	buckets [rateWindow]int64 // events per second
}

func newRateMeter(now time.Time) *rateMeter { return &rateMeter{start: now} }

// add counts one event at now.
func (m *rateMeter) add(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sec := m.advance(now)
	m.buckets[sec%rateWindow]++
}

// perSecond returns the events per second over the last minute, or since
// the start when the meter is younger than a minute.
func (m *rateMeter) perSecond(now time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(now)
	var sum int64
	for _, n := range m.buckets {
		sum += n
	}
	span := min(now.Sub(m.start).Seconds(), rateWindow)
	if span < 1 {
		span = 1
	}
	return float64(sum) / span
}

// advance clears the buckets of the seconds that passed since the newest
// one and returns the current second. The caller holds mu.
func (m *rateMeter) advance(now time.Time) int64 {
	sec := int64(now.Sub(m.start) / time.Second)
	if sec <= m.newest {
		return m.newest // the clock does not go back; a late caller counts in the newest second
	}
	for s := max(m.newest+1, sec-rateWindow+1); s <= sec; s++ {
		m.buckets[s%rateWindow] = 0
	}
	m.newest = sec
	return sec
}
