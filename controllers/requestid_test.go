package controllers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want bool
	}{
		{"abc", true},
		{"0af7651916cd43dd8448eb211c80319c", true},
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793", true},
		{"a.b:c_d+e/f@g", true},
		{strings.Repeat("x", MaxRequestIDLength), true},
		{strings.Repeat("x", MaxRequestIDLength+1), false},
		{"", false},
		{"has space", false},
		{"new\nline", false},
		{"quote\"", false},
		{"<script>", false},
		{"semi;colon", false},
		{"ünïcode", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, validRequestID(tt.give), "%q", tt.give)
	}
}

func TestRequestIDIsEchoedOrGenerated(t *testing.T) {
	t.Parallel()
	var seen []string
	srv := newServerForTest(t)
	require.NoError(t, srv.Handle("GET /id", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		seen = append(seen, RequestID(r.Context()))
	})))

	rec := serve(srv, http.MethodGet, "/id", nil, HeaderRequestID, "client-id-1")
	assert.Equal(t, "client-id-1", rec.Header().Get(HeaderRequestID))

	generated := map[string]bool{}
	for _, give := range []string{"", "bad id", strings.Repeat("y", 500), "x\x00"} {
		rec := serve(srv, http.MethodGet, "/id", nil, HeaderRequestID, give)
		id := rec.Header().Get(HeaderRequestID)
		assert.Len(t, id, 26, "a random base32 id")
		assert.True(t, validRequestID(id))
		assert.NotEqual(t, give, id)
		generated[id] = true
	}
	assert.Len(t, generated, 4, "generated ids differ")

	req := newRequest(http.MethodGet, "/id", "")
	req.Header.Add(HeaderRequestID, "one")
	req.Header.Add(HeaderRequestID, "two")
	rec = serveRequest(srv, req)
	assert.NotContains(t, []string{"one", "two"}, rec.Header().Get(HeaderRequestID), "an ambiguous id is replaced")

	require.Len(t, seen, 6)
	assert.Equal(t, "client-id-1", seen[0], "handlers see the id in the context")
	assert.Empty(t, RequestID(context.Background()))
}

func TestRandomIDUsesEveryBit(t *testing.T) {
	t.Parallel()
	var seen [26]map[byte]bool
	for i := range seen {
		seen[i] = map[byte]bool{}
	}
	for range 2000 {
		id := randomID()
		require.Len(t, id, 26)
		for i := range len(id) {
			require.Contains(t, base32, string(id[i]))
			seen[i][id[i]] = true
		}
	}
	for i, chars := range seen {
		assert.Len(t, chars, 32, "position %d takes every character: 5 random bits", i)
	}
}
