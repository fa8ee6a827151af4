package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// samples are the series of one scrape of /metrics: each line's name and
// labels, as exported, and its value.
type samples map[string]float64

// scrape reads /metrics in the Prometheus text format.
func scrape(ctx context.Context, t *testing.T, p *program) samples {
	t.Helper()
	status, body := p.request(ctx, http.MethodGet, "/metrics", "", "", "text/plain")
	require.Equal(t, http.StatusOK, status, body)
	out := samples{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	return out
}

// sum adds the values of the series of the metric name whose labels
// include each of labels (`key="value"`); found says whether any did.
func (s samples) sum(name string, labels ...string) (total float64, found bool) {
	for series, v := range s {
		metric, rest, _ := strings.Cut(series, "{")
		if metric != name {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				match = false
				break
			}
		}
		if match {
			total += v
			found = true
		}
	}
	return total, found
}

// TestDashboardMetrics scrapes /metrics, the OpenTelemetry Prometheus
// exporter's, and checks that the series of services, managed work, the
// bus and HTTP requests are there and move as the app works.
func TestDashboardMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net, not a wait
	defer cancel()
	p := startProgram(t, t.TempDir(), "SPRAG_COLLECT_EVERY=100ms")
	before := scrape(ctx, t, p)

	for _, svc := range []string{"orders", "email", "email/outbox", "metrics", "http"} {
		state, ok := before.sum("sprag_service_state", `sprag_service="`+svc+`"`)
		assert.True(t, ok, "the state of %s", svc)
		assert.InDelta(t, 2, state, 0, "%s is running (2)", svc)
		starts, ok := before.sum("sprag_service_starts_total", `sprag_service="`+svc+`"`)
		assert.True(t, ok && starts == 1, "%s started once: %v", svc, starts)
	}
	tasks, ok := before.sum("sprag_tasks_active", `sprag_service="email/outbox"`)
	assert.True(t, ok && tasks == 1, "the outbox's drain task runs: %v", tasks)
	timers, ok := before.sum("sprag_timers_active", `sprag_service="metrics"`)
	assert.True(t, ok && timers == 1, "the collection's interval: %v", timers)
	_, ok = before.sum("sprag_http_stream_clients", `http_route="/events"`)
	assert.True(t, ok, "the stream's figures")

	collect := func(s samples) float64 {
		v, _ := s.sum("sprag_work_runs_total", `sprag_service="metrics"`, `sprag_work_kind="interval"`, `sprag_work_label="collect"`)
		return v
	}
	onOrder := func(s samples) float64 {
		v, _ := s.sum("sprag_work_runs_total", `sprag_work_kind="listener"`, `sprag_work_label="(*MetricsService).onOrder"`)
		return v
	}
	emits := func(s samples, topic string) float64 {
		v, _ := s.sum("sprag_bus_emits_total", `sprag_topic="`+topic+`"`)
		return v
	}
	calls := func(s samples, listener string) float64 {
		v, _ := s.sum("sprag_bus_listener_calls_total", `sprag_topic="order:completed"`, `sprag_listener="`+listener+`"`)
		return v
	}
	requests := func(s samples, route string) float64 {
		v, _ := s.sum("http_server_request_duration_seconds_count", `http_route="`+route+`"`)
		return v
	}

	status, body := p.request(ctx, http.MethodPost, "/orders/create", contentJSON, `{"customer":"Ada","email":"ada@example.com","amount":"5"}`, contentJSON)
	require.Equal(t, http.StatusOK, status, body)
	status, _ = p.request(ctx, http.MethodGet, "/dashboard", "", "", acceptHTML)
	require.Equal(t, http.StatusOK, status)

	var after samples
	eventually(t, 30*time.Second, func() bool {
		after = scrape(ctx, t, p)
		return collect(after) >= collect(before)+2
	}, "the collection's runs are counted")
	assert.InDelta(t, onOrder(before)+1, onOrder(after), 0, "one listener run for the order")
	assert.InDelta(t, emits(before, "order:completed")+1, emits(after, "order:completed"), 0, "the order's emit")
	assert.Greater(t, emits(after, "metrics:updated"), emits(before, "metrics:updated"), "the collections' emits")
	for _, listener := range []string{"metrics (*MetricsService).onOrder", "email (*EmailService).wakeOutbox", "http stream GET /events"} {
		assert.InDelta(t, calls(before, listener)+1, calls(after, listener), 0, "%s heard the order", listener)
	}
	assert.InDelta(t, requests(before, "/orders/create")+1, requests(after, "/orders/create"), 0, "the order's request, by route")
	assert.InDelta(t, requests(before, "/dashboard")+1, requests(after, "/dashboard"), 0, "the page's request, by route")
	_, ok = after.sum("http_server_request_duration_seconds_bucket", `http_route="/dashboard"`, `le="0.005"`)
	assert.True(t, ok, "request durations are a histogram")
	for _, name := range []string{"http_server_request_body_size_bytes_count", "http_server_response_body_size_bytes_count"} {
		was, _ := before.sum(name, `http_route="/orders/create"`)
		now, ok := after.sum(name, `http_route="/orders/create"`)
		assert.True(t, ok, "the body sizes, by route: %s", name)
		assert.InDelta(t, was+1, now, 0, "%s of the order's request", name)
	}
	p.stop()
}

