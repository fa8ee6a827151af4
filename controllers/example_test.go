package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/sprag"
)

// Board is the data of one dashboard page.
type Board struct {
	Name   string `json:"name"`
	Orders int    `json:"orders"`
}

// DashboardController shows one dashboard. A controller is a route and a
// Load; in an fx app its constructor would receive its services by name.
type DashboardController struct {
	boards map[string]Board
}

// Route is a Go 1.22 ServeMux pattern; {id} is read with r.PathValue.
func (c *DashboardController) Route() string { return "GET /dashboard/{id}" }

// Load returns the page's data, or an error that chooses the answer.
func (c *DashboardController) Load(_ context.Context, r *controllers.Request) (any, error) {
	board, ok := c.boards[r.PathValue("id")]
	if !ok {
		return nil, controllers.NewError(http.StatusNotFound, "no such dashboard")
	}
	if r.Query().Get("legacy") != "" {
		return nil, controllers.Redirect(http.StatusFound, "/dashboard/"+r.PathValue("id"))
	}
	return board, nil
}

// get requests path from srv as a client with the given Accept header.
func get(srv http.Handler, path, accept string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Accept", accept)
	req.Header.Set(controllers.HeaderRequestID, "req-1")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

// A controller serves its Load's data as JSON to API clients and inside the
// app's shell to browsers; errors and redirects come from Load's error.
func Example() {
	srv, err := controllers.NewServer(sprag.NewRegistry())
	if err != nil {
		fmt.Println(err)
		return
	}
	err = srv.Mount(&DashboardController{boards: map[string]Board{"sales": {Name: "Sales", Orders: 42}}})
	if err != nil {
		fmt.Println(err)
		return
	}

	// An API client gets JSON.
	rec := get(srv, "/dashboard/sales", "application/json")
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), rec.Body)

	// A browser gets the shell, with the data in a JSON script element.
	rec = get(srv, "/dashboard/sales", "text/html")
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.Contains(line, "sprag-data") {
			fmt.Print(line)
		}
	}

	// An *HTTPError becomes a problem document; a Redirect, a redirect.
	rec = get(srv, "/dashboard/hr", "application/json")
	fmt.Println(rec.Code, rec.Body)
	rec = get(srv, "/dashboard/sales?legacy=1", "application/json")
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output:
	// 200 application/json {"name":"Sales","orders":42}
	// 200 text/html; charset=utf-8
	// <script id="sprag-data" type="application/json">{"name":"Sales","orders":42}</script>
	// 404 {"type":"about:blank","title":"Not Found","status":404,"detail":"no such dashboard","instance":"/dashboard/hr","request_id":"req-1"}
	// 302 /dashboard/sales
}
