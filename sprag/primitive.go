package sprag

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"go.uber.org/zap"
)

// The primitives of this package beyond the managed methods (queues,
// watchers, observables, processes) share their bookkeeping here: each is
// attached to the service that owns it under a name such as "queue emails",
// which is also the key of its figures in [Status.Details].

// primitiveService returns svc's Service, or an error for a nil svc.
func primitiveService(svc Interface, what string) (*Service, error) {
	if isNil(svc) {
		return nil, fmt.Errorf("new %s: %w: nil service", what, ErrInvalidArgument)
	}
	return svc.service(), nil
}

// invalidPrimitive builds and logs an ErrInvalidArgument error about the
// primitive what (queue, watcher, ...) labelled label.
func (s *Service) invalidPrimitive(what, label, format string, args ...any) error {
	err := fmt.Errorf("service %q: %s %s: %w: %s", s.Name(), what, label, ErrInvalidArgument, fmt.Sprintf(format, args...))
	s.Logger().Error("invalid argument", zap.String("kind", what), zap.String("label", label), zap.Error(err))
	return err
}

// attach registers a primitive with its service: the service must be
// starting or running and no other primitive may hold the same name. It
// adds report to the service's health and returns the service's context
// and a function that takes the report back if the primitive fails to
// start after all.
func (s *Service) attach(what, label string, report func() (any, error)) (context.Context, func(), error) {
	name := what + " " + label
	s.mu.Lock()
	if !s.State().active() {
		defer s.mu.Unlock()
		return nil, nil, s.refusedLocked(what, label)
	}
	for _, r := range s.reporters {
		if r.name == name {
			defer s.mu.Unlock()
			return nil, nil, fmt.Errorf("service %q: %s %s: %w: give it another sprag.Label", s.name, what, label, ErrDuplicateName)
		}
	}
	ctx := s.ctx
	s.reporters = append(s.reporters, reporter{name: name, report: report})
	s.mu.Unlock()
	detach := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.reporters = slices.DeleteFunc(s.reporters, func(r reporter) bool { return r.name == name })
	}
	return ctx, detach, nil
}

// stopContext returns the context Stop was called with. It is set before
// the service's context is cancelled, so work that sees that cancellation
// can learn how long it may still drain.
func (s *Service) stopContext() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopCtx == nil {
		return context.Background()
	}
	return s.stopCtx
}

// reportable returns v as it can appear in a JSON health report: v itself
// when it encodes, and its fmt form otherwise.
func reportable(v any) any {
	if _, err := json.Marshal(v); err != nil {
		return fmt.Sprint(v)
	}
	return v
}
