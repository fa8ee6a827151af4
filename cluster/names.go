package cluster

import "strings"

// names derives the node's subjects, streams and buckets from its
// prefix ("sprag"):
//
//	sprag.ev.<topic tokens>          at-most-once events (core NATS)
//	sprag.al.<topic tokens>          at-least-once events, stream SPRAG_EVENTS
//	sprag.dead.ev.<topic tokens>     dead events, stream SPRAG_DEAD
//	sprag.dead.q.<queue>             dead queue items, stream SPRAG_DEAD
//	sprag.q.<queue>                  queue items, stream SPRAG_Q_<queue>
//	bucket SPRAG_LEASES              leases and ticks of singleton jobs
type names struct{ prefix string }

func (n names) upper() string { return strings.ToUpper(n.prefix) }

func (n names) event(mode Mode, tokens string) string {
	if mode == ModeAtMostOnce {
		return n.prefix + ".ev." + tokens
	}
	return n.prefix + ".al." + tokens
}

// eventPrefixLen is the length of the part of an event subject before the
// topic's tokens.
func (n names) eventPrefixLen() int  { return len(n.prefix) + len(".ev.") }
func (n names) eventsStream() string { return n.upper() + "_EVENTS" }
func (n names) deadStream() string   { return n.upper() + "_DEAD" }
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
)
