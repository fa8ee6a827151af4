package main

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/sprag-go/sprag/controllers"
)

// web holds the page's template, style sheet and script: plain files,
// served from the binary, with no build step.
//
//go:embed web
var web embed.FS

// appShell is the seed's app_shell: the page every browser route renders
// in. It draws the dashboard, the orders list and error pages by route,
// and keeps the page's data for the script in #sprag-data, out of sight.
var appShell = template.Must(template.New("shell.html").Funcs(template.FuncMap{
	"money": formatMoney,
	"count": formatCount,
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05 UTC") },
	"stamp": func(t time.Time) string { return t.UTC().Format("Jan 2, 15:04 UTC") },
	"bytes": formatBytes,
	"field": newFormField,
	"view":  viewOf,
}).ParseFS(web, "web/shell.html"))

// viewOf names the view that data is drawn with: the page of a refused
// form has its controller's data, but the action's route.
func viewOf(data any) string {
	switch data.(type) {
	case DashboardView:
		return "dashboard"
	case []Order:
		return "orders"
	}
	return ""
}

// formField is what the shell's "field" template draws: an input of the
// order form with its label, the value sent and its error, when the form
// was refused.
type formField struct {
	Name, Label, Type, Autocomplete, Placeholder string
	Value, Error                                 string
}

func newFormField(p *controllers.Page, name, label, typ, autocomplete, placeholder string) formField {
	return formField{Name: name, Label: label, Type: typ, Autocomplete: autocomplete, Placeholder: placeholder,
		Value: p.FormValue(name), Error: p.FieldError(name)}
}

// assets are the files served under /assets/, by name.
var assets = map[string]string{
	"GET /assets/dashboard.css": "web/dashboard.css",
	"GET /assets/dashboard.js":  "web/dashboard.js",
}

// handleAssets serves the style sheet and the script, each with
// Cache-Control: no-cache and an ETag of its content: a browser keeps its
// copy but asks again before each use, and gets 304 Not Modified until a
// new build serves new files. (Embedded files have no modification time,
// so without the ETag there would be nothing to revalidate against.)
func handleAssets(srv *controllers.Server) error {
	for route, name := range assets {
		body, err := fs.ReadFile(web, name)
		if err != nil {
			return fmt.Errorf("asset %s: %w", name, err)
		}
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		err = srv.Handle(route, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", etag) // ServeFileFS answers a matching If-None-Match with 304
			http.ServeFileFS(w, r, web, name)
		}))
		if err != nil {
			return err
		}
	}
	return nil
}

// formatBytes writes a size in bytes with a binary unit: "3.2 MiB".
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
