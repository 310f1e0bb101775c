package kernels

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// redTestNode builds the kernel for one node and runs it on in. A nil
// entry in in is an omitted input.
func redTestNode(t *testing.T, op string, opset int64, attrs []*ir.Attribute, nout int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	n := &ir.Node{Name: "n", OpType: op, Attrs: attrs}
	for i, x := range in {
		if x == nil {
			n.Inputs = append(n.Inputs, "")
		} else {
			n.Inputs = append(n.Inputs, "in"+string(rune('0'+i)))
		}
	}
	for i := 0; i < nout; i++ {
		n.Outputs = append(n.Outputs, "out"+string(rune('0'+i)))
	}
	b := &Build{Node: n, Opset: opset, Const: func(int) *tensor.Tensor { return nil }}
	k, err := Default.Build(b)
	if err != nil {
		return nil, err
	}
	pool := parallel.New(4)
	defer pool.Close()
	c := &Context{Ctx: context.Background(), Par: pool.For}
	return k.(Kernel).Run(c, in)
}

func redAInts(name string, v ...int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInts, Ints: v}
}
func redAInt(name string, v int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v}
}
func redAFloat(name string, v float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloat, F: v}
}
func redAString(name, v string) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrString, S: []byte(v)}
}
func redAStrings(name string, v ...string) *ir.Attribute {
	a := &ir.Attribute{Name: name, Type: ir.AttrStrings}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}
func redAFloats(name string, v ...float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloats, Floats: v}
}

func redCheckF(t *testing.T, what string, got *tensor.Tensor, shape []int, want []float64, tol float64) {
	t.Helper()
	if !tensor.EqualShapes(got.Shape, shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, shape)
	}
	g, err := Float64s(got)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(g) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(g), len(want))
	}
	for i := range want {
		w := want[i]
		switch {
		case math.IsNaN(w):
			if !math.IsNaN(g[i]) {
				t.Fatalf("%s[%d] = %v, want NaN", what, i, g[i])
			}
		case math.IsInf(w, 0):
			if g[i] != w {
				t.Fatalf("%s[%d] = %v, want %v", what, i, g[i], w)
			}
		default:
			if math.Abs(g[i]-w) > tol*(1+math.Abs(w)) {
				t.Fatalf("%s[%d] = %v, want %v (all: %v)", what, i, g[i], w, g)
			}
		}
	}
}

// x = [[[1,2],[3,4]],[[5,6],[7,8]]] with shape [2,2,2].
var redX = []float32{1, 2, 3, 4, 5, 6, 7, 8}

