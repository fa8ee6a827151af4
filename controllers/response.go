package controllers

import (
	"context"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// responseWriter is the state of one request, made by [Server.ServeHTTP]:
// the writer at the bottom of the handler chain, which records the status
// and the bytes written, and the value [RequestID] finds in the context.
type responseWriter struct {
	http.ResponseWriter // the connection's writer
	srv                 *Server
	req                 *http.Request // the request as the server's stack made it
	id                  string
	start               time.Time
	rt                  *route // the route being served; nil until a server handler enters

	// w is the writer the route's handler was given, when middleware
	// wrapped this one; the server's handlers answer through it, so that
	// the middleware sees the answer. nil means this writer itself.
	w http.ResponseWriter

	status  int
	wrote   bool  // the final status was written
	written int64 // body bytes written

	tel  requestTelemetry
	body *countingBody // the request body, counted when metrics are on

	ctx  requestContext // the request's context, allocated with the writer
	creq Request        // the controller's Request, allocated with the writer

	// hdr backs the header values the server sets itself, one slot each, so
	// that they cost no allocation of their own.
	hdr [slotCount]string
}

// headerNoSniffKey is the header every response of the server has, with
// the value "nosniff": browsers take the Content-Type as sent, rather than
// guess a type from the body. It is in canonical form, for direct map use.
const headerNoSniffKey = "X-Content-Type-Options"

// The slots of responseWriter.hdr.
const (
	slotRequestID = iota
	slotContentType
	slotNoSniff
	slotVary
	slotCount
)

// varyAccept adds Accept to the response's Vary header: the answer depends
// on the Accept header (JSON or HTML).
func (rw *responseWriter) varyAccept() {
	if vary := rw.out().Header()["Vary"]; len(vary) > 0 {
		rw.out().Header()["Vary"] = append(vary, "Accept")
		return
	}
	rw.setHeader(slotVary, "Vary", "Accept")
}

// out returns where the server's handlers write their answer.
func (rw *responseWriter) out() http.ResponseWriter {
	if rw.w != nil {
		return rw.w
	}
	return rw
}

// setHeader sets the header name, in canonical form, to the single value
// value, stored in slot. The value's slice has a capacity of one, so an
// Add by a handler copies it rather than writing over the next slot. When
// middleware wrapped the writer, the header goes through the wrapper.
func (rw *responseWriter) setHeader(slot int, name, value string) {
	if rw.w != nil {
		rw.w.Header().Set(name, value)
		return
	}
	rw.hdr[slot] = value
	rw.Header()[name] = rw.hdr[slot : slot+1 : slot+1]
}

// WriteHeader records the status. Informational statuses pass through and
// are not the final status; a second final status is dropped.
func (rw *responseWriter) WriteHeader(code int) {
	if rw.wrote {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		rw.ResponseWriter.WriteHeader(code) // informational: the final status follows
		return
	}
	rw.status, rw.wrote = code, true
	rw.ResponseWriter.WriteHeader(code)
}

// Write writes b, after a 200 status if none was written.
func (rw *responseWriter) Write(b []byte) (int, error) {
	if !rw.wrote {
		rw.WriteHeader(http.StatusOK)
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.written += int64(n)
	return n, err
}

// Flush sends what was written so far, when the underlying writer can.
func (rw *responseWriter) Flush() {
	if !rw.wrote {
		rw.WriteHeader(http.StatusOK)
	}
	if f, ok := rw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// pattern returns the route pattern being served, "" if no route matched.
func (rw *responseWriter) pattern() string {
	if rw.rt == nil {
		return ""
	}
	return rw.rt.pattern
}

// finalStatus is the status the client got: 200 for a handler that wrote
// nothing, as net/http sends.
func (rw *responseWriter) finalStatus() int {
	if rw.status == 0 {
		return http.StatusOK
	}
	return rw.status
}

// html reports whether errors of this request are answered with the shell:
// not for actions called with JSON, nor streams, and otherwise when the
// client prefers HTML.
func (rw *responseWriter) html() bool {
	return rw.negotiated() && wantsHTML(rw.req)
}

// negotiated reports whether the answer of this request's errors depends
// on its Accept header: not for streams, nor actions called with JSON.
func (rw *responseWriter) negotiated() bool {
	return rw.rt == nil || (rw.rt.kind != kindStream && (rw.rt.kind != kindAction || rw.creq.formHTML))
}

// fields returns the request's identity for a log entry.
func (rw *responseWriter) fields() []zap.Field {
	fields := make([]zap.Field, 0, 8)
	fields = append(fields,
		zap.String("method", rw.req.Method),
		zap.String("route", rw.pattern()),
		zap.String("request_id", rw.id),
	)
	if rw.rt != nil {
		fields = append(fields, zap.String("controller", rw.rt.owner))
		if rw.rt.action != "" {
			fields = append(fields, zap.String("action", rw.rt.action))
		}
	}
	return rw.tel.appendTrace(fields)
}

// enter returns the request's state for one of the server's own handlers
// and records the route it serves. w is the server's writer unless
// middleware wrapped it; then the state comes from the request's context
// and the handler answers through w. A request that did not come through
// [Server.ServeHTTP] gets a fresh state.
func (s *Server) enter(w http.ResponseWriter, r *http.Request, rt *route) *responseWriter {
	rw, ok := w.(*responseWriter)
	if !ok {
		if rw, ok = r.Context().Value(ctxKey{}).(*responseWriter); ok {
			rw.w = w
		} else {
			rw = &responseWriter{ResponseWriter: w, srv: s, req: r, id: requestID(r.Header[headerRequestIDKey]), start: time.Now()}
		}
	}
	rw.rt = rt
	rw.tel.route(rw)
	return rw
}

// requestContext is the request's context: its parent, and the request's
// state for RequestID and the server's handlers. It lives inside the
// responseWriter, so that it costs no allocation of its own, where
// context.WithValue would.
type requestContext struct {
	context.Context
	rw *responseWriter
}

// Value returns the request's state for ctxKey, and asks the parent for
// any other key.
func (c *requestContext) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return c.rw
	}
	return c.Context.Value(key)
}

// countingBody counts the bytes read from a request body, for the body
// size metric.
type countingBody struct {
	rc io.ReadCloser
	n  int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }
