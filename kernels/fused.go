package kernels

import (
	"fmt"
	"math"
	"sync"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Reference kernels for inferd's fused operators, domain ai.inferd
// (optimize/FUSED_OPS.md defines each). Each is built from the kernels
// registered for the standard operators it fuses, through Default with a
// synthesized node, so it computes exactly what the unfused graph computes;
// the only new code is in-place float32 loops for the cheap steps
// (activations, residual and bias additions) on buffers the fused kernel
// allocated itself. Faster kernels register with a higher priority.

func init() {
	reg := func(op string, f Factory) { Default.Register(Spec{Domain: ir.DomainInferd, Op: op, New: f}) }
	reg("FusedConv", newFusedConv)
	reg("FusedGemm", newFusedGemm)
	reg("FusedMatMul", newFusedMatMul)
	reg("Attention", newAttention)
	reg("SkipLayerNormalization", newSkipLayerNormalization)
	reg("BiasGelu", newBiasGelu)
	reg("Gelu", newFusedGelu)
	reg("LayerNormalization", newFusedLayerNormalization)
}

// subKernel builds the kernel of a standard operator for part of a fused
// node: op at opset with attrs, its inputs the fused node's inputs at the
// positions in from (-1 for an intermediate value, whose type is unknown and
// which is never constant).
func subKernel(b *Build, op string, opset int64, attrs []*ir.Attribute, from ...int) (Kernel, error) {
	n := &ir.Node{Name: b.Node.Name, OpType: op, Attrs: attrs, Outputs: []string{"y"}}
	sb := &Build{Node: n, Opset: opset}
	for k, i := range from {
		n.Inputs = append(n.Inputs, fmt.Sprintf("x%d", k))
		if i >= 0 && i < len(b.InputTypes) {
			sb.InputTypes = append(sb.InputTypes, b.InputTypes[i])
		} else {
			sb.InputTypes = append(sb.InputTypes, ir.Type{})
		}
	}
	sb.OutputTypes = []ir.Type{{}}
	sb.Const = func(k int) *tensor.Tensor {
		if k < len(from) && from[k] >= 0 && b.Const != nil {
			return b.Const(from[k])
		}
		return nil
	}
	k, err := Default.Build(sb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	kk, ok := k.(Kernel)
	if !ok {
		return nil, fmt.Errorf("%s: no tensor kernel", op)
	}
	return kk, nil
}

func run1(c *Context, k Kernel, in ...*tensor.Tensor) (*tensor.Tensor, error) {
	// The argument list goes through an interface call, which would move
	// it to the heap: pass a pooled copy instead.
	args := runArgsPool.Get().(*runArgs)
	n := copy(args[:], in)
	var out []*tensor.Tensor
	var err error
	if n == len(in) {
		out, err = k.Run(c, args[:n])
	} else {
		out, err = k.Run(c, append([]*tensor.Tensor(nil), in...))
	}
	clear(args[:])
	runArgsPool.Put(args)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 || out[0] == nil {
		return nil, fmt.Errorf("no output")
	}
	return out[0], nil
}

type runArgs [6]*tensor.Tensor

var runArgsPool = sync.Pool{New: func() any { return new(runArgs) }}

// input returns in[i], or nil if absent.
func input(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// fusedActivation applies a fused node's activation to a tensor the fused
// kernel owns: in place for float32 where the math is one line, through the
// standard op's kernel otherwise.
type fusedActivation struct {
	name   string
	params []float32
	k      Kernel // the standard op's kernel; nil for none
}

func newFusedActivation(b *Build) (*fusedActivation, error) {
	a := b.Attrs()
	fa := &fusedActivation{name: a.String("activation", ""), params: a.Floats("activation_params", nil)}
	if err := a.Err(); err != nil {
		return nil, err
	}
	param := func(i int, def float32) float32 {
		if i < len(fa.params) {
			return fa.params[i]
		}
		return def
	}
	var err error
	switch fa.name {
	case "":
		return fa, nil
	case "Relu", "Sigmoid", "Tanh", "HardSwish":
		fa.k, err = subKernel(b, fa.name, 14, nil, -1)
	case "Silu":
		fa.k, err = subKernel(b, "Sigmoid", 13, nil, -1)
	case "LeakyRelu":
		fa.k, err = subKernel(b, "LeakyRelu", 16, []*ir.Attribute{{Name: "alpha", Type: ir.AttrFloat, F: param(0, 0.01)}}, -1)
	case "HardSigmoid":
		fa.k, err = subKernel(b, "HardSigmoid", 6, []*ir.Attribute{{Name: "alpha", Type: ir.AttrFloat, F: param(0, 0.2)},
			{Name: "beta", Type: ir.AttrFloat, F: param(1, 0.5)}}, -1)
	case "Clip":
		fa.k, err = subKernel(b, "Clip", 6, []*ir.Attribute{{Name: "min", Type: ir.AttrFloat, F: param(0, -math.MaxFloat32)},
			{Name: "max", Type: ir.AttrFloat, F: param(1, math.MaxFloat32)}}, -1)
	case "Gelu", "GeluTanh":
		approx := "none"
		if fa.name == "GeluTanh" {
			approx = "tanh"
		}
		fa.k, err = subKernel(b, "Gelu", 20, []*ir.Attribute{{Name: "approximate", Type: ir.AttrString, S: []byte(approx)}}, -1)
	default:
		return nil, fmt.Errorf("activation %q: %w", fa.name, ErrUnsupported)
	}
	return fa, err
}

// apply returns act(y); y may be overwritten.
func (fa *fusedActivation) apply(c *Context, y *tensor.Tensor) (*tensor.Tensor, error) {
	if fa.name == "" {
		return y, nil
	}
	if d, ok := y.Data.([]float32); ok {
		var f func(v float32) float32
		switch fa.name {
		case "Relu":
			f = func(v float32) float32 { return max(v, 0) }
		case "Clip":
			lo, hi := fa.params[0], fa.params[1]
			f = func(v float32) float32 { return min(max(v, lo), hi) }
		case "LeakyRelu":
			alpha := fa.params[0]
			f = func(v float32) float32 {
				if v < 0 {
					return v * alpha
				}
				return v
			}
		}
		if f != nil {
			c.Parallel(len(d), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d[i] = f(d[i])
				}
			})
			return y, nil
		}
	}
	out, err := run1(c, fa.k, y)
	if err != nil {
		return nil, err
	}
	if fa.name == "Silu" {
		return mulInPlace(c, out, y)
	}
	return out, nil
}

// mulInPlace returns a*b elementwise (same shapes), writing into a.
func mulInPlace(c *Context, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	if !tensor.EqualShapes(a.Shape, b.Shape) || a.DType != b.DType {
		return nil, fmt.Errorf("shapes %v and %v differ", a, b)
	}
	switch x := a.Data.(type) {
	case []float32:
		y := b.Data.([]float32)
		c.Parallel(len(x), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				x[i] *= y[i]
			}
		})
		return a, nil
	}
	xs, err := Float64s(a)
	if err != nil {
		return nil, err
	}
	ys, err := Float64s(b)
	if err != nil {
		return nil, err
	}
	for i := range xs {
		xs[i] *= ys[i]
	}
	return FromFloat64s(a.DType, a.Shape, xs)
}

