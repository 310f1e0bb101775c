package kernels

import (
	"context"
	"errors"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Kernel runs one node on tensors. in has one entry per node input, nil
// for an omitted optional input; Run returns one tensor per node output (nil
// for an omitted optional output). Run must not modify its inputs and must
// be safe for concurrent use.
type Kernel interface {
	Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error)
}

// KernelFunc adapts a function to Kernel.
type KernelFunc func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error)

// Run calls f.
func (f KernelFunc) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) { return f(c, in) }

// ValueKernel is a kernel over any ONNX value: *tensor.Tensor,
// *tensor.Sequence, *tensor.Optional, or nil for an omitted input. Sequence,
// optional and control-flow ops implement it; the engine prefers it over
// Kernel when a kernel has both.
type ValueKernel interface {
	RunValues(c *Context, in []any) ([]any, error)
}

// Context is what a running kernel may use besides its inputs. The engine
// makes one per Run; kernels must not keep it.
type Context struct {
	// Ctx is the caller's context; long kernels (loops) check it.
	Ctx context.Context
	// Scope resolves outer-scope names for subgraphs run from this node.
	Scope func(name string) (any, bool)
	// Par runs fn over [0, n) split across the session's threads; nil
	// runs serially.
	Par func(n int, fn func(lo, hi int))
	// Pool, when set, is the pool behind Par; ParallelTask uses it to
	// share out a Task without allocating.
	Pool *parallel.Pool
	// Threads is how many threads Par spreads work over (0: unknown, taken
	// as runtime.GOMAXPROCS when Par is set). Kernels that size their
	// tasks to the threads (the GEMM) read it.
	Threads int

	// Arena, when set, recycles the tensors Alloc and View make from one
	// run to the next; the engine sets it for steps that run once per run.
	Arena *Arena
	// Scratch, when set, backs Ints for the whole run.
	Scratch *Scratch

	outs [8]*tensor.Tensor
}

// Outs returns its arguments as a kernel's result slice without
// allocating: the slice is the Context's own and stays valid only until the
// kernel's caller has read it (the engine copies it at once).
func (c *Context) Outs(ts ...*tensor.Tensor) []*tensor.Tensor {
	if c == nil || len(ts) > len(c.outs) {
		return append([]*tensor.Tensor(nil), ts...)
	}
	n := copy(c.outs[:], ts)
	return c.outs[:n]
}

// Parallel runs fn over [0, n) in chunks, using the session's threads when
// it has more than one.
func (c *Context) Parallel(n int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if c == nil || c.Par == nil {
		fn(0, n)
		return
	}
	c.Par(n, fn)
}

// Scratch is per-run memory for the small index slices kernels work out
// (shapes, strides, axes): it is handed out by bumping an offset and taken
// back all at once when the next run starts, so after a first run the
// slices cost no allocation. The engine keeps one per run state.
type Scratch struct {
	ints []int
	n    int
}

// Reset takes back everything handed out.
func (s *Scratch) Reset() { s.n = 0 }

// Ints returns a zeroed slice of n ints that stays valid until the run
// ends. Call it from the kernel's goroutine, not from a Parallel chunk, and
// keep nothing it returns past the run (Alloc and View copy their shape).
func (c *Context) Ints(n int) []int {
	if c == nil || c.Scratch == nil {
		return make([]int, n)
	}
	s := c.Scratch
	if s.n+n > len(s.ints) {
		// A new array: the slices already handed out stay valid.
		s.ints, s.n = make([]int, max(2*len(s.ints), n, 256)), 0
	}
	v := s.ints[s.n : s.n+n : s.n+n]
	s.n += n
	clear(v)
	return v
}

// IntsOf returns a copy of v from Ints.
func (c *Context) IntsOf(v []int) []int {
	r := c.Ints(len(v))
	copy(r, v)
	return r
}

// Strides returns the row-major element strides of shape, from Ints.
func (c *Context) Strides(shape []int) []int {
	st := c.Ints(len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= shape[i]
	}
	return st
}

// ParallelTask is Parallel with the loop body in a parallel.Task: a kernel
// that keeps the task in a reusable struct allocates nothing per call.
func (c *Context) ParallelTask(n int, t parallel.Task) {
	switch {
	case n <= 0:
	case c == nil || (c.Pool == nil && c.Par == nil):
		t.Run(0, n)
	case c.Pool != nil:
		c.Pool.ForTask(n, t)
	default:
		c.Par(n, t.Run)
	}
}

// Alloc returns a zeroed tensor for a kernel's output. Kernels allocate
// outputs here so that the engine can recycle their storage between runs.
func (c *Context) Alloc(dt tensor.DType, shape ...int) *tensor.Tensor {
	if c != nil && c.Arena != nil {
		return c.Arena.alloc(dt, shape, true)
	}
	return tensor.New(dt, shape...)
}

// AllocRaw is Alloc for a kernel that writes every element of its output:
// a recycled tensor keeps the previous run's values instead of being zeroed.
func (c *Context) AllocRaw(dt tensor.DType, shape ...int) *tensor.Tensor {
	if c != nil && c.Arena != nil {
		return c.Arena.alloc(dt, shape, false)
	}
	return tensor.New(dt, shape...)
}

// View returns a tensor that shares src's storage with another shape of
// the same element count (Reshape, Flatten, Squeeze, Identity).
func (c *Context) View(src *tensor.Tensor, shape []int) *tensor.Tensor {
	if c != nil && c.Arena != nil {
		return c.Arena.view(src, shape)
	}
	return &tensor.Tensor{DType: src.DType, Shape: append([]int{}, shape...), Data: src.Data}
}

// Subgraph is a compiled graph attribute (If branch, Loop or Scan body)
// that a control-flow kernel runs. Values the body captures from outer
// scopes are looked up through the Context's Scope.
type Subgraph interface {
	// NumInputs and NumOutputs give the body's formal parameter counts.
	NumInputs() int
	NumOutputs() int
	// Run evaluates the body on in (one value per formal input).
	Run(c *Context, in []any) ([]any, error)
}

// Build is what a Factory sees of the node it builds a kernel for.
type Build struct {
	Node *ir.Node
	// Opset is the model's version of the node's domain.
	Opset int64
	// InputTypes and OutputTypes are the types inferred or declared for
	// the node's values; a type may be unknown (Kind == ir.UnknownKind).
	InputTypes  []ir.Type
	OutputTypes []ir.Type
	// Const returns the value of an input known at compile time
	// (an initializer or constant), or nil.
	Const func(i int) *tensor.Tensor
	// Compile compiles a graph attribute of this node.
	Compile func(g *ir.Graph) (Subgraph, error)
}

// Attrs returns an attribute reader over the node being built.
func (b *Build) Attrs() *ir.AttrReader { return ir.Attrs(b.Node) }

// Factory builds the kernel for one node. It returns ErrDecline when it
// does not handle this node (so a lower-priority kernel may), or another
// error when the node is invalid (a bad attribute, say).
type Factory func(b *Build) (any, error)

// ErrDecline tells the registry to try the next kernel for a node.
var ErrDecline = errors.New("kernel declines node")

// ErrUnsupported marks an op, version or data type inferd cannot run.
var ErrUnsupported = errors.New("unsupported")
