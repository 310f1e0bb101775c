package kernels

import (
	"math"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestEwActivations(t *testing.T) {
	e := math.E
	cases := []struct {
		op      string
		opset   int64
		attrs   []*ir.Attribute
		in, out []float64
	}{
		{"Relu", 14, nil, []float64{-1, 0, 2, ewNaN}, []float64{0, 0, 2, ewNaN}},
		{"LeakyRelu", 16, nil, []float64{-1, 0, 2}, []float64{-0.01, 0, 2}},
		{"LeakyRelu", 16, []*ir.Attribute{ewAttrF("alpha", 0.5)}, []float64{-4, 3}, []float64{-2, 3}},
		{"Elu", 6, nil, []float64{-1, 0, 2}, []float64{1/e - 1, 0, 2}},
		{"Elu", 6, []*ir.Attribute{ewAttrF("alpha", 2)}, []float64{-1}, []float64{2 * (1/e - 1)}},
		{"Selu", 6, nil, []float64{-1, 0, 2}, []float64{
			1.05070102214813232421875 * 1.67326319217681884765625 * (1/e - 1), 0, 2 * 1.05070102214813232421875}},
		{"Selu", 6, []*ir.Attribute{ewAttrF("alpha", 2), ewAttrF("gamma", 3)}, []float64{-1, 1}, []float64{6 * (1/e - 1), 3}},
		{"Celu", 12, nil, []float64{-1, 0, 2}, []float64{1/e - 1, 0, 2}},
		{"Celu", 12, []*ir.Attribute{ewAttrF("alpha", 2)}, []float64{-2}, []float64{2 * (1/e - 1)}},
		{"Sigmoid", 13, nil, []float64{0, 1, -1, -1000, 1000}, []float64{0.5, 1 / (1 + 1/e), 1 / (1 + e), 0, 1}},
		{"HardSigmoid", 6, nil, []float64{0, 1, -3, 3}, []float64{0.5, 0.7, 0, 1}},
		{"HardSigmoid", 6, []*ir.Attribute{ewAttrF("alpha", 0.5), ewAttrF("beta", 0.25)}, []float64{1}, []float64{0.75}},
		{"HardSwish", 14, nil, []float64{-4, -1, 0, 1, 4}, []float64{0, -1.0 / 3, 0, 2.0 / 3, 4}},
		{"Softplus", 1, nil, []float64{0, 1, -1, 1000, -1000}, []float64{math.Ln2, math.Log(1 + e), math.Log(1 + 1/e), 1000, 0}},
		{"Softsign", 1, nil, []float64{0, 1, -3}, []float64{0, 0.5, -0.75}},
		{"Mish", 18, nil, []float64{0, 1, -1}, []float64{0, math.Tanh(math.Log(1 + e)), -math.Tanh(math.Log(1 + 1/e))}},
		{"Gelu", 20, nil, []float64{0, 1, -1}, []float64{0, 0.8413447460685429, -0.15865525393145707}},
		{"Gelu", 20, []*ir.Attribute{ewAttrS("approximate", "tanh")}, []float64{0, 1},
			[]float64{0, 0.5 * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(1+0.044715)))}},
		{"ThresholdedRelu", 10, nil, []float64{0.5, 1, 1.5, -2}, []float64{0, 0, 1.5, 0}},
		{"ThresholdedRelu", 10, []*ir.Attribute{ewAttrF("alpha", -3)}, []float64{-2, -4}, []float64{-2, 0}},
		{"Shrink", 9, nil, []float64{-1, -0.5, 0, 0.5, 1}, []float64{-1, 0, 0, 0, 1}},
		{"Shrink", 9, []*ir.Attribute{ewAttrF("lambd", 1), ewAttrF("bias", 0.5)}, []float64{-2, -1, 1, 2}, []float64{-1.5, 0, 0, 1.5}},
		{"Clip", 6, []*ir.Attribute{ewAttrF("min", -1), ewAttrF("max", 1)}, []float64{-2, 0.5, 2}, []float64{-1, 0.5, 1}},
		{"Clip", 6, []*ir.Attribute{ewAttrF("max", 1)}, []float64{-2, 0.5, 2}, []float64{-2, 0.5, 1}},
		{"Clip", 6, nil, []float64{-2, 2}, []float64{-2, 2}},
	}
	for _, c := range cases {
		ewExpect(t, c.op+" f32", ewRun(t, c.op, c.opset, c.attrs, ewF32(c.in...)), ewF32(c.out...))
		// Attributes are float32, so float64 results carry their rounding.
		ewExpectRel(t, c.op+" f64", ewRun(t, c.op, c.opset, c.attrs, ewF64(c.in...)), ewF64(c.out...), 1e-7)
	}
}

func TestEwActivationErrors(t *testing.T) {
	if _, err := ewTry("Gelu", 20, []*ir.Attribute{ewAttrS("approximate", "erf")}, ewF32(1)); err == nil {
		t.Error("Gelu approximate=erf: no error")
	}
	if _, err := ewTry("LeakyRelu", 16, []*ir.Attribute{ewAttrI("alpha", 1)}, ewF32(1)); err == nil {
		t.Error("LeakyRelu with int alpha: no error")
	}
	if _, err := ewTry("Sigmoid", 13, nil, ewT([]int32{1}, 1)); err == nil {
		t.Error("Sigmoid of int32: no error")
	}
}

