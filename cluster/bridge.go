package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// bridge joins the local bus to a transport. For each declaration it
// listens to the bus and publishes local emits, and it runs a task that
// emits the events of other replicas on the bus.
type bridge struct {
	bus       *eventbus.Bus
	transport Transport
	codec     Codec
	replica   string
	timeout   time.Duration
	log       *zap.Logger
	decls     []*declaration
	out       *outbox
	stats     counters

	// handleCtx is the context listeners of remote events get: it is not
	// cancelled when the node begins to stop, only when its stop's
	// deadline has passed (a cleanup cancels it).
	handleCtx    context.Context
	cancelHandle context.CancelFunc

	// deliverCtx ends the delivery tasks: at stop, or when StopDelivering
	// is called first.
	deliverCtx   context.Context
	stopDelivery context.CancelFunc
	stopping     atomic.Bool  // emits are no longer published
	emitMu       sync.RWMutex // read-held by an emit from its stopping check to the end of its publish
	mu           sync.Mutex
	subs         []*eventbus.Subscription // guarded by mu
	tasks        []*sprag.Task            // the delivery tasks; guarded by mu
}

func newBridge(n *Node, t Transport) *bridge {
	return &bridge{
		bus:       n.Runtime().Bus,
		transport: t,
		codec:     n.cfg.codec,
		replica:   n.cfg.replica,
		timeout:   n.cfg.publishTimeout,
		log:       n.Logger(),
		decls:     n.cfg.decls,
		out:       newOutbox(n.cfg.publishBuffer),
	}
}

// start subscribes the routes, then the bus, and starts the tasks. svcCtx
// is the node's context.
func (b *bridge) start(ctx, svcCtx context.Context, svc managed) error {
	b.handleCtx, b.cancelHandle = context.WithCancel(context.WithoutCancel(svcCtx))
	b.deliverCtx, b.stopDelivery = context.WithCancel(svcCtx)
	if err := svc.AddCleanup(b.close); err != nil {
		b.cancelHandle()
		b.stopDelivery()
		return err
	}
	for _, d := range b.decls {
		in, err := b.transport.Subscribe(ctx, Route{Pattern: d.name, Guarantee: d.guarantee, Replica: b.replica})
		if err != nil {
			return fmt.Errorf("subscribe %q: %w", d.name, err)
		}
		task, err := spawn(svc, "cluster deliver "+d.name, func(ctx context.Context) error {
			// The task's context ends at stop; StopDelivering ends it first.
			dctx, cancel := context.WithCancel(ctx)
			defer cancel()
			stop := context.AfterFunc(b.deliverCtx, cancel) //nolint:contextcheck // StopDelivering ends deliveries before the task's context does

			defer stop()
			return b.deliver(dctx, d, in)
		})
		if err != nil {
			return errors.Join(fmt.Errorf("deliver %q: %w", d.name, err), in.Close(ctx))
		}
		sub, err := b.bus.ListenEvents(d.name, b.onEmit(d), eventbus.WithName("cluster bridge "+d.name))
		if err != nil {
			return fmt.Errorf("listen to %q: %w", d.name, err)
		}
		b.mu.Lock()
		b.subs = append(b.subs, sub)
		b.tasks = append(b.tasks, task)
		b.mu.Unlock()
	}
	if _, err := spawn(svc, "cluster publish buffer", b.flushLoop); err != nil {
		return fmt.Errorf("publish buffer: %w", err)
	}
	return nil
}

