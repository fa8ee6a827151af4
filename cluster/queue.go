package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
)

// Defaults of [NewQueue]'s options.
const (
	DefaultCapacity = 10000
	DefaultPrefetch = 8
)

// A QueueOption configures [NewQueue]: [Capacity], [Prefetch], and the
// [RetryOption]s [MaxDeliveries], [Backoff] and [AckWait].
type QueueOption interface {
	applyQueue(*queueConfig)
	// String returns the option as it would be written in Go, such as
	// cluster.Capacity(100).
	String() string
}

type queueConfig struct {
	capacity int
	prefetch int
	retry    Guarantee // the redelivery figures; Mode unused
}

type queueOption struct {
	apply func(*queueConfig)
	text  string
}

func (o queueOption) applyQueue(c *queueConfig) { o.apply(c) }
func (o queueOption) String() string            { return o.text }

// Capacity sets how many items the queue's stream holds at most: past it,
// [Queue.Push] waits for room and [Queue.TryPush] fails with
// [queue.ErrFull]. The default is [DefaultCapacity].
func Capacity(n int) QueueOption {
	return queueOption{func(c *queueConfig) { c.capacity = n }, fmt.Sprintf("cluster.Capacity(%d)", n)}
}

// Prefetch sets how many items a replica pulls ahead of its workers. More
// is faster; fewer leaves more for the other replicas, and fewer to wait
// for AckWait when the replica dies. The default is [DefaultPrefetch].
func Prefetch(n int) QueueOption {
	return queueOption{func(c *queueConfig) { c.prefetch = n }, fmt.Sprintf("cluster.Prefetch(%d)", n)}
}

// Queue is a queue of items of type T kept in a JetStream work-queue
// stream that every replica shares: an item pushed on any replica is
// handed to one worker of some replica, and removed once acknowledged.
// Build it with [NewQueue] and consume it with the queue primitive, whose
// backend it is (queue.New(svc, handler, queue.BackedBy[T](q)); see
// queue.Backend), or with Pull. Its methods are safe for concurrent use.
//
// An item is acknowledged only by done(nil). A failure is redelivered
// after a doubling backoff up to [MaxDeliveries] deliveries, then goes to
// the dead-letter stream with its error; an item that cannot be decoded
// goes there at once. An item whose replica dies while handling it is
// delivered again once [AckWait] has passed; a replica alive tells the
// engine so every third of AckWait. Items pulled ahead and items still in
// progress when their consumer stops are handed back at once (a nak), so
// no accepted item is lost or left waiting; it is only ever handled
// again, never dropped. Duplicates of a push that was retried after a
// lost acknowledgement are dropped within the node's [DedupWindow].
type Queue[T any] struct {
	node  *Node
	c     *conn
	name  string
	cfg   queueConfig
	codec Codec
	in    *jsInbox
	log   *zap.Logger

	pushed, rejected, pulled, acked, retried, dead, abandoned, inFlight atomic.Int64
}

// QueueStats are a queue's figures on this replica.
type QueueStats struct {
	Pushed    int64 `json:"pushed"`    // items stored by Push and TryPush
	Rejected  int64 `json:"rejected"`  // pushes refused: the queue was full
	Pulled    int64 `json:"pulled"`    // items handed to a worker
	InFlight  int64 `json:"in_flight"` // pulled, not yet done
	Acked     int64 `json:"acked"`     // done without error
	Retried   int64 `json:"retried"`   // failed, to be delivered again
	Dead      int64 `json:"dead"`      // moved to the dead letters
	Abandoned int64 `json:"abandoned"` // handed back at a stop, to be delivered again
}

