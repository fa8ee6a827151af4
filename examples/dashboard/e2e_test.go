package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	contentJSON = "application/json"
	contentForm = "application/x-www-form-urlencoded"
	acceptHTML  = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" // a browser's navigation
)

// TestDashboardEndToEnd builds the program, runs it on a free port, uses it
// as an API client and as a browser without JavaScript would, follows its
// event stream, stops it with SIGTERM and reads its log and its mailbox.
func TestDashboardEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net, not a wait
	defer cancel()
	dataDir := t.TempDir()
	p := startProgram(t, dataDir, "SPRAG_COLLECT_EVERY=100ms")

	status, body := p.request(ctx, http.MethodGet, "/readyz", "", "", contentJSON)
	require.Equal(t, http.StatusOK, status, body)

	t.Run("the dashboard's data as JSON", func(t *testing.T) {
		var view DashboardView
		status, body := p.request(ctx, http.MethodGet, "/dashboard", "", "", contentJSON)
		require.Equal(t, http.StatusOK, status, body)
		require.NoError(t, json.Unmarshal([]byte(body), &view))
		assert.Positive(t, view.Stats.Goroutines, "real runtime figures")
		assert.Positive(t, view.Stats.HeapBytes)
		assert.Zero(t, view.Stats.Orders)
		assert.Empty(t, view.Recent)
		assert.NotEmpty(t, view.LastEventID, "the stream's position, for the page's EventSource")
		assert.Equal(t, "USD", view.Currency)
	})

	t.Run("the dashboard page", func(t *testing.T) {
		status, page := p.request(ctx, http.MethodGet, "/dashboard", "", "", acceptHTML)
		require.Equal(t, http.StatusOK, status)
		assert.Contains(t, page, `<meta name="viewport" content="width=device-width, initial-scale=1">`)
		assert.Contains(t, page, `<title>Dashboard · sprag-go shop</title>`)
		assert.Contains(t, page, `<h1>Dashboard</h1>`)
		assert.Contains(t, page, `<form class="form" id="order-form" method="post" action="/dashboard/order" novalidate>`)
		for _, field := range []string{"customer", "email", "amount"} {
			assert.Contains(t, page, `<label for="`+field+`">`, "every input has a label")
		}
		assert.NotContains(t, page, "<pre", "no data dump in the visible page")
		assert.Contains(t, page, `<script id="sprag-data" type="application/json">`, "the data is for the script, out of sight")
		assert.Contains(t, page, `No orders yet`)

		status, _ = p.request(ctx, http.MethodGet, "/", "", "", acceptHTML)
		assert.Equal(t, http.StatusFound, status, "the root leads to the dashboard")
		for path, ct := range map[string]string{"/assets/dashboard.css": "text/css", "/assets/dashboard.js": "text/javascript"} {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode, path)
			assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), ct), "%s: %s", path, resp.Header.Get("Content-Type"))
		}
	})

	events := followStream(ctx, t, p.base+"/events")

	t.Run("orders from an API client", func(t *testing.T) {
		status, body := p.request(ctx, http.MethodPost, "/orders/create", contentJSON,
			`{"customer":"Ada","email":"ada@example.com","amount":"19.99"}`, contentJSON)
		require.Equal(t, http.StatusOK, status, body)
		var placed Placed
		require.NoError(t, json.Unmarshal([]byte(body), &placed))
		assert.Equal(t, int64(1), placed.Order.ID)
		assert.Equal(t, int64(1999), placed.Order.TotalCents)
		assert.Equal(t, Totals{Orders: 1, RevenueCents: 1999}, placed.Totals)

		status, body = p.request(ctx, http.MethodPost, "/orders/create", contentJSON,
			`{"customer":"","email":"nope","amount":"abc"}`, contentJSON)
		require.Equal(t, http.StatusBadRequest, status, "invalid orders are refused")
		assert.Contains(t, body, `{"field":"customer","rule":"required","message":"is required"}`)
		assert.Contains(t, body, `{"field":"email","rule":"email","message":"must be a valid email address"}`)
		assert.Contains(t, body, `{"field":"amount","rule":"numeric","message":"must be numeric"}`)
	})

	t.Run("the order form without JavaScript", func(t *testing.T) {
		form := url.Values{"customer": {"Grace"}, "email": {"grace@example.com"}, "amount": {"1250"}}.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/dashboard/order", strings.NewReader(form))
		require.NoError(t, err)
		req.Header.Set("Content-Type", contentForm)
		req.Header.Set("Accept", acceptHTML)
		resp, err := client.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "post, redirect, get")
		assert.Equal(t, "/dashboard?placed=2#recent", resp.Header.Get("Location"))

		status, page := p.request(ctx, http.MethodGet, "/dashboard?placed=2", "", "", acceptHTML)
		require.Equal(t, http.StatusOK, status)
		assert.Contains(t, page, `Order #2 of $1,250.00 is placed.`)
		assert.Contains(t, page, `<span class="name">Grace</span>`, "the new order is in the table")
		assert.Contains(t, page, `data-count="2">2</dd>`, "the orders card counts it")

		bad := url.Values{"customer": {" "}, "email": {"grace@"}, "amount": {"-3"}}.Encode()
		status, page = p.request(ctx, http.MethodPost, "/dashboard/order", contentForm, bad, acceptHTML)
		require.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, page, `<title>Order not placed · Dashboard · sprag-go shop</title>`)
		assert.Contains(t, page, `The order was not placed: correct the fields marked below.`)
		assert.Contains(t, page, `<p class="error" id="email-error">Email must be a valid email address</p>`)
		assert.Contains(t, page, `value="grace@"`, "the values sent are shown again")
		assert.Contains(t, page, `aria-describedby="email-error" aria-invalid="true"`)

		// Past the validator's tags, the service's own checks, by field too.
		bad = url.Values{"customer": {" "}, "email": {"grace@example.com"}, "amount": {"-3"}}.Encode()
		status, page = p.request(ctx, http.MethodPost, "/dashboard/order", contentForm, bad, acceptHTML)
		require.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, page, `<p class="error" id="customer-error">Customer name is required</p>`)
		assert.Contains(t, page, `<p class="error" id="amount-error">Amount in dollars must be more than 0</p>`)
	})

	t.Run("a form posted from another site is refused", func(t *testing.T) {
		form := url.Values{"customer": {"Mallory"}, "email": {"m@example.com"}, "amount": {"1"}}.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/dashboard/order", strings.NewReader(form))
		require.NoError(t, err)
		req.Header.Set("Content-Type", contentForm)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := client.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("the stream carries orders, emails and collections", func(t *testing.T) {
		seen := map[string]int{}
		var orders []int64
		deadline := time.After(30 * time.Second)
		for seen["order:completed"] < 2 || seen["mail:sent"] == 0 || seen["metrics:updated"] == 0 {
			select {
			case e := <-events:
				seen[e.name]++
				if e.name == "order:completed" {
					var p Placed
					require.NoError(t, json.Unmarshal([]byte(e.data), &p))
					orders = append(orders, p.Order.ID)
				}
			case <-deadline:
				t.Fatalf("events seen: %v", seen)
			}
		}
		assert.Equal(t, []int64{1, 2}, orders)
	})

	var final DashboardView
	eventually(t, 30*time.Second, func() bool {
		_, body := p.request(ctx, http.MethodGet, "/dashboard", "", "", contentJSON)
		return json.Unmarshal([]byte(body), &final) == nil && final.Stats.EmailsSent == 2
	}, "the outbox sent both emails")
	assert.Zero(t, final.Stats.EmailsPending)
	assert.Equal(t, int64(1999+125000), final.Stats.RevenueCents)

	p.stop()
	log := p.stderr.String()
	started, stopped := serviceEvents(log, "service started"), serviceEvents(log, "service stopped")
	topStarted, topStopped := topLevel(started), topLevel(stopped)
	require.Equal(t, []string{"orders", "email", "metrics", "http"}, topStarted, "each service after those it takes:\n%s", log)
	assert.Equal(t, reversed(topStarted), topStopped, "every service stopped, in reverse order of start")
	assert.Less(t, indexOf(stopped, "email/outbox"), indexOf(stopped, "email"), "the adopted child stops before its parent")
	assert.Contains(t, log, "EMAIL_KEY is not set: mail is delivered to the local mailbox")
	assert.NotContains(t, log, "\tERROR\t", "a clean run logs no error")
	assert.NotContains(t, log, "\tWARN\t", "nor a warning")

	deliveries := readMailbox(t, dataDir)
	require.Len(t, deliveries, 2)
	assert.NotEmpty(t, deliveries[0].Key)
	deliveries[0].Key = ""
	assert.Equal(t, delivery{To: "ada@example.com", Subject: "Order 1 confirmed", Body: "Thank you, Ada: we received your order of $19.99.", Attempts: 1}, deliveries[0])
	assert.Equal(t, "Order 2 confirmed", deliveries[1].Subject)
}

// TestDashboardPortInUse starts the program on a port that another run
// holds: the start fails with exit status 1 and says why, once, without a
// stack trace.
func TestDashboardPortInUse(t *testing.T) {
	first := startProgram(t, t.TempDir())
	addr := strings.TrimPrefix(first.base, "http://")

	second := tryStartProgram(t, t.TempDir(), "SPRAG_ADDR="+addr)
	require.Empty(t, second.base, "the second run must not start")
	err := second.wait(30 * time.Second)
	require.Error(t, err)
	assert.Equal(t, 1, second.cmd.ProcessState.ExitCode())
	log := second.stderr.String()
	assert.Equal(t, 1, strings.Count(log, "address already in use"), "the reason, once:\n%s", log)
	assert.Contains(t, log, addr)
	assert.Equal(t, 1, strings.Count(log, "\tERROR\t"), "one error line")
	assert.NotContains(t, log, "\n\t", "no stack trace (its frames are indented lines)")
	assert.NotContains(t, log, "goroutine ")
	t.Logf("the failed start's log:\n%s", log)
	first.stop()
}

// event is one message of the event stream.
type event struct{ id, name, data string }

// followStream reads the stream at url until ctx ends, sending each event
// on the channel it returns.
func followStream(ctx context.Context, t *testing.T, url string) <-chan event {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := (&http.Client{}).Do(req) //nolint:bodyclose // closed when the test ends, below
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := make(chan event, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		var e event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.name != "" {
					select {
					case out <- e:
					case <-ctx.Done():
						return
					}
				}
				e = event{}
			case strings.HasPrefix(line, "id: "):
				e.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				e.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				e.data = line[6:]
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = resp.Body.Close()
		<-done
	})
	return out
}

// delivery is a row of the mailbox.
type delivery struct {
	Key      string
	To       string
	Subject  string
	Body     string
	Attempts int
}

// readMailbox returns the mailbox's deliveries, in the order delivered.
func readMailbox(t *testing.T, dataDir string) []delivery {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, mailboxFile)+"?mode=ro")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	rows, err := db.QueryContext(context.Background(), `SELECT idempotency_key, recipient, subject, body, attempts FROM deliveries ORDER BY delivered_at, rowid`)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var out []delivery
	for rows.Next() {
		var d delivery
		require.NoError(t, rows.Scan(&d.Key, &d.To, &d.Subject, &d.Body, &d.Attempts))
		out = append(out, d)
	}
	require.NoError(t, rows.Err())
	return out
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
