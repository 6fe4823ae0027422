package node

import (
	"errors"
	"fmt"
)

// Sentinel errors let adapters (HTTP, CLI, federation) map domain failures to
// their own vocabulary (status codes, exit codes) without parsing messages.
var (
	ErrNotFound       = errors.New("not found")
	ErrConflict       = errors.New("conflict")
	ErrInvalid        = errors.New("invalid input")
	ErrTooLarge       = errors.New("too large")
	ErrUnavailable    = errors.New("service unavailable")
	ErrUnauthorized   = errors.New("unauthorized")
	ErrForbidden      = errors.New("forbidden")
	ErrDigestMismatch = errors.New("sha256 digest mismatch")
	// ErrTooMany is a limit on how often or how much a client may ask
	// (reports from one address, open reports on one resource).
	ErrTooMany = errors.New("too many requests")
)

// ValidationError names the field and the rule it broke so a user can fix the
// input without reading code.
type ValidationError struct {
	Field string
	Rule  string
	// Code is a stable machine-readable reason ("invalid", "license_refused").
	Code string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Rule) }

// Is makes every ValidationError match ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Rule: fmt.Sprintf(format, args...), Code: "invalid"}
}
