package cluster

import "sync/atomic"

// Stats are a node's figures since it started. The counts of events are
// those of this replica.
type Stats struct {
	Connected  bool  `json:"connected"`  // the engine can be reached now
	Reconnects int64 `json:"reconnects"` // connections re-established after a loss
	Published  int64 `json:"published"`  // events handed to the engine
	Local      int64 `json:"local"`      // shared events handled by the emitting replica's listeners
	Dropped    int64 `json:"dropped"`    // at-most-once events not sent (disconnected or stopping), or received and not decodable
	Buffered   int   `json:"buffered"`   // at-least-once events waiting to be published now
	Rejected   int64 `json:"rejected"`   // at-least-once emits refused: the buffer was full
	Lost       int64 `json:"lost"`       // buffered events never published: refused by the engine, or left at stop
	Delivered  int64 `json:"delivered"`  // remote events emitted on the local bus (at-least-once: and acknowledged)
	Suppressed int64 `json:"suppressed"` // this replica's own events received back and skipped
	Retried    int64 `json:"retried"`    // deliveries that failed and were scheduled for redelivery
	Dead       int64 `json:"dead"`       // deliveries moved to the dead letters
}

// counters are the figures behind Stats.
type counters struct {
	published, local, dropped, rejected, lost atomic.Int64
	delivered, suppressed, retried, dead      atomic.Int64
}
