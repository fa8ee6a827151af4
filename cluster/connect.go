package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// conn is the node's connection to NATS and, without a URL, the embedded
// server it runs. Its connection handlers run on the NATS client's
// goroutine: they only log, count and signal.
type conn struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	srv *server.Server // the embedded server, or nil

	reconnects atomic.Int64

	mu        sync.Mutex
	reconnect chan struct{} // closed at the next reconnect, then replaced; guarded by mu
}

// connectTimeout bounds the first connection and the embedded server's
// start.
const connectTimeout = 10 * time.Second

// connect starts the embedded server if the configuration has no URL,
// and connects to NATS.
func connect(ctx context.Context, cfg *config, log *zap.Logger) (*conn, error) {
	c := &conn{reconnect: make(chan struct{})}
	// The node's name for the connection comes first, so that a name
	// given with NATSOptions wins; its handlers and reconnection come
	// after, so that they win.
	opts := append([]nats.Option{nats.Name("sprag " + cfg.replica)}, cfg.natsOpts...)
	opts = append(opts,
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", zap.Error(err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.reconnects.Add(1)
			log.Info("nats reconnected", zap.String("url", nc.ConnectedUrlRedacted()))
			c.signalReconnect()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			fields := []zap.Field{zap.Error(err)}
			if sub != nil {
				fields = append(fields, zap.String("subject", sub.Subject))
			}
			log.Warn("nats asynchronous error", fields...)
		}),
	)
	url := strings.Join(cfg.urls, ",")
	if url == "" {
		srv, err := startEmbedded(cfg, log)
		if err != nil {
			return nil, err
		}
		c.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
	}
	// nats.Connect takes no context: bound it by ctx and connectTimeout
	// through the client's own timeout.
	deadline := connectTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < deadline {
		deadline = max(time.Until(d), time.Millisecond)
	}
	opts = append(opts, nats.Timeout(deadline))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		c.shutdownServer()
		if url == "" {
			return nil, fmt.Errorf("connect to the embedded NATS server: %w", err)
		}
		return nil, fmt.Errorf("connect to NATS at %s: %w", redact(url), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		c.shutdownServer()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	c.nc, c.js = nc, js
	return c, nil
}

// redact drops credentials from URLs for error messages.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := strings.LastIndexByte(p, '@'); at >= 0 {
			if scheme := strings.Index(p, "://"); scheme >= 0 && scheme < at {
				parts[i] = p[:scheme+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// signalReconnect wakes whoever waits for the next reconnect.
func (c *conn) signalReconnect() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.reconnect)
	c.reconnect = make(chan struct{})
}

// reconnected returns a channel closed at the next reconnect.
func (c *conn) reconnected() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reconnect
}

// connected reports whether the connection is up.
func (c *conn) connected() bool { return c.nc.IsConnected() }

// health returns nil while connected, and an error wrapping
// ErrDisconnected that gives the connection's state otherwise.
func (c *conn) health() error {
	if c.nc.IsConnected() {
		return nil
	}
	return fmt.Errorf("nats connection %s: %w", strings.ToLower(c.nc.Status().String()), ErrDisconnected)
}

// close drains the connection, bounded by ctx, then shuts the embedded
// server down.
func (c *conn) close(ctx context.Context) error {
	var errs []error
	if c.nc.IsConnected() {
		done := make(chan struct{})
		c.nc.SetClosedHandler(func(*nats.Conn) { close(done) })
		if err := c.nc.Drain(); err != nil {
			errs = append(errs, fmt.Errorf("drain nats connection: %w", err))
		} else {
			select {
			case <-done:
			case <-ctx.Done():
			}
		}
	}
	c.nc.Close()
	c.shutdownServer()
	return errors.Join(errs...)
}

func (c *conn) shutdownServer() {
	if c.srv != nil {
		c.srv.Shutdown()
		c.srv.WaitForShutdown()
	}
}

// startEmbedded starts a single NATS server with JetStream that only
// accepts in-process connections.
func startEmbedded(cfg *config, log *zap.Logger) (*server.Server, error) {
	opts := &server.Options{
		ServerName: cfg.replica,
		DontListen: true,
		JetStream:  true,
		StoreDir:   cfg.dataDir,
		SyncAlways: cfg.syncAlways,
		NoSigs:     true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server in %s: %w", cfg.dataDir, err)
	}
	srv.SetLoggerV2(serverLogger{log.With(zap.String("component", "nats-server"))}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(connectTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded NATS server in %s: not ready within %v", cfg.dataDir, connectTimeout)
	}
	return srv, nil
}

// serverLogger routes the embedded server's log lines to zap. The server
// formats its own messages; they are logged as they are.
type serverLogger struct{ l *zap.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.l.Info(fmt.Sprintf(format, v...)) }
func (s serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }

// Fatalf is called for errors the server cannot run past. It is logged
// at error level: zap's Fatal would exit the app's process.
func (s serverLogger) Fatalf(format string, v ...any) { s.l.Error(fmt.Sprintf(format, v...)) }
