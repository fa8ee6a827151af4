package controllers

import (
	"html/template"
)

// Page is what the shell template is executed with, once per HTML
// response.
//
// JSON is the one value a shell must place, inside a script element of type
// application/json:
//
//	<script id="sprag-data" type="application/json">{{.JSON}}</script>
//
// It is encoded so that no data value can end the element or open a
// comment: every '<', '>' and '&', and the line separators U+2028 and
// U+2029, are written as \u escapes, which JSON.parse reads back as the
// original characters. The other fields are for the shell's own markup;
// html/template escapes them wherever they are used.
type Page struct {
	Title     string      // the app's title, from [WithTitle]
	Route     string      // the pattern that matched, "" for a 404 or 405
	Status    int         // the response's status
	RequestID string      // the request id, also in the X-Request-ID header
	Data      any         // what Load returned; nil on an error page
	Error     *ErrorBody  // the error envelope on an error page; nil otherwise
	JSON      template.JS // Data, or Error on an error page, as safe JSON
}

// defaultShellText is the shell used without [WithShell]: a plain HTML5
// document with the page data in a script element that a client-side app
// reads with JSON.parse(document.getElementById("sprag-data").textContent).
const defaultShellText = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
</head>
<body>
{{- if .Error}}
<main id="app" data-status="{{.Status}}">
<h1>{{.Error.Status}} {{.Error.Message}}</h1>
{{- with .Error.RequestID}}
<p>Request ID: <code>{{.}}</code></p>
{{- end}}
</main>
{{- else}}
<main id="app" data-status="{{.Status}}"></main>
{{- end}}
<script id="sprag-data" type="application/json">{{.JSON}}</script>
</body>
</html>
`

// DefaultShell returns a new copy of the shell a [Server] uses without
// [WithShell]: a minimal HTML5 document whose body holds a main element
// (showing the status and message on error pages) and the page data in
// <script id="sprag-data" type="application/json">. Clone it or read it
// as an example to write your own.
func DefaultShell() *template.Template {
	return template.Must(template.New("shell").Parse(defaultShellText))
}
