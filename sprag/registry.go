package sprag

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
)

// Registry holds services by name, as the original's providers do:
// controllers and other modules resolve services through it, and health
// reports iterate it. fxmodule fills one per app.
//
// The zero value is an empty registry ready to use. Its methods are safe
// for concurrent use.
type Registry struct {
	mu       sync.Mutex
	services map[string]Interface
	order    []string
	waiters  map[string]chan struct{} // closed when the name's entry changes: provided, replaced or removed
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Provide registers svc under name. svc must have been bound ([Bind]).
// With [UntilStopped], the entry is removed when svc has stopped, at once
// if it has stopped already. Nil options are ignored.
//
// Provide fails with an error wrapping [ErrDuplicateName], listing the
// names already registered, when name is taken; with [ErrInvalidArgument]
// for a name [CheckName] refuses or a nil svc; and with [ErrNotBound] for
// a service that was never bound.
func (r *Registry) Provide(name string, svc Interface, opts ...ProvideOption) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("provide service: %w", err)
	}
	if isNil(svc) {
		return fmt.Errorf("provide service %q: %w: nil service", name, ErrInvalidArgument)
	}
	if svc.service().Name() == "" {
		return fmt.Errorf("provide service %q: %w", name, ErrNotBound)
	}
	r.mu.Lock()
	if _, ok := r.services[name]; ok {
		defer r.mu.Unlock()
		return fmt.Errorf("provide service %q: %w (registered: %s)", name, ErrDuplicateName, r.namesLocked())
	}
	r.putLocked(name, svc)
	r.mu.Unlock()
	// Without the lock: UntilStopped removes the entry at once for a
	// service that has already stopped.
	for _, o := range opts {
		if o != nil {
			o.applyProvide(r, name, svc)
		}
	}
	return nil
}

// putLocked registers svc under name and wakes its waiters. The caller
// holds mu.
func (r *Registry) putLocked(name string, svc Interface) {
	if r.services == nil {
		r.services = make(map[string]Interface)
	}
	if _, ok := r.services[name]; !ok {
		r.order = append(r.order, name)
	}
	r.services[name] = svc
	r.wakeLocked(name)
}

// wakeLocked wakes the waiters of name's entry. The caller holds mu.
func (r *Registry) wakeLocked(name string) {
	if ch, ok := r.waiters[name]; ok {
		close(ch)
		delete(r.waiters, name)
	}
}

// changedLocked returns a channel closed when name's entry next changes.
// The caller holds mu.
func (r *Registry) changedLocked(name string) <-chan struct{} {
	if r.waiters == nil {
		r.waiters = make(map[string]chan struct{})
	}
	ch, ok := r.waiters[name]
	if !ok {
		ch = make(chan struct{})
		r.waiters[name] = ch
	}
	return ch
}

// A ProvideOption configures [Registry.Provide].
type ProvideOption interface {
	applyProvide(r *Registry, name string, svc Interface)
	String() string
}

type untilStopped struct{}

func (untilStopped) String() string { return "sprag.UntilStopped()" }
func (untilStopped) applyProvide(r *Registry, name string, svc Interface) {
	svc.service().sc().whenDone(func() { r.remove(name, svc) })
}

// UntilStopped makes [Registry.Provide] remove the entry when the service
// has stopped or failed to start (its Done closed), so that the name is
// free for a successor: a per-job service, a replaced connection.
func UntilStopped() ProvideOption { return untilStopped{} }

// Unregister removes the service registered under name and returns it. It
// fails with an error wrapping [ErrNotFound] for an unknown name. The
// service itself is not stopped.
func (r *Registry) Unregister(name string) (Interface, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	svc, ok := r.services[name]
	if !ok {
		return nil, fmt.Errorf("unregister service %q: %w (registered: %s)", name, ErrNotFound, r.namesLocked())
	}
	r.deleteLocked(name)
	return svc, nil
}

// Replace registers svc under name in place of the service there, keeping
// the name's place in the order, and returns the service it replaced, or
// nil when name was free. Replace neither starts svc nor stops the old
// one. It fails as [Registry.Provide] does for a bad name or service.
func (r *Registry) Replace(name string, svc Interface) (Interface, error) {
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("replace service: %w", err)
	}
	if isNil(svc) {
		return nil, fmt.Errorf("replace service %q: %w: nil service", name, ErrInvalidArgument)
	}
	if svc.service().Name() == "" {
		return nil, fmt.Errorf("replace service %q: %w", name, ErrNotBound)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.services[name]
	r.putLocked(name, svc)
	return old, nil
}

