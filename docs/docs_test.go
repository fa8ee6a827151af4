// Package docs_test checks the guides: every Go code block in README.md and
// in docs/*.md must be code that the compiler sees, copied from a .go file
// of the repository (an Example function, an example program, a test).
// That keeps every snippet compiled and, through the Examples, run.
package docs_test

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// block is one ```go block of a Markdown file.
type block struct {
	file  string
	line  int
	lines []string // trimmed, without blank lines
}

func TestGoBlocksAreCopiesOfCompiledCode(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	mds, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	mds = append(mds, filepath.Join(root, "README.md"))

	var blocks []block
	for _, md := range mds {
		blocks = append(blocks, goBlocks(t, md)...)
	}
	require.NotEmpty(t, blocks, "the guides hold Go code")

	sources := goSources(t, root)
	for _, b := range blocks {
		if !containedIn(b.lines, sources) {
			rel, _ := filepath.Rel(root, b.file)
			t.Errorf("%s:%d: this Go block is not a copy of any .go file of the repository; put the code in an Example or an example program and copy it from there:\n%s",
				rel, b.line, strings.Join(b.lines, "\n"))
		}
	}
}

func goBlocks(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path) //nolint:gosec // the repository's own Markdown files
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	var out []block
	var cur *block
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && trimmed == "```go":
			cur = &block{file: path, line: n}
		case cur != nil && trimmed == "```":
			if len(cur.lines) > 0 {
				out = append(out, *cur)
			}
			cur = nil
		case cur != nil && trimmed != "":
			cur.lines = append(cur.lines, trimmed)
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "%s: a ```go block is not closed", path)
	return out
}

// goSources returns every .go file of the repository as trimmed, non-blank
// lines.
func goSources(t *testing.T, root string) [][]string {
	t.Helper()
	var out [][]string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		data, err := os.ReadFile(path) //nolint:gosec // the repository's own Go files
		if err != nil {
			return err
		}
		var lines []string
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		out = append(out, lines)
		return nil
	})
	require.NoError(t, err)
	return out
}

func containedIn(needle []string, haystacks [][]string) bool {
	for _, h := range haystacks {
	next:
		for i := 0; i+len(needle) <= len(h); i++ {
			for j, l := range needle {
				if h[i+j] != l {
					continue next
				}
			}
			return true
		}
	}
	return false
}
