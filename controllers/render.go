package controllers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sync"
)

const (
	contentTypeJSON = "application/json"
	contentTypeHTML = "text/html; charset=utf-8"
)

// respond answers a successful Load with data: the shell page for a
// browser, JSON otherwise.
func (s *Server) respond(rw *responseWriter, data any, html bool) {
	if html {
		s.writePage(rw, http.StatusOK, data, nil)
		return
	}
	s.writeJSON(rw, http.StatusOK, data, true)
}

// envelope500 is sent should an error envelope ever fail to encode.
var envelope500 = []byte(`{"status":500,"message":"internal server error"}`)

// writeJSON answers with v encoded as JSON. v is encoded before anything is
// written, so that a value that cannot be encoded still gets a clean 500.
func (s *Server) writeJSON(rw *responseWriter, status int, v any, isData bool) {
	b, err := json.Marshal(v)
	if err != nil {
		if isData {
			s.internalError(rw, fmt.Errorf("encode response as json: %w", err), "request failed", false)
			return
		}
		status, b = http.StatusInternalServerError, envelope500 // not reached: an envelope always encodes
	}
	rw.setHeader(slotContentType, "Content-Type", contentTypeJSON)
	rw.setHeader(slotNoSniff, "X-Content-Type-Options", "nosniff")
	rw.WriteHeader(status)
	_, _ = rw.Write(b) // a failed write means the client is gone; nothing to answer
}

// bufferPool holds the buffers HTML pages are rendered into.
var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer keeps one huge page from pinning its buffer forever.
const maxPooledBuffer = 64 << 10

// writePage answers with the shell executed for data, or for the error
// envelope when body is not nil. The page is rendered into a buffer first:
// a shell that fails to execute gets a clean JSON 500, never half a page.
func (s *Server) writePage(rw *responseWriter, status int, data any, body *ErrorBody) {
	page := Page{
		Title:     s.cfg.title,
		Route:     rw.pattern(),
		Status:    status,
		RequestID: rw.id,
		Data:      data,
		Error:     body,
	}
	v := data
	if body != nil {
		v = body
	}
	// json.Marshal escapes <, >, & and U+2028/U+2029 as \u sequences, so
	// the result can sit in a script element: it cannot contain "</script"
	// or "<!--".
	b, err := json.Marshal(v)
	if err != nil {
		s.internalError(rw, fmt.Errorf("encode page data as json: %w", err), "request failed", false)
		return
	}
	page.JSON = template.JS(b) //nolint:gosec // G203: b is JSON with every '<', '>', '&', U+2028 and U+2029 escaped

	buf := bufferPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			bufferPool.Put(buf)
		}
	}()
	buf.Reset()
	if err := s.cfg.shell.Execute(buf, &page); err != nil {
		s.internalError(rw, fmt.Errorf("execute shell template %q: %w", s.cfg.shell.Name(), err), "render page", false)
		return
	}
	rw.setHeader(slotContentType, "Content-Type", contentTypeHTML)
	rw.setHeader(slotNoSniff, "X-Content-Type-Options", "nosniff")
	rw.WriteHeader(status)
	_, _ = rw.Write(buf.Bytes()) // a failed write means the client is gone
}
