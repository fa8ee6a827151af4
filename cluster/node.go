package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/sprag-go/sprag/sprag"
)

// ServiceName is the name fxcluster gives the node's service.
const ServiceName = "cluster"

// Node is one replica's membership of the cluster: a sprag service that
// holds the connection to NATS (or runs an embedded server), bridges the
// distributed topics between the local bus and the other replicas, and
// backs singleton jobs ([Singleton]) and shared queues ([NewQueue]).
//
// Build it with [New], bind it like any service, and start it before the
// services that use it (fxcluster does both). Its methods are safe for
// concurrent use.
type Node struct {
	sprag.Service
	cfg config

	mu        sync.Mutex
	c         *conn     // set while running; guarded by mu
	transport Transport // guarded by mu
	bridge    *bridge   // guarded by mu
	leases    *natsLease
}

// New returns a node configured by opts; it connects when it starts.
// New fails, with an error wrapping sprag.ErrInvalidArgument that names
// the option, when neither [URL] nor [DataDir] is given, a name is not
// made of letters, digits, '-' and '_', a figure is out of range, a
// distributed topic is malformed or has no valid guarantee, or two
// distributed topics overlap.
func New(opts ...Option) (*Node, error) {
	cfg := config{
		prefix:         DefaultPrefix,
		replicas:       1,
		codec:          JSON(),
		publishBuffer:  DefaultPublishBuffer,
		publishTimeout: DefaultPublishTimeout,
		dedupWindow:    DefaultDedupWindow,
		eventsMaxAge:   DefaultEventsMaxAge,
		deadMaxAge:     DefaultDeadMaxAge,
	}
	for _, o := range opts {
		if o != nil {
			o.applyNode(&cfg)
		}
	}
	if cfg.replica == "" {
		cfg.replica = defaultReplica()
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("cluster.New: %w: %w", sprag.ErrInvalidArgument, err)
	}
	return &Node{cfg: cfg}, nil
}

// defaultReplica returns the host name, made valid, and a random suffix.
func defaultReplica() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "replica"
	}
	b := []byte(host)
	for i, c := range b {
		if !plain(c) {
			b[i] = '-'
		}
	}
	return string(b) + "-" + strings.ToLower(nuid.Next()[14:])
}

func (c *config) validate() error {
	switch {
	case len(c.urls) == 0 && c.dataDir == "":
		return errors.New("no cluster.URL and no cluster.DataDir: give the NATS servers' URL, or a directory for an embedded server")
	case !validName(c.replica):
		return fmt.Errorf("cluster.Replica(%q): use letters, digits, '-' and '_'", c.replica)
	case !validName(c.prefix):
		return fmt.Errorf("cluster.Prefix(%q): use letters, digits, '-' and '_'", c.prefix)
	case c.replicas < 1 || c.replicas > 5:
		return fmt.Errorf("cluster.StreamReplicas(%d): from 1 to 5", c.replicas)
	case c.codec == nil:
		return errors.New("cluster.WithCodec(nil)")
	case !validName(c.codec.Name()):
		return fmt.Errorf("cluster.WithCodec(%s): a codec's name is made of letters, digits, '-' and '_'", c.codec.Name())
	case c.publishBuffer < 0:
		return fmt.Errorf("cluster.PublishBuffer(%d): must not be negative", c.publishBuffer)
	case c.publishTimeout <= 0:
		return fmt.Errorf("cluster.PublishTimeout(%v): must be positive", c.publishTimeout)
	case c.dedupWindow <= 0:
		return fmt.Errorf("cluster.DedupWindow(%v): must be positive", c.dedupWindow)
	case c.eventsMaxAge < c.dedupWindow || c.deadMaxAge < c.dedupWindow:
		return fmt.Errorf("cluster.Retention(%v, %v): must be at least the dedup window (%v)", c.eventsMaxAge, c.deadMaxAge, c.dedupWindow)
	}
	for i, d := range c.decls {
		if d.err != nil {
			return d.err
		}
		if err := d.guarantee.validate(); err != nil {
			return fmt.Errorf("distributed topic %q: %w", d.name, err)
		}
		s, err := SubjectOf(d.name)
		if err != nil {
			return fmt.Errorf("distributed topic: %w", err)
		}
		d.subject = s
		for _, e := range c.decls[:i] {
			if server.SubjectsCollide(e.subject, d.subject) {
				return fmt.Errorf("distributed topics %q and %q overlap: a topic can match both", e.name, d.name)
			}
		}
	}
	return nil
}

