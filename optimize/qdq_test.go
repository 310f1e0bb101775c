package optimize_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/optimize"
	"github.com/inferd/inferd/tensor"
)

// The QDQ rules against the graph they rewrite: each test graph is in QDQ
// form, run once as written by the reference kernels (DequantizeLinear,
// Conv, Add, QuantizeLinear … of package kernels, in float) and once
// rewritten into integer ops. Quantized outputs must agree code for code
// except where the float reference rounds a value lying within float32
// rounding of a half the other way: such codes may differ by one, for at
// most qdqOffShare of the outputs. Float outputs must agree within a
// relative L2 error of 1e-5.

const qdqOffShare = 0.01

// qdqHeader declares the parameters the test graphs share: x quantized at
// xs/xz, weights per output channel, outputs at ys/yz.
const qdqHeader = `
	init xs float32[] = 0.05
	init xz int8[] = 3
	init ys float32[] = 0.2
	init yz int8[] = -5
	init uz uint8[] = 128
`

// expectQDQ optimizes src at the extended level and checks the op types,
// determinism, and outputs against src's as written.
func expectQDQ(t *testing.T, src, want string) *ir.Model {
	t.Helper()
	m := parseGraph(t, qdqHeader+src)
	qdqRandomWeights(m)
	got := optimize.Clone(m)
	opts := optimize.Options{Level: optimize.LevelExtended, Evaluator: engine.Evaluator{}, Verify: true}
	if _, err := optimize.Run(context.Background(), got, opts); err != nil {
		t.Fatalf("optimize: %v", err)
	}
	if err := ir.Verify(got); err != nil {
		t.Fatalf("optimized graph is invalid: %v", err)
	}
	if g := ops(got.Graph); g != want {
		t.Errorf("ops after optimizing:\n got: %s\nwant: %s", g, want)
	}
	again := optimize.Clone(m)
	if _, err := optimize.Run(context.Background(), again, opts); err != nil {
		t.Fatal(err)
	}
	b1, _ := onnx.Encode(got)
	b2, _ := onnx.Encode(again)
	if !bytes.Equal(b1, b2) {
		t.Error("two runs of the optimizer gave different models")
	}
	qdqCompare(t, m, got)
	return got
}

// qdqRandomWeights fills the 8-bit initializers of more than one element
// (weights) with uniform codes and the int32 ones (biases) with values in
// ±2000: the parser's random values are too small for 8-bit weights.
func qdqRandomWeights(m *ir.Model) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, in := range m.Graph.Initializers {
		if in.Tensor.Len() < 2 {
			continue
		}
		switch d := in.Tensor.Data.(type) {
		case []int8:
			for i := range d {
				d[i] = int8(rng.IntN(255) - 127)
			}
		case []uint8:
			for i := range d {
				d[i] = uint8(rng.IntN(256))
			}
		case []int32:
			for i := range d {
				d[i] = int32(rng.IntN(4001) - 2000)
			}
		}
	}
}

