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

// AddCleanup registers fn to run when the scope closes, after its
// children have stopped; cleanups run the last added first, each with
// Close's context, and a failing or panicking one does not stop the
// others. A cleanup stays registered until the scope closes: for a
// resource per job, adopt a child service that owns it.
//
// It returns an error wrapping [ErrNotRunning] when the scope is not open,
// and [ErrInvalidArgument] for a nil fn: fn is then not registered, so
// release the resource yourself.
func (s *Scope) AddCleanup(fn func(ctx context.Context) error) error {
	if fn == nil {
		return s.invalid(KindCleanup.String(), "", "nil function")
	}
	return s.addCleanup(FuncLabel(fn), fn)
}

// Own makes the scope close resource when it closes, as a cleanup (see
// [Scope.AddCleanup]). resource must have one of these methods, tried in
// this order:
//
//	Shutdown(context.Context) error   // *http.Server
//	Stop(context.Context) error
//	Close() error                     // io.Closer: files, connections, *sql.DB
//	Stop()                            // *time.Ticker and the like
//
// Any other value is refused at once with an error wrapping
// [ErrUnsupportedResource] that names its type.
func (s *Scope) Own(resource any) error {
	label := fmt.Sprintf("%T", resource)
	if isNil(resource) { // a nil *os.File, say: its Close could only fail at Stop
		return s.invalid(KindCleanup.String(), label, "nil resource")
	}
	var fn func(context.Context) error
	switch r := resource.(type) {
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

func (s *Scope) addCleanup(label string, fn func(context.Context) error) error {
	s.lock()
	defer s.mu.Unlock()
	if !s.open() {
		return s.refuseLocked(KindCleanup.String(), label)
	}
	s.cleanups = append(s.cleanups, cleanup{activity: &activity{kind: KindCleanup, label: label}, fn: fn})
	return nil
}
