package docs_test

// Tests of answers the guides promise that the server once got wrong.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sprag-go/sprag/controllers"
)

// gcHere is a controller on GET /here, for the router's own answers
// around it.
type gcHere struct{}

func (gcHere) Route() string { return "GET /here" }

func (gcHere) Load(context.Context, *controllers.Request) (any, error) { return "here", nil }

// TestGuideCNegotiatedErrorsVaryOnAccept: the router's 404 and 405 and
// the cross-origin 403 are answered as an HTML page to a browser and as
// problem+json to an API client ("Browsers get the same problem inside the
// shell page", controllers.md#problem-details), so the same URL has two
// representations chosen by Accept, as for Load, whose answers "carry
// Vary: Accept, since the same URL has two representations". They carry
// it too, so that a shared cache does not keep the HTML 404
// (heuristically cacheable, RFC 9111 §4.2.2) for an API client (RFC 9110
// §12.5.5: a server SHOULD send Vary when it negotiates).
func TestGuideCNegotiatedErrorsVaryOnAccept(t *testing.T) {
	t.Parallel()
	srv, err := controllers.NewServer(nil, controllers.WithControllers(gcHere{}))
	require.NoError(t, err)
	for _, tt := range []struct {
		name, method, target string
		status               int
		crossSite            bool
	}{
		{"the router's 404", http.MethodGet, "/nowhere", http.StatusNotFound, false},
		{"the router's 405", http.MethodPut, "/here", http.StatusMethodNotAllowed, false},
		{"a cross-origin 403", http.MethodPost, "/here", http.StatusForbidden, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			types := map[string]string{}
			for _, accept := range []string{"application/json", "text/html"} {
				req := httptest.NewRequest(tt.method, tt.target, nil)
				req.Header.Set("Accept", accept)
				if tt.crossSite {
					req.Header.Set("Sec-Fetch-Site", "cross-site")
				}
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				require.Equal(t, tt.status, rec.Code)
				types[accept] = rec.Header().Get("Content-Type")
				assert.Contains(t, rec.Header().Values("Vary"), "Accept",
					"Accept: %s: the answer depends on Accept, so it says so", accept)
			}
			require.Equal(t, map[string]string{
				"application/json": controllers.ContentTypeProblem,
				"text/html":        "text/html; charset=utf-8",
			}, types, "one URL, two representations chosen by Accept")
		})
	}
}

// TestGuideCUnknownMethodSpanName: controllers.md#telemetry names the
// server span "METHOD /route/{pattern}", the method alone when no route
// matched, and records http.request.method as _OTHER for an unknown
// method. For such a method the span of a matched route is named
// "HTTP /hook", as the OpenTelemetry HTTP conventions ask ("{method} MUST
// be HTTP" when the method is _OTHER), and "HTTP" with no route matched.
func TestGuideCUnknownMethodSpanName(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	tracers := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tracers.Shutdown(context.Background()) }()
	srv, err := controllers.NewServer(nil, controllers.WithTracerProvider(tracers))
	require.NoError(t, err)
	require.NoError(t, srv.Handle("/hook", http.NotFoundHandler()))

	for _, target := range []string{"/hook", "/nowhere"} {
		srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PURGE", target, nil))
	}

	ended := spans.Ended()
	require.Len(t, ended, 2)
	assert.Equal(t, "HTTP /hook", ended[0].Name(), "a matched route: HTTP and the route")
	assert.Equal(t, "HTTP", ended[1].Name(), "no route matched: the method alone, HTTP for an unknown one")
}

// TestGuideCInvalidOptionsNamedTogether: controllers.md#the-server,
// Invalid options: an empty address, a middleware that returns nil and
// the other mistakes "make NewServer fail with an error wrapping
// controllers.ErrInvalidOption that names each of them", the middleware
// that returns nil too when another option is invalid.
func TestGuideCInvalidOptionsNamedTogether(t *testing.T) {
	t.Parallel()
	returnsNil := func(http.Handler) http.Handler { return nil }
	_, err := controllers.NewServer(nil, controllers.WithAddr(""), controllers.WithMiddleware(returnsNil))
	require.ErrorIs(t, err, controllers.ErrInvalidOption)
	assert.Contains(t, err.Error(), `controllers.WithAddr("")`)
	assert.Contains(t, err.Error(), "returned a nil handler", "each invalid option is named")
}
