package eventbus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// This file checks the bus against a model: a plain ordered list of
// subscriptions, and the rules of the documentation written the obvious
// way. Random operations, also from inside listeners while emits run,
// must give the calls the model predicts, and leave the lists and the
// topic table consistent and within their memory bounds.

// modelSub is a subscription as the model sees it.
type modelSub struct {
	sub       *Subscription
	topic     string
	once      bool
	removedAt int  // the clock when it was removed, 0 while subscribed
	notified  int  // calls of its OnRemoved function
	running   bool // a Once listener's call under way: OnRemoved runs when it returns
}

// modelCall is one call of a listener.
type modelCall struct {
	emit, sub  int // which emit called which subscription
	start, end int // the clock around the call
}

type model struct {
	t       *testing.T
	rng     *rand.Rand
	bus     *Bus
	subs    []*modelSub // in subscription order
	calls   []modelCall
	clock   int   // orders calls and removals
	emits   []int // the emits under way, innermost last
	nEmits  int
	topicOf []string               // the topic of each emit
	typed   map[string]*Topic[any] // typed topics, which pin their entries
}

var (
	modelTopics   = []string{"a", "a:b", "a:c", "a:b:c", "b", "b:c", "x:y:z"}
	modelPatterns = []string{"*", "a:*", "*:c", "a:*:c", "b:*", "*:*"}
)

// matchRef is the pattern rule of the documentation, on split segments.
func matchRef(pattern, topic string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == topic
	}
	ps, ts := strings.Split(pattern, ":"), strings.Split(topic, ":")
	last := len(ps) - 1
	if ps[last] == "*" {
		if len(ts) < len(ps) {
			return false
		}
		ps, ts = ps[:last], ts[:last]
	} else if len(ts) != len(ps) {
		return false
	}
	for i := range ps {
		if ps[i] != "*" && ps[i] != ts[i] {
			return false
		}
	}
	return true
}

func (m *model) live() []*modelSub {
	var out []*modelSub
	for _, s := range m.subs {
		if s.removedAt == 0 {
			out = append(out, s)
		}
	}
	return out
}

func (m *model) tick() int {
	m.clock++
	return m.clock
}

// step performs one random operation. Inside a listener it emits less
// deep, so that nesting stays shallow.
func (m *model) step(ctx context.Context) {
	switch r := m.rng.IntN(100); {
	case r < 30:
		m.listen()
	case r < 50:
		if live := m.live(); len(live) > 0 {
			s := live[m.rng.IntN(len(live))]
			s.removedAt = m.tick()
			assert.True(m.t, s.sub.Unsubscribe())
		}
	case r < 55:
		name := modelTopics[m.rng.IntN(len(modelTopics))]
		if m.rng.IntN(2) == 0 {
			name = modelPatterns[m.rng.IntN(len(modelPatterns))]
		}
		want := 0
		at := m.tick()
		for _, s := range m.live() {
			if s.topic == name {
				s.removedAt = at
				want++
			}
		}
		assert.Equal(m.t, want, m.bus.Clear(name), "Clear(%q)", name)
	case r < 56:
		live := m.live()
		at := m.tick()
		for _, s := range live {
			s.removedAt = at
		}
		assert.Equal(m.t, len(live), m.bus.ClearAll())
	case len(m.emits) < 3 && r < 90:
		m.emit(ctx, modelTopics[m.rng.IntN(len(modelTopics))])
	default:
		m.checkCounts()
	}
}

func (m *model) listen() {
	name := modelTopics[m.rng.IntN(len(modelTopics))]
	if m.rng.IntN(3) == 0 {
		name = modelPatterns[m.rng.IntN(len(modelPatterns))]
	}
	ms := &modelSub{topic: name, once: m.rng.IntN(6) == 0}
	id := len(m.subs)
	act := m.rng.IntN(4) == 0 // this listener changes the bus when called
	opts := []ListenOption{OnRemoved(func() { ms.notified++ })}
	if ms.once {
		opts = append(opts, Once())
	}
	sub, err := m.bus.ListenEvents(name, func(ctx context.Context, e Event) error {
		emit := m.emits[len(m.emits)-1]
		assert.Equal(m.t, m.topicOf[emit], e.Topic)
		if ms.once {
			ms.removedAt = m.tick() // the emit claimed it before calling it
			ms.running = true
			defer func() { ms.running = false }()
		}
		i := len(m.calls)
		m.calls = append(m.calls, modelCall{emit: emit, sub: id, start: m.tick()})
		if act {
			m.step(ctx)
		}
		m.calls[i].end = m.tick()
		return nil
	}, opts...)
	require.NoError(m.t, err)
	ms.sub = sub
	m.subs = append(m.subs, ms)
}

