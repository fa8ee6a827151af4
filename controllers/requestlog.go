package controllers

import (
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultRequestLogLevel is the level of the request line of a request
// answered below 500 without [WithRequestLogLevel]: debug, so that an app
// logging at info writes no line per successful request, the main cost of
// a busy server's logs. Requests answered 500 or more are logged at warn
// level, except the health probes: /healthz and /readyz are logged at
// debug level whatever their status.
const DefaultRequestLogLevel = zapcore.DebugLevel

// sampling is the configuration of WithRequestLogSampling.
type sampling struct {
	tick              time.Duration
	first, thereafter int
}

// sampledLogger is the request logger built from a base logger.
type sampledLogger struct {
	base, logger *zap.Logger
}

// requestLogger returns the logger of request lines below 500: the
// server's, through zap's sampler when WithRequestLogSampling is set. It
// is built once per base logger.
func (s *Server) requestLogger() *zap.Logger {
	base := s.log()
	smp := s.cfg.sampling
	if smp == nil {
		return base
	}
	for {
		c := s.sampled.Load()
		if c != nil && c.base == base {
			return c.logger
		}
		l := base.WithOptions(zap.WrapCore(func(core zapcore.Core) zapcore.Core {
			return zapcore.NewSamplerWithOptions(core, smp.tick, smp.first, smp.thereafter)
		}))
		// Concurrent first requests share the one that is stored first,
		// and so its counts.
		if s.sampled.CompareAndSwap(c, &sampledLogger{base: base, logger: l}) {
			return l
		}
	}
}

// logRequest writes the request's line, "http request", with its method,
// route pattern, status, duration, request id and trace: at debug level,
// through the sampler, for the health probes, whatever their status (a 503
// of /readyz is its answer, not a failure, and "not ready" says why); at
// warn level, never sampled, for any other status of 500 or more; at the
// WithRequestLogLevel level, through the sampler, otherwise.
func (s *Server) logRequest(rw *responseWriter, d time.Duration) {
	status := rw.finalStatus()
	var ce *zapcore.CheckedEntry
	switch {
	case rw.rt != nil && rw.rt.quiet:
		ce = s.requestLogger().Check(zapcore.DebugLevel, "http request")
	case status >= http.StatusInternalServerError:
		ce = s.log().Check(zapcore.WarnLevel, "http request")
	default:
		ce = s.requestLogger().Check(s.cfg.requestLevel, "http request")
	}
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 7)
	fields = append(fields,
		zap.String("method", rw.req.Method),
		zap.String("route", rw.pattern()),
		zap.Int("status", status),
		zap.Duration("duration", d),
		zap.String("request_id", rw.id),
	)
	ce.Write(rw.tel.appendTrace(fields)...)
}

type requestLevelOption zapcore.Level

// WithRequestLogLevel sets the level of the request line ("http request")
// of requests answered with a status below 500; the default is
// [DefaultRequestLogLevel]. Requests answered 500 or more are logged at
// warn level; /healthz and /readyz at debug level, whatever their status.
// The level is one of debug, info, warn and error; any other (dpanic,
// panic and fatal, whose lines panic or end the process) is an invalid
// option.
func WithRequestLogLevel(level zapcore.Level) Option { return requestLevelOption(level) }

func (o requestLevelOption) apply(c *config) error {
	if l := zapcore.Level(o); l < zapcore.DebugLevel || l > zapcore.ErrorLevel {
		return fmt.Errorf("%v: %w: need debug, info, warn or error", o, ErrInvalidOption)
	}
	c.requestLevel = zapcore.Level(o)
	return nil
}

func (o requestLevelOption) String() string {
	return fmt.Sprintf("controllers.WithRequestLogLevel(%v)", zapcore.Level(o))
}

type samplingOption sampling

// WithRequestLogSampling passes the request lines of requests answered
// below 500 through zap's sampler (zapcore.NewSamplerWithOptions): in each tick, the
// first lines are logged, then one in thereafter (none when thereafter is
// 0). The lines of the health probes pass through it too, whatever their
// status; those of other requests answered 500 or more are never sampled.
// tick must be positive and the counts not negative.
func WithRequestLogSampling(tick time.Duration, first, thereafter int) Option {
	return samplingOption{tick: tick, first: first, thereafter: thereafter}
}

func (o samplingOption) apply(c *config) error {
	if o.tick <= 0 || o.first < 0 || o.thereafter < 0 {
		return fmt.Errorf("%v: %w: need a positive tick and counts that are not negative", o, ErrInvalidOption)
	}
	smp := sampling(o)
	c.sampling = &smp
	return nil
}

func (o samplingOption) String() string {
	return fmt.Sprintf("controllers.WithRequestLogSampling(%v, %d, %d)", o.tick, o.first, o.thereafter)
}
