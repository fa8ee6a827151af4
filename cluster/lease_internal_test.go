package cluster

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
)

// TestKeyExistsKnowsBothCodes: a lost compare-and-set is "wrong last
// sequence" under code 10071 (one server) or 10164 (a replicated stream),
// wrapped or raw; nothing else is.
func TestKeyExistsKnowsBothCodes(t *testing.T) {
	tests := []struct {
		name string
		give error
		want bool
	}{
		{name: "10071 raw", give: &jetstream.APIError{ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Code: 400}, want: true},
		{name: "10164 raw", give: &jetstream.APIError{ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant, Code: 400}, want: true},
		{name: "10164 wrapped", give: fmt.Errorf("create: %w", &jetstream.APIError{ErrorCode: 10164}), want: true},
		{name: "ErrKeyExists", give: jetstream.ErrKeyExists, want: true},
		{name: "ErrKeyRevisionMismatch", give: fmt.Errorf("%w", jetstream.ErrKeyRevisionMismatch), want: true},
		{name: "another API error", give: &jetstream.APIError{ErrorCode: jetstream.JSErrCodeStreamNotFound, Code: 404}},
		{name: "a timeout", give: errors.New("nats: timeout")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, keyExists(tt.give))
		})
	}
}
