package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The environment variables the example reads, besides fxmodule's
// SPRAG_ADDR (the address, localhost:8080 by default).
const (
	envData    = "SPRAG_DATA"          // the data directory
	envCollect = "SPRAG_COLLECT_EVERY" // how often MetricsService collects, a Go duration
	envTrace   = "SPRAG_TRACE"         // "stdout" prints every span
	envKey     = "EMAIL_KEY"           // the mail provider's API key; unset: the local mailbox
	envURL     = "EMAIL_API_URL"       // the mail provider's send endpoint
)

// Config is the example's configuration.
type Config struct {
	// DataDir holds orders.db and mailbox.db: SPRAG_DATA, else
	// sprag-dashboard in the user's cache directory
	// (~/.cache/sprag-dashboard on Linux), else ./data.
	DataDir string
	// CollectEvery is MetricsService's interval: SPRAG_COLLECT_EVERY, 5s
	// by default.
	CollectEvery time.Duration
	// Trace is where spans go: "" nowhere, "stdout" to standard output.
	Trace string
	// EmailKey and EmailURL are the mail provider's; without a key, mail
	// goes to the local Mailbox.
	EmailKey, EmailURL string
}

// errConfig is wrapped by every configuration mistake.
var errConfig = errors.New("configuration")

// configFromEnv reads the Config from the environment.
func configFromEnv() (Config, error) {
	cfg := Config{
		DataDir:      os.Getenv(envData),
		CollectEvery: 5 * time.Second,
		Trace:        os.Getenv(envTrace),
		EmailKey:     os.Getenv(envKey),
		EmailURL:     os.Getenv(envURL),
	}
	if cfg.DataDir == "" {
		cfg.DataDir = defaultDataDir()
	}
	if v := os.Getenv(envCollect); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("%w: %s=%q is not a positive duration such as 5s", errConfig, envCollect, v)
		}
		cfg.CollectEvery = d
	}
	if cfg.Trace != "" && cfg.Trace != "stdout" {
		return Config{}, fmt.Errorf("%w: %s=%q: the one exporter is \"stdout\"", errConfig, envTrace, cfg.Trace)
	}
	if cfg.EmailURL == "" {
		cfg.EmailURL = "https://api.mail.example/v1/send"
	}
	return cfg, nil
}

// defaultDataDir is the data directory without SPRAG_DATA. The user's
// cache directory keeps a demo's data out of the working tree; a program
// with data to keep sets SPRAG_DATA.
func defaultDataDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "sprag-dashboard")
	}
	return "data"
}
