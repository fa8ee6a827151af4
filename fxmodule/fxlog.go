package fxmodule

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LogFxEvents routes fx's own events (provides, invokes, hooks, start,
// stop) to the logger of [Module], under the logger name "fx". Put it at
// the top level of fx.New to cover the whole app; [App] does.
//
// Each failure is logged once, at error level, as one entry whose error
// field is the message, one line per mistake (no multi-line
// "errorVerbose", no stack of the logging call, nor the stack of the call
// that fx's own provide error carries):
//
//   - "the app could not be built": fx.New failed; for a wiring mistake the
//     error is the *[WiringError] alone, without the layers of fx and dig
//     around it. fx's start, which returns the same error, logs nothing
//     more.
//   - "start failed": the start failed, such as a port in use; a start
//     whose context ended names the service that was starting.
//   - "OnStop hook failed", for each stop hook that failed, and "stop
//     failed" when the stop's error holds more than those, such as its
//     deadline.
//
// A received signal and the start of a failed start's rollback are logged
// at info level; every other event at debug level. The logger needs nothing from the app: when fx.New failed before
// anything was provided, it logs with a default logger (see [EnvLog]).
var LogFxEvents = fx.WithLogger(newFxLogger)

type fxLoggerParams struct {
	fx.In
	Logger *logger        `optional:"true"`
	Watch  *deadlineWatch `optional:"true"`
}

func newFxLogger(p fxLoggerParams) fxevent.Logger {
	l := p.Logger
	if l == nil { // nothing was provided: fx.New failed early
		mode, _ := modeFromEnv()
		l = &logger{Logger: defaultLogger(mode, zapcore.Lock(os.Stderr), os.Getenv("NO_COLOR") == "")}
	}
	named := l.Named("fx").WithOptions(zap.AddStacktrace(zap.LevelEnablerFunc(func(zapcore.Level) bool { return false })))
	debug := &fxevent.ZapLogger{Logger: named}
	debug.UseLogLevel(zapcore.DebugLevel)
	if p.Watch != nil {
		p.Watch.setReported()
	}
	return &fxLogger{log: named, debug: debug, watch: p.Watch}
}

// fxLogger is fxmodule's fxevent.Logger.
type fxLogger struct {
	log   *zap.Logger
	debug *fxevent.ZapLogger
	watch *deadlineWatch // nil when fx.New failed before providing it

	mu     sync.Mutex
	logged []string // the errors logged, not to log again
}

// LogEvent logs ev: failures once at error level, signals and rollbacks
// at info level, the rest at debug level.
func (l *fxLogger) LogEvent(ev fxevent.Event) {
	switch e := ev.(type) {
	case *fxevent.Provided:
		l.buildFailed(e.Err, ev)
	case *fxevent.Supplied:
		l.buildFailed(e.Err, ev)
	case *fxevent.Decorated:
		l.buildFailed(e.Err, ev)
	case *fxevent.Replaced:
		l.buildFailed(e.Err, ev)
	case *fxevent.Invoked:
		l.buildFailed(e.Err, ev)
	case *fxevent.LoggerInitialized:
		if e.Err != nil {
			l.fail("fx event logger failed", e.Err)
			return
		}
		l.toDebug(ev)
	case *fxevent.RollingBack:
		l.log.Info("start failed: rolling back")
	case *fxevent.Started:
		if e.Err == nil {
			l.toDebug(ev)
			return
		}
		err := e.Err
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			if l.watch != nil {
				err = l.watch.startError(err)
			}
		}
		l.fail("start failed", err)
	case *fxevent.OnStopExecuted:
		if e.Err == nil {
			l.toDebug(ev)
			return
		}
		l.fail("OnStop hook failed", e.Err, zap.String("callee", e.FunctionName), zap.String("caller", e.CallerName))
	case *fxevent.Stopping:
		l.log.Info("received signal", zap.String("signal", e.Signal.String()))
	case *fxevent.Stopped:
		if e.Err == nil {
			l.toDebug(ev)
			return
		}
		l.fail("stop failed", e.Err)
	case *fxevent.OnStartExecuted:
		l.partOfLater("OnStart hook failed", e.Err, ev)
	case *fxevent.Run:
		l.partOfLater("constructor failed", e.Err, ev)
	case *fxevent.RolledBack:
		l.partOfLater("rollback failed", e.Err, ev)
	default:
		l.toDebug(ev)
	}
}

