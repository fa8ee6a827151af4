package cluster

import (
	"context"
	"time"
)

// Transport carries the events of distributed topics between replicas.
// The node's NATS connection is the transport by default; another engine
// plugs in with [WithTransport]. The bridge between the local bus and the
// transport does the rest: encoding, origin suppression, retries with
// backoff, dead letters, buffering while disconnected.
//
// What an engine must guarantee:
//
//   - Publish with [ModeAtMostOnce] hands the message to every
//     subscription of a matching route that exists when it is published,
//     at most once each; it may lose it.
//   - Publish with [ModeAtLeastOnce] returns nil only once the message is
//     stored durably; it drops a message whose ID it stored within its
//     dedup window. Each fan-out route (no group) gets every message
//     published after the route was first created, under the route's
//     Replica name; a grouped route gets each message once per group.
//     A delivery that is not acknowledged in time (see
//     [Guarantee.AckWait]) or that is retried is delivered again;
//     Delivery.Attempt counts its deliveries.
//   - Routes match topics segment by segment as the local bus matches
//     patterns (see [SubjectOf]).
//   - Publish fails with an error wrapping [ErrDisconnected] when it
//     cannot reach the engine now, so that the bridge buffers or drops the
//     message; any other error is returned to the emitter.
//
// Implementations must be safe for concurrent use.
type Transport interface {
	// Publish sends m to the replicas with guarantee g.
	Publish(ctx context.Context, m *Message, g Guarantee) error
	// Subscribe starts receiving the messages of r. The inbox lives until
	// it is closed.
	Subscribe(ctx context.Context, r Route) (Inbox, error)
	// Connected reports whether the transport can reach its engine now.
	Connected() bool
}

// Message is an event on its way between replicas.
type Message struct {
	Topic  string // the topic that was emitted
	Data   []byte // the payload, encoded by the codec named below
	Codec  string // the codec's name
	Origin string // the replica that emitted it
	ID     string // unique per event; the engine's dedup key (at-least-once)
}

// Route is what a replica subscribes to: the topics that match Pattern,
// with the declaration's guarantee, as Replica.
type Route struct {
	Pattern   string    // a topic or pattern of the bus
	Guarantee Guarantee // the declaration's: the mode, the group, the redelivery figures
	Replica   string    // the subscribing replica; names a fan-out consumer
}

// Inbox is a subscription of a [Route]. Next and Close may be called from
// different goroutines.
type Inbox interface {
	// Next waits for the next delivery until ctx ends.
	Next(ctx context.Context) (Delivery, error)
	// Close stops receiving. Deliveries received but not yet returned
	// by Next are handed back to the engine for redelivery (retried at
	// once); deliveries already returned remain the caller's to settle.
	Close(ctx context.Context) error
}

// Delivery is one message delivered to a replica. Of Ack, Retry and
// Reject, the first call settles the delivery; for an at-most-once
// delivery they do nothing.
type Delivery interface {
	// Message is the message delivered; the same on every call.
	Message() *Message
	// Attempt is 1 for the first delivery of the message to this route,
	// and counts up with each redelivery.
	Attempt() int
	// Ack tells the engine the message was handled: it is not delivered
	// to this route again.
	Ack(ctx context.Context) error
	// Retry asks for a redelivery after delay.
	Retry(ctx context.Context, delay time.Duration) error
	// Reject moves the message to the dead letters with reason; it is not
	// delivered again.
	Reject(ctx context.Context, reason error) error
	// InProgress tells the engine the replica is still handling the
	// message, so that it waits another AckWait before redelivering it.
	InProgress(ctx context.Context) error
}
