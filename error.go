package keymeter

import (
	"errors"
	"fmt"
)

// Application error codes. Each maps to one process exit code in
// cmd/keymeter and, later, to one HTTP status.
const (
	EINVALID  = "invalid"   // the caller's input is wrong: a flag, a file, a query
	ENOTFOUND = "not_found" // the named thing does not exist
	ECONFLICT = "conflict"  // the request contradicts stored state
	EPARTIAL  = "partial"   // the run finished, but some inputs could not be read
	EINTERNAL = "internal"  // a bug or an unexpected failure
	// EUNAUTHORIZED: no credentials, or credentials that are not valid
	// (an unknown or revoked token).
	EUNAUTHORIZED = "unauthorized"
	// EFORBIDDEN: valid credentials that do not allow the request (a
	// customer's token asking for another customer or an admin operation).
	EFORBIDDEN = "forbidden"
)

// Error is an application error: something a user can act on, with a code
// that says what kind of problem it is and a message written for people.
type Error struct {
	Code    string
	Message string
	// Err is what Message was made from, when it was made from errors
	// (Errorf's %w operands): errors.Is and errors.As see it.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	return e.Message
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a message formatted
// as fmt.Errorf formats it: the operands of %w verbs are wrapped (Err),
// not flattened into text.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: err.Error()}
	switch w := err.(type) {
	case interface{ Unwrap() error }:
		e.Err = w.Unwrap()
	case interface{ Unwrap() []error }:
		e.Err = errors.Join(w.Unwrap()...)
	}
	return e
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ParseError describes a record a parser could not accept: where it is and
// why. File and Line are filled in by the caller that knows them; parsers
// fill Field and Err.
type ParseError struct {
	File  string // object the record came from
	Line  int64  // 1-based line (or record) number within File
	Field string // name of the offending field, empty when not field-specific
	Err   error  // what is wrong
}

// Error implements the error interface.
func (e *ParseError) Error() string {
	msg := e.Err.Error()
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, msg)
	case e.File != "":
		return e.File + ": " + msg
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }
