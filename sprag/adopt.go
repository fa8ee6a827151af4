package sprag

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Adopt makes child a child of the scope under name: the child shares the
// scope's runtime, is named "parent/name", and is stopped when the scope
// closes, after the scope's own tasks and before its cleanups, the last
// adopted child first. Adopt starts the child at once, with ctx for its
// OnStart, since the scope is open; if that fails, the child is not kept
// and Adopt returns its start error.
//
// A child that stops, or fails, before its parent leaves the parent: it
// is no longer among [Scope.Children], its name is free for a new child,
// and the parent keeps nothing of it. Per-job children cost the parent
// nothing once their job is done.
//
// Adopt fails, with nothing adopted, when the scope is not open
// ([ErrNotRunning]), when child is nil or name is refused by [CheckName]
// ([ErrInvalidArgument]), when child is the scope's own service or one of
// its ancestors ([ErrCycle]), when child was bound or adopted before
// ([ErrAlreadyBound]), or when the scope already has a child of that name
// ([ErrDuplicateName]).
func (s *Scope) Adopt(ctx context.Context, name string, child Interface) error {
	if isNil(child) {
		return s.invalid(KindChild.String(), name, "nil child")
	}
	if err := CheckName(name); err != nil {
		return s.invalid(KindChild.String(), name, "%v", err)
	}
	c := child.service()
	for p := s; p != nil; p = p.parentScope() {
		if p.ownerOf() == c {
			return fmt.Errorf("service %q: adopt %q: %w: it is the service or one of its ancestors", s.Name(), name, ErrCycle)
		}
	}

	s.lock()
	if !s.open() {
		defer s.mu.Unlock()
		return s.refuseLocked(KindChild.String(), name)
	}
	if _, taken := s.names[name]; taken {
		defer s.mu.Unlock()
		return fmt.Errorf("service %q: adopt %q: %w", s.name, name, ErrDuplicateName)
	}
	if s.names == nil {
		s.names = make(map[string]*Service)
	}
	s.names[name] = c // reserved while the child starts
	full, rt := childPath(s.name, name), s.rt
	s.mu.Unlock()

	if err := c.bind(child, full, rt, s); err != nil {
		s.release(name, c)
		return fmt.Errorf("service %q: adopt %q: %w", s.Name(), name, err)
	}
	if err := c.Start(ctx); err != nil {
		s.release(name, c)
		return fmt.Errorf("service %q: adopt: %w", s.Name(), err)
	}

	s.mu.Lock()
	if s.open() {
		// A child that stopped on its own as it started has left, or
		// leaves (forget takes it out): it was adopted all the same.
		if s.names[name] == c {
			s.children = append(s.children, c)
		}
		s.mu.Unlock()
		return nil
	}
	// The scope began to close while the child started.
	err := s.refuseLocked(KindChild.String(), name)
	s.mu.Unlock()
	s.release(name, c)
	if stopErr := c.Stop(ctx); stopErr != nil {
		return fmt.Errorf("%w; %w", err, stopErr)
	}
	return err
}

func childPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "/" + name
}

// release frees name if c holds it.
func (s *Scope) release(name string, c *Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names[name] == c {
		delete(s.names, name)
	}
}

// forget takes a child that has stopped out of the scope.
func (s *Scope) forget(c *Service) {
	if c == nil {
		return
	}
	full := c.scope.Name()
	short := full[strings.LastIndexByte(full, '/')+1:]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names[short] == c {
		delete(s.names, short)
	}
	s.children = slices.DeleteFunc(s.children, func(x *Service) bool { return x == c })
}

func (s *Scope) parentScope() *Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parent
}

func (s *Scope) ownerOf() *Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owner
}

// Children returns the services the scope adopted that have not stopped,
// in adoption order, as the values that were adopted (type-assert them to
// reach your own types).
func (s *Scope) Children() []Interface {
	s.lock()
	defer s.mu.Unlock()
	out := make([]Interface, 0, len(s.children))
	for _, c := range s.children {
		out = append(out, c.self)
	}
	return out
}