// emit emits topic and checks its calls against the model: in order, the
// listeners subscribed when it began whose topic or pattern matches,
// except those removed before the emit reached them, that is before the
// end of its previous call.
func (m *model) emit(ctx context.Context, topic string) {
	id := m.nEmits
	m.nEmits++
	m.topicOf = append(m.topicOf, topic)
	m.emits = append(m.emits, id)
	reach := m.tick()
	candidates := slices.Clone(m.subs)
	from := len(m.calls)
	if m.rng.IntN(2) == 0 {
		require.NoError(m.t, m.bus.Emit(ctx, topic, nil))
	} else {
		if m.typed[topic] == nil {
			m.typed[topic] = NewTopic[any](topic)
		}
		require.NoError(m.t, m.typed[topic].Emit(ctx, m.bus, nil))
	}
	m.emits = m.emits[:len(m.emits)-1]

	var own []modelCall
	for _, c := range m.calls[from:] {
		if c.emit == id {
			own = append(own, c)
		}
	}
	var want, got []int
	for i, s := range candidates {
		if !matchRef(s.topic, topic) || (s.removedAt != 0 && s.removedAt < reach) {
			continue
		}
		want = append(want, i)
		if len(got) < len(own) && own[len(got)].sub == i {
			reach = own[len(got)].end
			got = append(got, i)
		} else {
			got = append(got, -1) // not called: a mismatch below
		}
	}
	for _, c := range own[min(len(got), len(own)):] {
		got = append(got, c.sub) // called, but not expected
	}
	assert.Equal(m.t, want, got, "emit %q (#%d)", topic, id)
}

func (m *model) checkCounts() {
	live := m.live()
	assert.Equal(m.t, len(live), m.bus.Len())
	for _, topic := range modelTopics {
		n := 0
		for _, s := range live {
			if matchRef(s.topic, topic) {
				n++
			}
		}
		assert.Equal(m.t, n, m.bus.ListenerCount(topic), "ListenerCount(%q)", topic)
	}
	var names []string
	for _, s := range live {
		names = append(names, s.topic)
	}
	slices.Sort(names)
	assert.Equal(m.t, slices.Compact(names), m.bus.Topics())
	for i, s := range m.subs {
		assert.Equal(m.t, s.removedAt == 0, s.sub.Active(), "#%d", i)
		want := 0
		if s.removedAt != 0 && !s.running {
			want = 1
		}
		assert.Equal(m.t, want, s.notified, "#%d: OnRemoved runs once, when removed", i)
	}
	checkInvariants(m.t, m.bus)
}

// checkInvariants checks the structure of b: every list holds its
// subscriptions in id order, each home subscription at its index, within
// the memory bound of the Cost section; the table holds every topic that
// has listeners of its own, and only live entries, within its bound.
func checkInvariants(t *testing.T, b *Bus) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	checkList := func(l *list, what string) {
		s := l.cur.Load()
		if s == nil {
			return
		}
		n := int(s.n.Load())
		live, own := 0, 0
		var last uint64
		for i := range s.slots[:n] {
			sl := &s.slots[i]
			assert.Greater(t, sl.id, last, "%s: ids increase", what)
			last = sl.id
			sub := sl.sub.Load()
			if sub == nil {
				continue
			}
			live++
			if sub.pat == nil {
				own++
			}
			assert.Equal(t, sub.id, sl.id, what)
			if sub.home() == l {
				assert.Equal(t, i, sub.idx, "%s: index of #%d", what, sub.id)
			}
			assert.Equal(t, subscribed, sub.state.Load(), "%s: a removed subscription stays only until it is detached", what)
		}
		assert.Equal(t, live, int(s.live.Load()), what)
		assert.LessOrEqual(t, n-live, live, "%s: tombstones never outnumber listeners", what)
		assert.LessOrEqual(t, len(s.slots), max(4*live, 1), "%s: at most four slots per listener", what)
		if l != &b.patterns {
			assert.Equal(t, own, int(s.own), what)
		}
	}
	checkList(&b.patterns, "patterns")
	if tb := b.topics.Load(); tb != nil {
		entries := 0
		tb.each(func(e *entry) {
			entries++
			assert.True(t, e.pinned || e.list.owned() > 0, "entry %q without listeners of its own is dropped", e.topic)
			assert.Same(t, e, tb.get(e.topic))
			checkList(&e.list, e.topic)
		})
		assert.Equal(t, uint64(entries), tb.live)
		assert.LessOrEqual(t, tb.used*2, tb.mask+1, "the table is at most half full")
		assert.LessOrEqual(t, tb.mask+1, max(16*tb.live+16, minTableSize), "the table shrinks with its entries")
	}
}

func TestRandomOperationsMatchTheModel(t *testing.T) {
	t.Parallel()
	seeds, steps := uint64(20), 3000
	if raceEnabled { // single goroutine: the race detector has nothing to find
		seeds, steps = 4, 1000
	}
	for seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 7)) //nolint:gosec // a seeded, reproducible sequence is the point
			m := &model{t: t, rng: rng, bus: New(), typed: map[string]*Topic[any]{}}
			for range steps {
				m.step(t.Context())
				if t.Failed() {
					return
				}
			}
			m.checkCounts()
		})
	}
}

func TestSubscriptionKeepsItsSizeClass(t *testing.T) {
	t.Parallel()
	// 128 bytes: the first 64, read by emits, on their own cache line.
	assert.Equal(t, uintptr(128), unsafe.Sizeof(Subscription{}))
	assert.Equal(t, uintptr(64), unsafe.Offsetof(Subscription{}.entry))
}

// FuzzBusAgainstModel runs the model from fuzzed seeds. Run it with
//
//	go test -fuzz FuzzBusAgainstModel ./eventbus
func FuzzBusAgainstModel(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(42), uint64(0))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		rng := rand.New(rand.NewPCG(a, b)) //nolint:gosec // a seeded, reproducible sequence is the point
		m := &model{t: t, rng: rng, bus: New(), typed: map[string]*Topic[any]{}}
		for range 300 {
			m.step(t.Context())
			if t.Failed() {
				return
			}
		}
		m.checkCounts()
	})
}
