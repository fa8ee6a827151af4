package sprag_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/internal/oteltest"
	"github.com/sprag-go/sprag/spragtest"
)

// The tests of this file hold the telemetry promises of
// docs/operations.md ("Metrics and traces of services"): each documented
// metric's name, instrument, unit and attributes, the spans' names,
// parents, links and status, the bound on emitted topics, the cost with
// no provider, and the providers resolved when each service starts.

// collected is one collection of a reader: the metrics by name.
type collected map[string]metricdata.Metrics

func collectAll(t *testing.T, r *sdkmetric.ManualReader) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	out := collected{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if strings.HasPrefix(m.Name, "sprag.") {
				assert.Equal(t, "github.com/sprag-go/sprag", sm.Scope.Name, m.Name)
			}
			out[m.Name] = m
		}
	}
	return out
}

// point is a data point: a sum's or gauge's value, a histogram's count
// and sum.
type point struct {
	attrs attribute.Set
	value int64
	sum   float64
}

func (c collected) points(name string) []point {
	var out []point
	switch d := c[name].Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out = append(out, point{attrs: p.Attributes, value: p.Value})
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out = append(out, point{attrs: p.Attributes, value: p.Value})
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, point{attrs: p.Attributes, value: int64(p.Count), sum: p.Sum}) //nolint:gosec // counts of a test
		}
	}
	return out
}

// at returns the data point of name whose attributes are exactly kv.
func (c collected) at(name string, kv ...attribute.KeyValue) (point, bool) {
	want := attribute.NewSet(kv...)
	for _, p := range c.points(name) {
		if p.attrs.Equals(&want) {
			return p, true
		}
	}
	return point{}, false
}

// value is at's value, 0 when there is no such point.
func (c collected) value(name string, kv ...attribute.KeyValue) int64 {
	p, _ := c.at(name, kv...)
	return p.value
}

// forService reports the metrics that have a data point of service.
func (c collected) forService(service string) []string {
	var names []string
	for name := range c {
		for _, p := range c.points(name) {
			if v, ok := p.attrs.Value("sprag.service"); ok && v.AsString() == service {
				names = append(names, name)
				break
			}
		}
	}
	sort.Strings(names)
	return names
}

// orderBook is a listener with a name of its own: its label is
// "(*orderBook).onOrder". Payload 2 fails, 3 panics; every call takes
// half a second.
type orderBook struct{}

func (*orderBook) onOrder(_ context.Context, payload any) error {
	time.Sleep(500 * time.Millisecond)
	switch payload {
	case 2:
		return errors.New("unknown order")
	case 3:
		panic("torn page")
	}
	return nil
}

var (
	attrService = attribute.Key("sprag.service")
	attrKind    = attribute.Key("sprag.work.kind")
	attrLabel   = attribute.Key("sprag.work.label")
	attrTopic   = attribute.Key("sprag.topic")
	attrPhase   = attribute.Key("sprag.phase")
	attrListen  = attribute.Key("sprag.listener")
)

func work(service, kind, label string) []attribute.KeyValue {
	return []attribute.KeyValue{attrService.String(service), attrKind.String(kind), attrLabel.String(label)}
}

