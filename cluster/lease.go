package cluster

import (
	"context"
	"time"
)

// Lease is the engine of singleton jobs ([Singleton]): leases that one
// replica holds at a time, and ticks that run once. The node's JetStream
// key-value bucket is the engine by default ([Node.Leases]); another one
// (etcd, a Kubernetes Lease, Redis) can be given to Singleton instead.
// Each Lease value acts for one replica, the holder of what it acquires.
//
// What an engine must guarantee:
//
//   - Acquire, Renew and Claim are atomic compare-and-set operations on
//     the engine's leader or quorum: their result, never a read that may
//     be stale, says who holds a lease or claimed a tick.
//   - A grant lasts at least ttl from the moment the engine received the
//     request, measured by the engine; the caller counts from before it
//     sent the request, so its own deadline comes first. Renew restarts
//     the ttl and keeps it: a renewed lease still expires.
//   - Renew succeeds only for the lease's current grant, and returns a
//     new one; a grant that expired, was released, or was superseded is
//     lost ([ErrLeaseLost]).
//   - Claim succeeds once per name and tick for at least keep, across
//     every replica ([ErrTickTaken] after), and returns a fencing token
//     larger than every token returned before for that name.
//   - Errors that say the engine could not be reached wrap
//     [ErrDisconnected]; the caller then keeps its grant until its own
//     deadline and no longer.
//
// Implementations must be safe for concurrent use.
type Lease interface {
	// Acquire makes this replica the holder of the lease name for ttl if
	// nobody holds it, this replica included, or fails with
	// [ErrLeaseHeld].
	Acquire(ctx context.Context, name string, ttl time.Duration) (Grant, error)
	// Renew extends g for ttl if it is still the lease's current grant,
	// or fails with [ErrLeaseLost].
	Renew(ctx context.Context, g Grant, ttl time.Duration) (Grant, error)
	// Release gives the lease up if g is still its current grant, or
	// fails with [ErrLeaseLost].
	Release(ctx context.Context, g Grant) error
	// Claim records that the tick of job name runs, or fails with
	// [ErrTickTaken]; the record lasts at least keep.
	Claim(ctx context.Context, name string, tick time.Time, keep time.Duration) (token uint64, err error)
}

// Grant is a held lease.
type Grant struct {
	Name     string // the lease's name
	Holder   string // the replica that holds it
	Revision uint64 // the engine's version of the grant, for Renew and Release
}
