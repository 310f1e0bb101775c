package kernels

import (
	"math"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func ewF32(v ...float64) *tensor.Tensor {
	s := make([]float32, len(v))
	for i, f := range v {
		s[i] = float32(f)
	}
	return ewT(s, len(v))
}

func ewF64(v ...float64) *tensor.Tensor { return ewT(append([]float64(nil), v...), len(v)) }

var (
	ewInf = math.Inf(1)
	ewNaN = math.NaN()
)

func TestEwUnaryMath(t *testing.T) {
	cases := []struct {
		op      string
		in, out []float64
	}{
		{"Acos", []float64{1, 0, -1}, []float64{0, math.Pi / 2, math.Pi}},
		{"Acosh", []float64{1, 2}, []float64{0, 1.3169578969248166}},
		{"Asin", []float64{0, 1, -0.5}, []float64{0, math.Pi / 2, -math.Pi / 6}},
		{"Asinh", []float64{0, 1}, []float64{0, 0.881373587019543}},
		{"Atan", []float64{0, 1, -1}, []float64{0, math.Pi / 4, -math.Pi / 4}},
		{"Atanh", []float64{0, 0.5}, []float64{0, 0.5493061443340549}},
		{"Cos", []float64{0, math.Pi}, []float64{1, -1}},
		{"Cosh", []float64{0, 1}, []float64{1, 1.5430806348152437}},
		{"Sin", []float64{0, math.Pi / 2}, []float64{0, 1}},
		{"Sinh", []float64{0, 1}, []float64{0, 1.1752011936438014}},
		{"Tan", []float64{0, math.Pi / 4}, []float64{0, 1}},
		{"Tanh", []float64{0, 1, -20, 20}, []float64{0, 0.7615941559557649, -1, 1}},
		{"Exp", []float64{0, 1, -ewInf, 1000}, []float64{1, math.E, 0, ewInf}},
		{"Log", []float64{1, math.E, 0, -1}, []float64{0, 1, -ewInf, ewNaN}},
		{"Sqrt", []float64{4, 2, 0, -1}, []float64{2, math.Sqrt2, 0, ewNaN}},
		{"Reciprocal", []float64{2, -4, 0}, []float64{0.5, -0.25, ewInf}},
		{"Ceil", []float64{1.2, -1.2, 3, -0.5}, []float64{2, -1, 3, 0}},
		{"Floor", []float64{1.8, -1.2, 3}, []float64{1, -2, 3}},
		{"Round", []float64{0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6, -2.6}, []float64{0, 2, 2, 0, -2, 2, 3, -3}},
		{"Erf", []float64{0, 1, -1, 3}, []float64{0, 0.8427007929497149, -0.8427007929497149, 0.9999779095030014}},
		{"Abs", []float64{-1.5, 2, 0}, []float64{1.5, 2, 0}},
		{"Neg", []float64{-1.5, 2, 0}, []float64{1.5, -2, 0}},
		{"Sign", []float64{-1.5, 2, 0, ewNaN}, []float64{-1, 1, 0, ewNaN}},
	}
	for _, c := range cases {
		ewExpect(t, c.op+" f32", ewRun(t, c.op, 13, nil, ewF32(c.in...)), ewF32(c.out...))
		ewExpect(t, c.op+" f64", ewRun(t, c.op, 13, nil, ewF64(c.in...)), ewF64(c.out...))
		// float16 inputs are computed in float32 and rounded once.
		h := make([]tensor.F16, len(c.in))
		w := make([]tensor.F16, len(c.out))
		for i := range c.in {
			h[i] = tensor.F16FromFloat32(float32(c.in[i]))
		}
		got := ewRun(t, c.op, 13, nil, ewT(h, len(h)))
		for i := range c.out {
			w[i] = tensor.F16FromFloat32(float32(c.out[i]))
			g := float64(got.Data.([]tensor.F16)[i].Float32())
			if !ewClose(g, float64(w[i].Float32()), 2e-3) {
				t.Errorf("%s f16: element %d = %v, want %v", c.op, i, g, w[i].Float32())
			}
		}
	}
}

func TestEwUnaryFloatOnly(t *testing.T) {
	for _, op := range []string{"Sqrt", "Exp", "Cos", "Ceil", "Round", "Reciprocal"} {
		if _, err := ewTry(op, 13, nil, ewT([]int32{1}, 1)); err == nil {
			t.Errorf("%s of int32: no error", op)
		}
	}
}

func TestEwUnaryBig(t *testing.T) {
	// Large enough to run in parallel chunks.
	n := 50001
	in, want := make([]float32, n), make([]float32, n)
	for i := range in {
		in[i] = float32(i%200) - 100
		want[i] = float32(math.Abs(float64(in[i])))
	}
	ewExpect(t, "abs big", ewRun(t, "Abs", 13, nil, ewT(in, n)), ewT(want, n))
}

func TestEwAbsNegSignInts(t *testing.T) {
	ewExpect(t, "abs int8", ewRun(t, "Abs", 13, nil, ewT([]int8{-3, 4, -128}, 3)), ewT([]int8{3, 4, -128}, 3))
	ewExpect(t, "abs uint16", ewRun(t, "Abs", 13, nil, ewT([]uint16{65535}, 1)), ewT([]uint16{65535}, 1))
	ewExpect(t, "neg int64", ewRun(t, "Neg", 13, nil, ewT([]int64{-3, 4}, 2)), ewT([]int64{3, -4}, 2))
	ewExpect(t, "sign int32", ewRun(t, "Sign", 13, nil, ewT([]int32{-30, 0, 7}, 3)), ewT([]int32{-1, 0, 1}, 3))
	ewExpect(t, "sign uint8", ewRun(t, "Sign", 13, nil, ewT([]uint8{0, 200}, 2)), ewT([]uint8{0, 1}, 2))
	if _, err := ewTry("Neg", 13, nil, ewT([]uint8{1}, 1)); err == nil {
		t.Error("Neg of uint8: no error")
	}
	// Abs clears the sign of -0.
	got := ewRun(t, "Abs", 13, nil, ewF32(math.Copysign(0, -1)))
	if math.Signbit(float64(got.Data.([]float32)[0])) {
		t.Error("Abs(-0) kept the sign")
	}
	ewExpect(t, "erf int", ewRun(t, "Erf", 13, nil, ewT([]int32{-3, 0, 5}, 3)), ewT([]int32{0, 0, 0}, 3))
}

func TestEwIsNaNIsInf(t *testing.T) {
	x := ewF32(1, ewNaN, ewInf, -ewInf, 0)
	ewExpect(t, "isnan", ewRun(t, "IsNaN", 13, nil, x), ewT([]bool{false, true, false, false, false}, 5))
	ewExpect(t, "isinf", ewRun(t, "IsInf", 10, nil, x), ewT([]bool{false, false, true, true, false}, 5))
	ewExpect(t, "isinf pos", ewRun(t, "IsInf", 10, []*ir.Attribute{ewAttrI("detect_negative", 0)}, x), ewT([]bool{false, false, true, false, false}, 5))
	ewExpect(t, "isinf neg", ewRun(t, "IsInf", 10, []*ir.Attribute{ewAttrI("detect_positive", 0)}, x), ewT([]bool{false, false, false, true, false}, 5))
	ewExpect(t, "isnan f64", ewRun(t, "IsNaN", 13, nil, ewF64(ewNaN, 2)), ewT([]bool{true, false}, 2))
	ewExpect(t, "isnan f16", ewRun(t, "IsNaN", 13, nil, ewT([]tensor.F16{0x7e00, 0x3c00}, 2)), ewT([]bool{true, false}, 2))
	ewExpect(t, "isinf e5m2", ewRun(t, "IsInf", 20, nil, ewT([]tensor.F8E5M2{0x7c, 0xfc, 0x7b}, 3)), ewT([]bool{true, true, false}, 3))
	ewExpect(t, "isnan e4m3fn", ewRun(t, "IsNaN", 20, nil, ewT([]tensor.F8E4M3FN{0x7f, 0x7e}, 2)), ewT([]bool{true, false}, 2))
}

func TestEwNotBitwiseNot(t *testing.T) {
	ewExpect(t, "not", ewRun(t, "Not", 1, nil, ewT([]bool{true, false}, 2)), ewT([]bool{false, true}, 2))
	ewExpect(t, "bitnot i32", ewRun(t, "BitwiseNot", 18, nil, ewT([]int32{0, -1, 5}, 3)), ewT([]int32{-1, 0, -6}, 3))
	ewExpect(t, "bitnot u8", ewRun(t, "BitwiseNot", 18, nil, ewT([]uint8{0, 0x0f}, 2)), ewT([]uint8{0xff, 0xf0}, 2))
	if _, err := ewTry("Not", 1, nil, ewT([]int32{1}, 1)); err == nil {
		t.Error("Not of int32: no error")
	}
}

// The float32 tanh path must match the rounded float64 math.Tanh to within
// one unit in the last place everywhere, including tiny, huge and NaN inputs.
func TestEwTanh32(t *testing.T) {
	check := func(f float32) {
		got := float32(ewTanh32(float64(f)))
		want := float32(math.Tanh(float64(f)))
		if got != got || want != want {
			if (got != got) != (want != want) {
				t.Fatalf("tanh(%v) = %v, want %v", f, got, want)
			}
			return
		}
		d := int64(int32(math.Float32bits(got))) - int64(int32(math.Float32bits(want)))
		if d > 1 || d < -1 {
			t.Fatalf("tanh(%v) = %v, want %v", f, got, want)
		}
	}
	for x := -12.0; x < 12; x += 0.000173 {
		check(float32(x))
	}
	for _, f := range []float32{0, 1e-30, -1e-8, 1e-5, 0.0039, 0.0041, 9.09, 9.11, 1e30, float32(math.Inf(-1)), float32(math.NaN())} {
		check(f)
	}
}
