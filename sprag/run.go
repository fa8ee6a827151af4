package sprag

import (
	"context"
	"errors"
	"runtime/debug"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag/internal/callsite"
	"github.com/sprag-go/sprag/sprag/internal/runs"
	"github.com/sprag-go/sprag/sprag/internal/telemetry"
)

// activity identifies one piece of managed work (a timer, a task, a
// callback, OnStart, OnStop) in logs and errors; its runs are counted (see
// internal/runs) so that Close can wait for them, name the ones that
// outlive it, and tell which of them called it.
type activity struct {
	runs.Work
	kind  Kind
	label string
	tel   atomic.Pointer[telemetry.Work] // made at the first run that is measured or traced
}

// observe begins the telemetry of a run of a, whose label is label() and
// whose spans link to link unless it is nil, when the scope measures or
// traces anything; otherwise it costs one atomic load. The context it
// returns carries the run's span, if any.
func (s *Scope) observe(ctx context.Context, a *activity, label func() string, link *trace.SpanContext) (context.Context, telemetry.Run) {
	on := s.observed.Load()
	if !on.On() {
		return ctx, telemetry.Run{}
	}
	w := a.tel.Load()
	if w == nil {
		a.tel.CompareAndSwap(nil, s.tel.Work(on, s.Name(), a.kind.String(), label(), link))
		w = a.tel.Load()
	}
	return w.Begin(ctx, on.Tracer())
}

// isPanic reports whether err holds a *PanicError.
func isPanic(err error) bool {
	var pe *PanicError
	return errors.As(err, &pe)
}

// Safely calls fn and returns its error, or a *[PanicError] with the
// stack when fn panics: the panic policy of sprag, for primitives that
// call user code of their own. Every call of user code in sprag goes
// through it.
func Safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// call runs fn with panic recovery. An error or panic is logged with the
// scope's fields and returned as a *CallbackError.
func (s *Scope) call(ctx context.Context, a *activity, fn func(context.Context) error) error {
	if err := Safely(func() error { return fn(ctx) }); err != nil {
		return s.failed(a, err)
	}
	return nil
}

// failed logs err as a failure of a and returns it as a *CallbackError.
func (s *Scope) failed(a *activity, err error) error {
	s.logFailure(a.kind, a.label, "", err)
	return &CallbackError{Service: s.Name(), Kind: a.kind, Label: a.label, Err: err}
}

// logFailure logs a failure of managed work at error level, with the stack
// when it is a panic. The line names the work by its label, which is the
// user's function; the library's own line would tell the reader nothing,
// so the log carries no caller.
func (s *Scope) logFailure(kind Kind, label, topic string, err error) {
	s.logFailed(kind.String(), label, topic, err)
}

// LogFailure logs err as a failure of work of the scope, as the scope logs
// its own: at error level, with the scope's name, what (the kind of work:
// "queue", "watcher") and label as fields, and the stack of a
// *[PanicError]. Primitives built on a Scope use it for their own work.
func (s *Scope) LogFailure(what, label string, err error) { s.logFailed(what, label, "", err) }

func (s *Scope) logFailed(kind, label, topic string, err error) {
	fields := []zap.Field{zap.String("kind", kind), zap.String("label", label)}
	if topic != "" {
		fields = append(fields, zap.String("topic", topic))
	}
	fields = append(fields, zap.Error(err))
	msg := kind + " failed"
	var pe *PanicError
	if errors.As(err, &pe) {
		fields = append(fields, zap.ByteString("stack", pe.Stack))
		msg = kind + " panicked"
	}
	s.Logger().WithOptions(zap.WithCaller(false)).Error(msg, fields...)
}

// FuncLabel names the function fn as the runtime does, without its
// package path: "main.(*MetricsService).collect-fm" becomes
// "(*MetricsService).collect". It is the default label of managed work,
// and returns "" for a nil function.
func FuncLabel(fn any) string { return callsite.FuncName(fn) }

// userCallSite returns "dir/file.go:line" of the innermost caller outside
// package sprag and its subpackages: the user's line that made a call.
func userCallSite() string { return callsite.Outside("github.com/sprag-go/sprag/sprag", 2) }