// qdqCompare runs both models (unoptimized) on the same random inputs.
func qdqCompare(t *testing.T, base, opt *ir.Model) {
	t.Helper()
	run := func(m *ir.Model) map[string]*tensor.Tensor {
		s, err := engine.Compile(m, engine.Options{Threads: 2, Optimize: optimize.LevelNone})
		if err != nil {
			t.Fatalf("compile: %v", err)
		}
		defer s.Close()
		rng := rand.New(rand.NewPCG(1, 1))
		feeds := map[string]*tensor.Tensor{}
		for _, in := range s.Inputs() {
			shape, _ := in.Type.Shape.Static()
			v := make([]float32, tensor.NumElements(shape))
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 2)
			}
			feeds[in.Name] = tensor.FromSlice(v, shape...)
		}
		out, err := s.Run(context.Background(), feeds)
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		return out
	}
	want, got := run(base), run(opt)
	for name, w := range want {
		g := got[name]
		if g == nil || g.DType != w.DType || !tensor.EqualShapes(g.Shape, w.Shape) {
			t.Fatalf("output %q: got %v, want %v", name, g, w)
		}
		if w.DType == tensor.Float32 {
			if e := relL2(g, w); e > 1e-5 {
				t.Errorf("output %q: relative L2 error %.3g > 1e-5", name, e)
			}
			continue
		}
		gv, wv := qdqCodes(g), qdqCodes(w)
		off := 0
		for i := range wv {
			switch d := gv[i] - wv[i]; {
			case d == 0:
			case d == 1 || d == -1:
				off++
			default:
				t.Fatalf("output %q element %d: code %d, want %d", name, i, gv[i], wv[i])
			}
		}
		if float64(off) > qdqOffShare*float64(len(wv))+1 {
			t.Errorf("output %q: %d of %d codes differ by one", name, off, len(wv))
		}
	}
}

func qdqCodes(t *tensor.Tensor) []int {
	var out []int
	switch d := t.Data.(type) {
	case []int8:
		for _, v := range d {
			out = append(out, int(v))
		}
	case []uint8:
		for _, v := range d {
			out = append(out, int(v))
		}
	}
	return out
}

// qdqConvSrc is Conv (and what follows it, tail) in the QDQ form `inferd
// quantize` writes: x through a QuantizeLinear/DequantizeLinear pair, the
// weight per output channel, the bias int32 at xs·ws.
func qdqConvSrc(tail string) string {
	return `
	input x float32[2,4,9,9]
	init wq int8[6,4,3,3] rand
	init ws float32[6] = 0.011 0.013 0.017 0.019 0.023 0.029
	init wz int8[6] = 0 0 0 0 0 0
	init bq int32[6] rand
	init bs float32[6] = 0.00055 0.00065 0.00085 0.00095 0.00115 0.00145
	q = QuantizeLinear(x, xs, xz)
	d = DequantizeLinear(q, xs, xz)
	w = DequantizeLinear(wq, ws, wz) axis=0
	b = DequantizeLinear(bq, bs) axis=0
	c = Conv(d, w, b) pads=[1,1,1,1] strides=[2,1]
` + tail
}

