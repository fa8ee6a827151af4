package main

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/spragtest"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		give      string
		wantCents int64
		wantMsg   string
	}{
		{give: "19.99", wantCents: 1999},
		{give: "20", wantCents: 2000},
		{give: "0.5", wantCents: 50},
		{give: " 7.50 ", wantCents: 750},
		{give: "0.01", wantCents: 1},
		{give: "100000", wantCents: 100_000_00},
		{give: "0", wantMsg: "must be more than 0"},
		{give: "0.00", wantMsg: "must be more than 0"},
		{give: "-3", wantMsg: "must be more than 0"},
		{give: "100000.01", wantMsg: "must be at most $100,000.00"},
		{give: "99999999999999999999", wantMsg: "must be at most $100,000.00"},
		{give: "1.999", wantMsg: "must look like 19.99"},
		{give: "1.", wantMsg: "must look like 19.99"},
		{give: ".5", wantMsg: "must look like 19.99"},
		{give: "1e3", wantMsg: "must look like 19.99"},
		{give: "$5", wantMsg: "must look like 19.99"},
		{give: "1,000", wantMsg: "must look like 19.99"},
		{give: "", wantMsg: "must look like 19.99"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			cents, msg := parseAmount(tt.give)
			assert.Equal(t, tt.wantCents, cents)
			assert.Equal(t, tt.wantMsg, msg)
		})
	}
}

func TestFormats(t *testing.T) {
	tests := []struct {
		give string
		got  string
		want string
	}{
		{give: "money 0", got: formatMoney(0), want: "$0.00"},
		{give: "money 5", got: formatMoney(5), want: "$0.05"},
		{give: "money 123456", got: formatMoney(123456), want: "$1,234.56"},
		{give: "money -150", got: formatMoney(-150), want: "-$1.50"},
		{give: "money min", got: formatMoney(math.MinInt64), want: "-$92,233,720,368,547,758.08"},
		{give: "count 999", got: formatCount(999), want: "999"},
		{give: "count 1000", got: formatCount(1000), want: "1,000"},
		{give: "count 1234567", got: formatCount(1234567), want: "1,234,567"},
		{give: "count -1000", got: formatCount(-1000), want: "-1,000"},
		{give: "bytes 512", got: formatBytes(512), want: "512 B"},
		{give: "bytes 1536", got: formatBytes(1536), want: "1.5 KiB"},
		{give: "bytes 3 MiB", got: formatBytes(3 << 20), want: "3.0 MiB"},
		{give: "bytes max", got: formatBytes(math.MaxUint64), want: "16.0 EiB"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}

func TestStatsTakeTheNewestTotals(t *testing.T) {
	var s Stats
	s.setTotals(Totals{Orders: 2, RevenueCents: 300, EmailsSent: 1})
	s.setTotals(Totals{Orders: 1, RevenueCents: 100, EmailsSent: 2}) // an older order's event, a newer email count
	assert.Equal(t, Stats{Orders: 2, RevenueCents: 300, EmailsSent: 2, EmailsPending: 0}, s)
	s.setTotals(Totals{Orders: 5, RevenueCents: 900, EmailsSent: 2})
	assert.Equal(t, Stats{Orders: 5, RevenueCents: 900, EmailsSent: 2, EmailsPending: 3}, s)
}

func TestOrderService(t *testing.T) {
	svc := NewOrderService(Config{DataDir: t.TempDir()})
	rt := spragtest.Runtime(t)
	events := spragtest.Record(t, rt.Bus, OrderCompleted.Name())
	spragtest.Start(t, "orders", svc, spragtest.WithRuntime(rt))
	ctx := context.Background()
	require.NoError(t, svc.Health(ctx), "the database answers")

	placed, err := svc.Place(ctx, NewOrder{Customer: " Ada ", Email: "ada@example.com", Amount: "19.99"})
	require.NoError(t, err)
	assert.Equal(t, "Ada", placed.Order.Customer)
	assert.Equal(t, int64(1999), placed.Order.TotalCents)
	require.Equal(t, 1, events.Len())
	assert.Equal(t, placed, events.Payloads()[0], "the event carries the order and the totals")

	_, err = svc.Place(ctx, NewOrder{Customer: "  ", Email: "ada@example.com", Amount: "-1"})
	var he *controllers.HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusBadRequest, he.Status)
	assert.Equal(t, []controllers.FieldError{
		{Field: "customer", Rule: "required", Message: "is required"},
		{Field: "amount", Rule: "amount", Message: "must be more than 0"},
	}, he.Fields)
	assert.Equal(t, 1, events.Len(), "a refused order emits nothing")

	spragtest.Stop(t, svc, 10*time.Second)
	require.ErrorContains(t, svc.Health(ctx), "database is closed", "the service closed what it owns")
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv(envData, "")
	t.Setenv(envCollect, "")
	t.Setenv(envTrace, "")
	t.Setenv(envKey, "")
	t.Setenv(envURL, "")
	cfg, err := configFromEnv()
	require.NoError(t, err)
	assert.Equal(t, defaultDataDir(), cfg.DataDir)
	assert.Contains(t, cfg.DataDir, "sprag-dashboard")
	assert.Equal(t, 5*time.Second, cfg.CollectEvery)
	assert.Empty(t, cfg.EmailKey)

	t.Setenv(envData, "/srv/shop")
	t.Setenv(envCollect, "250ms")
	t.Setenv(envTrace, "stdout")
	cfg, err = configFromEnv()
	require.NoError(t, err)
	assert.Equal(t, Config{DataDir: "/srv/shop", CollectEvery: 250 * time.Millisecond, Trace: "stdout", EmailURL: "https://api.mail.example/v1/send"}, cfg)

	tests := []struct {
		give    [2]string
		wantErr string
	}{
		{give: [2]string{envCollect, "often"}, wantErr: `SPRAG_COLLECT_EVERY="often" is not a positive duration`},
		{give: [2]string{envCollect, "-1s"}, wantErr: `SPRAG_COLLECT_EVERY="-1s" is not a positive duration`},
		{give: [2]string{envTrace, "jaeger"}, wantErr: `SPRAG_TRACE="jaeger": the one exporter is "stdout"`},
	}
	for _, tt := range tests {
		t.Run(tt.give[0]+"="+tt.give[1], func(t *testing.T) {
			t.Setenv(envCollect, "")
			t.Setenv(envTrace, "")
			t.Setenv(tt.give[0], tt.give[1])
			_, err := configFromEnv()
			require.ErrorIs(t, err, errConfig)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}
