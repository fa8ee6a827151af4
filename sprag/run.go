package sprag

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/petermattis/goid"
	"go.uber.org/zap"
)

// activity identifies one piece of managed work (a timer, a task, a
// callback, OnStart, OnStop) in logs and errors, and counts its runs in
// progress so that Close can wait for them, name the ones that outlive it,
// and tell which of them called it.
type activity struct {
	kind  Kind
	cb    bool         // a callback's: its runs are not counted in busy
	begun atomic.Int32 // counted runs in progress, from begin to end
	label string
	g     atomic.Int64               // the goroutine of the run that holds the slot, or 0
	more  atomic.Pointer[goroutines] // the goroutines of further concurrent runs; made on demand
}

// goroutines counts the runs of one activity per goroutine, for the runs
// that found the activity's slot taken. A mutex guards it: it serves only
// concurrent runs of one callback.
type goroutines struct {
	mu sync.Mutex
	n  map[int64]int32
}

// Running work is counted without the scope's lock, so that a task's end
// or a callback does not contend with it. The protocol with Close is the
// classic one for two flags: a run marks itself running and then checks
// that the scope is open; Close makes the scope closing and then reads
// what runs. One of the two always sees the other, so either the run backs
// out or Close waits for it.
//
// Timer runs, tasks, OnStart and OnStop are counted in busy, so that Close
// waits for thousands of them without scanning. A callback's call is not:
// its claim of the activity's slot is what marks it running, which keeps a
// call to two atomic operations; Close scans the callbacks it closed.
//
// Each run also records its goroutine, so that Close called from a run of
// its own scope waits for every run but the ones on its caller's
// goroutine: those cannot end before Close returns.

// enter records that a counted run of a begins on the calling goroutine.
// It returns the token that leave needs.
func (s *Scope) enter(a *activity) (slot bool) {
	s.begin(a)
	return a.claim(goid.Get())
}

// leave records that the run of a that enter returned slot for has ended.
func (s *Scope) leave(a *activity, slot bool) {
	a.release(slot, goid.Get())
	s.end(a)
}

// begin counts a run of a, which may start on another goroutine.
func (s *Scope) begin(a *activity) {
	a.begun.Add(1)
	s.busy.Add(1)
}

// end uncounts a run of a and wakes a Close waiting for the scope to
// become idle.
func (s *Scope) end(a *activity) {
	a.begun.Add(-1)
	if n := s.busy.Add(-1); s.waiting.Load() && n <= s.idleAt.Load() {
		s.wake()
	}
}

// wake wakes a Close waiting for runs to end; it checks again.
func (s *Scope) wake() {
	s.mu.Lock()
	if s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
}

// claim records that a run of a is on goroutine g; it returns true when
// the run took a's slot, false when it was counted in more.
func (a *activity) claim(g int64) (slot bool) {
	if a.g.CompareAndSwap(0, g) {
		return true
	}
	m := a.more.Load()
	if m == nil {
		a.more.CompareAndSwap(nil, &goroutines{n: make(map[int64]int32)})
		m = a.more.Load()
	}
	m.mu.Lock()
	m.n[g]++
	m.mu.Unlock()
	return false
}

// release undoes claim, on the same goroutine g.
func (a *activity) release(slot bool, g int64) {
	if slot {
		a.g.Store(0)
		return
	}
	m := a.more.Load()
	m.mu.Lock()
	if m.n[g]--; m.n[g] == 0 {
		delete(m.n, g)
	}
	m.mu.Unlock()
}

// running returns how many runs of a are in progress: begun for counted
// ones, claimed for a callback's.
func (a *activity) running() int32 {
	if !a.cb {
		return a.begun.Load()
	}
	var n int32
	if a.g.Load() != 0 {
		n++
	}
	if m := a.more.Load(); m != nil {
		m.mu.Lock()
		for _, k := range m.n {
			n += k
		}
		m.mu.Unlock()
	}
	return n
}

// on returns how many runs of a are in progress on goroutine g.
func (a *activity) on(g int64) int32 {
	if g == 0 {
		return 0
	}
	var n int32
	if a.g.Load() == g {
		n++
	}
	if m := a.more.Load(); m != nil {
		m.mu.Lock()
		n += m.n[g]
		m.mu.Unlock()
	}
	return n
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
func FuncLabel(fn any) string {
	v := reflect.ValueOf(fn)
	if !v.IsValid() || v.Kind() == reflect.Func && v.IsNil() {
		return ""
	}
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

// userCallSite returns "dir/file.go:line" of the innermost caller outside
// package sprag and its subpackages: the user's line that made a call.
func userCallSite() string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if !inSprag(f.Function) {
			file := f.File
			if i := strings.LastIndexByte(file, '/'); i >= 0 {
				if j := strings.LastIndexByte(file[:i], '/'); j >= 0 {
					file = file[j+1:]
				}
			}
			return file + ":" + strconv.Itoa(f.Line)
		}
		if !more {
			return "unknown"
		}
	}
}

// inSprag reports whether the function named fn (as the runtime names it)
// belongs to package sprag or one of its subpackages, not their tests.
func inSprag(fn string) bool {
	const root = "github.com/sprag-go/sprag/sprag"
	if !strings.HasPrefix(fn, root) {
		return false
	}
	pkg := fn[len(root):] // "", or "/queue", then ".Func..."
	if i := strings.IndexByte(pkg, '.'); i >= 0 {
		pkg = pkg[:i]
	}
	return (pkg == "" || pkg[0] == '/') && !strings.HasSuffix(pkg, "_test")
}
