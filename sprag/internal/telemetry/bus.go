package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sprag-go/sprag/eventbus"
)

// Observer returns the bus observer that records emits and listener calls:
// sprag.bus.emits by topic (bounded), sprag.bus.listener.* by subscribed
// topic and listener name, and a span per listener call, a child of the
// emitter's span.
func (t *T) Observer() eventbus.Observer { return observer{t} }

type observer struct{ t *T }

// call is kept in the listener's context while it is observed: its span,
// if it has one, and when it began, if it is measured.
type call struct {
	span  trace.Span
	start time.Time
}

type callKey struct{}

// listenerKey is what the attribute set of a listener measurement is made
// of. The number of sets needs no bound: topics and names are chosen by
// the code that subscribes.
type listenerKey struct{ topic, name string }

func newListenerSets() *attrCache[listenerKey] {
	return &attrCache[listenerKey]{make: func(k listenerKey) attrs {
		return newAttrs(KeyTopic.String(k.topic), KeyListener.String(k.name))
	}}
}

func (o observer) EmitStart(ctx context.Context, topic string, _ int) context.Context {
	if in := o.t.current(); in.emits.Enabled(ctx) {
		in.emits.Add(ctx, 1, in.topics.set(topic).add...)
	}
	return ctx
}

func (o observer) EmitEnd(context.Context, string, error) {}

func (o observer) ListenerStart(ctx context.Context, topic string, sub *eventbus.Subscription) context.Context {
	var c call
	if tr := o.t.resolved.Load().Tracer(); tr != nil {
		ctx, c.span = tr.Start(ctx, "listen "+sub.Topic(), trace.WithAttributes(
			KeyTopic.String(topic), attribute.String("sprag.subscription", sub.Topic()), KeyListener.String(sub.Name())))
	}
	if o.t.current().calls.Enabled(ctx) {
		c.start = time.Now()
	}
	if c.span == nil && c.start.IsZero() {
		return ctx // nothing to observe: no allocation
	}
	return context.WithValue(ctx, callKey{}, c)
}

func (o observer) ListenerEnd(ctx context.Context, _ string, sub *eventbus.Subscription, err error) {
	c, ok := ctx.Value(callKey{}).(call)
	if !ok {
		return
	}
	if c.span != nil {
		if err != nil {
			c.span.RecordError(err)
			c.span.SetStatus(codes.Error, err.Error())
		}
		c.span.End()
	}
	start := c.start
	if start.IsZero() {
		return
	}
	in := o.t.current()
	set := o.t.listeners.set(listenerKey{sub.Topic(), sub.Name()})
	in.calls.Add(ctx, 1, set.add...)
	in.callDur.Record(ctx, time.Since(start).Seconds(), set.rec...)
	if err != nil {
		in.callFailures.Add(ctx, 1, set.add...)
	}
}
