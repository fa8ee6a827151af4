package clustertest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 30 * time.Second

// Server is an embedded NATS server with JetStream, listening on a random
// port of 127.0.0.1, its data in a temporary directory of the test. It is
// shut down when the test ends. Its methods are safe for concurrent use.
type Server struct {
	tb   testing.TB
	mu   sync.Mutex
	opts server.Options // the options it was started with; Restart reuses them
	srv  *server.Server // nil while shut down
}

// StartServer starts a single NATS server with JetStream for tb and
// registers its shutdown with tb.Cleanup. It fails the test if the server
// does not start within 30 seconds.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	opts := baseOptions(tb, "single")
	opts.Port = server.RANDOM_PORT
	s := &Server{tb: tb, opts: opts}
	s.start()
	// The first start picked a port: keep it so that Restart comes back
	// on the same address, where clients reconnect.
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port
	tb.Cleanup(s.Shutdown)
	return s
}

func baseOptions(tb testing.TB, name string) server.Options {
	return server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		JetStream:  true,
		StoreDir:   tb.TempDir(),
		NoLog:      true,
		NoSigs:     true,
		// A test server keeps the machine's memory and disk for the tests.
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  1 << 30,
	}
}

func (s *Server) start() {
	s.tb.Helper()
	opts := s.opts // the server keeps a pointer and may change it
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.tb.Fatalf("clustertest: new NATS server %s: %v", s.opts.ServerName, err)
	}
	srv.Start()
	if !srv.ReadyForConnections(startTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		s.tb.Fatalf("clustertest: NATS server %s did not start within %v", s.opts.ServerName, startTimeout)
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
}

// URL returns the server's client URL, such as "nats://127.0.0.1:41234".
// It stays the same across Restart.
func (s *Server) URL() string {
	return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

// Name returns the server's name.
func (s *Server) Name() string { return s.opts.ServerName }

// NATS returns the running server, or nil while it is shut down.
func (s *Server) NATS() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// Shutdown stops the server and waits until it has stopped; its clients
// see the connection drop and try to reconnect. Shutting down a server
// that is down does nothing.
func (s *Server) Shutdown() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart shuts the server down, if it runs, and starts it again on the
// same address with the same data directory: streams, consumers and keys
// stored on disk survive, as they do when a real server restarts.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Shutdown()
	s.start()
}

// Cluster is a JetStream cluster of embedded servers on 127.0.0.1, each
// given the route list of all the others up front. It is shut down when
// the test ends.
type Cluster struct {
	// Servers are the cluster's servers, named "n1", "n2", … in this
	// order, which is also the order of URLs. Each is shut down with the
	// cluster.
	Servers []*Server
}

// StartCluster starts a cluster of n NATS servers with JetStream for tb,
// waits until its JetStream meta leader is elected, and registers its
// shutdown with tb.Cleanup. n must be at least 1; use 3 for replicated
// streams. It fails the test if the cluster does not form within 30
// seconds.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	if n < 1 {
		tb.Fatalf("clustertest: a cluster needs at least one server, got %d", n)
	}
	var c *Cluster
	var err error
	// The ports are picked by listening on port 0 and closing the
	// listener, so another process may take one before the server binds
	// it: then start again with other ports.
	for attempt := 0; attempt < 3; attempt++ {
		c, err = startCluster(tb, n)
		if err == nil {
			break
		}
	}
	if err != nil {
		tb.Fatalf("clustertest: start a cluster of %d: %v", n, err)
	}
	tb.Cleanup(c.Shutdown)
	if err := c.waitMetaLeader(startTimeout); err != nil {
		tb.Fatalf("clustertest: %v", err)
	}
	return c
}

func startCluster(tb testing.TB, n int) (*Cluster, error) {
	clientPorts, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	routePorts, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	routes := make([]*url.URL, n)
	for i, p := range routePorts {
		routes[i] = &url.URL{Scheme: "nats-route", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))}
	}
	c := &Cluster{}
	for i := range n {
		opts := baseOptions(tb, fmt.Sprintf("n%d", i+1))
		opts.Port = clientPorts[i]
		opts.Cluster = server.ClusterOpts{Name: "clustertest", Host: "127.0.0.1", Port: routePorts[i]}
		opts.Routes = routes
		srv, err := server.NewServer(&opts)
		if err != nil {
			c.Shutdown()
			return nil, err
		}
		srv.Start()
		if !srv.ReadyForConnections(startTimeout) {
			srv.Shutdown()
			srv.WaitForShutdown()
			c.Shutdown()
			return nil, fmt.Errorf("server %s did not start within %v (port taken?)", opts.ServerName, startTimeout)
		}
		c.Servers = append(c.Servers, &Server{tb: tb, opts: opts, srv: srv})
	}
	return c, nil
}

// freePorts returns n ports of 127.0.0.1 that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitMetaLeader waits until every server of the cluster agrees on one
// JetStream meta leader and the leader sees every other server online and
// caught up: before that, creating a replicated stream may fail with "no
// suitable peers" or time out.
func (c *Cluster) waitMetaLeader(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c.ready() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("the JetStream cluster did not form in time")
}

func (c *Cluster) ready() bool {
	leader := ""
	for _, s := range c.Servers {
		srv := s.NATS()
		if srv == nil || !srv.JetStreamEnabled() {
			return false
		}
		info, err := srv.Jsz(nil)
		if err != nil || info.Meta == nil || info.Meta.Leader == "" {
			return false
		}
		if leader != "" && leader != info.Meta.Leader {
			return false
		}
		leader = info.Meta.Leader
		if srv.Name() != leader {
			continue
		}
		if len(info.Meta.Replicas) != len(c.Servers)-1 {
			return false
		}
		for _, p := range info.Meta.Replicas {
			if !p.Current || p.Offline {
				return false
			}
		}
	}
	return true
}

// URLs returns the client URLs of the servers, in order.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.URL()
	}
	return urls
}

// URL returns the client URLs of every server joined by commas, the form
// nats.Connect accepts.
func (c *Cluster) URL() string { return strings.Join(c.URLs(), ",") }

// Shutdown stops every server of the cluster and waits for them.
func (c *Cluster) Shutdown() {
	for _, s := range c.Servers {
		s.Shutdown()
	}
}
