package controllers

import (
	"context"
	"crypto/rand"
)

// HeaderRequestID is the header a request id is read from and echoed in.
const HeaderRequestID = "X-Request-ID"

// headerRequestIDKey is HeaderRequestID in canonical form, for direct map
// access.
const headerRequestIDKey = "X-Request-Id"

// MaxRequestIDLength is the longest X-Request-ID a [Server] accepts from a
// client.
const MaxRequestIDLength = 128

// requestID returns the client's request id when it is sane: 1 to
// MaxRequestIDLength characters among ASCII letters, digits and "-_.:+=/@".
// Otherwise it returns a new random id (26 characters of base32 from
// crypto/rand, 130 bits).
func requestID(values []string) string {
	if len(values) == 1 && validRequestID(values[0]) {
		return values[0]
	}
	return rand.Text()
}

func validRequestID(s string) bool {
	if s == "" || len(s) > MaxRequestIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '=', c == '/', c == '@':
		default:
			return false
		}
	}
	return true
}

// ctxKey keys the request's state in its context.
type ctxKey struct{}

// RequestID returns the id of the request whose context ctx is, or
// derives from: the client's X-Request-ID when it was sane, a generated one
// otherwise. It is the id in the response's X-Request-ID header, in the
// request's log line and in error envelopes. It returns "" for a context
// that no [Server] made, and is safe for concurrent use.
func RequestID(ctx context.Context) string {
	if rw, ok := ctx.Value(ctxKey{}).(*responseWriter); ok {
		return rw.id
	}
	return ""
}