// NewQueue creates, or joins, the queue name of the node's cluster: its
// stream and its consumer are created if they do not exist, and updated
// to opts if they do. Every replica that creates a queue of the same name
// shares it. name is made of letters, digits, '-' and '_'.
//
// The node must be running. NewQueue fails with an error wrapping
// sprag.ErrInvalidArgument for a bad name or option, sprag.ErrNotRunning
// before the node runs, and the engine's error otherwise.
func NewQueue[T any](ctx context.Context, node *Node, name string, opts ...QueueOption) (*Queue[T], error) {
	c := queueConfig{capacity: DefaultCapacity, prefetch: DefaultPrefetch, retry: AtLeastOnce()}
	for _, o := range opts {
		if o != nil {
			o.applyQueue(&c)
		}
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("cluster.NewQueue(%q): %w: %s", name, sprag.ErrInvalidArgument, fmt.Sprintf(format, args...))
	}
	switch {
	case node == nil:
		return nil, bad("nil node")
	case !validName(name):
		return nil, bad("the name must be made of letters, digits, '-' and '_'")
	case c.capacity < 1:
		return nil, bad("Capacity must be positive, got %d", c.capacity)
	case c.prefetch < 1:
		return nil, bad("Prefetch must be positive, got %d", c.prefetch)
	}
	if err := c.retry.validate(); err != nil {
		return nil, bad("%v", err)
	}
	conn, err := node.running("queue " + name)
	if err != nil {
		return nil, err
	}
	n := node.cfg.names()
	if err := ensureDeadStream(ctx, conn, n, &node.cfg); err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	scfg := jetstream.StreamConfig{
		Name:        n.queueStream(name),
		Description: "sprag: queue " + name,
		Subjects:    []string{n.queueSubject(name)},
		Retention:   jetstream.WorkQueuePolicy,
		MaxMsgs:     int64(c.capacity),
		Discard:     jetstream.DiscardNew,
		Duplicates:  node.cfg.dedupWindow,
		Storage:     jetstream.FileStorage,
		Replicas:    node.cfg.replicas,
	}
	if err := ensure(ctx, "create stream "+scfg.Name, func(ctx context.Context) error {
		_, err := conn.js.CreateOrUpdateStream(ctx, scfg)
		return err
	}); err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	q := &Queue[T]{node: node, c: conn, name: name, cfg: c, codec: node.cfg.codec,
		log: node.Logger().With(zap.String("queue", name))}
	q.in = &jsInbox{c: conn, stream: n.queueStream(name), batch: c.prefetch, cfg: jetstream.ConsumerConfig{
		Durable:       "workers",
		Description:   "sprag: the workers of queue " + name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.retry.AckWait,
		MaxDeliver:    -1, // the queue dead-letters; the server must never give up silently
		MaxAckPending: -1,
	}}
	q.in.wrap = q.wrap
	if err := q.in.ensure(ctx); err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	if err := node.AddCleanup(q.close); err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	return q, nil
}

// Name returns the queue's name.
func (q *Queue[T]) Name() string { return q.name }

// Push stores item in the queue, waiting until ctx ends for room in a
// full queue and for the engine while it cannot be reached. It returns
// once the engine has stored the item. When ctx ends first it returns an
// error wrapping ctx's error and [queue.ErrFull] or [ErrDisconnected].
// Once the node has stopped, it fails at once with an error wrapping
// sprag.ErrNotRunning.
func (q *Queue[T]) Push(ctx context.Context, item T) error {
	msg, err := q.message(item)
	if err != nil {
		return err
	}
	var last error // the last answer of the engine: full, or not reached
	for attempt := 1; ; attempt++ {
		err := q.publish(ctx, msg)
		if err == nil {
			return nil
		}
		retry := errors.Is(err, queue.ErrFull) || errors.Is(err, ErrDisconnected)
		if ctx.Err() != nil && (retry || errors.Is(err, ctx.Err())) {
			// ctx ended during this attempt. A full queue is the engine's
			// answer; any other failure may be ctx's own, and the
			// engine's last answer stands.
			switch {
			case errors.Is(err, queue.ErrFull):
			case last != nil:
				err = last
			case !retry:
				err = fmt.Errorf("queue %q: push: %w: %w", q.name, ErrDisconnected, err)
			}
			return q.pushEnded(ctx, err)
		}
		if !retry {
			return err
		}
		last = err
		sleep(ctx, backoff(attempt, 20*time.Millisecond, time.Second))
		if ctx.Err() != nil {
			return q.pushEnded(ctx, last)
		}
	}
}

// pushEnded is Push's error when ctx ended while the engine's last answer
// was err, a full queue or an engine not reached.
func (q *Queue[T]) pushEnded(ctx context.Context, err error) error {
	if errors.Is(err, queue.ErrFull) {
		q.rejected.Add(1)
	}
	return fmt.Errorf("%w: %w", err, context.Cause(ctx))
}

