package cluster

import "errors"

var (
	// ErrDisconnected is wrapped by the error of an operation that needs
	// the engine while it cannot be reached now (the connection is down,
	// or the server did not answer in time): [Queue.TryPush], [Queue.Push]
	// once its context ends while it waits for the engine, and the
	// requests of the node's lease engine ([Node.Leases]). [Node.Health]
	// wraps it while the node is disconnected. Another engine's
	// [Transport.Publish] and [Lease] methods must wrap it for the same
	// reason. An emit does not return it while the node is disconnected:
	// an at-most-once event is dropped, an at-least-once event is buffered
	// (see [ErrBufferFull]).
	ErrDisconnected = errors.New("cluster: disconnected")

	// ErrBufferFull is wrapped by the error an emit of an at-least-once
	// topic returns when the node cannot publish the event now and its
	// publish buffer ([PublishBuffer]) is full: the event is neither
	// published nor kept.
	ErrBufferFull = errors.New("cluster: publish buffer full")

	// ErrDecode is wrapped by the reason of a dead letter whose payload
	// the codec could not decode, or that another codec wrote. Such an
	// event or queue item is dead-lettered at once, never redelivered.
	ErrDecode = errors.New("cluster: cannot decode payload")

	// ErrNoListener is the failure of an at-least-once delivery that
	// reaches a replica with no listener of its topic: it is retried like
	// a failed listener, so that a replica whose services are still
	// starting gets it later.
	ErrNoListener = errors.New("cluster: no listener")

	// ErrLeaseHeld is wrapped by the error of [Lease.Acquire] when the
	// lease is held: by another replica, or by this one under a grant it
	// got before (renew that grant instead).
	ErrLeaseHeld = errors.New("cluster: lease held")

	// ErrLeaseLost is wrapped by the error of [Lease.Renew] and
	// [Lease.Release] when the grant is no longer the lease's current one:
	// it expired, was released, or another replica holds the lease.
	ErrLeaseLost = errors.New("cluster: lease lost")

	// ErrTickTaken is wrapped by the error of [Lease.Claim] when the tick
	// was claimed before, by this replica or another.
	ErrTickTaken = errors.New("cluster: tick already claimed")
)
