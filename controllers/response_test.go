package controllers

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSetHeaderSlotsDoNotAlias(t *testing.T) {
	t.Parallel()
	rw := &responseWriter{ResponseWriter: httptest.NewRecorder()}
	rw.setHeader(slotRequestID, headerRequestIDKey, "a")
	rw.Header().Add(HeaderRequestID, "b") // appends past the slot: must copy
	rw.setHeader(slotContentType, "Content-Type", "c")
	assert.Equal(t, []string{"a", "b"}, rw.Header()[headerRequestIDKey])
	assert.Equal(t, []string{"c"}, rw.Header()["Content-Type"])

	rw.setHeader(slotContentType, "Content-Type", "d") // a second write replaces the value
	assert.Equal(t, "d", rw.Header().Get("Content-Type"))
}
