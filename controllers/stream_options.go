package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sprag-go/sprag/eventbus"
)

// A StreamOption configures a stream made by [Server.Stream] or
// [WithStream]. Its String method shows it as it would be written in Go.
type StreamOption interface {
	applyStream(*streamConfig) error
	String() string
}

type streamOption struct {
	apply func(*streamConfig) error
	text  string
}

func (o streamOption) applyStream(c *streamConfig) error { return o.apply(c) }
func (o streamOption) String() string                    { return o.text }

// Forward forwards bus topics and patterns ("order:*") to the stream's
// clients, with their payloads as JSON. The event name a client sees is
// the topic that was emitted: "order:created" for an emit that "order:*"
// matched. Clients select topics by the names given here. Each topic or
// pattern is a subscription of its own: an emit that two of a client's
// topics match ("order:*" and "order:created") reaches it twice. A
// malformed topic or pattern and the reserved name [StreamGapEvent] are
// invalid.
func Forward(topics ...string) StreamOption {
	quoted := make([]string, len(topics))
	for i, t := range topics {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	text := "controllers.Forward(" + strings.Join(quoted, ", ") + ")"
	return streamOption{text: text, apply: func(c *streamConfig) error {
		for _, topic := range topics {
			if err := checkForwarded(topic); err != nil {
				return fmt.Errorf("%s: %w", text, err)
			}
			c.entries = append(c.entries, streamEntry{name: topic, listen: func(bus *eventbus.Bus, publish func(string, any) error, name eventbus.ListenOption) (*eventbus.Subscription, error) {
				return bus.ListenEvents(topic, func(_ context.Context, e eventbus.Event) error {
					return publish(e.Topic, e.Payload)
				}, name)
			}})
		}
		return nil
	}}
}

// ForwardTopic forwards a typed topic to the stream's clients, with its
// payloads as JSON; clients select it by the topic's name.
func ForwardTopic[T any](topic *eventbus.Topic[T]) StreamOption {
	if topic == nil {
		return streamOption{text: "controllers.ForwardTopic(nil)", apply: func(*streamConfig) error {
			return fmt.Errorf("controllers.ForwardTopic(nil): %w: nil topic", ErrInvalidStream)
		}}
	}
	text := fmt.Sprintf("controllers.ForwardTopic(%q)", topic.Name())
	return streamOption{text: text, apply: func(c *streamConfig) error {
		if err := checkForwarded(topic.Name()); err != nil {
			return fmt.Errorf("%s: %w", text, err)
		}
		c.entries = append(c.entries, streamEntry{name: topic.Name(), listen: func(bus *eventbus.Bus, publish func(string, any) error, name eventbus.ListenOption) (*eventbus.Subscription, error) {
			return topic.Listen(bus, func(_ context.Context, payload T) error {
				return publish(topic.Name(), payload)
			}, name)
		}})
		return nil
	}}
}

// checkForwarded reports a malformed topic or pattern, as the bus would,
// and the reserved name of the gap marker.
func checkForwarded(topic string) error {
	if topic == StreamGapEvent {
		return fmt.Errorf("%w: %q is the name of the gap marker", ErrInvalidStream, topic)
	}
	var probe eventbus.Bus
	sub, err := probe.Listen(topic, func(context.Context, any) error { return nil })
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidStream, err)
	}
	sub.Unsubscribe()
	return nil
}

// StreamBuffer sets how many events the stream holds, rounded up to a power
// of two: a client can resume after up to that many events with
// Last-Event-ID, and one that falls further behind gets a gap marker. The
// default is [DefaultStreamBuffer]; n must be positive. The buffer holds
// the encoded events, so its memory is n times the size of an event.
func StreamBuffer(n int) StreamOption {
	text := fmt.Sprintf("controllers.StreamBuffer(%d)", n)
	return streamOption{text: text, apply: func(c *streamConfig) error {
		if n <= 0 {
			return fmt.Errorf("%s: %w: not positive", text, ErrInvalidStream)
		}
		c.buffer = n
		return nil
	}}
}

// StreamHeartbeat sets how long a client's stream may stay silent before
// the server writes a heartbeat comment, so that proxies keep the
// connection open and a vanished client is noticed. The default is
// [DefaultStreamHeartbeat]; 0 sends none; negative is invalid.
func StreamHeartbeat(d time.Duration) StreamOption {
	text := fmt.Sprintf("controllers.StreamHeartbeat(%v)", d)
	return streamOption{text: text, apply: func(c *streamConfig) error {
		if d < 0 {
			return fmt.Errorf("%s: %w: negative duration", text, ErrInvalidStream)
		}
		c.heartbeat = d
		return nil
	}}
}

// StreamAuthorize sets the hook that decides, for each client, which of the
// topics it asked for it may receive: fn gets the request and the topic
// names asked for (every topic of the stream when the client named none)
// and returns those allowed. Returning none refuses the stream with 403;
// returning an error refuses it as Load's errors do: an *[HTTPError] with
// its status (401, 403…), a [Redirect], or any other error as a logged 500.
// fn runs on the request's goroutine before the stream opens; a panic in
// it is recovered, answered with a 500 problem and logged as a panic in
// Load is, "panic in http handler" with its stack.
func StreamAuthorize(fn func(r *Request, topics []string) ([]string, error)) StreamOption {
	return streamOption{text: "controllers.StreamAuthorize()", apply: func(c *streamConfig) error {
		if fn == nil {
			return fmt.Errorf("controllers.StreamAuthorize(): %w: nil function", ErrInvalidStream)
		}
		c.authorize = fn
		return nil
	}}
}

type streamServerOption streamSpec

// WithStream adds a stream when [NewServer] builds the server, as
// [Server.Stream] would, so that a mistake fails the constructor: fxmodule
// can pass streams this way. [Server.Streams] returns it.
func WithStream(route string, opts ...StreamOption) Option {
	return streamServerOption{route: route, opts: opts}
}

func (o streamServerOption) apply(c *config) error {
	c.streams = append(c.streams, streamSpec(o))
	return nil
}

func (o streamServerOption) String() string {
	parts := []string{fmt.Sprintf("%q", o.route)}
	for _, so := range o.opts {
		if so != nil {
			parts = append(parts, so.String())
		}
	}
	return "controllers.WithStream(" + strings.Join(parts, ", ") + ")"
}