// partOfLater logs ev at debug level: its error, if any, is a part of the
// error of the start or of the build, which is logged with it.
func (l *fxLogger) partOfLater(msg string, err error, ev fxevent.Event) {
	if err == nil {
		l.toDebug(ev)
		return
	}
	if l.log.Core().Enabled(zapcore.DebugLevel) {
		l.log.Debug(msg, zap.Error(plainError{reduceError(err)}))
	}
}

// buildFailed logs err, the failure of fx.New, or ev at debug level when
// there is none.
func (l *fxLogger) buildFailed(err error, ev fxevent.Event) {
	if err == nil {
		l.toDebug(ev)
		return
	}
	l.fail("the app could not be built", err)
}

// fail logs err at error level, reduced to fxmodule's own errors in it,
// unless every error in it has been logged already.
func (l *fxLogger) fail(msg string, err error, fields ...zap.Field) {
	err = reduceError(err)
	l.mu.Lock()
	fresh := false
	for _, part := range flatten(err) {
		if s := part.Error(); !slices.Contains(l.logged, s) {
			l.logged = append(l.logged, s)
			fresh = true
		}
	}
	l.mu.Unlock()
	if fresh {
		l.log.Error(msg, append(fields, zap.Error(plainError{err}))...)
	}
}

// toDebug logs ev at debug level, as fx's zap logger writes it, with
// fxmodule's names for the constructors it builds with reflect, which fx
// would call "reflect.makeFuncStub".
func (l *fxLogger) toDebug(ev fxevent.Event) {
	if !l.log.Core().Enabled(zapcore.DebugLevel) {
		return
	}
	switch e := ev.(type) {
	case *fxevent.Provided:
		if strings.Contains(e.ConstructorName, reflectStub) && len(e.OutputTypeNames) > 0 {
			c := *e
			c.ConstructorName = "fxmodule's constructor of " + e.OutputTypeNames[0]
			ev = &c
		}
	case *fxevent.BeforeRun:
		if strings.Contains(e.Name, reflectStub) {
			c := *e
			c.Name = "fxmodule's constructor"
			ev = &c
		}
	case *fxevent.Run:
		if strings.Contains(e.Name, reflectStub) {
			c := *e
			c.Name = "fxmodule's constructor"
			ev = &c
		}
	}
	l.debug.LogEvent(ev)
}

// reflectStub is what fx calls a function built with reflect.
const reflectStub = "reflect.makeFuncStub"

// flatten returns the errors joined in err, or err.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok { // only the joined errors, not their causes
		var all []error
		for _, e := range j.Unwrap() {
			all = append(all, flatten(e)...)
		}
		return all
	}
	return []error{err}
}

// plainError shows an error by its message alone: zap adds an
// "errorVerbose" field, multi-line, for errors that format themselves, as
// fx's and dig's do.
type plainError struct{ err error }

// Error is the error's message without the stack of the call that fx
// puts before the reason of a provide error: one line per mistake.
func (e plainError) Error() string { return withoutStack(e.err.Error()) }

// withoutStack cuts fx's provide error, "fx.Provide(…) from:", the stack
// of the call one frame a line, then "Failed: <reason>", to its reason.
func withoutStack(msg string) string {
	const failed = "\nFailed: "
	if i := strings.Index(msg, failed); i >= 0 && strings.Contains(msg[:i], " from:\n") {
		return msg[i+len(failed):]
	}
	return msg
}
func (e plainError) Unwrap() error { return e.err }
