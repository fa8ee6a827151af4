package sprag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
)

// Task is the handle of a goroutine started by [Service.Spawn] or
// [Service.SpawnAfter]. Its methods are safe for concurrent use.
type Task struct {
	s      *Service
	act    activity
	fn     func(context.Context) error
	policy *RestartPolicy

	mu       sync.Mutex
	finished bool
	named    bool // act.label is final: see Label
	err      error
	done     chan struct{} // made on demand by Done and Wait
}

// TaskGaveUp is emitted on the service's bus when a task exhausts its
// [RestartPolicy]. fxmodule can shut the app down on it.
var TaskGaveUp = eventbus.NewTopic[TaskFailure]("sprag:task:gave-up")

// TaskFailure is the payload of [TaskGaveUp].
type TaskFailure struct {
	Service string
	Label   string
	Err     error // wraps ErrRestartLimit and the last failure
}

// Spawn runs fn on a goroutine that the service owns. fn's context is the
// service's, cancelled when the service stops; Stop waits for fn to return,
// until Stop's deadline.
//
// An error or panic from fn is logged with the service's name, the task's
// label and, for a panic, the stack, and is the result that the handle's
// Wait and Err return. An error that only says fn's context ended is not a
// failure: it is returned as is and not logged. With [Restart], a failing
// fn runs again after a backoff until the policy's limit.
//
// A nil fn or a call when the service is not starting or running starts
// nothing: the handle is done at once and its Err says why.
//
//nolint:contextcheck,nolintlint // callers are not flagged: fn's context derives from the service's on purpose (contextcheck reads this on the declaration)
func (s *Service) Spawn(fn func(ctx context.Context) error, opts ...TaskOption) *Task {
	t, ok := s.newTask(fn, opts)
	if !ok {
		return t
	}
	s.mu.Lock()
	if !s.State().active() {
		t.finish(s.notRunningLocked(KindTask, t.Label()))
		s.mu.Unlock()
		return t
	}
	s.enter(&t.act)
	s.trackLocked(t)
	s.mu.Unlock()

	go t.main()
	return t
}

// SpawnAfter is [Service.Spawn] after a delay d, as the original's
// spawn_later: until d has passed no goroutine exists. When the service
// stops first the task never runs and its Err wraps [ErrStopped].
func (s *Service) SpawnAfter(d time.Duration, fn func(ctx context.Context) error, opts ...TaskOption) *Task {
	t, ok := s.newTask(fn, opts)
	if !ok {
		return t
	}
	timer := &Timer{s: s, d: d}
	timer.fn = func(ctx context.Context) error { // ctx is the service's
		t.run(ctx)
		return nil
	}
	timer.options().onDrop = func() { t.finish(fmt.Errorf("task %s did not run: %w", t.Label(), ErrStopped)) }
	if err := s.scheduleTimer(timer, KindTask, timerConfig{label: t.Label()}).Err(); err != nil {
		t.finish(err)
	}
	return t
}

// main is the goroutine of a spawned task. The service's context was set
// by Start before Spawn could run, so it is read here without the lock.
func (t *Task) main() {
	defer t.s.leave(&t.act)
	t.run(t.s.ctx)
}

// trackLocked adds t to the tasks Stop may have to name, pruning the ones
// that ended once the list has doubled, so that it stays proportional to
// the tasks running. The caller holds s.mu.
func (s *Service) trackLocked(t *Task) {
	if len(s.tasks) >= s.pruneAt {
		s.tasks = slices.DeleteFunc(s.tasks, func(t *Task) bool { return t.act.runs.Load() == 0 })
		s.pruneAt = max(64, 2*len(s.tasks))
	}
	s.tasks = append(s.tasks, t)
}

func taskConfigOf(opts []TaskOption) taskConfig {
	c := new(taskConfig)
	for _, o := range opts {
		o.applyTask(c)
	}
	return *c
}

