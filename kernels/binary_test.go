package kernels

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// ---- test helpers (shared by the elementwise tests) ----

// ewParCtx runs Parallel in three concurrent chunks, so tests exercise
// chunk boundaries that fall inside rows.
var ewParCtx = &Context{Par: func(n int, fn func(lo, hi int)) {
	var wg sync.WaitGroup
	for k := range 3 {
		lo, hi := k*n/3, (k+1)*n/3
		wg.Add(1)
		go func() { defer wg.Done(); fn(lo, hi) }()
	}
	wg.Wait()
}}

func ewAttrF(name string, v float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloat, F: v}
}

func ewAttrI(name string, v int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v}
}

func ewAttrS(name, v string) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrString, S: []byte(v)}
}

// ewTry builds op at opset with attrs and runs it on in.
func ewTry(op string, opset int64, attrs []*ir.Attribute, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	n := &ir.Node{Name: "n", OpType: op, Attrs: attrs, Outputs: []string{"y"}}
	for i := range in {
		n.Inputs = append(n.Inputs, fmt.Sprint("x", i))
	}
	b := &Build{Node: n, Opset: opset, Const: func(int) *tensor.Tensor { return nil }}
	k, err := Default.Build(b)
	if err != nil {
		return nil, err
	}
	return k.(Kernel).Run(ewParCtx, in)
}

// ewRun is ewTry that fails the test on error and returns the one output.
func ewRun(t *testing.T, op string, opset int64, attrs []*ir.Attribute, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	out, err := ewTry(op, opset, attrs, in...)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	if len(out) != 1 || out[0] == nil {
		t.Fatalf("%s: got %d outputs", op, len(out))
	}
	if err := out[0].Validate(); err != nil {
		t.Fatalf("%s: invalid output: %v", op, err)
	}
	return out[0]
}

// ewExpect checks got's type, shape and values (floats within 1e-6
// relative, NaN equal to NaN).
func ewExpect(t *testing.T, name string, got *tensor.Tensor, want *tensor.Tensor) {
	t.Helper()
	ewExpectRel(t, name, got, want, 1e-12)
}

// ewExpectRel is ewExpect with a relative tolerance for float64 values.
func ewExpectRel(t *testing.T, name string, got *tensor.Tensor, want *tensor.Tensor, rel64 float64) {
	t.Helper()
	if got.DType != want.DType || !tensor.EqualShapes(got.Shape, want.Shape) {
		t.Fatalf("%s: got %v, want %v", name, got, want)
	}
	switch g := got.Data.(type) {
	case []float32:
		w := want.Data.([]float32)
		for i := range g {
			if !ewClose(float64(g[i]), float64(w[i]), 1e-6) {
				t.Fatalf("%s: element %d = %v, want %v\ngot  %v\nwant %v", name, i, g[i], w[i], g, w)
			}
		}
	case []float64:
		w := want.Data.([]float64)
		for i := range g {
			if !ewClose(g[i], w[i], rel64) {
				t.Fatalf("%s: element %d = %v, want %v\ngot  %v\nwant %v", name, i, g[i], w[i], g, w)
			}
		}
	default:
		if !reflect.DeepEqual(got.Data, want.Data) {
			t.Fatalf("%s:\ngot  %v\nwant %v", name, got.Data, want.Data)
		}
	}
}

