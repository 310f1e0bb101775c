package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// The kernels of qgemm_fused.go against the reference kernels of the
// standard ops they replace (DequantizeLinear, Add, QuantizeLinear,
// QLinearConv, MaxPool of quant.go and pool.go) and float64 loops.

func qActAttrs(act string, params ...float32) []*ir.Attribute {
	if act == "" {
		return nil
	}
	out := []*ir.Attribute{{Name: "activation", Type: ir.AttrString, S: []byte(act)}}
	if len(params) > 0 {
		out = append(out, &ir.Attribute{Name: "activation_params", Type: ir.AttrFloats, Floats: params})
	}
	return out
}

// qRunRef runs the reference kernel of a standard op.
func qRunRef(t *testing.T, f Factory, op string, in []*tensor.Tensor, attrs ...*ir.Attribute) *tensor.Tensor {
	t.Helper()
	k, err := f(qBuild(op, len(in), nil, attrs...))
	if err != nil {
		t.Fatal(err)
	}
	out, err := k.(Kernel).Run(&Context{}, in)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return out[0]
}

// qActRef applies Relu or Clip to float32 values, as the standard ops do.
func qActRef(x *tensor.Tensor, act string, lo, hi float32) {
	for i, v := range x.Data.([]float32) {
		switch act {
		case "Relu":
			v = max(v, 0)
		case "Clip":
			v = min(max(v, lo), hi)
		}
		x.Data.([]float32)[i] = v
	}
}

// TestQLinearAdd checks QLinearAdd against DequantizeLinear → Add →
// activation → QuantizeLinear through the reference kernels: the table
// holds those values, so every output must be equal.
func TestQLinearAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		name           string
		as, bs         []int
		sa, sb, sy     bool // int8 (else uint8)
		act            string
		lo, hi         float32
		constantParams bool
	}{
		{"s8 same shape relu", []int{2, 8, 5, 5}, []int{2, 8, 5, 5}, true, true, true, "Relu", 0, 0, true},
		{"u8 same shape", []int{3, 700}, []int{3, 700}, false, false, false, "", 0, 0, true},
		{"mixed clip", []int{40000}, []int{40000}, true, false, true, "Clip", -0.3, 0.5, false},
		{"broadcast", []int{2, 3, 4}, []int{3, 1}, true, true, false, "Relu", 0, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := qRand8(rng, c.sa, c.as...), qRand8(rng, c.sb, c.bs...)
			p := []*tensor.Tensor{qScales(rng, 0.01, 0.05), qZero(rng, c.sa), qScales(rng, 0.01, 0.05), qZero(rng, c.sb),
				qScales(rng, 0.02, 0.06), qZero(rng, c.sy)}
			for _, s := range []int{0, 2, 4} {
				p[s].Shape = nil // scalars
			}
			in := []*tensor.Tensor{a, p[0], p[1], b, p[2], p[3], p[4], p[5]}
			consts := map[int]*tensor.Tensor{}
			if c.constantParams {
				for _, i := range []int{1, 2, 4, 5, 6, 7} {
					consts[i] = in[i]
				}
			}
			var attrs []*ir.Attribute
			if c.act == "Clip" {
				attrs = qActAttrs("Clip", c.lo, c.hi)
			} else {
				attrs = qActAttrs(c.act)
			}
			k, err := newQLinearAdd(qBuild("QLinearAdd", 8, consts, attrs...))
			if err != nil {
				t.Fatal(err)
			}
			pool := parallel.New(3)
			defer pool.Close()
			out, err := k.(Kernel).Run(&Context{Par: pool.For}, in)
			if err != nil {
				t.Fatal(err)
			}
			fa := qRunRef(t, newDequantizeLinear, "DequantizeLinear", []*tensor.Tensor{a, p[0], p[1]})
			fb := qRunRef(t, newDequantizeLinear, "DequantizeLinear", []*tensor.Tensor{b, p[2], p[3]})
			sum := qRunRef(t, func(b *Build) (any, error) { return Default.Build(b) }, "Add", []*tensor.Tensor{fa, fb})
			qActRef(sum, c.act, c.lo, c.hi)
			want := qRunRef(t, newQuantizeLinear, "QuantizeLinear", []*tensor.Tensor{sum, p[4], p[5]})
			qCompareExact(t, out[0], want)
		})
	}
}

