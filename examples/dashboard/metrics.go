package main

import (
	"context"
	"runtime"
	"sync"
	"time"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// Stats are the figures the dashboard shows: the orders' totals from the
// database and the runtime's figures of the last collection.
type Stats struct {
	Orders        int64     `json:"orders"`
	RevenueCents  int64     `json:"revenue_cents"`
	EmailsSent    int64     `json:"emails_sent"`
	EmailsPending int64     `json:"emails_pending"` // Orders - EmailsSent: every order has one email
	Goroutines    int       `json:"goroutines"`
	HeapBytes     uint64    `json:"heap_bytes"`
	NumGC         uint32    `json:"num_gc"`
	CollectedAt   time.Time `json:"collected_at"` // zero before the first collection
}

// MetricsUpdated carries the figures each time MetricsService collects.
var MetricsUpdated = eventbus.NewTopic[Stats]("metrics:updated")

// MetricsParams is what MetricsService takes.
type MetricsParams struct {
	fx.In
	Orders *OrderService `name:"orders"`
	Config Config
}

// MetricsService is the seed's MetricsService: on an interval it collects
// the runtime's figures and the orders' totals and emits them, and it
// follows completed orders between collections.
type MetricsService struct {
	sprag.Service
	orders *OrderService
	every  time.Duration

	mu   sync.Mutex
	last Stats // guarded by mu
}

// NewMetricsService returns the service; it collects every
// cfg.CollectEvery.
func NewMetricsService(p MetricsParams) *MetricsService {
	return &MetricsService{orders: p.Orders, every: p.Config.CollectEvery}
}

// OnStart schedules the collection, the first one at once, and subscribes
// to completed orders.
func (m *MetricsService) OnStart(context.Context) error {
	if _, err := m.Interval(m.every, m.collect, sprag.Immediately(), sprag.Label("collect")); err != nil {
		return err
	}
	_, err := sprag.ListenTopic(m, OrderCompleted, m.onOrder)
	return err
}

func (m *MetricsService) collect(ctx context.Context) error {
	totals, err := m.orders.Store().Totals(ctx) // cut by the stop, it wraps ctx's error: a clean end for sprag
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	stats := Stats{
		Goroutines:  runtime.NumGoroutine(),
		HeapBytes:   ms.HeapAlloc,
		NumGC:       ms.NumGC,
		CollectedAt: time.Now().UTC(),
	}
	m.mu.Lock()
	stats.setTotals(m.last.totals()) // an order may have committed after the totals were read
	stats.setTotals(totals)
	m.last = stats
	m.mu.Unlock()
	return sprag.EmitTopic(ctx, m, MetricsUpdated, stats)
}

// setTotals takes the figures of t that are newer than s's: each total
// only grows.
func (s *Stats) setTotals(t Totals) {
	if t.Orders > s.Orders {
		s.Orders, s.RevenueCents = t.Orders, t.RevenueCents
	}
	s.EmailsSent = max(s.EmailsSent, t.EmailsSent)
	s.EmailsPending = s.Orders - s.EmailsSent
}

func (s *Stats) totals() Totals {
	return Totals{Orders: s.Orders, RevenueCents: s.RevenueCents, EmailsSent: s.EmailsSent}
}

// onOrder keeps the totals of the latest order. Orders' events may arrive
// out of order, from concurrent requests; the totals only grow, so the
// largest are the latest.
func (m *MetricsService) onOrder(_ context.Context, p Placed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last.setTotals(p.Totals)
	return nil
}

// CurrentStats returns the figures of the last collection, with the
// totals of the latest order since. It is safe for concurrent use.
func (m *MetricsService) CurrentStats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}
