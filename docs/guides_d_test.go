package docs_test

// The tests of this file hold promises of docs/cluster.md, docs/testing.md,
// docs/dashboard.md and README.md that no other test held. Their names
// and helpers carry the prefix GuideD (gd), so that they share the
// package with the tests of the other guides without a clash.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// ---------------------------------------------------------------------
// docs/cluster.md
// ---------------------------------------------------------------------

// gdOrder is the payload of the cluster tests' typed topics.
type gdOrder struct {
	ID   int    `json:"id"`
	Item string `json:"item"`
}

var (
	gdOrderPlaced  = eventbus.NewTopic[gdOrder]("order:placed")
	gdOrderShipped = eventbus.NewTopic[gdOrder]("order:shipped")
)

// gdEventually polls cond every 10ms until it holds, and fails the test
// once timeout has passed: a bounded wait for something that must happen.
func gdEventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gdNode starts a node named replica on url, bound to rt (a new runtime
// when rt.Bus is nil), and stops it when the test ends.
func gdNode(t *testing.T, url, replica string, rt sprag.Runtime, opts ...cluster.Option) (*cluster.Node, sprag.Runtime) {
	t.Helper()
	n, err := cluster.New(append([]cluster.Option{cluster.URL(url), cluster.Replica(replica)}, opts...)...)
	require.NoError(t, err)
	sopts := []spragtest.Option{spragtest.StopTimeout(20 * time.Second)}
	if rt.Bus != nil {
		sopts = append(sopts, spragtest.WithRuntime(rt))
	}
	return n, spragtest.Start(t, replica, n, sopts...)
}

// gdJetStream returns a JetStream handle of the test's own on url, to look
// at what the nodes stored.
func gdJetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// gdListen collects the orders of topic that reach bus; fail, if not nil,
// decides a listener call's result.
func gdListen(t *testing.T, bus *eventbus.Bus, topic *eventbus.Topic[gdOrder], fail func(gdOrder) error) *spragtest.Collector[int] {
	t.Helper()
	var got spragtest.Collector[int]
	_, err := topic.Listen(bus, func(_ context.Context, o gdOrder) error {
		got.Add(o.ID)
		if fail != nil {
			return fail(o)
		}
		return nil
	})
	require.NoError(t, err)
	return &got
}

func gdCount(c *spragtest.Collector[int], id int) int {
	n := 0
	for _, v := range c.All() {
		if v == id {
			n++
		}
	}
	return n
}

// TestGuideDClusterEmbeddedServerIsInProcess: cluster.md, without a URL
// the node runs an embedded server and "talks to it in process, opening
// no port"; given neither a URL nor a DataDir, New fails.
func TestGuideDClusterEmbeddedServerIsInProcess(t *testing.T) {
	_, err := cluster.New(cluster.Replica("solo"))
	require.ErrorIs(t, err, sprag.ErrInvalidArgument, "neither a URL nor a DataDir")

	dir := t.TempDir()
	n, err := cluster.New(cluster.DataDir(dir), cluster.Replica("solo"))
	require.NoError(t, err)
	spragtest.Start(t, "cluster", n, spragtest.StopTimeout(20*time.Second))
	require.NoError(t, n.Health(context.Background()))
	assert.Equal(t, "pipe", n.Conn().ConnectedAddr(), "an in-process connection, not a socket")
	assert.Equal(t, "solo", n.Conn().ConnectedServerName(), "the embedded server, named after the replica")
	_, err = n.JetStream().AccountInfo(context.Background())
	require.NoError(t, err, "with JetStream")
	assert.DirExists(t, filepath.Join(dir, "jetstream"), "its data in DataDir")
}

// TestGuideDClusterFanOutReceiverDisconnectedGetsTheEventAfterItReconnects:
// cluster.md's table, at least once, "receiver disconnected: delivered
// after it reconnects", once.
func TestGuideDClusterFanOutReceiverDisconnectedGetsTheEventAfterItReconnects(t *testing.T) {
	srv := clustertest.StartServer(t)
	proxy := clustertest.NewProxy(t, srv.URL())
	fanOut := cluster.DistributeTopic(gdOrderPlaced, cluster.AtLeastOnce(cluster.AckWait(2*time.Second)))
	_, rtA := gdNode(t, srv.URL(), "a", sprag.Runtime{}, fanOut)
	b, rtB := gdNode(t, proxy.URL(), "b", sprag.Runtime{}, fanOut)
	got := gdListen(t, rtB.Bus, gdOrderPlaced, nil)

	require.NoError(t, gdOrderPlaced.Emit(context.Background(), rtA.Bus, gdOrder{ID: 1}))
	// Delivered counts the event once its acknowledgement has reached the
	// server: a cut before that would lose the acknowledgement, and the
	// server would deliver the event again.
	gdEventually(t, 15*time.Second, func() bool { return gdCount(got, 1) == 1 && b.Stats().Delivered == 1 },
		"b gets the first event and acknowledges it")

	proxy.Cut()
	gdEventually(t, 10*time.Second, func() bool { return !b.Stats().Connected }, "b sees the cut")
	require.NoError(t, gdOrderPlaced.Emit(context.Background(), rtA.Bus, gdOrder{ID: 2}), "a, connected, stores the event")
	assert.Zero(t, gdCount(got, 2), "b cannot get it while it is cut off")
	proxy.Restore()

	gdEventually(t, 30*time.Second, func() bool { return gdCount(got, 2) == 1 }, "b gets the event emitted while it was away, once it is back")
	js := gdJetStream(t, srv.URL())
	gdEventually(t, 15*time.Second, func() bool {
		s, err := js.Stream(context.Background(), "SPRAG_EVENTS")
		if err != nil {
			return false
		}
		for info := range s.ListConsumers(context.Background()).Info() {
			if strings.HasPrefix(info.Name, "b_") {
				return info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream >= 2
			}
		}
		return false
	}, "b's consumer has settled both events")
	assert.Equal(t, []int{1, 2}, got.All(), "each event reached b exactly once")
}

// TestGuideDClusterAListenerMayRunLongerThanAckWait: cluster.md, "a
// replica alive tells JetStream so every third of AckWait, so a listener
// may run longer": a listener that works for three and a half times
// AckWait is called once, and its event is delivered once.
func TestGuideDClusterAListenerMayRunLongerThanAckWait(t *testing.T) {
	srv := clustertest.StartServer(t)
	// Not the least AckWait allows (1 s): the alive signal, sent every third
	// of it, must then stall 1.3 s, not 0.67 s, to cause a redelivery on
	// a loaded machine.
	const ackWait = 2 * time.Second
	fanOut := cluster.DistributeTopic(gdOrderPlaced, cluster.AtLeastOnce(cluster.AckWait(ackWait)))
	_, rtA := gdNode(t, srv.URL(), "a", sprag.Runtime{}, fanOut)
	b, rtB := gdNode(t, srv.URL(), "b", sprag.Runtime{}, fanOut)
	var attempts spragtest.Collector[int]
	_, err := gdOrderPlaced.Listen(rtB.Bus, func(ctx context.Context, _ gdOrder) error {
		attempts.Add(cluster.Attempt(ctx))
		select {
		case <-time.After(7 * ackWait / 2): // the scenario: long work, not a wait for an event
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	})
	require.NoError(t, err)

	require.NoError(t, gdOrderPlaced.Emit(context.Background(), rtA.Bus, gdOrder{ID: 1}))
	gdEventually(t, 30*time.Second, func() bool { return b.Stats().Delivered == 1 }, "b handles the event and acknowledges it")
	js := gdJetStream(t, srv.URL())
	s, err := js.Stream(context.Background(), "SPRAG_EVENTS")
	require.NoError(t, err)
	found := false
	for info := range s.ListConsumers(context.Background()).Info() {
		if strings.HasPrefix(info.Name, "b_") {
			found = true
			assert.Equal(t, uint64(1), info.Delivered.Consumer, "JetStream delivered the event once: no redelivery past AckWait")
			assert.Zero(t, info.NumRedelivered)
			assert.Zero(t, info.NumAckPending)
		}
	}
	assert.True(t, found, "b's consumer")
	assert.Equal(t, []int{1}, attempts.All(), "the listener was called once, on the first delivery")
	assert.Zero(t, b.Stats().Retried)
}

// TestGuideDClusterAtMostOnceListenerFailureIsReportedOnlyThere:
// cluster.md's table, at most once, "a listener fails: reported on that
// replica, nothing more": the failure is logged by the receiving replica,
// the emitter gets no error, and the event is neither retried nor
// dead-lettered.
func TestGuideDClusterAtMostOnceListenerFailureIsReportedOnlyThere(t *testing.T) {
	srv := clustertest.StartServer(t)
	once := cluster.DistributeTopic(gdOrderShipped, cluster.AtMostOnce())
	a, rtA := gdNode(t, srv.URL(), "a", sprag.Runtime{}, once)
	rtB, logs := spragtest.ObservedRuntime(t)
	b, _ := gdNode(t, srv.URL(), "b", rtB, once)
	got := gdListen(t, rtB.Bus, gdOrderShipped, func(o gdOrder) error {
		if o.ID == 1 {
			return errors.New("printer jammed")
		}
		return nil
	})

	require.NoError(t, gdOrderShipped.Emit(context.Background(), rtA.Bus, gdOrder{ID: 1}), "the emitter does not hear of b's failure")
	require.NoError(t, gdOrderShipped.Emit(context.Background(), rtA.Bus, gdOrder{ID: 2}))
	// Core NATS keeps a publisher's order: once the second event is there,
	// the first has been handled.
	gdEventually(t, 15*time.Second, func() bool { return gdCount(got, 2) == 1 }, "b gets the second event")

	assert.Equal(t, []int{1, 2}, got.All(), "the failed event was handled once, not again")
	failures := logs.FilterMessage("listener failed").All()
	require.Len(t, failures, 1, "b reports its listener's failure")
	assert.Equal(t, "order:shipped", failures[0].ContextMap()["topic"])
	assert.Contains(t, failures[0].ContextMap()["error"], "printer jammed")
	// b counts the second event once its listeners have returned, which
	// may be after the test saw it.
	gdEventually(t, 5*time.Second, func() bool { return b.Stats().Delivered == 1 }, "only the event its listeners accepted counts as delivered")
	st := b.Stats()
	assert.Equal(t, int64(1), st.Delivered, "only the event its listeners accepted counts as delivered")
	assert.Zero(t, st.Retried, "nothing more: no retry")
	assert.Zero(t, st.Dead, "nothing more: no dead letter")
	assert.Equal(t, int64(2), a.Stats().Published)
}

// TestGuideDClusterSubjectsStoresAndDeadLetterHeaders: the subjects of
// cluster.md's second table, as they go on the wire (prefix, origin,
// codec, escaped tokens); an at-least-once emit returns once the stream
// stored the event; and a dead letter's subject and headers, Sprag-Source
// among them.
func TestGuideDClusterSubjectsStoresAndDeadLetterHeaders(t *testing.T) {
	srv := clustertest.StartServer(t)
	js := gdJetStream(t, srv.URL())
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	wire, err := nc.SubscribeSync("sprag.ev.>")
	require.NoError(t, err)
	require.NoError(t, nc.Flush())

	escaped := cluster.Distribute[string]("v1.0:état", cluster.AtMostOnce())
	durable := cluster.DistributeTopic(gdOrderPlaced, cluster.AtLeastOnce(cluster.MaxDeliveries(1), cluster.AckWait(2*time.Second)))
	_, rtA := gdNode(t, srv.URL(), "a", sprag.Runtime{}, escaped, durable, cluster.PublishTimeout(time.Minute))
	b, rtB := gdNode(t, srv.URL(), "b", sprag.Runtime{}, escaped, durable)
	gdListen(t, rtB.Bus, gdOrderPlaced, func(gdOrder) error { return errors.New("invalid address") })
	heard := make(chan string, 1)
	_, err = rtB.Bus.Listen("v1.0:état", func(_ context.Context, p any) error {
		heard <- p.(string)
		return nil
	})
	require.NoError(t, err)

	// At most once: sprag.ev.<codec>.<origin>.<tokens>.
	require.NoError(t, rtA.Bus.Emit(context.Background(), "v1.0:état", "bonjour"))
	msg, err := wire.NextMsg(10 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "sprag.ev.json.a.v1%2E0.%C3%A9tat", msg.Subject)
	assert.JSONEq(t, `"bonjour"`, string(msg.Data))
	select {
	case p := <-heard:
		assert.Equal(t, "bonjour", p, "b decodes the escaped topic's event")
	case <-time.After(10 * time.Second):
		t.Fatal("b did not get the at-most-once event")
	}

	// At least once: the emit returns once the stream stored the event,
	// on sprag.al.<tokens>, with its origin and codec.
	require.NoError(t, gdOrderPlaced.Emit(context.Background(), rtA.Bus, gdOrder{ID: 7, Item: "book"}))
	events, err := js.Stream(context.Background(), "SPRAG_EVENTS")
	require.NoError(t, err)
	stored, err := events.GetLastMsgForSubject(context.Background(), "sprag.al.order.placed")
	require.NoError(t, err, "stored when the emit returned")
	assert.Equal(t, "a", stored.Header.Get(cluster.HeaderOrigin))
	assert.Equal(t, "json", stored.Header.Get(cluster.HeaderCodec))
	assert.JSONEq(t, `{"id":7,"item":"book"}`, string(stored.Data))

	// b's listener fails and MaxDeliveries is 1: a dead letter on
	// sprag.dead.ev.<tokens>, in SPRAG_DEAD, with its four headers.
	dead, err := js.Stream(context.Background(), "SPRAG_DEAD")
	require.NoError(t, err)
	var letter *jetstream.RawStreamMsg
	gdEventually(t, 15*time.Second, func() bool {
		letter, err = dead.GetLastMsgForSubject(context.Background(), "sprag.dead.ev.order.placed")
		return err == nil
	}, "b dead-letters the event")
	assert.Contains(t, letter.Header.Get(cluster.HeaderError), "invalid address")
	assert.Equal(t, "1", letter.Header.Get(cluster.HeaderAttempts))
	assert.Equal(t, "a", letter.Header.Get(cluster.HeaderOrigin))
	assert.Regexp(t, `^SPRAG_EVENTS/b_\w+/`+fmt.Sprint(stored.Sequence)+`$`, letter.Header.Get(cluster.HeaderSource),
		"Sprag-Source names the stream, the consumer and the event's sequence")
	assert.JSONEq(t, `{"id":7,"item":"book"}`, string(letter.Data))
	gdEventually(t, 5*time.Second, func() bool { return b.Stats().Dead == 1 }, "b counts the dead letter")
}

// ---------------------------------------------------------------------
// docs/testing.md
// ---------------------------------------------------------------------

// gdTB is a spragtest.TB that records what spragtest reports to it; its
// Fatalf ends the goroutine, as testing's does.
type gdTB struct {
	testing.TB
	mu       sync.Mutex
	logs     []string
	errors   []string
	fatals   []string
	cleanups []func()
}

func (f *gdTB) Helper() {}
func (f *gdTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *gdTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func (f *gdTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *gdTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn on a goroutine of its own, as a test's body, so that a
// Fatalf ends it, and runs the cleanups after it, last registered first.
func (f *gdTB) run(fn func(tb *gdTB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func (f *gdTB) log() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.logs, "\n")
}

// TestGuideDTestingTheBubblesClockStartsAtMidnight2000: testing.md, "the
// bubble's clock starts at midnight UTC, 1 January 2000".
func TestGuideDTestingTheBubblesClockStartsAtMidnight2000(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		assert.True(t, time.Now().Equal(time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)), "now is %v", time.Now())
	})
}

// TestGuideDTestingStartLogsToTheTestAtDebugLevel: testing.md, Start binds
// the service to a fresh runtime whose zap logger writes to the test's
// log at debug level; Runtime(t) makes such a runtime.
func TestGuideDTestingStartLogsToTheTestAtDebugLevel(t *testing.T) {
	t.Parallel()
	f := &gdTB{TB: t}
	f.run(func(tb *gdTB) {
		p := &spragtest.Probe{OnStartFunc: func(_ context.Context, p *spragtest.Probe) error {
			p.Logger().Debug("debug line from OnStart")
			return nil
		}}
		rt := spragtest.Start(tb, "svc", p)
		assert.NotNil(t, rt.Bus, "a new bus")
		assert.Same(t, rt.Bus, p.Runtime().Bus)
		spragtest.Runtime(tb).Logger.Debug("debug line from Runtime")
	})
	assert.Empty(t, f.fatals)
	assert.Empty(t, f.errors)
	assert.Contains(t, f.log(), "debug line from OnStart", "the service's debug logs go to the test's log")
	assert.Contains(t, f.log(), `"service": "svc"`, "named after the service")
	assert.Contains(t, f.log(), "debug line from Runtime")
}

// TestGuideDTestingStartFailsAtOnceWhenBindFails: testing.md, Start "fails
// the test at once when Bind or Start fails".
func TestGuideDTestingStartFailsAtOnceWhenBindFails(t *testing.T) {
	t.Parallel()
	p := &spragtest.Probe{}
	spragtest.Start(t, "first", p)
	f := &gdTB{TB: t}
	reached := false
	f.run(func(tb *gdTB) {
		spragtest.Start(tb, "second", p) // bound already
		reached = true
	})
	require.Len(t, f.fatals, 1, "the test failed at once")
	assert.Contains(t, f.fatals[0], sprag.ErrAlreadyBound.Error())
	assert.False(t, reached, "Start did not return")
	assert.Equal(t, "first", p.Name())
	assert.Equal(t, sprag.Running, p.State(), "the service was left as it was")
	assert.Empty(t, f.errors)
}

// TestGuideDTestingStartAllTakesTheOptionsOfStart: testing.md, StartAll
// "takes the options of Start and returns the shared runtime".
func TestGuideDTestingStartAllTakesTheOptionsOfStart(t *testing.T) {
	t.Parallel()
	rt := spragtest.Runtime(t)
	a, b := &spragtest.Probe{}, &spragtest.Probe{}
	got := spragtest.StartAll(t, []spragtest.Named{{Name: "a", Service: a}, {Name: "b", Service: b}}, spragtest.WithRuntime(rt))
	assert.Same(t, rt.Bus, got.Bus, "the runtime of WithRuntime is returned")
	assert.Same(t, rt.Bus, a.Runtime().Bus)
	assert.Same(t, rt.Bus, b.Runtime().Bus)
	assert.Equal(t, []string{"a", "b"}, []string{a.Name(), b.Name()}, "each under its Named name")
}

// TestGuideDTestingEveryPackageChecksForLeaks: testing.md, "every
// package's tests end with a check that no goroutine is left running,
// from go.uber.org/goleak, in its TestMain".
func TestGuideDTestingEveryPackageChecksForLeaks(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	tests := map[string][]string{} // directory → its test files
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, "_test.go") {
			tests[filepath.Dir(path)] = append(tests[filepath.Dir(path)], path)
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, tests)
	mainRe := regexp.MustCompile(`(?s)func TestMain\(m \*testing\.M\)\s*\{.*?goleak\.(VerifyTestMain|Find)\(`)
	for dir, files := range tests {
		found := false
		for _, f := range files {
			data, err := os.ReadFile(f) //nolint:gosec // the repository's own test files
			require.NoError(t, err)
			if mainRe.Match(data) {
				found = true
				break
			}
		}
		rel, _ := filepath.Rel(root, dir)
		assert.True(t, found, "%s: no TestMain checks for leaks with goleak", rel)
	}
}

