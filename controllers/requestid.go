package controllers

import (
	"context"
	"math/rand/v2"
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
// Otherwise it returns a new random id: 26 characters of base32 (130
// bits) from the runtime's ChaCha8 generator, which is seeded by the
// operating system and costs no system call. An id names a request in
// logs; it is not a secret.
func requestID(values []string) string {
	if len(values) == 1 && validRequestID(values[0]) {
		return values[0]
	}
	return randomID()
}

// base32 is the alphabet of RFC 4648, as crypto/rand.Text uses.
const base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// randomID returns 26 random characters of base32.
func randomID() string {
	var b [26]byte
	hi, lo := rand.Uint64(), rand.Uint64() //nolint:gosec // G404: an id that names a request in logs, not a secret; the runtime's ChaCha8 is unpredictable enough

	for i := range 12 {
		b[i] = base32[hi&31]
		hi >>= 5
	}
	for i := 12; i < 24; i++ {
		b[i] = base32[lo&31]
		lo >>= 5
	}
	// 4 bits are left of each word; one more bit each makes 130.
	extra := rand.Uint64() //nolint:gosec // G404: as above
	b[24] = base32[hi|(extra&1)<<4]
	b[25] = base32[lo|(extra>>1&1)<<4]
	return string(b[:])
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
