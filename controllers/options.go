package controllers

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The defaults of a [Server]. The timeouts bound how long a slow or idle
// client can hold a connection; the size limits bound the memory one
// request can take.
const (
	DefaultAddr              = "localhost:8080" // the loopback interface only; WithAddr(":8080") for every one
	DefaultReadHeaderTimeout = 10 * time.Second // request line and headers
	DefaultReadTimeout       = 30 * time.Second // the whole request, body included
	DefaultWriteTimeout      = 30 * time.Second // the response, from the end of the headers
	DefaultIdleTimeout       = 2 * time.Minute  // a keep-alive connection between requests
	DefaultMaxHeaderBytes    = 64 << 10         // 64 KiB of request line and headers
	DefaultBodyLimit         = 1 << 20          // 1 MiB of request body
	DefaultTitle             = "sprag"          // Page.Title without WithTitle
	DefaultMaxStreams        = 1024             // open streams, over all the server's streams
	DefaultDrainDelay        = time.Duration(0) // no drain: the listener closes as the stop begins
)

// An Option configures a [Server] built by [NewServer]. Its String method
// shows it as it would be written in Go, for logs and errors:
// controllers.WithAddr(":8080").
type Option interface {
	apply(*config) error
	String() string
}

// config is what the options set.
type config struct {
	addr              string
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int
	bodyLimit         int64
	shell             *template.Template
	title             string
	logger            *zap.Logger
	validate          *validator.Validate
	controllers       []Controller
	middleware        []Middleware
	crossOrigin       *http.CrossOriginProtection
	requestLevel      zapcore.Level
	sampling          *sampling
	drainDelay        time.Duration
	maxStreams        int
	streams           []streamSpec
	meterProvider     metric.MeterProvider
	tracerProvider    trace.TracerProvider
	propagator        propagation.TextMapPropagator
}

func defaultConfig() config {
	return config{
		readHeaderTimeout: DefaultReadHeaderTimeout,
		readTimeout:       DefaultReadTimeout,
		writeTimeout:      DefaultWriteTimeout,
		idleTimeout:       DefaultIdleTimeout,
		maxHeaderBytes:    DefaultMaxHeaderBytes,
		bodyLimit:         DefaultBodyLimit,
		title:             DefaultTitle,
		addr:              DefaultAddr,
		crossOrigin:       http.NewCrossOriginProtection(),
		requestLevel:      DefaultRequestLogLevel,
		maxStreams:        DefaultMaxStreams,
	}
}

type addrOption string

// WithAddr sets the TCP address the server listens on, such as
// "localhost:8080", ":8080" (every interface) or "127.0.0.1:0" (a free
// port; [Server.Addr] reports it once started). Without it the server
// listens on [DefaultAddr], the loopback interface only: binding every
// interface is a choice the app makes explicitly. The server reads no
// environment variable; the app does (fxmodule reads SPRAG_ADDR). An empty
// address is an invalid option.
func WithAddr(addr string) Option { return addrOption(addr) }

func (o addrOption) apply(c *config) error {
	if o == "" {
		return fmt.Errorf("%v: %w: empty address", o, ErrInvalidOption)
	}
	c.addr = string(o)
	return nil
}

func (o addrOption) String() string { return fmt.Sprintf("controllers.WithAddr(%q)", string(o)) }

type timeoutKind uint8

const (
	readHeaderTimeout timeoutKind = iota
	readTimeout
	writeTimeout
	idleTimeout
)

var timeoutNames = [...]string{
	readHeaderTimeout: "controllers.WithReadHeaderTimeout",
	readTimeout:       "controllers.WithReadTimeout",
	writeTimeout:      "controllers.WithWriteTimeout",
	idleTimeout:       "controllers.WithIdleTimeout",
}

type timeoutOption struct {
	kind timeoutKind
	d    time.Duration
}

// WithReadHeaderTimeout sets how long a client may take to send the request
// line and headers (http.Server.ReadHeaderTimeout). Zero means no limit
// beyond the read timeout; negative is an invalid option.
func WithReadHeaderTimeout(d time.Duration) Option { return timeoutOption{readHeaderTimeout, d} }

// WithReadTimeout sets how long a client may take to send a whole request,
// body included (http.Server.ReadTimeout). Zero means no limit; negative is
// an invalid option.
func WithReadTimeout(d time.Duration) Option { return timeoutOption{readTimeout, d} }