func TestReduceOpsAxes(t *testing.T) {
	cases := []struct {
		op    string
		axes  []int64
		keep  int64
		shape []int
		want  []float64
	}{
		{"ReduceSum", []int64{1}, 1, []int{2, 1, 2}, []float64{4, 6, 12, 14}},
		{"ReduceSum", []int64{0, 2}, 0, []int{2}, []float64{1 + 2 + 5 + 6, 3 + 4 + 7 + 8}},
		{"ReduceSum", nil, 1, []int{1, 1, 1}, []float64{36}},
		{"ReduceSum", nil, 0, []int{}, []float64{36}},
		{"ReduceSum", []int64{-1}, 0, []int{2, 2}, []float64{3, 7, 11, 15}},
		{"ReduceSum", []int64{0}, 0, []int{2, 2}, []float64{6, 8, 10, 12}},
		{"ReduceMean", []int64{2}, 0, []int{2, 2}, []float64{1.5, 3.5, 5.5, 7.5}},
		{"ReduceMean", []int64{0, 1}, 0, []int{2}, []float64{4, 5}},
		{"ReduceMax", []int64{1}, 0, []int{2, 2}, []float64{3, 4, 7, 8}},
		{"ReduceMin", []int64{0, 2}, 1, []int{1, 2, 1}, []float64{1, 3}},
		{"ReduceProd", []int64{2}, 0, []int{2, 2}, []float64{2, 12, 30, 56}},
		{"ReduceProd", []int64{0}, 0, []int{2, 2}, []float64{5, 12, 21, 32}},
		{"ReduceL1", []int64{1}, 0, []int{2, 2}, []float64{4, 6, 12, 14}},
		{"ReduceL2", []int64{2}, 0, []int{2, 2}, []float64{math.Sqrt(5), 5, math.Sqrt(61), math.Sqrt(113)}},
		{"ReduceSumSquare", []int64{0}, 0, []int{2, 2}, []float64{26, 40, 58, 80}},
		{"ReduceLogSum", []int64{2}, 0, []int{2, 2}, []float64{math.Log(3), math.Log(7), math.Log(11), math.Log(15)}},
		{"ReduceLogSumExp", []int64{1}, 0, []int{2, 2}, []float64{
			math.Log(math.Exp(1) + math.Exp(3)), math.Log(math.Exp(2) + math.Exp(4)),
			math.Log(math.Exp(5) + math.Exp(7)), math.Log(math.Exp(6) + math.Exp(8))}},
	}
	for _, cs := range cases {
		x := tensor.FromSlice(append([]float32(nil), redX...), 2, 2, 2)
		// Attribute form (opset 11) and input form (opset 18).
		attrs := []*ir.Attribute{redAInt("keepdims", cs.keep)}
		if cs.axes != nil {
			attrs = append(attrs, redAInts("axes", cs.axes...))
		}
		out, err := redTestNode(t, cs.op, 11, attrs, 1, x)
		if err != nil {
			t.Fatalf("%s %v: %v", cs.op, cs.axes, err)
		}
		redCheckF(t, cs.op+" attr", out[0], cs.shape, cs.want, 1e-6)
		var ax *tensor.Tensor
		if cs.axes != nil {
			ax = tensor.FromSlice(append([]int64(nil), cs.axes...), len(cs.axes))
		}
		out, err = redTestNode(t, cs.op, 18, []*ir.Attribute{redAInt("keepdims", cs.keep)}, 1, x, ax)
		if err != nil {
			t.Fatalf("%s %v: %v", cs.op, cs.axes, err)
		}
		redCheckF(t, cs.op+" input", out[0], cs.shape, cs.want, 1e-6)
		for i, v := range x.Data.([]float32) {
			if v != redX[i] {
				t.Fatalf("%s modified its input", cs.op)
			}
		}
	}
}

func TestReduceSumOpsetSplit(t *testing.T) {
	x := tensor.FromSlice(append([]float32(nil), redX...), 2, 2, 2)
	// ReduceSum takes axes as input from 13; ReduceMean only from 18.
	ax := tensor.FromSlice([]int64{2}, 1)
	if _, err := redTestNode(t, "ReduceSum", 13, nil, 1, x, ax); err != nil {
		t.Fatal(err)
	}
	if _, err := redTestNode(t, "ReduceMean", 13, nil, 1, x, ax); err == nil {
		t.Fatal("ReduceMean-13 accepted an axes input")
	}
}

func TestReduceNoopEmptyAxes(t *testing.T) {
	x := tensor.FromSlice(append([]float32(nil), redX...), 2, 2, 2)
	empty := tensor.FromSlice([]int64{}, 0)
	out, err := redTestNode(t, "ReduceSum", 13, []*ir.Attribute{redAInt("noop_with_empty_axes", 1)}, 1, x, empty)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "noop", out[0], []int{2, 2, 2}, []float64{1, 2, 3, 4, 5, 6, 7, 8}, 0)
	// Without noop an empty axes list reduces everything.
	out, err = redTestNode(t, "ReduceSum", 13, nil, 1, x, empty)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "all", out[0], []int{1, 1, 1}, []float64{36}, 0)
	// Omitted axes input with noop: identity as well.
	out, err = redTestNode(t, "ReduceMax", 18, []*ir.Attribute{redAInt("noop_with_empty_axes", 1)}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "noop max", out[0], []int{2, 2, 2}, []float64{1, 2, 3, 4, 5, 6, 7, 8}, 0)
}