// OnStart connects to NATS, or starts the embedded server, creates the
// streams the distributed topics need, and starts the bridge.
func (n *Node) OnStart(ctx context.Context) error {
	c, err := connect(ctx, &n.cfg, n.Logger())
	if err != nil {
		return err
	}
	if err := n.AddCleanup(c.close); err != nil {
		return errors.Join(err, c.close(ctx))
	}
	nt := newNATSTransport(c, &n.cfg)
	t := n.cfg.transport
	if t == nil {
		t = nt
		if n.needsStreams() {
			if err := nt.ensureStreams(ctx); err != nil {
				return err
			}
		}
	}
	b := newBridge(n, t)
	n.mu.Lock()
	n.c, n.transport, n.bridge = c, t, b
	n.leases = newNATSLease(n, c)
	n.mu.Unlock()
	return b.start(ctx, n.Context(), n)
}

func (n *Node) needsStreams() bool {
	for _, d := range n.cfg.decls {
		if d.guarantee.Mode == ModeAtLeastOnce {
			return true
		}
	}
	return false
}

// running returns the connection, or an error wrapping
// sprag.ErrNotRunning before the node started.
func (n *Node) running(what string) (*conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.c == nil || n.State() != sprag.Running && n.State() != sprag.Starting {
		return nil, fmt.Errorf("cluster: %s: %w (node %s)", what, sprag.ErrNotRunning, n.State())
	}
	return n.c, nil
}

// Health reports the connection's state: nil while the node can reach
// NATS (and its transport, if another one was given), and an error
// wrapping [ErrDisconnected] that names the state otherwise.
func (n *Node) Health(context.Context) error {
	n.mu.Lock()
	c, t := n.c, n.transport
	n.mu.Unlock()
	if c == nil {
		return nil
	}
	err := c.health()
	if t != nil && n.cfg.transport != nil && !t.Connected() {
		err = errors.Join(err, fmt.Errorf("transport %T: %w", t, ErrDisconnected))
	}
	return err
}

// Stats returns the node's figures at this moment.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	c, t, b := n.c, n.transport, n.bridge
	n.mu.Unlock()
	var st Stats
	if c != nil {
		st.Reconnects = c.reconnects.Load()
	}
	if t != nil {
		st.Connected = t.Connected()
	}
	if b != nil {
		st.Published, st.Local, st.Dropped = b.stats.published.Load(), b.stats.local.Load(), b.stats.dropped.Load()
		st.Rejected, st.Lost, st.Buffered = b.stats.rejected.Load(), b.stats.lost.Load(), b.out.len()
		st.Delivered, st.Suppressed = b.stats.delivered.Load(), b.stats.suppressed.Load()
		st.Retried, st.Dead = b.stats.retried.Load(), b.stats.dead.Load()
	}
	return st
}

// StopDelivering stops handing the events of other replicas to local
// listeners, and waits until ctx ends for the delivery in progress to
// finish; events received but not yet handled go back to the engine for
// redelivery. Emits are still published. fxcluster calls it when the app
// begins to stop, so that no event is acknowledged by a replica whose
// services are going away. It is also done when the node stops.
func (n *Node) StopDelivering(ctx context.Context) error {
	n.mu.Lock()
	b := n.bridge
	n.mu.Unlock()
	if b == nil {
		return nil
	}
	return b.stopDelivering(ctx)
}

// ReplicaName returns the name of this replica (see [Replica]).
func (n *Node) ReplicaName() string { return n.cfg.replica }

// Conn returns the node's NATS connection while it runs, and nil before,
// for uses of NATS beyond this package. Do not close it.
func (n *Node) Conn() *nats.Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.c == nil {
		return nil
	}
	return n.c.nc
}

// JetStream returns the node's JetStream handle while it runs, and nil
// before.
func (n *Node) JetStream() jetstream.JetStream {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.c == nil {
		return nil
	}
	return n.c.js
}

// Leases returns the node's lease engine, which keeps leases and ticks of
// singleton jobs in a JetStream key-value bucket; see [Singleton] and
// [Lease] for what it guarantees. It is usable once the node runs;
// before, its methods return errors wrapping sprag.ErrNotRunning. A
// request that cannot reach NATS fails with an error wrapping
// [ErrDisconnected]. JetStream counts the TTLs of keys in whole seconds:
// Acquire and Renew refuse a TTL that is not a whole number of seconds
// of at least 1s with an error wrapping sprag.ErrInvalidArgument, and
// Claim keeps a tick's record for keep rounded up to whole seconds.
func (n *Node) Leases() Lease { return nodeLease{n} }

// stopTimeout bounds the cleanups that talk to NATS when the stop's
// context has no deadline.
const stopTimeout = 10 * time.Second
