package eleanor

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. The HTTP layer maps each to one status, in one table.
const (
	EINVALID      = "invalid"      // the request is malformed
	ENOTFOUND     = "not_found"    // the resource does not exist
	ETOOLARGE     = "too_large"    // the request body is over the limit
	EMEDIATYPE    = "media_type"   // the request body is not JSON
	EMETHOD       = "method"       // the method is not allowed on the path
	ERATELIMIT    = "rate_limit"   // the client sent too many requests
	EUNAUTHORIZED = "unauthorized" // the credentials are missing or wrong
	EUNAVAILABLE  = "unavailable"  // a dependency is down; try again later
	EINTERNAL     = "internal"     // anything unexpected
)

// Error is an error whose message is safe to show to a client. Errors of
// any other type are internal: they are logged and answered with a
// generic message, so that no DSN or driver detail reaches a client.
type Error struct {
	Code    string
	Message string

	// Details lists individual problems, such as one line per invalid
	// field. Nil when there are none.
	Details []string

	// RetryAfter, when positive, tells the client how long to wait
	// before trying again.
	RetryAfter time.Duration

	// Err is the underlying cause, kept for logs and errors.Is; it is
	// never shown to clients.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unavailable returns an EUNAVAILABLE error that asks the client to retry
// after the given delay and keeps cause for the logs.
func Unavailable(msg string, retryAfter time.Duration, cause error) *Error {
	return &Error{
		Code:       EUNAVAILABLE,
		Message:    msg,
		RetryAfter: retryAfter,
		Err:        cause,
	}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EINTERNAL when there is none. A nil error has no code.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the message of the first *Error in err's chain, or
// a generic message for internal errors.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}
