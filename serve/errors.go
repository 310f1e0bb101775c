package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
)

// Code classifies a serving error. Each code has one HTTP status and one
// gRPC status code, following Triton's mapping where Triton has one.
type Code int

// The error codes.
const (
	// CodeInternal is a server fault (500, INTERNAL).
	CodeInternal Code = iota
	// CodeInvalidArgument is a malformed or inconsistent request (400, INVALID_ARGUMENT).
	CodeInvalidArgument
	// CodeNotFound is an unknown model or version (404, NOT_FOUND).
	CodeNotFound
	// CodeUnavailable is a model that is not ready, a server shutting
	// down or a request that timed out in the queue (503, UNAVAILABLE).
	CodeUnavailable
	// CodeQueueFull is a request refused because the model's queue is
	// full (429, RESOURCE_EXHAUSTED).
	CodeQueueFull
	// CodeTooLarge is a request body over the size limit (413, RESOURCE_EXHAUSTED).
	CodeTooLarge
	// CodeUnsupported is an operation the server does not allow in its
	// current mode (400, UNIMPLEMENTED).
	CodeUnsupported
	// CodeCanceled is a request the client canceled (499, CANCELLED).
	CodeCanceled
	// CodeDeadline is a request whose deadline passed (504, DEADLINE_EXCEEDED).
	CodeDeadline
)

var codeNames = [...]string{"internal", "invalid_argument", "not_found", "unavailable", "queue_full", "too_large", "unsupported", "canceled", "deadline_exceeded"}

// String returns the code's name, as used in the reason label of metrics.
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Error is an error with a Code. Its message is what clients see.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func errorf(c Code, format string, args ...any) error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf returns the Code of err: the code of an *Error in its chain,
// CodeCanceled or CodeDeadline for context errors, else CodeInternal.
func CodeOf(err error) Code {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return CodeDeadline
	}
	return CodeInternal
}

// httpStatus returns the HTTP status for err.
func httpStatus(err error) int {
	switch CodeOf(err) {
	case CodeInvalidArgument, CodeUnsupported:
		return http.StatusBadRequest
	case CodeNotFound:
		return http.StatusNotFound
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeQueueFull:
		return http.StatusTooManyRequests
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeCanceled:
		return 499 // client closed request, as nginx and Triton report it
	case CodeDeadline:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// grpcCode returns the gRPC status code for err.
func grpcCode(err error) codes.Code {
	switch CodeOf(err) {
	case CodeInvalidArgument:
		return codes.InvalidArgument
	case CodeUnsupported:
		return codes.Unimplemented
	case CodeNotFound:
		return codes.NotFound
	case CodeUnavailable:
		return codes.Unavailable
	case CodeQueueFull, CodeTooLarge:
		return codes.ResourceExhausted
	case CodeCanceled:
		return codes.Canceled
	case CodeDeadline:
		return codes.DeadlineExceeded
	}
	return codes.Internal
}
