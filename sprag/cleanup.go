package sprag

import (
	"context"
	"fmt"
)

// cleanup is one entry of the cleanup stack.
type cleanup struct {
	*activity
	fn func(context.Context) error
}

// AddCleanup registers fn to run when the service stops, after its
// children have stopped; cleanups run the last added first, each with
// Stop's context, and a failing or panicking one does not stop the others.
// It returns an error wrapping [ErrNotRunning] when the service is not
// starting or running, and [ErrInvalidArgument] for a nil fn: fn is then
// not registered, so release the resource yourself.
func (s *Service) AddCleanup(fn func(ctx context.Context) error) error {
	if fn == nil {
		return s.invalid(KindCleanup, "", "nil function")
	}
	return s.addCleanup(funcLabel(fn), fn)
}

// Own makes the service close resource when it stops, as a cleanup (see
// [Service.AddCleanup]). resource must have one of these methods, tried in
// this order:
//
//	Shutdown(context.Context) error   // *http.Server
//	Stop(context.Context) error
//	Close() error                     // io.Closer: files, connections, *sql.DB
//	Stop()                            // *time.Ticker and the like
//
// Any other value is refused at once with an error wrapping
// [ErrUnsupportedResource] that names its type.
func (s *Service) Own(resource any) error {
	label := fmt.Sprintf("%T", resource)
	var fn func(context.Context) error
	switch r := resource.(type) {
	case nil:
		return s.invalid(KindCleanup, label, "nil resource")
	case interface{ Shutdown(context.Context) error }:
		fn = r.Shutdown
	case interface{ Stop(context.Context) error }:
		fn = r.Stop
	case interface{ Close() error }:
		fn = func(context.Context) error { return r.Close() }
	case interface{ Stop() }:
		fn = func(context.Context) error { r.Stop(); return nil }
	default:
		return fmt.Errorf("service %q: own %s: %w: it has no Shutdown(ctx) error, Stop(ctx) error, Close() error or Stop() method",
			s.Name(), label, ErrUnsupportedResource)
	}
	return s.addCleanup(label, fn)
}

func (s *Service) addCleanup(label string, fn func(context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.State().active() {
		return s.notRunningLocked(KindCleanup, label)
	}
	s.cleanups = append(s.cleanups, cleanup{activity: &activity{kind: KindCleanup, label: label}, fn: fn})
	return nil
}
