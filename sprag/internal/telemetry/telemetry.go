// Package telemetry records sprag's metrics and traces through the
// OpenTelemetry API: the instruments of one runtime, the attribute sets of
// each piece of work, spans of timer runs, tasks and bus listeners, and the
// bus observer. It costs a few atomic loads per run until the app installs
// a MeterProvider or a TracerProvider: measurements are made only when an
// instrument is enabled, spans only when a provider other than the default
// global one is there.
package telemetry

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope of every instrument and tracer.
const Scope = "github.com/sprag-go/sprag"

// Attribute keys.
const (
	KeyService  = attribute.Key("sprag.service")
	KeyKind     = attribute.Key("sprag.work.kind")
	KeyLabel    = attribute.Key("sprag.work.label")
	KeyTopic    = attribute.Key("sprag.topic")
	KeyListener = attribute.Key("sprag.listener")
	KeyPhase    = attribute.Key("sprag.phase")
	KeyState    = attribute.Key("sprag.service.state")
)

// T records the metrics and traces of one runtime. Its methods are safe
// for concurrent use; a nil *T records nothing.
type T struct {
	mp        metric.MeterProvider         // the runtime's own, or nil for the global one
	tracer    trace.Tracer                 // the runtime's own provider's; nil for a no-op one or the global one
	ownTP     bool                         // the runtime has a tracer provider of its own
	listeners *attrCache[listenerKey]      // the attribute sets of listener measurements
	unset     reflect.Type                 // the global tracer provider's type while no app installed one
	global    atomic.Pointer[globalTracer] // the global tracer provider last seen, and its tracer
	inst      atomic.Pointer[instruments]  // made from the meter provider last resolved
	resolved  atomic.Pointer[Resolved]     // what the last Resolve found, for the bus observer
}

// instruments are the instruments of one meter provider.
type instruments struct {
	provider metric.MeterProvider
	meter    metric.Meter

	runs, failures, panics, restarts, giveUps metric.Int64Counter
	duration                                  metric.Float64Histogram
	tasks, timers                             metric.Int64UpDownCounter
	starts, stops, svcFailures                metric.Int64Counter
	startDur, stopDur                         metric.Float64Histogram
	state                                     metric.Int64Gauge
	emits, calls, callFailures                metric.Int64Counter
	callDur                                   metric.Float64Histogram
	topics                                    *attrCache[string] // the topic values of emit measurements
}

// New returns the telemetry of a runtime that records to mp and tp; nil
// ones are the OpenTelemetry globals, as they are when a service of the
// runtime starts (see Resolve).
func New(mp metric.MeterProvider, tp trace.TracerProvider) *T {
	t := &T{mp: mp, listeners: newListenerSets()}
	if tp != nil {
		t.ownTP = true
		if _, isNoop := tp.(tracenoop.TracerProvider); !isNoop {
			t.tracer = tp.Tracer(Scope)
		}
	} else if global := otel.GetTracerProvider(); reflect.TypeOf(global).String() == "*global.tracerProvider" {
		t.unset = reflect.TypeOf(global)
	}
	t.ResolveNow()
	return t
}

// ResolveNow is Resolve for a scope or a runtime made outside any request.
//
//nolint:contextcheck,nolintlint // callers are not flagged: what a runtime records is resolved outside any request, with a context of its own (contextcheck reads this on the declaration)
func (t *T) ResolveNow() *Resolved { return t.Resolve(context.Background()) }

// resolveMeter makes the instruments of the meter provider to use now, or
// keeps those it has for it, and returns them.
func (t *T) resolveMeter() *instruments {
	mp := t.mp
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if in := t.inst.Load(); in != nil && in.provider == mp {
		return in
	}
	in := newInstruments(mp)
	t.inst.Store(in)
	return in
}

// current returns the instruments last resolved.
func (t *T) current() *instruments {
	if in := t.inst.Load(); in != nil {
		return in
	}
	return t.resolveMeter()
}

