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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster/clustertest"
)

// The settings of the replicas in the test: a tick of half a second and
// a lease of two, so that 20 ticks and a failover fit in seconds.
const (
	tick     = 500 * time.Millisecond
	leaseTTL = 2 * time.Second
	ackWait  = 2 * time.Second
	workTime = 25 * time.Millisecond
	workers  = 2 // per replica, as main.go sets
	prefetch = 4 // as main.go sets
	emails   = 1000
)

// failoverBound is the failover bound of docs/cluster.md: the lease's TTL,
// the server's expiry detection (1.5s) and a tick.
const failoverBound = leaseTTL + 1500*time.Millisecond + tick

// line is one line a replica printed, with when the test read it.
type line struct {
	replica string
	kind    string
	fields  map[string]string
	at      time.Time
}

// output collects the lines of every replica.
type output struct {
	mu    sync.Mutex
	lines []line
}

func (o *output) add(replica, text string) {
	f := strings.Fields(text)
	if len(f) == 0 {
		return
	}
	l := line{replica: replica, kind: f[0], fields: map[string]string{}, at: time.Now()}
	for _, kv := range f[1:] {
		if k, v, ok := strings.Cut(kv, "="); ok {
			l.fields[k] = v
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lines = append(o.lines, l)
}

func (o *output) of(kind string) []line {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []line
	for _, l := range o.lines {
		if l.kind == kind {
			out = append(out, l)
		}
	}
	return out
}

// waitFor polls cond every 20ms until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lockedBuffer collects a process's log.
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

// replica is one process of the app.
type replica struct {
	name   string
	cmd    *exec.Cmd
	logs   lockedBuffer
	exited chan error
	done   chan struct{} // closed when its output is read to the end
}

func startReplica(t *testing.T, bin, name, natsURL string, out *output) *replica {
	t.Helper()
	r := &replica{name: name, exited: make(chan error, 1), done: make(chan struct{})}
	r.cmd = exec.Command(bin)
	r.cmd.Env = append(os.Environ(),
		"SPRAG_NATS_URL="+natsURL,
		"SPRAG_REPLICA="+name,
		"SPRAG_STREAM_REPLICAS=3",
		"SPRAG_TICK="+tick.String(),
		"SPRAG_LEASE_TTL="+leaseTTL.String(),
		"SPRAG_ACK_WAIT="+ackWait.String(),
		"SPRAG_WORK_TIME="+workTime.String(),
		"SPRAG_ADDR=127.0.0.1:0",
	)
	stdout, err := r.cmd.StdoutPipe()
	require.NoError(t, err)
	r.cmd.Stderr = &r.logs
	require.NoError(t, r.cmd.Start())
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.add(name, sc.Text())
		}
	}()
	go func() {
		<-r.done // Wait closes the pipe: read it to the end first
		r.exited <- r.cmd.Wait()
	}()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			err := <-r.exited
			t.Logf("%s was killed at the end of the test: %v", name, err)
		}
	})
	return r
}

// post sends a JSON action to a replica and expects 200.
func post(ctx context.Context, client *http.Client, addr, path string, first, count int) error {
	body := fmt.Sprintf(`{"first":%d,"count":%d}`, first, count)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s on %s: %d %s", path, addr, resp.StatusCode, msg)
	}
	return nil
}

// greetingsAt counts the greetings a replica got, by id.
func greetingsAt(out *output, at string) map[int]int {
	counts := map[int]int{}
	for _, l := range out.of("greeting") {
		if l.fields["at"] == at {
			id, _ := strconv.Atoi(l.fields["id"])
			counts[id]++
		}
	}
	return counts
}

func hasAll(counts map[int]int, first, count int) bool {
	for id := first; id < first+count; id++ {
		if counts[id] == 0 {
			return false
		}
	}
	return true
}

