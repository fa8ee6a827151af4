package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// Server is the app's one HTTP server, and a sprag service: its OnStart
// opens the listener and serves on a task of its own, its OnStop drains and
// shuts the server down gracefully. Running it is running a service:
//
//	srv, err := controllers.NewServer(registry, controllers.WithAddr("127.0.0.1:8080"))
//	...
//	err = srv.Mount(&DashboardController{}, &OrdersController{})
//	err = sprag.Bind(srv, "http", runtime)
//	err = srv.Start(ctx)  // listening when Start returns
//	defer srv.Stop(stopCtx) // in-flight requests finish, until stopCtx ends
//
// fxmodule provides it as a service like any other.
//
// A Server is made by [NewServer]; the zero value is not usable. Its methods
// are safe for concurrent use.
type Server struct {
	sprag.Service

	cfg       config
	registry  *sprag.Registry
	tel       *telemetry
	chain     http.Handler // the server's middleware around the router; fixed by NewServer
	unmatched *route       // what serves a request no route matches
	mux       atomic.Pointer[muxes]

	logger      atomic.Pointer[zap.Logger]    // log's logger, fixed by OnStart; nil before
	sampled     atomic.Pointer[sampledLogger] // the request logger, built from the base logger
	draining    atomic.Bool                   // the stop has begun: /readyz answers 503
	openStreams atomic.Int64                  // stream clients connected, against WithMaxStreams

	mu          sync.Mutex
	routes      []*route            // guarded by mu
	mountErrs   []error             // guarded by mu
	streams     []*Stream           // guarded by mu
	streamsLive bool                // the streams are subscribed; guarded by mu
	hs          *http.Server        // guarded by mu
	bound       string              // guarded by mu
	serving     *sprag.Task         // guarded by mu
	shutDown    chan struct{}       // closed by OnStop once hs is shut down or closed; guarded by mu
	metricsReg  metric.Registration // the stream figures' callback; guarded by mu

	// listen opens the listener; nil means net.ListenConfig. The package's
	// tests set it to serve on in-memory connections in a synctest bubble.
	listen func(ctx context.Context, network, addr string) (net.Listener, error)
}

// NewServer returns a server that resolves services from registry (a nil
// registry is an empty one) and answers /healthz and /readyz, configured by
// opts. It listens on the [WithAddr] address, else on [DefaultAddr],
// "localhost:8080"; it reads no environment variable.
//
// NewServer opens nothing: the listener opens in OnStart. It fails for
// invalid options, with an error wrapping [ErrInvalidOption] that names
// each of them, and for controllers of [WithControllers] and streams of
// [WithStream] that Mount or Stream refuses.
func NewServer(registry *sprag.Registry, opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// Name the middleware at fault too: every mistake in one error.
		if _, err := chain(http.NotFoundHandler(), cfg.middleware); err != nil {
			errs = append(errs, fmt.Errorf("%v: %w: %w", middlewareOption(cfg.middleware), ErrInvalidOption, err))
		}
		return nil, fmt.Errorf("new http server: %w", errors.Join(errs...))
	}
	if cfg.validate == nil {
		cfg.validate = newValidator()
	} else {
		cfg.validate.RegisterTagNameFunc(jsonFieldName)
	}
	if cfg.shell == nil {
		cfg.shell = DefaultShell()
	}
	if registry == nil {
		registry = sprag.NewRegistry()
	}
	tel, err := newTelemetry(cfg.meterProvider, cfg.tracerProvider, cfg.propagator)
	if err != nil {
		return nil, fmt.Errorf("new http server: %w", err)
	}
	s := &Server{cfg: cfg, registry: registry, tel: tel}
	if s.chain, err = chain(http.HandlerFunc(s.router), cfg.middleware); err != nil {
		return nil, fmt.Errorf("new http server: %v: %w: %w", middlewareOption(cfg.middleware), ErrInvalidOption, err)
	}
	s.unmatched = &route{kind: kindBuiltin, owner: "server"}
	s.unmatched.handler = http.HandlerFunc(s.serveUnmatched)
	if err := s.add(s.builtinRoutes(), nil); err != nil {
		return nil, fmt.Errorf("new http server: %w", err) // not reached: the built-ins do not conflict
	}
	if len(cfg.controllers) > 0 {
		if err := s.Mount(cfg.controllers...); err != nil {
			return nil, fmt.Errorf("new http server: %w", err)
		}
	}
	for _, spec := range cfg.streams {
		if _, err := s.Stream(spec.route, spec.opts...); err != nil {
			return nil, fmt.Errorf("new http server: %w", err)
		}
	}
	return s, nil
}