// TestTelemetryPromisesMetricsAsDocumented runs every kind of managed
// work, succeeding, failing and panicking, and checks each metric of the
// table of docs/operations.md: the instrument, the unit, the attribute
// keys of every data point and the values.
func TestTelemetryPromisesMetricsAsDocumented(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tel := newTelemetry(t)
		rt := tel.rt
		var hook *sprag.Callback
		runs := 0
		shop := &probe{onStart: func(_ context.Context, p *probe) error {
			time.Sleep(2 * time.Second) // a start of 2s
			must(p.Interval(time.Minute, func(context.Context) error {
				time.Sleep(1500 * time.Millisecond)
				if runs++; runs == 2 {
					return errors.New("collector down")
				}
				return nil
			}, sprag.Label("collect")))
			must(p.Timeout(30*time.Second, func(context.Context) error { return nil }, sprag.Label("remind")))
			must(p.Spawn(func(context.Context) error { return errors.New("no luck") }, sprag.Label("import"),
				sprag.Restart(sprag.RestartPolicy{MaxRestarts: 2, Backoff: time.Second})))
			must(p.Spawn(func(context.Context) error { panic("kaput") }, sprag.Label("parse")))
			must(p.Spawn(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, sprag.Label("serve")))
			must(p.Listen("order:*", (&orderBook{}).onOrder))
			hook = must(p.Scope().Callback("hook", nil))
			return nil
		}, onStop: func(context.Context, *probe) error {
			time.Sleep(time.Second) // a stop of 1s
			return nil
		}}
		spragtest.Start(t, "shop", shop, spragtest.WithRuntime(rt))

		ctx, request := tel.TracerProvider().Tracer("test").Start(context.Background(), "POST /orders")
		require.NoError(t, shop.Emit(ctx, "order:completed", 1))
		require.Error(t, shop.Emit(ctx, "order:lost", 2))
		require.Error(t, shop.Emit(ctx, "order:torn", 3))
		request.End()
		require.NoError(t, sprag.Call(context.Background(), hook, func(context.Context, int) error { return nil }, 1))

		broken := &probe{onStart: func(context.Context, *probe) error { return errors.New("no database") }}
		require.NoError(t, sprag.Bind(broken, "broken", rt))
		require.Error(t, broken.Start(context.Background()))
		stubborn := &probe{onStop: func(context.Context, *probe) error { return errors.New("busy") }}
		require.NoError(t, sprag.Bind(stubborn, "stubborn", rt))
		require.NoError(t, stubborn.Start(context.Background()))
		require.Error(t, stubborn.Stop(context.Background()))

		time.Sleep(3*time.Minute + 10*time.Second) // collect at 1m, 2m1.5s, 3m3s
		synctest.Wait()

		running := collectAll(t, tel.Reader)
		svc := attrService.String("shop")
		assert.Equal(t, int64(sprag.Running), running.value("sprag.service.state", svc))
		assert.Equal(t, int64(1), running.value("sprag.timers.active", svc), "the interval; the timeout ran")
		assert.Equal(t, int64(1), running.value("sprag.tasks.active", svc), "serve")

		spragtest.Stop(t, shop, time.Minute)
		got := collectAll(t, tel.Reader)

		// The table of docs/operations.md: instrument, unit, attributes.
		service := []string{"sprag.service"}
		workKeys := []string{"sprag.service", "sprag.work.kind", "sprag.work.label"}
		listenerKeys := []string{"sprag.listener", "sprag.topic"}
		table := []struct {
			name, instrument, unit string
			keys                   []string
		}{
			{"sprag.service.state", "gauge", "{state}", service},
			{"sprag.service.starts", "counter", "{start}", service},
			{"sprag.service.stops", "counter", "{stop}", service},
			{"sprag.service.failures", "counter", "{failure}", []string{"sprag.phase", "sprag.service"}},
			{"sprag.service.start.duration", "histogram", "s", service},
			{"sprag.service.stop.duration", "histogram", "s", service},
			{"sprag.work.runs", "counter", "{run}", workKeys},
			{"sprag.work.failures", "counter", "{run}", workKeys},
			{"sprag.work.panics", "counter", "{run}", workKeys},
			{"sprag.work.duration", "histogram", "s", workKeys},
			{"sprag.task.restarts", "counter", "{restart}", workKeys},
			{"sprag.task.give_ups", "counter", "{task}", workKeys},
			{"sprag.tasks.active", "up-down counter", "{task}", service},
			{"sprag.timers.active", "up-down counter", "{timer}", service},
			{"sprag.bus.emits", "counter", "{emit}", []string{"sprag.topic"}},
			{"sprag.bus.listener.calls", "counter", "{call}", listenerKeys},
			{"sprag.bus.listener.failures", "counter", "{call}", listenerKeys},
			{"sprag.bus.listener.duration", "histogram", "s", listenerKeys},
		}
		for _, row := range table {
			m, ok := got[row.name]
			if !assert.True(t, ok, "%s is recorded", row.name) {
				continue
			}
			kind, keys := oteltest.Instrument(m)
			assert.Equal(t, row.instrument, kind, row.name)
			assert.Equal(t, row.unit, m.Unit, row.name)
			assert.NotEmpty(t, m.Description, row.name)
			for _, k := range keys {
				assert.Equal(t, row.keys, k, "%s: the attribute keys of each data point", row.name)
			}
		}
		assert.Contains(t, got["sprag.service.state"].Description, "0 created, 1 starting, 2 running, 3 stopping, 4 stopped, 5 failed")

		// The services' figures.
		assert.Equal(t, int64(sprag.Stopped), got.value("sprag.service.state", svc))
		assert.Equal(t, int64(sprag.Failed), got.value("sprag.service.state", attrService.String("broken")))
		assert.Equal(t, int64(1), got.value("sprag.service.starts", svc))
		_, ok := got.at("sprag.service.starts", attrService.String("broken"))
		assert.False(t, ok, "a failed start is not a start")
		assert.Equal(t, int64(1), got.value("sprag.service.stops", svc))
		assert.Equal(t, int64(1), got.value("sprag.service.failures", attrService.String("broken"), attrPhase.String("start")))
		assert.Equal(t, int64(1), got.value("sprag.service.failures", attrService.String("stubborn"), attrPhase.String("stop")))
		_, ok = got.at("sprag.service.failures", svc, attrPhase.String("start"))
		assert.False(t, ok, "shop never failed")
		start, _ := got.at("sprag.service.start.duration", svc)
		assert.Equal(t, point{attrs: attribute.NewSet(svc), value: 1, sum: 2}, start, "one start of 2 seconds")
		stop, _ := got.at("sprag.service.stop.duration", svc)
		assert.Equal(t, point{attrs: attribute.NewSet(svc), value: 1, sum: 1}, stop, "one stop of 1 second")
		assert.Zero(t, got.value("sprag.timers.active", svc), "every timer ended with the stop")
		assert.Zero(t, got.value("sprag.tasks.active", svc), "every task ended with the stop")

		// Managed work.
		collect := work("shop", "interval", "collect")
		assert.Equal(t, int64(3), got.value("sprag.work.runs", collect...))
		assert.Equal(t, int64(1), got.value("sprag.work.failures", collect...))
		duration, _ := got.at("sprag.work.duration", collect...)
		assert.Equal(t, int64(3), duration.value)
		assert.InDelta(t, 4.5, duration.sum, 1e-9, "three runs of 1.5 seconds, in seconds")
		assert.Equal(t, int64(1), got.value("sprag.work.runs", work("shop", "timeout", "remind")...))
		imp := work("shop", "task", "import")
		assert.Equal(t, int64(3), got.value("sprag.work.runs", imp...), "the first run and two restarts")
		assert.Equal(t, int64(3), got.value("sprag.work.failures", imp...))
		assert.Equal(t, int64(2), got.value("sprag.task.restarts", imp...))
		assert.Equal(t, int64(1), got.value("sprag.task.give_ups", imp...))
		parse := work("shop", "task", "parse")
		assert.Equal(t, int64(1), got.value("sprag.work.failures", parse...))
		assert.Equal(t, int64(1), got.value("sprag.work.panics", parse...))
		assert.Equal(t, int64(1), got.value("sprag.work.runs", work("shop", "task", "serve")...))
		assert.Zero(t, got.value("sprag.work.failures", work("shop", "task", "serve")...), "a task ended by the stop did not fail")
		listener := work("shop", "listener", "(*orderBook).onOrder")
		assert.Equal(t, int64(3), got.value("sprag.work.runs", listener...))
		assert.Equal(t, int64(2), got.value("sprag.work.failures", listener...))
		assert.Equal(t, int64(1), got.value("sprag.work.panics", listener...))
		assert.Equal(t, int64(1), got.value("sprag.work.runs", work("shop", "callback", "hook")...))

		// The bus: emits by emitted topic, calls by subscribed pattern.
		for _, topic := range []string{"order:completed", "order:lost", "order:torn"} {
			assert.Equal(t, int64(1), got.value("sprag.bus.emits", attrTopic.String(topic)), topic)
		}
		assert.Equal(t, int64(1), got.value("sprag.bus.emits", attrTopic.String(sprag.TaskGaveUp.Name())), "the give-up's event")
		sub := []attribute.KeyValue{attrTopic.String("order:*"), attrListen.String("shop (*orderBook).onOrder")}
		assert.Equal(t, int64(3), got.value("sprag.bus.listener.calls", sub...))
		assert.Equal(t, int64(2), got.value("sprag.bus.listener.failures", sub...), "an error and a panic")
		calls, _ := got.at("sprag.bus.listener.duration", sub...)
		assert.Equal(t, int64(3), calls.value)
		assert.InDelta(t, 1.5, calls.sum, 1e-9, "three calls of half a second, in seconds")

		// Spans.
		var listens, listeners []sdktrace.ReadOnlySpan
		byName := map[string][]sdktrace.ReadOnlySpan{}
		for _, s := range tel.Spans.Ended() {
			byName[s.Name()] = append(byName[s.Name()], s)
			switch {
			case s.Name() == "listen order:*":
				listens = append(listens, s)
			case strings.HasPrefix(s.Name(), "listener "):
				listeners = append(listeners, s)
			}
		}
		failed := func(s sdktrace.ReadOnlySpan) bool {
			return s.Status().Code == codes.Error && len(s.Events()) > 0 && s.Events()[0].Name == "exception"
		}
		for _, tt := range []struct {
			name   string
			runs   int
			failed int
		}{
			{"interval collect", 3, 1},
			{"timeout remind", 1, 0},
			{"task import", 3, 3},
			{"task parse", 1, 1},
			{"callback hook", 1, 0},
		} {
			spans := byName[tt.name]
			require.Len(t, spans, tt.runs, tt.name)
			n := 0
			for _, s := range spans {
				assert.False(t, s.Parent().IsValid(), "%s is the root of a trace of its own", tt.name)
				kind, label, _ := strings.Cut(tt.name, " ")
				assert.Equal(t, attribute.NewSet(work("shop", kind, label)...), attribute.NewSet(s.Attributes()...), tt.name)
				if failed(s) {
					n++
				} else {
					assert.Equal(t, codes.Unset, s.Status().Code, tt.name)
				}
			}
			assert.Equal(t, tt.failed, n, "%s: a failure or a panic sets the status to error and records the error", tt.name)
		}
		require.Len(t, listens, 3)
		require.Len(t, listeners, 3)
		n := 0
		for i, s := range listens {
			assert.Equal(t, request.SpanContext().TraceID(), s.SpanContext().TraceID())
			assert.Equal(t, request.SpanContext().SpanID(), s.Parent().SpanID(), "a listener call is a child of the emitter's span")
			assert.Equal(t, "listener (*orderBook).onOrder", listeners[i].Name())
			assert.Equal(t, s.SpanContext().SpanID(), listeners[i].Parent().SpanID(), "the listener's run is a child of the call")
			if failed(s) {
				n++
				assert.True(t, failed(listeners[i]))
			}
		}
		assert.Equal(t, 2, n, "the failed and the panicked calls")
	})
}