func TestReduceEmptySet(t *testing.T) {
	x := tensor.New(tensor.Float32, 2, 0, 3)
	inf := math.Inf(1)
	cases := []struct {
		op   string
		want float64
	}{
		{"ReduceSum", 0}, {"ReduceProd", 1}, {"ReduceMax", -inf}, {"ReduceMin", inf},
		{"ReduceL1", 0}, {"ReduceL2", 0}, {"ReduceSumSquare", 0},
		{"ReduceLogSum", -inf}, {"ReduceLogSumExp", -inf}, {"ReduceMean", math.NaN()},
	}
	for _, cs := range cases {
		ax := tensor.FromSlice([]int64{1}, 1)
		out, err := redTestNode(t, cs.op, 18, []*ir.Attribute{redAInt("keepdims", 0)}, 1, x, ax)
		if err != nil {
			t.Fatalf("%s: %v", cs.op, err)
		}
		w := []float64{cs.want, cs.want, cs.want, cs.want, cs.want, cs.want}
		redCheckF(t, cs.op, out[0], []int{2, 3}, w, 0)
	}
	// Integer max/min of the empty set are the type's limits.
	xi := tensor.New(tensor.Int8, 0, 2)
	out, err := redTestNode(t, "ReduceMax", 13, []*ir.Attribute{redAInts("axes", 0)}, 1, xi)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Data.([]int8); got[0] != -128 || got[1] != -128 || !tensor.EqualShapes(out[0].Shape, []int{1, 2}) {
		t.Fatalf("int8 empty max = %v %v", got, out[0].Shape)
	}
	xu := tensor.New(tensor.Uint16, 0)
	out, err = redTestNode(t, "ReduceMin", 13, []*ir.Attribute{redAInt("keepdims", 0)}, 1, xu)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Data.([]uint16); got[0] != 65535 {
		t.Fatalf("uint16 empty min = %v", got)
	}
	// Reducing a kept zero-sized axis gives an empty output.
	out, err = redTestNode(t, "ReduceSum", 11, []*ir.Attribute{redAInts("axes", 2)}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.EqualShapes(out[0].Shape, []int{2, 0, 1}) || out[0].Len() != 0 {
		t.Fatalf("shape %v", out[0].Shape)
	}
}

func TestReduceTypes(t *testing.T) {
	// uint8 sums and means must not wrap in the accumulator.
	xu := tensor.FromSlice([]uint8{200, 200, 100, 50}, 2, 2)
	out, err := redTestNode(t, "ReduceMean", 11, []*ir.Attribute{redAInts("axes", 1), redAInt("keepdims", 0)}, 1, xu)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Data.([]uint8); got[0] != 200 || got[1] != 75 {
		t.Fatalf("uint8 mean = %v", got)
	}
	// int32: mean truncates toward zero, L2 and logsum via float.
	xi := tensor.FromSlice([]int32{-3, -4, 3, 4}, 2, 2)
	out, err = redTestNode(t, "ReduceMean", 11, []*ir.Attribute{redAInts("axes", 1), redAInt("keepdims", 0)}, 1, xi)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Data.([]int32); got[0] != -3 || got[1] != 3 {
		t.Fatalf("int32 mean = %v", got)
	}
	out, err = redTestNode(t, "ReduceL2", 11, []*ir.Attribute{redAInts("axes", 1), redAInt("keepdims", 0)}, 1, xi)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Data.([]int32); got[0] != 5 || got[1] != 5 {
		t.Fatalf("int32 L2 = %v", got)
	}
	out, err = redTestNode(t, "ReduceL1", 11, []*ir.Attribute{redAInt("keepdims", 0)}, 1, xi)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Data.([]int32); got[0] != 14 {
		t.Fatalf("int32 L1 = %v", got)
	}
	xl := tensor.FromSlice([]int64{math.MaxInt64 - 1, 1, -5, 7}, 4)
	out, err = redTestNode(t, "ReduceMax", 11, nil, 1, xl)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Data.([]int64); got[0] != math.MaxInt64-1 {
		t.Fatalf("int64 max = %v", got)
	}
	// float16 and bfloat16 in, same type out.
	h := []tensor.F16{tensor.F16FromFloat32(1.5), tensor.F16FromFloat32(2.5), tensor.F16FromFloat32(-1)}
	out, err = redTestNode(t, "ReduceSum", 13, []*ir.Attribute{redAInt("keepdims", 0)}, 1, tensor.FromSlice(h, 3))
	if err != nil {
		t.Fatal(err)
	}
	if out[0].DType != tensor.Float16 || out[0].Data.([]tensor.F16)[0].Float32() != 3 {
		t.Fatalf("f16 sum = %v", out[0])
	}
	bf := []tensor.BF16{tensor.BF16FromFloat32(2), tensor.BF16FromFloat32(8)}
	out, err = redTestNode(t, "ReduceProd", 18, nil, 1, tensor.FromSlice(bf, 2))
	if err != nil {
		t.Fatal(err)
	}
	if out[0].DType != tensor.BFloat16 || out[0].Data.([]tensor.BF16)[0].Float32() != 16 {
		t.Fatalf("bf16 prod = %v", out[0])
	}
	// float64 keeps its precision.
	xd := tensor.FromSlice([]float64{1, 1, 1e16}, 3)
	out, err = redTestNode(t, "ReduceSum", 13, nil, 1, xd)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Data.([]float64)[0]; got != 1e16+2 {
		t.Fatalf("f64 sum = %v", got)
	}
	// bool max = any, min = all.
	xb := tensor.FromSlice([]bool{false, true, false, false}, 2, 2)
	out, err = redTestNode(t, "ReduceMax", 20, []*ir.Attribute{redAInt("keepdims", 0)}, 1, xb, tensor.FromSlice([]int64{1}, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Data.([]bool); !got[0] || got[1] {
		t.Fatalf("bool max = %v", got)
	}
	out, err = redTestNode(t, "ReduceMin", 20, []*ir.Attribute{redAInt("keepdims", 0)}, 1, xb, tensor.FromSlice([]int64{0}, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Data.([]bool); got[0] || got[1] {
		t.Fatalf("bool min = %v", got)
	}
	if _, err := redTestNode(t, "ReduceSum", 13, nil, 1, xb); err == nil {
		t.Fatal("ReduceSum of bool accepted")
	}
}

func TestReduceNaNAndErrors(t *testing.T) {
	nan := float32(math.NaN())
	x := tensor.FromSlice([]float32{1, nan, 3, 4}, 2, 2)
	out, err := redTestNode(t, "ReduceMax", 11, []*ir.Attribute{redAInts("axes", 1), redAInt("keepdims", 0)}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "nan max", out[0], []int{2}, []float64{math.NaN(), 4}, 0)
	out, err = redTestNode(t, "ReduceMin", 11, []*ir.Attribute{redAInts("axes", 0), redAInt("keepdims", 0)}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "nan min", out[0], []int{2}, []float64{1, math.NaN()}, 0)
	if _, err := redTestNode(t, "ReduceSum", 11, []*ir.Attribute{redAInts("axes", 2)}, 1, x); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("axis 2 of rank 2: %v", err)
	}
	if _, err := redTestNode(t, "ReduceSum", 11, []*ir.Attribute{redAInts("axes", 1, -1)}, 1, x); err == nil {
		t.Fatal("duplicate axes accepted")
	}
	if _, err := redTestNode(t, "ReduceSum", 11, []*ir.Attribute{redAFloat("keepdims", 1)}, 1, x); err == nil {
		t.Fatal("float keepdims accepted")
	}
}

// redNaive reduces x over axes with a plain odometer: the reference for
// the structured fast paths.
func redNaive(x []float64, shape []int, mask []bool, f func(acc, v float64) float64, ident float64) []float64 {
	outN := 1
	for i, d := range shape {
		if !mask[i] {
			outN *= d
		}
	}
	out := make([]float64, outN)
	for i := range out {
		out[i] = ident
	}
	idx := make([]int, len(shape))
	for i := range x {
		o := 0
		for a, d := range shape {
			if !mask[a] {
				o = o*d + idx[a]
			}
		}
		out[o] = f(out[o], x[i])
		for a := len(shape) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < shape[a] {
				break
			}
			idx[a] = 0
		}
	}
	return out
}

func TestReduceShapesAgainstNaive(t *testing.T) {
	shapes := [][]int{{3, 4, 5, 6}, {1, 7, 1, 9}, {2, 300, 70}, {40000}, {3, 20000}, {5, 3, 2, 4, 3}}
	for _, shape := range shapes {
		n := tensor.NumElements(shape)
		xs := make([]float32, n)
		for i := range xs {
			xs[i] = float32((i*7919)%23) - 11
		}
		xf := make([]float64, n)
		for i, v := range xs {
			xf[i] = float64(v)
		}
		r := len(shape)
		for m := 1; m < 1<<r; m++ {
			var axes []int64
			mask := make([]bool, r)
			for a := 0; a < r; a++ {
				if m&(1<<a) != 0 {
					axes = append(axes, int64(a))
					mask[a] = true
				}
			}
			x := tensor.FromSlice(xs, shape...)
			ax := tensor.FromSlice(axes, len(axes))
			out, err := redTestNode(t, "ReduceSum", 13, []*ir.Attribute{redAInt("keepdims", 0)}, 1, x, ax)
			if err != nil {
				t.Fatal(err)
			}
			want := redNaive(xf, shape, mask, func(a, v float64) float64 { return a + v }, 0)
			redCheckF(t, "sum", out[0], out[0].Shape, want, 1e-6)
			out, err = redTestNode(t, "ReduceMax", 18, []*ir.Attribute{redAInt("keepdims", 0)}, 1, x, ax)
			if err != nil {
				t.Fatal(err)
			}
			want = redNaive(xf, shape, mask, math.Max, math.Inf(-1))
			redCheckF(t, "max", out[0], out[0].Shape, want, 0)
			out, err = redTestNode(t, "ReduceLogSumExp", 18, []*ir.Attribute{redAInt("keepdims", 0)}, 1, x, ax)
			if err != nil {
				t.Fatal(err)
			}
			want = redNaive(xf, shape, mask, func(a, v float64) float64 { return a + math.Exp(v) }, 0)
			for i := range want {
				want[i] = math.Log(want[i])
			}
			redCheckF(t, "lse", out[0], out[0].Shape, want, 1e-5)
		}
	}
}

func TestReduceScalarAndStability(t *testing.T) {
	out, err := redTestNode(t, "ReduceSum", 13, nil, 1, tensor.Scalar(float32(2.5)))
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "scalar", out[0], []int{}, []float64{2.5}, 0)
	// log(e^1000 + e^1000) = 1000 + ln 2 without overflow.
	x := tensor.FromSlice([]float32{1000, 1000, -1000, -1000}, 2, 2)
	out, err = redTestNode(t, "ReduceLogSumExp", 13, []*ir.Attribute{redAInts("axes", 1), redAInt("keepdims", 0)}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "lse", out[0], []int{2}, []float64{1000 + math.Ln2, -1000 + math.Ln2}, 1e-7)
	inf := float32(math.Inf(1))
	x = tensor.FromSlice([]float32{inf, 1, float32(math.Inf(-1)), float32(math.Inf(-1))}, 2, 2)
	out, err = redTestNode(t, "ReduceLogSumExp", 13, []*ir.Attribute{redAInts("axes", 1), redAInt("keepdims", 0)}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "lse inf", out[0], []int{2}, []float64{math.Inf(1), math.Inf(-1)}, 0)
}
