package docs_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// MetricsCollected is a typed topic that the metrics service emits.
var MetricsCollected = eventbus.NewTopic[Collected]("metrics:collected")

// Collected is its payload.
type Collected struct {
	Orders  int     `json:"orders"`
	Revenue float64 `json:"revenue"`
}

// onlyStaff lets a client without the staff header receive the public
// topics only.
func onlyStaff(r *controllers.Request, topics []string) ([]string, error) {
	if r.Header().Get("X-Staff") == "yes" {
		return topics, nil
	}
	var allowed []string
	for _, topic := range topics {
		if topic != "audit:*" {
			allowed = append(allowed, topic)
		}
	}
	return allowed, nil
}

// openStream connects to path and returns the next n events, as
// "event data" lines, or the status of a refusal.
func openStream(ctx context.Context, url string, staff bool, emit func(), n int) []string {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if staff {
		req.Header.Set("X-Staff", "yes")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return []string{err.Error()}
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return []string{resp.Status}
	}
	emit()
	var out []string
	var event string
	lines := bufio.NewScanner(resp.Body)
	for len(out) < n && lines.Scan() {
		field, value, _ := strings.Cut(lines.Text(), ": ")
		switch field {
		case "event":
			event = value
		case "data":
			out = append(out, event+" "+value)
		}
	}
	return out
}

func Example_controllersStream() {
	srv, err := controllers.NewServer(nil,
		controllers.WithAddr("127.0.0.1:0"),
		controllers.WithMaxStreams(1000), // open streams, over all the server's streams
		controllers.WithStream("GET /events",
			controllers.ForwardTopic(MetricsCollected),  // a typed topic
			controllers.Forward("order:*", "audit:*"),   // string topics and patterns
			controllers.StreamBuffer(256),               // events held for resuming and for lagging clients
			controllers.StreamHeartbeat(15*time.Second), // a comment after this much silence
			controllers.StreamAuthorize(onlyStaff),      // which topics each client may receive
		))
	if err != nil {
		fmt.Println(err)
		return
	}
	rt := sprag.NewRuntime(nil)
	_ = sprag.Bind(srv, "http", rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	base := "http://" + srv.Addr() + "/events"
	emit := func() {
		_ = MetricsCollected.Emit(ctx, rt.Bus, Collected{Orders: 3, Revenue: 37.5})
		_ = rt.Bus.Emit(ctx, "audit:login", "ada")
		_ = rt.Bus.Emit(ctx, "order:created", map[string]int{"id": 7})
	}

	fmt.Println(openStream(ctx, base, false, emit, 2))
	fmt.Println(openStream(ctx, base, true, emit, 3))
	fmt.Println(openStream(ctx, base+"?topic=order:*", false, emit, 1))
	fmt.Println(openStream(ctx, base+"?topic=audit:*", false, emit, 1))
	fmt.Println(srv.Stop(ctx))
	// Output:
	// [metrics:collected {"orders":3,"revenue":37.5} order:created {"id":7}]
	// [metrics:collected {"orders":3,"revenue":37.5} audit:login "ada" order:created {"id":7}]
	// [order:created {"id":7}]
	// [403 Forbidden]
	// <nil>
}
