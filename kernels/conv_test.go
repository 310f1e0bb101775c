package kernels

import (
	"math"
	"math/rand"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/tensor"
)

// nnConvNaive is a direct definition of convolution used to check the
// im2col+GEMM path on random inputs (2-D only, float64).
func nnConvNaive(x []float64, xs []int, w []float64, ws []int, b []float64, group int, s, d, pb []int, out []int) []float64 {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	m, cg, kh, kw := ws[0], ws[1], ws[2], ws[3]
	mg := m / group
	y := make([]float64, n*m*out[0]*out[1])
	for in := 0; in < n; in++ {
		for om := 0; om < m; om++ {
			g := om / mg
			for oh := 0; oh < out[0]; oh++ {
				for ow := 0; ow < out[1]; ow++ {
					acc := 0.0
					if b != nil {
						acc = b[om]
					}
					for ic := 0; ic < cg; ic++ {
						for i := 0; i < kh; i++ {
							for j := 0; j < kw; j++ {
								ih := oh*s[0] - pb[0] + i*d[0]
								iw := ow*s[1] - pb[1] + j*d[1]
								if ih < 0 || ih >= h || iw < 0 || iw >= wd {
									continue
								}
								acc += x[((in*c+g*cg+ic)*h+ih)*wd+iw] * w[((om*cg+ic)*kh+i)*kw+j]
							}
						}
					}
					y[((in*m+om)*out[0]+oh)*out[1]+ow] = acc
				}
			}
		}
	}
	_ = c
	return y
}

func TestConvBasic(t *testing.T) {
	// 5x5 input 0..24, 3x3 ones kernel: each output is the sum of a window.
	x := nnF32([]int{1, 1, 5, 5}, nnSeq(25)...)
	w := nnF32([]int{1, 1, 3, 3}, 1, 1, 1, 1, 1, 1, 1, 1, 1)
	out := nnRun(t, "Conv", 11, []*tensor.Tensor{x, w}, 1, nnAttrInts("kernel_shape", 3, 3))
	nnCheck(t, out[0], []int{1, 1, 3, 3}, []float64{54, 63, 72, 99, 108, 117, 144, 153, 162}, 1e-6)

	// pads 1 on every side: the corner sums 0+1+5+6 = 12.
	out = nnRun(t, "Conv", 11, []*tensor.Tensor{x, w}, 1, nnAttrInts("pads", 1, 1, 1, 1))
	nnCheck(t, out[0], []int{1, 1, 5, 5}, []float64{
		12, 21, 27, 33, 24,
		33, 54, 63, 72, 51,
		63, 99, 108, 117, 81,
		93, 144, 153, 162, 111,
		72, 111, 117, 123, 84}, 1e-6)

	// strides 2, pads 1, with bias 10.
	bias := nnF32([]int{1}, 10)
	out = nnRun(t, "Conv", 11, []*tensor.Tensor{x, w, bias}, 1, nnAttrInts("pads", 1, 1, 1, 1), nnAttrInts("strides", 2, 2))
	nnCheck(t, out[0], []int{1, 1, 3, 3}, []float64{22, 37, 34, 73, 118, 91, 82, 127, 94}, 1e-6)

	// Asymmetric pads [1,0,1,0] with strides 2 (ONNX example): 4x2 output.
	x75 := nnF32([]int{1, 1, 7, 5}, nnSeq(35)...)
	out = nnRun(t, "Conv", 11, []*tensor.Tensor{x75, w}, 1, nnAttrInts("pads", 1, 0, 1, 0), nnAttrInts("strides", 2, 2))
	nnCheck(t, out[0], []int{1, 1, 4, 2}, []float64{21, 33, 99, 117, 189, 207, 171, 183}, 1e-6)
}

