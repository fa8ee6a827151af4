package controllers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

var (
	// ErrNoRoute is returned by [Server.Mount] for a controller whose
	// Route is empty.
	ErrNoRoute = errors.New("controllers: controller has no route")

	// ErrNilController is returned by [Server.Mount] for a nil controller
	// and by [Server.Handle] for a nil handler.
	ErrNilController = errors.New("controllers: nil controller")

	// ErrInvalidRoute is returned by [Server.Mount] and [Server.Handle]
	// for a pattern that http.ServeMux refuses; the error also wraps the
	// mux's explanation.
	ErrInvalidRoute = errors.New("controllers: invalid route")

	// ErrRouteConflict is returned by [Server.Mount] and [Server.Handle]
	// when two routes, or a route and an action, match the same requests
	// with neither more specific than the other: the same pattern twice,
	// or patterns such as "GET /a/{x}" and "GET /{y}/b". The error names
	// both routes and both controllers.
	ErrRouteConflict = errors.New("controllers: route conflict")

	// ErrInvalidAction is returned by [Server.Mount] for an action with a
	// nil function, a name that is not a path segment of letters, digits,
	// '-' and '_', a name used twice by one controller, or a route that
	// ends in a "{name...}" wildcard, after which no action path fits.
	ErrInvalidAction = errors.New("controllers: invalid action")

	// ErrInvalidOption is returned by [NewServer] for an option with a
	// value out of range, such as a negative timeout.
	ErrInvalidOption = errors.New("controllers: invalid option")

	// ErrInvalidStream is returned by [Server.Stream] and [NewServer]
	// ([WithStream]) for a stream without topics, with a malformed topic
	// or pattern, a topic named twice, a route with a method other than
	// GET, or an invalid [StreamOption].
	ErrInvalidStream = errors.New("controllers: invalid stream")

	// ErrNoServer is returned by [Service] for a [Request] that was not
	// made by a [Server], such as a zero Request built in a test.
	ErrNoServer = errors.New("controllers: request has no server")
)

// HTTPError is an error with an HTTP status and a message meant for the
// client. Return one from Load or an action to answer with that status:
//
//	return nil, controllers.NewError(http.StatusNotFound, "order not found")
//
// The client receives a [Problem]: Status, Type and Title, Message as its
// detail, and Fields as its errors. Err, the cause, is never sent: it is
// logged when Status is 500 or more. A Status outside 400–599 is answered
// as 500. An HTTPError wrapped by another error (fmt.Errorf with %w) is
// found with errors.As and answered the same way; the wrapper's text is
// not sent either.
type HTTPError struct {
	Status  int          // an HTTP status from 400 to 599
	Message string       // the problem's detail, safe to show to the client; may be empty
	Fields  []FieldError // the input fields at fault, for 400s
	Err     error        // the cause, logged and never sent

	// Type is a URI reference naming the kind of problem, for clients
	// that act on it ("https://example.com/probs/out-of-credit"); empty
	// means "about:blank": the status says it all.
	Type string
	// Title summarises the kind of problem; empty means the status text.
	// It is sent whenever it is set; set it with Type, since RFC 9457
	// asks that the title of "about:blank" be the status text.
	Title string
}

// NewError returns an *HTTPError with status and a message for the client.
func NewError(status int, message string) *HTTPError {
	return &HTTPError{Status: status, Message: message}
}

// Error implements error. The text includes the cause, so it is for logs,
// not for clients.
func (e *HTTPError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = strings.ToLower(statusTitle(e.Status))
	}
	if e.Err != nil {
		return fmt.Sprintf("http %d: %s: %v", e.Status, msg, e.Err)
	}
	return fmt.Sprintf("http %d: %s", e.Status, msg)
}

// Unwrap returns the cause.
func (e *HTTPError) Unwrap() error { return e.Err }

// RedirectError is a redirect returned as an error by Load or an action; build
// it with [Redirect]. It is an error so that a helper deep in Load's calls
// (an authentication check, say) can end the request with a redirect.
type RedirectError struct {
	Status int    // 301, 302, 303, 307 or 308
	URL    string // the Location header, absolute or relative to the request
}

// Redirect returns an error that answers the request with a redirect to url:
//
//	return nil, controllers.Redirect(http.StatusSeeOther, "/login")
//
// status must be 301, 302, 303, 307 or 308 and url must not be empty;
// otherwise the request is answered with 500 and the mistake is logged. The
// response has a Location header and no body, for API clients and browsers
// alike.
func Redirect(status int, url string) error {
	return &RedirectError{Status: status, URL: url}
}

// Error implements error.
func (e *RedirectError) Error() string {
	return fmt.Sprintf("redirect %d to %q", e.Status, e.URL)
}

// valid reports whether the redirect can be sent as is.
func (e *RedirectError) valid() bool {
	switch e.Status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return e.URL != ""
	}
	return false
}