// onEmit returns the bus listener of d: it publishes local emits.
func (b *bridge) onEmit(d *declaration) func(context.Context, eventbus.Event) error {
	return func(ctx context.Context, e eventbus.Event) error {
		if r := remoteOf(ctx); r != nil && r.topic == e.Topic {
			return nil // the delivery of a remote event
		}
		if !d.check(e.Payload) {
			return fmt.Errorf("cluster: emit %q: %w: got %T, the topic is distributed as %s", e.Topic, eventbus.ErrPayloadType, e.Payload, d.typ)
		}
		g := d.guarantee
		if g.Group != "" && b.bus.ListenerCount(e.Topic) > 1 {
			b.stats.local.Add(1) // the listeners of this replica handle it
			return nil
		}
		// Checked before the lock too, so that emits after the stop began
		// never hold close's wait up.
		stopping := b.stopping.Load()
		if !stopping {
			b.emitMu.RLock() // until the publish ends: close waits for it
			defer b.emitMu.RUnlock()
			stopping = b.stopping.Load()
		}
		if stopping {
			if g.Mode == ModeAtMostOnce {
				b.stats.dropped.Add(1)
				return nil
			}
			return fmt.Errorf("cluster: emit %q: %w: the node is stopping", e.Topic, sprag.ErrNotRunning)
		}
		data, err := b.codec.Marshal(e.Payload)
		if err != nil {
			return fmt.Errorf("cluster: encode %q: %w", e.Topic, err)
		}
		m := &Message{Topic: e.Topic, Data: data, Codec: b.codec.Name(), Origin: b.replica}
		if g.Mode == ModeAtMostOnce {
			return b.publishOnce(ctx, m, g)
		}
		if id := messageIDOf(ctx); id != "" {
			m.ID = e.Topic + "/" + id
		} else {
			m.ID = nuid.Next()
		}
		return b.publishDurable(ctx, m, g)
	}
}

// publishOnce publishes an at-most-once event, or drops it when the
// engine cannot be reached.
func (b *bridge) publishOnce(ctx context.Context, m *Message, g Guarantee) error {
	if err := b.transport.Publish(ctx, m, g); err != nil {
		if errors.Is(err, ErrDisconnected) {
			b.stats.dropped.Add(1)
			return nil
		}
		return fmt.Errorf("cluster: %w", err)
	}
	b.stats.published.Add(1)
	return nil
}

// publishDurable publishes an at-least-once event and waits for the
// engine to store it, or buffers it when the engine cannot be reached.
// Events already waiting go first, so a replica's events keep their order.
func (b *bridge) publishDurable(ctx context.Context, m *Message, g Guarantee) error {
	if b.out.len() == 0 && b.transport.Connected() {
		pctx, cancel := context.WithTimeout(ctx, b.timeout)
		err := b.transport.Publish(pctx, m, g)
		cancel()
		switch {
		case err == nil:
			b.stats.published.Add(1)
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("cluster: %w", err) // the emitter gave up: it learns the event may not be stored
		case !errors.Is(err, ErrDisconnected):
			return fmt.Errorf("cluster: %w", err)
		}
	}
	switch added, closed := b.out.add(outItem{m: m, g: g}); {
	case closed: // the node stopped while the event waited for the engine
		b.stats.lost.Add(1)
		return fmt.Errorf("cluster: emit %q: %w: the node stopped before the engine stored the event", m.Topic, sprag.ErrNotRunning)
	case !added:
		b.stats.rejected.Add(1)
		return fmt.Errorf("cluster: emit %q: %w (%d events waiting for the engine)", m.Topic, ErrBufferFull, b.out.limit)
	}
	return nil
}

// flushLoop is the task that publishes buffered events.
func (b *bridge) flushLoop(ctx context.Context) error {
	for {
		select {
		case <-b.out.wake:
			b.flush(ctx)
		case <-ctx.Done():
			return nil
		}
	}
}