// TryPush stores item if the queue has room and the engine answers within
// the node's [PublishTimeout]; it does not wait for room. It fails with
// an error wrapping [queue.ErrFull] when the queue is full,
// [ErrDisconnected] when the engine cannot be reached, and
// sprag.ErrNotRunning once the node has stopped.
func (q *Queue[T]) TryPush(item T) error {
	msg, err := q.message(item)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), q.node.cfg.publishTimeout)
	defer cancel()
	err = q.publish(ctx, msg)
	if errors.Is(err, queue.ErrFull) {
		q.rejected.Add(1)
	}
	return err
}

// message encodes item with a message id, kept across retries.
func (q *Queue[T]) message(item T) (*nats.Msg, error) {
	data, err := q.codec.Marshal(item)
	if err != nil {
		return nil, fmt.Errorf("queue %q: encode: %w", q.name, err)
	}
	return &nats.Msg{
		Subject: q.node.cfg.names().queueSubject(q.name),
		Data:    data,
		Header: nats.Header{
			HeaderOrigin:          {q.node.cfg.replica},
			HeaderCodec:           {q.codec.Name()},
			jetstream.MsgIDHeader: {nuid.Next()},
		},
	}, nil
}

// publish sends msg once.
func (q *Queue[T]) publish(ctx context.Context, msg *nats.Msg) error {
	if _, err := q.node.running(fmt.Sprintf("queue %q: push", q.name)); err != nil {
		return err // the node stopped: its connection will not come back
	}
	if !q.c.connected() {
		return fmt.Errorf("queue %q: push: %w", q.name, ErrDisconnected)
	}
	_, err := q.c.js.PublishMsg(ctx, msg)
	switch {
	case err == nil:
		q.pushed.Add(1)
		return nil
	case full(err):
		return fmt.Errorf("queue %q: push: %w (capacity %d)", q.name, queue.ErrFull, q.cfg.capacity)
	case transient(err):
		return fmt.Errorf("queue %q: push: %w: %w", q.name, ErrDisconnected, err)
	}
	return fmt.Errorf("queue %q: push: %w", q.name, err)
}

// full reports whether err says the stream holds its maximum.
func full(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10077 && strings.Contains(apiErr.Description, "maximum")
}

// pulled is an item handed to a worker.
type pulled struct {
	msg     jetstream.Msg
	attempt int
	data    any
	once    sync.Once
	alive   *alive
}

func (p *pulled) inProgress(context.Context) error { return p.msg.InProgress() }

// wrap decodes a pulled message; an item that cannot be decoded goes to
// the dead letters at once and is not handed out.
func (q *Queue[T]) wrap(msg jetstream.Msg, attempt int) (any, error) {
	p := &pulled{msg: msg, attempt: attempt}
	if codec := msg.Headers().Get(HeaderCodec); codec != q.codec.Name() {
		return nil, q.deadLetter(p, fmt.Errorf("%w: codec %q, this replica uses %q", ErrDecode, codec, q.codec.Name()))
	}
	v, err := decode[T](q.codec, msg.Data())
	if err != nil {
		return nil, q.deadLetter(p, err)
	}
	p.data = v
	return p, nil
}

// deadLetter moves an item to the dead letters, or, when that fails,
// hands it back for a later try.
func (q *Queue[T]) deadLetter(p *pulled, reason error) error {
	ctx, cancel := context.WithTimeout(context.Background(), q.node.cfg.publishTimeout)
	defer cancel()
	if err := deadLetter(ctx, q.c, q.node.cfg.names(), p.msg, "q", q.name, p.attempt, reason); err != nil {
		q.log.Error("dead-letter a queue item", zap.Error(err))
		_ = p.msg.NakWithDelay(q.cfg.retry.MaxBackoff)
		return err
	}
	q.dead.Add(1)
	q.log.Warn("queue item dead-lettered", zap.Int("attempt", p.attempt), zap.NamedError("reason", reason))
	return reason
}

