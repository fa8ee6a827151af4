package controllers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// ServeHTTP serves one request through the server's whole stack, in this
// order: the request id is read or made and set on the response; the body
// is limited to the [WithBodyLimit] size; the router picks the route; a
// panic is recovered; one log line records the request. It is the handler
// of the server's own http.Server, and it can be used without starting the
// server, with httptest:
//
//	rec := httptest.NewRecorder()
//	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard/7", nil))
//
// ServeHTTP is safe for concurrent use, also while [Server.Mount] runs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &responseWriter{ResponseWriter: w, srv: s, id: requestID(r.Header[headerRequestIDKey])}
	rw.setHeader(slotRequestID, headerRequestIDKey, rw.id)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rw))
	rw.req = r
	if r.Body != nil && r.Body != http.NoBody {
		// The original writer, so that net/http closes the connection
		// after a body that was too large.
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.bodyLimit)
	}
	defer func() {
		if p := recover(); p != nil {
			abort := s.recovered(rw, p)
			s.logRequest(rw, start)
			if abort {
				panic(http.ErrAbortHandler) // net/http drops the connection without logging
			}
			return
		}
		s.logRequest(rw, start)
	}()
	s.mux.Load().ServeHTTP(rw, r)
}

// recovered handles a panic from a handler: it is logged with its stack and,
// if nothing was written yet, answered with a 500 envelope. It reports
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
	// Drop what the handler set for the response it never wrote, such as
	// a Content-Length or a Content-Encoding that the envelope would
	// contradict; keep the request id.
	h := rw.Header()
	for name := range h {
		if name != headerRequestIDKey {
			delete(h, name)
		}
	}
	rw.swallow = false
	s.writeError(rw, http.StatusInternalServerError, "", nil, rw.html())
	return false
}

// logRequest writes the request's log line: method, route pattern, status,
// duration and request id, at info level (debug for health probes).
func (s *Server) logRequest(rw *responseWriter, start time.Time) {
	lvl := zap.InfoLevel
	if rw.rt != nil && rw.rt.quiet {
		lvl = zap.DebugLevel
	}
	ce := s.log().Check(lvl, "http request")
	if ce == nil {
		return
	}
	status := rw.status
	if status == 0 {
		status = http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	ce.Write(
		zap.String("method", rw.req.Method),
		zap.String("route", rw.req.Pattern),
		zap.Int("status", status),
		zap.Duration("duration", time.Since(start)),
		zap.String("request_id", rw.id),
	)
}

// responseWriter is the state of one request: the writer handlers see,
// which records the status and replaces the router's plain-text 404 and 405
// with the error envelope, and the value RequestID finds in the context.
type responseWriter struct {
	http.ResponseWriter
	srv *Server
	req *http.Request // the request given to the router, which sets its Pattern
	id  string
	rt  *route // the route being served; nil while the router answers itself

	status       int
	wrote        bool // the final status was written
	intercepting bool // writing the envelope in place of the router's text
	swallow      bool // drop writes: the router's text after the envelope

	creq Request // the controller's Request, allocated with the writer

	// hdr backs the header values the server sets itself, one slot each, so
	// that they cost no allocation of their own.
	hdr [slotCount]string
}

// The slots of responseWriter.hdr.
const (
	slotRequestID = iota
	slotContentType
	slotNoSniff
	slotVary
	slotCount
)

// setHeader sets the header name, in canonical form, to the single value
// value, stored in slot. The value's slice has a capacity of one, so an
// Add by a handler copies it rather than writing over the next slot.
func (rw *responseWriter) setHeader(slot int, name, value string) {
	rw.hdr[slot] = value
	rw.Header()[name] = rw.hdr[slot : slot+1 : slot+1]
}

// WriteHeader records the status. A 404 or 405 written by the router itself,
// outside any route, becomes the error envelope; the Allow header of a 405
// is kept.
func (rw *responseWriter) WriteHeader(code int) {
	if rw.wrote {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		rw.ResponseWriter.WriteHeader(code) // informational: the final status follows
		return
	}
	if rw.rt == nil && !rw.intercepting && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		rw.intercepting = true
		rw.srv.writeError(rw, code, "", nil, rw.html())
		rw.swallow = true
		return
	}
	rw.status, rw.wrote = code, true
	rw.ResponseWriter.WriteHeader(code)
}

// Write writes b, after a 200 status if none was written.
func (rw *responseWriter) Write(b []byte) (int, error) {
	if rw.swallow {
		return len(b), nil
	}
	if !rw.wrote {
		rw.WriteHeader(http.StatusOK)
	}
	return rw.ResponseWriter.Write(b)
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

// pattern returns the route pattern that matched, "" if none did.
func (rw *responseWriter) pattern() string { return rw.req.Pattern }

// html reports whether errors of this request are answered with the shell:
// never for actions, which speak JSON, and otherwise when the client prefers
// HTML.
func (rw *responseWriter) html() bool {
	if rw.rt != nil && rw.rt.action != "" {
		return false
	}
	return wantsHTML(rw.req)
}

// fields returns the request's identity for a log entry.
func (rw *responseWriter) fields() []zap.Field {
	fields := make([]zap.Field, 0, 8)
	fields = append(fields,
		zap.String("method", rw.req.Method),
		zap.String("route", rw.req.Pattern),
		zap.String("request_id", rw.id),
	)
	if rw.rt != nil {
		fields = append(fields, zap.String("controller", rw.rt.owner))
		if rw.rt.action != "" {
			fields = append(fields, zap.String("action", rw.rt.action))
		}
	}
	return fields
}

// enter returns the request's state for one of the server's own handlers
// and records the route it serves. w is always the server's writer; should
// a handler be reached some other way, it gets a fresh state.
func (s *Server) enter(w http.ResponseWriter, r *http.Request, rt *route) *responseWriter {
	rw, ok := w.(*responseWriter)
	if !ok {
		rw = &responseWriter{ResponseWriter: w, srv: s, req: r, id: requestID(r.Header[headerRequestIDKey])}
	}
	rw.rt = rt
	return rw
}
