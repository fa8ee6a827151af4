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
		s.writePage(rw, http.StatusOK, pageOf(data, nil, nil))
		return
	}
	s.writeJSON(rw, http.StatusOK, data)
}

// problem500 is sent should a problem document ever fail to encode.
var problem500 = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)

// writeJSON answers with v, the app's data or the server's own document,
// encoded as JSON; see writeBody.
func (s *Server) writeJSON(rw *responseWriter, status int, v any) {
	s.writeBody(rw, status, contentTypeJSON, v, true)
}

// writeBody answers with v encoded as JSON, with the content type ct. v is
// encoded before anything is written, so that a value that cannot be
// encoded still gets a clean 500; isData says whether v is the app's data,
// whose failure is logged, or the server's own document.
func (s *Server) writeBody(rw *responseWriter, status int, ct string, v any, isData bool) {
	b, err := json.Marshal(v)
	if err != nil {
		if isData {
			s.internalError(rw, fmt.Errorf("encode response as json: %w", err), "request failed", false)
			return
		}
		status, ct, b = http.StatusInternalServerError, ContentTypeProblem, problem500 // not reached: a problem always encodes
	}
	rw.setHeader(slotContentType, "Content-Type", ct)
	out := rw.out()
	out.WriteHeader(status)
	_, _ = out.Write(b) // a failed write means the client is gone; nothing to answer
}

// bufferPool holds the buffers HTML pages are rendered into.
var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer keeps one huge page from pinning its buffer forever.
const maxPooledBuffer = 64 << 10

// pageOf returns a page of Load's data, an error page for problem, or a
// page with a refused form.
func pageOf(data any, problem *Problem, form *Form) *Page {
	return &Page{Data: data, Error: problem, Form: form}
}

// writePage answers with the shell executed for page, whose request parts
// it fills in. The page is rendered into a buffer first: a shell that fails
// to execute gets a clean problem 500, never half a page.
func (s *Server) writePage(rw *responseWriter, status int, page *Page) {
	page.Title = s.cfg.title
	page.Route = rw.pattern()
	page.Status = status
	page.RequestID = rw.id
	v := page.Data
	if page.Error != nil {
		v = page.Error
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
	if err := s.cfg.shell.Execute(buf, page); err != nil {
		s.internalError(rw, fmt.Errorf("execute shell template %q: %w", s.cfg.shell.Name(), err), "render page", false)
		return
	}
	rw.setHeader(slotContentType, "Content-Type", contentTypeHTML)
	out := rw.out()
	out.WriteHeader(status)
	_, _ = out.Write(buf.Bytes()) // a failed write means the client is gone
}