// ---------------------------------------------------------------------
// The links of the four guides
// ---------------------------------------------------------------------

var (
	gdLinkRe = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	gdCodeRe = regexp.MustCompile("``.*?``|`[^`]*`") // inline code, which holds no link
)

// gdProse returns the text of a Markdown file outside its code blocks and
// inline code.
func gdProse(data string) string {
	var b strings.Builder
	inCode := false
	for _, line := range strings.Split(data, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		if !inCode {
			b.WriteString(gdCodeRe.ReplaceAllString(line, ""))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// gdAnchors returns the GitHub anchors of the headings of a Markdown file,
// outside its code blocks.
func gdAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path) //nolint:gosec // the repository's own Markdown files
	require.NoError(t, err)
	out := map[string]bool{}
	inCode := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range title {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		out[b.String()] = true
	}
	return out
}

// TestGuideDLinksResolve: every relative link of the four guides names a
// file or directory of the repository, and every anchor a heading.
func TestGuideDLinksResolve(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	files, anchors := 0, 0
	for _, md := range []string{"README.md", "docs/cluster.md", "docs/testing.md", "docs/dashboard.md"} {
		path := filepath.Join(root, md)
		data, err := os.ReadFile(path) //nolint:gosec // the repository's own Markdown files
		require.NoError(t, err)
		for _, m := range gdLinkRe.FindAllStringSubmatch(gdProse(string(data)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			dest := path
			if anchor != "" {
				anchors++
			}
			if file != "" {
				files++
				dest = filepath.Join(filepath.Dir(path), file)
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s: link %q: %v", md, target, err)
					continue
				}
			}
			if anchor != "" && !gdAnchors(t, dest)[anchor] {
				t.Errorf("%s: link %q: no heading has the anchor %q", md, target, anchor)
			}
		}
	}
	assert.Greater(t, files, 20, "the guides link to files")
	assert.Greater(t, anchors, 5, "and to headings")
}

// ---------------------------------------------------------------------
// README.md and docs/dashboard.md: the programs
// ---------------------------------------------------------------------

// gdBinary builds the package pkg (a directory relative to the module's
// root) into a temporary directory of the test and returns the binary's
// path.
func gdBinary(t *testing.T, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a cold cache compiles SQLite
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./"+pkg) //nolint:gosec // the repository's own packages
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./%s:\n%s", pkg, out)
	return bin
}

// gdBuffer collects a process's output while it runs.
type gdBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *gdBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *gdBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gdProgram is one run of a built program.
type gdProgram struct {
	cmd    *exec.Cmd
	lines  chan string // its standard output, by line; closed at its end
	stderr gdBuffer
	done   chan struct{} // closed once it exited and its output was read
}

// gdRun starts bin with env added to the test's environment; the program
// is killed when the test ends, if it still runs.
func gdRun(t *testing.T, bin string, env ...string) *gdProgram {
	t.Helper()
	p := &gdProgram{lines: make(chan string, 1024), done: make(chan struct{})}
	p.cmd = exec.Command(bin) //nolint:noctx // the binary the test built; stopped by the test
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		_ = p.cmd.Wait() // after the pipe is read to its end; the status is in ProcessState
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			for range p.lines { // drain what is left, so that Wait returns
			}
			<-p.done
		}
	})
	return p
}

