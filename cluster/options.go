package cluster

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// An Option configures [New].
type Option interface {
	applyNode(*config)
	// String returns the option as it would be written in Go, such as
	// cluster.Replica("web-1").
	String() string
}

// config is what New's options set.
type config struct {
	urls           []string
	dataDir        string
	syncAlways     bool
	replica        string
	prefix         string
	replicas       int
	codec          Codec
	natsOpts       []nats.Option
	publishBuffer  int
	publishTimeout time.Duration
	dedupWindow    time.Duration
	eventsMaxAge   time.Duration
	deadMaxAge     time.Duration
	transport      Transport
	decls          []*declaration
}

// Defaults of [New]'s options.
const (
	DefaultPrefix         = "sprag"
	DefaultPublishBuffer  = 1000
	DefaultPublishTimeout = 5 * time.Second
	DefaultDedupWindow    = 2 * time.Minute
	DefaultEventsMaxAge   = 24 * time.Hour
	DefaultDeadMaxAge     = 7 * 24 * time.Hour
)

type nodeOption struct {
	apply func(*config)
	text  string
}

func (o nodeOption) applyNode(c *config) { o.apply(c) }
func (o nodeOption) String() string      { return o.text }

func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// URL connects the node to the NATS servers at urls ("nats://host:4222";
// one URL may also hold several, comma-separated). The client reconnects
// by itself, to any of them, for as long as the node runs. Without URL the
// node starts an embedded server: see [DataDir]. Empty or blank URLs are
// ignored, so that URL(os.Getenv("NATS_URL")) with the variable unset
// counts as no URL.
func URL(urls ...string) Option {
	return nodeOption{func(c *config) {
		for _, u := range urls {
			if strings.TrimSpace(u) != "" {
				c.urls = append(c.urls, u)
			}
		}
	}, "cluster.URL(" + quoted(urls) + ")"}
}

// DataDir makes the node start an embedded single NATS server with
// JetStream, storing its data under dir, and connect to it in process
// (no port is opened). It is the way to run one replica with one command;
// several replicas should share an external NATS cluster instead (see
// the package documentation). It is ignored when [URL] is given; without
// either, New fails.
func DataDir(dir string) Option {
	return nodeOption{func(c *config) { c.dataDir = dir }, fmt.Sprintf("cluster.DataDir(%q)", dir)}
}

// SyncAlways makes the embedded server flush JetStream writes to disk
// before it acknowledges them, so that an acknowledged lease, tick or
// event survives a crash of the machine. It costs write latency. For an
// external server, set sync_interval: always in its jetstream block.
func SyncAlways() Option {
	return nodeOption{func(c *config) { c.syncAlways = true }, "cluster.SyncAlways()"}
}

// Replica names this replica: in the origin of the events it emits, as
// the holder of leases, and in the durable consumers of its fan-out
// at-least-once topics, so that a replica restarted under the same name
// resumes where it stopped. Names are made of letters, digits, '-' and
// '_' and must differ between the replicas running at one time. The
// default is the host name and a random suffix, new in every process.
func Replica(name string) Option {
	return nodeOption{func(c *config) { c.replica = name }, fmt.Sprintf("cluster.Replica(%q)", name)}
}

// Prefix sets the first token of every subject the node uses and the
// start of its stream and bucket names, so that several apps can share
// one NATS account. It is made of letters, digits, '-' and '_'; the
// default is [DefaultPrefix]. Stream and bucket names take the prefix in
// upper case, so apps of one account need prefixes that differ in more
// than case.
func Prefix(prefix string) Option {
	return nodeOption{func(c *config) { c.prefix = prefix }, fmt.Sprintf("cluster.Prefix(%q)", prefix)}
}

// StreamReplicas sets how many servers keep a copy of each stream and
// bucket the node creates: 1 (the default) or, in a cluster of three or
// more servers, 3, so that they survive the loss of a server.
func StreamReplicas(n int) Option {
	return nodeOption{func(c *config) { c.replicas = n }, fmt.Sprintf("cluster.StreamReplicas(%d)", n)}
}

// WithCodec sets the codec of payloads and queue items; the default is
// [JSON]. Every replica must use the same.
func WithCodec(codec Codec) Option {
	return nodeOption{func(c *config) { c.codec = codec }, "cluster.WithCodec(" + codecName(codec) + ")"}
}

func codecName(c Codec) string {
	if c == nil {
		return "nil"
	}
	return c.Name()
}

// NATSOptions adds options of the NATS client (credentials, TLS, a name)
// to those the node sets. Options that set the connection's handlers,
// its reconnection or its connect timeout are overridden by the node,
// which relies on them.
func NATSOptions(opts ...nats.Option) Option {
	return nodeOption{func(c *config) { c.natsOpts = append(c.natsOpts, opts...) }, fmt.Sprintf("cluster.NATSOptions(%d options)", len(opts))}
}

// PublishBuffer sets how many at-least-once events the node keeps in
// memory while it cannot publish them (disconnected, or the stream has no
// leader); past that an emit gets an error wrapping [ErrBufferFull]. The
// buffer is sent, in order, once publishing works again. Events in the
// buffer are lost if the process dies. The default is
// [DefaultPublishBuffer].
func PublishBuffer(n int) Option {
	return nodeOption{func(c *config) { c.publishBuffer = n }, fmt.Sprintf("cluster.PublishBuffer(%d)", n)}
}

// PublishTimeout bounds how long an emit of an at-least-once topic waits
// for the stream to acknowledge the event before it buffers it. The
// default is [DefaultPublishTimeout].
func PublishTimeout(d time.Duration) Option {
	return nodeOption{func(c *config) { c.publishTimeout = d }, fmt.Sprintf("cluster.PublishTimeout(%v)", d)}
}

// DedupWindow sets how long the events stream remembers message ids to
// drop duplicates (see [WithMessageID]). The default is
// [DefaultDedupWindow].
func DedupWindow(d time.Duration) Option {
	return nodeOption{func(c *config) { c.dedupWindow = d }, fmt.Sprintf("cluster.DedupWindow(%v)", d)}
}

// Retention sets how long the events stream keeps an at-least-once event
// that some replica has not acknowledged, and how long the dead-letter
// stream keeps a dead letter. The defaults are [DefaultEventsMaxAge] and
// [DefaultDeadMaxAge].
func Retention(events, deadLetters time.Duration) Option {
	return nodeOption{func(c *config) { c.eventsMaxAge, c.deadMaxAge = events, deadLetters },
		fmt.Sprintf("cluster.Retention(%v, %v)", events, deadLetters)}
}

// WithTransport makes the node carry distributed topics over t instead of
// its NATS connection; see [Transport] for what t must guarantee.
func WithTransport(t Transport) Option {
	return nodeOption{func(c *config) { c.transport = t }, fmt.Sprintf("cluster.WithTransport(%T)", t)}
}

// validName reports whether s is made of letters, digits, '-' and '_'.
// maxName is the longest name of a replica, prefix, queue, codec or
// lease: a NATS subject must fit in the server's control line (4 KiB by
// default), or the server closes the connection for good.
const maxName = 255

func validName(s string) bool {
	if s == "" || len(s) > maxName {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !plain(s[i]) {
			return false
		}
	}
	return true
}

func (c *config) names() names { return names{c.prefix} }
