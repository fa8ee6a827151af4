package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
)

// memTransport is an engine of distributed topics in memory, shared by
// the nodes of a test: it delivers every message to every matching inbox
// at once, redelivers retried ones after their delay, and records how
// each delivery was settled.
type memTransport struct {
	down atomic.Bool

	mu      sync.Mutex
	inboxes []*memInbox
	settled []string // "<replica> <action> <topic>", in order
}

func (t *memTransport) Connected() bool { return !t.down.Load() }

func (t *memTransport) Publish(_ context.Context, m *cluster.Message, _ cluster.Guarantee) error {
	if t.down.Load() {
		return fmt.Errorf("memory transport: %w", cluster.ErrDisconnected)
	}
	subject, err := cluster.SubjectOf(m.Topic)
	if err != nil {
		return err
	}
	t.mu.Lock()
	var to []*memInbox
	for _, in := range t.inboxes {
		if server.SubjectMatchesFilter(subject, in.filter) {
			to = append(to, in)
		}
	}
	t.mu.Unlock()
	// Pushed without the lock: a full inbox waits for its reader, whose
	// settling takes the lock.
	for _, in := range to {
		in.push(&memDelivery{t: t, in: in, m: m, attempt: 1})
	}
	return nil
}

// Subscribe returns the route's inbox, made on the first call: like a
// durable consumer, it keeps the messages that arrive while it is closed.
func (t *memTransport) Subscribe(_ context.Context, r cluster.Route) (cluster.Inbox, error) {
	filter, err := cluster.SubjectOf(r.Pattern)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, in := range t.inboxes {
		if in.filter == filter && in.replica == r.Replica {
			return in, nil
		}
	}
	// Room like a stream's: a replica without listeners does not read.
	in := &memInbox{filter: filter, replica: r.Replica, ch: make(chan *memDelivery, 10000)}
	t.inboxes = append(t.inboxes, in)
	return in, nil
}

func (t *memTransport) record(in *memInbox, action string, m *cluster.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settled = append(t.settled, in.replica+" "+action+" "+m.Topic)
}

func (t *memTransport) actions() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.settled...)
}

type memInbox struct {
	filter, replica string
	ch              chan *memDelivery
}

func (in *memInbox) push(d *memDelivery) { in.ch <- d }

func (in *memInbox) Next(ctx context.Context) (cluster.Delivery, error) {
	select {
	case d := <-in.ch:
		return d, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (in *memInbox) Close(context.Context) error { return nil }

type memDelivery struct {
	t       *memTransport
	in      *memInbox
	m       *cluster.Message
	attempt int
}

func (d *memDelivery) Message() *cluster.Message { return d.m }
func (d *memDelivery) Attempt() int              { return d.attempt }
func (d *memDelivery) Ack(context.Context) error {
	d.t.record(d.in, "ack", d.m)
	return nil
}

func (d *memDelivery) Retry(_ context.Context, delay time.Duration) error {
	d.t.record(d.in, "retry after "+delay.String(), d.m)
	time.AfterFunc(delay, func() { d.in.push(&memDelivery{t: d.t, in: d.in, m: d.m, attempt: d.attempt + 1}) })
	return nil
}

func (d *memDelivery) Reject(_ context.Context, reason error) error {
	d.t.record(d.in, "reject: "+reason.Error(), d.m)
	return nil
}

func (d *memDelivery) InProgress(context.Context) error {
	d.t.record(d.in, "in progress", d.m)
	return nil
}

func TestAnotherTransportCarriesTheTopics(t *testing.T) {
	srv := clustertest.StartServer(t) // the nodes still hold a NATS connection, for leases and queues
	mem := &memTransport{}
	opts := []cluster.Option{cluster.WithTransport(mem), atLeastOnce(cluster.MaxDeliveries(3), cluster.Backoff(100*time.Millisecond, time.Second), cluster.AckWait(time.Second))}
	fail := func(replica string, o Order, n int) error {
		switch {
		case replica != "b":
		case o.ID == 2:
			return errors.New("refused")
		case o.ID == 3: // a listener that runs longer than a third of AckWait
			time.Sleep(800 * time.Millisecond)
		}
		return nil
	}
	nodes, rts, got := replicas(t, srv.URL(), []string{"a", "b"}, fail, opts...)

	emit(context.Background(), t, rts[0], 1, 2, 3)
	eventually(t, 10*time.Second, func() bool {
		if len(filter(mem.actions(), "a ")) < 3 {
			return false
		}
		for _, a := range mem.actions() {
			if len(a) > 8 && a[:8] == "b reject" {
				return got[1].counts()[3] == 1
			}
		}
		return false
	}, "a and b settle every event")
	assert.Equal(t, map[int]int{1: 1, 2: 3, 3: 1}, got[1].counts())
	assert.Equal(t, []string{
		"a ack order:completed", "a ack order:completed", "a ack order:completed", // a's own events, skipped
	}, filter(mem.actions(), "a "))
	// b handles 1, fails 2, handles 3 (which takes long) while 2 waits for
	// its redelivery, fails 2 again, then dead-letters it.
	bActions := filter(mem.actions(), "b ")
	require.Len(t, bActions, 5)
	assert.Equal(t, []string{
		"b ack order:completed",
		"b retry after 100ms order:completed",
		"b ack order:completed",
		"b retry after 200ms order:completed",
	}, bActions[:4], "the doubling backoff")
	assert.Contains(t, bActions[4], "b reject: ", "then the dead letter")
	assert.Contains(t, bActions[4], "refused", "with the listener's error")
	assert.Contains(t, mem.actions(), "b in progress order:completed", "a long listener keeps its delivery alive")
	assert.Equal(t, int64(3), nodes[0].Stats().Suppressed)
	eventually(t, 5*time.Second, func() bool { return nodes[1].Stats().Dead == 1 }, "b counts the dead letter")

	mem.down.Store(true)
	require.ErrorIs(t, nodes[0].Health(context.Background()), cluster.ErrDisconnected, "health covers the transport")
	emit(context.Background(), t, rts[0], 4)
	assert.Equal(t, 1, nodes[0].Stats().Buffered)
	mem.down.Store(false)
	eventually(t, 5*time.Second, func() bool { return got[1].counts()[4] == 1 }, "the buffer is published once the transport is back")
	require.NoError(t, nodes[0].Health(context.Background()))
}

func filter(actions []string, prefix string) []string {
	var out []string
	for _, a := range actions {
		if len(a) >= len(prefix) && a[:len(prefix)] == prefix && a != prefix+"in progress order:completed" {
			out = append(out, a)
		}
	}
	return out
}