func TestConvAutoPad(t *testing.T) {
	x := nnF32([]int{1, 1, 5, 5}, nnSeq(25)...)
	w := nnF32([]int{1, 1, 3, 3}, 1, 1, 1, 1, 1, 1, 1, 1, 1)
	// SAME_LOWER with strides 2: out 3x3, total pad 2 → 1 each side; same as pads 1.
	out := nnRun(t, "Conv", 11, []*tensor.Tensor{x, w}, 1, nnAttrString("auto_pad", "SAME_LOWER"), nnAttrInts("strides", 2, 2))
	nnCheck(t, out[0], []int{1, 1, 3, 3}, []float64{12, 27, 24, 63, 108, 81, 72, 117, 84}, 1e-6)
	// 1-D: x = 0..3, kernel [1 1], SAME_UPPER stride 1: pad 0 before, 1 after.
	x1 := nnF32([]int{1, 1, 4}, 0, 1, 2, 3)
	w1 := nnF32([]int{1, 1, 2}, 1, 1)
	out = nnRun(t, "Conv", 11, []*tensor.Tensor{x1, w1}, 1, nnAttrString("auto_pad", "SAME_UPPER"))
	nnCheck(t, out[0], []int{1, 1, 4}, []float64{1, 3, 5, 3}, 1e-6)
	out = nnRun(t, "Conv", 11, []*tensor.Tensor{x1, w1}, 1, nnAttrString("auto_pad", "SAME_LOWER"))
	nnCheck(t, out[0], []int{1, 1, 4}, []float64{0, 1, 3, 5}, 1e-6)
	out = nnRun(t, "Conv", 11, []*tensor.Tensor{x1, w1}, 1, nnAttrString("auto_pad", "VALID"), nnAttrInts("pads", 5, 5))
	nnCheck(t, out[0], []int{1, 1, 3}, []float64{1, 3, 5}, 1e-6)
}

func TestConvDilationGroups3D(t *testing.T) {
	// Dilation 2 on 1-D: x 0..5, kernel [1, 1] → x[i] + x[i+2].
	x1 := nnF32([]int{1, 1, 6}, nnSeq(6)...)
	w1 := nnF32([]int{1, 1, 2}, 1, 1)
	out := nnRun(t, "Conv", 11, []*tensor.Tensor{x1, w1}, 1, nnAttrInts("dilations", 2))
	nnCheck(t, out[0], []int{1, 1, 4}, []float64{2, 4, 6, 8}, 1e-6)

	// Depthwise, 2 channels, group 2: channel 0 scaled by 1, channel 1 by -2.
	x := nnF32([]int{1, 2, 1, 3}, 1, 2, 3, 4, 5, 6)
	w := nnF32([]int{2, 1, 1, 1}, 1, -2)
	out = nnRun(t, "Conv", 11, []*tensor.Tensor{x, w}, 1, nnAttrInt("group", 2))
	nnCheck(t, out[0], []int{1, 2, 1, 3}, []float64{1, 2, 3, -8, -10, -12}, 1e-6)

	// 3-D: 2x2x2 all ones input, 2x2x2 kernel of 1..8: one output = 36.
	x3 := nnF32([]int{1, 1, 2, 2, 2}, 1, 1, 1, 1, 1, 1, 1, 1)
	w3 := nnF32([]int{1, 1, 2, 2, 2}, 1, 2, 3, 4, 5, 6, 7, 8)
	out = nnRun(t, "Conv", 11, []*tensor.Tensor{x3, w3}, 1)
	nnCheck(t, out[0], []int{1, 1, 1, 1, 1}, []float64{36}, 1e-6)
	// With pads 1 at the end of the last axis only: second output sees w[...,0] taps: 1+3+5+7 = 16.
	out = nnRun(t, "Conv", 11, []*tensor.Tensor{x3, w3}, 1, nnAttrInts("pads", 0, 0, 0, 0, 0, 1))
	nnCheck(t, out[0], []int{1, 1, 1, 1, 2}, []float64{36, 16}, 1e-6)
}

func TestConvRandomAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	type tc struct {
		n, c, h, w, m, kh, kw, group int
		s, d, pb, pe                 []int
	}
	cases := []tc{
		{1, 3, 9, 11, 5, 3, 3, 1, []int{1, 1}, []int{1, 1}, []int{1, 1}, []int{1, 1}},
		{2, 4, 8, 8, 6, 3, 2, 2, []int{2, 1}, []int{1, 2}, []int{0, 2}, []int{1, 0}},
		{1, 8, 5, 7, 8, 3, 3, 8, []int{1, 2}, []int{2, 1}, []int{2, 1}, []int{2, 1}},
		{3, 6, 6, 6, 9, 1, 1, 3, []int{1, 1}, []int{1, 1}, []int{0, 0}, []int{0, 0}},
		{1, 37, 20, 19, 70, 3, 3, 1, []int{1, 1}, []int{1, 1}, []int{1, 1}, []int{1, 1}},
		{1, 16, 4, 300, 40, 1, 1, 1, []int{1, 1}, []int{1, 1}, []int{0, 0}, []int{0, 0}},
		{1, 3, 17, 17, 4, 7, 7, 1, []int{2, 2}, []int{1, 1}, []int{3, 3}, []int{3, 3}},
		{2, 5, 13, 10, 7, 5, 3, 1, []int{1, 1}, []int{1, 1}, []int{2, 1}, []int{2, 1}},    // "same" padding
		{1, 4, 9, 9, 6, 3, 3, 1, []int{1, 1}, []int{2, 2}, []int{2, 2}, []int{2, 2}},      // dilated "same"
		{1, 6, 12, 12, 10, 1, 1, 1, []int{2, 2}, []int{1, 1}, []int{0, 0}, []int{0, 0}},   // strided 1×1
		{1, 6, 7, 9, 6, 3, 3, 6, []int{2, 2}, []int{1, 1}, []int{1, 1}, []int{1, 1}},      // depthwise stride 2
		{2, 4, 6, 6, 8, 3, 3, 4, []int{1, 1}, []int{1, 1}, []int{1, 1}, []int{1, 1}},      // depthwise, multiplier 2
		{1, 3, 11, 8, 5, 3, 3, 1, []int{1, 1}, []int{1, 1}, []int{0, 1}, []int{2, 1}},     // uneven padding
		{1, 3, 6, 70, 3, 3, 3, 3, []int{1, 1}, []int{1, 1}, []int{1, 1}, []int{1, 1}},     // wide depthwise
		{1, 2, 9, 75, 4, 3, 3, 2, []int{2, 2}, []int{1, 1}, []int{1, 1}, []int{1, 1}},     // wide depthwise, stride 2
		{1, 2, 7, 81, 2, 5, 5, 2, []int{1, 2}, []int{1, 2}, []int{2, 3}, []int{1, 0}},     // wide depthwise, uneven
		{2, 12, 7, 7, 40, 3, 3, 1, []int{1, 1}, []int{1, 1}, []int{1, 1}, []int{1, 1}},    // NHWC orientation
		{1, 24, 7, 7, 32, 1, 1, 1, []int{1, 1}, []int{1, 1}, []int{0, 0}, []int{0, 0}},    // NHWC, 1×1
		{1, 8, 9, 11, 33, 3, 3, 1, []int{2, 2}, []int{1, 1}, []int{1, 0}, []int{0, 1}},    // NHWC, strided
		{1, 16, 10, 12, 520, 1, 1, 1, []int{1, 1}, []int{1, 1}, []int{0, 0}, []int{0, 0}}, // NHWC, 1×1 to many channels
		{1, 6, 24, 22, 9, 3, 3, 1, []int{2, 2}, []int{1, 1}, []int{1, 1}, []int{1, 1}},    // phase split, implicit GEMM
		{2, 4, 23, 21, 6, 3, 3, 2, []int{2, 2}, []int{1, 1}, []int{1, 0}, []int{0, 1}},    // phase split, groups, uneven
		{1, 5, 19, 20, 7, 3, 3, 1, []int{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}},    // phase split, stride 3
		{1, 3, 20, 18, 5, 5, 3, 1, []int{2, 2}, []int{2, 1}, []int{3, 0}, []int{1, 2}},    // phase split, dilated
		{1, 4, 8, 9, 3, 2, 2, 1, []int{2, 2}, []int{1, 1}, []int{0, 0}, []int{0, 0}},      // phase split, one phase per tap
		{1, 10, 14, 14, 520, 1, 1, 1, []int{2, 2}, []int{1, 1}, []int{0, 0}, []int{0, 0}}, // phase split 1×1, NHWC
		{1, 16, 14, 13, 40, 3, 3, 1, []int{2, 2}, []int{1, 1}, []int{1, 1}, []int{1, 1}},  // phase split, NHWC
	}
	for ci, cs := range cases {
		xs := []int{cs.n, cs.c, cs.h, cs.w}
		ws := []int{cs.m, cs.c / cs.group, cs.kh, cs.kw}
		xv := make([]float64, nnProd(xs))
		wv := make([]float64, nnProd(ws))
		bv := make([]float64, cs.m)
		for i := range xv {
			xv[i] = rng.Float64()*2 - 1
		}
		for i := range wv {
			wv[i] = rng.Float64()*2 - 1
		}
		for i := range bv {
			bv[i] = rng.Float64()
		}
		out := []int{
			(cs.h+cs.pb[0]+cs.pe[0]-(cs.kh-1)*cs.d[0]-1)/cs.s[0] + 1,
			(cs.w+cs.pb[1]+cs.pe[1]-(cs.kw-1)*cs.d[1]-1)/cs.s[1] + 1,
		}
		want := nnConvNaive(xv, xs, wv, ws, bv, cs.group, cs.s, cs.d, cs.pb, out)
		attrs := []any{}
		_ = attrs
		k, err := nnBuild(t, "Conv", 11, 3, 1,
			nnAttrInts("strides", int64(cs.s[0]), int64(cs.s[1])),
			nnAttrInts("dilations", int64(cs.d[0]), int64(cs.d[1])),
			nnAttrInts("pads", int64(cs.pb[0]), int64(cs.pb[1]), int64(cs.pe[0]), int64(cs.pe[1])),
			nnAttrInt("group", int64(cs.group)))
		if err != nil {
			t.Fatal(err)
		}
		for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32, tensor.Float16} {
			xt, _ := FromFloat64s(dt, xs, xv)
			wt, _ := FromFloat64s(dt, ws, wv)
			bt, _ := FromFloat64s(dt, []int{cs.m}, bv)
			// With W and B as initializers too (float32 packs the
			// filter when the kernel is built).
			kc, err := nnBuildConst(t, "Conv", 11, 3, 1, []*tensor.Tensor{nil, wt, bt},
				nnAttrInts("strides", int64(cs.s[0]), int64(cs.s[1])),
				nnAttrInts("dilations", int64(cs.d[0]), int64(cs.d[1])),
				nnAttrInts("pads", int64(cs.pb[0]), int64(cs.pb[1]), int64(cs.pe[0]), int64(cs.pe[1])),
				nnAttrInt("group", int64(cs.group)))
			if err != nil {
				t.Fatal(err)
			}
			for ri, ctx := range []*Context{{}, nnParContext(), {}} {
				kr := k
				if ri == 2 {
					kr = kc
				}
				res, err := kr.Run(ctx, []*tensor.Tensor{xt, wt, bt})
				if err != nil {
					t.Fatalf("case %d %v: %v", ci, dt, err)
				}
				tol := 1e-9
				switch dt {
				case tensor.Float32:
					tol = 1e-4
				case tensor.Float16:
					tol = 3e-2
				}
				if dt == tensor.Float16 {
					// Inputs were rounded to float16: recompute the reference on them.
					xr, _ := Float64s(xt)
					wr, _ := Float64s(wt)
					br, _ := Float64s(bt)
					nnCheck(t, res[0], []int{cs.n, cs.m, out[0], out[1]}, nnConvNaive(xr, xs, wr, ws, br, cs.group, cs.s, cs.d, cs.pb, out), tol)
					continue
				}
				nnCheck(t, res[0], []int{cs.n, cs.m, out[0], out[1]}, want, tol)
			}
		}
	}
}