// TestDashboardTracesToStdout runs the program with SPRAG_TRACE=stdout
// and follows one order's trace: the request's span, the action's, and
// the bus listeners the order's event reached, one trace.
func TestDashboardTracesToStdout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net, not a wait
	defer cancel()
	p := startProgram(t, t.TempDir(), "SPRAG_TRACE=stdout")
	status, body := p.request(ctx, http.MethodPost, "/orders/create", contentJSON, `{"customer":"Ada","email":"ada@example.com","amount":"5"}`, contentJSON)
	require.Equal(t, http.StatusOK, status, body)
	p.stop() // every span is written when it ends

	type spanContext struct{ TraceID, SpanID string }
	type span struct {
		Name        string
		SpanContext spanContext
		Parent      spanContext
		Links       []struct{ SpanContext spanContext }
	}
	byName := map[string]span{}
	var collects []span
	for _, line := range strings.Split(p.stdout.String(), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var s span
		require.NoError(t, json.Unmarshal([]byte(line), &s), line)
		byName[s.Name] = s
		if s.Name == "interval collect" {
			collects = append(collects, s)
		}
	}
	request, ok := byName["POST /orders/create"]
	require.True(t, ok, "the request's span; spans: %v", keys(byName))
	action := byName["action create"]
	assert.Equal(t, request.SpanContext.SpanID, action.Parent.SpanID, "the action's span is the request's child")
	for _, name := range []string{"listener (*MetricsService).onOrder", "listener (*EmailService).wakeOutbox"} {
		listener, ok := byName[name]
		if assert.True(t, ok, "%s's span; spans: %v", name, keys(byName)) {
			assert.Equal(t, request.SpanContext.TraceID, listener.SpanContext.TraceID, "%s is in the order's trace", name)
		}
	}
	// A timer run outlives what scheduled it (MetricsService's OnStart,
	// with no span of its own to link to): each run is the root of a trace
	// of its own, with no parent and no link.
	const noTrace, noSpan = "00000000000000000000000000000000", "0000000000000000"
	require.NotEmpty(t, collects, "the collection runs at the start; spans: %v", keys(byName))
	traces := map[string]bool{}
	for _, c := range collects {
		assert.Equal(t, spanContext{TraceID: noTrace, SpanID: noSpan}, c.Parent, "a collection's span is a root")
		assert.Empty(t, c.Links, "and links to nothing")
		assert.NotEqual(t, noTrace, c.SpanContext.TraceID)
		assert.NotEqual(t, request.SpanContext.TraceID, c.SpanContext.TraceID, "not in the order's trace")
		traces[c.SpanContext.TraceID] = true
	}
	assert.Len(t, traces, len(collects), "each run is a trace of its own")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
