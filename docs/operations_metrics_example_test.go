package docs_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/sprag-go/sprag/sprag"
)

// newMetrics returns a meter provider whose measurements Prometheus
// scrapes from the returned handler, on a registry of the app's own.
// Shut the provider down after the app stopped.
func newMetrics() (*sdkmetric.MeterProvider, http.Handler, error) {
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	return mp, promhttp.HandlerFor(registry, promhttp.HandlerOpts{}), nil
}

// Shipping is a service that hears completed orders.
type Shipping struct {
	sprag.Service
	shipped int
}

// OnStart subscribes to completed orders.
func (s *Shipping) OnStart(context.Context) error {
	_, err := s.Listen("order:completed", func(context.Context, any) error {
		s.shipped++
		return nil
	})
	return err
}

// seriesOf scrapes handler and returns the names of the series that
// start with prefix, without their labels, each once.
func seriesOf(handler http.Handler, prefix string) []string {
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	seen := map[string]bool{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		name, _, _ := strings.Cut(sc.Text(), "{")
		if strings.HasPrefix(name, prefix) && !strings.HasSuffix(name, "_bucket") {
			seen[name] = true
		}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Example_operationsPrometheus records a service's metrics for Prometheus:
// the runtime is given the SDK's meter provider, and the handler serves
// what it recorded. In fx, fxmodule.Telemetry(mp, tp) hands the providers
// to the app's runtime and HTTP server.
func Example_operationsPrometheus() {
	mp, metrics, err := newMetrics()
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	defer func() { _ = mp.Shutdown(ctx) }()

	rt := sprag.NewRuntime(nil, sprag.WithMeterProvider(mp))
	shipping := &Shipping{}
	if err := sprag.Bind(shipping, "shipping", rt); err != nil {
		fmt.Println(err)
		return
	}
	if err := shipping.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = shipping.Stop(ctx) }()
	if err := rt.Bus.Emit(ctx, "order:completed", 42); err != nil {
		fmt.Println(err)
		return
	}

	for _, name := range seriesOf(metrics, "sprag_") {
		fmt.Println(name)
	}
	// Output:
	// sprag_bus_emits_total
	// sprag_bus_listener_calls_total
	// sprag_bus_listener_duration_seconds_count
	// sprag_bus_listener_duration_seconds_sum
	// sprag_service_start_duration_seconds_count
	// sprag_service_start_duration_seconds_sum
	// sprag_service_starts_total
	// sprag_service_state
	// sprag_work_duration_seconds_count
	// sprag_work_duration_seconds_sum
	// sprag_work_runs_total
}