func ewClose(a, b, rel float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= rel*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func ewT[T tensor.Elem](data []T, shape ...int) *tensor.Tensor {
	return tensor.FromSlice(data, shape...)
}

// ---- broadcasting ----

// ewNaiveBroadcast computes out[i] = f(a[ia], b[ib]) by decoding each
// output index into coordinates: an independent reference for the plan.
func ewNaiveBroadcast(sa, sb, so []int, f func(i, j int) int64) []int64 {
	n := tensor.NumElements(so)
	out := make([]int64, n)
	coord := make([]int, len(so))
	for i := range n {
		r := i
		for d := len(so) - 1; d >= 0; d-- {
			coord[d] = r % so[d]
			r /= so[d]
		}
		idx := func(s []int) int {
			off := len(so) - len(s)
			k := 0
			for d, size := range s {
				c := coord[off+d]
				if size == 1 {
					c = 0
				}
				k = k*size + c
			}
			return k
		}
		out[i] = f(idx(sa), idx(sb))
	}
	return out
}

func TestEwBroadcastShapesAgainstNaive(t *testing.T) {
	cases := [][2][]int{
		{{2, 3}, {3}},
		{{2, 1}, {1, 3}},
		{{4, 3, 5, 6}, {1, 3, 1, 1}},
		{{4, 3, 5, 6}, {3, 1, 1}},
		{{4, 3, 5, 6}, {4, 3, 5, 1}},
		{{1, 3, 1, 6}, {4, 1, 5, 1}},
		{{7, 1, 1, 9}, {1, 5, 2, 1}},
		{{2, 3, 4}, {2, 1, 4}},
		{{5}, {2, 3, 5}},
		{{}, {2, 2}},
		{{2, 2}, {}},
		{{1, 1}, {1}},
		{{3, 0, 2}, {1, 2}},
		{{64, 128}, {64, 1}},       // big enough to run in parallel chunks
		{{33, 1, 257}, {1, 40, 1}}, // chunk splits inside rows
	}
	for _, cs := range cases {
		sa, sb := cs[0], cs[1]
		na, nb := tensor.NumElements(sa), tensor.NumElements(sb)
		a, b := make([]int64, na), make([]int64, nb)
		for i := range a {
			a[i] = int64(i) * 100000
		}
		for i := range b {
			b[i] = int64(i)
		}
		got := ewRun(t, "Add", 14, nil, ewT(a, sa...), ewT(b, sb...))
		so, _ := BroadcastShapes(sa, sb)
		want := ewNaiveBroadcast(sa, sb, so, func(i, j int) int64 { return a[i] + b[j] })
		ewExpect(t, fmt.Sprint(sa, "+", sb), got, ewT(want, so...))
		// Sub is not symmetric: catches swapped operands.
		got = ewRun(t, "Sub", 14, nil, ewT(b, sb...), ewT(a, sa...))
		want = ewNaiveBroadcast(sb, sa, so, func(i, j int) int64 { return b[i] - a[j] })
		ewExpect(t, fmt.Sprint(sb, "-", sa), got, ewT(want, so...))
	}
}

func TestEwBroadcastError(t *testing.T) {
	_, err := ewTry("Add", 14, nil, ewT([]float32{1, 2, 3}, 3), ewT([]float32{1, 2}, 2))
	if err == nil {
		t.Fatal("Add of [3] and [2]: no error")
	}
	_, err = ewTry("Add", 14, nil, ewT([]float32{1}, 1), ewT([]int64{1}, 1))
	if err == nil {
		t.Fatal("Add of float32 and int64: no error")
	}
}

func TestEwArithFloat32(t *testing.T) {
	a := ewT([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := ewT([]float32{10, 20, 30}, 3)
	ewExpect(t, "add", ewRun(t, "Add", 14, nil, a, b), ewT([]float32{11, 22, 33, 14, 25, 36}, 2, 3))
	ewExpect(t, "sub", ewRun(t, "Sub", 14, nil, a, b), ewT([]float32{-9, -18, -27, -6, -15, -24}, 2, 3))
	ewExpect(t, "mul", ewRun(t, "Mul", 14, nil, a, b), ewT([]float32{10, 40, 90, 40, 100, 180}, 2, 3))
	ewExpect(t, "div", ewRun(t, "Div", 14, nil, b, a), ewT([]float32{10, 10, 10, 2.5, 4, 5}, 2, 3))
	s := tensor.Scalar[float32](2)
	ewExpect(t, "scalar right", ewRun(t, "Sub", 14, nil, a, s), ewT([]float32{-1, 0, 1, 2, 3, 4}, 2, 3))
	ewExpect(t, "scalar left", ewRun(t, "Sub", 14, nil, s, a), ewT([]float32{1, 0, -1, -2, -3, -4}, 2, 3))
	ewExpect(t, "div by zero", ewRun(t, "Div", 14, nil, ewT([]float32{1, -1, 0}, 3), ewT([]float32{0, 0, 0}, 3)),
		ewT([]float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}, 3))
	// Large same-shape input runs in parallel chunks.
	n := 100003
	x, y, w := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], y[i], w[i] = float32(i), 0.5, float32(i)+0.5
	}
	ewExpect(t, "big", ewRun(t, "Add", 14, nil, ewT(x, n), ewT(y, n)), ewT(w, n))
	// Empty broadcast output.
	ewExpect(t, "empty", ewRun(t, "Mul", 14, nil, ewT([]float32{}, 0, 3), b), ewT([]float32{}, 0, 3))
}

