package spragtest

import (
	"slices"
	"sync"
	"time"
)

// Collector gathers values from any goroutine, for a test to assert on:
// what a listener, a subscriber or a handler was given. The zero value is
// ready to use; its methods are safe for concurrent use.
type Collector[T any] struct {
	mu   sync.Mutex
	vals []T
}

// Add appends v.
func (c *Collector[T]) Add(v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vals = append(c.vals, v)
}

// All returns a copy of the values added, in the order they were added.
func (c *Collector[T]) All() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.vals)
}

// Len returns how many values were added.
func (c *Collector[T]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.vals)
}

// Timeline records when things happen, as durations since it was made: in
// a testing/synctest bubble, on the bubble's virtual clock, so that a test
// can assert that an interval ran at 1m, 2m and 3m exactly. Its methods
// are safe for concurrent use.
type Timeline struct {
	start time.Time
	marks Collector[time.Duration]
}

// NewTimeline returns a Timeline that starts now.
func NewTimeline() *Timeline { return &Timeline{start: time.Now()} }

// Mark records the time since the timeline started.
func (tl *Timeline) Mark() { tl.marks.Add(time.Since(tl.start)) }

// Times returns the marks, in the order they were made.
func (tl *Timeline) Times() []time.Duration { return tl.marks.All() }
