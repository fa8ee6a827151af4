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

func TestAPISenderPostsMailWithTheKey(t *testing.T) {
	var got Mail
	var auth string
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&got))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer provider.Close()

	s := &APISender{URL: provider.URL, Key: "k3y", Client: provider.Client()}
	require.NoError(t, s.Send(context.Background(), Mail{To: "ada@example.com", Subject: "hi", Body: "hello"}))
	assert.Equal(t, "Bearer k3y", auth)
	assert.Equal(t, Mail{To: "ada@example.com", Subject: "hi", Body: "hello"}, got)
}

func TestAPISenderReportsAProviderError(t *testing.T) {
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer provider.Close()
	s := &APISender{URL: provider.URL, Key: "bad", Client: provider.Client()}
	require.ErrorContains(t, s.Send(context.Background(), Mail{To: "x@example.com"}), "401 Unauthorized")
}

func TestNewEmailServiceChoosesItsSender(t *testing.T) {
	t.Setenv("EMAIL_KEY", "")
	_, logs := NewEmailService().sender.(logSender)
	assert.True(t, logs, "without EMAIL_KEY mail is logged")

	t.Setenv("EMAIL_KEY", "k3y")
	t.Setenv("EMAIL_API_URL", "https://mail.internal/send")
	api, ok := NewEmailService().sender.(*APISender)
	require.True(t, ok)
	assert.Equal(t, "https://mail.internal/send", api.URL)
}

func TestOutboxReportsAFullQueue(t *testing.T) {
	b := &Outbox{queue: make(chan Mail, 1)}
	require.NoError(t, b.Post(Mail{To: "a@example.com"}))
	require.ErrorContains(t, b.Post(Mail{To: "b@example.com"}), "outbox full")
}
