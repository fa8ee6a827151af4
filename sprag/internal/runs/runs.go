// Package runs counts the runs of managed work in progress, per piece of
// work and per goroutine, and lets one waiter wait for them to end: the
// bookkeeping under sprag.Scope's Close.
//
// Runs are counted without a lock, so that a task's end or a callback
// does not contend with its scope. The protocol with a closer is the
// classic one for two flags: a run marks itself running and then checks
// that its scope is open; the closer makes the scope closing and then
// reads what runs. One of the two always sees the other, so either the run
// backs out or the closer waits for it.
//
// Counted work (timer runs, tasks, hooks) is counted in the [Tracker], so
// that a waiter waits for thousands of runs without scanning. A
// callback's call ([Work.Uncounted]) is not: its claim of the work's slot
// is what marks it running, which keeps a call to two atomic operations;
// the waiter scans the callbacks it was given.
//
// Each run also records its goroutine, so that a closer called from a run
// of its own scope can wait for every run but the ones on its own
// goroutine, which cannot end before it returns.
package runs

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/petermattis/goid"
)

// Work is one piece of managed work whose runs are counted. The zero
// value is counted work with no run; its methods are safe for concurrent
// use.
type Work struct {
	Uncounted bool                       // a callback's: its runs are not counted in the tracker
	begun     atomic.Int32               // counted runs in progress, from Begin to End
	g         atomic.Int64               // the goroutine of the run that holds the slot, or 0
	more      atomic.Pointer[goroutines] // the goroutines of further concurrent runs; made on demand
}

// goroutines counts the runs of one Work per goroutine, for the runs that
// found its slot taken. A mutex guards it: it serves only concurrent runs
// of one callback.
type goroutines struct {
	mu sync.Mutex
	n  map[int64]int32
}

// Claim records that a run of w is on goroutine g; it returns the token
// that Release needs: true when the run took w's slot.
func (w *Work) Claim(g int64) (slot bool) {
	if w.g.CompareAndSwap(0, g) {
		return true
	}
	m := w.more.Load()
	if m == nil {
		w.more.CompareAndSwap(nil, &goroutines{n: make(map[int64]int32)})
		m = w.more.Load()
	}
	m.mu.Lock()
	m.n[g]++
	m.mu.Unlock()
	return false
}

// Release undoes Claim, on the same goroutine g.
func (w *Work) Release(slot bool, g int64) {
	if slot {
		w.g.Store(0)
		return
	}
	m := w.more.Load()
	m.mu.Lock()
	if m.n[g]--; m.n[g] == 0 {
		delete(m.n, g)
	}
	m.mu.Unlock()
}

// Running returns how many runs of w are in progress: begun for counted
// work, claimed for a callback's.
func (w *Work) Running() int32 {
	if !w.Uncounted {
		return w.begun.Load()
	}
	var n int32
	if w.g.Load() != 0 {
		n++
	}
	if m := w.more.Load(); m != nil {
		m.mu.Lock()
		for _, k := range m.n {
			n += k
		}
		m.mu.Unlock()
	}
	return n
}

// On returns how many runs of w are in progress on goroutine g; 0 for
// g = 0.
func (w *Work) On(g int64) int32 {
	if g == 0 {
		return 0
	}
	var n int32
	if w.g.Load() == g {
		n++
	}
	if m := w.more.Load(); m != nil {
		m.mu.Lock()
		n += m.n[g]
		m.mu.Unlock()
	}
	return n
}

// Tracker counts the counted runs of a scope and wakes the one waiter.
// The zero value is ready to use.
type Tracker struct {
	busy    atomic.Int64 // counted runs in progress
	waiting atomic.Bool  // a waiter waits for busy to fall to idleAt
	idleAt  atomic.Int64

	mu   sync.Mutex
	idle chan struct{} // closed to wake the waiter, which checks again
}

// Begin counts a run of w, which may start on another goroutine.
func (t *Tracker) Begin(w *Work) {
	w.begun.Add(1)
	t.busy.Add(1)
}

// End uncounts a run of w and wakes a waiter that may be done.
func (t *Tracker) End(w *Work) {
	w.begun.Add(-1)
	if n := t.busy.Add(-1); t.waiting.Load() && n <= t.idleAt.Load() {
		t.wake()
	}
}

// Enter begins a counted run of w on the calling goroutine and returns
// the token that Leave needs.
func (t *Tracker) Enter(w *Work) (slot bool) {
	t.Begin(w)
	return w.Claim(goid.Get())
}

// Leave ends the run of w that Enter returned slot for, on the same
// goroutine.
func (t *Tracker) Leave(w *Work, slot bool) {
	w.Release(slot, goid.Get())
	t.End(w)
}

// Released tells the tracker that a callback's run ended: a waiter checks
// again.
func (t *Tracker) Released() {
	if t.waiting.Load() {
		t.wake()
	}
}

func (t *Tracker) wake() {
	t.mu.Lock()
	if t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
	t.mu.Unlock()
}

// Wait waits until no run of works is in progress but the runs on
// goroutine g (none for g = 0), or ctx ends. It returns the indexes in
// works of the work still running then, or nil. One Wait at a time.
func (t *Tracker) Wait(ctx context.Context, works []*Work, g int64) []int {
	var selfCounted, selfCallbacks int32
	var callbacks []*Work
	for _, w := range works {
		n := w.On(g)
		if w.Uncounted {
			callbacks = append(callbacks, w)
			selfCallbacks += n
		} else {
			selfCounted += n
		}
	}
	for {
		t.mu.Lock()
		t.idleAt.Store(int64(selfCounted))
		t.waiting.Store(true)
		if t.busy.Load() <= int64(selfCounted) && runningIn(callbacks) <= selfCallbacks {
			t.waiting.Store(false)
			t.mu.Unlock()
			return nil
		}
		if t.idle == nil {
			t.idle = make(chan struct{})
		}
		idle := t.idle
		t.mu.Unlock()

		select {
		case <-idle:
			continue
		case <-ctx.Done():
		}
		var stuck []int
		for i, w := range works {
			if w.Running() > w.On(g) {
				stuck = append(stuck, i)
			}
		}
		return stuck
	}
}

func runningIn(works []*Work) int32 {
	var n int32
	for _, w := range works {
		n += w.Running()
	}
	return n
}
