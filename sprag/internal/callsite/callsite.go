// Package callsite names functions and finds the user's line in a stack,
// for the labels and errors of package sprag.
package callsite

import (
	"reflect"
	"runtime"
	"strconv"
	"strings"
)

// FuncName names the function fn as the runtime does, without its package
// path: "main.(*MetricsService).collect-fm" becomes
// "(*MetricsService).collect". It returns "" for a nil function.
func FuncName(fn any) string {
	v := reflect.ValueOf(fn)
	if !v.IsValid() || v.Kind() == reflect.Func && v.IsNil() {
		return ""
	}
	f := runtime.FuncForPC(v.Pointer())
	if f == nil {
		return v.Type().String()
	}
	name := f.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSuffix(name, "-fm")
}

// Outside returns "dir/file.go:line" of the innermost frame, skip frames
// above its caller, whose function is not in package root or one of its
// subpackages (their tests count as outside), or "unknown".
func Outside(root string, skip int) string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(skip+1, pcs)])
	for {
		f, more := frames.Next()
		if !in(root, f.Function) {
			file := f.File
			if i := strings.LastIndexByte(file, '/'); i >= 0 {
				if j := strings.LastIndexByte(file[:i], '/'); j >= 0 {
					file = file[j+1:]
				}
			}
			return file + ":" + strconv.Itoa(f.Line)
		}
		if !more {
			return "unknown"
		}
	}
}

// in reports whether the function named fn (as the runtime names it)
// belongs to package root or one of its subpackages, not their tests.
func in(root, fn string) bool {
	if !strings.HasPrefix(fn, root) {
		return false
	}
	pkg := fn[len(root):] // "", or "/queue", then ".Func..."
	if i := strings.IndexByte(pkg, '.'); i >= 0 {
		pkg = pkg[:i]
	}
	return (pkg == "" || pkg[0] == '/') && !strings.HasSuffix(pkg, "_test")
}
