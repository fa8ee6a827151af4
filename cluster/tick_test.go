package cluster

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestTickOf(t *testing.T) {
	tests := []struct {
		give   string
		period time.Duration
		want   string
	}{
		{give: "2025-01-01T10:00:00Z", period: time.Minute, want: "2025-01-01T10:00:00Z"},
		{give: "2025-01-01T10:00:00.003Z", period: time.Minute, want: "2025-01-01T10:00:00Z"}, // a late fire
		{give: "2025-01-01T09:59:59.990Z", period: time.Minute, want: "2025-01-01T10:00:00Z"}, // an early one
		{give: "2025-01-01T10:00:29.999Z", period: time.Minute, want: "2025-01-01T10:00:00Z"}, // skewed by almost half
		{give: "2025-01-01T10:00:30Z", period: time.Minute, want: "2025-01-01T10:01:00Z"},     // half way rounds up
		{give: "2025-01-01T10:00:00.4Z", period: 500 * time.Millisecond, want: "2025-01-01T10:00:00.5Z"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.True(t, at(tt.want).Equal(tickOf(at(tt.give), tt.period)), "got %v", tickOf(at(tt.give), tt.period).UTC())
		})
	}
}

func TestNextTick(t *testing.T) {
	tests := []struct {
		name      string
		tick, now string
		want      string
	}{
		{name: "first run: the next multiple", tick: "0001-01-01T00:00:00Z", now: "2025-01-01T10:00:12Z", want: "2025-01-01T10:01:00Z"},
		{name: "after a run on time", tick: "2025-01-01T10:00:00Z", now: "2025-01-01T10:00:00.2Z", want: "2025-01-01T10:01:00Z"},
		{name: "after an early fire, never the same tick", tick: "2025-01-01T10:00:00Z", now: "2025-01-01T09:59:59.99Z", want: "2025-01-01T10:01:00Z"},
		{name: "an overrun skips the missed ticks", tick: "2025-01-01T10:00:00Z", now: "2025-01-01T10:02:10Z", want: "2025-01-01T10:03:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nextTick(at(tt.tick), at(tt.now), time.Minute)
			assert.True(t, at(tt.want).Equal(got), "got %v", got.UTC())
		})
	}
}

func TestRunDeadlineComesBeforeTheLeaseCanExpire(t *testing.T) {
	start := at("2025-01-01T10:00:00Z")
	d := runDeadline(start, 10*time.Second, 2*time.Second)
	assert.Equal(t, at("2025-01-01T10:00:08Z"), d)
	assert.True(t, d.Before(start.Add(10*time.Second)), "the engine counts the TTL from after start")
}

func TestWholeSeconds(t *testing.T) {
	tests := []struct{ give, want time.Duration }{
		{give: time.Second, want: time.Second},
		{give: 1500 * time.Millisecond, want: 2 * time.Second},
		{give: time.Millisecond, want: time.Second},
		{give: 30 * time.Second, want: 30 * time.Second},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, wholeSeconds(tt.give), "%v", tt.give)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		give int
		want time.Duration
	}{
		{give: 1, want: time.Second},
		{give: 2, want: 2 * time.Second},
		{give: 3, want: 4 * time.Second},
		{give: 7, want: 60 * time.Second},
		{give: 1000, want: 60 * time.Second},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, backoff(tt.give, time.Second, time.Minute), "attempt %d", tt.give)
	}
}

func TestKeys(t *testing.T) {
	assert.Equal(t, "report.lease", leaseKey("report"))
	assert.Equal(t, "report.tick.1735725600000", tickKey("report", at("2025-01-01T10:00:00Z")))
}
