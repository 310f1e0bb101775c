package optimize

import (
	"math"
	"reflect"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// intsOf returns the elements of an integer tensor as int64s.
func intsOf(t *tensor.Tensor) ([]int64, bool) {
	switch s := t.Data.(type) {
	case []int64:
		return s, true
	case []int32:
		out := make([]int64, len(s))
		for i, v := range s {
			out[i] = int64(v)
		}
		return out, true
	}
	return nil, false
}

// floatsOf returns the elements of a float tensor as float64s.
func floatsOf(t *tensor.Tensor) ([]float64, bool) {
	switch s := t.Data.(type) {
	case []float32:
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v)
		}
		return out, true
	case []float64:
		return append([]float64(nil), s...), true
	case []tensor.F16:
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
		return out, true
	case []tensor.BF16:
		out := make([]float64, len(s))
		for i, v := range s {
			out[i] = float64(v.Float32())
		}
		return out, true
	}
	return nil, false
}

// numbersOf returns the elements of a float or integer tensor as float64s.
func numbersOf(t *tensor.Tensor) ([]float64, bool) {
	if f, ok := floatsOf(t); ok {
		return f, true
	}
	if v, ok := intsOf(t); ok {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out, true
	}
	if b, ok := t.Data.([]bool); ok {
		out := make([]float64, len(b))
		for i, x := range b {
			if x {
				out[i] = 1
			}
		}
		return out, true
	}
	return nil, false
}

// fromFloats makes a float tensor of dt from float64 values.
func fromFloats(dt tensor.DType, shape []int, v []float64) (*tensor.Tensor, bool) {
	t := tensor.New(dt, shape...)
	switch s := t.Data.(type) {
	case []float32:
		for i, x := range v {
			s[i] = float32(x)
		}
	case []float64:
		copy(s, v)
	case []tensor.F16:
		for i, x := range v {
			s[i] = tensor.F16FromFloat64(x)
		}
	case []tensor.BF16:
		for i, x := range v {
			s[i] = tensor.BF16FromFloat64(x)
		}
	default:
		return nil, false
	}
	return t, true
}

// isFloat reports whether dt is one of the float types passes rewrite
// arithmetic in.
func isFloat(dt tensor.DType) bool {
	switch dt {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		return true
	}
	return false
}

// scalarValue returns the single value of a tensor with one element.
func scalarValue(t *tensor.Tensor) (float64, bool) {
	if t == nil || t.Len() != 1 {
		return 0, false
	}
	v, ok := numbersOf(t)
	if !ok {
		return 0, false
	}
	return v[0], true
}

// uniformValue returns the value every element of t has, if they agree.
func uniformValue(t *tensor.Tensor) (float64, bool) {
	if t == nil || t.Len() == 0 {
		return 0, false
	}
	v, ok := numbersOf(t)
	if !ok {
		return 0, false
	}
	for _, x := range v[1:] {
		if x != v[0] && !(math.IsNaN(x) && math.IsNaN(v[0])) {
			return 0, false
		}
	}
	return v[0], true
}

// ConstScalar returns the value of name if it is a constant with one
// element (of any shape).
func (g *Graph) ConstScalar(name string) (float64, bool) { return scalarValue(g.Const(name)) }

// ConstInts returns the elements of name if it is an integer constant.
func (g *Graph) ConstInts(name string) ([]int64, bool) {
	t := g.Const(name)
	if t == nil {
		return nil, false
	}
	return intsOf(t)
}

// constantValue returns the tensor a Constant node produces, or nil.
func constantValue(n *ir.Node) *tensor.Tensor {
	if len(n.Attrs) != 1 {
		return nil
	}
	a := n.Attrs[0]
	switch a.Name {
	case "value":
		return a.T
	case "value_float":
		return tensor.Scalar(a.F)
	case "value_floats":
		return tensor.FromSlice(append([]float32(nil), a.Floats...), len(a.Floats))
	case "value_int":
		return tensor.Scalar(a.I)
	case "value_ints":
		return tensor.FromSlice(append([]int64(nil), a.Ints...), len(a.Ints))
	case "value_string":
		return tensor.Scalar(string(a.S))
	case "value_strings":
		s := make([]string, len(a.Strings))
		for i, b := range a.Strings {
			s[i] = string(b)
		}
		return tensor.FromSlice(s, len(s))
	}
	return nil
}

// tensorsEqual reports whether two tensors have the same type, shape and
// bits.
func tensorsEqual(a, b *tensor.Tensor) bool {
	if a == b {
		return true
	}
	if a.DType != b.DType || !tensor.EqualShapes(a.Shape, b.Shape) {
		return false
	}
	switch x := a.Data.(type) {
	case []float32:
		y := b.Data.([]float32)
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return false
			}
		}
		return true
	case []float64:
		y := b.Data.([]float64)
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Data, b.Data)
}

// tensorBytes is the size of t's data.
func tensorBytes(t *tensor.Tensor) int64 {
	size := t.DType.Size()
	if size <= 0 {
		size = 8
	}
	return int64(t.Len()) * int64(size)
}

func attrInts(name string, v ...int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInts, Ints: v}
}

func attrInt(name string, v int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v}
}

func attrFloat(name string, v float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloat, F: v}
}

func attrFloats(name string, v ...float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloats, Floats: v}
}

func attrString(name, v string) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrString, S: []byte(v)}
}

// int64s makes a 1-D int64 tensor.
func int64s(v ...int64) *tensor.Tensor {
	return tensor.FromSlice(append([]int64(nil), v...), len(v))
}

// isOnnx reports whether n is the ai.onnx operator op.
func isOnnx(n *ir.Node, op string) bool {
	return n != nil && n.OpType == op && ir.CanonicalDomain(n.Domain) == ""
}

// normAxis normalises axis a of a tensor of the given rank, reporting
// whether it is in range.
func normAxis(a int64, rank int) (int, bool) {
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, false
	}
	return int(a), true
}