// TestTelemetryPromisesEmitTopicsAreBounded: at most 256 distinct values
// of sprag.topic per runtime; the emits of the others are counted as
// _other, and a topic that has its value keeps it.
func TestTelemetryPromisesEmitTopicsAreBounded(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	ctx := context.Background()
	for i := range 300 {
		require.NoError(t, tel.rt.Bus.Emit(ctx, fmt.Sprintf("order:%d", i), i))
	}
	require.NoError(t, tel.rt.Bus.Emit(ctx, "order:0", 0))
	require.NoError(t, tel.rt.Bus.Emit(ctx, "order:299", 0))

	got := collectAll(t, tel.Reader)
	points := got.points("sprag.bus.emits")
	assert.Len(t, points, 257, "256 topics and _other")
	assert.Equal(t, int64(2), got.value("sprag.bus.emits", attrTopic.String("order:0")), "a topic keeps its value")
	assert.Equal(t, int64(1), got.value("sprag.bus.emits", attrTopic.String("order:255")), "the 256th topic has its own")
	_, ok := got.at("sprag.bus.emits", attrTopic.String("order:256"))
	assert.False(t, ok, "the 257th has none")
	assert.Equal(t, int64(45), got.value("sprag.bus.emits", attrTopic.String("_other")), "44 topics, one of them twice")
	var total int64
	for _, p := range points {
		total += p.value
	}
	assert.Equal(t, int64(302), total, "every emit is counted")

	other := newTelemetry(t)
	require.NoError(t, other.rt.Bus.Emit(ctx, "order:299", 0))
	assert.Equal(t, int64(1), collectAll(t, other.Reader).value("sprag.bus.emits", attrTopic.String("order:299")),
		"the bound is per runtime")
}