// flush publishes buffered events in order until none is left or ctx
// ends, waiting with a growing backoff while the engine cannot be reached.
func (b *bridge) flush(ctx context.Context) {
	waits := 0
	for ctx.Err() == nil {
		it, ok := b.out.head()
		if !ok {
			return
		}
		err := ErrDisconnected
		if b.transport.Connected() {
			pctx, cancel := context.WithTimeout(ctx, b.timeout)
			err = b.transport.Publish(pctx, it.m, it.g)
			cancel()
		}
		switch {
		case err == nil:
			b.out.pop()
			b.stats.published.Add(1)
			waits = 0
		case ctx.Err() != nil:
			return // the flush was cut, not refused: the event stays for the next one (the stop's)
		case errors.Is(err, ErrDisconnected):
			waits++
			sleep(ctx, backoff(waits, 50*time.Millisecond, 2*time.Second))
		default:
			b.out.pop()
			b.stats.lost.Add(1)
			b.log.Error("buffered event refused by the engine: dropped",
				zap.String("topic", it.m.Topic), zap.String("id", it.m.ID), zap.Error(err))
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// stopDelivering ends the delivery tasks and waits for them, until ctx
// ends: events received but not yet handled go back to the engine.
func (b *bridge) stopDelivering(ctx context.Context) error {
	b.stopDelivery()
	b.mu.Lock()
	tasks := b.tasks
	b.mu.Unlock()
	for _, t := range tasks {
		if err := t.Wait(ctx); err != nil && ctx.Err() != nil {
			return fmt.Errorf("cluster: stop delivering: %w", err)
		}
	}
	return nil
}

// close is the bridge's cleanup: it stops publishing, publishes what the
// buffer holds until ctx ends and counts the rest as lost, and ends the
// context of listeners still running.
func (b *bridge) close(ctx context.Context) error {
	b.stopping.Store(true)
	// Emits past their stopping check end their publish first, before the
	// connection closes after this cleanup: an event the engine stores is
	// not reported lost. TryLock, so that no emit waits behind close.
	for ctx.Err() == nil {
		if b.emitMu.TryLock() {
			b.emitMu.Unlock()
			break
		}
		sleep(ctx, time.Millisecond)
	}
	b.mu.Lock()
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	for _, s := range subs {
		s.Unsubscribe()
	}
	b.stopDelivery()
	defer b.cancelHandle()
	b.flush(ctx)
	if left := b.out.takeAll(); len(left) > 0 {
		b.stats.lost.Add(int64(len(left)))
		err := fmt.Errorf("cluster: %d buffered events not published before the stop deadline (first: %q): lost", len(left), left[0].m.Topic)
		b.log.Error("buffered events lost at stop", zap.Int("count", len(left)), zap.Error(err))
		return err
	}
	return nil
}

// idle is how often a delivery task without listeners looks for them.
const idle = 200 * time.Millisecond

// deliver is the task of declaration d: it hands the events of other
// replicas to the local bus until the node stops delivering. An
// at-least-once declaration receives only while this replica has
// listeners that can match it: a replica without listeners is no member
// of a shared group, and a fan-out replica's events wait in its consumer
// until a listener comes.
func (b *bridge) deliver(ctx context.Context, d *declaration, in Inbox) error {
	defer func() { b.closeInbox(ctx, d, in) }()
	durable := d.guarantee.Mode == ModeAtLeastOnce
	failures := 0
	var checked time.Time // when the listeners were last looked at
	for ctx.Err() == nil {
		if durable && time.Since(checked) >= idle {
			if !b.listening(d) {
				b.closeInbox(ctx, d, in)
				in = nil
				sleep(ctx, idle)
				continue
			}
			checked = time.Now()
		}
		var err error
		if in == nil {
			if in, err = b.transport.Subscribe(ctx, Route{Pattern: d.name, Guarantee: d.guarantee, Replica: b.replica}); err != nil {
				in = nil
			}
		}
		var dl Delivery
		if err == nil {
			nctx, cancel := ctx, context.CancelFunc(func() {})
			if durable {
				nctx, cancel = context.WithTimeout(ctx, wait) // look at the listeners again
			}
			dl, err = in.Next(nctx)
			cancel()
			if durable && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				continue
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
			if failures == 1 || failures%20 == 0 {
				b.log.Warn("receive distributed events", zap.String("topic", d.name), zap.Int("failures", failures), zap.Error(err))
			}
			sleep(ctx, backoff(failures, 100*time.Millisecond, 5*time.Second))
			continue
		}
		failures = 0
		b.handle(d, dl) //nolint:contextcheck // listeners get b.handleCtx: it outlives the deliveries until the stop's deadline
	}
	return nil
}

// closeInbox closes in, if any, handing what it pulled ahead back; it
// does so also when ctx has ended.
func (b *bridge) closeInbox(ctx context.Context, d *declaration, in Inbox) {
	if in == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := in.Close(cctx); err != nil {
		b.log.Warn("close inbox", zap.String("topic", d.name), zap.Error(err))
	}
}

// listening reports whether a listener of this replica, other than the
// bridge, can match a topic of d.
func (b *bridge) listening(d *declaration) bool {
	for _, name := range b.bus.Topics() {
		if name == d.name {
			if b.bus.ListenerCount(name) > 1 {
				return true
			}
			continue
		}
		if s, err := SubjectOf(name); err == nil && server.SubjectsCollide(s, d.subject) {
			return true
		}
	}
	return false
}

// handle emits one remote event on the local bus and settles it.
func (b *bridge) handle(d *declaration, dl Delivery) {
	ctx := b.handleCtx
	m, g := dl.Message(), d.guarantee
	if m.Origin == b.replica && g.Group == "" {
		// Its local listeners ran when it was emitted.
		b.stats.suppressed.Add(1)
		b.settle(d, "ack", dl.Ack(ctx))
		return
	}
	if m.Codec != b.codec.Name() {
		b.reject(ctx, d, dl, fmt.Errorf("%w: codec %q, this replica uses %q", ErrDecode, m.Codec, b.codec.Name()))
		return
	}
	v, err := d.decode(b.codec, m.Data)
	if err != nil {
		b.reject(ctx, d, dl, err)
		return
	}
	if g.Mode == ModeAtMostOnce {
		if b.bus.Emit(withRemote(ctx, remote{topic: m.Topic, origin: m.Origin}), m.Topic, v) == nil {
			b.stats.delivered.Add(1)
		}
		return // listener failures were reported by the bus; at most once means no retry
	}
	if b.bus.ListenerCount(m.Topic) <= 1 { // only the bridge itself
		err = fmt.Errorf("%w of %q on replica %s", ErrNoListener, m.Topic, b.replica)
	} else {
		ka := keepAlive(ctx, dl.InProgress, g.AckWait/3)
		err = b.bus.Emit(withRemote(ctx, remote{topic: m.Topic, origin: m.Origin, attempt: dl.Attempt()}), m.Topic, v)
		ka.stop()
	}
	switch {
	case err == nil:
		if aerr := dl.Ack(ctx); aerr != nil {
			b.settle(d, "ack", aerr)
			return
		}
		b.stats.delivered.Add(1)
	case dl.Attempt() >= g.MaxDeliveries:
		b.reject(ctx, d, dl, err)
	default:
		b.stats.retried.Add(1)
		b.settle(d, "retry", dl.Retry(ctx, g.retryDelay(dl.Attempt())))
	}
}

// reject dead-letters a delivery; if that fails, it asks for a redelivery
// later, so that the event is not lost.
func (b *bridge) reject(ctx context.Context, d *declaration, dl Delivery, reason error) {
	m := dl.Message()
	if err := dl.Reject(ctx, reason); err != nil {
		b.log.Error("dead-letter an event", zap.String("topic", m.Topic), zap.Error(err))
		b.settle(d, "retry", dl.Retry(ctx, d.guarantee.MaxBackoff))
		return
	}
	if d.guarantee.Mode == ModeAtMostOnce { // no dead letters: its Reject drops it
		b.stats.dropped.Add(1)
		b.log.Warn("event dropped", zap.String("topic", m.Topic), zap.String("origin", m.Origin), zap.NamedError("reason", reason))
		return
	}
	b.stats.dead.Add(1)
	b.log.Warn("event dead-lettered", zap.String("topic", m.Topic), zap.String("origin", m.Origin),
		zap.Int("attempt", dl.Attempt()), zap.NamedError("reason", reason))
}

// settle logs a failure to settle a delivery: the engine delivers it
// again after its AckWait.
func (b *bridge) settle(d *declaration, what string, err error) {
	if err != nil {
		b.log.Warn("settle a delivery; it will be delivered again", zap.String("topic", d.name), zap.String("action", what), zap.Error(err))
	}
}
