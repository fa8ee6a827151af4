package controllers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// decodeBody decodes the action's body into dst, a pointer to a value of
// type t, strictly: a JSON body must hold exactly one JSON value with no
// field that dst lacks, a form body only fields that dst has (see
// decodeForm), and either must fit in the server's body limit. Every
// refusal is an *HTTPError with a message for the client.
func (s *Server) decodeBody(r *Request, dst any, t reflect.Type) error {
	hr := r.http
	ct := hr.Header.Get("Content-Type")
	form := isFormContentType(ct)
	if !form && !isJSONContentType(ct) {
		return &HTTPError{Status: http.StatusUnsupportedMediaType,
			Message: "request body must be application/json or application/x-www-form-urlencoded"}
	}
	if hr.ContentLength > s.cfg.bodyLimit {
		return s.tooLarge()
	}
	if form {
		return s.decodeForm(r, dst, t)
	}
	if hr.Body == nil || hr.Body == http.NoBody {
		return &HTTPError{Status: http.StatusBadRequest, Message: "request body is empty"}
	}
	return s.decodeJSON(hr.Body, dst)
}

// decodeJSON decodes exactly one JSON value from body into dst, refusing
// unknown fields.
func (s *Server) decodeJSON(body io.Reader, dst any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return s.decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			return s.tooLarge()
		}
		return &HTTPError{Status: http.StatusBadRequest, Message: "request body has data after the JSON value"}
	}
	return nil
}

// isJSONContentType accepts application/json and the "+json" types, with
// any parameters.
func isJSONContentType(ct string) bool {
	mediaType, _, _ := strings.Cut(ct, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	return mediaType == "application/json" ||
		(strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json"))
}

func (s *Server) tooLarge() *HTTPError {
	return &HTTPError{
		Status:  http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("request body is larger than %d bytes", s.cfg.bodyLimit),
	}
}

// decodeError turns a decoding failure into a 400 or 413 that says what is
// wrong with the input, and only that: the decoder's own text, which names
// Go types, is not sent.
func (s *Server) decodeError(err error) *HTTPError {
	var (
		tooLarge   *http.MaxBytesError
		syntaxErr  *json.SyntaxError
		typeErr    *json.UnmarshalTypeError
		unknownKey string
	)
	// encoding/json reports an unknown field with a plain error whose text
	// is its only content: `json: unknown field "name"`.
	if rest, ok := strings.CutPrefix(err.Error(), `json: unknown field `); ok {
		if name, uerr := strconv.Unquote(rest); uerr == nil {
			unknownKey = name
		}
	}
	switch {
	case errors.As(err, &tooLarge):
		return s.tooLarge()
	case errors.Is(err, io.EOF):
		return &HTTPError{Status: http.StatusBadRequest, Message: "request body is empty"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &HTTPError{Status: http.StatusBadRequest, Message: "request body is not valid JSON: it ends too early"}
	case errors.As(err, &syntaxErr):
		return &HTTPError{Status: http.StatusBadRequest, Message: fmt.Sprintf("request body is not valid JSON (at byte %d)", syntaxErr.Offset)}
	case errors.As(err, &typeErr):
		want := jsonKind(typeErr.Type)
		if typeErr.Field == "" {
			return &HTTPError{Status: http.StatusBadRequest, Message: "request body must be " + want}
		}
		msg := "must be " + want
		if strings.HasPrefix(typeErr.Value, "number") && want == "a number" {
			msg = "is out of range"
		}
		return &HTTPError{Status: http.StatusBadRequest, Message: "invalid input",
			Fields: []FieldError{{Field: typeErr.Field, Rule: "type", Message: msg}}}
	case unknownKey != "":
		return &HTTPError{Status: http.StatusBadRequest, Message: "invalid input",
			Fields: []FieldError{{Field: unknownKey, Rule: "unknown", Message: "is not a known field"}}}
	}
	// A read failure, or an error from a type's own UnmarshalJSON.
	return &HTTPError{Status: http.StatusBadRequest, Message: "request body could not be decoded", Err: err}
}

// jsonKind names the JSON type that decodes into t, with its article.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "a JSON object"
	}
	return "a different JSON value"
}