// addInto returns y + z for z broadcast along y's trailing dimensions
// (z's elements repeat every z.Len() elements of y), writing into y for
// float32 and falling back to the Add kernel otherwise.
func addInto(c *Context, add Kernel, y, z *tensor.Tensor) (*tensor.Tensor, error) {
	yd, ok1 := y.Data.([]float32)
	zd, ok2 := z.Data.([]float32)
	if ok1 && ok2 && trailingOf(z.Shape, y.Shape) && len(zd) > 0 {
		m := len(zd)
		c.Parallel(len(yd)/m, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row := yd[r*m : (r+1)*m]
				for i, v := range zd {
					row[i] += v
				}
			}
		})
		return y, nil
	}
	return run1(c, add, y, z)
}

// trailingOf reports whether broadcasting z against y only repeats z
// along y's leading dimensions (z's shape, without leading ones, is a
// suffix of y's).
func trailingOf(z, y []int) bool {
	for len(z) > 0 && z[0] == 1 {
		z = z[1:]
	}
	if len(z) > len(y) {
		return false
	}
	for i := range z {
		if z[i] != y[len(y)-len(z)+i] {
			return false
		}
	}
	return true
}

// attrsExcept returns n's attributes other than the named ones.
func attrsExcept(n *ir.Node, names ...string) []*ir.Attribute {
	var out []*ir.Attribute
outer:
	for _, a := range n.Attrs {
		for _, x := range names {
			if a.Name == x {
				continue outer
			}
		}
		out = append(out, a)
	}
	return out
}

// FusedConv(X, W, [B], [Z]) = act(Conv(X, W, B) + Z).
func newFusedConv(b *Build) (any, error) {
	conv, err := subKernel(b, "Conv", 11, attrsExcept(b.Node, "activation", "activation_params"), 0, 1, 2)
	if err != nil {
		return nil, err
	}
	add, err := subKernel(b, "Add", 14, nil, -1, 3)
	if err != nil {
		return nil, err
	}
	act, err := newFusedActivation(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		y, err := run1(c, conv, input(in, 0), input(in, 1), input(in, 2))
		if err != nil {
			return nil, err
		}
		if z := input(in, 3); z != nil {
			if !tensor.EqualShapes(z.Shape, y.Shape) {
				return nil, fmt.Errorf("FusedConv: Z has shape %v, the convolution %v", tensor.ShapeString(z.Shape), tensor.ShapeString(y.Shape))
			}
			if y, err = addInto(c, add, y, z); err != nil {
				return nil, err
			}
		}
		y, err = act.apply(c, y)
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{y}, nil
	}), nil
}

