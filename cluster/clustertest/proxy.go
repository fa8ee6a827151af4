package clustertest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a NATS server, to cut a
// client's connection without stopping the server: [Proxy.Cut] closes
// every connection through it and refuses new ones until
// [Proxy.Restore]. It is closed when the test ends, and waits for its
// goroutines then. Its methods are safe for concurrent use.
type Proxy struct {
	tb     testing.TB // reports what goes wrong in the proxy itself
	target string
	ln     net.Listener
	wg     sync.WaitGroup // the accept loop and two copies per connection

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // open connections, both sides; guarded by mu
	cut    bool                  // refuse connections; guarded by mu
	closed bool                  // guarded by mu
}

// NewProxy starts a proxy to target ("127.0.0.1:4222" or a nats:// URL)
// and registers its closing with tb.Cleanup.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("clustertest: proxy listen: %v", err)
	}
	p := &Proxy{tb: tb, target: hostPort(target), ln: ln, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

func hostPort(target string) string {
	const scheme = "nats://"
	if len(target) > len(scheme) && target[:len(scheme)] == scheme {
		return target[len(scheme):]
	}
	return target
}

// URL returns the proxy's address as a NATS URL.
func (p *Proxy) URL() string { return "nats://" + p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		refuse := p.cut || p.closed
		p.mu.Unlock()
		if refuse {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			// The server is down (a test may shut it down): the client
			// sees its connection close and retries, as it would.
			p.tb.Logf("clustertest: proxy %s: dial %s: %v", p.ln.Addr(), p.target, err)
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.cut || p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = up.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies from src to dst until either side closes, then closes both.
// A copy ends without error when src closes, and with net.ErrClosed when
// Cut or Close closed a side; any other error (a reset) is logged on the
// test, since the client then sees its connection drop.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	if _, err := io.Copy(dst, src); err != nil && !errors.Is(err, net.ErrClosed) {
		p.tb.Logf("clustertest: proxy %s: copy from %s to %s: %v", p.ln.Addr(), src.RemoteAddr(), dst.RemoteAddr(), err)
	}
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Cut closes every connection through the proxy and refuses new ones
// until Restore: the clients see their connection drop and retry.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.closeAllLocked()
}

// Restore accepts connections again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *Proxy) closeAllLocked() {
	for c := range p.conns {
		_ = c.Close()
	}
}

// Close stops the proxy, closes its connections and waits for its
// goroutines. Closing it twice does nothing.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.closeAllLocked()
	p.mu.Unlock()
	if err := p.ln.Close(); err != nil {
		p.tb.Errorf("clustertest: proxy %s: close the listener: %v", p.ln.Addr(), err)
	}
	p.wg.Wait()
}