// Registry returns the registry the server resolves services from and
// reports readiness of.
func (s *Server) Registry() *sprag.Registry { return s.registry }

// Addr returns the address the server listens on: once OnStart has opened
// the listener, the bound address, with the real port when the configured
// one was 0 ("127.0.0.1:54321"); before, the configured address.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound != "" {
		return s.bound
	}
	return s.cfg.addr
}

// OnStart opens the listener, subscribes the streams' bus listeners and
// starts serving on a task of the service; the server accepts connections
// when it returns. It fails, and the service with it, when a Mount, Handle
// or Stream failed, and when the address cannot be listened on: a port in
// use gives an error that names the address and wraps the system's
// (syscall.EADDRINUSE).
//
// Request contexts derive from the service's context, so they also end
// when the service is torn down after OnStop.
func (s *Server) OnStart(ctx context.Context) error { //nolint:contextcheck // requests get the service context, which outlives ctx
	// The service's logger is set by Bind, once, before the start: from
	// here on it does not change, and requests read it without a lock.
	s.logger.Store(s.log())
	s.mu.Lock()
	mountErr := errors.Join(s.mountErrs...)
	s.mu.Unlock()
	if mountErr != nil {
		return fmt.Errorf("http server: %w", mountErr)
	}

	listen := s.listen
	if listen == nil {
		var lc net.ListenConfig
		listen = lc.Listen
	}
	ln, err := listen(ctx, "tcp", s.cfg.addr)
	if err != nil {
		return fmt.Errorf("http server: listen on %q: %w", s.cfg.addr, err)
	}
	addr := ln.Addr().String()
	fail := func(err error) error {
		s.stopStreams()
		_ = ln.Close() // the listener never served; its Close error says nothing more
		return fmt.Errorf("http server on %s: %w", addr, err)
	}
	errorLog, err := zap.NewStdLogAt(s.log().With(zap.String("addr", addr)), zap.WarnLevel)
	if err != nil {
		return fail(fmt.Errorf("error log: %w", err))
	}
	if err := s.startStreams(); err != nil {
		return fail(err)
	}
	reg, err := s.tel.observeStreams(s.StreamStats)
	if err != nil {
		return fail(err)
	}
	svcCtx := s.Context()
	var inFlight requestCount
	shutDown := make(chan struct{})
	hs := &http.Server{
		Handler:           inFlight.count(s),
		ReadHeaderTimeout: s.cfg.readHeaderTimeout,
		ReadTimeout:       s.cfg.readTimeout,
		WriteTimeout:      s.cfg.writeTimeout,
		IdleTimeout:       s.cfg.idleTimeout,
		MaxHeaderBytes:    s.cfg.maxHeaderBytes,
		ErrorLog:          errorLog,
		BaseContext:       func(net.Listener) context.Context { return svcCtx },
	}
	task, err := s.spawn("serve "+addr, func(context.Context) error {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server on %s: serve: %w", addr, err)
		}
		// The requests still served, even past the stop's deadline, are
		// the task's, so that Done waits for them; when OnStop shuts the
		// server down (its drain began first), once no new one can begin.
		if s.draining.Load() {
			<-shutDown
		}
		inFlight.wait()
		return nil
	})
	if err != nil {
		_ = reg.Unregister() // nothing was observed yet
		return fail(err)
	}

	s.draining.Store(false)
	s.mu.Lock()
	s.hs, s.bound, s.serving, s.metricsReg, s.shutDown = hs, addr, task, reg, shutDown
	s.mu.Unlock()
	s.log().Info("http server listening", zap.String("addr", addr), zap.Int("routes", len(s.Routes())))
	return nil
}