// exited reports whether the program has ended.
func (p *gdProgram) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// line returns the program's next line of standard output.
func (p *gdProgram) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		require.True(t, ok, "the program ended; its log:\n%s", p.stderr.String())
		return l
	case <-time.After(time.Minute): // a safety net: the start takes milliseconds
		t.Fatalf("no line in a minute; the program's log:\n%s", p.stderr.String())
		return ""
	}
}

// wait waits for the program to end, its output read to the end, and
// returns its exit status.
func (p *gdProgram) wait(t *testing.T) int {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case _, ok := <-p.lines:
			if ok {
				continue
			}
			select {
			case <-p.done:
				return p.cmd.ProcessState.ExitCode()
			case <-timeout:
			}
		case <-timeout:
		}
		t.Fatalf("the program did not exit in a minute; its log:\n%s", p.stderr.String())
		return -1
	}
}

// gdServices returns the services named in the log lines with message msg
// (the console format of zap's development logger), top-level ones only.
func gdServices(log, msg string) []string {
	re := regexp.MustCompile(`\t` + regexp.QuoteMeta(msg) + `\t\{"service": "([^"]+)"`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		if !strings.Contains(m[1], "/") {
			out = append(out, m[1])
		}
	}
	return out
}

// TestGuideDDashboardPrintsWhereToLookAndStopsOnCtrlC: README.md and
// dashboard.md on `go run ./examples/dashboard`: what it prints, its
// data in the user's cache directory by default, the order of the curl
// command, the last orders on /orders, and a stop of every service in
// reverse order on Ctrl-C (SIGINT), with status 0.
func TestGuideDDashboardPrintsWhereToLookAndStopsOnCtrlC(t *testing.T) {
	bin := gdBinary(t, "examples/dashboard")
	cache := t.TempDir()
	// localhost, as by default, on a free port.
	p := gdRun(t, bin, "SPRAG_ADDR=localhost:0", "SPRAG_DATA=", "XDG_CACHE_HOME="+cache, "EMAIL_KEY=", "SPRAG_TRACE=", "SPRAG_COLLECT_EVERY=")

	first := regexp.MustCompile(`^dashboard: (http://(?:127\.0\.0\.1|\[::1\]):\d+)/dashboard \(services: \[orders email metrics http\]\)$`).
		FindStringSubmatch(p.line(t))
	require.NotNil(t, first, "the first line names the dashboard's URL and the services")
	base := first[1]
	assert.Equal(t, "data: "+filepath.Join(cache, "sprag-dashboard"), p.line(t), "the data in the user's cache directory")
	assert.Equal(t, `place an order: curl -H 'Content-Type: application/json' -d '{"customer":"Ada","email":"ada@example.com","amount":"19.99"}' `+base+"/orders/create", p.line(t))
	assert.Equal(t, "stop with Ctrl-C", p.line(t))
	assert.FileExists(t, filepath.Join(cache, "sprag-dashboard", "orders.db"))
	assert.FileExists(t, filepath.Join(cache, "sprag-dashboard", "mailbox.db"))

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	do := func(method, path, body string, header ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(data)
	}
	// The guide's curl command: a JSON body, curl's Accept.
	status, body := do(http.MethodPost, "/orders/create", `{"customer":"Ada","email":"ada@example.com","amount":"19.99"}`,
		"Content-Type", "application/json", "Accept", "*/*")
	require.True(t, status >= 200 && status < 300, "the curl command places an order: %d %s", status, body)
	assert.Contains(t, body, `"Ada"`)
	for i := range 51 {
		status, body = do(http.MethodPost, "/orders/create", fmt.Sprintf(`{"customer":"C%d","email":"c%d@example.com","amount":"1"}`, i, i),
			"Content-Type", "application/json", "Accept", "application/json")
		require.True(t, status >= 200 && status < 300, "%d %s", status, body)
	}
	status, body = do(http.MethodGet, "/orders", "", "Accept", "application/json")
	require.Equal(t, http.StatusOK, status, body)
	var orders []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &orders), body)
	require.Len(t, orders, 50, "GET /orders lists the last 50 orders")
	assert.Equal(t, "C50", orders[0]["customer"], "newest first")
	for _, path := range []string{"/dashboard", "/metrics", "/healthz", "/readyz"} {
		status, body = do(http.MethodGet, path, "")
		assert.Equal(t, http.StatusOK, status, "%s: %s", path, body)
	}

	require.NoError(t, p.cmd.Process.Signal(os.Interrupt)) // Ctrl-C
	require.Equal(t, 0, p.wait(t), "a clean exit after Ctrl-C; log:\n%s", p.stderr.String())
	log := p.stderr.String()
	started, stopped := gdServices(log, "service started"), gdServices(log, "service stopped")
	assert.ElementsMatch(t, []string{"orders", "email", "metrics", "http"}, started)
	reversed := slices.Clone(started)
	slices.Reverse(reversed)
	assert.Equal(t, reversed, stopped, "every service stopped, in reverse order")
}

