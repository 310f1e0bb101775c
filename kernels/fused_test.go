package kernels_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/tensor"
)

// The fused kernels of domain ai.inferd must compute what the standard ops
// they fuse compute in sequence. Each case runs the fused op and the
// sequence on the same random inputs.

func fuRun(t *testing.T, domain, op string, opset int64, attrs []*ir.Attribute, nout int, in ...*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	n := &ir.Node{Name: op, OpType: op, Domain: domain, Attrs: attrs}
	for i, x := range in {
		name := ""
		if x != nil {
			name = fmt.Sprintf("in%d", i)
		}
		n.Inputs = append(n.Inputs, name)
	}
	for i := 0; i < nout; i++ {
		n.Outputs = append(n.Outputs, fmt.Sprintf("out%d", i))
	}
	b := &kernels.Build{Node: n, Opset: opset, Const: func(int) *tensor.Tensor { return nil }}
	for range in {
		b.InputTypes = append(b.InputTypes, ir.Type{})
	}
	for range n.Outputs {
		b.OutputTypes = append(b.OutputTypes, ir.Type{})
	}
	k, err := kernels.Default.Build(b)
	if err != nil {
		t.Fatalf("%s: build: %v", op, err)
	}
	out, err := k.(kernels.Kernel).Run(&kernels.Context{}, in)
	if err != nil {
		t.Fatalf("%s: run: %v", op, err)
	}
	return out
}

func fuStd(t *testing.T, op string, opset int64, attrs []*ir.Attribute, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	return fuRun(t, "", op, opset, attrs, 1, in...)[0]
}

func fuRand(rng *rand.Rand, shape ...int) *tensor.Tensor {
	x := tensor.New(tensor.Float32, shape...)
	for i := range x.Data.([]float32) {
		x.Data.([]float32)[i] = float32(rng.NormFloat64())
	}
	return x
}

func fuExpect(t *testing.T, name string, got, want *tensor.Tensor) {
	t.Helper()
	if !tensor.EqualShapes(got.Shape, want.Shape) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape, want.Shape)
	}
	g, w := got.Data.([]float32), want.Data.([]float32)
	var num, den float64
	for i := range w {
		d := float64(g[i] - w[i])
		num += d * d
		den += float64(w[i]) * float64(w[i])
	}
	// Same kernels, same order: only the in-place float32 steps may round
	// differently, and they do not.
	if rel := math.Sqrt(num / max(den, 1e-30)); rel > 1e-6 {
		t.Errorf("%s: relative L2 error %.3g", name, rel)
	}
}

func fuS(name, v string) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrString, S: []byte(v)}
}
func fuF(name string, v float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloat, F: v}
}
func fuFs(name string, v ...float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloats, Floats: v}
}
func fuIs(name string, v ...int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInts, Ints: v}
}
func fuI(name string, v int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v}
}

// activations lists each fused activation with the standard op applying it.
var fuActivations = []struct {
	name   string
	params []float32
	apply  func(t *testing.T, x *tensor.Tensor) *tensor.Tensor
}{
	{"", nil, func(t *testing.T, x *tensor.Tensor) *tensor.Tensor { return x }},
	{"Relu", nil, func(t *testing.T, x *tensor.Tensor) *tensor.Tensor { return fuStd(t, "Relu", 14, nil, x) }},
	{"Clip", []float32{0, 6}, func(t *testing.T, x *tensor.Tensor) *tensor.Tensor {
		return fuStd(t, "Clip", 13, nil, x, tensor.Scalar(float32(0)), tensor.Scalar(float32(6)))
	}},
	{"LeakyRelu", []float32{0.1}, func(t *testing.T, x *tensor.Tensor) *tensor.Tensor {
		return fuStd(t, "LeakyRelu", 16, []*ir.Attribute{fuF("alpha", 0.1)}, x)
	}},
	{"Sigmoid", nil, func(t *testing.T, x *tensor.Tensor) *tensor.Tensor { return fuStd(t, "Sigmoid", 13, nil, x) }},
	{"Tanh", nil, func(t *testing.T, x *tensor.Tensor) *tensor.Tensor { return fuStd(t, "Tanh", 13, nil, x) }},
	{"HardSigmoid", []float32{0.3, 0.4}, func(t *testing.T, x *tensor.Tensor) *tensor.Tensor {
		return fuStd(t, "HardSigmoid", 6, []*ir.Attribute{fuF("alpha", 0.3), fuF("beta", 0.4)}, x)
	}},
	{"HardSwish", nil, func(t *testing.T, x *tensor.Tensor) *tensor.Tensor { return fuStd(t, "HardSwish", 14, nil, x) }},
	{"Silu", nil, func(t *testing.T, x *tensor.Tensor) *tensor.Tensor {
		return fuStd(t, "Mul", 14, nil, x, fuStd(t, "Sigmoid", 13, nil, x))
	}},
	{"Gelu", nil, func(t *testing.T, x *tensor.Tensor) *tensor.Tensor { return fuStd(t, "Gelu", 20, nil, x) }},
	{"GeluTanh", nil, func(t *testing.T, x *tensor.Tensor) *tensor.Tensor {
		return fuStd(t, "Gelu", 20, []*ir.Attribute{fuS("approximate", "tanh")}, x)
	}},
}