// newTask builds the handle; it reports false, with the handle done, for
// bad arguments.
func (s *Service) newTask(fn func(context.Context) error, opts []TaskOption) (*Task, bool) {
	var c taskConfig
	if len(opts) > 0 {
		c = taskConfigOf(opts)
	}
	t := &Task{s: s, fn: fn, policy: c.restart}
	t.act = activity{kind: KindTask, label: c.label}
	if fn == nil {
		t.finish(s.invalid(KindTask, t.Label(), "nil function"))
		return t, false
	}
	if c.restart != nil {
		if err := c.restart.validate(); err != nil {
			t.finish(s.invalid(KindTask, t.Label(), "%v", err))
			return t, false
		}
	}
	return t, true
}

// run runs fn with ctx, the task's context, restarting it as the policy
// allows, and records the result.
func (t *Task) run(ctx context.Context) {
	var restarts []time.Time
	for {
		err := t.attempt(ctx)
		if err == nil || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
			t.finish(err) // success, or a clean exit on cancellation
			return
		}
		t.Label() // the activity's label is read below and by Stop
		failure := t.s.failed(&t.act, err)
		if t.policy == nil || ctx.Err() != nil {
			t.finish(failure)
			return
		}
		now := time.Now()
		restarts = t.policy.recent(restarts, now)
		if len(restarts) >= t.policy.maxRestarts() {
			t.giveUp(ctx, len(restarts), failure)
			return
		}
		restarts = append(restarts, now)
		wait := time.NewTimer(t.policy.backoff(len(restarts)))
		select {
		case <-wait.C:
			t.s.Logger().Info("restarting task", zap.String("kind", KindTask.String()), zap.String("label", t.Label()), zap.Int("restart", len(restarts)))
		case <-ctx.Done():
			wait.Stop()
			t.finish(failure)
			return
		}
	}
}

// attempt runs fn once with panic recovery.
func (t *Task) attempt(ctx context.Context) error {
	return safely(func() error { return t.fn(ctx) })
}

func (t *Task) giveUp(ctx context.Context, restarts int, last error) {
	s := t.s
	err := fmt.Errorf("%w (%d restarts within %v): %w", ErrRestartLimit, restarts, t.policy.window(), last)
	s.mu.Lock()
	s.gaveUp = append(s.gaveUp, t.Label())
	s.mu.Unlock()
	s.Logger().Error("task gave up", zap.String("kind", KindTask.String()), zap.String("label", t.Label()), zap.Error(err))
	// The emit's failures are reported by the bus's own error handler. It
	// comes before finish, so that whoever waits on the task sees the
	// give-up fully reported.
	_ = TaskGaveUp.Emit(context.WithoutCancel(ctx), s.Runtime().Bus, TaskFailure{Service: s.Name(), Label: t.Label(), Err: err})
	t.finish(err)
}

// finish records the result and marks the task done; only the first call
// counts.
func (t *Task) finish(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished {
		return
	}
	t.finished, t.err = true, err
	if t.done != nil {
		close(t.done)
	}
}

// Wait waits for the task to end and returns its result, or returns ctx's
// error if ctx ends first.
func (t *Task) Wait(ctx context.Context) error {
	select {
	case <-t.Done():
		return t.Err()
	case <-ctx.Done():
		return fmt.Errorf("wait for task %s: %w", t.Label(), ctx.Err())
	}
}

// Done returns a channel closed when the task has ended.
func (t *Task) Done() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done == nil {
		// Made on demand: most tasks are never waited for, and a channel
		// per task would cost an allocation.
		t.done = make(chan struct{})
		if t.finished {
			close(t.done)
		}
	}
	return t.done
}

// Err returns the task's result once it has ended, and nil before.
func (t *Task) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Label returns the label the task logs with: its [Label] option, or its
// function's name.
func (t *Task) Label() string {
	// Named on first use: naming a function costs more than a short task.
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.named {
		if t.act.label == "" {
			t.act.label = funcLabel(t.fn)
		}
		t.named = true
	}
	return t.act.label
}
