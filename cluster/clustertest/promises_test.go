package clustertest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster/clustertest"
)

// fatalTB is a testing.TB whose Fatalf records the message and ends the
// calling goroutine, as the testing package's does.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func TestStartClusterRefusesFewerThanOneServer(t *testing.T) {
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		clustertest.StartCluster(tb, 0)
		t.Error("StartCluster returned a cluster of no server")
	}()
	<-done
	tb.mu.Lock()
	defer tb.mu.Unlock()
	assert.Contains(t, tb.msg, "at least one server", "a clear failure of the test, not a panic")
}

func TestServerListensOn127AndRestartsAfterAShutdown(t *testing.T) {
	srv := clustertest.StartServer(t)
	assert.True(t, strings.HasPrefix(srv.URL(), "nats://127.0.0.1:"), srv.URL())
	url := srv.URL()
	srv.Shutdown()
	require.Nil(t, srv.NATS())
	srv.Restart() // starts it again though it was down
	require.NotNil(t, srv.NATS())
	assert.Equal(t, url, srv.URL())
	nc, _ := connect(t, srv.URL())
	assert.True(t, nc.IsConnected())
}

func TestProxyTakesAHostAndPort(t *testing.T) {
	srv := clustertest.StartServer(t)
	p := clustertest.NewProxy(t, strings.TrimPrefix(srv.URL(), "nats://"))
	assert.True(t, strings.HasPrefix(p.URL(), "nats://127.0.0.1:"), p.URL())
	nc, _ := connect(t, p.URL())
	require.True(t, nc.IsConnected())
	require.NoError(t, nc.Flush(), "the proxy carries the protocol both ways")
}
