package kernels

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Test helpers of the shape family.

func shpAI(name string, v int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v}
}

func shpAIs(name string, v ...int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInts, Ints: v}
}

func shpAF(name string, v float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloat, F: v}
}

func shpAS(name, v string) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrString, S: []byte(v)}
}

func shpAT(name string, v *tensor.Tensor) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrTensor, T: v}
}

// shpBuild builds the kernel for op at opset with nout outputs.
func shpBuild(op string, opset int64, attrs []*ir.Attribute, nin, nout int) (any, error) {
	n := &ir.Node{Name: "n", OpType: op, Attrs: attrs}
	for i := range nin {
		n.Inputs = append(n.Inputs, fmt.Sprintf("i%d", i))
	}
	for i := range nout {
		n.Outputs = append(n.Outputs, fmt.Sprintf("o%d", i))
	}
	return Default.Build(&Build{Node: n, Opset: opset, Const: func(int) *tensor.Tensor { return nil }})
}

// shpTry runs op on the inputs (nil for an omitted one).
func shpTry(op string, opset int64, attrs []*ir.Attribute, nout int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	k, err := shpBuild(op, opset, attrs, len(in), nout)
	if err != nil {
		return nil, err
	}
	c := &Context{Par: func(n int, fn func(lo, hi int)) {
		// Split in uneven chunks to exercise the chunk boundaries.
		for lo := 0; lo < n; lo += 3 {
			fn(lo, min(n, lo+3))
		}
	}}
	if vk, ok := k.(ValueKernel); ok {
		vin := make([]any, len(in))
		for i, t := range in {
			if t != nil {
				vin[i] = t
			}
		}
		outs, err := vk.RunValues(c, vin)
		if err != nil {
			return nil, err
		}
		res := make([]*tensor.Tensor, len(outs))
		for i, o := range outs {
			res[i], _ = o.(*tensor.Tensor)
		}
		return res, nil
	}
	return k.(Kernel).Run(c, in)
}

// shpRun runs op and fails the test on error.
func shpRun(t *testing.T, op string, opset int64, attrs []*ir.Attribute, nout int, in ...*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	out, err := shpTry(op, opset, attrs, nout, in...)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	for i, o := range out {
		if o != nil {
			if err := o.Validate(); err != nil {
				t.Fatalf("%s output %d: %v", op, i, err)
			}
		}
	}
	return out
}

// shpRun1 runs a one-output op.
func shpRun1(t *testing.T, op string, opset int64, attrs []*ir.Attribute, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	return shpRun(t, op, opset, attrs, 1, in...)[0]
}

// shpErr runs op and checks that it fails with an error containing want.
func shpErr(t *testing.T, want string, op string, opset int64, attrs []*ir.Attribute, in ...*tensor.Tensor) {
	t.Helper()
	_, err := shpTry(op, opset, attrs, 1, in...)
	if err == nil {
		t.Fatalf("%s: no error, want one containing %q", op, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: error %q, want one containing %q", op, err, want)
	}
}

// shpEq checks that got has want's type, shape and elements.
func shpEq(t *testing.T, got, want *tensor.Tensor) {
	t.Helper()
	if got == nil {
		t.Fatalf("got nil tensor, want %v", want)
	}
	if got.DType != want.DType || !tensor.EqualShapes(got.Shape, want.Shape) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if tensor.SliceLen(got.Data) == 0 && tensor.SliceLen(want.Data) == 0 {
		return
	}
	if !reflect.DeepEqual(got.Data, want.Data) {
		t.Fatalf("got %v %v, want %v", got, got.Data, want.Data)
	}
}

func shpF(shape []int, v ...float32) *tensor.Tensor { return tensor.FromSlice(v, shape...) }
func shpI(shape []int, v ...int64) *tensor.Tensor   { return tensor.FromSlice(v, shape...) }
func shpI32(shape []int, v ...int32) *tensor.Tensor { return tensor.FromSlice(v, shape...) }
func shpS(shape []int, v ...string) *tensor.Tensor  { return tensor.FromSlice(v, shape...) }
func shpB(shape []int, v ...bool) *tensor.Tensor    { return tensor.FromSlice(v, shape...) }
func shpDims(d ...int) []int                        { return d }

// shpIota returns a float32 tensor 0, 1, 2, ... of the given shape.
func shpIota(shape ...int) *tensor.Tensor {
	v := make([]float32, tensor.NumElements(shape))
	for i := range v {
		v[i] = float32(i)
	}
	return tensor.FromSlice(v, shape...)
}

// shpSameData reports whether two tensors share storage.
func shpSameData(a, b *tensor.Tensor) bool {
	return reflect.ValueOf(a.Data).Pointer() == reflect.ValueOf(b.Data).Pointer()
}
