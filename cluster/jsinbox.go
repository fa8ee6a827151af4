package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errInboxClosed is returned by Next after Close.
var errInboxClosed = errors.New("cluster: inbox closed")

// jsInbox pulls the messages of a durable consumer. It re-establishes
// what the client does not bring back by itself: after a reconnect, it
// makes sure the consumer exists (it may have been removed while the
// replica was away) and starts a new pull iterator, since an iterator
// that was not being read across a reconnect may stay silent for good.
type jsInbox struct {
	c      *conn
	stream string
	cfg    jetstream.ConsumerConfig
	batch  int                                               // messages pulled ahead
	wrap   func(msg jetstream.Msg, attempt int) (any, error) // nil error: hand it out

	mu     sync.Mutex
	cons   jetstream.Consumer        // guarded by mu
	it     jetstream.MessagesContext // the current iterator, or nil; guarded by mu
	epoch  <-chan struct{}           // closed by the first reconnect after it was made; guarded by mu
	active time.Time                 // when it was made or last delivered a message; guarded by mu
	closed bool                      // guarded by mu
}

// ensure creates the consumer, or updates it to the inbox's configuration.
//
// A consumer that exists with the same settings is used as it is: the
// replicas of a group share one, and an update, even one that changes
// nothing, may drop the pull requests the others have waiting.
func (in *jsInbox) ensure(ctx context.Context) error {
	var cons jetstream.Consumer
	if err := ensure(ctx, fmt.Sprintf("consumer %s of stream %s", in.cfg.Durable, in.stream), func(ctx context.Context) error {
		var err error
		cons, err = in.c.js.Consumer(ctx, in.stream, in.cfg.Durable)
		if err == nil && sameConsumer(cons.CachedInfo().Config, in.cfg) {
			return led(cons.CachedInfo())
		}
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return err
		}
		if cons, err = in.c.js.CreateOrUpdateConsumer(ctx, in.stream, in.cfg); err != nil {
			return err
		}
		return led(cons.CachedInfo())
	}); err != nil {
		return err
	}
	in.mu.Lock()
	in.cons = cons
	in.mu.Unlock()
	return nil
}

// iterator returns the current pull iterator, making a new one (and
// checking the consumer) when there is none or a reconnect happened since.
func (in *jsInbox) iterator(ctx context.Context) (jetstream.MessagesContext, error) {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil, errInboxClosed
	}
	stale := false
	if in.it != nil {
		select {
		case <-in.epoch:
			stale = true
		default:
			it := in.it
			in.mu.Unlock()
			return it, nil
		}
	}
	if in.it != nil {
		in.it.Stop()
		in.it = nil
	}
	in.mu.Unlock()

	epoch := in.c.reconnected()
	if stale {
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := in.ensure(ectx)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil, errInboxClosed
	}
	if in.it != nil {
		return in.it, nil // another caller made one meanwhile: share it
	}
	it, err := in.cons.Messages(jetstream.PullMaxMessages(in.batch), jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat))
	if err != nil {
		return nil, fmt.Errorf("pull from consumer %s: %w", in.cfg.Durable, err)
	}
	in.it, in.epoch, in.active = it, epoch, time.Now()
	return it, nil
}

// maxIdle is how long an iterator may go without a message before the
// inbox replaces it. A pull iterator whose pull request the server
// dropped (a consumer update, a leader change) can wait for it for good;
// a new iterator costs one subscription and one pull request.
const maxIdle = 2 * pullExpiry

// replaceIfIdle drops the iterator if it has been idle for maxIdle.
func (in *jsInbox) replaceIfIdle(it jetstream.MessagesContext) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.it == it && time.Since(in.active) >= maxIdle {
		in.it.Stop()
		in.it = nil
	}
}

// touch records that the iterator delivered a message.
func (in *jsInbox) touch() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.active = time.Now()
}

// errNoLeader says a replicated consumer has no leader yet: a pull sent
// to it then goes unanswered, and the iterator waits for the answer.
var errNoLeader = fmt.Errorf("consumer without a leader yet: %w", nats.ErrTimeout)

// led returns errNoLeader, which ensure retries, for a replicated consumer
// that has no leader yet.
func led(info *jetstream.ConsumerInfo) error {
	if info != nil && info.Cluster != nil && info.Cluster.Leader == "" {
		return errNoLeader
	}
	return nil
}

// sameConsumer reports whether the consumer has the settings the inbox
// would give it.
func sameConsumer(have, want jetstream.ConsumerConfig) bool {
	return have.FilterSubject == want.FilterSubject && have.AckPolicy == want.AckPolicy &&
		have.AckWait == want.AckWait && have.MaxDeliver == want.MaxDeliver &&
		have.DeliverPolicy == want.DeliverPolicy && have.InactiveThreshold == want.InactiveThreshold &&
		(want.MaxAckPending == 0 || have.MaxAckPending == want.MaxAckPending)
}

// reset drops it, the iterator that failed, if it is still the current
// one, so that the next call checks the consumer and pulls anew. After
// Close it returns errInboxClosed.
func (in *jsInbox) reset(ctx context.Context, it jetstream.MessagesContext) error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return errInboxClosed
	}
	if in.it == it {
		in.it.Stop()
		in.it = nil
	}
	in.mu.Unlock()
	ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return in.ensure(ectx)
}

// pullExpiry is how long a pull request waits on the server. A pull
// iterator that sat unread across a disconnection longer than this stays
// silent after the reconnect; the inbox replaces it.
const pullExpiry = 5 * time.Second

