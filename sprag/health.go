package sprag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is a service's health at one moment.
type Status struct {
	Name    string        // the service's full name
	State   State         // its lifecycle state
	Healthy bool          // running, and no check or task reports a problem
	Err     error         // why it is not healthy, or nil
	Since   time.Time     // when it started running; zero if it never did
	Uptime  time.Duration // time since Since while it runs
	// Details holds figures of the service's managed primitives by name
	// (a queue's backlog, a watcher's last value), while it runs.
	Details map[string]any
}

// MarshalJSON encodes the status for health endpoints: the error as its
// message and the uptime in seconds.
func (st Status) MarshalJSON() ([]byte, error) {
	out := struct {
		Name          string         `json:"name"`
		State         State          `json:"state"`
		Healthy       bool           `json:"healthy"`
		Error         string         `json:"error,omitempty"`
		UptimeSeconds float64        `json:"uptime_seconds"`
		Details       map[string]any `json:"details,omitempty"`
	}{Name: st.Name, State: st.State, Healthy: st.Healthy, UptimeSeconds: st.Uptime.Seconds(), Details: st.Details}
	if st.Err != nil {
		out.Error = st.Err.Error()
	}
	return json.Marshal(out)
}

// Status reports the service's health: its state and, while it runs, the
// problems of tasks that gave up on their [RestartPolicy], of its managed
// primitives, and of the Health method of the struct that embeds it, if it
// has one ([HealthChecker]), all joined. Health is called with ctx; a panic
// in it is reported as its error.
func (s *Service) Status(ctx context.Context) Status {
	s.mu.Lock()
	st := Status{Name: s.name, State: s.State(), Since: s.startedAt}
	gaveUp := slices.Clone(s.gaveUp)
	reporters := slices.Clone(s.reporters)
	startErr := s.startErr
	self := s.self
	s.mu.Unlock()

	switch st.State {
	case Running:
		st.Uptime = time.Since(st.Since)
		var errs []error
		if len(gaveUp) > 0 {
			errs = append(errs, fmt.Errorf("%w: task %s", ErrRestartLimit, strings.Join(gaveUp, ", ")))
		}
		for _, r := range reporters {
			detail, err := r.report()
			if st.Details == nil {
				st.Details = make(map[string]any, len(reporters))
			}
			st.Details[r.name] = detail
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
			}
		}
		if hc, ok := self.(HealthChecker); ok {
			errs = append(errs, checkHealth(ctx, hc))
		}
		st.Err = errors.Join(errs...)
		st.Healthy = st.Err == nil
	case Failed:
		st.Err = startErr
	default:
		st.Err = fmt.Errorf("service is %s", st.State)
	}
	return st
}

// reporter is a managed primitive's contribution to its service's health:
// figures under a name, and an error when it is not healthy. Primitives
// register one when they attach to their service (primitive.go).
type reporter struct {
	name   string
	report func() (any, error)
}

func checkHealth(ctx context.Context, hc HealthChecker) error {
	return safely(func() error { return hc.Health(ctx) })
}

// Report is the health of every service of a registry.
type Report struct {
	Healthy  bool     `json:"healthy"`  // every service is healthy
	Services []Status `json:"services"` // registration order, each followed by its children
}

// Unhealthy returns the statuses that are not healthy.
func (r Report) Unhealthy() []Status {
	var out []Status
	for _, st := range r.Services {
		if !st.Healthy {
			out = append(out, st)
		}
	}
	return out
}

// Err returns nil for a healthy report, and otherwise an error that names
// each unhealthy service and joins their errors.
func (r Report) Err() error {
	var errs []error
	for _, st := range r.Unhealthy() {
		errs = append(errs, fmt.Errorf("service %q (%s): %w", st.Name, st.State, st.Err))
	}
	return errors.Join(errs...)
}

// Health reports the health of every registered service and of its
// adopted children, in registration order. A registry with no services is
// healthy.
func (r *Registry) Health(ctx context.Context) Report {
	rep := Report{Healthy: true}
	var add func(s *Service)
	add = func(s *Service) {
		st := s.Status(ctx)
		rep.Services = append(rep.Services, st)
		rep.Healthy = rep.Healthy && st.Healthy
		for _, c := range s.Children() {
			add(c)
		}
	}
	for _, svc := range r.All() {
		add(svc.service())
	}
	return rep
}
