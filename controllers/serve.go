package controllers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// ServeHTTP serves one request through the server's whole stack, in this
// order:
//
//  1. the request id is read or made and set on the response, with
//     X-Content-Type-Options: nosniff, so that every response the handler
//     writes has both;
//  2. telemetry begins: the trace context of the headers is extracted, the
//     request's server span starts and the request counts as active;
//  3. the body is limited to the [WithBodyLimit] size;
//  4. a panic anywhere below is recovered, and when the request is done
//     its span ends, its metrics are recorded and its line is logged;
//  5. a state-changing request from another origin is refused
//     ([WithCrossOriginProtection]);
//  6. the server's middleware runs ([WithMiddleware]), in the order given;
//  7. the router picks the route, whose own middleware runs
//     ([MiddlewareController]) before the controller, action, stream or
//     handler.
//
// It is the handler of the server's own http.Server, and it can be used
// without starting the server, with httptest:
//
//	rec := httptest.NewRecorder()
//	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard/7", nil))
//
// ServeHTTP is safe for concurrent use, also while [Server.Mount] runs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { //nolint:contextcheck // the request's context is requestContext, which wraps r.Context()
	rw := &responseWriter{ResponseWriter: w, srv: s, id: requestID(r.Header[headerRequestIDKey]), start: time.Now()}
	rw.setHeader(slotRequestID, headerRequestIDKey, rw.id)
	rw.setHeader(slotNoSniff, headerNoSniffKey, "nosniff")
	rw.ctx = requestContext{Context: s.tel.begin(r.Context(), &rw.tel, r), rw: rw}
	ctx := context.Context(&rw.ctx)
	r = r.WithContext(ctx) //nolint:contextcheck // ctx wraps r.Context(): requestContext embeds it
	rw.req = r
	if r.Body != nil && r.Body != http.NoBody {
		// The original writer, so that net/http closes the connection
		// after a body that was too large.
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.bodyLimit)
		if rw.tel.metrics {
			rw.body = &countingBody{rc: r.Body}
			r.Body = rw.body
		}
	}
	defer func() {
		if p := recover(); p != nil {
			abort := s.recovered(rw, p)
			s.finish(ctx, rw)
			if abort {
				panic(http.ErrAbortHandler) // net/http drops the connection without logging
			}
			return
		}
		s.finish(ctx, rw)
	}()
	if s.cfg.crossOrigin != nil {
		if err := s.cfg.crossOrigin.Check(r); err != nil {
			s.writeNegotiated(rw, http.StatusForbidden, "cross-origin request refused")
			return
		}
	}
	s.chain.ServeHTTP(rw, r)
}

// finish ends the request's telemetry and logs its line. ctx is the
// request's, with its span, for the metrics' exemplars.
func (s *Server) finish(ctx context.Context, rw *responseWriter) {
	d := time.Since(rw.start)
	s.tel.end(ctx, rw, d)
	s.logRequest(rw, d)
}

// recovered handles a panic from a handler: it is logged with its stack and,
// if nothing was written yet, answered with a 500 problem. It reports
// whether the connection must be aborted instead: when the response had
// begun, so that the client sees a broken response rather than a truncated
// one that looks whole, and for http.ErrAbortHandler, which asks for that.
func (s *Server) recovered(rw *responseWriter, p any) (abort bool) {
	if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		return true
	}
	if ce := s.log().Check(zap.ErrorLevel, "panic in http handler"); ce != nil {
		ce.Write(append(rw.fields(), zap.Any("panic", p), zap.Stack("stack"))...)
	}
	if rw.wrote {
		return true
	}
	// The middleware that wrapped the writer was unwound by the panic:
	// answer on the server's own writer. Drop what the handler set for the
	// response it never wrote, such as a Content-Length or a
	// Content-Encoding that the problem would contradict; keep the request
	// id and nosniff. The problem is a page or JSON by the Accept header,
	// unless the route answers JSON only: say so in Vary, as Load's
	// answers do.
	rw.w = nil
	h := rw.Header()
	for name := range h {
		if name != headerRequestIDKey && name != headerNoSniffKey {
			delete(h, name)
		}
	}
	s.writeNegotiated(rw, http.StatusInternalServerError, "")
	return false
}

// writeNegotiated writes a problem as a page or JSON by the request's
// Accept header, unless its route answers JSON only, and then says so in
// Vary, so that a shared cache does not give a browser's page to an API
// client.
func (s *Server) writeNegotiated(rw *responseWriter, status int, detail string) {
	if rw.negotiated() {
		rw.varyAccept()
	}
	s.writeError(rw, status, detail, rw.html())
}

// router serves a request with the current routes: the last Mount's.
func (s *Server) router(w http.ResponseWriter, r *http.Request) {
	s.mux.Load().full.ServeHTTP(w, r)
}

// serveUnmatched answers a request that no route matches, registered on
// "/" after every route: the router's redirects (a missing trailing
// slash) are served as the router makes them; a 404, or a 405 with its
// Allow header, is answered with a problem, through the middleware. It
// asks the router without this fallback what it would answer, which costs
// a second match on this path only.
func (s *Server) serveUnmatched(w http.ResponseWriter, r *http.Request) {
	rw := s.enter(w, r, s.unmatched)
	h, pattern := s.mux.Load().bare.Handler(r)
	if pattern != "" {
		h.ServeHTTP(w, r) // a redirect
		return
	}
	probe := statusProbe{header: http.Header{}}
	h.ServeHTTP(&probe, r)
	if allow := probe.header.Get("Allow"); allow != "" && probe.status == http.StatusMethodNotAllowed {
		rw.out().Header().Set("Allow", allow)
		s.writeNegotiated(rw, http.StatusMethodNotAllowed, "")
		return
	}
	s.writeNegotiated(rw, http.StatusNotFound, "")
}

// statusProbe records what the router's own 404 or 405 handler answers.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(code int)        { p.status = code }
