package fxmodule

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// EnvLog is the environment variable that chooses the logger [Module]
// builds when the app provides none: "dev" for [DevLogger]'s console
// logs, "json" or unset for production JSON.
const EnvLog = "SPRAG_LOG"

// logMode is a kind of default logger.
type logMode uint8

const (
	jsonLogs logMode = iota // production: JSON, info level
	devLogs                 // development: console, colour, info level
)

// logModeOut adds a mode to the group DevLogger provides to.
type logModeOut struct {
	fx.Out
	Mode logMode `group:"sprag.log.mode"`
}

// DevLogger makes [Module]'s own logger, used when the app provides no
// *zap.Logger, a development logger: one human-readable line per entry on
// standard error, with the time, the level in colour (unless the NO_COLOR
// environment variable is set), the logger's name, the message and the
// fields, at info level. SPRAG_LOG=dev ([EnvLog]) does the same without
// changing the code. Without either, the logger is production JSON.
// An app that provides its own *zap.Logger keeps it.
func DevLogger() fx.Option {
	return fx.Provide(func() logModeOut { return logModeOut{Mode: devLogs} })
}

// logger is the logger Module uses: the app's, or a default one.
type logger struct {
	*zap.Logger
	envErr error // SPRAG_LOG's mistake, which fails the app's first invoke
}

type loggerParams struct {
	fx.In
	Logger    *zap.Logger `optional:"true"`
	Modes     []logMode   `group:"sprag.log.mode"`
	Lifecycle fx.Lifecycle
}

func newLogger(p loggerParams) (*logger, error) {
	if p.Logger != nil {
		return &logger{Logger: p.Logger}, nil
	}
	// A mistake in SPRAG_LOG fails fx.New in Module's first invoke, not
	// here: LogFxEvents needs this logger to report it.
	mode, envErr := modeFromEnv()
	if len(p.Modes) > 0 {
		mode = devLogs
	}
	l := defaultLogger(mode, zapcore.Lock(os.Stderr), os.Getenv("NO_COLOR") == "")
	p.Lifecycle.Append(fx.StopHook(func() error {
		// Syncing a terminal or a pipe is refused by some systems; that
		// is not a failure of the app.
		if err := l.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTTY) {
			return err
		}
		return nil
	}))
	return &logger{Logger: l, envErr: envErr}, nil
}

// checkLogEnv fails fx.New when SPRAG_LOG is neither dev nor json, and
// the app has no logger of its own.
func checkLogEnv(l *logger) error { return l.envErr }

// modeFromEnv returns the mode SPRAG_LOG asks for.
func modeFromEnv() (logMode, error) {
	switch v := os.Getenv(EnvLog); v {
	case "", "json":
		return jsonLogs, nil
	case "dev":
		return devLogs, nil
	default:
		return jsonLogs, fmt.Errorf("%s=%q: want \"dev\" (console logs) or \"json\" (the default)", EnvLog, v)
	}
}

// defaultLogger builds the logger of mode, writing to out: JSON at info
// level with the caller and zap's production sampling, or the console
// lines of DevLogger. Neither adds the stack of the logging call to
// errors: it would show fxmodule's lines, not the user's, and panics are
// logged with their own stack.
func defaultLogger(mode logMode, out zapcore.WriteSyncer, color bool) *zap.Logger {
	if mode == devLogs {
		enc := zap.NewDevelopmentEncoderConfig()
		enc.EncodeTime = zapcore.TimeEncoderOfLayout(time.TimeOnly + ".000")
		if color {
			enc.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), out, zapcore.InfoLevel))
	}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), out, zapcore.InfoLevel)
	return zap.New(zapcore.NewSamplerWithOptions(core, time.Second, 100, 100), zap.AddCaller())
}