// TestTelemetryPromisesEveryRunOfALinkedTimerIsARoot: each run of an
// interval made with LinkTo is the root of a trace of its own, linked to
// the span that made the timer; LinkTo of a ctx without a span links
// nothing.
func TestTelemetryPromisesEveryRunOfALinkedTimerIsARoot(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tel := newTelemetry(t)
		p := &probe{}
		spragtest.Start(t, "reports", p, spragtest.WithRuntime(tel.rt))
		ctx, request := tel.TracerProvider().Tracer("test").Start(context.Background(), "POST /reports")
		timer := must(p.Interval(time.Minute, func(context.Context) error { return nil }, sprag.Label("report"), sprag.LinkTo(ctx)))
		must(p.Timeout(time.Minute, func(context.Context) error { return nil }, sprag.Label("unlinked"), sprag.LinkTo(context.Background())))
		request.End()
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		timer.Cancel()

		traces := map[trace.TraceID]bool{}
		for _, s := range tel.Spans.Ended() {
			if s.Name() == "timeout unlinked" {
				assert.Empty(t, s.Links(), "a ctx without a span links nothing")
				assert.False(t, s.Parent().IsValid())
			}
			if s.Name() != "interval report" {
				continue
			}
			assert.False(t, s.Parent().IsValid(), "a root")
			require.Len(t, s.Links(), 1)
			assert.Equal(t, request.SpanContext(), s.Links()[0].SpanContext, "linked to the request")
			assert.NotEqual(t, request.SpanContext().TraceID(), s.SpanContext().TraceID())
			traces[s.SpanContext().TraceID()] = true
		}
		assert.Len(t, traces, 2, "two runs, two traces")
	})
}

