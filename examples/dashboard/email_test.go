package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAPISenderPostsMailWithTheKeys(t *testing.T) {
	var got Mail
	var auth, idem string
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, idem = r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key")
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&got))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer provider.Close()

	s := &APISender{URL: provider.URL, Key: "k3y", Client: provider.Client()}
	require.NoError(t, s.Send(context.Background(), Mail{Key: "K1", To: "ada@example.com", Subject: "hi", Body: "hello"}))
	assert.Equal(t, "Bearer k3y", auth)
	assert.Equal(t, "K1", idem, "the provider delivers a repeated send once")
	assert.Equal(t, Mail{To: "ada@example.com", Subject: "hi", Body: "hello"}, got, "the key travels in the header, not the body")
}

func TestAPISenderReportsAProviderError(t *testing.T) {
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer provider.Close()
	s := &APISender{URL: provider.URL, Key: "bad", Client: provider.Client()}
	require.ErrorContains(t, s.Send(context.Background(), Mail{Key: "K", To: "x@example.com"}), "401 Unauthorized")
}
