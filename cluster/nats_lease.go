package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag"
)

// natsLease is the lease engine on a JetStream key-value bucket with
// per-key TTLs. Its traps, each avoided here and tested:
//
//   - KeyValue.Update publishes without a TTL, so a lease renewed with it
//     never expires (nats.go #1994). Renew publishes on the key's subject
//     itself, with the expected last revision and the TTL header.
//   - A contended Create fails with "wrong last sequence" under one of two
//     codes, 10071 on a single server and 10164 on a replicated bucket,
//     and on the path that re-creates a deleted or expired key the client
//     returns the raw error without ErrKeyExists. Both codes mean lost.
//   - A key-value watch does not come back after its consumer is gone
//     (a server restart, a long disconnection: nats.go #1777). The watch
//     of leases is started again after every reconnect.
//
// Ownership always comes from a compare-and-set result, never from a
// read, which a stale follower may serve.
type natsLease struct {
	node *Node
	c    *conn

	mu      sync.Mutex
	kv      jetstream.KeyValue     // nil until first used; guarded by mu
	seen    map[string]observation // the watch's view of each lease; guarded by mu
	watched bool                   // the watch task runs; guarded by mu
}

// observation is what the watch last saw of a lease.
type observation struct {
	holder string
	at     time.Time // when this replica saw it
	gone   bool      // deleted, or expired
}

func newNATSLease(n *Node, c *conn) *natsLease {
	return &natsLease{node: n, c: c, seen: make(map[string]observation)}
}

// nodeLease is what Node.Leases returns: the node's engine once it runs.
type nodeLease struct{ n *Node }

func (l nodeLease) engine() (*natsLease, error) {
	if _, err := l.n.running("leases"); err != nil {
		return nil, err
	}
	l.n.mu.Lock()
	defer l.n.mu.Unlock()
	return l.n.leases, nil
}

func (l nodeLease) Acquire(ctx context.Context, name string, ttl time.Duration) (Grant, error) {
	e, err := l.engine()
	if err != nil {
		return Grant{}, err
	}
	return e.Acquire(ctx, name, ttl)
}

func (l nodeLease) Renew(ctx context.Context, g Grant, ttl time.Duration) (Grant, error) {
	e, err := l.engine()
	if err != nil {
		return Grant{}, err
	}
	return e.Renew(ctx, g, ttl)
}

func (l nodeLease) Release(ctx context.Context, g Grant) error {
	e, err := l.engine()
	if err != nil {
		return err
	}
	return e.Release(ctx, g)
}

func (l nodeLease) Claim(ctx context.Context, name string, tick time.Time, keep time.Duration) (uint64, error) {
	e, err := l.engine()
	if err != nil {
		return 0, err
	}
	return e.Claim(ctx, name, tick, keep)
}

// markerTTL is how long the bucket keeps the marker of a key that
// expired: the bucket allows per-key TTLs only with markers, and the
// marker of an expired lease tells the watch it is gone. A marker does
// not keep a key taken: Create succeeds on it.
const markerTTL = time.Minute

// bucketTimeout bounds the creation of the bucket, whatever the context
// of the request that first needs it: replicas that start together may
// take several attempts (see ensure).
const bucketTimeout = 15 * time.Second

// bucket returns the bucket, creating it and starting the watch on first
// use.
func (l *natsLease) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kv != nil {
		return l.kv, nil
	}
	if !l.c.connected() {
		return nil, fmt.Errorf("leases: %w", ErrDisconnected)
	}
	var kv jetstream.KeyValue
	bucket := l.node.cfg.names().leaseBucket()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bucketTimeout)
	defer cancel()
	if err := ensure(ctx, "leases: create bucket "+bucket, func(ctx context.Context) error {
		var err error
		kv, err = l.c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:         bucket,
			Description:    "sprag: leases and ticks of singleton jobs",
			History:        1,
			Storage:        jetstream.FileStorage,
			Replicas:       l.node.cfg.replicas,
			LimitMarkerTTL: markerTTL,
		})
		return err
	}); err != nil {
		return nil, classifyLease(err)
	}
	l.kv = kv
	if !l.watched {
		if _, err := spawn(l.node, "cluster lease watch", func(ctx context.Context) error { return l.watch(ctx, kv) }); err == nil {
			l.watched = true
		}
	}
	return kv, nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < time.Second || ttl%time.Second != 0 {
		return fmt.Errorf("%w: a lease's TTL must be a whole number of seconds, at least 1s, got %v", sprag.ErrInvalidArgument, ttl)
	}
	return nil
}

func (l *natsLease) Acquire(ctx context.Context, name string, ttl time.Duration) (Grant, error) {
	if err := checkTTL(ttl); err != nil {
		return Grant{}, err
	}
	if err := checkLeaseName(name); err != nil {
		return Grant{}, err
	}
	self := l.node.cfg.replica
	if o, ok := l.observed(name); ok && !o.gone && o.holder != self && time.Since(o.at) < ttl {
		// Alive a moment ago: spare the engine a compare-and-set that
		// would fail. Only a failure is ever taken from the watch.
		return Grant{}, fmt.Errorf("lease %q: %w (%s)", name, ErrLeaseHeld, o.holder)
	}
	kv, err := l.bucket(ctx)
	if err != nil {
		return Grant{}, err
	}
	rev, err := kv.Create(ctx, leaseKey(name), []byte(self), jetstream.KeyTTL(ttl))
	switch {
	case err == nil:
		return Grant{Name: name, Holder: self, Revision: rev}, nil
	case keyExists(err):
		return Grant{}, fmt.Errorf("lease %q: %w", name, ErrLeaseHeld)
	}
	return Grant{}, fmt.Errorf("lease %q: acquire: %w", name, classifyLease(err))
}