// TestTelemetryPromisesCostNothingWithoutAProvider: with OpenTelemetry's
// globals as they are without an SDK, or with no-op providers given
// explicitly, an emit to a service's listener and a callback's call
// allocate nothing and record no span. The same measure with the SDK
// counts allocations, so it can tell. Not parallel: testing.AllocsPerRun
// counts the allocations of the whole process.
func TestTelemetryPromisesCostNothingWithoutAProvider(t *testing.T) {
	measure := func(t *testing.T, rt sprag.Runtime) (allocs float64, spanned bool) {
		t.Helper()
		sc := sprag.NewScope("quiet", rt)
		defer func() { require.NoError(t, sc.Close(context.Background())) }()
		_, err := sc.Listen("order:completed", func(ctx context.Context, _ any) error {
			spanned = spanned || trace.SpanContextFromContext(ctx).IsValid()
			return nil
		})
		require.NoError(t, err)
		cb, err := sc.Callback("hook", nil)
		require.NoError(t, err)
		fn := func(ctx context.Context, _ int) error {
			spanned = spanned || trace.SpanContextFromContext(ctx).IsValid()
			return nil
		}
		ctx := context.Background()
		allocs = testing.AllocsPerRun(200, func() {
			_ = sc.Emit(ctx, "order:completed", 7)
			_ = sprag.Call(ctx, cb, fn, 1)
		})
		return allocs, spanned
	}

	allocs, spanned := measure(t, sprag.NewRuntime(nil))
	assert.Zero(t, allocs, "the globals, no SDK installed")
	assert.False(t, spanned)
	allocs, spanned = measure(t, sprag.NewRuntime(nil,
		sprag.WithMeterProvider(metricnoop.NewMeterProvider()), sprag.WithTracerProvider(tracenoop.NewTracerProvider())))
	assert.Zero(t, allocs, "no-op providers")
	assert.False(t, spanned)

	tel := oteltest.New()
	defer tel.Shutdown()
	allocs, spanned = measure(t, tel.Runtime)
	assert.Positive(t, allocs, "with the SDK the same measure counts allocations")
	assert.True(t, spanned)
}

