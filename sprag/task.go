package sprag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/petermattis/goid"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
	"go.opentelemetry.io/otel/trace"
)

// Task is the handle of a goroutine started by [Scope.Spawn] or
// [Scope.SpawnAfter]. Its methods are safe for concurrent use; they do
// nothing on a nil Task.
type Task struct {
	s    *Scope
	act  activity
	fn   func(context.Context) error
	rare *taskRare // nil for a plain Spawn

	mu    sync.Mutex
	named bool          // act.label is final: see Label
	state atomic.Uint32 // the bits below
	err   error         // the result: written once, before finishedBit
	done  chan struct{} // made on demand by Done and Wait; guarded by mu

	watch *ctxWatch // the task context's Done and AfterFunc functions, made on demand; guarded by mu
}

// taskRare holds what only some tasks have, so that a plain Spawn's
// handle stays small.
type taskRare struct {
	policy *RestartPolicy
	later  *time.Timer        // SpawnAfter's, set before it can fire
	link   *trace.SpanContext // LinkTo's
}

// link returns the span the task's spans link to, or nil.
func (t *Task) link() *trace.SpanContext {
	if t.rare == nil {
		return nil
	}
	return t.rare.link
}

// policy returns the task's restart policy, or nil.
func (t *Task) policy() *RestartPolicy {
	if t.rare == nil {
		return nil
	}
	return t.rare.policy
}

// later returns the timer of a SpawnAfter task, or nil.
func (t *Task) later() *time.Timer {
	if t.rare == nil {
		return nil
	}
	return t.rare.later
}

// The bits of Task.state, set and read without the lock. Pairs of them
// follow the protocol of two flags, each side setting its bit and then
// reading the other's, so that one of the two always sees the other:
// startedBit (set by the task's goroutine) and cancelledBit (by Cancel
// and by Close), so that a task cancelled as it starts is cancelled;
// finishedBit (set once the result is written) and doneWatched (by the
// first Done), so that the Done channel is closed exactly once; ctxEnded
// and ctxWatched, the same for the task's context (see taskCtx).
// finishing is the claim of the one call of finish that counts.
const (
	startedBit uint32 = 1 << iota
	cancelledBit
	finishing
	finishedBit
	doneWatched
	countedBit // counted in sprag.tasks.active
	ctxEnded
	ctxWatched
)

// TaskGaveUp is emitted on the scope's bus when a task exhausts its
// [RestartPolicy]. fxmodule can shut the app down on it.
var TaskGaveUp = eventbus.NewTopic[TaskFailure]("sprag:task:gave-up")

// TaskFailure is the payload of [TaskGaveUp].
type TaskFailure struct {
	Service string
	Label   string
	Err     error // wraps ErrRestartLimit and the last failure
}

// Spawn runs fn on a goroutine that the scope owns. fn's context ends when
// the scope closes or the handle is cancelled ([Task.Cancel]); Close waits
// for fn to return, until its deadline.
//
// An error or panic from fn is logged with the scope's name, the task's
// label and, for a panic, the stack, and is the result that the handle's
// Wait and Err return. An error that only says fn's context ended is not a
// failure: it is returned as is and not logged. With [Restart], a failing
// fn runs again after a backoff until the policy's limit.
//
// A nil fn, a bad option or a call when the scope is not open starts
// nothing: the error says why ([ErrInvalidArgument], [ErrNotRunning]).
func (s *Scope) Spawn(fn func(ctx context.Context) error, opts ...TaskOption) (*Task, error) {
	t, err := s.newTask(fn, opts)
	if err != nil {
		return nil, err
	}
	s.lock()
	if !s.open() {
		defer s.mu.Unlock()
		return nil, s.refuseLocked(KindTask.String(), t.Label())
	}
	s.runs.Begin(&t.act.Work)
	s.trackLocked(t)
	s.mu.Unlock()
	t.began()

	go t.main()
	return t, nil
}

// SpawnAfter is [Scope.Spawn] after a delay d, as the original's
// spawn_later: until d has passed no goroutine exists. When the scope
// closes first the task never runs and its Err wraps [ErrStopped]; when
// it is cancelled first, context.Canceled.
func (s *Scope) SpawnAfter(d time.Duration, fn func(ctx context.Context) error, opts ...TaskOption) (*Task, error) {
	t, err := s.newTask(fn, opts)
	if err != nil {
		return nil, err
	}
	if d <= 0 {
		return nil, s.invalid(KindTask.String(), t.Label(), "delay must be positive, got %v", d)
	}
	s.lock()
	defer s.mu.Unlock()
	if !s.open() {
		return nil, s.refuseLocked(KindTask.String(), t.Label())
	}
	s.trackLocked(t)
	if t.rare == nil {
		t.rare = &taskRare{}
	}
	t.rare.later = time.AfterFunc(d, t.fire)
	return t, nil
}