func TestEwReluTypes(t *testing.T) {
	ewExpect(t, "int8", ewRun(t, "Relu", 14, nil, ewT([]int8{-5, 5}, 2)), ewT([]int8{0, 5}, 2))
	ewExpect(t, "int64", ewRun(t, "Relu", 14, nil, ewT([]int64{-5, 5}, 2)), ewT([]int64{0, 5}, 2))
	bf := ewT([]tensor.BF16{tensor.BF16FromFloat32(-2), tensor.BF16FromFloat32(3)}, 2)
	ewExpect(t, "bf16", ewRun(t, "Relu", 14, nil, bf), ewT([]tensor.BF16{0, tensor.BF16FromFloat32(3)}, 2))
	ewExpect(t, "shrink int", ewRun(t, "Shrink", 9, []*ir.Attribute{ewAttrF("lambd", 1.5), ewAttrF("bias", 1)}, ewT([]int32{-3, -1, 1, 3}, 4)),
		ewT([]int32{-2, 0, 0, 2}, 4))
}

func TestEwPRelu(t *testing.T) {
	x := ewT([]float32{-1, 2, -3, 4, -5, 6, -7, 8}, 2, 2, 2)
	// A [2,1] slope broadcasts over the last two dimensions.
	got := ewRun(t, "PRelu", 16, nil, x, ewT([]float32{0.5, 0.25}, 2, 1))
	ewExpect(t, "bcast", got, ewT([]float32{-0.5, 2, -0.75, 4, -2.5, 6, -1.75, 8}, 2, 2, 2))
	got = ewRun(t, "PRelu", 16, nil, x, tensor.Scalar[float32](0.1))
	ewExpect(t, "scalar", got, ewT([]float32{-0.1, 2, -0.3, 4, -0.5, 6, -0.7, 8}, 2, 2, 2))
	got = ewRun(t, "PRelu", 16, nil, x, ewT([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 2, 2))
	ewExpect(t, "same", got, ewT([]float32{-1, 2, -9, 4, -25, 6, -49, 8}, 2, 2, 2))
	// Opset 6 style: a 1-D per-channel slope of size C for an NCHW-like input.
	x4 := ewT([]float32{-1, -1, -1, -1, -1, -1}, 1, 3, 2)
	got = ewRun(t, "PRelu", 6, nil, x4, ewT([]float32{1, 2, 3}, 3))
	ewExpect(t, "channel", got, ewT([]float32{-1, -1, -2, -2, -3, -3}, 1, 3, 2))
	got = ewRun(t, "PRelu", 16, nil, ewT([]int64{-4, 4}, 2), ewT([]int64{3}, 1))
	ewExpect(t, "int64", got, ewT([]int64{-12, 4}, 2))
	if _, err := ewTry("PRelu", 16, nil, ewT([]float32{1, 2}, 2), ewT([]float32{1, 2, 3}, 3)); err == nil {
		t.Error("slope [3] for X [2]: no error")
	}
	if _, err := ewTry("PRelu", 16, nil, ewT([]float32{1, 2}, 2), ewT([]float32{1, 2, 3, 4}, 2, 2)); err == nil {
		t.Error("slope [2,2] for X [2]: no error (not unidirectional)")
	}
}

func TestEwClipInputs(t *testing.T) {
	x := ewF32(-3, -1, 0, 1, 3)
	lo, hi := tensor.Scalar[float32](-2), tensor.Scalar[float32](2)
	ewExpect(t, "both", ewRun(t, "Clip", 13, nil, x, lo, hi), ewF32(-2, -1, 0, 1, 2))
	ewExpect(t, "min only", ewRun(t, "Clip", 13, nil, x, lo), ewF32(-2, -1, 0, 1, 3))
	ewExpect(t, "none", ewRun(t, "Clip", 13, nil, x), ewF32(-3, -1, 0, 1, 3))
	// Omitted min, given max.
	out, err := ewTry("Clip", 13, nil, x, nil, hi)
	if err != nil {
		t.Fatal(err)
	}
	ewExpect(t, "max only", out[0], ewF32(-3, -1, 0, 1, 2))
	// min > max: everything becomes max.
	ewExpect(t, "crossed", ewRun(t, "Clip", 13, nil, x, hi, lo), ewF32(-2, -2, -2, -2, -2))
	ewExpect(t, "int8", ewRun(t, "Clip", 12, nil, ewT([]int8{-128, 0, 127}, 3), tensor.Scalar[int8](-5), tensor.Scalar[int8](5)),
		ewT([]int8{-5, 0, 5}, 3))
	ewExpect(t, "uint64", ewRun(t, "Clip", 12, nil, ewT([]uint64{1, 10}, 2), nil, tensor.Scalar[uint64](5)), ewT([]uint64{1, 5}, 2))
	ewExpect(t, "nan stays", ewRun(t, "Clip", 13, nil, ewF32(ewNaN), lo, hi), ewF32(ewNaN))
	if _, err := ewTry("Clip", 13, nil, x, ewT([]float32{1, 2}, 2)); err == nil {
		t.Error("non-scalar min: no error")
	}
	if _, err := ewTry("Clip", 13, nil, x, tensor.Scalar[float64](1)); err == nil {
		t.Error("float64 min for float32 input: no error")
	}
	h := func(v ...float32) *tensor.Tensor {
		s := make([]tensor.F16, len(v))
		for i, f := range v {
			s[i] = tensor.F16FromFloat32(f)
		}
		return ewT(s, len(v))
	}
	got := ewRun(t, "Clip", 13, nil, h(-3, 3), ewT([]tensor.F16{tensor.F16FromFloat32(-1)}), nil)
	ewExpect(t, "f16", got, h(-1, 3))
}
