package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsTransport is the NATS engine of distributed topics: core NATS for
// at-most-once topics, the events stream and its durable pull consumers
// for at-least-once ones.
type natsTransport struct {
	c     *conn
	names names
	cfg   *config

	subjects sync.Map // topic → subject tokens
	topics   sync.Map // subject tokens → topic
	once     sync.Map // topic → the at-most-once subject of this replica's events
}

func newNATSTransport(c *conn, cfg *config) *natsTransport {
	return &natsTransport{c: c, names: names{cfg.prefix}, cfg: cfg}
}

// ensureStreams creates or updates the events and dead-letter streams.
func (t *natsTransport) ensureStreams(ctx context.Context) error {
	cfg := jetstream.StreamConfig{
		Name:        t.names.eventsStream(),
		Description: "sprag: at-least-once events",
		Subjects:    []string{t.names.prefix + ".al.>"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      t.cfg.eventsMaxAge,
		Duplicates:  t.cfg.dedupWindow,
		Storage:     jetstream.FileStorage,
		Replicas:    t.cfg.replicas,
	}
	if err := ensure(ctx, "create stream "+cfg.Name, func(ctx context.Context) error {
		_, err := t.c.js.CreateOrUpdateStream(ctx, cfg)
		return err
	}); err != nil {
		return err
	}
	return ensureDeadStream(ctx, t.c, t.names, t.cfg)
}

// ensureDeadStream creates or updates the dead-letter stream.
func ensureDeadStream(ctx context.Context, c *conn, n names, cfg *config) error {
	scfg := jetstream.StreamConfig{
		Name:        n.deadStream(),
		Description: "sprag: dead letters of events and queue items",
		Subjects:    []string{n.prefix + ".dead.>"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      cfg.deadMaxAge,
		Duplicates:  cfg.dedupWindow,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.replicas,
	}
	return ensure(ctx, "create stream "+scfg.Name, func(ctx context.Context) error {
		_, err := c.js.CreateOrUpdateStream(ctx, scfg)
		return err
	})
}

func (t *natsTransport) Connected() bool { return t.c.connected() }

// subjectOf returns the subject tokens of a topic, cached.
func (t *natsTransport) subjectOf(topic string) (string, error) {
	if s, ok := t.subjects.Load(topic); ok {
		return s.(string), nil
	}
	s, err := SubjectOf(topic)
	if err != nil {
		return "", err
	}
	t.subjects.Store(topic, s)
	return s, nil
}

// topicOf returns the topic of subject tokens, cached.
func (t *natsTransport) topicOf(tokens string) (string, error) {
	if s, ok := t.topics.Load(tokens); ok {
		return s.(string), nil
	}
	s, err := TopicOf(tokens)
	if err != nil {
		return "", err
	}
	t.topics.Store(tokens, s)
	return s, nil
}

func (t *natsTransport) Publish(ctx context.Context, m *Message, g Guarantee) error {
	tokens, err := t.subjectOf(m.Topic)
	if err != nil {
		return err
	}
	if !t.c.connected() {
		return fmt.Errorf("publish %q: %w", m.Topic, ErrDisconnected)
	}
	if g.Mode == ModeAtMostOnce {
		return classify(m.Topic, t.c.nc.Publish(t.onceSubject(m, tokens), m.Data))
	}
	msg := &nats.Msg{
		Subject: t.names.durable(tokens),
		Data:    m.Data,
		Header: nats.Header{
			HeaderOrigin:          {m.Origin},
			HeaderCodec:           {m.Codec},
			jetstream.MsgIDHeader: {m.ID},
		},
	}
	_, err = t.c.js.PublishMsg(ctx, msg)
	return classify(m.Topic, err)
}

// onceSubject returns the subject of an at-most-once event, cached for
// the events of this replica.
func (t *natsTransport) onceSubject(m *Message, tokens string) string {
	if m.Origin != t.cfg.replica || m.Codec != t.cfg.codec.Name() {
		return t.names.once(m.Codec, m.Origin, tokens)
	}
	if s, ok := t.once.Load(m.Topic); ok {
		return s.(string)
	}
	s := t.names.once(m.Codec, m.Origin, tokens)
	t.once.Store(m.Topic, s)
	return s
}

// classify wraps with ErrDisconnected the errors that say the engine
// could not be reached now.
func classify(topic string, err error) error {
	switch {
	case err == nil:
		return nil
	case transient(err):
		return fmt.Errorf("publish %q: %w: %w", topic, ErrDisconnected, err)
	default:
		return fmt.Errorf("publish %q: %w", topic, err)
	}
}

// transient reports whether err says the server could not be reached or
// did not answer in time: the same request may succeed later.
func transient(err error) bool {
	for _, e := range []error{
		nats.ErrTimeout, context.DeadlineExceeded, nats.ErrNoResponders, jetstream.ErrNoStreamResponse,
		nats.ErrConnectionReconnecting, nats.ErrDisconnected, nats.ErrConnectionClosed, nats.ErrConnectionDraining,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (t *natsTransport) Subscribe(ctx context.Context, r Route) (Inbox, error) {
	tokens, err := SubjectOf(r.Pattern)
	if err != nil {
		return nil, err
	}
	if r.Guarantee.Mode == ModeAtMostOnce {
		subject := t.names.onceFilter(tokens)
		sub, err := t.c.nc.SubscribeSync(subject)
		if err != nil {
			return nil, fmt.Errorf("subscribe %s: %w", subject, err)
		}
		// Once the server answered, it knows the subscription: events
		// published through it from then on arrive.
		fctx, cancel := context.WithTimeout(ctx, connectTimeout)
		err = t.c.nc.FlushWithContext(fctx)
		cancel()
		if err != nil && !transient(err) {
			_ = sub.Unsubscribe()
			return nil, fmt.Errorf("subscribe %s: %w", subject, err)
		}
		return &coreInbox{t: t, sub: sub}, nil
	}
	in := &jsInbox{stream: t.names.eventsStream(), cfg: jetstream.ConsumerConfig{
		Durable:           consumerName(r, tokens),
		Description:       "sprag: " + r.Pattern,
		FilterSubject:     t.names.durable(tokens),
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           r.Guarantee.AckWait,
		MaxDeliver:        -1, // the bridge dead-letters; the server must never give up silently
		InactiveThreshold: t.cfg.eventsMaxAge,
	}}
	in.c, in.batch, in.wrap = t.c, 8, t.jsDelivery
	if err := in.ensure(ctx); err != nil {
		return nil, err
	}
	return in, nil
}

// consumerName names the durable consumer of a route: the replica's for
// fan-out, the group's for a shared route, and a hash of the subject.
func consumerName(r Route, tokens string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(tokens))
	owner := r.Replica
	if r.Guarantee.Group != "" {
		owner = "group_" + r.Guarantee.Group
	}
	return fmt.Sprintf("%s_%08x", owner, h.Sum32())
}

// message builds the Message of a received at-least-once event.
func (t *natsTransport) message(subject string, data []byte, h nats.Header) (*Message, error) {
	tokens := ""
	if n := t.names.durablePrefixLen(); len(subject) > n {
		tokens = subject[n:]
	}
	topic, err := t.topicOf(tokens)
	if err != nil {
		return nil, err
	}
	return &Message{Topic: topic, Data: data, Codec: h.Get(HeaderCodec), Origin: h.Get(HeaderOrigin), ID: h.Get(jetstream.MsgIDHeader)}, nil
}

// coreInbox is the inbox of an at-most-once route: a core subscription.
type coreInbox struct {
	t   *natsTransport
	sub *nats.Subscription
}

func (in *coreInbox) Next(ctx context.Context) (Delivery, error) {
	for {
		msg, err := in.sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, err
		}
		codec, origin, tokens, ok := in.t.names.parseOnce(msg.Subject)
		if !ok {
			continue // not an event of ours: nothing to settle at most once
		}
		topic, err := in.t.topicOf(tokens)
		if err != nil {
			continue
		}
		return coreDelivery{&Message{Topic: topic, Data: msg.Data, Codec: codec, Origin: origin}}, nil
	}
}

func (in *coreInbox) Close(context.Context) error {
	if err := in.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
		return err
	}
	return nil
}

// coreDelivery is an at-most-once delivery: there is nothing to settle.
type coreDelivery struct{ m *Message }

func (d coreDelivery) Message() *Message                          { return d.m }
func (d coreDelivery) Attempt() int                               { return 0 }
func (d coreDelivery) Ack(context.Context) error                  { return nil }
func (d coreDelivery) Retry(context.Context, time.Duration) error { return nil }
func (d coreDelivery) Reject(context.Context, error) error        { return nil }
func (d coreDelivery) InProgress(context.Context) error           { return nil }

// jsDelivery builds the delivery of an at-least-once event.
func (t *natsTransport) jsDelivery(msg jetstream.Msg, attempt int) (any, error) {
	m, err := t.message(msg.Subject(), msg.Data(), msg.Headers())
	if err != nil {
		// The subject is no topic's: nothing can handle it. Dead-lettered
		// or not, it is settled here: an error tells next to go on.
		if dlErr := t.deadLetter(context.Background(), msg, "ev", "invalid", attempt, fmt.Errorf("%w: %w", ErrDecode, err)); dlErr != nil {
			return nil, dlErr
		}
		return nil, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	return &jsDelivery{t: t, msg: msg, m: m, attempt: attempt}, nil
}

type jsDelivery struct {
	t       *natsTransport
	msg     jetstream.Msg
	m       *Message
	attempt int
}

func (d *jsDelivery) Message() *Message { return d.m }
func (d *jsDelivery) Attempt() int      { return d.attempt }

func (d *jsDelivery) Ack(ctx context.Context) error { return d.msg.DoubleAck(ctx) }

func (d *jsDelivery) Retry(_ context.Context, delay time.Duration) error {
	return d.msg.NakWithDelay(delay)
}

func (d *jsDelivery) Reject(ctx context.Context, reason error) error {
	tokens, err := d.t.subjectOf(d.m.Topic)
	if err != nil {
		tokens = "invalid"
	}
	return d.t.deadLetter(ctx, d.msg, "ev", tokens, d.attempt, reason)
}

func (d *jsDelivery) InProgress(context.Context) error { return d.msg.InProgress() }

func (t *natsTransport) deadLetter(ctx context.Context, msg jetstream.Msg, kind, tokens string, attempt int, reason error) error {
	return deadLetter(ctx, t.c, t.names, msg, kind, tokens, attempt, reason)
}