func (l *natsLease) Renew(ctx context.Context, g Grant, ttl time.Duration) (Grant, error) {
	if err := checkTTL(ttl); err != nil {
		return Grant{}, err
	}
	if err := checkLeaseName(g.Name); err != nil {
		return Grant{}, err
	}
	if _, err := l.bucket(ctx); err != nil {
		return Grant{}, err
	}
	// Not KeyValue.Update: it would drop the TTL (nats.go #1994).
	msg := &nats.Msg{Subject: "$KV." + l.node.cfg.names().leaseBucket() + "." + leaseKey(g.Name), Data: []byte(g.Holder)}
	pa, err := l.c.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(g.Revision), jetstream.WithMsgTTL(ttl))
	switch {
	case err == nil:
		g.Revision = pa.Sequence
		return g, nil
	case keyExists(err):
		return Grant{}, fmt.Errorf("lease %q: %w", g.Name, ErrLeaseLost)
	}
	return Grant{}, fmt.Errorf("lease %q: renew: %w", g.Name, classifyLease(err))
}

func (l *natsLease) Release(ctx context.Context, g Grant) error {
	if err := checkLeaseName(g.Name); err != nil {
		return err
	}
	kv, err := l.bucket(ctx)
	if err != nil {
		return err
	}
	err = kv.Delete(ctx, leaseKey(g.Name), jetstream.LastRevision(g.Revision))
	switch {
	case err == nil:
		return nil
	case keyExists(err):
		return fmt.Errorf("lease %q: %w", g.Name, ErrLeaseLost)
	}
	return fmt.Errorf("lease %q: release: %w", g.Name, classifyLease(err))
}

func (l *natsLease) Claim(ctx context.Context, name string, tick time.Time, keep time.Duration) (uint64, error) {
	if err := checkLeaseName(name); err != nil {
		return 0, err
	}
	kv, err := l.bucket(ctx)
	if err != nil {
		return 0, err
	}
	rev, err := kv.Create(ctx, tickKey(name, tick), []byte(l.node.cfg.replica), jetstream.KeyTTL(wholeSeconds(keep)))
	switch {
	case err == nil:
		return rev, nil
	case keyExists(err):
		return 0, fmt.Errorf("job %q tick %s: %w", name, tick.UTC().Format(time.RFC3339Nano), ErrTickTaken)
	}
	return 0, fmt.Errorf("job %q: claim tick: %w", name, classifyLease(err))
}

// keyExists reports whether err is a lost compare-and-set: "key exists"
// or "wrong last sequence", under either of the codes the server uses.
func keyExists(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// classifyLease wraps with ErrDisconnected the errors that say the server
// could not be reached.
func classifyLease(err error) error {
	if transient(err) {
		return fmt.Errorf("%w: %w", ErrDisconnected, err)
	}
	return err
}

// observed returns what the watch last saw of lease name.
func (l *natsLease) observed(name string) (observation, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.seen[name]
	return o, ok
}

// watch is the task that follows every lease of the bucket. A key-value
// watch does not survive the loss of its consumer, so it is started again
// after every reconnect, and after it ends for any other reason.
func (l *natsLease) watch(ctx context.Context, kv jetstream.KeyValue) error {
	failures := 0
	for ctx.Err() == nil {
		reconnected := l.c.reconnected()
		w, err := kv.Watch(ctx, "*.lease")
		if err != nil {
			failures++
			if failures == 1 || failures%20 == 0 {
				l.node.Logger().Warn("watch leases", zap.Int("failures", failures), zap.Error(err))
			}
			sleep(ctx, backoff(failures, 100*time.Millisecond, 5*time.Second))
			continue
		}
		failures = 0
		l.follow(ctx, w, reconnected)
		if err := w.Stop(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			l.node.Logger().Debug("stop lease watch", zap.Error(err))
		}
	}
	return nil
}

// follow records the watch's updates until ctx ends, a reconnect happens,
// or the watch ends.
func (l *natsLease) follow(ctx context.Context, w jetstream.KeyWatcher, reconnected <-chan struct{}) {
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil {
				l.record(e)
			}
		case <-reconnected:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (l *natsLease) record(e jetstream.KeyValueEntry) {
	name := e.Key()[:len(e.Key())-len(".lease")]
	o := observation{holder: string(e.Value()), at: time.Now()}
	if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		o = observation{at: time.Now(), gone: true}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[name] = o
}

// checkLeaseName refuses a lease name that is no key of the lease
// bucket (letters, digits, '-', '_', '=', '/' and inner dots), or that
// is longer than a NATS subject can carry.
func checkLeaseName(name string) error {
	ok := name != "" && len(name) <= maxName && name[0] != '.' && name[len(name)-1] != '.' && !strings.Contains(name, "..")
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = plain(c) || c == '=' || c == '/' || c == '.'
	}
	if !ok {
		return fmt.Errorf("lease %.40q: %w: a lease is named with at most %d letters, digits, '-', '_', '=', '/' and inner dots", name, sprag.ErrInvalidArgument, maxName)
	}
	return nil
}