// TestTelemetryPromisesGlobalsAsTheyAreWhenEachServiceStarts: a service
// started before the app installs the global providers records nothing,
// neither while it runs nor when it stops after the install (no
// sprag.timers.active of -1); one started after records everything, and
// its timers and tasks balance out. Not parallel: it sets OpenTelemetry's
// globals, and puts the ones it found back.
func TestTelemetryPromisesGlobalsAsTheyAreWhenEachServiceStarts(t *testing.T) {
	prevMP, prevTP := otel.GetMeterProvider(), otel.GetTracerProvider()
	otel.SetMeterProvider(metricnoop.NewMeterProvider()) // none installed, whatever ran before
	otel.SetTracerProvider(tracenoop.NewTracerProvider())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() {
		otel.SetMeterProvider(prevMP)
		otel.SetTracerProvider(prevTP)
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})

	rt := sprag.NewRuntime(nil) // no providers of its own: the globals
	timed := func(ran chan struct{}) *probe {
		return &probe{onStart: func(_ context.Context, p *probe) error {
			must(p.Interval(time.Hour, func(context.Context) error { return nil }, sprag.Label("tick")))
			must(p.Spawn(func(ctx context.Context) error { <-ctx.Done(); return nil }, sprag.Label("serve")))
			must(p.Spawn(func(context.Context) error { close(ran); return nil }, sprag.Label("once")))
			return nil
		}}
	}
	early := make(chan struct{})
	before := timed(early)
	require.NoError(t, sprag.Bind(before, "before", rt))
	require.NoError(t, before.Start(context.Background()))
	<-early

	otel.SetMeterProvider(mp)
	otel.SetTracerProvider(tp)
	late := make(chan struct{})
	after := timed(late)
	require.NoError(t, sprag.Bind(after, "after", rt))
	require.NoError(t, after.Start(context.Background()))
	<-late
	// The task "once" is counted out after it has returned, which may be
	// after it closed late.
	running := collectAll(t, reader)
	for deadline := time.Now().Add(5 * time.Second); running.value("sprag.tasks.active", attrService.String("after")) != 1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		running = collectAll(t, reader)
	}
	assert.Equal(t, int64(1), running.value("sprag.timers.active", attrService.String("after")))
	assert.Equal(t, int64(1), running.value("sprag.tasks.active", attrService.String("after")))

	stopWithin := func(p *probe) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, p.Stop(ctx))
	}
	stopWithin(before)
	stopWithin(after)

	got := collectAll(t, reader)
	assert.Empty(t, got.forService("before"), "the service started before the install records nothing")
	assert.Zero(t, got.value("sprag.timers.active", attrService.String("before")), "its timer is not counted out (-1) after the install")
	svc := attrService.String("after")
	assert.Equal(t, int64(1), got.value("sprag.service.starts", svc))
	assert.Equal(t, int64(1), got.value("sprag.service.stops", svc))
	assert.Equal(t, int64(sprag.Stopped), got.value("sprag.service.state", svc))
	assert.Equal(t, int64(1), got.value("sprag.work.runs", work("after", "task", "once")...))
	assert.Zero(t, got.value("sprag.timers.active", svc))
	assert.Zero(t, got.value("sprag.tasks.active", svc))
	var names []string
	for _, s := range spans.Ended() {
		set := attribute.NewSet(s.Attributes()...)
		if v, ok := set.Value("sprag.service"); ok {
			names = append(names, v.AsString()+": "+s.Name())
		}
	}
	assert.ElementsMatch(t, []string{"after: task once", "after: task serve"}, names)
}