// WithWriteTimeout sets how long the server may take to write a response,
// counted from the end of the request's headers (http.Server.WriteTimeout).
// A Load that runs longer has its response cut. Streams ([Server.Stream])
// are not cut: a write to a stream client that makes no progress for
// between half this time and all of it fails instead, so that a client
// that stopped reading is dropped. Zero means no limit; negative is an
// invalid option.
func WithWriteTimeout(d time.Duration) Option { return timeoutOption{writeTimeout, d} }

// WithIdleTimeout sets how long a keep-alive connection may wait for its
// next request (http.Server.IdleTimeout). Zero means the read timeout;
// negative is an invalid option.
func WithIdleTimeout(d time.Duration) Option { return timeoutOption{idleTimeout, d} }

func (o timeoutOption) apply(c *config) error {
	if o.d < 0 {
		return fmt.Errorf("%v: %w: negative duration", o, ErrInvalidOption)
	}
	switch o.kind {
	case readHeaderTimeout:
		c.readHeaderTimeout = o.d
	case readTimeout:
		c.readTimeout = o.d
	case writeTimeout:
		c.writeTimeout = o.d
	case idleTimeout:
		c.idleTimeout = o.d
	}
	return nil
}

func (o timeoutOption) String() string { return fmt.Sprintf("%s(%v)", timeoutNames[o.kind], o.d) }

type maxHeaderBytesOption int

// WithMaxHeaderBytes sets the largest request line and headers the server
// reads (http.Server.MaxHeaderBytes); a larger request gets 431, once it
// is over by more than the 4 KiB that net/http reads ahead. n must be
// positive.
func WithMaxHeaderBytes(n int) Option { return maxHeaderBytesOption(n) }

func (o maxHeaderBytesOption) apply(c *config) error {
	if o <= 0 {
		return fmt.Errorf("%v: %w: not positive", o, ErrInvalidOption)
	}
	c.maxHeaderBytes = int(o)
	return nil
}

func (o maxHeaderBytesOption) String() string {
	return fmt.Sprintf("controllers.WithMaxHeaderBytes(%d)", int(o))
}

type bodyLimitOption int64

// WithBodyLimit sets the largest request body the server reads, for every
// route: an action with a larger body gets 413, and a raw handler's reads
// fail with *http.MaxBytesError past the limit. n must be positive.
func WithBodyLimit(n int64) Option { return bodyLimitOption(n) }

func (o bodyLimitOption) apply(c *config) error {
	if o <= 0 {
		return fmt.Errorf("%v: %w: not positive", o, ErrInvalidOption)
	}
	c.bodyLimit = int64(o)
	return nil
}

func (o bodyLimitOption) String() string {
	return fmt.Sprintf("controllers.WithBodyLimit(%d)", int64(o))
}

type shellOption struct{ t *template.Template }

// WithShell sets the app's shell: the html/template executed with a *[Page]
// for every HTML response. It must place Page.JSON in a script element of
// type application/json; see [DefaultShell] for the default. A nil template
// is an invalid option.
func WithShell(t *template.Template) Option { return shellOption{t} }

func (o shellOption) apply(c *config) error {
	if o.t == nil {
		return fmt.Errorf("%v: %w: nil template", o, ErrInvalidOption)
	}
	c.shell = o.t
	return nil
}

func (o shellOption) String() string {
	if o.t == nil {
		return "controllers.WithShell(nil)"
	}
	return fmt.Sprintf("controllers.WithShell(%q)", o.t.Name())
}

type titleOption string

// WithTitle sets [Page.Title], the title the shell shows. The default is
// [DefaultTitle].
func WithTitle(title string) Option { return titleOption(title) }

func (o titleOption) apply(c *config) error {
	c.title = string(o)
	return nil
}

func (o titleOption) String() string { return fmt.Sprintf("controllers.WithTitle(%q)", string(o)) }

type loggerOption struct{ l *zap.Logger }

// WithLogger sets the logger of requests, failures and panics. Without it
// the server logs through its service logger (sprag.Service.Logger), which
// carries the name it was bound with. A nil logger is an invalid option.
func WithLogger(l *zap.Logger) Option { return loggerOption{l} }

func (o loggerOption) apply(c *config) error {
	if o.l == nil {
		return fmt.Errorf("%v: %w: nil logger", o, ErrInvalidOption)
	}
	c.logger = o.l
	return nil
}

func (o loggerOption) String() string { return "controllers.WithLogger()" }

type validatorOption struct{ v *validator.Validate }

// WithValidator sets the validator of action inputs, for custom rules
// registered with RegisterValidation. NewServer registers on it a tag-name
// function that names fields by their JSON names, replacing any other,
// so that [FieldError.Field] matches the body. A nil validator is an
// invalid option.
func WithValidator(v *validator.Validate) Option { return validatorOption{v} }

