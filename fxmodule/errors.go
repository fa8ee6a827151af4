package fxmodule

import (
	"errors"
	"fmt"
)

// A WiringError is a mistake in how an app's services and controllers
// are put together, found while fx builds the app (fx.New) or, for a
// service value nothing started, when the app starts. Its message names
// the service, the constructor with its file and line, what is wrong and
// what to do; [App]'s Err, Start and Run, and the fx event logger of
// [LogFxEvents], show only that message, without fx's own layers around
// it. When fx.New finds several mistakes, its error joins one WiringError
// per mistake (errors.Join), in the order of their constructors' source
// positions.
type WiringError struct {
	// Service is the name of the service, or empty for a controller.
	Service string
	// Constructor is the function's name, such as "main.NewStore"; empty
	// when there is no usable function.
	Constructor string
	// File and Line locate the constructor.
	File string
	Line int
	// Err says what is wrong and what to do. It wraps sprag.ErrDuplicateName
	// for a name given twice.
	Err error

	controller bool // the constructor is a controller's
}

// Error returns `service "store" (main.NewStore at main.go:12): <Err>`,
// or `controller main.NewDashboard at main.go:40: <Err>`. Paths are
// relative to the working directory when the file is below it.
func (e *WiringError) Error() string {
	if e == nil {
		return "<nil>"
	}
	what := "the wiring is wrong" // a WiringError built without its Err
	if e.Err != nil {
		what = e.Err.Error()
	}
	var who string
	switch {
	case e.controller && e.Constructor != "":
		who = fmt.Sprintf("controller %s at %s", e.Constructor, location(e.File, e.Line))
	case e.controller:
		who = "controller"
	case e.Constructor != "":
		who = fmt.Sprintf("service %q (%s at %s)", e.Service, e.Constructor, location(e.File, e.Line))
	default:
		who = fmt.Sprintf("service %q", e.Service)
	}
	return who + ": " + what
}

// Unwrap returns Err.
func (e *WiringError) Unwrap() error { return e.Err }

// wiringError returns the WiringError of err about d.
func (d *decl) wiringError(err error) *WiringError {
	return &WiringError{Service: d.name, Constructor: d.ctor.name, File: d.ctor.file, Line: d.ctor.line, Err: err, controller: d.kind == controllerDecl}
}

// reduceError returns what fxmodule has to say about err, a failure of
// fx.New or of a start: the WiringErrors it holds, without the layers fx
// and dig wrap around an error that a constructor returned, or err itself
// when it holds none.
func reduceError(err error) error {
	if err == nil {
		return nil
	}
	if all := wiringErrors(err); len(all) > 0 {
		if len(all) == 1 {
			return all[0]
		}
		errs := make([]error, len(all))
		for i, we := range all {
			errs[i] = we
		}
		return errors.Join(errs...)
	}
	return err
}

// wiringErrors returns the WiringErrors in err's tree, outermost first, not
// looking inside a WiringError.
func wiringErrors(err error) []*WiringError {
	if we, ok := err.(*WiringError); ok { //nolint:errorlint // the tree is walked here, level by level
		return []*WiringError{we}
	}
	switch u := err.(type) { //nolint:errorlint // as above
	case interface{ Unwrap() []error }:
		var all []*WiringError
		for _, e := range u.Unwrap() {
			all = append(all, wiringErrors(e)...)
		}
		return all
	case interface{ Unwrap() error }:
		if inner := u.Unwrap(); inner != nil {
			return wiringErrors(inner)
		}
	}
	return nil
}