func qCompareExact(t *testing.T, got, want *tensor.Tensor) {
	t.Helper()
	if got.DType != want.DType || !tensor.EqualShapes(got.Shape, want.Shape) {
		t.Fatalf("got %v %v, want %v %v", got.DType, got.Shape, want.DType, want.Shape)
	}
	g, _ := Float64s(got)
	w, _ := Float64s(want)
	for i := range w {
		if g[i] != w[i] && !(math.IsNaN(g[i]) && math.IsNaN(w[i])) {
			t.Fatalf("element %d = %v, want %v", i, g[i], w[i])
		}
	}
}

// TestQFusedConv checks ai.inferd.QLinearConv with an activation against
// the reference QLinearConv followed by the activation on the codes
// (Relu: max(y, y_zero_point); Clip: clamped to the codes of its bounds),
// and its reference path against the fast one.
func TestQFusedConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, act := range []struct {
		name   string
		lo, hi float32
	}{{"Relu", 0, 0}, {"Clip", -0.5, 1.5}} {
		for _, signed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/int8=%v", act.name, signed), func(t *testing.T) {
				x := qRand8(rng, signed, 1, 6, 9, 9)
				w := qRand8(rng, true, 8, 6, 3, 3)
				xs, ys := qScales(rng, 0.01, 0.02), qScales(rng, 0.05, 0.1)
				xs.Shape, ys.Shape = nil, nil
				xz, yz := qZero(rng, signed), qZero(rng, signed)
				in := []*tensor.Tensor{x, xs, xz, w, qScales(rng, 0.001, 0.003, 8), tensor.FromSlice(make([]int8, 8), 8), ys, yz,
					tensor.FromSlice([]int32{100, -200, 300, 0, 5, -5, 1000, -1000}, 8)}
				attrs := []*ir.Attribute{nnAttrInts("pads", 1, 1, 1, 1), nnAttrInts("strides", 2, 1)}
				params := []float32(nil)
				if act.name == "Clip" {
					params = []float32{act.lo, act.hi}
				}
				all := append(append([]*ir.Attribute{}, attrs...), qActAttrs(act.name, params...)...)
				k, err := newQFusedConv(qBuild("QLinearConv", 9, map[int]*tensor.Tensor{3: in[3], 4: in[4], 5: in[5]}, all...))
				if err != nil {
					t.Fatal(err)
				}
				c := &Context{}
				got := k.(qFast).fast(c, in)
				if got == nil {
					t.Fatal("the fast kernel declined")
				}
				want := qRunRef(t, newQLinearConv, "QLinearConv", in, attrs...)
				zy := float64(qZeroValue(yz))
				lo, hi, _ := linalgQRange(yz.DType)
				qlo, qhi := zy, hi
				if act.name == "Clip" {
					q := func(v float32) float64 {
						return min(hi, max(lo, math.RoundToEven(float64(v/ys.Data.([]float32)[0]))+zy))
					}
					qlo, qhi = q(act.lo), q(act.hi)
				}
				wv, _ := Float64s(want)
				for i, v := range wv {
					wv[i] = min(qhi, max(qlo, v))
				}
				wt, _ := FromFloat64s(want.DType, want.Shape, wv)
				qCompare(t, "fast", got, wt)
				// The reference path (a run-time weight) applies the
				// activation too.
				kr, err := newQFusedConv(qBuild("QLinearConv", 9, nil, all...))
				if err != nil {
					t.Fatal(err)
				}
				ref := kr.(*qConv)
				out, err := ref.ref.Run(c, in)
				if err != nil {
					t.Fatal(err)
				}
				ref.act.clampCodes(out[0], ys.Data.([]float32)[0], int32(zy))
				qCompareExact(t, out[0], wt)
			})
		}
	}
}

func qZeroValue(z *tensor.Tensor) int32 {
	v, _ := q8Zeros(z, z.DType, 1)
	return v[0]
}

