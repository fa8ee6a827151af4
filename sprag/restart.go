package sprag

import (
	"errors"
	"time"
)

// RestartPolicy says how a task started with [Restart] recovers from
// failure, in the spirit of OTP supervisors: a task that returns an error or
// panics runs again after a backoff, unless it has already been restarted
// MaxRestarts times within the last Window. Past that limit it gives up:
// the failure is logged, the handle's error wraps [ErrRestartLimit], the
// service's health reports it, and [TaskGaveUp] is emitted.
//
// A task that returns nil, or ends because its context was cancelled, is
// not restarted. Zero fields take the defaults below; negative ones are
// invalid.
type RestartPolicy struct {
	// MaxRestarts is how many restarts Window allows. Default 3.
	MaxRestarts int
	// Window is the sliding period restarts are counted in. Default 1m.
	Window time.Duration
	// Backoff is the wait before the first restart in the window; each
	// further restart in the window waits twice as long as the previous
	// one. Default 100ms.
	Backoff time.Duration
	// MaxBackoff caps the wait. Default 30s.
	MaxBackoff time.Duration
}

const (
	defaultMaxRestarts = 3
	defaultWindow      = time.Minute
	defaultBackoff     = 100 * time.Millisecond
	defaultMaxBackoff  = 30 * time.Second
)

// Validate returns an error when the policy cannot be used: a negative
// field. Primitives that take a policy check it before they start.
func (p RestartPolicy) Validate() error {
	if p.MaxRestarts < 0 || p.Window < 0 || p.Backoff < 0 || p.MaxBackoff < 0 {
		return errors.New("restart policy fields must not be negative")
	}
	return nil
}

func (p *RestartPolicy) maxRestarts() int {
	if p.MaxRestarts == 0 {
		return defaultMaxRestarts
	}
	return p.MaxRestarts
}

func (p *RestartPolicy) window() time.Duration {
	if p.Window == 0 {
		return defaultWindow
	}
	return p.Window
}

// backoff returns the wait before the n-th restart in the window (n ≥ 1).
func (p *RestartPolicy) backoff(n int) time.Duration {
	d, ceiling := p.Backoff, p.MaxBackoff
	if d == 0 {
		d = defaultBackoff
	}
	if ceiling == 0 {
		ceiling = defaultMaxBackoff
	}
	for i := 1; i < n && d < ceiling; i++ {
		if d > ceiling/2 { // doubling would pass the ceiling, or overflow
			return ceiling
		}
		d *= 2
	}
	return min(d, ceiling)
}

// recent drops the restarts that fell out of the window ending at now.
func (p *RestartPolicy) recent(restarts []time.Time, now time.Time) []time.Time {
	cutoff := now.Add(-p.window())
	i := 0
	for i < len(restarts) && !restarts[i].After(cutoff) {
		i++
	}
	return restarts[i:]
}