// pullHeartbeat is how often the server tells a waiting pull request it
// is alive. The iterator finds a pull request the server dropped (the
// consumer was re-created under it, as concurrent creates at the start of
// several replicas can do) when two heartbeats are missing, within one
// call of its Next: wait must exceed twice the heartbeat.
const pullHeartbeat = time.Second

// wait is how long Next waits on the iterator before it looks for a
// reconnect again.
const wait = 3 * time.Second

func (in *jsInbox) Next(ctx context.Context) (Delivery, error) {
	d, err := in.next(ctx)
	if err != nil {
		return nil, err
	}
	return d.(Delivery), nil
}

// next returns what wrap made of the next message.
func (in *jsInbox) next(ctx context.Context) (any, error) {
	for {
		it, err := in.iterator(ctx)
		if err != nil {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		msg, err := it.Next(jetstream.NextContext(wctx))
		cancel()
		switch {
		case err == nil:
			in.touch()
			attempt := 1
			if md, err := msg.Metadata(); err == nil {
				attempt = int(min(md.NumDelivered, math.MaxInt32))
			}
			d, err := in.wrap(msg, attempt)
			if err != nil || d == nil {
				continue // wrap settled it
			}
			return d, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			in.replaceIfIdle(it)
			continue // nothing yet: look for a reconnect, wait again
		default:
			in.mu.Lock()
			closed, replaced := in.closed, in.it != it
			in.mu.Unlock()
			switch {
			case closed: // Close stopped it
				return nil, errInboxClosed
			case replaced && errors.Is(err, jetstream.ErrMsgIteratorClosed):
				continue // another caller replaced it (idle, or after a fault): use the new one
			}
			if rerr := in.reset(ctx, it); rerr != nil {
				if errors.Is(rerr, errInboxClosed) {
					return nil, errInboxClosed
				}
				return nil, errors.Join(err, rerr)
			}
			return nil, err
		}
	}
}

// Close stops pulling and hands the messages pulled ahead back to the
// server at once (a nak), so that they are redelivered without waiting
// for their AckWait.
func (in *jsInbox) Close(ctx context.Context) error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	it := in.it
	in.it = nil
	in.mu.Unlock()
	return nakRest(ctx, it)
}

// nakRest stops it and hands back the messages it pulled ahead.
func nakRest(ctx context.Context, it jetstream.MessagesContext) error {
	if it == nil {
		return nil
	}
	it.Drain()
	var errs []error
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, wait)
		msg, err := it.Next(jetstream.NextContext(wctx))
		cancel()
		if err != nil {
			break // drained, closed, or nothing left within wait
		}
		if err := msg.Nak(); err != nil {
			errs = append(errs, err)
		}
	}
	it.Stop()
	return errors.Join(errs...)
}

// deadLetter stores a copy of msg on the dead-letter subject of kind and
// tokens with why it died, then terminates msg so that it is never
// delivered again. When the copy cannot be stored, msg is left alone and
// the error returned: the caller retries it later.
func deadLetter(ctx context.Context, c *conn, n names, msg jetstream.Msg, kind, tokens string, attempt int, reason error) error {
	h := nats.Header{}
	for k, v := range msg.Headers() {
		if !strings.HasPrefix(k, "Nats-") {
			h[k] = v
		}
	}
	source := "unknown"
	if md, err := msg.Metadata(); err == nil {
		source = fmt.Sprintf("%s/%s/%d", md.Stream, md.Consumer, md.Sequence.Stream)
	}
	h.Set(HeaderError, truncate(reason.Error(), 1024))
	h.Set(HeaderAttempts, strconv.Itoa(attempt))
	h.Set(HeaderSource, source)
	// A replica that dies between the copy and the termination gets msg
	// again and copies it again: the id makes the stream drop that copy.
	h.Set(jetstream.MsgIDHeader, "dead/"+source)
	_, err := c.js.PublishMsg(ctx, &nats.Msg{Subject: n.dead(kind, tokens), Data: msg.Data(), Header: h})
	if errors.Is(err, nats.ErrMaxPayload) {
		// The headers pushed it over max_payload: keep the dead letter,
		// without the payload, rather than retry it for ever.
		h.Set(HeaderPayloadDropped, strconv.Itoa(len(msg.Data())))
		_, err = c.js.PublishMsg(ctx, &nats.Msg{Subject: n.dead(kind, tokens), Header: h})
	}
	if err != nil {
		return fmt.Errorf("dead letter %s: %w", source, err)
	}
	return msg.TermWithReason(truncate(reason.Error(), 256))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// undelivered counts the messages of the stream the consumer has not
// delivered yet. It does not use the consumer's own count (NumPending):
// the server updates that in the background after it has acknowledged a
// publish, so right after one it may not count it yet. The consumer's
// delivered sequence, asked first, and the stream's last sequence are
// both current when they are read.
func (in *jsInbox) undelivered(ctx context.Context) (uint64, error) {
	in.mu.Lock()
	cons := in.cons
	in.mu.Unlock()
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	s, err := in.c.js.Stream(ctx, in.stream)
	if err != nil {
		return 0, err
	}
	st := s.CachedInfo().State
	from := info.Delivered.Stream // the messages up to it were delivered
	if st.FirstSeq > 0 {
		from = max(from, st.FirstSeq-1)
	}
	if st.LastSeq <= from {
		return 0, nil
	}
	return min(st.LastSeq-from, st.Msgs), nil
}

// release hands the messages pulled ahead back, like Close, but a later
// Next pulls again.
func (in *jsInbox) release(ctx context.Context) error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	it := in.it
	in.it = nil
	in.mu.Unlock()
	return nakRest(ctx, it)
}