// remove removes name if svc still holds it.
func (r *Registry) remove(name string, svc Interface) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.services[name] == svc {
		r.deleteLocked(name)
	}
}

func (r *Registry) deleteLocked(name string) {
	r.wakeLocked(name)
	delete(r.services, name)
	r.order = slices.DeleteFunc(r.order, func(n string) bool { return n == name })
}

// Resolve returns the service registered under name, or an error wrapping
// [ErrNotFound] that lists the names registered.
func (r *Registry) Resolve(name string) (Interface, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if svc, ok := r.services[name]; ok {
		return svc, nil
	}
	return nil, fmt.Errorf("resolve service %q: %w (registered: %s)", name, ErrNotFound, r.namesLocked())
}

// Require checks that every one of names is registered, and otherwise
// returns one error wrapping [ErrNotFound] that lists the missing names and
// the registered ones. Call it where a module starts, to fail early.
func (r *Registry) Require(names ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var missing []string
	for _, n := range names {
		if _, ok := r.services[n]; !ok {
			missing = append(missing, fmt.Sprintf("%q", n))
		}
	}
	if missing == nil {
		return nil
	}
	return fmt.Errorf("require services %s: %w (registered: %s)", strings.Join(missing, ", "), ErrNotFound, r.namesLocked())
}

// Get returns the service registered under name as a T, typically a
// pointer to the user's struct:
//
//	metrics, err := sprag.Get[*MetricsService](registry, "metrics")
//
// It fails with [ErrNotFound] for an unknown name and with [ErrWrongType],
// naming both types, when the service is of another type.
func Get[T any](r *Registry, name string) (T, error) {
	var zero T
	svc, err := r.Resolve(name)
	if err != nil {
		return zero, err
	}
	t, ok := svc.(T)
	if !ok {
		return zero, fmt.Errorf("resolve service %q: %w: it is %T, not %T", name, ErrWrongType, svc, zero)
	}
	return t, nil
}

// Names returns the registered names in registration order.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.order)
}

// All iterates over the registered services in registration order. It
// works on a snapshot: services provided meanwhile are not included.
func (r *Registry) All() iter.Seq2[string, Interface] {
	r.mu.Lock()
	names := slices.Clone(r.order)
	svcs := make([]Interface, len(names))
	for i, n := range names {
		svcs[i] = r.services[n]
	}
	r.mu.Unlock()
	return func(yield func(string, Interface) bool) {
		for i, n := range names {
			if !yield(n, svcs[i]) {
				return
			}
		}
	}
}

// WaitFor waits until a service is registered under name and has finished
// starting, then returns it: the late binding of the original's wait_for.
// It returns an error when the service failed to start or was stopped, or
// when ctx ends first; that error wraps context.Cause(ctx) (ctx's error
// unless a cause was given) and names the service. A service that is
// already there and started is returned even with a ctx that has ended.
// When the entry is replaced or unregistered while WaitFor waits, it
// waits for what is registered under name then.
func (r *Registry) WaitFor(ctx context.Context, name string) (Interface, error) {
	for {
		r.mu.Lock()
		svc, ok := r.services[name]
		changed := r.changedLocked(name)
		r.mu.Unlock()
		if !ok {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				if !closed(changed) {
					return nil, fmt.Errorf("wait for service %q to be provided: %w", name, context.Cause(ctx))
				}
				continue
			}
		}
		s := svc.service()
		s.scope.mu.Lock()
		started := s.startDone
		s.scope.mu.Unlock()
		select {
		case <-started:
		case <-changed: // replaced or removed while it started: wait for what is there now
			if !closed(started) {
				continue
			}
		case <-ctx.Done():
			if !closed(started) {
				return nil, fmt.Errorf("wait for service %q to start: %w", name, context.Cause(ctx))
			}
		}
		switch st := s.State(); st {
		case Running:
		case Failed:
			return nil, fmt.Errorf("wait for service %q: it is %s: %w", name, st, s.startResult())
		default: // stopping or stopped
			return nil, fmt.Errorf("wait for service %q: it is %s: %w", name, st, ErrStopped)
		}
		return svc, nil
	}
}

// closed reports whether ch is closed: what is ready wins over an ended
// context, which select would choose between at random.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (r *Registry) namesLocked() string {
	if len(r.order) == 0 {
		return "none"
	}
	quoted := make([]string, len(r.order))
	for i, n := range r.order {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(quoted, ", ")
}