func TestQDQConv(t *testing.T) {
	t.Run("quantize's form with relu", func(t *testing.T) {
		expectQDQ(t, qdqConvSrc(`
			cq = QuantizeLinear(c, ys, yz)
			cd = DequantizeLinear(cq, ys, yz)
			r = Relu(cd)
			y = QuantizeLinear(r, ys, yz)
			output y`), "QuantizeLinear ai.inferd.QLinearConv")
	})
	t.Run("no activation", func(t *testing.T) {
		expectQDQ(t, qdqConvSrc(`
			y = QuantizeLinear(c, ys, yz)
			output y`), "QuantizeLinear QLinearConv")
	})
	t.Run("float relu before the quantize", func(t *testing.T) {
		expectQDQ(t, qdqConvSrc(`
			r = Relu(c)
			y = QuantizeLinear(r, ys, yz)
			output y`), "QuantizeLinear ai.inferd.QLinearConv")
	})
	t.Run("clip", func(t *testing.T) {
		expectQDQ(t, qdqConvSrc(`
			init lo float32[] = -0.5
			init hi float32[] = 2.5
			r = Clip(c, lo, hi)
			y = QuantizeLinear(r, ys, yz)
			output y`), "QuantizeLinear ai.inferd.QLinearConv")
	})
	t.Run("uint8 output", func(t *testing.T) {
		expectQDQ(t, qdqConvSrc(`
			y = QuantizeLinear(c, ys, uz)
			output y`), "QuantizeLinear QLinearConv")
	})
	t.Run("relu at other parameters stays", func(t *testing.T) {
		expectQDQ(t, qdqConvSrc(`
			init ys2 float32[] = 0.1
			cq = QuantizeLinear(c, ys, yz)
			cd = DequantizeLinear(cq, ys, yz)
			r = Relu(cd)
			y = QuantizeLinear(r, ys2, yz)
			output y`), "QuantizeLinear QLinearConv DequantizeLinear Relu QuantizeLinear")
	})
	t.Run("float output stays", func(t *testing.T) {
		expectQDQ(t, qdqConvSrc(`
			output c`), "QuantizeLinear DequantizeLinear DequantizeLinear DequantizeLinear Conv")
	})
	t.Run("conv read twice stays", func(t *testing.T) {
		expectQDQ(t, qdqConvSrc(`
			y = QuantizeLinear(c, ys, yz)
			output y
			output c`), "QuantizeLinear DequantizeLinear DequantizeLinear DequantizeLinear Conv QuantizeLinear")
	})
	t.Run("scale not constant", func(t *testing.T) {
		src := strings.Replace(qdqConvSrc(`
			y = QuantizeLinear(c, s2, yz)
			output y`), "input x float32[2,4,9,9]", "input x float32[2,4,9,9]\ninput s2 float32[]", 1)
		m := parseGraph(t, qdqHeader+src)
		if _, err := optimize.Run(context.Background(), m, optimize.Options{Level: optimize.LevelExtended}); err != nil {
			t.Fatal(err)
		}
		if got, want := ops(m.Graph), "QuantizeLinear DequantizeLinear DequantizeLinear DequantizeLinear Conv QuantizeLinear"; got != want {
			t.Errorf("ops: %s, want %s", got, want)
		}
	})
	t.Run("weight scale on the wrong axis", func(t *testing.T) {
		src := strings.Replace(qdqConvSrc(`
			y = QuantizeLinear(c, ys, yz)
			output y`), "init wq int8[6,4,3,3] rand", "init wq int8[6,6,3,3] rand", 1)
		src = strings.Replace(src, "w = DequantizeLinear(wq, ws, wz) axis=0", "w = DequantizeLinear(wq, ws, wz) axis=1", 1)
		src = strings.Replace(src, "input x float32[2,4,9,9]", "input x float32[2,6,9,9]", 1)
		expectQDQ(t, src, "QuantizeLinear DequantizeLinear DequantizeLinear DequantizeLinear Conv QuantizeLinear")
	})
	t.Run("bias at another scale is requantized", func(t *testing.T) {
		src := strings.Replace(qdqConvSrc(`
			y = QuantizeLinear(c, ys, yz)
			output y`), "= 0.00055 0.00065", "= 0.0011 0.0013", 1)
		expectQDQ(t, src, "QuantizeLinear QLinearConv")
	})
}

func TestQDQAddAndMoves(t *testing.T) {
	src := `
		input a float32[2,8,6,6]
		input b float32[2,8,6,6]
		init as float32[] = 0.03
		init bs float32[] = 0.07
		qa = QuantizeLinear(a, as, xz)
		da = DequantizeLinear(qa, as, xz)
		qb = QuantizeLinear(b, bs, yz)
		db = DequantizeLinear(qb, bs, yz)
		s = Add(da, db)
		sq = QuantizeLinear(s, ys, yz)
		sd = DequantizeLinear(sq, ys, yz)
		r = Relu(sd)
		rq = QuantizeLinear(r, ys, yz)
		rd = DequantizeLinear(rq, ys, yz)
		p = MaxPool(rd) kernel_shape=[3,3] strides=[2,2] pads=[1,1,1,1]
		pq = QuantizeLinear(p, ys, yz)
		pd = DequantizeLinear(pq, ys, yz)
		init shape int64[2] = 2 -1
		f = Reshape(pd, shape)
		y = QuantizeLinear(f, ys, yz)
		output y`
	expectQDQ(t, src, "QuantizeLinear QuantizeLinear ai.inferd.QLinearAdd MaxPool Reshape")
	t.Run("parameters change: the move stays", func(t *testing.T) {
		expectQDQ(t, strings.Replace(src, "y = QuantizeLinear(f, ys, yz)", "y = QuantizeLinear(f, as, yz)", 1),
			"QuantizeLinear QuantizeLinear ai.inferd.QLinearAdd MaxPool DequantizeLinear Reshape QuantizeLinear")
	})
	t.Run("global average pool", func(t *testing.T) {
		expectQDQ(t, `
			input a float32[2,8,6,6]
			qa = QuantizeLinear(a, xs, xz)
			da = DequantizeLinear(qa, xs, xz)
			p = GlobalAveragePool(da)
			y = QuantizeLinear(p, ys, yz)
			output y`, "QuantizeLinear ai.inferd.QLinearGlobalAveragePool")
	})
}

