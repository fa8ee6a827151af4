package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDashboardEndToEnd builds the program, runs it on a free port, uses it
// as a client would, stops it with SIGTERM and reads its log.
func TestDashboardEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net, not a wait
	defer cancel()

	bin := filepath.Join(t.TempDir(), "dashboard")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".") //nolint:gosec // builds this package into the test's temporary directory
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	cmd := exec.CommandContext(ctx, bin) //nolint:gosec // runs the binary the test just built
	cmd.Env = append(os.Environ(), "SPRAG_ADDR=127.0.0.1:0", "EMAIL_KEY=")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var logs lockedBuffer
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			t.Logf("the program was killed: %v", <-exited)
		}
	}()

	// The program prints its address once every service has started.
	base := readBaseURL(t, stdout)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	status, body := request(ctx, t, http.MethodGet, base+"/readyz", "", "application/json")
	require.Equal(t, http.StatusOK, status, body)

	var dash struct {
		Stats struct {
			Goroutines int   `json:"goroutines"`
			HeapBytes  int64 `json:"heap_bytes"`
			Orders     int64 `json:"orders"`
		} `json:"stats"`
	}
	status, body = request(ctx, t, http.MethodGet, base+"/dashboard", "", "application/json")
	require.Equal(t, http.StatusOK, status, body)
	require.NoError(t, json.Unmarshal([]byte(body), &dash))
	assert.Positive(t, dash.Stats.Goroutines, "real runtime figures")
	assert.Positive(t, dash.Stats.HeapBytes)
	assert.Zero(t, dash.Stats.Orders)

	status, body = request(ctx, t, http.MethodGet, base+"/dashboard", "", "text/html")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `<script id="sprag-data" type="application/json">`)
	assert.Contains(t, body, "sprag-go dashboard", "the app's shell and title")

	status, body = request(ctx, t, http.MethodPost, base+"/orders/create", `{"customer":"Ada","email":"ada@example.com","total_cents":1999}`, "application/json")
	require.Equal(t, http.StatusOK, status, body)
	status, body = request(ctx, t, http.MethodPost, base+"/orders/create", `{"customer":"","email":"nope","total_cents":0}`, "application/json")
	require.Equal(t, http.StatusBadRequest, status, "invalid orders are refused")
	assert.Contains(t, body, `"email"`)

	status, body = request(ctx, t, http.MethodGet, base+"/dashboard", "", "application/json")
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, json.Unmarshal([]byte(body), &dash))
	assert.Equal(t, int64(1), dash.Stats.Orders, "the order reached MetricsService through the bus")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "exit code 0 after SIGTERM; log:\n%s", logs.String())
	case <-ctx.Done():
		t.Fatalf("the program did not exit after SIGTERM; log:\n%s", logs.String())
	}
	assert.Equal(t, 0, cmd.ProcessState.ExitCode())

	log := logs.String()
	started, stopped := serviceEvents(log, "service started"), serviceEvents(log, "service stopped")
	topStarted, topStopped := topLevel(started), topLevel(stopped)
	require.ElementsMatch(t, []string{"email", "metrics", "orders", "http"}, topStarted, log)
	assert.Equal(t, reversed(topStarted), topStopped, "every service stopped, in reverse order of start")
	assert.Contains(t, stopped, "email/outbox", "the adopted child stopped too")
	assert.Less(t, indexOf(stopped, "email/outbox"), indexOf(stopped, "email"), "a child stops before its parent has")
	assert.Contains(t, log, "would send mail", "without EMAIL_KEY, mail is logged")
	assert.Contains(t, log, "orders taken while running", "the cleanup hook ran")
}

func readBaseURL(t *testing.T, stdout io.Reader) string {
	t.Helper()
	re := regexp.MustCompile(`dashboard: (http://\S+)/dashboard`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("the program did not print its address: %v", sc.Err())
	return ""
}

func request(ctx context.Context, t *testing.T, method, url, body, accept string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Accept", accept)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

var serviceField = regexp.MustCompile(`"service": "([^"]+)"`)

// serviceEvents returns, in log order, the services of the lines with msg.
func serviceEvents(log, msg string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "\t"+msg+"\t") {
			continue
		}
		if m := serviceField.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func topLevel(names []string) []string {
	var out []string
	for _, n := range names {
		if !strings.Contains(n, "/") {
			out = append(out, n)
		}
	}
	return out
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