// TestQFusedMatMul checks ai.inferd.QLinearMatMul (int32 bias, Relu) on
// the GEMM against a float64 loop over the same integers.
func TestQFusedMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, act := range []string{"", "Relu"} {
		m, k, n := 13, 40, 21
		a, b := qRand8(rng, true, 1, m, k), qRand8(rng, true, k, n)
		as, ys := qScales(rng, 0.01, 0.02), qScales(rng, 0.2, 0.3)
		as.Shape, ys.Shape = nil, nil
		az, yz := qZero(rng, true), qZero(rng, true)
		bs, bz := qScales(rng, 0.001, 0.003, n), tensor.FromSlice(make([]int8, n), n)
		bias := make([]int32, n)
		for j := range bias {
			bias[j] = int32(rng.IntN(4001) - 2000)
		}
		in := []*tensor.Tensor{a, as, az, b, bs, bz, ys, yz, tensor.FromSlice(bias, n)}
		kk, err := newQFusedMatMul(qBuild("QLinearMatMul", 9, map[int]*tensor.Tensor{3: b, 4: bs, 5: bz}, qActAttrs(act)...))
		if err != nil {
			t.Fatal(err)
		}
		got := kk.(qFast).fast(&Context{}, in)
		if got == nil {
			t.Fatal("the fast kernel declined")
		}
		want := tensor.New(tensor.Int8, 1, m, n)
		av, bv := a.Data.([]int8), b.Data.([]int8)
		za := float64(qZeroValue(az))
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				s := float64(bias[j])
				for p := 0; p < k; p++ {
					s += (float64(av[i*k+p]) - za) * float64(bv[p*n+j])
				}
				v := s * float64(as.Data.([]float32)[0]) * float64(bs.Data.([]float32)[j])
				if act == "Relu" {
					v = max(v, 0)
				}
				q := math.RoundToEven(v/float64(ys.Data.([]float32)[0])) + float64(qZeroValue(yz))
				want.Data.([]int8)[i*n+j] = int8(min(127, max(-128, q)))
			}
		}
		qCompare(t, "fast "+act, got, want)
		ref, err := qLinearMatMulBiasRef(&Context{}, in)
		if err != nil {
			t.Fatal(err)
		}
		if act == "Relu" {
			kk.(*qMatMul).act.clampCodes(ref[0], ys.Data.([]float32)[0], qZeroValue(yz))
		}
		qCompare(t, "reference "+act, ref[0], want)
	}
}

// TestQQuantizeFast checks the fast QuantizeLinear, DequantizeLinear and
// DynamicQuantizeLinear against the reference kernels: equal outputs.
func TestQQuantizeFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := qScales(rng, -3, 5, 3, 50001)
	xv := x.Data.([]float32)
	xv[0], xv[1], xv[2] = 1e30, -1e30, 0.5 // saturation and a tie
	for _, signed := range []bool{false, true} {
		s := tensor.Scalar(float32(0.25))
		z := qZero(rng, signed)
		z.Shape = nil
		in := []*tensor.Tensor{x, s, z}
		for _, f := range []struct {
			op        string
			fast, ref Factory
			in        []*tensor.Tensor
		}{
			{"QuantizeLinear", newQQuantizeFast, newQuantizeLinear, in},
		} {
			got := qRunRef(t, f.fast, f.op, f.in)
			want := qRunRef(t, f.ref, f.op, f.in)
			qCompareExact(t, got, want)
			// and back
			dq := []*tensor.Tensor{got, s, z}
			qCompareExact(t, qRunRef(t, newQDequantizeFast, "DequantizeLinear", dq), qRunRef(t, newDequantizeLinear, "DequantizeLinear", dq))
		}
	}
	xv[0], xv[1] = 3, -2
	k, _ := newQDynamicQuantizeFast(qBuild("DynamicQuantizeLinear", 1, nil))
	got, err := k.(Kernel).Run(&Context{}, []*tensor.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := newDynamicQuantizeLinear(qBuild("DynamicQuantizeLinear", 1, nil))
	want, _ := r.(Kernel).Run(&Context{}, []*tensor.Tensor{x})
	for i := range want {
		qCompareExact(t, got[i], want[i])
	}
}

