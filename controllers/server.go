package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag"
)

// Server is the app's one HTTP server, and a sprag service: its OnStart
// opens the listener and serves on a task of its own, its OnStop shuts the
// server down gracefully. Running it is running a service:
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

	cfg      config
	registry *sprag.Registry
	mux      atomic.Pointer[http.ServeMux]

	mu        sync.Mutex
	routes    []*route
	mountErrs []error
	hs        *http.Server
	bound     string
	serving   *sprag.Task
}

// NewServer returns a server that resolves services from registry (a nil
// registry is an empty one) and answers /healthz and /readyz, configured by
// opts. It listens on the [WithAddr] address, else on the address in the
// [EnvAddr] environment variable, else on [DefaultAddr].
//
// NewServer opens nothing: the listener opens in OnStart. It fails for
// invalid options, with an error wrapping [ErrInvalidOption] that names
// each of them, and for controllers of [WithControllers] that Mount
// refuses.
func NewServer(registry *sprag.Registry, opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	cfg.addr = DefaultAddr
	if addr := os.Getenv(EnvAddr); addr != "" {
		cfg.addr = addr
	}
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("new http server: %w", err)
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
	s := &Server{cfg: cfg, registry: registry}
	if err := s.add(s.builtinRoutes(), nil); err != nil {
		return nil, fmt.Errorf("new http server: %w", err) // not reached: the built-ins do not conflict
	}
	if len(cfg.controllers) > 0 {
		if err := s.Mount(cfg.controllers...); err != nil {
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

// OnStart opens the listener and starts serving on a task of the service
// ([sprag.Service.Spawn]); the server accepts connections when it returns.
// It fails, and the service with it, when a Mount or Handle failed, and
// when the address cannot be listened on: a port in use gives an error
// that names the address and wraps the system's (syscall.EADDRINUSE).
//
// Request contexts derive from the service's context, so they also end
// when the service is torn down after OnStop.
func (s *Server) OnStart(ctx context.Context) error { //nolint:contextcheck // requests get the service context, which outlives ctx
	s.mu.Lock()
	mountErr := errors.Join(s.mountErrs...)
	s.mu.Unlock()
	if mountErr != nil {
		return fmt.Errorf("http server: %w", mountErr)
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.addr)
	if err != nil {
		return fmt.Errorf("http server: listen on %q: %w", s.cfg.addr, err)
	}
	addr := ln.Addr().String()
	errorLog, err := zap.NewStdLogAt(s.log().With(zap.String("addr", addr)), zap.WarnLevel)
	if err != nil {
		_ = ln.Close() // the listener never served; its Close error says nothing more
		return fmt.Errorf("http server on %s: error log: %w", addr, err)
	}
	svcCtx := s.Context()
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.readHeaderTimeout,
		ReadTimeout:       s.cfg.readTimeout,
		WriteTimeout:      s.cfg.writeTimeout,
		IdleTimeout:       s.cfg.idleTimeout,
		MaxHeaderBytes:    s.cfg.maxHeaderBytes,
		ErrorLog:          errorLog,
		BaseContext:       func(net.Listener) context.Context { return svcCtx },
	}
	task, err := s.Spawn(func(context.Context) error {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server on %s: serve: %w", addr, err)
		}
		return nil
	}, sprag.Label("serve "+addr))
	if err != nil {
		_ = ln.Close() // Spawn refused, so Serve never took the listener
		return fmt.Errorf("http server on %s: %w", addr, err)
	}

	s.mu.Lock()
	s.hs, s.bound, s.serving = hs, addr, task
	s.mu.Unlock()
	s.log().Info("http server listening", zap.String("addr", addr), zap.Int("routes", len(s.Routes())))
	return nil
}

// OnStop shuts the server down with ctx (http.Server.Shutdown): it stops
// accepting connections, closes idle ones, and waits for in-flight requests
// to finish. When ctx ends first, the remaining connections are closed at
// once and the error wraps ctx's.
func (s *Server) OnStop(ctx context.Context) error {
	s.mu.Lock()
	hs, addr := s.hs, s.bound
	s.mu.Unlock()
	if hs == nil {
		return nil
	}
	if err := hs.Shutdown(ctx); err != nil {
		return errors.Join(fmt.Errorf("http server on %s: shutdown: %w", addr, err), hs.Close())
	}
	return nil
}

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
func (s *Server) log() *zap.Logger {
	if s.cfg.logger != nil {
		return s.cfg.logger
	}
	return s.Logger()
}