// FusedGemm(A, B, [C]) = act(Gemm(A, B, C)).
func newFusedGemm(b *Build) (any, error) {
	gemm, err := subKernel(b, "Gemm", 13, attrsExcept(b.Node, "activation", "activation_params"), 0, 1, 2)
	if err != nil {
		return nil, err
	}
	act, err := newFusedActivation(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		y, err := run1(c, gemm, input(in, 0), input(in, 1), input(in, 2))
		if err != nil {
			return nil, err
		}
		if y, err = act.apply(c, y); err != nil {
			return nil, err
		}
		return []*tensor.Tensor{y}, nil
	}), nil
}

// FusedMatMul(A, B, [bias]) = act(MatMul(A, B) + bias).
func newFusedMatMul(b *Build) (any, error) {
	mm, err := subKernel(b, "MatMul", 13, nil, 0, 1)
	if err != nil {
		return nil, err
	}
	add, err := subKernel(b, "Add", 14, nil, -1, 2)
	if err != nil {
		return nil, err
	}
	act, err := newFusedActivation(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		y, err := run1(c, mm, input(in, 0), input(in, 1))
		if err != nil {
			return nil, err
		}
		if bias := input(in, 2); bias != nil {
			if y, err = addInto(c, add, y, bias); err != nil {
				return nil, err
			}
		}
		if y, err = act.apply(c, y); err != nil {
			return nil, err
		}
		return []*tensor.Tensor{y}, nil
	}), nil
}

// SkipLayerNormalization(X, Skip, Gamma, [Beta]) = (LayerNormalization(X +
// Skip, Gamma, Beta, axis=-1), X + Skip).
func newSkipLayerNormalization(b *Build) (any, error) {
	a := b.Attrs()
	eps := a.Float("epsilon", 1e-5)
	if err := a.Err(); err != nil {
		return nil, err
	}
	add, err := subKernel(b, "Add", 14, nil, 0, 1)
	if err != nil {
		return nil, err
	}
	ln, err := subKernel(b, "LayerNormalization", 17, []*ir.Attribute{{Name: "axis", Type: ir.AttrInt, I: -1},
		{Name: "epsilon", Type: ir.AttrFloat, F: eps}}, -1, 2, 3)
	if err != nil {
		return nil, err
	}
	general := KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, skip := input(in, 0), input(in, 1)
		if x == nil || skip == nil || !tensor.EqualShapes(x.Shape, skip.Shape) {
			return nil, fmt.Errorf("SkipLayerNormalization needs X and Skip of one shape")
		}
		sum, err := run1(c, add, x, skip)
		if err != nil {
			return nil, err
		}
		y, err := run1(c, ln, sum, input(in, 2), input(in, 3))
		if err != nil {
			return nil, err
		}
		return c.Outs(y, sum), nil
	})
	if k := lnFastBuild(b, -1, eps, 2, true, general); k != nil {
		return k, nil
	}
	return general, nil
}

// BiasGelu(X, Bias) = Gelu(X + Bias).
func newBiasGelu(b *Build) (any, error) {
	add, err := subKernel(b, "Add", 14, nil, 0, 1)
	if err != nil {
		return nil, err
	}
	gelu, err := subKernel(b, "Gelu", 20, b.Node.Attrs, -1)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		s, err := run1(c, add, input(in, 0), input(in, 1))
		if err != nil {
			return nil, err
		}
		y, err := run1(c, gelu, s)
		if err != nil {
			return nil, err
		}
		return c.Outs(y), nil
	}), nil
}

// Gelu is ONNX's Gelu (opset 20) for models of earlier opsets.
func newFusedGelu(b *Build) (any, error) {
	return subKernel(b, "Gelu", 20, b.Node.Attrs, 0)
}

// LayerNormalization is ONNX's LayerNormalization (opset 17) for models of
// earlier opsets.
func newFusedLayerNormalization(b *Build) (any, error) {
	sb := *b
	sb.Opset = 17
	sb.Node = &ir.Node{Name: b.Node.Name, OpType: "LayerNormalization", Inputs: b.Node.Inputs, Outputs: b.Node.Outputs, Attrs: b.Node.Attrs}
	return Default.Build(&sb)
}