func fuActAttrs(name string, params []float32) []*ir.Attribute {
	if name == "" {
		return nil
	}
	a := []*ir.Attribute{fuS("activation", name)}
	if params != nil {
		a = append(a, fuFs("activation_params", params...))
	}
	return a
}

func TestFusedConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x, w, b := fuRand(rng, 2, 3, 7, 7), fuRand(rng, 4, 3, 3, 3), fuRand(rng, 4)
	convAttrs := []*ir.Attribute{fuIs("pads", 1, 1, 1, 1), fuIs("strides", 1, 1)}
	conv := fuStd(t, "Conv", 11, convAttrs, x, w, b)
	z := fuRand(rng, conv.Shape...)
	for _, act := range fuActivations {
		for _, withZ := range []bool{false, true} {
			name := fmt.Sprintf("%s/z=%v", act.name, withZ)
			attrs := append(append([]*ir.Attribute(nil), convAttrs...), fuActAttrs(act.name, act.params)...)
			want := conv
			in := []*tensor.Tensor{x, w, b}
			if withZ {
				want = fuStd(t, "Add", 14, nil, want, z)
				in = append(in, z)
			}
			want = act.apply(t, want)
			got := fuRun(t, ir.DomainInferd, "FusedConv", 1, attrs, 1, in...)[0]
			fuExpect(t, name, got, want)
		}
	}
	// Without a bias.
	got := fuRun(t, ir.DomainInferd, "FusedConv", 1, convAttrs, 1, x, w, nil, z)[0]
	fuExpect(t, "no bias", got, fuStd(t, "Add", 14, nil, fuStd(t, "Conv", 11, convAttrs, x, w), z))
}

func TestFusedGemmAndMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b, c := fuRand(rng, 5, 6), fuRand(rng, 7, 6), fuRand(rng, 7)
	gattrs := []*ir.Attribute{fuI("transB", 1), fuF("alpha", 0.5)}
	a3, b3, bias := fuRand(rng, 2, 5, 6), fuRand(rng, 6, 7), fuRand(rng, 7)
	for _, act := range fuActivations {
		want := act.apply(t, fuStd(t, "Gemm", 13, gattrs, a, b, c))
		got := fuRun(t, ir.DomainInferd, "FusedGemm", 1, append(append([]*ir.Attribute(nil), gattrs...), fuActAttrs(act.name, act.params)...), 1, a, b, c)[0]
		fuExpect(t, "FusedGemm/"+act.name, got, want)

		want = act.apply(t, fuStd(t, "Add", 14, nil, fuStd(t, "MatMul", 13, nil, a3, b3), bias))
		got = fuRun(t, ir.DomainInferd, "FusedMatMul", 1, fuActAttrs(act.name, act.params), 1, a3, b3, bias)[0]
		fuExpect(t, "FusedMatMul/"+act.name, got, want)
	}
	got := fuRun(t, ir.DomainInferd, "FusedMatMul", 1, nil, 1, a3, b3)[0]
	fuExpect(t, "FusedMatMul/no bias", got, fuStd(t, "MatMul", 13, nil, a3, b3))
}

func TestFusedAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	q, kt, v := fuRand(rng, 2, 3, 4, 8), fuRand(rng, 2, 3, 8, 5), fuRand(rng, 2, 3, 5, 6)
	mask := fuRand(rng, 2, 1, 1, 5)
	scale := float32(0.35)
	scores := fuStd(t, "Mul", 14, nil, fuStd(t, "MatMul", 13, nil, q, kt), tensor.Scalar(scale))
	for _, withMask := range []bool{false, true} {
		s := scores
		in := []*tensor.Tensor{q, kt, v}
		if withMask {
			s = fuStd(t, "Add", 14, nil, s, mask)
			in = append(in, mask)
		}
		want := fuStd(t, "MatMul", 13, nil, fuStd(t, "Softmax", 13, nil, s), v)
		got := fuRun(t, ir.DomainInferd, "Attention", 1, []*ir.Attribute{fuF("scale", scale)}, 1, in...)[0]
		fuExpect(t, fmt.Sprintf("mask=%v", withMask), got, want)
	}
}

func TestFusedNormsAndGelu(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x, skip, gamma, beta := fuRand(rng, 2, 3, 16), fuRand(rng, 2, 3, 16), fuRand(rng, 16), fuRand(rng, 16)
	lnAttrs := []*ir.Attribute{fuI("axis", -1), fuF("epsilon", 1e-6)}
	sum := fuStd(t, "Add", 14, nil, x, skip)
	out := fuRun(t, ir.DomainInferd, "SkipLayerNormalization", 1, []*ir.Attribute{fuF("epsilon", 1e-6)}, 2, x, skip, gamma, beta)
	fuExpect(t, "SkipLayerNormalization", out[0], fuStd(t, "LayerNormalization", 17, lnAttrs, sum, gamma, beta))
	fuExpect(t, "SkipLayerNormalization sum", out[1], sum)

	got := fuRun(t, ir.DomainInferd, "LayerNormalization", 1, lnAttrs, 1, x, gamma, beta)[0]
	fuExpect(t, "LayerNormalization", got, fuStd(t, "LayerNormalization", 17, lnAttrs, x, gamma, beta))

	for _, approx := range []string{"none", "tanh"} {
		attrs := []*ir.Attribute{fuS("approximate", approx)}
		got := fuRun(t, ir.DomainInferd, "Gelu", 1, attrs, 1, x)[0]
		fuExpect(t, "Gelu/"+approx, got, fuStd(t, "Gelu", 20, attrs, x))
		got = fuRun(t, ir.DomainInferd, "BiasGelu", 1, attrs, 1, x, gamma)[0]
		fuExpect(t, "BiasGelu/"+approx, got, fuStd(t, "Gelu", 20, attrs, fuStd(t, "Add", 14, nil, x, gamma)))
	}
}

func TestFusedErrors(t *testing.T) {
	n := &ir.Node{Name: "f", OpType: "FusedConv", Domain: ir.DomainInferd, Inputs: []string{"x", "w"}, Outputs: []string{"y"},
		Attrs: []*ir.Attribute{fuS("activation", "Swish2")}}
	_, err := kernels.Default.Build(&kernels.Build{Node: n, Opset: 1, InputTypes: make([]ir.Type, 2), OutputTypes: make([]ir.Type, 1),
		Const: func(int) *tensor.Tensor { return nil }})
	if err == nil {
		t.Fatal("unknown activation: no error")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	x, w, z := fuRand(rng, 1, 2, 5, 5), fuRand(rng, 3, 2, 3, 3), fuRand(rng, 1, 3, 5, 5)
	n = &ir.Node{Name: "f", OpType: "FusedConv", Domain: ir.DomainInferd, Inputs: []string{"x", "w", "", "z"}, Outputs: []string{"y"}}
	k, err := kernels.Default.Build(&kernels.Build{Node: n, Opset: 1, InputTypes: make([]ir.Type, 4), OutputTypes: make([]ir.Type, 1),
		Const: func(int) *tensor.Tensor { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.(kernels.Kernel).Run(&kernels.Context{}, []*tensor.Tensor{x, w, nil, z}); err == nil {
		t.Error("Z of the wrong shape: no error")
	}
}
