package sprag_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sprag-go/sprag/sprag"
)

// fzNamed is a service for the name fuzz target.
type fzNamed struct{ sprag.Service }

// goodName is the documented name rule, written independently: non-empty,
// at most 128 bytes of valid UTF-8, no '/', no space, no control
// character (and no U+FFFD, which stands for invalid bytes).
func goodName(name string) bool {
	if name == "" || len(name) > 128 || !utf8.ValidString(name) {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool {
		return r == '/' || unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
	})
}

// FuzzNames gives arbitrary names to CheckName, Bind and the Registry.
// CheckName follows the documented rule; its refusal wraps
// ErrInvalidArgument and quotes the name. Bind, Provide and Replace accept
// exactly the names CheckName accepts and refuse the others with its
// error. A name Provide accepted resolves to the service, is listed, is
// refused a second time with ErrDuplicateName, and unregisters.
func FuzzNames(f *testing.F) {
	for _, seed := range []string{
		"metrics", "http", "a", "café", "orders-v2.primary", "x:y", "日本",
		"", " ", "a b", "a/b", "parent/child", "a\tb", "a\nb", "\x00", "\u00a0", "\u2028", "\u200b", "\ufeff",
		"\xff", "\ufffd", "a\u0085b", strings.Repeat("n", 128), strings.Repeat("n", 129), strings.Repeat("é", 64) + "x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		checkErr := sprag.CheckName(name)
		if good := goodName(name); good != (checkErr == nil) {
			t.Fatalf("CheckName(%q) = %v; the documented rule says good=%v", name, checkErr, good)
		}
		if checkErr != nil {
			if !errors.Is(checkErr, sprag.ErrInvalidArgument) {
				t.Fatalf("CheckName(%q): %v does not wrap ErrInvalidArgument", name, checkErr)
			}
			var quoted string
			switch {
			case name == "":
				quoted = "empty"
			case len(name) > 128:
				quoted = fmt.Sprintf("%.20q", name)
			default:
				quoted = strconv.Quote(name)
			}
			if !strings.Contains(checkErr.Error(), quoted) {
				t.Fatalf("CheckName(%q): %q does not name it (%s)", name, checkErr, quoted)
			}
		}

		svc := &fzNamed{}
		bindErr := sprag.Bind(svc, name, sprag.NewRuntime(nil))
		checkSame(t, "Bind", name, checkErr, bindErr)

		provided := &fzNamed{}
		if err := sprag.Bind(provided, "fz", sprag.NewRuntime(nil)); err != nil {
			t.Fatal(err)
		}
		var r sprag.Registry
		provideErr := r.Provide(name, provided)
		checkSame(t, "Provide", name, checkErr, provideErr)
		var r2 sprag.Registry
		_, replaceErr := r2.Replace(name, provided)
		checkSame(t, "Replace", name, checkErr, replaceErr)
		if provideErr != nil {
			if len(r.Names()) != 0 || len(r2.Names()) != 0 {
				t.Fatalf("refused name %q was registered: %q %q", name, r.Names(), r2.Names())
			}
			return
		}
		got, err := r.Resolve(name)
		if err != nil || got != provided {
			t.Fatalf("Resolve(%q) after Provide: %v, %v", name, got, err)
		}
		if typed, err := sprag.Get[*fzNamed](&r, name); err != nil || typed != provided {
			t.Fatalf("Get(%q): %v, %v", name, typed, err)
		}
		if names := r.Names(); len(names) != 1 || names[0] != name {
			t.Fatalf("Names() = %q after Provide(%q)", names, name)
		}
		if err := r.Provide(name, provided); !errors.Is(err, sprag.ErrDuplicateName) {
			t.Fatalf("second Provide(%q): %v, want ErrDuplicateName", name, err)
		}
		if old, err := r.Unregister(name); err != nil || old != provided {
			t.Fatalf("Unregister(%q): %v, %v", name, old, err)
		}
		if _, err := r.Resolve(name); !errors.Is(err, sprag.ErrNotFound) {
			t.Fatalf("Resolve(%q) after Unregister: %v, want ErrNotFound", name, err)
		}
	})
}

// checkSame checks that call accepted name exactly when CheckName did, and
// refused it with CheckName's reason.
func checkSame(t *testing.T, call, name string, checkErr, err error) {
	t.Helper()
	switch {
	case (err == nil) != (checkErr == nil):
		t.Fatalf("%s(%q): %v, but CheckName says %v", call, name, err, checkErr)
	case err != nil && (!errors.Is(err, sprag.ErrInvalidArgument) || !strings.Contains(err.Error(), checkErr.Error())):
		t.Fatalf("%s(%q): %v does not carry CheckName's %v", call, name, err, checkErr)
	}
}