func TestEwArithTypes(t *testing.T) {
	ewExpect(t, "uint8 wraps", ewRun(t, "Add", 14, nil, ewT([]uint8{250, 3}, 2), ewT([]uint8{10, 4}, 2)), ewT([]uint8{4, 7}, 2))
	ewExpect(t, "int16", ewRun(t, "Mul", 14, nil, ewT([]int16{-3, 300}, 2), ewT([]int16{7, 2}, 2)), ewT([]int16{-21, 600}, 2))
	ewExpect(t, "uint16 sub", ewRun(t, "Sub", 14, nil, ewT([]uint16{5}, 1), ewT([]uint16{7}, 1)), ewT([]uint16{65534}, 1))
	ewExpect(t, "float64", ewRun(t, "Div", 14, nil, ewT([]float64{1}, 1), ewT([]float64{3}, 1)), ewT([]float64{1.0 / 3}, 1))
	h := func(v ...float32) *tensor.Tensor {
		s := make([]tensor.F16, len(v))
		for i, f := range v {
			s[i] = tensor.F16FromFloat32(f)
		}
		return ewT(s, len(v))
	}
	ewExpect(t, "float16", ewRun(t, "Add", 14, nil, h(1, 2.5), h(0.5, 0.25)), h(1.5, 2.75))
	bf := ewT([]tensor.BF16{tensor.BF16FromFloat32(3)}, 1)
	ewExpect(t, "bfloat16", ewRun(t, "Mul", 14, nil, bf, bf), ewT([]tensor.BF16{tensor.BF16FromFloat32(9)}, 1))
}

func TestEwIntDiv(t *testing.T) {
	a := ewT([]int32{7, -7, 7, -7, 0}, 5)
	b := ewT([]int32{2, 2, -2, -2, 5}, 5)
	ewExpect(t, "truncates", ewRun(t, "Div", 14, nil, a, b), ewT([]int32{3, -3, -3, 3, 0}, 5))
	_, err := ewTry("Div", 14, nil, a, ewT([]int32{1, 2, 0, 1, 1}, 5))
	if !errors.Is(err, errEwDivZero) {
		t.Fatalf("int division by zero: err = %v", err)
	}
	_, err = ewTry("Div", 14, nil, ewT([]uint8{1}, 1), ewT([]uint8{0}, 1))
	if err == nil {
		t.Fatal("uint8 division by zero: no error")
	}
	ewExpect(t, "min/-1", ewRun(t, "Div", 14, nil, ewT([]int64{math.MinInt64}, 1), ewT([]int64{-1}, 1)), ewT([]int64{math.MinInt64}, 1))
}

