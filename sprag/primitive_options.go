package sprag

import (
	"context"
	"fmt"
	"os/exec"
	"reflect"
	"time"
)

// A QueueOption configures [NewQueue].
type QueueOption interface {
	applyQueue(*queueConfig)
	String() string
}

// A WatcherOption configures [NewWatcher] and [NewStreamWatcher].
type WatcherOption interface {
	applyWatcher(*watcherConfig)
	String() string
}

// An ObservableOption configures [NewObservable].
type ObservableOption interface {
	applyObservable(*observableConfig)
	String() string
}

// A SubscribeOption configures [Observable.Subscribe] and
// [Watcher.Subscribe].
type SubscribeOption interface {
	applySubscribe(*subscribeConfig)
	String() string
}

// A ProcessOption configures [StartProcess].
type ProcessOption interface {
	applyProcess(*processConfig)
	String() string
}

// A CronOption configures [Service.Cron].
type CronOption interface {
	applyCron(*cronConfig)
	String() string
}

type queueConfig struct {
	label             string
	workers, capacity int
	overflow          any // a func(context.Context, []T) error
	overflowType      string
}

type watcherConfig struct {
	label          string
	backoff        time.Duration
	maxBackoff     time.Duration
	dedupe         dedupeOption
	unhealthyAfter int
}

type observableConfig struct {
	label  string
	dedupe dedupeOption
}

type subscribeConfig struct {
	current bool
}

type processConfig struct {
	label     string
	stdout    func(line string)
	stderr    func(line string)
	configure func(*exec.Cmd)
	grace     time.Duration
	restart   *RestartPolicy
}

type cronConfig struct {
	label  string
	jitter time.Duration
	loc    *time.Location
}

// Label names a queue, watcher, observable, process or cron job, in logs,
// errors and the service's [Status.Details].
func (o LabelOption) applyQueue(c *queueConfig)           { c.label = string(o) }
func (o LabelOption) applyWatcher(c *watcherConfig)       { c.label = string(o) }
func (o LabelOption) applyObservable(c *observableConfig) { c.label = string(o) }
func (o LabelOption) applyProcess(c *processConfig)       { c.label = string(o) }
func (o LabelOption) applyCron(c *cronConfig)             { c.label = string(o) }

// A cron job may be spread like an interval: see [Jitter].
func (o JitterOption) applyCron(c *cronConfig) { c.jitter = time.Duration(o) }

type workersOption int

func (o workersOption) applyQueue(c *queueConfig) { c.workers = int(o) }
func (o workersOption) String() string            { return fmt.Sprintf("Workers(%d)", int(o)) }

// Workers sets how many goroutines of a queue handle items concurrently.
// The default is 1; n must be positive.
func Workers(n int) QueueOption { return workersOption(n) }

type capacityOption int

func (o capacityOption) applyQueue(c *queueConfig) { c.capacity = int(o) }
func (o capacityOption) String() string            { return fmt.Sprintf("Capacity(%d)", int(o)) }

// Capacity sets how many accepted items a queue holds while they wait for
// a worker. The default is 100; n must be positive.
func Capacity(n int) QueueOption { return capacityOption(n) }

type overflowOption[T any] struct {
	fn func(context.Context, []T) error
}

func (o overflowOption[T]) applyQueue(c *queueConfig) {
	c.overflow = o.fn
	c.overflowType = reflect.TypeFor[[]T]().String()
}

func (o overflowOption[T]) String() string {
	return fmt.Sprintf("Overflow(func(context.Context, %s) error)", reflect.TypeFor[[]T]())
}

// Overflow receives, at stop, the items a queue accepted but could not
// process before Stop's context ended, in the order they were enqueued. It
// runs once, as a cleanup of the queue's service (after its workers and
// children stopped), with Stop's context, which has usually ended then:
// keep the items with a context of its own. It may run after Stop has
// returned; [Service.Done] closes after it. An error or a panic in it is
// logged as a failed cleanup.
//
// T must be the queue's item type; [NewQueue] refuses another one with an
// error wrapping [ErrInvalidArgument].
func Overflow[T any](fn func(ctx context.Context, items []T) error) QueueOption {
	return overflowOption[T]{fn: fn}
}

type backoffOption struct{ initial, max time.Duration }

func (o backoffOption) applyWatcher(c *watcherConfig) { c.backoff, c.maxBackoff = o.initial, o.max }
func (o backoffOption) String() string {
	return fmt.Sprintf("RetryBackoff(%v, %v)", o.initial, o.max)
}

// RetryBackoff sets how a watcher retries after a failure: the first retry
// waits initial, each further consecutive failure twice as long, up to
// maxDelay. A success resets the backoff, and a poller goes back to its
// interval. The default is RetryBackoff(time.Second, time.Minute); both
// must be positive and initial must not exceed maxDelay.
func RetryBackoff(initial, maxDelay time.Duration) WatcherOption {
	return backoffOption{initial: initial, max: maxDelay}
}

// dedupeOption is the equality a watcher or observable uses to skip equal
// values: deep, or a func(a, b T) bool in equal.
type dedupeOption struct {
	deep     bool
	equal    any
	typeName string
}

func (o dedupeOption) applyWatcher(c *watcherConfig)       { c.dedupe = o }
func (o dedupeOption) applyObservable(c *observableConfig) { c.dedupe = o }

