package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/spragtest"
)

// newWebServer returns the app's server, not started, with the dashboard
// controller on a running order service: an http.Handler for httptest.
func newWebServer(t *testing.T) *controllers.Server {
	t.Helper()
	orders := NewOrderService(Config{DataDir: t.TempDir()})
	spragtest.Start(t, "orders", orders)
	metrics := NewMetricsService(MetricsParams{Orders: orders})
	srv, err := controllers.NewServer(nil, controllers.WithShell(appShell), controllers.WithTitle("sprag-go shop"),
		controllers.WithControllers(NewDashboardController(DashboardParams{Metrics: metrics, Orders: orders})))
	require.NoError(t, err)
	return srv
}

// TestOrderFormFollowsTheServersNegotiation: the order action redirects a
// form post exactly when the controllers package would answer that
// client with a page, the rule docs/controllers.md states, so that the
// page and the action agree for every Accept header.
func TestOrderFormFollowsTheServersNegotiation(t *testing.T) {
	srv := newWebServer(t)
	form := url.Values{"customer": {"Ada"}, "email": {"ada@example.com"}, "amount": {"5"}}.Encode()
	tests := []struct {
		give string // the Accept header
		want bool   // a page: the form post is redirected
	}{
		{acceptHTML, true},
		{"text/html", true},
		{"application/json;q=0.5, text/html", true}, // HTML preferred, though JSON is named
		{"text/html, application/json", false},      // a tie goes to JSON
		{"text/html;q=0, */*", false},               // HTML refused, though named
		{"text/html;q=0.8, */*", false},             // */* outranks HTML
		{"*/*", false},
		{"", false},
		{contentJSON, false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			page := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
			page.Header.Set("Accept", tt.give)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, page)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body)
			assert.Equal(t, tt.want, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html"), "the page is HTML")

			post := httptest.NewRequest(http.MethodPost, "/dashboard/order", strings.NewReader(form))
			post.Header.Set("Content-Type", contentForm)
			post.Header.Set("Accept", tt.give)
			rec = httptest.NewRecorder()
			srv.ServeHTTP(rec, post)
			if !tt.want {
				require.Equal(t, http.StatusOK, rec.Code, rec.Body)
				var placed Placed
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &placed), "the order as JSON")
				assert.Equal(t, "Ada", placed.Order.Customer)
				return
			}
			require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body)
			assert.Regexp(t, `^/dashboard\?placed=\d+#recent$`, rec.Header().Get("Location"))
		})
	}
}

// TestAssetsAreRevalidated: the assets are served with no-cache and an
// ETag, so that a browser's revalidation gets 304 until the file changes.
func TestAssetsAreRevalidated(t *testing.T) {
	srv, err := controllers.NewServer(nil)
	require.NoError(t, err)
	require.NoError(t, handleAssets(srv))
	etags := map[string]bool{}
	for route := range assets {
		path := strings.TrimPrefix(route, "GET ")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, rec.Code, path)
		assert.Equal(t, "no-cache", rec.Header().Get("Cache-Control"), path)
		etag := rec.Header().Get("ETag")
		require.Regexp(t, `^"[0-9a-f]{32}"$`, etag, path)
		etags[etag] = true

		revalidate := httptest.NewRequest(http.MethodGet, path, nil)
		revalidate.Header.Set("If-None-Match", etag)
		rec = httptest.NewRecorder()
		srv.ServeHTTP(rec, revalidate)
		assert.Equal(t, http.StatusNotModified, rec.Code, "%s: the browser's copy is current", path)
		assert.Zero(t, rec.Body.Len(), path)

		revalidate.Header.Set("If-None-Match", `"an-older-build"`)
		rec = httptest.NewRecorder()
		srv.ServeHTTP(rec, revalidate)
		assert.Equal(t, http.StatusOK, rec.Code, "%s: another build's copy is replaced", path)
		assert.Positive(t, rec.Body.Len(), path)
	}
	assert.Len(t, etags, len(assets), "each file has its own ETag")
}

// TestCollectCutByTheStopIsNoFailure: a collection whose context the stop
// ended returns an error that wraps the context's, which sprag counts as
// a clean end of the run rather than a failure to log.
func TestCollectCutByTheStopIsNoFailure(t *testing.T) {
	orders := NewOrderService(Config{DataDir: t.TempDir()})
	spragtest.Start(t, "orders", orders)
	metrics := NewMetricsService(MetricsParams{Orders: orders})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, metrics.collect(ctx), context.Canceled)
}
