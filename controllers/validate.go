package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"
)

// newValidator returns the validator a Server uses without [WithValidator].
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(jsonFieldName)
	return v
}

// jsonFieldName names a struct field in validation errors as encoding/json
// names it in the body.
func jsonFieldName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return "" // not in the JSON at all; the validator falls back to the Go name
	case "":
		return f.Name
	}
	return name
}

// validateInput checks in's validate tags. A refused input is a 400 that
// names each field at fault; a validator that cannot run (a misconfigured
// custom rule, say) is an internal error.
func (s *Server) validateInput(ctx context.Context, in any) error {
	err := s.cfg.validate.StructCtx(ctx, in)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("validate %T: %w", in, err)
	}
	fields := make([]FieldError, len(verrs))
	for i, fe := range verrs {
		fields[i] = FieldError{
			Field:   fieldPath(fe.Namespace()),
			Rule:    fe.Tag(),
			Param:   fe.Param(),
			Message: ruleMessage(fe),
		}
	}
	return &HTTPError{Status: http.StatusBadRequest, Message: "invalid input", Fields: fields}
}

// fieldPath drops the root type's name from a validator namespace:
// "CreateOrder.items[0].sku" becomes "items[0].sku".
func fieldPath(namespace string) string {
	if _, path, ok := strings.Cut(namespace, "."); ok {
		return path
	}
	return namespace
}

// ruleMessage says what a failed rule asks for, without the field's name.
func ruleMessage(fe validator.FieldError) string {
	p := fe.Param()
	switch fe.Tag() {
	case "required", "required_if", "required_unless", "required_with", "required_with_all",
		"required_without", "required_without_all":
		return "is required"
	case "email":
		return "must be a valid email address"
	case "url", "http_url", "https_url", "uri":
		return "must be a valid URL"
	case "uuid", "uuid3", "uuid4", "uuid5", "uuid_rfc4122":
		return "must be a valid UUID"
	case "oneof":
		return "must be one of: " + strings.Join(strings.Fields(p), ", ")
	case "min", "gte":
		return sizeMessage(fe.Kind(), "at least", p)
	case "max", "lte":
		return sizeMessage(fe.Kind(), "at most", p)
	case "gt":
		return sizeMessage(fe.Kind(), "more than", p)
	case "lt":
		return sizeMessage(fe.Kind(), "less than", p)
	case "len":
		return sizeMessage(fe.Kind(), "exactly", p)
	case "eq":
		return "must be equal to " + p
	case "ne":
		return "must not be equal to " + p
	case "alpha":
		return "must contain only letters"
	case "alphanum":
		return "must contain only letters and digits"
	case "numeric", "number":
		return "must be numeric"
	case "datetime":
		return "must be a date and time in the layout " + p
	}
	if p != "" {
		return fmt.Sprintf("must satisfy %s=%s", fe.Tag(), p)
	}
	return "must satisfy " + fe.Tag()
}

// sizeMessage words a bound by the kind of value it applies to: a string's
// length, a collection's size, or a number.
func sizeMessage(kind reflect.Kind, bound, n string) string {
	switch kind {
	case reflect.String:
		return fmt.Sprintf("must be %s %s characters long", bound, n)
	case reflect.Slice, reflect.Array, reflect.Map:
		return fmt.Sprintf("must have %s %s items", bound, n)
	}
	return fmt.Sprintf("must be %s %s", bound, n)
}
