package controllers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// decodeBody decodes the action's body into dst, a pointer to a value of
// type t or to a pointer to one, strictly: a JSON body must hold exactly
// one JSON value with no field that dst lacks, a form body only fields
// that dst has (see decodeForm), and either must fit in the server's body
// limit. Every refusal is an *HTTPError with a message for the client.
func (s *Server) decodeBody(r *Request, dst any, t reflect.Type) error {
	hr := r.http
	ct := hr.Header.Get("Content-Type")
	form := isFormContentType(ct)
	if !form && !isJSONContentType(ct) {
		return &HTTPError{Status: http.StatusUnsupportedMediaType,
			Message: "request body must be application/json or application/x-www-form-urlencoded"}
	}
	if hr.ContentLength > s.cfg.bodyLimit {
		// Refused unread: close the connection after the answer, as
		// net/http does for a body that hits the limit while read,
		// rather than let it read and discard the body to keep it.
		r.rw.out().Header().Set("Connection", "close")
		return s.tooLarge()
	}
	if form {
		return s.decodeForm(r, dst, t)
	}
	if hr.Body == nil || hr.Body == http.NoBody {
		return &HTTPError{Status: http.StatusBadRequest, Message: "request body is empty"}
	}
	return s.decodeJSON(hr.Body, dst, t)
}

// decodeJSON decodes exactly one JSON value from body into dst, which
// holds a value of type t, refusing unknown fields. What the decoder
// reads is kept, so that an unknown field can be named by its path.
func (s *Server) decodeJSON(body io.Reader, dst any, t reflect.Type) error {
	read := bufferPool.Get().(*bytes.Buffer)
	read.Reset()
	defer func() {
		if read.Cap() <= maxPooledBuffer {
			read.Reset()
			bufferPool.Put(read)
		}
	}()
	dec := json.NewDecoder(io.TeeReader(body, read))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		he := s.decodeError(err)
		switch {
		case len(he.Fields) == 1 && he.Fields[0].Rule == "unknown":
			he.Fields[0].Field = unknownFieldPath(read.Bytes(), t, he.Fields[0].Field)
		case he.Status == http.StatusBadRequest && he.Fields == nil && he.Err != nil:
			// A type's own decoding refused a value (a []byte's base64,
			// an UnmarshalJSON or UnmarshalText): name the member.
			path, msg, found, _ := walkDoc(json.NewDecoder(bytes.NewReader(read.Bytes())), t, "", refusedValue)
			if found && path != "" {
				he = &HTTPError{Status: http.StatusBadRequest, Message: "invalid input",
					Fields: []FieldError{{Field: path, Rule: "type", Message: msg}}}
			}
		}
		return he
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
		unknown    bool // unknownKey names a member ("" is a name too)
	)
	// encoding/json reports an unknown field with a plain error whose text
	// is its only content: `json: unknown field "name"`.
	if rest, ok := strings.CutPrefix(err.Error(), `json: unknown field `); ok {
		if name, uerr := strconv.Unquote(rest); uerr == nil {
			unknownKey, unknown = name, true
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
		if number, ok := strings.CutPrefix(typeErr.Value, "number "); ok && want == "a number" {
			msg = numberMessage(typeErr.Type, number)
		}
		return &HTTPError{Status: http.StatusBadRequest, Message: "invalid input",
			Fields: []FieldError{{Field: typeErr.Field, Rule: "type", Message: msg}}}
	case unknown:
		return &HTTPError{Status: http.StatusBadRequest, Message: "invalid input",
			Fields: []FieldError{{Field: unknownKey, Rule: "unknown", Message: "is not a known field"}}}
	}
	// A read failure, or an error from a type's own UnmarshalJSON.
	return &HTTPError{Status: http.StatusBadRequest, Message: "request body could not be decoded", Err: err}
}

// numberMessage says why a JSON number does not decode into a number of
// type t: it is out of t's range, or t is an integer and the number is
// not one ("1.5"), or is written as a float ("1e2").
func numberMessage(t reflect.Type, number string) string {
	v := reflect.New(deref(t)).Elem()
	if !v.CanInt() && !v.CanUint() {
		return "is out of range" // a float: only its range can refuse a number
	}
	f, err := strconv.ParseFloat(number, 64)
	switch {
	case err != nil: // beyond float64's range
		return "is out of range"
	case f != math.Trunc(f):
		return "must be a whole number"
	case v.CanInt() && (f < math.MinInt64 || f >= math.MaxInt64 || v.OverflowInt(int64(f))),
		v.CanUint() && (f < 0 || f >= math.MaxUint64 || v.OverflowUint(uint64(f))):
		return "is out of range"
	}
	return "must be a whole number"
}

// unknownFieldPath returns the path of the member named key that
// encoding/json refused as unknown in doc, a JSON document decoded into a
// value of type t: the first member, in the document's order, that the
// value has no field for, such as "shipping_address.street" or
// "items[1].color". It returns key when the walk finds another member
// first, as for a name encoding/json matches differently.
func unknownFieldPath(doc []byte, t reflect.Type, key string) string {
	path, _, found, _ := walkDoc(json.NewDecoder(bytes.NewReader(doc)), t, "", unknownMember)
	if !found || (path != key && !strings.HasSuffix(path, "."+key)) {
		return key
	}
	return path
}

// What walkDoc looks for in a document.
type docProblem int

const (
	unknownMember docProblem = iota // a member that the type has no field for
	refusedValue                    // a value that its type's own decoding refuses
)

// walkDoc reads the next value of dec, of type t (nil when its members
// are not decoded by type: an interface, a value of the wrong kind), and
// returns the path of the first member or element, in the document's
// order, that has the problem want: a member t has no field for, or a
// value that the decoding of its own type refuses (a []byte's base64, an
// UnmarshalJSON or UnmarshalText), with what it must be. It reads each
// value once.
func walkDoc(dec *json.Decoder, t reflect.Type, path string, want docProblem) (at, msg string, found bool, err error) {
	if t != nil {
		t = deref(t)
		pt := reflect.PointerTo(t)
		bytesType := t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
		switch {
		case want == unknownMember && pt.Implements(jsonUnmarshaler):
			t = nil // its members are its own business
		case want == refusedValue && (bytesType || pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler)):
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return "", "", false, err
			}
			switch {
			case json.Unmarshal(raw, reflect.New(t).Interface()) == nil:
				return "", "", false, nil
			case bytesType && !pt.Implements(jsonUnmarshaler) && !pt.Implements(textUnmarshaler):
				return path, "must be a base64 string", true, nil
			}
			return path, "is not a valid value", true, nil
		}
	}
	tok, err := dec.Token()
	if err != nil {
		return "", "", false, err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return "", "", false, nil // a scalar
	}
	switch delim {
	case '{':
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return "", "", false, err
			}
			key, _ := tok.(string)
			member := key
			if path != "" {
				member = path + "." + key
			}
			var mt reflect.Type
			if t != nil {
				switch t.Kind() {
				case reflect.Struct:
					if mt, ok = memberType(t, key); !ok && want == unknownMember {
						return member, "", true, nil
					}
				case reflect.Map:
					mt = t.Elem()
				}
			}
			if at, msg, found, err := walkDoc(dec, mt, member, want); found || err != nil {
				return at, msg, found, err
			}
		}
	case '[':
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if at, msg, found, err := walkDoc(dec, et, path+"["+strconv.Itoa(i)+"]", want); found || err != nil {
				return at, msg, found, err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return "", "", false, err
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
