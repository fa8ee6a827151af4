package controllers

import (
	"html/template"
	"net/url"
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
//
// When a browser's form post to an action is refused (see [Action]), the
// page of the action's controller is rendered again with Form set, so that
// the shell can show each field's error beside it and the values sent:
//
//	<input name="email" value="{{.FormValue "email"}}">
//	{{with .FieldError "email"}}<p class="error">{{.}}</p>{{end}}
type Page struct {
	Title     string      // the app's title, from [WithTitle]
	Route     string      // the pattern that matched, "" for a 404 or 405
	Status    int         // the response's status
	RequestID string      // the request id, also in the X-Request-ID header
	Data      any         // what Load returned; nil on an error page
	Error     *Problem    // the problem on an error page; nil otherwise
	Form      *Form       // the refused form post, on a page rendered again for it; nil otherwise
	JSON      template.JS // Data, or Error on an error page, as safe JSON
}

// Form is a browser's form post that an action refused: what the page
// needs to show it again with its errors.
type Form struct {
	Action  string     // the action's name
	Values  url.Values // the fields as the browser sent them
	Problem *Problem   // why the action refused them; Errors names the fields at fault
}

// FieldError returns the message of the first error of the refused form's
// field, "" when the field has none or no form was refused. field is the
// field's name in the form (the input's name attribute).
func (p *Page) FieldError(field string) string {
	if p.Form == nil || p.Form.Problem == nil {
		return ""
	}
	for _, fe := range p.Form.Problem.Errors {
		if fe.Field == field {
			return fe.Message
		}
	}
	return ""
}

// FormValue returns the value the browser sent for field in a refused
// form, "" when no form was refused: what an input shows again.
func (p *Page) FormValue(field string) string {
	if p.Form == nil {
		return ""
	}
	return p.Form.Values.Get(field)
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
<main id="app" data-status="{{.Status}}">
{{- with .Form}}{{with .Problem}}
<div role="alert">
<p>{{.Message}}</p>
<ul>
{{- range .Errors}}
<li>{{.Field}}: {{.Message}}</li>
{{- end}}
</ul>
</div>
{{- end}}{{end}}
</main>
{{- end}}
<script id="sprag-data" type="application/json">{{.JSON}}</script>
</body>
</html>
`

// DefaultShell returns a new copy of the shell a [Server] uses without
// [WithShell]: a minimal HTML5 document whose body holds a main element
// (showing the status and message on error pages, and the errors of a
// refused form) and the page data in
// <script id="sprag-data" type="application/json">. Clone it or read it
// as an example to write your own.
func DefaultShell() *template.Template {
	return template.Must(template.New("shell").Parse(defaultShellText))
}
