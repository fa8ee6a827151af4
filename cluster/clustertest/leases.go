package clustertest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sprag-go/sprag/cluster"
)

// Leases is an in-memory lease engine shared by the replicas of a test,
// with the guarantees cluster.Lease documents. Time is the time package's,
// so it runs on virtual time inside a testing/synctest bubble: a test of
// a singleton job's failover takes no real time. Its methods are safe for
// concurrent use.
type Leases struct {
	mu      sync.Mutex
	rev     uint64
	leases  map[string]record // by lease name
	ticks   map[string]record // by job name and tick
	down    map[string]bool   // replicas cut off from the engine
	history []Claimed
}

type record struct {
	holder  string
	rev     uint64
	expires time.Time
}

// Claimed is a tick claimed through the engine: one successful
// cluster.Lease.Claim.
type Claimed struct {
	Job    string    // the job's name, as given to Claim
	Tick   time.Time // the tick, as given to Claim
	Holder string    // the replica whose Lease claimed it (see Leases.For)
	Token  uint64    // the fencing token Claim returned: larger than every earlier claim's
}

// NewLeases returns an empty engine.
func NewLeases() *Leases {
	return &Leases{leases: make(map[string]record), ticks: make(map[string]record), down: make(map[string]bool)}
}

// For returns the engine as seen by replica: what it acquires, it holds.
func (l *Leases) For(replica string) cluster.Lease { return &replicaLeases{l: l, replica: replica} }

// Cut makes every request of replica fail with an error wrapping
// cluster.ErrDisconnected, as a network partition would, until Heal.
func (l *Leases) Cut(replica string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down[replica] = true
}

// Heal ends a Cut.
func (l *Leases) Heal(replica string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.down, replica)
}

// Holder returns the replica that holds lease name now, or "".
func (l *Leases) Holder(name string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.leases[name]
	if !ok || !time.Now().Before(r.expires) {
		return ""
	}
	return r.holder
}

// Claims returns every tick claimed so far, in order.
func (l *Leases) Claims() []Claimed {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Claimed(nil), l.history...)
}

type replicaLeases struct {
	l       *Leases
	replica string
}

// lock takes the engine's lock, or fails for a replica that is cut off.
func (r *replicaLeases) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", cluster.ErrDisconnected, err)
	}
	r.l.mu.Lock()
	if r.l.down[r.replica] {
		r.l.mu.Unlock()
		return fmt.Errorf("replica %s is cut off: %w", r.replica, cluster.ErrDisconnected)
	}
	return nil
}

func (r *replicaLeases) Acquire(ctx context.Context, name string, ttl time.Duration) (cluster.Grant, error) {
	if err := r.lock(ctx); err != nil {
		return cluster.Grant{}, err
	}
	defer r.l.mu.Unlock()
	now := time.Now()
	if cur, ok := r.l.leases[name]; ok && now.Before(cur.expires) {
		return cluster.Grant{}, fmt.Errorf("lease %q held by %s: %w", name, cur.holder, cluster.ErrLeaseHeld)
	}
	r.l.rev++
	r.l.leases[name] = record{holder: r.replica, rev: r.l.rev, expires: now.Add(ttl)}
	return cluster.Grant{Name: name, Holder: r.replica, Revision: r.l.rev}, nil
}

func (r *replicaLeases) Renew(ctx context.Context, g cluster.Grant, ttl time.Duration) (cluster.Grant, error) {
	if err := r.lock(ctx); err != nil {
		return cluster.Grant{}, err
	}
	defer r.l.mu.Unlock()
	now := time.Now()
	cur, ok := r.l.leases[g.Name]
	if !ok || cur.rev != g.Revision || !now.Before(cur.expires) {
		return cluster.Grant{}, fmt.Errorf("lease %q: %w", g.Name, cluster.ErrLeaseLost)
	}
	r.l.rev++
	r.l.leases[g.Name] = record{holder: r.replica, rev: r.l.rev, expires: now.Add(ttl)}
	g.Revision = r.l.rev
	return g, nil
}

func (r *replicaLeases) Release(ctx context.Context, g cluster.Grant) error {
	if err := r.lock(ctx); err != nil {
		return err
	}
	defer r.l.mu.Unlock()
	cur, ok := r.l.leases[g.Name]
	if !ok || cur.rev != g.Revision {
		return fmt.Errorf("lease %q: %w", g.Name, cluster.ErrLeaseLost)
	}
	delete(r.l.leases, g.Name)
	return nil
}

func (r *replicaLeases) Claim(ctx context.Context, name string, tick time.Time, keep time.Duration) (uint64, error) {
	if err := r.lock(ctx); err != nil {
		return 0, err
	}
	defer r.l.mu.Unlock()
	now := time.Now()
	key := fmt.Sprintf("%s@%d", name, tick.UnixNano())
	if cur, ok := r.l.ticks[key]; ok && now.Before(cur.expires) {
		return 0, fmt.Errorf("job %q tick %v: %w", name, tick, cluster.ErrTickTaken)
	}
	r.l.rev++
	r.l.ticks[key] = record{holder: r.replica, rev: r.l.rev, expires: now.Add(keep)}
	r.l.history = append(r.l.history, Claimed{Job: name, Tick: tick, Holder: r.replica, Token: r.l.rev})
	return r.l.rev, nil
}

// Revoke deletes lease name, as an operator forcing a failover would: its
// holder finds the lease lost at its next renewal.
func (l *Leases) Revoke(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.leases, name)
}
