package serve

import (
	"context"

	"github.com/inferd/inferd/tensor"
)

// Backend runs inference requests. The protocol front ends decode a
// request into an InferRequest, call Infer and encode the response.
//
// Infer is called from many goroutines at once. It must not modify the
// request's tensors, which stay the caller's; the tensors of the returned
// response belong to the caller and the backend does not touch them after
// returning. Errors should be *Error values (see Code) so front ends can
// map them to HTTP and gRPC statuses; other errors count as internal.
// Infer returns when ctx is done, with ctx's error, even if the request is
// still queued.
type Backend interface {
	Infer(ctx context.Context, req *InferRequest) (*InferResponse, error)
}

// BackendFunc adapts a function to the Backend interface.
type BackendFunc func(ctx context.Context, req *InferRequest) (*InferResponse, error)

// Infer calls f(ctx, req).
func (f BackendFunc) Infer(ctx context.Context, req *InferRequest) (*InferResponse, error) {
	return f(ctx, req)
}

// Tensor is a named tensor of a request or response.
type Tensor struct {
	Name string
	*tensor.Tensor
}

// InferRequest is one inference request, whatever protocol carried it.
type InferRequest struct {
	Model string
	// Version is the version asked for; 0 lets the server choose the
	// highest ready version.
	Version int64
	ID      string
	Inputs  []Tensor
	// Outputs names the outputs to return; empty means all, in the
	// model's order.
	Outputs []string
	// Timeout, if positive, overrides the queue timeout when the model's
	// queue policy allows it (allow_timeout_override).
	Timeout int64 // microseconds
}

// InferResponse is the result of an InferRequest.
type InferResponse struct {
	Model   string
	Version int64
	ID      string
	Outputs []Tensor
}