// TestClusterOfThreeReplicas runs three replicas of the app on a
// three-node JetStream cluster and checks the cluster's guarantees while
// one replica is killed.
func TestClusterOfThreeReplicas(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cluster")
	build := exec.Command("go", "build", "-o", bin, ".") //nolint:gosec // builds this package into the test's temporary directory
	build.Stderr = os.Stderr
	built := time.Now()
	require.NoError(t, build.Run())
	t.Logf("built the app in %v", time.Since(built).Round(time.Millisecond))

	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nc := clustertest.StartCluster(t, 3)
	urls := nc.URLs()
	out := &output{}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	names := []string{"a", "b", "c"}
	reps := map[string]*replica{}
	for i, name := range names {
		// Each replica knows every server, its own first.
		own := append([]string{urls[i]}, slices.Delete(slices.Clone(urls), i, i+1)...)
		reps[name] = startReplica(t, bin, name, strings.Join(own, ","), out)
	}
	defer func() {
		if t.Failed() {
			for _, r := range reps {
				t.Logf("log of %s:\n%s", r.name, r.logs.String())
			}
		}
	}()
	addrs := map[string]string{}
	waitFor(ctx, t, "three ready replicas", func() bool {
		for _, l := range out.of("ready") {
			addrs[l.replica] = l.fields["addr"]
		}
		return len(addrs) == 3
	})
	t.Logf("three replicas ready after %v", time.Since(began).Round(time.Millisecond))

	// 1. At-least-once greetings emitted in a reach b and c.
	require.NoError(t, post(ctx, client, addrs["a"], "/greetings/send", 1, 20))
	waitFor(ctx, t, "greetings 1-20 at b and c", func() bool {
		return hasAll(greetingsAt(out, "b"), 1, 20) && hasAll(greetingsAt(out, "c"), 1, 20)
	})

	// The report runs before the emails start: its holder is killed in the
	// middle of them.
	waitFor(ctx, t, "the report's first ticks", func() bool { return len(out.of("tick")) >= 2 })

	// 2. 1,000 emails pushed across the replicas.
	var pushes sync.WaitGroup
	pushErrs := make(chan error, 3)
	for i, name := range names {
		pushes.Add(1)
		go func() {
			defer pushes.Done()
			first, count := i*334, 334
			if i == 2 {
				count = emails - first
			}
			pushErrs <- post(ctx, client, addrs[name], "/emails/push", first, count)
		}()
	}
	pushes.Wait()
	close(pushErrs)
	for err := range pushErrs {
		require.NoError(t, err)
	}
	waitFor(ctx, t, "a third of the emails sent", func() bool { return len(out.of("email")) >= emails/3 })
	sentBeforeKill := len(out.of("email"))

	// 3. The report's holder is killed mid-way through the emails.
	ticks := out.of("tick")
	require.NotEmpty(t, ticks, "the report runs")
	holder := ticks[len(ticks)-1].replica
	require.NoError(t, reps[holder].cmd.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	t.Logf("killed %s, the report's holder, after %d of %d emails", holder, sentBeforeKill, emails)
	require.Less(t, sentBeforeKill, emails, "the kill is mid-way")
	var survivors []string
	for _, name := range names {
		if name != holder {
			survivors = append(survivors, name)
		}
	}

	var failover time.Duration
	waitFor(ctx, t, "the report on another replica", func() bool {
		for _, l := range out.of("tick") {
			if l.replica != holder && l.at.After(killed) {
				failover = l.at.Sub(killed)
				return true
			}
		}
		return false
	})
	t.Logf("the report ran again on another replica %v after the kill (bound %v)", failover.Round(time.Millisecond), failoverBound)
	assert.LessOrEqual(t, failover, failoverBound, "failover within the documented bound")

	// 4. Every email is sent, and none twice once acknowledged.
	defer func() {
		if t.Failed() {
			logQueue(t, out, urls[0])
		}
	}()
	waitFor(ctx, t, "every email sent", func() bool {
		seen := map[string]bool{}
		for _, l := range out.of("email") {
			seen[l.fields["id"]] = true
		}
		return len(seen) == emails
	})

	// 5. Greetings emitted after the kill reach the survivors.
	emitter := survivors[0]
	if holder != "a" {
		emitter = "a"
	}
	require.NoError(t, post(ctx, client, addrs[emitter], "/greetings/send", 101, 20))
	waitFor(ctx, t, "greetings 101-120 at the survivors", func() bool {
		for _, s := range survivors {
			if !hasAll(greetingsAt(out, s), 101, 20) {
				return false
			}
		}
		return true
	})

	// 6. At least 20 ticks, some of them after the failover.
	waitFor(ctx, t, "20 ticks", func() bool {
		after := 0
		for _, l := range out.of("tick") {
			if l.at.After(killed) {
				after++
			}
		}
		return len(out.of("tick")) >= 20 && after >= 3
	})

	// Nothing is left to deliver: every email was acknowledged, and the
	// survivors' consumers of the greetings hold none that waits for a
	// delivery or an acknowledgement. Once the survivors have exited and
	// their output is read to the end, the counts are final.
	checkQueueEmpty(ctx, t, urls[0])
	waitGreetingsSettled(ctx, t, urls[0], survivors)
	for _, s := range survivors {
		require.NoError(t, reps[s].cmd.Process.Signal(syscall.SIGTERM))
	}
	for _, s := range survivors {
		select {
		case err := <-reps[s].exited: // sent once its output is read to the end
			require.NoError(t, err, "%s exits cleanly after SIGTERM", s)
		case <-ctx.Done():
			t.Fatalf("%s did not exit after SIGTERM", s)
		}
	}
	err := <-reps[holder].exited
	t.Logf("%s, killed, exited with %v", holder, err)

	checkGreetings(t, out, holder)
	checkTicks(t, out)
	checkEmails(t, out, holder)
	t.Logf("the scenario took %v", time.Since(began).Round(time.Millisecond))
}

// waitGreetingsSettled waits until the consumer of the greetings of each
// replica of replicas holds no greeting that waits for a delivery or for
// its acknowledgement: no greeting reaches them again.
func waitGreetingsSettled(ctx context.Context, t *testing.T, url string, replicas []string) {
	t.Helper()
	conn, err := nats.Connect(url)
	require.NoError(t, err)
	defer conn.Close()
	js, err := jetstream.New(conn)
	require.NoError(t, err)
	s, err := js.Stream(ctx, "SPRAG_EVENTS")
	require.NoError(t, err)
	for _, r := range replicas {
		waitFor(ctx, t, "the greetings of "+r+" settled", func() bool {
			list := s.ListConsumers(ctx)
			found := false
			for info := range list.Info() {
				if strings.HasPrefix(info.Name, r+"_") {
					found = true
					if info.NumPending > 0 || info.NumAckPending > 0 {
						return false
					}
				}
			}
			return list.Err() == nil && found
		})
	}
}

// checkGreetings: each greeting reached each live replica exactly once.
func checkGreetings(t *testing.T, out *output, killed string) {
	t.Helper()
	for _, at := range []string{"a", "b", "c"} {
		counts := greetingsAt(out, at)
		for id := 1; id <= 20; id++ {
			assert.Equal(t, 1, counts[id], "greeting %d at %s: exactly once", id, at)
		}
		for id := 101; id <= 120; id++ {
			want := 1
			if at == killed {
				want = 0
			}
			assert.Equal(t, want, counts[id], "greeting %d at %s", id, at)
		}
	}
}

// checkTicks: no tick ran twice; the fencing tokens grow with the ticks.
func checkTicks(t *testing.T, out *output) {
	t.Helper()
	type run struct {
		at, token int64
		replica   string
	}
	var runs []run
	seen := map[int64]string{}
	for _, l := range out.of("tick") {
		at, _ := strconv.ParseInt(l.fields["at"], 10, 64)
		token, _ := strconv.ParseInt(l.fields["token"], 10, 64)
		if other, dup := seen[at]; dup {
			t.Errorf("tick %d ran on %s and on %s", at, other, l.replica)
		}
		seen[at] = l.replica
		runs = append(runs, run{at: at, token: token, replica: l.replica})
	}
	assert.GreaterOrEqual(t, len(seen), 20, "at least 20 ticks")
	slices.SortFunc(runs, func(a, b run) int { return int(a.at - b.at) })
	for i := 1; i < len(runs); i++ {
		assert.Greater(t, runs[i].token, runs[i-1].token, "tokens grow with ticks")
	}
}

// checkEmails: an email sent twice was first sent by the killed replica,
// which died before its acknowledgement; no survivor sent one twice.
func checkEmails(t *testing.T, out *output, killed string) {
	t.Helper()
	by := map[string][]string{}
	for _, l := range out.of("email") {
		by[l.fields["id"]] = append(by[l.fields["id"]], l.replica)
	}
	require.Len(t, by, emails, "every email sent")
	again := 0
	for id, reps := range by {
		survivorSends := 0
		for _, r := range reps {
			if r != killed {
				survivorSends++
			}
		}
		assert.LessOrEqual(t, survivorSends, 1, "email %s sent twice after its acknowledgement: %v", id, reps)
		if len(reps) > 1 {
			again++
		}
	}
	t.Logf("%d emails sent again after the kill", again)
	assert.LessOrEqual(t, again, workers+prefetch, "only what the killed replica held")
}

// logQueue logs the emails not sent and the state of the queue's
// consumer, to tell why a run failed.
func logQueue(t *testing.T, out *output, url string) {
	seen := map[int]bool{}
	perReplica := map[string]int{}
	for _, l := range out.of("email") {
		id, _ := strconv.Atoi(l.fields["id"])
		seen[id] = true
		perReplica[l.replica]++
	}
	var missing []int
	for id := range emails {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	t.Logf("emails per replica %v; not sent (%d): %v", perReplica, len(missing), missing[:min(len(missing), 50)])
	conn, err := nats.Connect(url)
	if err != nil {
		t.Logf("connect: %v", err)
		return
	}
	defer conn.Close()
	js, err := jetstream.New(conn)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := js.Consumer(ctx, "SPRAG_Q_emails", "workers"); err == nil {
		info := c.CachedInfo()
		t.Logf("consumer: pending %d, ack pending %d, redelivered %d, waiting %d, delivered %+v, ack floor %+v",
			info.NumPending, info.NumAckPending, info.NumRedelivered, info.NumWaiting, info.Delivered, info.AckFloor)
	} else {
		t.Logf("consumer: %v", err)
	}
	if s, err := js.Stream(ctx, "SPRAG_Q_emails"); err == nil {
		t.Logf("stream: %+v", s.CachedInfo().State)
	}
}

// checkQueueEmpty: every email was acknowledged, none dead.
func checkQueueEmpty(ctx context.Context, t *testing.T, url string) {
	t.Helper()
	conn, err := nats.Connect(url)
	require.NoError(t, err)
	defer conn.Close()
	js, err := jetstream.New(conn)
	require.NoError(t, err)
	waitFor(ctx, t, "an empty queue", func() bool {
		s, err := js.Stream(ctx, "SPRAG_Q_emails")
		return err == nil && s.CachedInfo().State.Msgs == 0
	})
	dead, err := js.Stream(ctx, "SPRAG_DEAD")
	require.NoError(t, err)
	assert.Zero(t, dead.CachedInfo().State.Msgs, "no dead letters")
}
