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
// problems of tasks that gave up on their [RestartPolicy], of the health
// reports of its scope's primitives ([Scope.Report]), and of the Health
// method of the struct that embeds it, if it has one ([HealthChecker]),
// all joined. Health is called with ctx; a panic in it is reported as its
// error.
func (s *Service) Status(ctx context.Context) Status {
	sc := s.sc()
	sc.mu.Lock()
	st := Status{Name: sc.name, State: s.State(), Since: s.startedAt}
	startErr, self := s.startErr, s.self
	sc.mu.Unlock()

	switch st.State {
	case Running:
		st.Uptime = time.Since(st.Since)
		var errs []error
		st.Details, errs = sc.health()
		if hc, ok := self.(HealthChecker); ok {
			errs = append(errs, Safely(func() error { return hc.Health(ctx) }))
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

// health returns the figures of the scope's reports and its problems.
func (s *Scope) health() (map[string]any, []error) {
	s.lock()
	gaveUp := slices.Clone(s.gaveUp)
	reports := slices.Clone(s.reports)
	s.mu.Unlock()
	var errs []error
	if len(gaveUp) > 0 {
		errs = append(errs, fmt.Errorf("%w: task %s", ErrRestartLimit, strings.Join(gaveUp, ", ")))
	}
	var details map[string]any
	for _, r := range reports {
		var detail any
		err := Safely(func() (err error) {
			detail, err = r.fn()
			detail = reportable(detail) // encodes detail: a MarshalJSON of the user's may panic too
			return err
		})
		if isPanic(err) {
			detail = nil // it may not encode
		}
		if details == nil {
			details = make(map[string]any, len(reports))
		}
		details[r.name] = detail
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
		}
	}
	return details, errs
}

// report is a primitive's contribution to its scope's health.
type report struct {
	name string
	fn   func() (any, error)
}

// Report adds fn to the scope's health under name: a service's
// [Service.Status] puts fn's figures in [Status.Details] under name and
// reports fn's error as a problem of the service. Primitives register
// their figures here ("queue emails", "watcher config"). It returns a
// function that takes the report back (a primitive that goes away before
// its scope). A panic in fn is reported as its error.
//
// It fails with an error wrapping [ErrDuplicateName] when the scope has a
// report of that name, [ErrInvalidArgument] for a nil fn, and
// [ErrNotRunning] when the scope is not open.
func (s *Scope) Report(name string, fn func() (any, error)) (remove func(), err error) {
	if fn == nil {
		return nil, s.invalid("report", name, "nil function")
	}
	r := &report{name: name, fn: fn}
	s.lock()
	defer s.mu.Unlock()
	if !s.open() {
		return nil, s.refuseLocked("report", name)
	}
	for _, other := range s.reports {
		if other.name == name {
			return nil, fmt.Errorf("service %q: %s: %w: give it another label", s.name, name, ErrDuplicateName)
		}
	}
	s.reports = append(s.reports, r)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.reports = slices.DeleteFunc(s.reports, func(x *report) bool { return x == r })
	}, nil
}

// reportable returns v as it can appear in a JSON health report: v itself
// when it encodes, and its fmt form otherwise.
func reportable(v any) any {
	if _, err := json.Marshal(v); err != nil {
		return fmt.Sprint(v)
	}
	return v
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
			add(c.service())
		}
	}
	for _, svc := range r.All() {
		add(svc.service())
	}
	return rep
}