// TestConvBlocks reruns the random cases with the column matrix split into
// the smallest blocks, so that blocks start and end inside output rows.
func TestConvBlocks(t *testing.T) {
	defer func(v int) { nnColBytes = v }(nnColBytes)
	nnColBytes = 1
	TestConvRandomAgainstNaive(t)
}

func TestConvErrors(t *testing.T) {
	x := nnF32([]int{1, 2, 4, 4}, make([]float32, 32)...)
	w := nnF32([]int{1, 3, 3, 3}, make([]float32, 27)...)
	if err := nnRunErr(t, "Conv", 11, []*tensor.Tensor{x, w}, 1); err == nil {
		t.Fatal("channel mismatch accepted")
	}
	w = nnF32([]int{1, 2, 3, 3}, make([]float32, 18)...)
	if err := nnRunErr(t, "Conv", 11, []*tensor.Tensor{x, w}, 1, nnAttrInts("strides", 1)); err == nil {
		t.Fatal("wrong strides length accepted")
	}
	if err := nnRunErr(t, "Conv", 11, []*tensor.Tensor{x, w}, 1, nnAttrString("auto_pad", "FOO")); err == nil {
		t.Fatal("bad auto_pad accepted")
	}
	if err := nnRunErr(t, "Conv", 11, []*tensor.Tensor{x, w}, 1, nnAttrInt("group", 0)); err == nil {
		t.Fatal("group 0 accepted")
	}
	w5 := nnF32([]int{1, 2, 5, 5}, make([]float32, 50)...)
	if err := nnRunErr(t, "Conv", 11, []*tensor.Tensor{x, w5}, 1); err == nil {
		t.Fatal("kernel larger than input accepted")
	}
}