func newInstruments(mp metric.MeterProvider) *instruments {
	m := mp.Meter(Scope)
	in := &instruments{provider: mp, meter: m, topics: newBoundedNames(maxTopics)}
	in.runs = counter(m, "sprag.work.runs", "{run}", "Runs of managed work: timer runs, tasks, callbacks, hooks.")
	in.failures = counter(m, "sprag.work.failures", "{run}", "Runs of managed work that returned an error or panicked.")
	in.panics = counter(m, "sprag.work.panics", "{run}", "Runs of managed work that panicked.")
	in.restarts = counter(m, "sprag.task.restarts", "{restart}", "Restarts of tasks by their restart policy.")
	in.giveUps = counter(m, "sprag.task.give_ups", "{task}", "Tasks that exhausted their restart policy.")
	in.duration = histogram(m, "sprag.work.duration", "How long runs of managed work took.")
	in.tasks = upDown(m, "sprag.tasks.active", "{task}", "Tasks running.")
	in.timers = upDown(m, "sprag.timers.active", "{timer}", "Timers scheduled, running or waiting.")
	in.starts = counter(m, "sprag.service.starts", "{start}", "Services that started.")
	in.stops = counter(m, "sprag.service.stops", "{stop}", "Services that stopped.")
	in.svcFailures = counter(m, "sprag.service.failures", "{failure}", "Starts and stops of services that failed.")
	in.startDur = histogram(m, "sprag.service.start.duration", "How long services took to start.")
	in.stopDur = histogram(m, "sprag.service.stop.duration", "How long services took to stop.")
	in.state = gauge(m, "sprag.service.state", "The state of each service: 0 created, 1 starting, 2 running, 3 stopping, 4 stopped, 5 failed.")
	in.emits = counter(m, "sprag.bus.emits", "{emit}", "Emits on the event bus, by topic.")
	in.calls = counter(m, "sprag.bus.listener.calls", "{call}", "Listener calls, by subscribed topic or pattern.")
	in.callFailures = counter(m, "sprag.bus.listener.failures", "{call}", "Listener calls that failed, by subscribed topic or pattern.")
	in.callDur = histogram(m, "sprag.bus.listener.duration", "How long listener calls took.")
	return in
}

// Meter returns the meter of the runtime's provider, for the instruments
// of primitives.
func (t *T) Meter() metric.Meter {
	if t == nil {
		return noop.Meter{}
	}
	return t.current().meter
}

// Tracer returns the tracer to start spans with now, or nil while no
// provider is installed: then no span is made at all. A scope asks when
// its service starts and keeps the answer, so that its runs pay nothing
// to know: with the global provider, install it before the app starts.
func (t *T) Tracer() trace.Tracer {
	if t == nil {
		return nil
	}
	if t.ownTP {
		return t.tracer
	}
	tp := otel.GetTracerProvider()
	if g := t.global.Load(); g != nil && g.tp == tp {
		return g.tracer
	}
	g := &globalTracer{tp: tp}
	_, isNoop := tp.(tracenoop.TracerProvider)
	if !isNoop && (t.unset == nil || reflect.TypeOf(tp) != t.unset) {
		g.tracer = tp.Tracer(Scope)
	}
	t.global.Store(g)
	return g.tracer
}

// globalTracer is the global provider last seen and its tracer, nil while
// it is OpenTelemetry's default or a no-op one.
type globalTracer struct {
	tp     trace.TracerProvider
	tracer trace.Tracer
}

func counter(m metric.Meter, name, unit, desc string) metric.Int64Counter {
	c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	if err != nil { // a provider that refuses an instrument gives a working no-op one
		c, _ = noop.Meter{}.Int64Counter(name)
	}
	return c
}

func upDown(m metric.Meter, name, unit, desc string) metric.Int64UpDownCounter {
	c, err := m.Int64UpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	if err != nil {
		c, _ = noop.Meter{}.Int64UpDownCounter(name)
	}
	return c
}

func histogram(m metric.Meter, name, desc string) metric.Float64Histogram {
	h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
		metric.WithExplicitBucketBoundaries(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60))
	if err != nil {
		h, _ = noop.Meter{}.Float64Histogram(name)
	}
	return h
}

