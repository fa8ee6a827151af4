package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
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

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// buildDir holds the program that the end-to-end tests build once.
var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	client.CloseIdleConnections()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir) // a temporary directory: nothing to report
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// programBinary builds the program once per test run and returns its path.
func programBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "dashboard-e2e-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "dashboard")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a cold build cache compiles SQLite
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", build.bin, ".") //nolint:gosec // builds this package into a temporary directory
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			build.err = fmt.Errorf("go build: %w\n%s", err, out.String())
		}
	})
	require.NoError(t, build.err)
	return build.bin
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

// program is one run of the built program.
type program struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	stdout lockedBuffer
	stderr lockedBuffer
	exited chan error
}

// startProgram runs the program on a free loopback port with the data
// directory dataDir and extra environment, and waits until it prints its
// address, which it does once every service has started. The program is
// killed when the test ends, if it is still running.
func startProgram(t *testing.T, dataDir string, env ...string) *program {
	t.Helper()
	p := tryStartProgram(t, dataDir, env...)
	if p.base == "" {
		t.Fatalf("the program did not start; its log:\n%s", p.stderr.String())
	}
	return p
}

// tryStartProgram is startProgram for a start that may fail: p.base is
// empty when the program exited before printing its address.
func tryStartProgram(t *testing.T, dataDir string, env ...string) *program {
	t.Helper()
	bin := programBinary(t)
	p := &program{t: t, exited: make(chan error, 1)}
	p.cmd = exec.Command(bin) //nolint:gosec,noctx // the binary the test built; stopped by the test, killed at its end
	p.cmd.Env = append(os.Environ(), "SPRAG_ADDR=127.0.0.1:0", "SPRAG_DATA="+dataDir, "EMAIL_KEY=", "SPRAG_TRACE=")
	p.cmd.Env = append(p.cmd.Env, env...)
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	p.cmd.Stderr = &p.stderr
	require.NoError(t, p.cmd.Start())
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`dashboard: (http://\S+)/dashboard`)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20) // spans printed as JSON are long lines
		found := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.stdout.Write([]byte(line + "\n"))
			if m := re.FindStringSubmatch(line); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		close(addr)
		p.exited <- p.cmd.Wait() // after the pipe is drained, as Wait requires
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill() // it may have exited on its own meanwhile
			if err := <-p.exited; err != nil {
				t.Logf("the program was killed at the end of the test: %v", err)
			}
		}
	})
	select {
	case p.base = <-addr:
	case <-time.After(time.Minute): // a safety net: the start takes milliseconds
		t.Fatalf("the program did not print its address in a minute; its log:\n%s", p.stderr.String())
	}
	return p
}

// wait waits for the program to exit and returns its error (an
// *exec.ExitError for a status other than 0).
func (p *program) wait(timeout time.Duration) error {
	p.t.Helper()
	select {
	case err := <-p.exited:
		return err
	case <-time.After(timeout):
		p.t.Fatalf("the program did not exit within %v; its log:\n%s", timeout, p.stderr.String())
		return nil
	}
}

// stop sends SIGTERM and requires a clean exit.
func (p *program) stop() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(p.t, p.wait(30*time.Second), "exit status 0 after SIGTERM; log:\n%s", p.stderr.String())
}

// request sends one request to the program and returns the status and the
// body.
func (p *program) request(ctx context.Context, method, path, contentType, body, accept string) (int, string) {
	p.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, strings.NewReader(body))
	require.NoError(p.t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	require.NoError(p.t, err)
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	return resp.StatusCode, string(data)
}

// client is the tests' HTTP client: no redirects followed, no idle
// connections kept after a test (CloseIdleConnections in cleanup).
var client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// eventually polls cond every 20 ms until it is true or timeout passes,
// and fails the test with msg then.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
