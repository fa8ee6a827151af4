package cluster

import "errors"

var (
	// ErrDisconnected is wrapped by errors of operations that need the
	// engine while the connection to it is down: a publish of an
	// at-least-once event once the buffer is full, a queue push, a lease
	// request. [Node.Health] wraps it too while the node is disconnected.
	ErrDisconnected = errors.New("cluster: disconnected")

	// ErrBufferFull is wrapped by the error an emit of an at-least-once
	// topic returns when the node cannot publish it now and its publish
	// buffer ([PublishBuffer]) is full.
	ErrBufferFull = errors.New("cluster: publish buffer full")

	// ErrDecode is wrapped by the reason of a dead letter whose payload the
	// codec could not decode. Such an event is dead-lettered at once,
	// never redelivered.
	ErrDecode = errors.New("cluster: cannot decode payload")

	// ErrNoListener is the failure of an at-least-once delivery that
	// reaches a replica with no listener of its topic: it is retried like
	// a failed listener, so that a replica whose services are still
	// starting gets it later.
	ErrNoListener = errors.New("cluster: no listener")

	// ErrLeaseHeld is returned by [Lease.Acquire] when another replica
	// holds the lease.
	ErrLeaseHeld = errors.New("cluster: lease held by another replica")

	// ErrLeaseLost is returned by [Lease.Renew] when the grant is no longer
	// the lease's current one: it expired, or another replica holds it.
	ErrLeaseLost = errors.New("cluster: lease lost")

	// ErrTickTaken is returned by [Lease.Claim] when the tick was claimed
	// before, by this replica or another.
	ErrTickTaken = errors.New("cluster: tick already claimed")
)