// Pull waits until ctx ends for the next item and returns it with its
// done function, which the caller must call once with the result of
// handling it: done(nil) acknowledges the item; done(err) has it
// delivered again after a backoff, or moved to the dead letters once it
// was delivered [MaxDeliveries] times; an err wrapping
// queue.ErrHandedBack hands it back at once, without a backoff and
// without counting a failure (the delivery itself still counts towards
// MaxDeliveries). Until done, the replica tells the engine every third
// of AckWait that the item is in progress. A second call of done does
// nothing. Once the node has stopped, Pull fails with an error wrapping
// sprag.ErrNotRunning.
func (q *Queue[T]) Pull(ctx context.Context) (item T, done func(err error), err error) {
	p, err := q.pull(ctx)
	if err != nil {
		return item, nil, err
	}
	return p.data.(T), func(err error) {
		if errors.Is(err, queue.ErrHandedBack) {
			q.abandon(p)
			return
		}
		q.settle(p, err)
	}, nil
}

func (q *Queue[T]) pull(ctx context.Context) (*pulled, error) {
	d, err := q.in.next(ctx)
	if err != nil {
		if errors.Is(err, errInboxClosed) {
			return nil, fmt.Errorf("queue %q: %w: the node stopped", q.name, sprag.ErrNotRunning)
		}
		return nil, fmt.Errorf("queue %q: pull: %w", q.name, err)
	}
	p := d.(*pulled)
	q.pulled.Add(1)
	q.inFlight.Add(1)
	// The signals go on after ctx ends: the item is in progress until done.
	p.alive = keepAlive(context.WithoutCancel(ctx), p.inProgress, q.cfg.retry.AckWait/3)
	return p, nil
}

// settle acknowledges, retries or dead-letters p, once.
func (q *Queue[T]) settle(p *pulled, result error) {
	p.once.Do(func() {
		p.alive.stop()
		q.inFlight.Add(-1)
		ctx, cancel := context.WithTimeout(context.Background(), q.node.cfg.publishTimeout)
		defer cancel()
		switch {
		case result == nil:
			if err := p.msg.DoubleAck(ctx); err != nil {
				q.log.Warn("acknowledge a queue item; it will be delivered again", zap.Error(err))
				return
			}
			q.acked.Add(1)
		case p.attempt >= q.cfg.retry.MaxDeliveries:
			_ = q.deadLetter(p, result)
		default:
			q.retried.Add(1)
			if err := p.msg.NakWithDelay(q.cfg.retry.retryDelay(p.attempt)); err != nil {
				q.log.Warn("hand a failed queue item back; it will be delivered again", zap.Error(err))
			}
		}
	})
}

// abandon hands p back for redelivery at once, without counting a
// failure: its consumer stops.
func (q *Queue[T]) abandon(p *pulled) {
	p.once.Do(func() {
		p.alive.stop()
		q.inFlight.Add(-1)
		q.abandoned.Add(1)
		if err := p.msg.Nak(); err != nil {
			q.log.Warn("hand an abandoned queue item back; it will be delivered again after AckWait", zap.Error(err))
		}
	})
}

// Drain hands the items this replica pulled ahead back to the engine, for
// other replicas, and returns none: a shared queue keeps its items in the
// engine. The queue primitive calls it once its workers have returned
// (see queue.Backend); ctx, the stop's, bounds the requests, or five
// seconds when it has no deadline or has ended.
func (q *Queue[T]) Drain(ctx context.Context) []T {
	if _, ok := ctx.Deadline(); !ok || ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	if err := q.in.release(ctx); err != nil {
		q.log.Warn("hand back the items pulled ahead; they will be delivered again after AckWait", zap.Error(err))
	}
	return nil
}

// Stats returns the queue's figures on this replica.
func (q *Queue[T]) Stats() QueueStats {
	return QueueStats{
		Pushed: q.pushed.Load(), Rejected: q.rejected.Load(), Pulled: q.pulled.Load(), InFlight: q.inFlight.Load(),
		Acked: q.acked.Load(), Retried: q.retried.Load(), Dead: q.dead.Load(), Abandoned: q.abandoned.Load(),
	}
}

// Backlog asks the engine how many items wait in the queue, not yet
// delivered to any replica. It counts every Push that returned before
// it was called. An item a replica has pulled ahead, or one handed back
// to be retried, is not counted.
func (q *Queue[T]) Backlog(ctx context.Context) (uint64, error) {
	n, err := q.in.undelivered(ctx)
	if err != nil {
		return 0, fmt.Errorf("queue %q: %w", q.name, err)
	}
	return n, nil
}

// close is the queue's cleanup on the node: items pulled ahead go back.
func (q *Queue[T]) close(ctx context.Context) error {
	return q.in.Close(ctx)
}
