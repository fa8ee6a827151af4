package sprag_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sprag-go/sprag/spragtest"
)

// A listener that emits again: the nested emit's listener spans are
// children of the span of the listener that emitted, all in the emitter's
// trace (docs/operations.md, "Spans").
func TestTelemetryEdgeNestedEmitSpanParentage(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	svc := &probe{onStart: func(_ context.Context, p *probe) error {
		if _, err := p.Listen("a", func(ctx context.Context, _ any) error { return p.Emit(ctx, "b", 1) }); err != nil {
			return err
		}
		_, err := p.Listen("b", func(context.Context, any) error { return nil })
		return err
	}}
	spragtest.Start(t, "chain", svc, spragtest.WithRuntime(tel.rt))

	ctx, root := tel.TracerProvider().Tracer("test").Start(context.Background(), "root")
	require.NoError(t, tel.rt.Bus.Emit(ctx, "a", 0))
	root.End()

	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	var listenB sdktrace.ReadOnlySpan
	for _, s := range tel.Spans.Ended() {
		byID[s.SpanContext().SpanID()] = s
		if s.Name() == "listen b" {
			listenB = s
		}
	}
	require.NotNil(t, listenB)
	var chain []string
	for s := listenB; s != nil; s = byID[s.Parent().SpanID()] {
		assert.Equal(t, root.SpanContext().TraceID(), s.SpanContext().TraceID(), s.Name())
		chain = append(chain, s.Name())
	}
	require.GreaterOrEqual(t, len(chain), 4, "%v", chain)
	assert.Equal(t, "listen b", chain[0])
	assert.Equal(t, "root", chain[len(chain)-1])
	assert.Contains(t, chain, "listen a", "the nested emit runs inside the outer listener's span: %v", chain)
}

// Listener failures and panics: every call is counted once, failures by
// the subscribed topic or pattern, and the failing spans carry an error
// status; the other listeners still run.
func TestTelemetryEdgeListenerFailureCounts(t *testing.T) {
	t.Parallel()
	tel := newTelemetry(t)
	svc := &probe{onStart: func(_ context.Context, p *probe) error {
		for _, l := range []struct {
			topic string
			fn    func(context.Context, any) error
		}{
			{"pay:*", func(context.Context, any) error { return errors.New("declined") }},
			{"pay:*", func(context.Context, any) error { panic("boom") }},
			{"pay:card", func(context.Context, any) error { return nil }},
		} {
			if _, err := p.Listen(l.topic, l.fn); err != nil {
				return err
			}
		}
		return nil
	}}
	spragtest.Start(t, "payments", svc, spragtest.WithRuntime(tel.rt))
	const emits = 3
	for range emits {
		require.Error(t, tel.rt.Bus.Emit(context.Background(), "pay:card", 1))
	}
	c := collectAll(t, tel.Reader)
	total := func(name, topic string) int64 {
		n := int64(0)
		for _, p := range c.points(name) {
			if v, ok := p.attrs.Value("sprag.topic"); ok && v.AsString() == topic {
				n += p.value
			}
		}
		return n
	}
	assert.EqualValues(t, emits, total("sprag.bus.emits", "pay:card"))
	assert.EqualValues(t, emits, total("sprag.bus.listener.calls", "pay:card"))
	assert.EqualValues(t, 0, total("sprag.bus.listener.failures", "pay:card"))
	assert.EqualValues(t, 2*emits, total("sprag.bus.listener.calls", "pay:*"), "both listeners of the pattern")
	assert.EqualValues(t, 2*emits, total("sprag.bus.listener.failures", "pay:*"))
	assert.EqualValues(t, 3*emits, total("sprag.bus.listener.duration", "pay:*")+total("sprag.bus.listener.duration", "pay:card"))
	errSpans := 0
	for _, s := range tel.Spans.Ended() {
		if s.Name() == "listen pay:*" && s.Status().Code.String() == "Error" {
			errSpans++
		}
	}
	assert.Equal(t, 2*emits, errSpans)
}
