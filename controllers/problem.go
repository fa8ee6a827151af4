package controllers

import (
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// ErrorBody is the JSON envelope of every error response of a [Server]: a
// failed Load or action, an invalid action body, a recovered panic, and the
// 404 and 405 answers of the router.
//
//	{"status":400,"message":"invalid input","request_id":"8FJ3…",
//	 "fields":[{"field":"email","rule":"email","message":"must be a valid email address"}]}
//
// It carries only what is safe for the client: the status, a public
// message, the request id to quote to support, and the input fields at
// fault. Internal error text and stacks go to the log, under the same
// request id.
type ErrorBody struct {
	Status    int          `json:"status"`
	Message   string       `json:"message"`
	RequestID string       `json:"request_id,omitempty"`
	Fields    []FieldError `json:"fields,omitempty"`
}

// FieldError names one input field that an action refused.
type FieldError struct {
	// Field is the field's path as the client wrote it, with JSON names:
	// "email", "customer.address.zip", "items[2].sku". For a value of the
	// wrong type inside an array the index is not known and is left out
	// ("items.qty").
	Field string `json:"field"`
	// Rule is the validator tag that failed ("required", "email", "min",
	// …), "type" for a value of the wrong JSON type, or "unknown" for a
	// field the action does not accept.
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
		rw.Header().Set("Location", redirect.URL)
		rw.WriteHeader(redirect.Status)
		return
	}
	var he *HTTPError
	if errors.As(err, &he) {
		if he.Status < 400 || he.Status > 599 {
			s.internalError(rw, err, "http error with a status outside 400-599", html)
			return
		}
		if he.Status >= http.StatusInternalServerError {
			s.logFailure(rw, "request failed", err)
		}
		s.writeError(rw, he.Status, he.Message, he.Fields, html)
		return
	}
	s.internalError(rw, err, "request failed", html)
}

// internalError logs err and answers 500 with a generic message.
func (s *Server) internalError(rw *responseWriter, err error, msg string, html bool) {
	s.logFailure(rw, msg, err)
	s.writeError(rw, http.StatusInternalServerError, "", nil, html)
}

// logFailure logs a failure of the request at error level, with the
// request's identity.
func (s *Server) logFailure(rw *responseWriter, msg string, err error) {
	if ce := s.log().Check(zap.ErrorLevel, msg); ce != nil {
		ce.Write(append(rw.fields(), zap.Error(err))...)
	}
}

// writeError answers with the error envelope: as JSON, or inside the shell
// for a browser. An empty message becomes the status text.
func (s *Server) writeError(rw *responseWriter, status int, message string, fields []FieldError, html bool) {
	if message == "" {
		message = statusMessage(status)
	}
	body := &ErrorBody{Status: status, Message: message, RequestID: rw.id, Fields: fields}
	if html {
		s.writePage(rw, status, nil, body)
		return
	}
	s.writeJSON(rw, status, body, false)
}

// statusMessage is the lower-case status text: "not found".
func statusMessage(status int) string {
	if t := http.StatusText(status); t != "" {
		return strings.ToLower(t)
	}
	return "error"
}
