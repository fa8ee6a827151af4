package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sprag-go/sprag/controllers"
)

// requireAPIKey is an auth check in the shape every Go router uses: it
// answers 401 itself, or passes the request on.
func requireAPIKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-Key") != "s3cret" {
			http.Error(w, "missing or wrong API key", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// poweredBy sets a header on every response.
func poweredBy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Powered-By", "sprag")
		next.ServeHTTP(w, r)
	})
}

// AdminController guards its routes with middleware of its own.
type AdminController struct{}

func (AdminController) Route() string { return "GET /admin" }

func (AdminController) Load(context.Context, *controllers.Request) (any, error) {
	return map[string]string{"users": "42"}, nil
}

// Middleware wraps the controller's Load and actions, after the server's
// middleware.
func (AdminController) Middleware() []controllers.Middleware {
	return []controllers.Middleware{requireAPIKey}
}

// Middleware of the usual func(http.Handler) http.Handler shape goes around
// every route of the server (WithMiddleware) or around one controller's
// (MiddlewareController).
func ExampleWithMiddleware() {
	srv, err := controllers.NewServer(nil,
		controllers.WithMiddleware(poweredBy), // otelhttp.NewMiddleware, chi's, CORS…
		controllers.WithControllers(AdminController{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, key := range []string{"", "s3cret"} {
		req := httptest.NewRequest(http.MethodGet, "/admin", nil)
		req.Header.Set("X-API-Key", key)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("X-Powered-By"), rec.Body.String())
	}
	// Output:
	// 401 sprag missing or wrong API key
	//
	// 200 sprag {"users":"42"}
}
