package sprag

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
)

// activity identifies one piece of managed work (a timer, a task, a
// listener, a cleanup) in logs and errors, and counts its runs in progress
// so that Stop can wait for them and name the ones that outlive it.
type activity struct {
	kind  Kind
	runs  atomic.Int32 // runs in progress; a listener may run on several goroutines
	label string
}

// Running work is counted without a lock, so that a task's end or a
// listener call does not contend with the service's mutex. The protocol
// with Stop is the classic one for two flags: a run increments busy and
// then checks that the service is active; Stop makes the service inactive
// and then reads busy. One of the two always sees the other, so either the
// run backs out or Stop waits for it.

// enter records that a run of a begins.
func (s *Service) enter(a *activity) {
	a.runs.Add(1)
	s.busy.Add(1)
}

// leave records that a run of a ended and wakes a Stop waiting for the
// service to become idle.
func (s *Service) leave(a *activity) {
	a.runs.Add(-1)
	if s.busy.Add(-1) == 0 && s.waiting.Load() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.busy.Load() == 0 && s.idle != nil {
			close(s.idle)
			s.idle = nil
		}
	}
}

// waitIdle waits until no managed work runs or ctx ends. When ctx ends
// first it returns a *StuckError naming what still runs, among candidates.
func (s *Service) waitIdle(ctx context.Context, candidates []*activity) error {
	s.mu.Lock()
	s.waiting.Store(true)
	if s.busy.Load() == 0 {
		s.waiting.Store(false)
		s.mu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()

	select {
	case <-idle:
		return nil
	case <-ctx.Done():
	}
	if s.busy.Load() == 0 {
		return nil
	}
	stuck := &StuckError{Service: s.Name()}
	for _, a := range candidates {
		if a.runs.Load() > 0 {
			stuck.Running = append(stuck.Running, Activity{Kind: a.kind, Label: a.label})
		}
	}
	return stuck
}

// candidates returns every activity that may be running: the tasks, the
// timers and the listeners, in that order. The caller holds mu.
func (s *Service) candidatesLocked(timers map[*Timer]struct{}, subs []subscription) []*activity {
	var acts []*activity
	for _, t := range s.tasks {
		t.Label() // names the task before its label is read
		acts = append(acts, &t.act)
	}
	var ts []*activity
	for t := range timers {
		ts = append(ts, &t.act)
	}
	slices.SortFunc(ts, func(a, b *activity) int { return strings.Compare(a.label, b.label) })
	acts = append(acts, ts...)
	for _, sub := range subs {
		acts = append(acts, sub.act)
	}
	return acts
}

// safely calls fn and returns its error, or a *PanicError, with the stack,
// when fn panics. Every call of user code in the package goes through it.
func safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// call runs fn with panic recovery. An error or panic is logged with the
// service's fields and returned as a *CallbackError.
func (s *Service) call(ctx context.Context, a *activity, fn func(context.Context) error) error {
	if err := safely(func() error { return fn(ctx) }); err != nil {
		return s.failed(a, err)
	}
	return nil
}

// failed logs err as a failure of a and returns it as a *CallbackError.
func (s *Service) failed(a *activity, err error) error {
	s.logFailure(a.kind, a.label, "", err)
	return &CallbackError{Service: s.Name(), Kind: a.kind, Label: a.label, Err: err}
}

// logFailure logs a failure of managed work at error level, with the stack
// when it is a panic.
func (s *Service) logFailure(kind Kind, label, topic string, err error) {
	fields := []zap.Field{zap.String("kind", kind.String()), zap.String("label", label)}
	if topic != "" {
		fields = append(fields, zap.String("topic", topic))
	}
	fields = append(fields, zap.Error(err))
	msg := kind.String() + " failed"
	var pe *PanicError
	if errors.As(err, &pe) {
		fields = append(fields, zap.ByteString("stack", pe.Stack))
		msg = kind.String() + " panicked"
	}
	s.Logger().Error(msg, fields...)
}

// funcLabel names fn as the runtime does, without its package path:
// "main.(*MetricsService).collect-fm" becomes "(*MetricsService).collect".
func funcLabel(fn any) string {
	v := reflect.ValueOf(fn)
	f := runtime.FuncForPC(v.Pointer())
	if f == nil {
		return v.Type().String()
	}
	name := f.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSuffix(name, "-fm")
}
