package sprag

import (
	"context"
	"fmt"
)

// Adopt makes child a child of the service under name: the child shares the
// service's runtime, is named "parent/name", and is stopped by the parent's
// Stop, after the parent's own tasks and before its cleanups, the last
// adopted child first. Adopt starts the child at once, with ctx for its
// OnStart, since the parent is starting or running; if that fails, the
// child is not kept and Adopt returns its start error.
//
// Adopt fails, with nothing adopted, when the parent is not starting or
// running ([ErrNotRunning]), when child is nil or name is empty or holds a
// '/' ([ErrInvalidArgument]), when child is the parent or one of its
// ancestors ([ErrCycle]), when child was bound or adopted before
// ([ErrAlreadyBound]), or when the parent already has a child of that name
// ([ErrDuplicateName]).
func (s *Service) Adopt(ctx context.Context, name string, child Interface) error {
	if isNil(child) {
		return s.invalid(KindChild, name, "nil child")
	}
	if err := childName(name); err != nil {
		return s.invalid(KindChild, name, "%v", err)
	}
	c := child.service()
	for p := s; p != nil; p = p.parentOf() {
		if p == c {
			return fmt.Errorf("service %q: adopt %q: %w: it is the service or one of its ancestors", s.Name(), name, ErrCycle)
		}
	}

	s.mu.Lock()
	if !s.State().active() {
		defer s.mu.Unlock()
		return s.notRunningLocked(KindChild, name)
	}
	full := s.name + "/" + name
	for _, existing := range s.children {
		if existing.Name() == full {
			s.mu.Unlock()
			return fmt.Errorf("service %q: adopt %q: %w", s.name, name, ErrDuplicateName)
		}
	}
	rt := s.rt
	s.mu.Unlock()

	if err := c.bind(child, full, rt, s); err != nil {
		return fmt.Errorf("service %q: adopt %q: %w", s.Name(), name, err)
	}
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("service %q: adopt: %w", s.Name(), err)
	}

	s.mu.Lock()
	if s.State().active() {
		s.children = append(s.children, c)
		s.mu.Unlock()
		return nil
	}
	// The parent began to stop while the child started: stop the child too.
	err := s.notRunningLocked(KindChild, name)
	s.mu.Unlock()
	if stopErr := c.Stop(ctx); stopErr != nil {
		return fmt.Errorf("%w; %w", err, stopErr)
	}
	return err
}

func (s *Service) parentOf() *Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parent
}

// Children returns the services the service adopted and has not yet
// stopped, in adoption order.
func (s *Service) Children() []*Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Service(nil), s.children...)
}
