package kernels

import (
	"math"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Helpers shared by the nn family's tests.

func nnAttrInts(name string, v ...int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInts, Ints: v}
}

func nnAttrInt(name string, v int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v}
}

func nnAttrFloat(name string, v float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloat, F: v}
}

func nnAttrFloats(name string, v ...float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloats, Floats: v}
}

func nnAttrString(name, v string) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrString, S: []byte(v)}
}

// nnBuild builds the kernel for op at opset with the given attributes and
// number of inputs and outputs.
func nnBuild(t testing.TB, op string, opset int64, nin, nout int, attrs ...*ir.Attribute) (Kernel, error) {
	t.Helper()
	return nnBuildConst(t, op, opset, nin, nout, nil, attrs...)
}

// nnBuildConst is nnBuild with compile-time constant inputs: consts[i],
// when non-nil, is input i's value.
func nnBuildConst(t testing.TB, op string, opset int64, nin, nout int, consts []*tensor.Tensor, attrs ...*ir.Attribute) (Kernel, error) {
	t.Helper()
	n := &ir.Node{Name: "n", OpType: op, Attrs: attrs}
	for i := 0; i < nin; i++ {
		n.Inputs = append(n.Inputs, "in")
	}
	for i := 0; i < nout; i++ {
		n.Outputs = append(n.Outputs, "out")
	}
	b := &Build{Node: n, Opset: opset, Const: func(i int) *tensor.Tensor {
		if i < len(consts) {
			return consts[i]
		}
		return nil
	}}
	k, err := Default.Build(b)
	if err != nil {
		return nil, err
	}
	return k.(Kernel), nil
}

// nnRun builds and runs op, failing the test on any error.
func nnRun(t *testing.T, op string, opset int64, in []*tensor.Tensor, nout int, attrs ...*ir.Attribute) []*tensor.Tensor {
	t.Helper()
	k, err := nnBuild(t, op, opset, len(in), nout, attrs...)
	if err != nil {
		t.Fatalf("%s: build: %v", op, err)
	}
	out, err := k.Run(&Context{}, in)
	if err != nil {
		t.Fatalf("%s: run: %v", op, err)
	}
	return out
}

// nnRunErr builds and runs op and returns the first error.
func nnRunErr(t *testing.T, op string, opset int64, in []*tensor.Tensor, nout int, attrs ...*ir.Attribute) error {
	t.Helper()
	k, err := nnBuild(t, op, opset, len(in), nout, attrs...)
	if err != nil {
		return err
	}
	_, err = k.Run(&Context{}, in)
	return err
}

func nnF32(shape []int, v ...float32) *tensor.Tensor { return tensor.FromSlice(v, shape...) }

// nnSeq returns 0, 1, ..., n-1 as float32s.
func nnSeq(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i)
	}
	return v
}

func nnCheck(t *testing.T, got *tensor.Tensor, shape []int, want []float64, tol float64) {
	t.Helper()
	if !tensor.EqualShapes(got.Shape, shape) {
		t.Fatalf("shape %v, want %v", got.Shape, shape)
	}
	g, err := Float64s(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != len(want) {
		t.Fatalf("%d values, want %d", len(g), len(want))
	}
	for i := range g {
		if math.IsNaN(want[i]) && math.IsNaN(g[i]) {
			continue
		}
		if math.Abs(g[i]-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("value %d = %v, want %v\ngot  %v\nwant %v", i, g[i], want[i], g, want)
		}
	}
}

// nnParContext runs Parallel chunks in goroutines, splitting into 3 parts,
// so tests exercise the parallel paths.
func nnParContext() *Context {
	return &Context{Par: func(n int, fn func(lo, hi int)) {
		parts := min(3, n)
		done := make(chan struct{}, parts)
		for p := 0; p < parts; p++ {
			lo, hi := p*n/parts, (p+1)*n/parts
			go func() { fn(lo, hi); done <- struct{}{} }()
		}
		for p := 0; p < parts; p++ {
			<-done
		}
	}}
}
