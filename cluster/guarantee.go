package cluster

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/sprag-go/sprag/eventbus"
)

// Mode is the delivery guarantee of a distributed topic.
type Mode int

const (
	// ModeAtMostOnce delivers each event to the replicas connected when it
	// is published, over core NATS, with no retry.
	ModeAtMostOnce Mode = iota + 1
	// ModeAtLeastOnce stores each event in a JetStream stream and
	// redelivers it until a replica's listeners accept it.
	ModeAtLeastOnce
)

// String returns "at-most-once" or "at-least-once".
func (m Mode) String() string {
	switch m {
	case ModeAtMostOnce:
		return "at-most-once"
	case ModeAtLeastOnce:
		return "at-least-once"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Guarantee is how a distributed topic is delivered: [AtMostOnce] or
// [AtLeastOnce], with its options. Its zero value is not valid.
type Guarantee struct {
	Mode          Mode          // at most once or at least once; the zero Mode is not valid
	Group         string        // shared delivery group; "" for fan-out
	MaxDeliveries int           // deliveries before the dead letter; at-least-once
	Backoff       time.Duration // wait before the first redelivery; at-least-once
	MaxBackoff    time.Duration // cap of the doubling wait; at-least-once
	AckWait       time.Duration // silence after which a delivery is presumed lost; at-least-once
}

// Defaults of [AtLeastOnce].
const (
	DefaultMaxDeliveries = 5
	DefaultBackoff       = time.Second
	DefaultMaxBackoff    = time.Minute
	DefaultAckWait       = 30 * time.Second
)

// AtMostOnce is the guarantee of core NATS, fan-out: every replica
// connected when the event is published gets it once, the emitting
// replica through its synchronous local emit only. An event published
// while a replica is disconnected is lost for it; one emitted while the
// emitting replica is disconnected is dropped and counted in
// [Stats].Dropped.
func AtMostOnce() Guarantee { return Guarantee{Mode: ModeAtMostOnce} }

// AtLeastOnce is the guarantee of JetStream. The event is stored in a
// stream; by default every replica gets it (fan-out), the emitting
// replica through its synchronous local emit only, and with [Shared] one
// replica of a group handles it. A delivery is acknowledged only when the
// replica's listeners returned nil. A failure is redelivered after a
// doubling backoff, up to [MaxDeliveries] deliveries, and then goes to the
// dead-letter stream with its error; an event that cannot be decoded goes
// there at once. A replica that dies while handling an event gets it
// redelivered elsewhere (shared) or after its restart under the same
// [Replica] name (fan-out), once [AckWait] has passed.
func AtLeastOnce(opts ...DeliveryOption) Guarantee {
	g := Guarantee{
		Mode:          ModeAtLeastOnce,
		MaxDeliveries: DefaultMaxDeliveries,
		Backoff:       DefaultBackoff,
		MaxBackoff:    DefaultMaxBackoff,
		AckWait:       DefaultAckWait,
	}
	for _, o := range opts {
		if o != nil {
			o.applyDelivery(&g)
		}
	}
	return g
}

// String describes the guarantee as it would be written in Go.
func (g Guarantee) String() string {
	if g.Mode == ModeAtMostOnce {
		return "cluster.AtMostOnce()"
	}
	s := fmt.Sprintf("cluster.AtLeastOnce(cluster.MaxDeliveries(%d), cluster.Backoff(%v, %v), cluster.AckWait(%v)",
		g.MaxDeliveries, g.Backoff, g.MaxBackoff, g.AckWait)
	if g.Group != "" {
		s += fmt.Sprintf(", cluster.Shared(%q)", g.Group)
	}
	return s + ")"
}

// validate checks the guarantee's figures.
func (g Guarantee) validate() error {
	switch g.Mode {
	case ModeAtMostOnce:
		if g.Group != "" {
			return fmt.Errorf("a shared group needs AtLeastOnce")
		}
		return nil
	case ModeAtLeastOnce:
	default:
		return fmt.Errorf("no guarantee: use cluster.AtMostOnce() or cluster.AtLeastOnce()")
	}
	switch {
	case g.MaxDeliveries < 1:
		return fmt.Errorf("MaxDeliveries must be at least 1, got %d", g.MaxDeliveries)
	case g.Backoff <= 0 || g.MaxBackoff < g.Backoff:
		return fmt.Errorf("Backoff must be positive and at most its maximum, got %v and %v", g.Backoff, g.MaxBackoff)
	case g.AckWait < time.Second:
		return fmt.Errorf("AckWait must be at least 1s, got %v", g.AckWait)
	case g.Group != "" && !validName(g.Group):
		return fmt.Errorf("group %q: use letters, digits, '-' and '_'", g.Group)
	}
	return nil
}

// A DeliveryOption configures [AtLeastOnce].
type DeliveryOption interface {
	applyDelivery(*Guarantee)
	// String returns the option as it would be written in Go, such as
	// cluster.Shared("billing").
	String() string
}

type deliveryOption struct {
	apply func(*Guarantee)
	text  string
}

func (o deliveryOption) applyDelivery(g *Guarantee) { o.apply(g) }
func (o deliveryOption) String() string             { return o.text }

// Shared makes one replica of group handle each event, instead of every
// replica. The emitting replica handles the event itself, synchronously
// as every local emit, when it has listeners of the topic; only an event
// emitted where nobody listens to it is published, for one member of the
// group to handle. Members are the replicas that declare the topic with
// the same group.
func Shared(group string) DeliveryOption {
	return deliveryOption{func(g *Guarantee) { g.Group = group }, fmt.Sprintf("cluster.Shared(%q)", group)}
}

// RetryOption is an option of redeliveries, for [AtLeastOnce] and for
// [NewQueue] alike: [MaxDeliveries], [Backoff], [AckWait].
type RetryOption struct {
	apply func(*Guarantee)
	text  string
}

func (o RetryOption) applyDelivery(g *Guarantee) { o.apply(g) }
func (o RetryOption) applyQueue(c *queueConfig)  { o.apply(&c.retry) }

// String returns the option as it would be written in Go.
func (o RetryOption) String() string { return o.text }

// MaxDeliveries sets how many times an event is delivered, to a replica
// (fan-out) or to its group (shared), or a queue item to the workers,
// before a failure sends it to the dead letters. Every delivery of the
// engine counts, also one handed back unhandled: pulled ahead when its
// consumer stopped, or cut by a stop's deadline. The default is
// [DefaultMaxDeliveries].
func MaxDeliveries(n int) RetryOption {
	return RetryOption{func(g *Guarantee) { g.MaxDeliveries = n }, fmt.Sprintf("cluster.MaxDeliveries(%d)", n)}
}

// Backoff sets the wait before the first redelivery of a failed event or
// item; each further failure doubles it, up to maxWait. The defaults are
// [DefaultBackoff] and [DefaultMaxBackoff].
func Backoff(first, maxWait time.Duration) RetryOption {
	return RetryOption{func(g *Guarantee) { g.Backoff, g.MaxBackoff = first, maxWait }, fmt.Sprintf("cluster.Backoff(%v, %v)", first, maxWait)}
}

// AckWait sets how long the engine waits without news of a delivery
// before it presumes the replica dead and delivers the event or item
// again. A replica handling one tells the engine it is alive every third
// of AckWait, so a listener or handler may run longer than AckWait. The
// default is [DefaultAckWait]; the minimum is one second.
func AckWait(d time.Duration) RetryOption {
	return RetryOption{func(g *Guarantee) { g.AckWait = d }, fmt.Sprintf("cluster.AckWait(%v)", d)}
}

// retryDelay returns the wait before redelivering an event that failed
// on its attempt-th delivery: Backoff doubled attempt-1 times, capped at
// MaxBackoff.
func (g Guarantee) retryDelay(attempt int) time.Duration {
	return backoff(attempt, g.Backoff, g.MaxBackoff)
}

// backoff returns first doubled n-1 times, capped at maxWait.
func backoff(n int, first, maxWait time.Duration) time.Duration {
	d := first
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}

// declaration is one distributed topic or pattern: what the bridge
// publishes and what it delivers.
type declaration struct {
	name      string // topic or pattern
	subject   string // its subject tokens
	guarantee Guarantee
	typ       reflect.Type
	check     func(payload any) bool                  // the payload may be sent
	decode    func(c Codec, data []byte) (any, error) // a received payload, typed
	err       error                                   // why the option that made it is invalid
}

// Distribute declares the topic or pattern name distributed with guarantee
// g, its payloads of type T: emits of matching topics are published to
// the other replicas, and their events are emitted on this replica's bus,
// decoded into a T. Use any as T for payloads of several types; they
// arrive in the codec's generic form (see [JSON]).
//
// Declarations of one node must not overlap: two names that a topic can
// match both ("order:*" and "order:completed") are refused by [New].
func Distribute[T any](name string, g Guarantee) Option {
	return distributeOption{d: &declaration{
		name:      name,
		guarantee: g,
		typ:       reflect.TypeFor[T](),
		check:     func(p any) bool { _, ok := p.(T); return ok || p == nil && nilable[T]() },
		decode:    decode[T],
	}}
}

// DistributeTopic is [Distribute] for a typed topic of the event bus: its
// payloads travel as T. [New] refuses a nil topic.
func DistributeTopic[T any](topic *eventbus.Topic[T], g Guarantee) Option {
	if topic == nil {
		o := Distribute[T]("", g).(distributeOption)
		o.d.err = errors.New("cluster.DistributeTopic: nil topic")
		return o
	}
	return Distribute[T](topic.Name(), g)
}

func nilable[T any]() bool {
	switch reflect.TypeFor[T]().Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return true
	}
	return false
}

type distributeOption struct{ d *declaration }

// applyNode adds a copy of the declaration: New completes it, and one
// option may configure several nodes.
func (o distributeOption) applyNode(c *config) {
	d := *o.d
	c.decls = append(c.decls, &d)
}
func (o distributeOption) String() string {
	return fmt.Sprintf("cluster.Distribute[%s](%q, %s)", o.d.typ, o.d.name, o.d.guarantee)
}