// OnStop stops the server in this order:
//
//  1. /readyz answers 503 from now on, and the server goes on serving for
//     the [WithDrainDelay] time (none by default) or until ctx ends, so
//     that a load balancer stops sending requests first;
//  2. every stream ends: its clients' responses end and its bus listeners
//     are removed, so that no stream holds up the shutdown;
//  3. http.Server.Shutdown with ctx: the listener closes, idle connections
//     close, and in-flight requests run to completion. When ctx ends
//     first, the remaining connections are closed at once and the error
//     wraps ctx's; a request still running then is the serve task's work,
//     which Stop names and [sprag.Service.Done] waits for.
func (s *Server) OnStop(ctx context.Context) error {
	s.mu.Lock()
	hs, addr, reg, shutDown := s.hs, s.bound, s.metricsReg, s.shutDown
	s.metricsReg, s.shutDown = nil, nil
	s.mu.Unlock()
	if hs == nil {
		s.stopStreams()
		return nil
	}
	if shutDown != nil {
		defer close(shutDown)
	}
	s.drain(ctx)
	s.stopStreams()
	var errs []error
	if reg != nil {
		if err := reg.Unregister(); err != nil {
			errs = append(errs, fmt.Errorf("http server on %s: unregister stream metrics: %w", addr, err))
		}
	}
	if err := hs.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http server on %s: shutdown: %w", addr, err), hs.Close())
	}
	return errors.Join(errs...)
}

// drain turns /readyz to 503 and waits the drain delay, or until ctx ends.
func (s *Server) drain(ctx context.Context) {
	d := s.cfg.drainDelay
	if d > 0 {
		// Logged first, so that a /readyz that reports draining has been logged.
		s.log().Info("http server draining", zap.Duration("delay", d))
	}
	s.draining.Store(true)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// spawn runs fn on a task of the server's service, labelled label, and
// returns an error when sprag refused to start it (the service is not
// running). It is the one call of sprag.Service.Spawn in this package.
func (s *Server) spawn(label string, fn func(context.Context) error) (*sprag.Task, error) {
	return s.Spawn(fn, sprag.Label(label))
}

// bus returns the event bus of the runtime the server was bound with,
// which streams listen to. It is the one use of sprag.Service.Runtime in
// this package.
func (s *Server) bus() *eventbus.Bus { return s.Runtime().Bus }

// Health reports an error when the server stopped serving while the service
// still runs: the listener failed. sprag calls it for the service's status,
// so /readyz turns 503 then.
func (s *Server) Health(context.Context) error {
	s.mu.Lock()
	task, addr := s.serving, s.bound
	s.mu.Unlock()
	if task == nil {
		return nil
	}
	select {
	case <-task.Done():
		if err := task.Err(); err != nil {
			return err
		}
		return fmt.Errorf("http server on %s: no longer serving", addr)
	default:
		return nil
	}
}

// log returns the logger of requests: WithLogger's, else the service's.
// Once the server started, it is one atomic load; before (a Server driven
// with httptest), reading the service's logger takes its scope's lock.
func (s *Server) log() *zap.Logger {
	if l := s.logger.Load(); l != nil {
		return l
	}
	if s.cfg.logger != nil {
		return s.cfg.logger
	}
	return s.Logger()
}

// requestCount counts the requests the server's own http.Server serves,
// so that its serve task waits for them.
type requestCount struct {
	n       atomic.Int64
	waiting atomic.Bool
	mu      sync.Mutex
	idle    chan struct{} // closed when n drops to 0 while wait waits; guarded by mu
}

// count returns h, counted.
func (c *requestCount) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		defer c.leave()
		h.ServeHTTP(w, r)
	})
}

func (c *requestCount) leave() {
	if c.n.Add(-1) != 0 || !c.waiting.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle != nil && c.n.Load() == 0 {
		close(c.idle)
		c.idle = nil
	}
}

// wait returns once no request is being served.
func (c *requestCount) wait() {
	c.mu.Lock()
	c.waiting.Store(true)
	if c.n.Load() == 0 {
		c.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	c.idle = idle
	c.mu.Unlock()
	<-idle
}