func TestEwLegacyBroadcast(t *testing.T) {
	a := ewT([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	// axis=0: B of shape [2] lines up with A's first dimension.
	got := ewRun(t, "Add", 6, []*ir.Attribute{ewAttrI("broadcast", 1), ewAttrI("axis", 0)}, a, ewT([]float32{10, 20}, 2))
	ewExpect(t, "axis 0", got, ewT([]float32{11, 12, 13, 24, 25, 26}, 2, 3))
	got = ewRun(t, "Mul", 6, []*ir.Attribute{ewAttrI("broadcast", 1)}, a, ewT([]float32{1, 0, -1}, 3))
	ewExpect(t, "suffix", got, ewT([]float32{1, 0, -3, 4, 0, -6}, 2, 3))
}

func TestEwMod(t *testing.T) {
	a := ewT([]int32{-4, 4, -4, 4, 5, 0}, 6)
	b := ewT([]int32{3, -3, -3, 3, 5, 2}, 6)
	ewExpect(t, "python", ewRun(t, "Mod", 13, nil, a, b), ewT([]int32{2, -2, -1, 1, 0, 0}, 6))
	ewExpect(t, "fmod", ewRun(t, "Mod", 13, []*ir.Attribute{ewAttrI("fmod", 1)}, a, b), ewT([]int32{-1, 1, -1, 1, 0, 0}, 6))
	_, err := ewTry("Mod", 13, nil, a, ewT([]int32{0}, 1))
	if err == nil {
		t.Fatal("integer mod by zero: no error")
	}
	fa := ewT([]float32{-4.5, 4.5, 5}, 3)
	fb := ewT([]float32{2, -2, 2.5}, 3)
	ewExpect(t, "float fmod", ewRun(t, "Mod", 13, []*ir.Attribute{ewAttrI("fmod", 1)}, fa, fb), ewT([]float32{-0.5, 0.5, 0}, 3))
	ewExpect(t, "float python", ewRun(t, "Mod", 13, nil, fa, fb), ewT([]float32{1.5, -1.5, 0}, 3))
	ewExpect(t, "uint8", ewRun(t, "Mod", 13, nil, ewT([]uint8{200, 7}, 2), ewT([]uint8{7}, 1)), ewT([]uint8{4, 0}, 2))
	if _, err := ewTry("Mod", 13, []*ir.Attribute{ewAttrI("fmod", 2)}, a, b); err == nil {
		t.Fatal("fmod=2: no error")
	}
}

func TestEwPow(t *testing.T) {
	x := ewT([]float32{1, 2, 3, -2}, 4)
	ewExpect(t, "f32^f32", ewRun(t, "Pow", 15, nil, x, ewT([]float32{0.5, 3, 2, 2}, 4)), ewT([]float32{1, 8, 9, 4}, 4))
	ewExpect(t, "f32^2", ewRun(t, "Pow", 15, nil, x, tensor.Scalar[float32](2)), ewT([]float32{1, 4, 9, 4}, 4))
	ewExpect(t, "f32^0.5", ewRun(t, "Pow", 15, nil, ewT([]float32{4, 9}, 2), tensor.Scalar[float32](0.5)), ewT([]float32{2, 3}, 2))
	ewExpect(t, "f32^int64", ewRun(t, "Pow", 15, nil, x, ewT([]int64{3}, 1)), ewT([]float32{1, 8, 27, -8}, 4))
	ewExpect(t, "f32^-1 uint", ewRun(t, "Pow", 15, nil, x, ewT([]uint64{0}, 1)), ewT([]float32{1, 1, 1, 1}, 4))
	ewExpect(t, "f32^-1.5", ewRun(t, "Pow", 15, nil, ewT([]float32{4}, 1), tensor.Scalar[float32](-1.5)), ewT([]float32{0.125}, 1))
	ewExpect(t, "int32^int32", ewRun(t, "Pow", 15, nil, ewT([]int32{1, 2, 3, -3}, 4), ewT([]int32{5, 10, 3, 3}, 4)), ewT([]int32{1, 1024, 27, -27}, 4))
	ewExpect(t, "int64^float", ewRun(t, "Pow", 15, nil, ewT([]int64{4, 2}, 2), ewT([]float32{0.5, 3}, 2)), ewT([]int64{2, 8}, 2))
	ewExpect(t, "int^neg", ewRun(t, "Pow", 15, nil, ewT([]int64{2, 1, -1, -1}, 4), ewT([]int64{-1, -5, -3, -2}, 4)), ewT([]int64{0, 1, -1, 1}, 4))
	if _, err := ewTry("Pow", 15, nil, ewT([]int64{0}, 1), ewT([]int64{-1}, 1)); err == nil {
		t.Fatal("0^-1 in int64: no error")
	}
	ewExpect(t, "f64^int32", ewRun(t, "Pow", 15, nil, ewT([]float64{2}, 1), ewT([]int32{-2}, 1)), ewT([]float64{0.25}, 1))
	h := ewT([]tensor.F16{tensor.F16FromFloat32(3)}, 1)
	ewExpect(t, "f16^f32", ewRun(t, "Pow", 15, nil, h, ewT([]float32{2}, 1)), ewT([]tensor.F16{tensor.F16FromFloat32(9)}, 1))
	// broadcast exponent
	ewExpect(t, "bcast", ewRun(t, "Pow", 15, nil, ewT([]float32{1, 2, 3, 4}, 2, 2), ewT([]float32{1, 2}, 2)), ewT([]float32{1, 4, 3, 16}, 2, 2))
}

func TestEwBitShift(t *testing.T) {
	left := []*ir.Attribute{ewAttrS("direction", "LEFT")}
	right := []*ir.Attribute{ewAttrS("direction", "RIGHT")}
	ewExpect(t, "left u8", ewRun(t, "BitShift", 11, left, ewT([]uint8{1, 3, 255, 1}, 4), ewT([]uint8{3, 1, 1, 8}, 4)), ewT([]uint8{8, 6, 254, 0}, 4))
	ewExpect(t, "right u32", ewRun(t, "BitShift", 11, right, ewT([]uint32{16, 4, 1}, 3), ewT([]uint32{2}, 1)), ewT([]uint32{4, 1, 0}, 3))
	ewExpect(t, "left u64", ewRun(t, "BitShift", 11, left, ewT([]uint64{1}, 1), ewT([]uint64{63}, 1)), ewT([]uint64{1 << 63}, 1))
	if _, err := ewTry("BitShift", 11, []*ir.Attribute{ewAttrS("direction", "UP")}, ewT([]uint8{1}, 1), ewT([]uint8{1}, 1)); err == nil {
		t.Fatal("direction UP: no error")
	}
	if _, err := ewTry("BitShift", 11, left, ewT([]int8{1}, 1), ewT([]int8{1}, 1)); err == nil {
		t.Fatal("int8 shift: no error")
	}
}

func TestEwLogicalBitwise(t *testing.T) {
	a := ewT([]bool{true, true, false, false}, 4)
	b := ewT([]bool{true, false, true, false}, 4)
	ewExpect(t, "and", ewRun(t, "And", 7, nil, a, b), ewT([]bool{true, false, false, false}, 4))
	ewExpect(t, "or", ewRun(t, "Or", 7, nil, a, b), ewT([]bool{true, true, true, false}, 4))
	ewExpect(t, "xor", ewRun(t, "Xor", 7, nil, a, b), ewT([]bool{false, true, true, false}, 4))
	ewExpect(t, "and bcast", ewRun(t, "And", 7, nil, ewT([]bool{true, false, true, true}, 2, 2), ewT([]bool{false, true}, 2)),
		ewT([]bool{false, false, false, true}, 2, 2))
	if _, err := ewTry("And", 7, nil, ewT([]int32{1}, 1), ewT([]int32{1}, 1)); err == nil {
		t.Fatal("And of int32: no error")
	}
	x := ewT([]int32{0b1100, -1}, 2)
	y := ewT([]int32{0b1010, 5}, 2)
	ewExpect(t, "bitand", ewRun(t, "BitwiseAnd", 18, nil, x, y), ewT([]int32{0b1000, 5}, 2))
	ewExpect(t, "bitor", ewRun(t, "BitwiseOr", 18, nil, x, y), ewT([]int32{0b1110, -1}, 2))
	ewExpect(t, "bitxor", ewRun(t, "BitwiseXor", 18, nil, x, y), ewT([]int32{0b0110, -6}, 2))
	ewExpect(t, "bitand u16", ewRun(t, "BitwiseAnd", 18, nil, ewT([]uint16{0xff0f}, 1), ewT([]uint16{0x0ff0}, 1)), ewT([]uint16{0x0f00}, 1))
}

func TestEwCompare(t *testing.T) {
	a := ewT([]float32{1, 2, 3, float32(math.NaN())}, 4)
	b := ewT([]float32{2, 2, 2, 2}, 4)
	ewExpect(t, "eq", ewRun(t, "Equal", 13, nil, a, b), ewT([]bool{false, true, false, false}, 4))
	ewExpect(t, "gt", ewRun(t, "Greater", 13, nil, a, b), ewT([]bool{false, false, true, false}, 4))
	ewExpect(t, "ge", ewRun(t, "GreaterOrEqual", 16, nil, a, b), ewT([]bool{false, true, true, false}, 4))
	ewExpect(t, "lt", ewRun(t, "Less", 13, nil, a, b), ewT([]bool{true, false, false, false}, 4))
	ewExpect(t, "le", ewRun(t, "LessOrEqual", 16, nil, a, b), ewT([]bool{true, true, false, false}, 4))
	ewExpect(t, "eq int bcast", ewRun(t, "Equal", 13, nil, ewT([]int64{1, 2, 3, 1}, 2, 2), ewT([]int64{1}, 1)), ewT([]bool{true, false, false, true}, 2, 2))
	ewExpect(t, "eq string", ewRun(t, "Equal", 19, nil, ewT([]string{"a", "b"}, 2), ewT([]string{"a", "c"}, 2)), ewT([]bool{true, false}, 2))
	ewExpect(t, "eq bool", ewRun(t, "Equal", 13, nil, ewT([]bool{true, false}, 2), ewT([]bool{true, true}, 2)), ewT([]bool{true, false}, 2))
	ewExpect(t, "lt uint64", ewRun(t, "Less", 13, nil, ewT([]uint64{1 << 63}, 1), ewT([]uint64{1}, 1)), ewT([]bool{false}, 1))
	h := func(v float32) *tensor.Tensor { return ewT([]tensor.F16{tensor.F16FromFloat32(v)}, 1) }
	ewExpect(t, "gt f16", ewRun(t, "Greater", 13, nil, h(-1), h(-2)), ewT([]bool{true}, 1))
	if _, err := ewTry("Less", 13, nil, ewT([]string{"a"}, 1), ewT([]string{"b"}, 1)); err == nil {
		t.Fatal("Less of strings: no error")
	}
}

func TestEwWhere(t *testing.T) {
	cond := ewT([]bool{true, false, true, false}, 2, 2)
	got := ewRun(t, "Where", 16, nil, cond, ewT([]float32{1, 2, 3, 4}, 2, 2), ewT([]float32{9, 8, 7, 6}, 2, 2))
	ewExpect(t, "same", got, ewT([]float32{1, 8, 3, 6}, 2, 2))
	// cond [2,1], x [1,3], y scalar → [2,3]
	got = ewRun(t, "Where", 16, nil, ewT([]bool{true, false}, 2, 1), ewT([]int64{1, 2, 3}, 1, 3), tensor.Scalar[int64](-1))
	ewExpect(t, "bcast", got, ewT([]int64{1, 2, 3, -1, -1, -1}, 2, 3))
	got = ewRun(t, "Where", 16, nil, ewT([]bool{false, true}, 2), ewT([]string{"a", "b"}, 2), ewT([]string{"c"}, 1))
	ewExpect(t, "string", got, ewT([]string{"c", "b"}, 2))
	if _, err := ewTry("Where", 16, nil, ewT([]int32{1}, 1), ewT([]int32{1}, 1), ewT([]int32{1}, 1)); err == nil ||
		!strings.Contains(err.Error(), "bool") {
		t.Fatalf("int32 condition: err = %v", err)
	}
}

func TestEwWhereBroadcastAgainstNaive(t *testing.T) {
	sc, sx, sy := []int{33, 1, 257}, []int{1, 40, 1}, []int{257}
	cond := make([]bool, tensor.NumElements(sc))
	for i := range cond {
		cond[i] = i%3 == 0
	}
	x := make([]int64, tensor.NumElements(sx))
	for i := range x {
		x[i] = int64(i) + 1000
	}
	y := make([]int64, tensor.NumElements(sy))
	for i := range y {
		y[i] = -int64(i)
	}
	so, _ := BroadcastShapes(sc, sx, sy)
	// Reference: pick x or y by cond through the two-input naive walker.
	cx := ewNaiveBroadcast(sc, sx, so, func(i, j int) int64 {
		if cond[i] {
			return x[j]
		}
		return math.MinInt64
	})
	cy := ewNaiveBroadcast(sc, sy, so, func(i, j int) int64 { return y[j] })
	want := make([]int64, len(cx))
	for i := range want {
		if cx[i] != math.MinInt64 {
			want[i] = cx[i]
		} else {
			want[i] = cy[i]
		}
	}
	got := ewRun(t, "Where", 16, nil, ewT(cond, sc...), ewT(x, sx...), ewT(y, sy...))
	ewExpect(t, "where", got, ewT(want, so...))
}