func TestQDQMatMul(t *testing.T) {
	head := `
		input x float32[3,16]
		init wq int8[10,16] rand
		init ws float32[10] = 0.01 0.02 0.03 0.01 0.02 0.03 0.01 0.02 0.03 0.04
		init wz int8[10] = 0 0 0 0 0 0 0 0 0 0
		init bq int32[10] rand
		init bs float32[10] = 0.0005 0.001 0.0015 0.0005 0.001 0.0015 0.0005 0.001 0.0015 0.002
		q = QuantizeLinear(x, xs, xz)
		d = DequantizeLinear(q, xs, xz)
		w = DequantizeLinear(wq, ws, wz) axis=0
		b = DequantizeLinear(bq, bs) axis=0
		g = Gemm(d, w, b) transB=1
	`
	t.Run("float output", func(t *testing.T) {
		expectQDQ(t, head+"output g", "QuantizeLinear com.microsoft.MatMulIntegerToFloat")
	})
	t.Run("quantized with bias and relu", func(t *testing.T) {
		expectQDQ(t, head+`
			r = Relu(g)
			y = QuantizeLinear(r, ys, yz)
			output y`, "QuantizeLinear ai.inferd.QLinearMatMul")
	})
	t.Run("matmul without bias", func(t *testing.T) {
		expectQDQ(t, `
			input x float32[2,3,16]
			init wq int8[16,10] rand
			init ws float32[10] = 0.01 0.02 0.03 0.01 0.02 0.03 0.01 0.02 0.03 0.04
			init wz int8[10] = 0 0 0 0 0 0 0 0 0 0
			q = QuantizeLinear(x, xs, xz)
			d = DequantizeLinear(q, xs, xz)
			w = DequantizeLinear(wq, ws, wz) axis=1
			m = MatMul(d, w)
			y = QuantizeLinear(m, ys, yz)
			output y`, "QuantizeLinear QLinearMatMul")
	})
	t.Run("gemm with alpha stays", func(t *testing.T) {
		expectQDQ(t, strings.Replace(head, "transB=1", "transB=1 alpha=0.5", 1)+"output g",
			"QuantizeLinear DequantizeLinear DequantizeLinear DequantizeLinear Gemm")
	})
}

// TestQDQDynamicMatMul checks dynamic quantization's chain, as `inferd
// quantize --mode dynamic` writes it, against its float result.
func TestQDQDynamicMatMul(t *testing.T) {
	expectQDQ(t, `
		input x float32[2,5,16]
		init wq int8[16,12] rand
		init ws float32[12] = 0.01 0.02 0.03 0.01 0.02 0.03 0.01 0.02 0.03 0.04 0.05 0.06
		init bias float32[12] rand
		q, s, z = DynamicQuantizeLinear(x)
		mi = MatMulInteger(q, wq, z)
		f = Cast(mi) to=1
		sc = Mul(s, ws)
		m = Mul(f, sc)
		y = Add(bias, m)
		output y`, "DynamicQuantizeLinear com.microsoft.MatMulIntegerToFloat")
}
