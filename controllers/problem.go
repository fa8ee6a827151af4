package controllers

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag"
)

// ContentTypeProblem is the media type of every error response of a
// [Server] to an API client (RFC 9457).
const ContentTypeProblem = "application/problem+json"

// ProblemTypeDefault is [Problem.Type] when the error names no type of its
// own: the problem is what its status says (RFC 9457, section 4.2.1).
const ProblemTypeDefault = "about:blank"

// Problem is the body of every error response of a [Server], an RFC 9457
// problem details document sent as application/problem+json: a failed
// Load or action, an invalid action body, a refused cross-origin request,
// a recovered panic, and the router's 404 and 405.
//
//	{"type":"about:blank","title":"Bad Request","status":400,"detail":"invalid input",
//	 "instance":"/orders/7/refund","request_id":"8FJ3…",
//	 "errors":[{"field":"reason","rule":"oneof","param":"damaged late other","message":"must be one of: damaged, late, other"}]}
//
// It carries only what is safe for the client: the status, its title, a
// public detail, the path of the request, the request id to quote to
// support, and the input fields at fault. Internal error text and stacks
// go to the log, under the same request id. Browsers get the same
// document inside the shell page ([Page.Error]).
type Problem struct {
	// Type is a URI reference that names the kind of problem:
	// [HTTPError.Type], else "about:blank", which means that the status
	// says it all.
	Type string `json:"type"`
	// Title is a short summary of the type: [HTTPError.Title], else the
	// status text ("Not Found").
	Title string `json:"title"`
	// Status is the response's HTTP status.
	Status int `json:"status"`
	// Detail explains this occurrence for the client: the Message of the
	// [HTTPError] that chose the status, whatever the status, or the
	// server's own reason for a refusal ("request body is larger than 1024
	// bytes"). It is empty when there is none: for the 500 of any other
	// error and of a panic, whose cause is only logged, and for the
	// router's 404 and 405.
	Detail string `json:"detail,omitempty"`
	// Instance is the path of the request that failed, as the client sent
	// it, without the query.
	Instance string `json:"instance,omitempty"`
	// RequestID is the request's id ([RequestID]), as in the X-Request-ID
	// header and the log lines: an extension member of RFC 9457.
	RequestID string `json:"request_id,omitempty"`
	// Errors lists the input fields at fault, for a 400 of an action: an
	// extension member of RFC 9457.
	Errors []FieldError `json:"errors,omitempty"`
}

// Message returns Detail, or Title when Detail is empty: the line a page
// shows for the problem.
func (p Problem) Message() string {
	if p.Detail != "" {
		return p.Detail
	}
	return p.Title
}

// FieldError names one input field that an action refused.
type FieldError struct {
	// Field is the field's path as the client wrote it, with JSON names:
	// "email", "customer.address.zip", "items[2].sku". A form field has
	// the same name, and so has an unknown field of a JSON body
	// ("items[1].color"). For a value of the wrong type inside an array
	// the index is not known and is left out ("items.qty").
	Field string `json:"field"`
	// Rule is the validator tag that failed ("required", "email", "min",
	// …), "type" for a value of the wrong type, or "unknown" for a field
	// the action does not accept.
	Rule string `json:"rule"`
	// Param is the rule's parameter, such as "3" for min=3.
	Param string `json:"param,omitempty"`
	// Message says what is wrong, without the field's name: "is required",
	// "must be at least 3 characters long".
	Message string `json:"message"`
}

// fail answers with err, returned by Load or an action: a redirect, an
// *HTTPError, or anything else as a logged 500.
func (s *Server) fail(rw *responseWriter, err error, html bool) {
	var redirect *RedirectError
	if errors.As(err, &redirect) {
		if !redirect.valid() {
			s.internalError(rw, err, "invalid redirect: need status 301, 302, 303, 307 or 308 and a url", html)
			return
		}
		rw.out().Header().Set("Location", redirect.URL)
		rw.out().WriteHeader(redirect.Status)
		return
	}
	he, ok := s.httpError(rw, err, html)
	if !ok {
		return
	}
	s.writeProblem(rw, he.problem(), html)
}

// httpError finds the *HTTPError in err. When there is none, or its status
// is out of range, it answers the request with a logged 500 and reports
// false. A 5xx HTTPError is logged.
func (s *Server) httpError(rw *responseWriter, err error, html bool) (*HTTPError, bool) {
	var he *HTTPError
	if !errors.As(err, &he) {
		s.internalError(rw, err, "request failed", html)
		return nil, false
	}
	if he.Status < 400 || he.Status > 599 {
		s.internalError(rw, err, "http error with a status outside 400-599", html)
		return nil, false
	}
	if he.Status >= http.StatusInternalServerError {
		s.logFailure(rw, "request failed", err)
	}
	return he, true
}

// internalError logs err and answers 500 with no detail.
func (s *Server) internalError(rw *responseWriter, err error, msg string, html bool) {
	s.logFailure(rw, msg, err)
	s.writeError(rw, http.StatusInternalServerError, "", html)
}

// logFailure logs a failure of the request at error level, with the
// request's identity. A failure that is a recovered panic (a
// *sprag.PanicError, such as a stream's authorization hook's) is logged as
// the server's own recoveries are, "panic in http handler" with the panic
// and its stack.
func (s *Server) logFailure(rw *responseWriter, msg string, err error) {
	fields := []zap.Field{zap.Error(err)}
	var pe *sprag.PanicError
	if errors.As(err, &pe) {
		msg = "panic in http handler"
		fields = append(fields, zap.Any("panic", pe.Value), zap.String("stack", string(pe.Stack)))
	}
	if ce := s.log().Check(zap.ErrorLevel, msg); ce != nil {
		ce.Write(append(rw.fields(), fields...)...)
	}
}

// writeError answers with a problem of the default type for status, with
// detail, "" for none.
func (s *Server) writeError(rw *responseWriter, status int, detail string, html bool) {
	p := &HTTPError{Status: status, Message: detail}
	s.writeProblem(rw, p.problem(), html)
}

// writeProblem completes p with the request's path and id and answers
// with it: as problem+json, or inside the shell for a browser.
func (s *Server) writeProblem(rw *responseWriter, p *Problem, html bool) {
	s.completeProblem(rw, p)
	if html {
		s.writePage(rw, p.Status, pageOf(nil, p, nil))
		return
	}
	s.writeBody(rw, p.Status, ContentTypeProblem, p, false)
}

// completeProblem fills in the request's parts of p: its path and id.
func (s *Server) completeProblem(rw *responseWriter, p *Problem) {
	p.RequestID = rw.id
	if rw.req != nil && rw.req.URL != nil {
		p.Instance = rw.req.URL.EscapedPath()
	}
}

// problem returns the problem document of e, without the request's parts.
func (e *HTTPError) problem() *Problem {
	p := &Problem{Type: e.Type, Title: e.Title, Status: e.Status, Detail: e.Message, Errors: e.Fields}
	if p.Type == "" {
		p.Type = ProblemTypeDefault
	}
	if p.Title == "" {
		p.Title = statusTitle(e.Status)
	}
	return p
}

// statusTitle is the status text, "Not Found", or "Error" for a status
// net/http does not name.
func statusTitle(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}