func (o dedupeOption) String() string {
	if o.deep {
		return "Dedupe()"
	}
	return fmt.Sprintf("DedupeFunc(func(a, b %s) bool)", o.typeName)
}

// DedupeOption is returned by [Dedupe] and [DedupeFunc]; it configures
// watchers and observables alike.
type DedupeOption interface {
	WatcherOption
	ObservableOption
}

// Dedupe makes a watcher or an observable skip a value equal to the
// current one, as reflect.DeepEqual says: subscribers are not notified
// and it does not count as a change.
func Dedupe() DedupeOption { return dedupeOption{deep: true} }

// DedupeFunc is [Dedupe] with equal deciding whether two values are the
// same. T must be the watcher's or observable's value type; another one is
// refused with an error wrapping [ErrInvalidArgument].
func DedupeFunc[T any](equal func(a, b T) bool) DedupeOption {
	return dedupeOption{equal: equal, typeName: reflect.TypeFor[T]().String()}
}

// equalFunc returns the equality o configures for values of type T, nil
// for none, or an error for a function of another type.
func equalFunc[T any](o dedupeOption) (func(a, b T) bool, error) {
	switch {
	case o.deep:
		return func(a, b T) bool { return reflect.DeepEqual(a, b) }, nil
	case o.equal == nil:
		return nil, nil
	}
	fn, ok := o.equal.(func(a, b T) bool)
	switch {
	case !ok:
		return nil, fmt.Errorf("DedupeFunc compares %s, the values are %s", o.typeName, reflect.TypeFor[T]())
	case fn == nil:
		return nil, fmt.Errorf("nil DedupeFunc function")
	}
	return fn, nil
}

type unhealthyAfterOption int

func (o unhealthyAfterOption) applyWatcher(c *watcherConfig) { c.unhealthyAfter = int(o) }
func (o unhealthyAfterOption) String() string                { return fmt.Sprintf("UnhealthyAfter(%d)", int(o)) }

// UnhealthyAfter makes a watcher report its service unhealthy, in
// [Service.Status], while its last n or more attempts failed. Without it,
// or with n = 0, a watcher's failures show only in its figures; n must not
// be negative.
func UnhealthyAfter(n int) WatcherOption { return unhealthyAfterOption(n) }

type notifyCurrentOption struct{}

func (notifyCurrentOption) applySubscribe(c *subscribeConfig) { c.current = true }
func (notifyCurrentOption) String() string                    { return "NotifyCurrent()" }

// NotifyCurrent makes a subscriber also receive the current value when it
// subscribes, before any later one. A watcher that has no value yet has
// nothing to send.
func NotifyCurrent() SubscribeOption { return notifyCurrentOption{} }

type outputOption struct {
	stream string
	fn     func(line string)
}

func (o outputOption) applyProcess(c *processConfig) {
	if o.stream == "stdout" {
		c.stdout = o.fn
	} else {
		c.stderr = o.fn
	}
}

func (o outputOption) String() string {
	if o.stream == "stdout" {
		return "Stdout(func(string))"
	}
	return "Stderr(func(string))"
}

// Stdout sends each line a process writes to its standard output to fn,
// without the line ending, in order. Without it the lines are logged at
// info level with the service's name and the process's label and pid.
// fn runs on a goroutine of os/exec, possibly at the same time as the
// [Stderr] function; a panic in it is logged and the next line still
// comes. A line longer than 64 KiB arrives in pieces.
func Stdout(fn func(line string)) ProcessOption { return outputOption{stream: "stdout", fn: fn} }

// Stderr is [Stdout] for the process's standard error.
func Stderr(fn func(line string)) ProcessOption { return outputOption{stream: "stderr", fn: fn} }

type graceOption time.Duration

func (o graceOption) applyProcess(c *processConfig) { c.grace = time.Duration(o) }
func (o graceOption) String() string                { return fmt.Sprintf("Grace(%v)", time.Duration(o)) }

// Grace sets how long a process has to exit after SIGTERM when its service
// stops, before it is killed; Stop's context bounds it too. The default is
// 5s; d must be positive.
func Grace(d time.Duration) ProcessOption { return graceOption(d) }

type configureOption func(*exec.Cmd)

func (o configureOption) applyProcess(c *processConfig) { c.configure = o }
func (configureOption) String() string                  { return "Configure(func(*exec.Cmd))" }

// Configure lets fn set up each command before it starts, at the first
// start and at every restart: its Dir, Env, Stdin, SysProcAttr and so on.
// StartProcess sets Stdout, Stderr, Cancel and WaitDelay after fn, so fn's
// values for those are replaced.
func Configure(fn func(cmd *exec.Cmd)) ProcessOption { return configureOption(fn) }

type timeZoneOption struct{ loc *time.Location }

func (o timeZoneOption) applyCron(c *cronConfig) { c.loc = o.loc }
func (o timeZoneOption) String() string {
	if o.loc == nil {
		return "TimeZone(nil)"
	}
	return fmt.Sprintf("TimeZone(%s)", o.loc)
}

// TimeZone makes a cron spec's fields read in loc. Without it, and without
// a CRON_TZ= or TZ= prefix in the spec, they are read in time.Local. A spec
// with a prefix and this option is refused: say the zone once.
func TimeZone(loc *time.Location) CronOption { return timeZoneOption{loc: loc} }