// fire starts a SpawnAfter task on the time package's goroutine. It sets
// startedBit before it reads cancelledBit, as cut does the reverse, so
// that a task cancelled as it fires either runs or ends unrun, not both.
func (t *Task) fire() {
	s := t.s
	s.mu.Lock()
	why, open := ErrStopped, s.open()
	if t.state.Or(startedBit)&cancelledBit != 0 || !open {
		s.mu.Unlock()
		if open { // cancelled by Cancel, not by Close
			why = context.Canceled
		}
		t.finish(fmt.Errorf("task %s did not run: %w", t.Label(), why))
		return
	}
	s.runs.Begin(&t.act.Work)
	s.mu.Unlock()
	t.main()
}

// main is the goroutine of a task: it runs fn in the task's own context,
// the task itself (taskCtx). That context is not the scope context's
// child: Close cancels every live task itself (step 3), which spares each
// task a registration with the scope's context.
func (t *Task) main() {
	defer t.s.runs.End(&t.act.Work)
	g := goid.Get()
	slot := t.act.Claim(g)
	defer t.act.Release(slot, g)
	ctx := t.context()
	defer ctx.cancel()    // as a context's cancel: what fn started with it ends with the task
	if t.later() != nil { // a SpawnAfter task is alive from here
		t.began()
	}
	if t.state.Or(startedBit)&cancelledBit != 0 {
		ctx.cancel()
	}
	t.run(ctx)
}

// trackLocked adds t to the tasks Close may have to name and cancel,
// pruning the ones that ended once the list has doubled, so that it stays
// proportional to the tasks alive. The caller holds s.mu.
func (s *Scope) trackLocked(t *Task) {
	if len(s.tasks) >= s.tasksAt {
		s.tasks = slices.DeleteFunc(s.tasks, func(t *Task) bool { return t.ended() })
		s.tasksAt = max(64, 2*len(s.tasks))
	}
	s.tasks = append(s.tasks, t)
}

// newTask builds the handle, or the error of bad arguments.
func (s *Scope) newTask(fn func(context.Context) error, opts []TaskOption) (*Task, error) {
	c := taskConfigOf(opts)
	t := &Task{s: s, fn: fn}
	if c.restart != nil || c.link != nil {
		t.rare = &taskRare{policy: c.restart, link: c.link}
	}
	t.act = activity{kind: KindTask, label: c.label}
	if fn == nil {
		return nil, s.invalid(KindTask.String(), c.label, "nil function")
	}
	if c.restart != nil {
		if err := c.restart.Validate(); err != nil {
			return nil, s.invalid(KindTask.String(), t.Label(), "%v", err)
		}
	}
	return t, nil
}

// run runs fn with ctx, the task's context, and records the result; a
// task with a restart policy goes through restarting instead. The
// plain path is kept small: a parked task's goroutine keeps its stack.
func (t *Task) run(ctx context.Context) {
	if t.policy() != nil {
		t.restarting(ctx)
		return
	}
	t.finish(t.attempt(ctx)) // success, a clean exit on cancellation, or a failure
}

// attempt runs fn once, observed, and returns its result: nil, ctx's
// error for a clean exit on cancellation, or the logged failure.
func (t *Task) attempt(ctx context.Context) error {
	runCtx, obs := t.s.observe(ctx, &t.act, t.Label, t.link())
	err := Safely(func() error { return t.fn(runCtx) })
	if err == nil || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
		obs.End(runCtx, nil, false)
		return err
	}
	obs.End(runCtx, err, isPanic(err))
	t.Label() // the activity's label is read by failed and by Close
	return t.s.failed(&t.act, err)
}

// restarting runs fn with ctx, restarting it as the policy allows, and
// records the result.
func (t *Task) restarting(ctx context.Context) {
	var restarts []time.Time
	for {
		failure := t.attempt(ctx)
		var ce *CallbackError
		if !errors.As(failure, &ce) {
			t.finish(failure) // success, or a clean exit on cancellation
			return
		}
		if ctx.Err() != nil {
			t.finish(failure)
			return
		}
		now := time.Now()
		restarts = t.rare.policy.recent(restarts, now)
		if len(restarts) >= t.rare.policy.maxRestarts() {
			t.giveUp(ctx, len(restarts), failure)
			return
		}
		restarts = append(restarts, now)
		wait := time.NewTimer(t.rare.policy.backoff(len(restarts)))
		select {
		case <-wait.C:
			t.s.Logger().Info("restarting task", zap.String("kind", KindTask.String()), zap.String("label", t.Label()), zap.Int("restart", len(restarts)))
			if w := t.act.tel.Load(); w != nil {
				w.Restarted(ctx)
			}
		case <-ctx.Done():
			wait.Stop()
			t.finish(failure)
			return
		}
	}
}

