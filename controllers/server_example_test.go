package controllers_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/sprag"
)

// NewServer builds the app's HTTP server; it is a sprag service, which
// listens when it starts and shuts down gracefully when it stops.
func ExampleNewServer() {
	registry := sprag.NewRegistry()
	srv, err := controllers.NewServer(registry,
		controllers.WithAddr("127.0.0.1:0"), // a free port; the default is localhost:8080
		controllers.WithControllers(&DashboardController{boards: map[string]Board{"sales": {Name: "Sales", Orders: 42}}}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := sprag.Bind(srv, "http", sprag.NewRuntime(nil)); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil { // listening when Start returns
		fmt.Println(err)
		return
	}

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, path := range []string{"/dashboard/sales", "/dashboard/hr"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.Addr()+path, nil)
		req.Header.Set(controllers.HeaderRequestID, "req-1")
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), strings.TrimSpace(string(body)))
	}
	fmt.Println(srv.Stop(ctx)) // in-flight requests finish, until ctx ends
	// Output:
	// 200 application/json {"name":"Sales","orders":42}
	// 404 application/problem+json {"type":"about:blank","title":"Not Found","status":404,"detail":"no such dashboard","instance":"/dashboard/hr","request_id":"req-1"}
	// <nil>
}

// Stream pushes bus events to browsers as Server-Sent Events; a browser
// subscribes with EventSource("/events").
func ExampleServer_Stream() {
	srv, err := controllers.NewServer(nil, controllers.WithAddr("127.0.0.1:0"))
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := srv.Stream("GET /events", controllers.Forward("order:*")); err != nil {
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

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.Addr()+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	fmt.Println(resp.Header.Get("Content-Type"))

	// Services emit on the bus as usual; the stream forwards the events.
	_ = rt.Bus.Emit(ctx, "order:created", map[string]any{"id": 7, "total": 12.5})
	_ = rt.Bus.Emit(ctx, "order:paid", map[string]any{"id": 7})

	lines := bufio.NewScanner(resp.Body)
	for events := 0; events < 2 && lines.Scan(); {
		line := lines.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			fmt.Println("id: <run>-" + line[strings.LastIndexByte(line, '-')+1:])
		case line == "":
			events++
			fmt.Println()
		default:
			fmt.Println(line)
		}
	}
	fmt.Println(srv.Stop(ctx)) // ends the stream: the stop is not held up by it
	// Output:
	// text/event-stream
	// id: <run>-1
	// event: order:created
	// data: {"id":7,"total":12.5}
	//
	// id: <run>-2
	// event: order:paid
	// data: {"id":7}
	//
	// <nil>
}
