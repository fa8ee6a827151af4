package main

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// Stats are the figures MetricsService collects.
type Stats struct {
	Goroutines   int       `json:"goroutines"`
	HeapBytes    uint64    `json:"heap_bytes"`
	NumGC        uint32    `json:"num_gc"`
	GCPauseTotal string    `json:"gc_pause_total"`
	LastGCPause  string    `json:"last_gc_pause"`
	Orders       int64     `json:"orders"`
	RevenueCents int64     `json:"revenue_cents"`
	CollectedAt  time.Time `json:"collected_at"`
}

// MetricsUpdated carries the figures each time MetricsService collects.
var MetricsUpdated = eventbus.NewTopic[Stats]("metrics:updated")

// MetricsService is the seed's MetricsService: it collects the runtime's
// figures on an interval, emits them, and counts the orders other services
// announce.
type MetricsService struct {
	sprag.Service
	every   time.Duration
	orders  atomic.Int64
	revenue atomic.Int64

	mu   sync.Mutex
	last Stats
}

// NewMetricsService returns the service; it collects every five seconds.
func NewMetricsService() *MetricsService {
	return &MetricsService{every: 5 * time.Second}
}

// OnStart schedules the collection and subscribes to completed orders.
func (m *MetricsService) OnStart(context.Context) error {
	if _, err := m.Interval(m.every, m.collect, sprag.Immediately(), sprag.Label("collect")); err != nil {
		return err
	}
	_, err := sprag.ListenTopic(m, OrderCompleted, m.onOrder)
	return err
}

func (m *MetricsService) collect(ctx context.Context) error {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	stats := Stats{
		Goroutines:   runtime.NumGoroutine(),
		HeapBytes:    ms.HeapAlloc,
		NumGC:        ms.NumGC,
		GCPauseTotal: nanos(ms.PauseTotalNs).String(),
		LastGCPause:  nanos(ms.PauseNs[(ms.NumGC+255)%256]).String(),
		CollectedAt:  time.Now().UTC(),
	}
	m.mu.Lock()
	m.last = stats
	m.mu.Unlock()
	return sprag.EmitTopic(ctx, m, MetricsUpdated, m.CurrentStats())
}

func (m *MetricsService) onOrder(_ context.Context, o Order) error {
	m.orders.Add(1)
	m.revenue.Add(o.TotalCents)
	return nil
}

// nanos converts the runtime's nanosecond counts, saturating at the
// longest Duration.
func nanos(ns uint64) time.Duration {
	return time.Duration(min(ns, math.MaxInt64))
}

// CurrentStats returns the last collected figures with the order counts of
// this moment. It is safe for concurrent use.
func (m *MetricsService) CurrentStats() Stats {
	m.mu.Lock()
	stats := m.last
	m.mu.Unlock()
	stats.Orders = m.orders.Load()
	stats.RevenueCents = m.revenue.Load()
	return stats
}