func (t *Task) giveUp(ctx context.Context, restarts int, last error) {
	s := t.s
	err := fmt.Errorf("%w (%d restarts within %v): %w", ErrRestartLimit, restarts, t.rare.policy.window(), last)
	s.mu.Lock()
	s.gaveUp = append(s.gaveUp, t.Label())
	s.mu.Unlock()
	s.Logger().Error("task gave up", zap.String("kind", KindTask.String()), zap.String("label", t.Label()), zap.Error(err))
	if w := t.act.tel.Load(); w != nil {
		w.GaveUp(ctx)
	}
	// The emit's failures are reported by the bus's own error handler. It
	// comes before finish, so that whoever waits on the task sees the
	// give-up fully reported.
	_ = TaskGaveUp.Emit(context.WithoutCancel(ctx), s.Runtime().Bus, TaskFailure{Service: s.Name(), Label: t.Label(), Err: err})
	t.finish(err)
}

// finish records the result and marks the task done; only the first call
// counts.
func (t *Task) finish(err error) {
	if t.state.Or(finishing)&finishing != 0 {
		return
	}
	t.err = err
	old := t.state.Or(finishedBit)
	if old&doneWatched != 0 { // Done made the channel before it set its bit
		t.mu.Lock()
		close(t.done)
		t.mu.Unlock()
	}
	if old&countedBit != 0 {
		t.s.obs.TaskEnded()
	}
}

// began counts the task in sprag.tasks.active when the scope records
// metrics; finish counts it out if it was counted in.
func (t *Task) began() {
	if t.s.observed.Load().Metrics() {
		t.state.Or(countedBit)
		t.s.obs.TaskBegan()
	}
}

// lazyDone returns *ch, made on first use, when it also sets the watch
// bit: closed at once if the ended bit is set already (the side that sets
// ended saw no watcher: closing is ours), else by that side. The caller
// holds mu.
func (t *Task) lazyDone(ch *chan struct{}, watch, ended uint32) <-chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{})
		if t.state.Or(watch)&ended != 0 {
			close(*ch)
		}
	}
	return *ch
}

// ended reports whether the task has finished.
func (t *Task) ended() bool { return t.state.Load()&finishedBit != 0 }

// cancelRun ends the task because its scope closes: a task that has not
// started never will, and one whose goroutine is about to start finds
// itself cancelled.
func (t *Task) cancelRun() {
	t.state.Or(cancelledBit)
	t.cut(ErrStopped)
}

// cut cancels the context of a task that runs, or ends with why a
// SpawnAfter task that has not started. The caller has set cancelled.
func (t *Task) cut(why error) {
	started := t.state.Load()&startedBit != 0
	switch {
	case started:
		t.context().cancel()
	case !started && t.later() != nil:
		t.later().Stop()
		t.finish(fmt.Errorf("task %s did not run: %w", t.Label(), why))
	}
}

// Cancel cancels the task's context, so that fn can return: Cancel does
// not wait for it (Wait does). A SpawnAfter task that has not started yet
// never starts, and its Err wraps context.Canceled. Cancel reports whether
// this call cancelled the task; it returns false for a task that was
// cancelled before or has ended.
func (t *Task) Cancel() bool {
	if t == nil {
		return false
	}
	if t.state.Or(cancelledBit)&(cancelledBit|finishing) != 0 {
		return false
	}
	t.cut(context.Canceled)
	return true
}

// Wait waits for the task to end and returns its result, or returns ctx's
// error if ctx ends first.
func (t *Task) Wait(ctx context.Context) error {
	if t == nil {
		return nil
	}
	select {
	case <-t.Done():
		return t.Err()
	case <-ctx.Done():
		return fmt.Errorf("wait for task %s: %w", t.Label(), ctx.Err())
	}
}

// Done returns a channel closed when the task has ended.
func (t *Task) Done() <-chan struct{} {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Made on demand: most tasks are never waited for, and a channel per
	// task would cost an allocation.
	return t.lazyDone(&t.done, doneWatched, finishedBit)
}

// Err returns the task's result once it has ended, and nil before: nil
// for success, ctx's error for a clean exit on cancellation, a
// *[CallbackError] for a failure, an error wrapping [ErrRestartLimit] for
// a give-up.
func (t *Task) Err() error {
	if t == nil {
		return nil
	}
	if t.state.Load()&finishedBit == 0 {
		return nil
	}
	return t.err
}

// Label returns the label the task logs with: its [Label] option, or its
// function's name.
func (t *Task) Label() string {
	if t == nil {
		return ""
	}
	// Named on first use: naming a function costs more than a short task.
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.named {
		if t.act.label == "" {
			t.act.label = FuncLabel(t.fn)
		}
		t.named = true
	}
	return t.act.label
}
