package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDashboardSurvivesSIGKILL places orders from concurrent clients,
// kills the program with SIGKILL while they are in flight, restarts it on
// the same data directory and, once the outbox is drained, checks the
// promise of the transactional outbox: every order answered 2xx is in the
// database, and every order in the database got exactly one email.
func TestDashboardSurvivesSIGKILL(t *testing.T) {
	const (
		workers   = 8
		killAfter = 600  // 2xx answers before the kill
		maxEach   = 5000 // a bound on each client's requests, should the kill never come
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net, not a wait
	defer cancel()
	dataDir := t.TempDir()
	p := startProgram(t, dataDir)

	type ack struct {
		customer, email string
		cents           int64
	}
	var (
		mu      sync.Mutex
		acked   = map[int64]ack{} // order id → what the client sent, for each 2xx
		sent    atomic.Int64      // requests sent
		answers atomic.Int64      // 2xx answers
		killed  = make(chan struct{})
		once    sync.Once
		wg      sync.WaitGroup
	)
	load := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer load.CloseIdleConnections()
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for i := range maxEach {
				customer := fmt.Sprintf("load %d-%d", w, i)
				email := fmt.Sprintf("w%d.%d@example.com", w, i)
				cents := int64(100 + (w*7919+i*104729)%99900) // $1.00 to $999.99
				body := fmt.Sprintf(`{"customer":%q,"email":%q,"amount":"%d.%02d"}`, customer, email, cents/100, cents%100)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/orders/create", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Content-Type", contentJSON)
				sent.Add(1)
				resp, err := load.Do(req)
				if err != nil {
					select {
					case <-killed: // the program is gone: this client is done
					default:
						t.Errorf("an order failed before the kill: %v", err)
					}
					return
				}
				var placed Placed
				decodeErr := json.NewDecoder(resp.Body).Decode(&placed)
				_ = resp.Body.Close()
				if resp.StatusCode/100 != 2 || decodeErr != nil {
					select {
					case <-killed: // cut by the kill
					default:
						t.Errorf("an order was refused before the kill: %s, %v", resp.Status, decodeErr)
					}
					return
				}
				mu.Lock()
				acked[placed.Order.ID] = ack{customer, email, cents}
				mu.Unlock()
				if answers.Add(1) == killAfter {
					once.Do(func() {
						close(killed)
						assert.NoError(t, p.cmd.Process.Kill()) // SIGKILL, with the other clients' orders in flight
					})
				}
			}
		})
	}
	wg.Wait()
	loadTime := time.Since(start)
	require.Positive(t, answers.Load())
	select {
	case <-killed:
	default:
		t.Fatalf("the program was not killed: %d answers of %d requests", answers.Load(), sent.Load())
	}
	require.Error(t, p.wait(30*time.Second), "killed")
	t.Logf("load: %d requests in %v, %d answered 2xx, SIGKILL after the %dth", sent.Load(), loadTime.Round(time.Millisecond), len(acked), killAfter)

	// Restart on the same data: the outbox's unsent emails go out.
	restarted := time.Now()
	p = startProgram(t, dataDir)
	var view DashboardView
	eventually(t, 60*time.Second, func() bool {
		_, body := p.request(ctx, http.MethodGet, "/dashboard", "", "", contentJSON)
		return json.Unmarshal([]byte(body), &view) == nil && view.Stats.Orders > 0 && view.Stats.EmailsPending == 0
	}, "the outbox drained after the restart: %+v", view.Stats)
	t.Logf("restart and drain: %v", time.Since(restarted).Round(time.Millisecond))
	assert.GreaterOrEqual(t, view.Stats.Orders, int64(len(acked)), "the page's figures come from the database")
	assert.Equal(t, view.Stats.Orders, view.Stats.EmailsSent)

	// The ids go on after the restart.
	status, body := p.request(ctx, http.MethodPost, "/orders/create", contentJSON, `{"customer":"After","email":"after@example.com","amount":"1"}`, contentJSON)
	require.Equal(t, http.StatusOK, status, body)
	var after Placed
	require.NoError(t, json.Unmarshal([]byte(body), &after))
	assert.Equal(t, view.Stats.Orders+1, after.Order.ID)
	eventually(t, 30*time.Second, func() bool {
		_, body := p.request(ctx, http.MethodGet, "/dashboard", "", "", contentJSON)
		return json.Unmarshal([]byte(body), &view) == nil && view.Stats.EmailsSent == after.Order.ID
	}, "the last email was sent")
	p.stop()

	// Now the files, read directly.
	orders, outbox, deliveries := readData(t, dataDir)
	for id, want := range acked {
		got, ok := orders[id]
		if assert.True(t, ok, "order %d was answered 2xx and is not in the database", id) {
			assert.Equal(t, want, ack{got.Customer, got.Email, got.TotalCents}, "order %d", id)
		}
	}
	redelivered := 0
	for id, o := range orders {
		keys := outbox[id]
		if !assert.Len(t, keys, 1, "order %d has one email in the outbox", id) {
			continue
		}
		d, ok := deliveries[keys[0]]
		if assert.True(t, ok, "order %d's email was not delivered", id) {
			assert.Equal(t, fmt.Sprintf("Order %d confirmed", id), d.Subject)
			assert.Equal(t, o.Email, d.To)
			redelivered += d.Attempts - 1
		}
	}
	subjects := map[string]int{}
	for _, d := range deliveries {
		subjects[d.Subject]++
	}
	for subject, n := range subjects {
		assert.Equal(t, 1, n, "%q delivered %d times", subject, n)
	}
	assert.Len(t, deliveries, len(orders), "one delivery per order, no other")
	t.Logf("orders placed: %d requests, %d answered 2xx, %d in the database (%d committed without an answer), %d emails delivered once each, %d sends repeated after the kill and delivered once",
		sent.Load(), len(acked), len(orders), len(orders)-len(acked)-1, len(deliveries), redelivered)
}

// readData reads the orders, the outbox's idempotency keys by order and
// the mailbox's deliveries by key from the files in dataDir.
func readData(t *testing.T, dataDir string) (map[int64]Order, map[int64][]string, map[string]delivery) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, ordersFile)+"?mode=ro")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	orders := map[int64]Order{}
	rows, err := db.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders`)
	require.NoError(t, err)
	for rows.Next() {
		o, err := scanOrder(rows)
		require.NoError(t, err)
		orders[o.ID] = o
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())

	outbox := map[int64][]string{}
	rows, err = db.QueryContext(ctx, `SELECT order_id, idempotency_key, sent_at IS NOT NULL FROM outbox`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		var key string
		var sent bool
		require.NoError(t, rows.Scan(&id, &key, &sent))
		assert.True(t, sent, "order %d's email is marked sent", id)
		outbox[id] = append(outbox[id], key)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())

	deliveries := map[string]delivery{}
	for _, d := range readMailbox(t, dataDir) {
		deliveries[d.Key] = d
	}
	return orders, outbox, deliveries
}
