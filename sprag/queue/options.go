package queue

import (
	"context"
	"fmt"
	"reflect"
)

// An Option configures [New].
type Option interface {
	applyQueue(*config)
	String() string
}

type config struct {
	label             string
	workers, capacity int
	overflow          any // a func(context.Context, []T) error
	overflowType      string
	backend           any // a Backend[T]
	backendType       string
}

type labelOption string

func (o labelOption) applyQueue(c *config) { c.label = string(o) }
func (o labelOption) String() string       { return fmt.Sprintf("queue.Label(%q)", string(o)) }

// Label names a queue in logs, errors and its owner's health details
// ("queue <label>"). The default is its handler's function name.
func Label(label string) Option { return labelOption(label) }

type workersOption int

func (o workersOption) applyQueue(c *config) { c.workers = int(o) }
func (o workersOption) String() string       { return fmt.Sprintf("queue.Workers(%d)", int(o)) }

// Workers sets how many goroutines of a queue handle items concurrently.
// The default is 1; n must be positive and at most [MaxWorkers].
func Workers(n int) Option { return workersOption(n) }

// The largest counts [Workers] and [Capacity] accept: a queue's workers
// are started and its buffer allocated by New, so a count beyond what a
// process can hold is refused rather than left to crash it.
const (
	MaxWorkers  = 1 << 16
	MaxCapacity = 1 << 24
)

type capacityOption int

func (o capacityOption) applyQueue(c *config) { c.capacity = int(o) }
func (o capacityOption) String() string       { return fmt.Sprintf("queue.Capacity(%d)", int(o)) }

// Capacity sets how many accepted items a queue holds while they wait for
// a worker. The default is 100; n must be positive and at most
// [MaxCapacity].
func Capacity(n int) Option { return capacityOption(n) }

type overflowOption[T any] struct {
	fn func(context.Context, []T) error
}

func (o overflowOption[T]) applyQueue(c *config) {
	c.overflow = o.fn
	c.overflowType = reflect.TypeFor[[]T]().String()
}

func (o overflowOption[T]) String() string {
	return fmt.Sprintf("queue.Overflow(func(context.Context, %s) error)", reflect.TypeFor[[]T]())
}

// Overflow receives, at stop, the items a queue accepted but could not
// process before Stop's context ended, in the order they were enqueued. It
// runs once, when the last worker of the queue has returned, so never
// while a handler of the queue runs, with Stop's context, which has
// usually ended then: keep the items with a context of its own. It may run
// after Stop has returned; the owner's Done closes after it. An error or a
// panic in it is logged.
//
// T must be the queue's item type; [New] refuses another one with an
// error wrapping sprag.ErrInvalidArgument.
func Overflow[T any](fn func(ctx context.Context, items []T) error) Option {
	return overflowOption[T]{fn: fn}
}
