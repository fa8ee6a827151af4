package controllers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/sprag-go/sprag/sprag"
)

// Request is what Load and actions see of an HTTP request: its path values,
// query, headers and context, the request id, and the server's services.
//
// A [Server] makes one per request; it is valid until Load or the action
// returns and must not be kept after. Its methods are safe for concurrent
// use by goroutines that Load starts and waits for. The zero value has no
// request behind it: its getters return zero values and [Service] reports
// [ErrNoServer].
type Request struct {
	http *http.Request
	rw   *responseWriter
	srv  *Server
	rt   *route
	ctx  context.Context // the action's span context; nil means http's

	form     url.Values // an action's form body, once decoded
	formHTML bool       // a browser's form post: answered with pages

	queryOnce sync.Once
	query     url.Values
}

// request fills in and returns the controller's Request, which lives inside
// the writer so that it costs no allocation of its own.
func (rw *responseWriter) request(r *http.Request) *Request {
	rw.creq = Request{http: r, rw: rw, srv: rw.srv, rt: rw.rt}
	return &rw.creq
}

// Context returns the request's context, the ctx that Load and actions
// receive. It ends when the client goes away, when the request's handling
// is over, or when the server stops. It carries the request id
// ([RequestID]) and the request's span, an action's span in an action, for
// the services Load calls and the bus listeners their emits reach.
func (r *Request) Context() context.Context {
	if r.ctx != nil {
		return r.ctx
	}
	if r.http == nil {
		return context.Background()
	}
	return r.http.Context()
}

// Form returns the fields of an action's form body, as the browser sent
// them, once the action's input was decoded from it; nil for a JSON body,
// in Load, and for a request that no server made.
func (r *Request) Form() url.Values { return r.form }

// StreamLastEventID returns the [Stream.LastEventID] of the server's
// stream on route ("GET /events"), for a page to embed so that its
// browser resumes the stream from the page's data; "" when the server has
// no such stream or it never ran.
func (r *Request) StreamLastEventID(route string) string {
	if r.srv == nil {
		return ""
	}
	for _, st := range r.srv.Streams() {
		if st.Route() == route || st.Route() == http.MethodGet+" "+route {
			return st.LastEventID()
		}
	}
	return ""
}

// PathValue returns the value of the route's wildcard name, unescaped:
// r.PathValue("id") for "GET /orders/{id}". It returns "" for a name the
// route does not have.
func (r *Request) PathValue(name string) string {
	if r.http == nil {
		return ""
	}
	return r.http.PathValue(name)
}

// Query returns the URL's query parameters, parsed on first use. Malformed
// pairs are dropped. The map is shared by every call: read it, do not
// change it.
func (r *Request) Query() url.Values {
	r.queryOnce.Do(func() {
		if r.http == nil {
			r.query = url.Values{}
			return
		}
		r.query = r.http.URL.Query()
	})
	return r.query
}

// Header returns the request's headers. Read them, do not change them.
func (r *Request) Header() http.Header {
	if r.http == nil {
		return http.Header{}
	}
	return r.http.Header
}

// ID returns the request id: the client's X-Request-ID when it was sane, a
// generated one otherwise. The response carries it in X-Request-ID, and the
// request's log lines and error envelopes show it.
func (r *Request) ID() string {
	if r.rw == nil {
		return ""
	}
	return r.rw.id
}

// Route returns the pattern that matched, such as "GET /orders/{id}" or,
// for an action, "POST /orders/{id}/cancel".
func (r *Request) Route() string {
	if r.http == nil {
		return ""
	}
	return r.http.Pattern
}

// WantsHTML reports whether the request's Accept header prefers an HTML
// page to JSON, by the rules the server answers with (see Rendering in the
// package documentation): it names text/html or application/xhtml+xml
// with a higher quality than JSON's; "*/*", no header and a tie are JSON.
// An action that answers a browser's form post with a redirect of its own
// asks it:
//
//	if r.Form() != nil && r.WantsHTML() { // a browser's form post
//		return nil, controllers.Redirect(http.StatusSeeOther, "/orders?placed="+id)
//	}
//
// It parses the header on each call, without allocating, and is false for
// a Request that no server made.
func (r *Request) WantsHTML() bool {
	if r.http == nil {
		return false
	}
	return wantsHTML(r.http)
}

// HTTP returns the underlying *http.Request, for what Request does not
// cover (cookies, the remote address, TLS state). Its body belongs to the
// action's decoder: do not read it. In an action, its context lacks the
// action's span: use Context.
func (r *Request) HTTP() *http.Request { return r.http }

// Service returns the service registered under name in the server's
// registry, as a T: the dynamic form of named injection, as the original's
// self.service("metrics"):
//
//	metrics, err := controllers.Service[*MetricsService](r, "metrics")
//	if err != nil {
//		return nil, err // a 500 for the client; the log says which service
//	}
//
// The error names the controller and wraps sprag.ErrNotFound, with the
// registered names, when nobody provided name, and sprag.ErrWrongType,
// with both types, when the service is of another type. A Request that no
// server made gets [ErrNoServer].
func Service[T any](r *Request, name string) (T, error) {
	if r == nil || r.srv == nil {
		var zero T
		return zero, fmt.Errorf("service %q: %w", name, ErrNoServer)
	}
	svc, err := sprag.Get[T](r.srv.registry, name)
	if err != nil {
		return svc, fmt.Errorf("controller %s: %w", r.rt.owner, err)
	}
	return svc, nil
}
