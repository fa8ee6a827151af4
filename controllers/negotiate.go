package controllers

import (
	"net/http"
	"strings"
)

// wantsHTML reports whether the request's Accept header prefers an HTML page
// to JSON. Only a client that names text/html (or application/xhtml+xml) and
// gives it a higher quality than JSON gets HTML: browsers do, while fetch,
// curl and API clients send "*/*", "application/json" or nothing and get
// JSON. A tie goes to JSON. The most specific range decides each quality:
// "application/json" over "application/*" over "*/*".
//
// It parses the header in place, without allocating.
func wantsHTML(r *http.Request) bool {
	values := r.Header["Accept"]
	if len(values) == 0 {
		return false
	}
	htmlQ := -1
	jsonQ := [3]int{-1, -1, -1} // by specificity: */*, application/*, application/json
	for _, v := range values {
		if v == "application/json" { // the common API case, decided at once
			return false
		}
		for v != "" {
			var mediaRange string
			mediaRange, v, _ = strings.Cut(v, ",")
			typ, params, _ := strings.Cut(mediaRange, ";")
			typ = strings.TrimSpace(typ)
			q := quality(params)
			switch {
			case strings.EqualFold(typ, "text/html"), strings.EqualFold(typ, "application/xhtml+xml"):
				htmlQ = max(htmlQ, q)
			case strings.EqualFold(typ, "application/json"):
				jsonQ[2] = max(jsonQ[2], q)
			case strings.EqualFold(typ, "application/*"):
				jsonQ[1] = max(jsonQ[1], q)
			case typ == "*/*":
				jsonQ[0] = max(jsonQ[0], q)
			}
		}
	}
	if htmlQ <= 0 {
		return false
	}
	jsonQuality := 0
	for _, q := range jsonQ {
		if q >= 0 {
			jsonQuality = q // the most specific range seen wins
		}
	}
	return htmlQ > jsonQuality
}

// quality returns the q parameter of a media range's parameters, in
// thousandths: 1000 when absent, 0 when malformed.
func quality(params string) int {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		return parseQ(strings.TrimSpace(value))
	}
	return 1000
}

// parseQ parses a qvalue ("0", "0.8", "1", "1.000") into thousandths, and
// anything else into 0.
func parseQ(s string) int {
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0
	}
	q := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return q
	}
	if s[1] != '.' || len(s) > 5 {
		return 0
	}
	scale := 100
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	return min(q, 1000)
}
