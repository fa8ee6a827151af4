package sprag

import (
	"fmt"
	"unicode"
)

// CheckName is the one rule for the names of services and of adopted
// children: non-empty, at most 128 bytes, no '/' (it joins a child's name
// to its parent's), no space or control character. It returns nil for a
// good name, and otherwise an error wrapping [ErrInvalidArgument] that
// says what is wrong. [Bind], [Scope.Adopt], [Registry.Provide] and
// fxmodule apply it.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the name is empty", ErrInvalidArgument)
	case len(name) > 128:
		return fmt.Errorf("%w: the name %.20q... is longer than 128 bytes", ErrInvalidArgument, name)
	}
	for _, r := range name {
		switch {
		case r == '/':
			return fmt.Errorf("%w: the name %q holds a '/', which joins an adopted child's name to its parent's (parent/child)", ErrInvalidArgument, name)
		case unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar:
			return fmt.Errorf("%w: the name %q holds a space or a control character", ErrInvalidArgument, name)
		}
	}
	return nil
}
