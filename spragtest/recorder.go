package spragtest

import (
	"context"
	"slices"
	"sync"

	"github.com/sprag-go/sprag/eventbus"
)

// Recorder records the events emitted on a topic or pattern, in the order
// they were emitted. Its methods are safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []eventbus.Event
}

// Record subscribes a new Recorder to topic (a topic or a pattern such as
// "order:*") on bus and unsubscribes it when the test ends. A bad topic
// fails the test at once.
func Record(t TB, bus *eventbus.Bus, topic string) *Recorder {
	t.Helper()
	r := &Recorder{}
	sub, err := bus.ListenEvents(topic, func(_ context.Context, e eventbus.Event) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events = append(r.events, e)
		return nil
	}, eventbus.WithName("spragtest.Recorder"))
	if err != nil {
		t.Fatalf("spragtest: record: %v", err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	return r
}

// Events returns a copy of the events recorded so far, each with the topic
// that was emitted.
func (r *Recorder) Events() []eventbus.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Payloads returns the payloads recorded so far.
func (r *Recorder) Payloads() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]any, len(r.events))
	for i, e := range r.events {
		out[i] = e.Payload
	}
	return out
}

// Len returns how many events were recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// Reset forgets the events recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = nil
}