func gauge(m metric.Meter, name, desc string) metric.Int64Gauge {
	g, err := m.Int64Gauge(name, metric.WithUnit("{state}"), metric.WithDescription(desc))
	if err != nil {
		g, _ = noop.Meter{}.Int64Gauge(name)
	}
	return g
}

// Work is the telemetry of one piece of managed work: its attribute set
// and span options, made once, and its span name.
type Work struct {
	in   *instruments // nil when the work is not measured
	set  attrs
	span []trace.SpanStartOption
	name string
}

// Work returns the telemetry of the work kind/label of service, whose
// spans link to link unless it is nil, measured as r, its scope's
// resolution, says.
func (t *T) Work(r *Resolved, service, kind, label string, link *trace.SpanContext) *Work {
	if t == nil {
		return nil
	}
	kv := []attribute.KeyValue{KeyService.String(service), KeyKind.String(kind), KeyLabel.String(label)}
	span := []trace.SpanStartOption{trace.WithAttributes(kv...)}
	if link != nil {
		span = append(span, trace.WithLinks(trace.Link{SpanContext: *link}))
	}
	var in *instruments
	if r != nil {
		in = r.in
	}
	return &Work{in: in, set: newAttrs(kv...), span: span, name: kind + " " + label}
}

// Run is one run of a piece of work, from Begin to End.
type Run struct {
	w     *Work
	span  trace.Span
	start time.Time
}

// Begin begins a run of w, traced with tr unless it is nil. A run with a
// parent span in ctx is its child; a run without one (a timer run, a task)
// is a new root. The context it returns carries the run's span, if any.
func (w *Work) Begin(ctx context.Context, tr trace.Tracer) (context.Context, Run) {
	if w == nil {
		return ctx, Run{}
	}
	r := Run{w: w}
	if tr != nil {
		ctx, r.span = tr.Start(ctx, w.name, w.span...)
	}
	if r.span != nil || (w.in != nil && w.in.runs.Enabled(ctx)) {
		r.start = time.Now()
	}
	return ctx, r
}

// End ends the run with err, the run's error (a panic is an error whose
// panicked is true).
func (r Run) End(ctx context.Context, err error, panicked bool) {
	if r.w == nil {
		return
	}
	if r.span != nil {
		if err != nil {
			r.span.RecordError(err)
			r.span.SetStatus(codes.Error, err.Error())
		}
		r.span.End()
	}
	in := r.w.in
	if r.start.IsZero() || in == nil {
		return
	}
	in.runs.Add(ctx, 1, r.w.set.add...)
	in.duration.Record(ctx, time.Since(r.start).Seconds(), r.w.set.rec...)
	if err != nil {
		in.failures.Add(ctx, 1, r.w.set.add...)
	}
	if panicked {
		in.panics.Add(ctx, 1, r.w.set.add...)
	}
}

// Restarted counts a restart of w, a task.
func (w *Work) Restarted(ctx context.Context) {
	if w != nil && w.in != nil {
		w.in.restarts.Add(ctx, 1, w.set.add...)
	}
}

// GaveUp counts a task that exhausted its restart policy.
func (w *Work) GaveUp(ctx context.Context) {
	if w != nil && w.in != nil {
		w.in.giveUps.Add(ctx, 1, w.set.add...)
	}
}

// Service is the telemetry of one service. Its figures go to the
// instruments its last Resolve found, or nowhere while that found metrics
// off: a service started before the app installed the global meter
// provider records nothing, not even when it stops after the install.
type Service struct {
	t    *T
	name string
	set  attrs
	ctx  context.Context             // the figures of a service belong to no request
	in   atomic.Pointer[instruments] // Resolve's; nil while not measured
	mu   sync.Mutex
	at   time.Time // when the current start or stop began
}

// Service returns the telemetry of the service named name.
func (t *T) Service(name string) *Service {
	if t == nil {
		return nil
	}
	return &Service{t: t, name: name, ctx: context.Background(),
		set: newAttrs(KeyService.String(name))}
}