// TestGuideDDashboardRefusesABadSetting: dashboard.md, a setting the
// program cannot use is refused at once: its reason logged once, on one
// line, and exit status 2.
func TestGuideDDashboardRefusesABadSetting(t *testing.T) {
	bin := gdBinary(t, "examples/dashboard")
	for _, env := range []string{"SPRAG_COLLECT_EVERY=often", "SPRAG_TRACE=jaeger"} {
		p := gdRun(t, bin, "SPRAG_ADDR=127.0.0.1:0", "SPRAG_DATA="+t.TempDir(), env)
		require.Equal(t, 2, p.wait(t), "%s: exit status; log:\n%s", env, p.stderr.String())
		log := p.stderr.String()
		name, value, _ := strings.Cut(env, "=")
		assert.Equal(t, 1, strings.Count(log, fmt.Sprintf(`%s=\"%s\"`, name, value)), "%s: the reason, once:\n%s", env, log)
		assert.Equal(t, 1, strings.Count(log, "\tERROR\t"), "%s: one error line:\n%s", env, log)
		assert.NotContains(t, log, "\n\t", "%s: no stack trace", env)
	}
}

// TestGuideDQuickstartServesUntilCtrlC: README.md's quick start app
// "serves localhost:8080 (or SPRAG_ADDR) until Ctrl-C": the dashboard
// controller answers with the service's figures, and Ctrl-C stops it
// cleanly.
func TestGuideDQuickstartServesUntilCtrlC(t *testing.T) {
	bin := gdBinary(t, "examples/quickstart")
	p := gdRun(t, bin, "SPRAG_ADDR=127.0.0.1:0", "SPRAG_LOG=")
	var addr string
	gdEventually(t, time.Minute, func() bool {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			var entry struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "http server listening" {
				addr = entry.Addr
				return true
			}
		}
		return p.exited()
	}, "the app listens")
	require.NotEmpty(t, addr, "the app's log:\n%s", p.stderr.String())

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+addr+"/dashboard", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.JSONEq(t, `{"orders":0,"ticks":0}`, string(body))

	require.NoError(t, p.cmd.Process.Signal(os.Interrupt)) // Ctrl-C
	require.Equal(t, 0, p.wait(t), "a clean exit after Ctrl-C; log:\n%s", p.stderr.String())
}