func BenchmarkConvResNet3x3(b *testing.B) {
	// A ResNet-50 stage-2 3x3 conv: 64→64 channels on 56x56.
	x := tensor.New(tensor.Float32, 1, 64, 56, 56)
	w := tensor.New(tensor.Float32, 64, 64, 3, 3)
	for i, xs := 0, x.Data.([]float32); i < len(xs); i++ {
		xs[i] = float32(i%7) * 0.1
	}
	for i, ws := 0, w.Data.([]float32); i < len(ws); i++ {
		ws[i] = float32(i%5) * 0.01
	}
	n := newConvForBench(b)
	ctx := &Context{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := n.Run(ctx, []*tensor.Tensor{x, w}); err != nil {
			b.Fatal(err)
		}
	}
	flops := 2.0 * 64 * 64 * 9 * 56 * 56
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

func newConvForBench(b *testing.B) Kernel {
	k, err := nnBuild(b, "Conv", 11, 2, 1, nnAttrInts("pads", 1, 1, 1, 1))
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// TestConvEpilogue checks the fused epilogue of the float32 convolution
// (residual, then activation) on the GEMM, 1×1 and depthwise paths, serial
// and parallel.
func TestConvEpilogue(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	type tc struct{ n, c, h, w, m, k, s, p, group int }
	cases := []tc{
		{2, 5, 9, 8, 7, 3, 1, 1, 1},    // im2col GEMM
		{1, 6, 6, 5, 10, 1, 1, 0, 1},   // 1×1, X read in place
		{1, 8, 10, 9, 8, 3, 2, 1, 8},   // depthwise, dwconv
		{2, 4, 7, 7, 8, 3, 1, 1, 4},    // depthwise, multiplier 2
		{1, 4, 3, 3, 4, 5, 1, 2, 4},    // depthwise, no interior
		{1, 3, 5, 40, 3, 3, 1, 1, 3},   // depthwise, wide
		{2, 12, 7, 7, 40, 3, 1, 1, 1},  // NHWC orientation
		{1, 24, 5, 5, 32, 1, 1, 0, 1},  // NHWC, 1×1
		{2, 6, 17, 17, 9, 3, 2, 1, 1},  // phase split
		{1, 7, 12, 12, 5, 1, 2, 0, 1},  // phase split, 1×1
		{1, 8, 13, 13, 40, 3, 2, 1, 1}, // phase split, NHWC
	}
	eps := []nnConvEpilogue{
		{},
		{act: gemm.ActRelu},
		{act: gemm.ActClip, min: -0.25, max: 0.5},
		{act: gemm.ActLeakyRelu, alpha: 0.1},
	}
	for ci, cs := range cases {
		xs := []int{cs.n, cs.c, cs.h, cs.w}
		ws := []int{cs.m, cs.c / cs.group, cs.k, cs.k}
		rnd := func(n int) ([]float64, []float32) {
			v := make([]float64, n)
			f := make([]float32, n)
			for i := range v {
				f[i] = float32(rng.Float64()*2 - 1)
				v[i] = float64(f[i])
			}
			return v, f
		}
		xv, xf := rnd(nnProd(xs))
		wv, wf := rnd(nnProd(ws))
		bv, bf := rnd(cs.m)
		w := nnWindow{autoPad: "NOTSET", strides: []int{cs.s, cs.s}, pads: []int{cs.p, cs.p, cs.p, cs.p}}
		p, err := nnConvSetup(&w, cs.group, xs, ws)
		if err != nil {
			t.Fatal(err)
		}
		out := p.g.out
		base := nnConvNaive(xv, xs, wv, ws, bv, cs.group, []int{cs.s, cs.s}, []int{1, 1}, []int{cs.p, cs.p}, out)
		rv, rf := rnd(len(base))
		packed := nnPackFilter(wf, ws, cs.group)
		for ei, ep := range eps {
			for _, withRes := range []bool{false, true} {
				want := make([]float64, len(base))
				for i, v := range base {
					if withRes {
						v += rv[i]
					}
					switch ep.act {
					case gemm.ActRelu:
						v = max(v, 0)
					case gemm.ActClip:
						v = min(max(v, float64(ep.min)), float64(ep.max))
					case gemm.ActLeakyRelu:
						if v < 0 {
							v *= float64(ep.alpha)
						}
					}
					want[i] = v
				}
				e := ep
				if withRes {
					e.residual = rf
				}
				for _, ctx := range []*Context{{}, nnParContext()} {
					y := make([]float32, len(base))
					for i := range y {
						y[i] = float32(math.NaN())
					}
					nnConvF32(ctx, p, xf, wf, packed, nil, bf, y, &e)
					nnCheck(t, tensor.FromSlice(y, p.outShape...), p.outShape, want, 1e-4)
					if t.Failed() {
						t.Fatalf("case %d epilogue %d residual %v", ci, ei, withRes)
					}
				}
			}
		}
	}
}

// TestFusedConvFast runs the fast FusedConv (filter packed at build) on
// the GEMM, 1×1 and depthwise paths with a kernel-form and a Go-form
// activation and a residual, against Conv, Add and the activation's op.
func TestFusedConvFast(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	rnd := func(shape ...int) *tensor.Tensor {
		v := make([]float32, nnProd(shape))
		for i := range v {
			v[i] = float32(rng.Float64()*2 - 1)
		}
		return tensor.FromSlice(v, shape...)
	}
	type tc struct{ c, h, m, k, s, group int }
	for _, cs := range []tc{{5, 9, 7, 3, 1, 1}, {6, 6, 10, 1, 1, 1}, {8, 10, 8, 3, 2, 8}, {16, 40, 16, 3, 1, 16}} {
		x, w, b := rnd(2, cs.c, cs.h, cs.h), rnd(cs.m, cs.c/cs.group, cs.k, cs.k), rnd(cs.m)
		pad := int64(cs.k / 2)
		attrs := []*ir.Attribute{nnAttrInts("pads", pad, pad, pad, pad), nnAttrInts("strides", int64(cs.s), int64(cs.s)), nnAttrInt("group", int64(cs.group))}
		conv := nnRun(t, "Conv", 11, []*tensor.Tensor{x, w, b}, 1, attrs...)[0]
		z := rnd(conv.Shape...)
		sum := nnRun(t, "Add", 14, []*tensor.Tensor{conv, z}, 1)[0]
		for _, act := range []string{"Clip", "HardSwish"} {
			var want *tensor.Tensor
			fattrs := append(append([]*ir.Attribute(nil), attrs...), &ir.Attribute{Name: "activation", Type: ir.AttrString, S: []byte(act)})
			if act == "Clip" {
				fattrs = append(fattrs, &ir.Attribute{Name: "activation_params", Type: ir.AttrFloats, Floats: []float32{-0.5, 0.5}})
				want = nnRun(t, "Clip", 13, []*tensor.Tensor{sum, tensor.Scalar(float32(-0.5)), tensor.Scalar(float32(0.5))}, 1)[0]
			} else {
				want = nnRun(t, "HardSwish", 14, []*tensor.Tensor{sum}, 1)[0]
			}
			n := &ir.Node{Name: "f", OpType: "FusedConv", Domain: ir.DomainInferd, Attrs: fattrs,
				Inputs: []string{"x", "w", "b", "z"}, Outputs: []string{"y"}}
			k, err := Default.Build(&Build{Node: n, Opset: 1, InputTypes: []ir.Type{ir.TensorType(tensor.Float32, nil)},
				Const: func(i int) *tensor.Tensor { return []*tensor.Tensor{nil, w, b, nil}[i] }})
			if err != nil {
				t.Fatal(err)
			}
			for _, ctx := range []*Context{{}, nnParContext()} {
				got, err := k.(Kernel).Run(ctx, []*tensor.Tensor{x, w, b, z})
				if err != nil {
					t.Fatal(err)
				}
				wv, _ := Float64s(want)
				nnCheck(t, got[0], want.Shape, wv, 1e-5)
			}
		}
	}
}

// TestConvAllocs checks that Conv and FusedConv runs (GEMM, 1×1 and
// depthwise paths) allocate nothing once warm on static shapes, serially
// (the thread pool's dispatch is the engine's).
func TestConvAllocs(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	rnd := func(shape ...int) *tensor.Tensor {
		v := make([]float32, nnProd(shape))
		for i := range v {
			v[i] = float32(rng.Float64())
		}
		return tensor.FromSlice(v, shape...)
	}
	type tc struct{ c, h, m, k, s, group int }
	for _, cs := range []tc{{8, 12, 16, 3, 1, 1}, {8, 12, 16, 3, 2, 1}, {16, 10, 8, 1, 1, 1}, {8, 12, 8, 3, 1, 8}, {8, 40, 8, 3, 2, 8}, {8, 7, 48, 3, 1, 1}} {
		x, w, b := rnd(1, cs.c, cs.h, cs.h), rnd(cs.m, cs.c/cs.group, cs.k, cs.k), rnd(cs.m)
		pad := int64(cs.k / 2)
		attrs := []*ir.Attribute{nnAttrInts("pads", pad, pad, pad, pad), nnAttrInts("strides", int64(cs.s), int64(cs.s)), nnAttrInt("group", int64(cs.group))}
		for _, fused := range []bool{false, true} {
			n := &ir.Node{Name: "c", OpType: "Conv", Attrs: attrs, Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}}
			in := []*tensor.Tensor{x, w, b}
			if fused {
				n.Domain, n.OpType = ir.DomainInferd, "FusedConv"
				n.Attrs = append(append([]*ir.Attribute(nil), attrs...), &ir.Attribute{Name: "activation", Type: ir.AttrString, S: []byte("Relu")})
				n.Inputs = append(n.Inputs, "z")
				y := nnRun(t, "Conv", 11, in, 1, attrs...)[0]
				in = append(in, rnd(y.Shape...))
			}
			k, err := Default.Build(&Build{Node: n, Opset: 11, Const: func(i int) *tensor.Tensor { return []*tensor.Tensor{nil, w, b, nil}[i] }})
			if err != nil {
				t.Fatal(err)
			}
			c := &Context{Arena: NewArena(1)}
			run := func() {
				c.Arena.Begin(0)
				if _, err := k.(Kernel).Run(c, in); err != nil {
					t.Fatal(err)
				}
			}
			run()
			if got := testing.AllocsPerRun(20, run); got != 0 && !raceEnabled {
				t.Errorf("%+v fused=%v: %v allocations per run, want 0", cs, fused, got)
			}
		}
	}
}

// TestConvSplitSetup checks which strided convolutions take the phase
// split (the random cases above check the results).
func TestConvSplitSetup(t *testing.T) {
	for _, cs := range []struct {
		c, h, m, k, s, p, group int
		split, pw               bool
	}{
		{128, 56, 128, 3, 2, 1, 1, true, false},
		{3, 224, 64, 7, 2, 3, 1, true, false},
		{256, 56, 512, 1, 2, 0, 1, true, true},
		{8, 12, 8, 3, 2, 1, 2, true, false},
		{8, 12, 8, 3, 2, 1, 8, false, false}, // depthwise: dwconv
		{8, 12, 8, 3, 1, 1, 1, false, false},
		{8, 12, 8, 1, 5, 0, 1, false, false}, // stride past MaxStride
	} {
		w := nnWindow{autoPad: "NOTSET", strides: []int{cs.s, cs.s}, pads: []int{cs.p, cs.p, cs.p, cs.p}}
		p, err := nnConvSetup(&w, cs.group, []int{1, cs.c, cs.h, cs.h}, []int{cs.m, cs.c / cs.group, cs.k, cs.k})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.split != nil; got != cs.split || p.splitPW != cs.pw {
			t.Errorf("%+v: split %v, pointwise %v; want %v, %v", cs, got, p.splitPW, cs.split, cs.pw)
		}
	}
}