// Resolve is T.Resolve for the service's scope, when it opens or its
// service starts: the service's figures then go where its runs' go.
func (s *Service) Resolve(ctx context.Context) *Resolved {
	if s == nil {
		return nil
	}
	r := s.t.Resolve(ctx)
	s.in.Store(r.in)
	return r
}

// ResolveNow is Resolve for a scope made outside any request.
//
//nolint:contextcheck,nolintlint // as T.ResolveNow
func (s *Service) ResolveNow() *Resolved { return s.Resolve(context.Background()) }

// instruments returns the instruments the service records to, or nil.
func (s *Service) instruments() *instruments {
	if s == nil {
		return nil
	}
	return s.in.Load()
}

// State records the service's state, as the number of a sprag.State.
func (s *Service) State(state int) {
	if in := s.instruments(); in != nil {
		in.state.Record(s.ctx, int64(state), s.set.rec...)
	}
}

// Began marks the beginning of a start or a stop.
func (s *Service) Began() {
	if s != nil {
		s.mu.Lock()
		s.at = time.Now()
		s.mu.Unlock()
	}
}

// Started records the end of a start, failed or not.
func (s *Service) Started(err error) { s.ended(err, "start") }

// Stopped records the end of a stop, failed or not.
func (s *Service) Stopped(err error) { s.ended(err, "stop") }

func (s *Service) ended(err error, phase string) {
	in := s.instruments()
	if in == nil {
		return
	}
	s.mu.Lock()
	d := time.Since(s.at)
	s.mu.Unlock()
	ctx := s.ctx
	if phase == "start" {
		in.startDur.Record(ctx, d.Seconds(), s.set.rec...)
		if err == nil {
			in.starts.Add(ctx, 1, s.set.add...)
		}
	} else {
		in.stopDur.Record(ctx, d.Seconds(), s.set.rec...)
		in.stops.Add(ctx, 1, s.set.add...)
	}
	if err != nil {
		in.svcFailures.Add(ctx, 1, metric.WithAttributes(KeyService.String(s.name), KeyPhase.String(phase)))
	}
}

// TaskBegan counts a task alive.
func (s *Service) TaskBegan() { s.add(true, 1) }

// TaskEnded counts a task that ended.
func (s *Service) TaskEnded() { s.add(true, -1) }

// TimerAdded counts a timer scheduled.
func (s *Service) TimerAdded() { s.add(false, 1) }

// TimerEnded counts a timer that ended.
func (s *Service) TimerEnded() { s.add(false, -1) }

func (s *Service) add(task bool, n int64) {
	in := s.instruments()
	if in == nil {
		return
	}
	c := in.timers
	if task {
		c = in.tasks
	}
	c.Add(s.ctx, n, s.set.add...)
}

// Resolved is what a scope measures and traces, resolved once when it
// opens: its runs then pay one load to learn it. A nil *Resolved measures
// and traces nothing.
type Resolved struct {
	tracer trace.Tracer
	in     *instruments // nil while metrics are not recorded
}

// Metrics reports whether metrics are recorded.
func (r *Resolved) Metrics() bool { return r != nil && r.in != nil }

// On reports whether anything is measured or traced.
func (r *Resolved) On() bool { return r != nil && (r.tracer != nil || r.in != nil) }

// Tracer returns the tracer, or nil.
func (r *Resolved) Tracer() trace.Tracer {
	if r == nil {
		return nil
	}
	return r.tracer
}

// Resolve returns what runs measure and trace from now on: spans if a
// provider is installed (see Tracer), metrics if the meter provider
// records them; with the global meter provider, the instruments are made
// anew when it changed since the last Resolve.
func (t *T) Resolve(ctx context.Context) *Resolved {
	if t == nil {
		return nil
	}
	r := &Resolved{tracer: t.Tracer()}
	if in := t.resolveMeter(); in.runs.Enabled(ctx) {
		r.in = in
	}
	t.resolved.Store(r)
	return r
}