func (o validatorOption) apply(c *config) error {
	if o.v == nil {
		return fmt.Errorf("%v: %w: nil validator", o, ErrInvalidOption)
	}
	c.validate = o.v
	return nil
}

func (o validatorOption) String() string { return "controllers.WithValidator()" }

type controllersOption []Controller

// WithControllers mounts ctrls when [NewServer] builds the server, as
// [Server.Mount] would, so that a wiring mistake fails the constructor:
// fxmodule passes the controllers of its value group this way. Several
// WithControllers add up, in order.
func WithControllers(ctrls ...Controller) Option { return controllersOption(ctrls) }

func (o controllersOption) apply(c *config) error {
	c.controllers = append(c.controllers, o...)
	return nil
}

func (o controllersOption) String() string {
	names := make([]string, len(o))
	for i, c := range o {
		names[i] = typeName(c)
	}
	return "controllers.WithControllers(" + strings.Join(names, ", ") + ")"
}

type drainDelayOption time.Duration

// WithDrainDelay sets how long the server keeps serving after its stop
// begins, with /readyz answering 503, before its listener closes: the time a
// load balancer needs to see the probe fail and stop sending new requests
// (the Kubernetes readiness pattern). Requests keep being served meanwhile,
// and those in flight when the listener closes still complete. The delay
// ends early when the stop's context ends; since the drain and the
// shutdown share that deadline (fx.StopTimeout), keep the delay well under
// it. The default, 0, closes the listener at once; negative is an invalid
// option.
func WithDrainDelay(d time.Duration) Option { return drainDelayOption(d) }

func (o drainDelayOption) apply(c *config) error {
	if o < 0 {
		return fmt.Errorf("%v: %w: negative duration", o, ErrInvalidOption)
	}
	c.drainDelay = time.Duration(o)
	return nil
}

func (o drainDelayOption) String() string {
	return fmt.Sprintf("controllers.WithDrainDelay(%v)", time.Duration(o))
}

type maxStreamsOption int

// WithMaxStreams sets how many streams ([Server.Stream]) may be open at
// once, over all the server's streams; one more is answered 503 with a
// Retry-After header. The default is [DefaultMaxStreams]. n must be
// positive.
func WithMaxStreams(n int) Option { return maxStreamsOption(n) }

func (o maxStreamsOption) apply(c *config) error {
	if o <= 0 {
		return fmt.Errorf("%v: %w: not positive", o, ErrInvalidOption)
	}
	c.maxStreams = int(o)
	return nil
}

func (o maxStreamsOption) String() string {
	return fmt.Sprintf("controllers.WithMaxStreams(%d)", int(o))
}

type meterProviderOption struct{ mp metric.MeterProvider }

// WithMeterProvider sets the OpenTelemetry meter provider of the server's
// metrics. Without it, or with nil, the server makes its instruments from
// otel.GetMeterProvider when it is built; otel's default global provider
// forwards them to the provider the app sets later with
// otel.SetMeterProvider. With no SDK installed the metrics cost nothing
// measurable.
func WithMeterProvider(mp metric.MeterProvider) Option { return meterProviderOption{mp} }

func (o meterProviderOption) apply(c *config) error {
	c.meterProvider = o.mp
	return nil
}

func (o meterProviderOption) String() string { return "controllers.WithMeterProvider()" }

type tracerProviderOption struct{ tp trace.TracerProvider }

// WithTracerProvider sets the OpenTelemetry tracer provider of the
// server's spans. Without it, or with nil, the server uses
// otel.GetTracerProvider on every request, so a provider the app sets later
// takes effect. With no SDK installed (otel's default, or a no-op
// provider) no span is started and nothing is allocated.
func WithTracerProvider(tp trace.TracerProvider) Option { return tracerProviderOption{tp} }

func (o tracerProviderOption) apply(c *config) error {
	c.tracerProvider = o.tp
	return nil
}

func (o tracerProviderOption) String() string { return "controllers.WithTracerProvider()" }

type propagatorOption struct{ p propagation.TextMapPropagator }

// WithPropagator sets how the server reads a request's trace context from
// its headers, such as propagation.TraceContext{} for W3C traceparent.
// Without it, or with nil, the server uses otel.GetTextMapPropagator on
// every request; its default extracts nothing.
func WithPropagator(p propagation.TextMapPropagator) Option { return propagatorOption{p} }

func (o propagatorOption) apply(c *config) error {
	c.propagator = o.p
	return nil
}

func (o propagatorOption) String() string { return "controllers.WithPropagator()" }
