package cluster

import "strings"

// names derives the node's subjects, streams and buckets from its
// prefix ("sprag"):
//
//	sprag.ev.<codec>.<origin>.<topic tokens>  at-most-once events (core NATS)
//	sprag.al.<topic tokens>          at-least-once events, stream SPRAG_EVENTS
//	sprag.dead.ev.<topic tokens>     dead events, stream SPRAG_DEAD
//	sprag.dead.q.<queue>             dead queue items, stream SPRAG_DEAD
//	sprag.q.<queue>                  queue items, stream SPRAG_Q_<queue>
//	bucket SPRAG_LEASES              leases and ticks of singleton jobs
type names struct{ prefix string }

func (n names) upper() string { return strings.ToUpper(n.prefix) }

// once is the subject of an at-most-once event: its codec and origin
// travel in the subject, so that the message needs no headers.
func (n names) once(codec, origin, tokens string) string {
	return n.prefix + ".ev." + codec + "." + origin + "." + tokens
}

// onceFilter is the subscription of the at-most-once events of a topic or
// pattern, from every origin and codec.
func (n names) onceFilter(tokens string) string { return n.prefix + ".ev.*.*." + tokens }

// parseOnce splits an at-most-once subject into its codec, origin and
// topic tokens.
func (n names) parseOnce(subject string) (codec, origin, tokens string, ok bool) {
	rest, found := strings.CutPrefix(subject, n.prefix+".ev.")
	if !found {
		return "", "", "", false
	}
	codec, rest, found = strings.Cut(rest, ".")
	if !found {
		return "", "", "", false
	}
	origin, tokens, found = strings.Cut(rest, ".")
	return codec, origin, tokens, found
}

// durable is the subject of an at-least-once event.
func (n names) durable(tokens string) string { return n.prefix + ".al." + tokens }

// durablePrefixLen is the length of an at-least-once subject before the
// topic's tokens.
func (n names) durablePrefixLen() int { return len(n.prefix) + len(".al.") }
func (n names) eventsStream() string  { return n.upper() + "_EVENTS" }
func (n names) deadStream() string    { return n.upper() + "_DEAD" }
func (n names) dead(kind, tokens string) string {
	return n.prefix + ".dead." + kind + "." + tokens
}
func (n names) queueStream(queue string) string { return n.upper() + "_Q_" + queue }
func (n names) queueSubject(queue string) string {
	return n.prefix + ".q." + queue
}
func (n names) leaseBucket() string { return n.upper() + "_LEASES" }

// Headers of the messages the node publishes.
const (
	// HeaderOrigin holds the name of the replica that emitted an event or
	// pushed an item.
	HeaderOrigin = "Sprag-Origin"
	// HeaderCodec holds the name of the payload's codec.
	HeaderCodec = "Sprag-Codec"
	// HeaderError holds, on a dead letter, why it is dead.
	HeaderError = "Sprag-Error"
	// HeaderAttempts holds, on a dead letter, how many deliveries it had.
	HeaderAttempts = "Sprag-Attempts"
	// HeaderSource holds, on a dead letter, the stream, consumer and
	// stream sequence of the original message.
	HeaderSource = "Sprag-Source"
	// HeaderPayloadDropped holds, on a dead letter without its payload,
	// the payload's size in bytes: with the dead letter's headers the
	// payload no longer fitted in the server's max_payload.
	HeaderPayloadDropped = "Sprag-Payload-Dropped"
)