// TestQMaxPool8 checks the 8-bit MaxPool against the standard kernel.
func TestQMaxPool8(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, signed := range []bool{false, true} {
		for _, attrs := range [][]*ir.Attribute{
			{nnAttrInts("kernel_shape", 3, 3), nnAttrInts("strides", 2, 2), nnAttrInts("pads", 1, 1, 1, 1)},
			{nnAttrInts("kernel_shape", 2, 3), nnAttrInts("strides", 1, 2), nnAttrInt("ceil_mode", 1)},
			{nnAttrInts("kernel_shape", 5, 5), nnAttrInts("pads", 4, 4, 4, 4)},
			// Window 3 at column stride 2 runs q8's vector kernels; 37
			// columns stay under one AVX-512 block, the wide ones below
			// do not.
			{nnAttrInts("kernel_shape", 2, 3), nnAttrInts("strides", 3, 2), nnAttrInts("pads", 0, 2, 1, 0)},
		} {
			x := qRand8(rng, signed, 2, 3, 11, 37)
			b := qBuild("MaxPool", 1, nil, attrs...)
			got := qRunRef(t, newQMaxPool8, "MaxPool", []*tensor.Tensor{x}, attrs...)
			k, _ := newMaxPool(b)
			want, err := k.(Kernel).Run(&Context{}, []*tensor.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			qCompareExact(t, got, want[0])
		}
		for _, c := range []struct {
			w     int
			attrs []*ir.Attribute
		}{
			{112, []*ir.Attribute{nnAttrInts("kernel_shape", 3, 3), nnAttrInts("strides", 2, 2), nnAttrInts("pads", 1, 1, 1, 1)}},
			{131, []*ir.Attribute{nnAttrInts("kernel_shape", 3, 3), nnAttrInts("strides", 2, 2), nnAttrInt("ceil_mode", 1)}},
			{200, []*ir.Attribute{nnAttrInts("kernel_shape", 1, 3), nnAttrInts("strides", 1, 2), nnAttrInts("pads", 0, 2, 0, 1)}},
			{64, []*ir.Attribute{nnAttrInts("kernel_shape", 4, 3), nnAttrInts("strides", 2, 2), nnAttrInts("pads", 2, 0, 2, 0)}},
		} {
			x := qRand8(rng, signed, 1, 3, 9, c.w)
			attrs := c.attrs
			b := qBuild("MaxPool", 1, nil, attrs...)
			got := qRunRef(t, newQMaxPool8, "MaxPool", []*tensor.Tensor{x}, attrs...)
			k, _ := newMaxPool(b)
			want, err := k.(Kernel).Run(&Context{}, []*tensor.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			qCompareExact(t, got, want[0])
		}
	}
}

// TestQLinearGlobalAveragePool checks the pool against a float64 loop of
// DequantizeLinear, mean and QuantizeLinear (within one code).
func TestQLinearGlobalAveragePool(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	x := qRand8(rng, true, 2, 5, 7, 7)
	xs, ys := tensor.Scalar(float32(0.03)), tensor.Scalar(float32(0.01))
	xz, yz := tensor.Scalar(int8(-3)), tensor.Scalar(int8(4))
	k, _ := newQLinearGlobalAveragePool(qBuild("QLinearGlobalAveragePool", 5, nil))
	out, err := k.(Kernel).Run(&Context{}, []*tensor.Tensor{x, xs, xz, ys, yz})
	if err != nil {
		t.Fatal(err)
	}
	want := tensor.New(tensor.Int8, 2, 5, 1, 1)
	xv := x.Data.([]int8)
	for p := 0; p < 10; p++ {
		var s float64
		for _, v := range xv[p*49 : (p+1)*49] {
			s += (float64(v) + 3) * 0.03
		}
		want.Data.([]int8)[p] = int8(min(127, max(-128, math.RoundToEven(s/49/0.01)+4)))
	}
	qCompare(t, "pool", out[0], want)
}

// BenchmarkQElementwise times the 8-bit elementwise kernels on ResNet-50
// sizes:
//
//	go test -run '^$' -bench 'QElementwise' -count 6 ./kernels
func BenchmarkQElementwise(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x8 := qRand8(rng, true, 1, 256, 56, 56)
	y8 := qRand8(rng, true, 1, 256, 56, 56)
	s, z := tensor.Scalar(float32(0.05)), tensor.Scalar(int8(0))
	pool8 := qRand8(rng, true, 1, 64, 112, 112)
	xf := qScales(rng, -2, 2, 1, 3, 224, 224)
	xd := qScales(rng, -2, 3, 1, 128, 1536)
	cases := []struct {
		name string
		f    Factory
		in   []*tensor.Tensor
		n    int
		attr []*ir.Attribute
	}{
		{"QLinearAdd/802816", newQLinearAdd, []*tensor.Tensor{x8, s, z, y8, s, z, s, z}, x8.Len(), qActAttrs("Relu")},
		{"MaxPool8/64x112x112", newQMaxPool8, []*tensor.Tensor{pool8}, pool8.Len(),
			[]*ir.Attribute{nnAttrInts("kernel_shape", 3, 3), nnAttrInts("strides", 2, 2), nnAttrInts("pads", 1, 1, 1, 1)}},
		{"QuantizeLinear/150528", newQQuantizeFast, []*tensor.Tensor{xf, s, z}, xf.Len(), nil},
		{"DequantizeLinear/802816", newQDequantizeFast, []*tensor.Tensor{x8, s, z}, x8.Len(), nil},
		{"DynamicQuantizeLinear/196608", newQDynamicQuantizeFast, []*tensor.Tensor{xd}, xd.Len(), nil},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			consts := map[int]*tensor.Tensor{}
			for i, t := range c.in {
				if t.Len() == 1 {
					consts[i] = t
				}
			}
			k, err := c.f(qBuild("op", len(c.in), consts, c.attr...))
			if err != nil {
				b.Fatal(err)
			}
			ctx := &Context{}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.(Kernel).Run(ctx, c.in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.n), "ns/elem")
		})
	}
}
