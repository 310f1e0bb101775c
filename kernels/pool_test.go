package kernels

import (
	"math"
	"math/rand"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func nnSeq1(n int) []float32 {
	v := nnSeq(n)
	for i := range v {
		v[i]++
	}
	return v
}

func TestMaxPool(t *testing.T) {
	x := nnF32([]int{1, 1, 5, 5}, nnSeq1(25)...)
	out := nnRun(t, "MaxPool", 12, []*tensor.Tensor{x}, 2, nnAttrInts("kernel_shape", 5, 5), nnAttrInts("pads", 2, 2, 2, 2))
	nnCheck(t, out[0], []int{1, 1, 5, 5}, []float64{13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25}, 0)
	nnCheck(t, out[1], []int{1, 1, 5, 5}, []float64{12, 13, 14, 14, 14, 17, 18, 19, 19, 19, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24}, 0)

	out = nnRun(t, "MaxPool", 12, []*tensor.Tensor{x}, 2, nnAttrInts("kernel_shape", 2, 2), nnAttrInts("strides", 2, 2), nnAttrInt("storage_order", 1))
	nnCheck(t, out[0], []int{1, 1, 2, 2}, []float64{7, 9, 17, 19}, 0)
	nnCheck(t, out[1], []int{1, 1, 2, 2}, []float64{6, 16, 8, 18}, 0)

	out = nnRun(t, "MaxPool", 12, []*tensor.Tensor{x}, 1, nnAttrInts("kernel_shape", 3, 3), nnAttrInts("strides", 2, 2), nnAttrString("auto_pad", "SAME_UPPER"))
	if len(out) != 1 {
		t.Fatalf("%d outputs, want 1", len(out))
	}
	nnCheck(t, out[0], []int{1, 1, 3, 3}, []float64{7, 9, 10, 17, 19, 20, 22, 24, 25}, 0)

	x4 := nnF32([]int{1, 1, 4, 4}, nnSeq1(16)...)
	out = nnRun(t, "MaxPool", 12, []*tensor.Tensor{x4}, 1, nnAttrInts("kernel_shape", 3, 3), nnAttrInts("strides", 2, 2), nnAttrInt("ceil_mode", 1))
	nnCheck(t, out[0], []int{1, 1, 2, 2}, []float64{11, 12, 15, 16}, 0)
	out = nnRun(t, "MaxPool", 12, []*tensor.Tensor{x4}, 1, nnAttrInts("kernel_shape", 2, 2), nnAttrInts("dilations", 2, 2))
	nnCheck(t, out[0], []int{1, 1, 2, 2}, []float64{11, 12, 15, 16}, 0)

	// 1-D, uint8, two channels and a batch of 2: indices are flat over the tensor.
	xu := tensor.FromSlice([]uint8{1, 5, 2, 0, 9, 3, 4, 4, 7, 1, 8, 2, 6, 6, 0, 3}, 2, 2, 4)
	out = nnRun(t, "MaxPool", 12, []*tensor.Tensor{xu}, 2, nnAttrInts("kernel_shape", 2), nnAttrInts("strides", 2))
	nnCheck(t, out[0], []int{2, 2, 2}, []float64{5, 2, 9, 4, 7, 8, 6, 3}, 0)
	nnCheck(t, out[1], []int{2, 2, 2}, []float64{1, 2, 4, 6, 8, 10, 12, 15}, 0)

	// 3-D float64 with a parallel context.
	x3 := tensor.FromSlice([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 1, 1, 2, 2, 2)
	k, err := nnBuild(t, "MaxPool", 12, 1, 2, nnAttrInts("kernel_shape", 2, 2, 2), nnAttrInt("storage_order", 1))
	if err != nil {
		t.Fatal(err)
	}
	res, err := k.Run(nnParContext(), []*tensor.Tensor{x3})
	if err != nil {
		t.Fatal(err)
	}
	nnCheck(t, res[0], []int{1, 1, 1, 1, 1}, []float64{8}, 0)
	// 8 is at (d,h,w) = (1,1,1): column-major 1 + 2*(1 + 2*1) = 7.
	nnCheck(t, res[1], []int{1, 1, 1, 1, 1}, []float64{7}, 0)

	if err := nnRunErr(t, "MaxPool", 12, []*tensor.Tensor{x}, 1); err == nil {
		t.Fatal("missing kernel_shape accepted")
	}
}

func TestAveragePool(t *testing.T) {
	x := nnF32([]int{1, 1, 5, 5}, nnSeq1(25)...)
	out := nnRun(t, "AveragePool", 11, []*tensor.Tensor{x}, 1, nnAttrInts("kernel_shape", 5, 5), nnAttrInts("pads", 2, 2, 2, 2))
	nnCheck(t, out[0], []int{1, 1, 5, 5}, []float64{7, 7.5, 8, 8.5, 9, 9.5, 10, 10.5, 11, 11.5, 12, 12.5, 13, 13.5, 14, 14.5, 15, 15.5, 16, 16.5, 17, 17.5, 18, 18.5, 19}, 1e-6)
	out = nnRun(t, "AveragePool", 11, []*tensor.Tensor{x}, 1, nnAttrInts("kernel_shape", 5, 5), nnAttrInts("pads", 2, 2, 2, 2), nnAttrInt("count_include_pad", 1))
	g, _ := Float64s(out[0])
	if math.Abs(g[0]-2.52) > 1e-5 || math.Abs(g[1]-3.6) > 1e-5 || math.Abs(g[12]-13) > 1e-5 {
		t.Fatalf("count_include_pad: got %v", g)
	}
	x4 := nnF32([]int{1, 1, 4, 4}, nnSeq1(16)...)
	out = nnRun(t, "AveragePool", 11, []*tensor.Tensor{x4}, 1, nnAttrInts("kernel_shape", 3, 3), nnAttrInts("strides", 2, 2), nnAttrInt("ceil_mode", 1))
	nnCheck(t, out[0], []int{1, 1, 2, 2}, []float64{6, 7.5, 12, 13.5}, 1e-6)
	// ceil_mode with count_include_pad: the overhang beyond the padding does not count.
	// 1-D x = 1..4, kernel 3, stride 2, pads [1, 0]: windows [-1..1], [1..3]; ceil adds none.
	x1 := nnF32([]int{1, 1, 4}, 1, 2, 3, 4)
	out = nnRun(t, "AveragePool", 11, []*tensor.Tensor{x1}, 1, nnAttrInts("kernel_shape", 3), nnAttrInts("strides", 2), nnAttrInts("pads", 1, 0), nnAttrInt("ceil_mode", 1), nnAttrInt("count_include_pad", 1))
	// out = ceil((4+1-3)/2)+1 = 2; windows [-1,0,1] → (0+1+2)/3 = 1, [1,2,3] → 3.
	nnCheck(t, out[0], []int{1, 1, 2}, []float64{1, 3}, 1e-6)
	// kernel 2, stride 2, no pads, ceil: x = 1..5 → windows [0,1], [2,3], [4] → 1.5, 3.5, 5 (divisor 1 even with count_include_pad).
	x5 := nnF32([]int{1, 1, 5}, 1, 2, 3, 4, 5)
	out = nnRun(t, "AveragePool", 11, []*tensor.Tensor{x5}, 1, nnAttrInts("kernel_shape", 2), nnAttrInts("strides", 2), nnAttrInt("ceil_mode", 1), nnAttrInt("count_include_pad", 1))
	nnCheck(t, out[0], []int{1, 1, 3}, []float64{1.5, 3.5, 5}, 1e-6)
	// SAME_LOWER: 1-D x=1..4, kernel 2 → pad 1 at the start: [1, 1.5, 2.5, 3.5].
	out = nnRun(t, "AveragePool", 11, []*tensor.Tensor{nnF32([]int{1, 1, 4}, 1, 2, 3, 4)}, 1, nnAttrInts("kernel_shape", 2), nnAttrString("auto_pad", "SAME_LOWER"))
	nnCheck(t, out[0], []int{1, 1, 4}, []float64{1, 1.5, 2.5, 3.5}, 1e-6)
	// float16
	xh, _ := FromFloat64s(tensor.Float16, []int{1, 1, 4}, []float64{1, 2, 3, 4})
	out = nnRun(t, "AveragePool", 11, []*tensor.Tensor{xh}, 1, nnAttrInts("kernel_shape", 2), nnAttrInts("strides", 2))
	if out[0].DType != tensor.Float16 {
		t.Fatalf("dtype %v", out[0].DType)
	}
	nnCheck(t, out[0], []int{1, 1, 2}, []float64{1.5, 3.5}, 1e-3)
}

func TestLpAndGlobalPools(t *testing.T) {
	x := nnF32([]int{1, 1, 4}, 3, 4, -6, 8)
	out := nnRun(t, "LpPool", 18, []*tensor.Tensor{x}, 1, nnAttrInts("kernel_shape", 2), nnAttrInts("strides", 2))
	nnCheck(t, out[0], []int{1, 1, 2}, []float64{5, 10}, 1e-6)
	out = nnRun(t, "LpPool", 18, []*tensor.Tensor{x}, 1, nnAttrInts("kernel_shape", 2), nnAttrInts("strides", 2), nnAttrInt("p", 1))
	nnCheck(t, out[0], []int{1, 1, 2}, []float64{7, 14}, 1e-6)
	out = nnRun(t, "LpPool", 18, []*tensor.Tensor{x}, 1, nnAttrInts("kernel_shape", 2), nnAttrInts("strides", 2), nnAttrInt("p", 3))
	nnCheck(t, out[0], []int{1, 1, 2}, []float64{math.Cbrt(27 + 64), math.Cbrt(216 + 512)}, 1e-6)
	out = nnRun(t, "LpPool", 1, []*tensor.Tensor{x}, 1, nnAttrInts("kernel_shape", 2), nnAttrInts("strides", 2), nnAttrFloat("p", 2))
	nnCheck(t, out[0], []int{1, 1, 2}, []float64{5, 10}, 1e-6)

	xg := nnF32([]int{1, 2, 2, 2}, 1, 2, 3, 4, -1, -2, -3, 5)
	out = nnRun(t, "GlobalAveragePool", 1, []*tensor.Tensor{xg}, 1)
	nnCheck(t, out[0], []int{1, 2, 1, 1}, []float64{2.5, -0.25}, 1e-6)
	out = nnRun(t, "GlobalMaxPool", 1, []*tensor.Tensor{xg}, 1)
	nnCheck(t, out[0], []int{1, 2, 1, 1}, []float64{4, 5}, 1e-6)
	out = nnRun(t, "GlobalLpPool", 2, []*tensor.Tensor{xg}, 1)
	nnCheck(t, out[0], []int{1, 2, 1, 1}, []float64{math.Sqrt(30), math.Sqrt(39)}, 1e-6)
	out = nnRun(t, "GlobalLpPool", 2, []*tensor.Tensor{xg}, 1, nnAttrInt("p", 1))
	nnCheck(t, out[0], []int{1, 2, 1, 1}, []float64{10, 11}, 1e-6)
}

func TestMaxUnpool(t *testing.T) {
	xT := nnF32([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	xI := tensor.FromSlice([]int64{5, 7, 13, 15}, 1, 1, 2, 2)
	out := nnRun(t, "MaxUnpool", 11, []*tensor.Tensor{xT, xI}, 1, nnAttrInts("kernel_shape", 2, 2), nnAttrInts("strides", 2, 2))
	nnCheck(t, out[0], []int{1, 1, 4, 4}, []float64{0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4}, 0)
	xT = nnF32([]int{1, 1, 2, 2}, 5, 6, 7, 8)
	shape := tensor.FromSlice([]int64{1, 1, 5, 5}, 4)
	out = nnRun(t, "MaxUnpool", 11, []*tensor.Tensor{xT, xI, shape}, 1, nnAttrInts("kernel_shape", 2, 2), nnAttrInts("strides", 2, 2))
	nnCheck(t, out[0], []int{1, 1, 5, 5}, []float64{0, 0, 0, 0, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0, 0, 0, 7, 0, 8, 0, 0, 0, 0, 0, 0}, 0)
	bad := tensor.FromSlice([]int64{5, 7, 13, 16}, 1, 1, 2, 2)
	if err := nnRunErr(t, "MaxUnpool", 11, []*tensor.Tensor{xT, bad}, 1, nnAttrInts("kernel_shape", 2, 2), nnAttrInts("strides", 2, 2)); err == nil {
		t.Fatal("out-of-range index accepted")
	}
}

func TestMaxRoiPool(t *testing.T) {
	x := nnF32([]int{1, 1, 4, 4}, nnSeq(16)...)
	rois := nnF32([]int{2, 5}, 0, 0, 0, 3, 3, 0, 1, 1, 2, 2)
	out := nnRun(t, "MaxRoiPool", 1, []*tensor.Tensor{x, rois}, 1, nnAttrInts("pooled_shape", 2, 2))
	// RoI 1 is 2x2 pixels: each bin is one pixel: 5, 6, 9, 10.
	nnCheck(t, out[0], []int{2, 1, 2, 2}, []float64{5, 7, 13, 15, 5, 6, 9, 10}, 0)
	// spatial_scale 0.5 maps [0,0,6,6] to [0,0,3,3].
	rois2 := nnF32([]int{1, 5}, 0, 0, 0, 6, 6)
	out = nnRun(t, "MaxRoiPool", 1, []*tensor.Tensor{x, rois2}, 1, nnAttrInts("pooled_shape", 1, 1), nnAttrFloat("spatial_scale", 0.5))
	nnCheck(t, out[0], []int{1, 1, 1, 1}, []float64{15}, 0)
}

func TestLpPoolPads(t *testing.T) {
	x := nnF32([]int{1, 1, 2}, 1, 2)
	out := nnRun(t, "LpPool", 18, []*tensor.Tensor{x}, 1, nnAttrInts("kernel_shape", 2), nnAttrInts("pads", 1, 1))
	nnCheck(t, out[0], []int{1, 1, 3}, []float64{1, math.Sqrt(5), 2}, 1e-6)
	x5 := nnF32([]int{1, 1, 1, 1, 1, 1}, 1)
	if err := nnRunErr(t, "MaxPool", 12, []*tensor.Tensor{x5}, 1, nnAttrInts("kernel_shape", 1, 1, 1, 1)); err == nil {
		t.Fatal("4 spatial dimensions accepted")
	}
}

// TestMaxPoolFloat32 checks float32 2-D MaxPool (the whole-plane path for
// column strides 1 and 2) against a float64 loop over the definition,
// across kernel sizes, strides, padding, ceil_mode and odd and even
// extents, with NaNs in the input.
func TestMaxPoolFloat32(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	type tc struct {
		h, w, kh, kw, sh, sw, pt, pl, pb, pr int
		ceil                                 bool
	}
	for _, cs := range []tc{
		{112, 112, 3, 3, 2, 2, 1, 1, 1, 1, false},
		{13, 11, 3, 3, 2, 2, 1, 1, 1, 1, false},
		{13, 11, 3, 3, 2, 2, 0, 0, 0, 0, true},
		{9, 10, 2, 2, 2, 2, 0, 0, 0, 0, false},
		{8, 40, 3, 3, 1, 1, 1, 1, 1, 1, false},
		{7, 7, 5, 5, 1, 2, 2, 2, 2, 2, false},
		{12, 9, 3, 4, 3, 2, 1, 2, 0, 1, true},
		{5, 6, 3, 3, 2, 1, 2, 2, 2, 2, false},
		{3, 3, 3, 3, 1, 1, 2, 2, 2, 2, false}, // windows entirely in padding
		{33, 35, 1, 1, 2, 2, 0, 0, 0, 0, false},
	} {
		xs := []int{2, 3, cs.h, cs.w}
		xv := make([]float64, nnProd(xs))
		for i := range xv {
			xv[i] = rng.Float64()*2 - 1
		}
		xv[5], xv[len(xv)/2] = math.NaN(), math.NaN()
		attrs := []*ir.Attribute{nnAttrInts("kernel_shape", int64(cs.kh), int64(cs.kw)),
			nnAttrInts("strides", int64(cs.sh), int64(cs.sw)),
			nnAttrInts("pads", int64(cs.pt), int64(cs.pl), int64(cs.pb), int64(cs.pr))}
		if cs.ceil {
			attrs = append(attrs, nnAttrInt("ceil_mode", 1))
		}
		x64, _ := FromFloat64s(tensor.Float64, xs, xv)
		x32, _ := FromFloat64s(tensor.Float32, xs, xv)
		want := nnRun(t, "MaxPool", 12, []*tensor.Tensor{x64}, 1, attrs...)[0]
		for _, ctx := range []*Context{{}, nnParContext()} {
			k, err := nnBuild(t, "MaxPool", 12, 1, 1, attrs...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.Run(ctx, []*tensor.Tensor{x32})
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.EqualShapes(got[0].Shape, want.Shape) {
				t.Fatalf("%+v: shape %v, want %v", cs, got[0].Shape, want.Shape)
			}
			// The window maxima by definition, NaN if the window holds one
			// (as PyTorch), -Inf for windows entirely in padding.
			oh, ow := want.Shape[2], want.Shape[3]
			gv := got[0].Data.([]float32)
			for pl := 0; pl < xs[0]*xs[1]; pl++ {
				for i := 0; i < oh; i++ {
					for j := 0; j < ow; j++ {
						w := math.Inf(-1)
						for a := 0; a < cs.kh; a++ {
							for b := 0; b < cs.kw; b++ {
								r, c := i*cs.sh-cs.pt+a, j*cs.sw-cs.pl+b
								if r < 0 || r >= cs.h || c < 0 || c >= cs.w {
									continue
								}
								if v := xv[(pl*cs.h+r)*cs.w+c]; v > w || math.IsNaN(v) {
									w = v
								}
								if math.IsNaN(w) {
									break
								}
							}
						}
						if g := gv[(pl*oh+i)*ow+j]; g != float32(w) && !(g != g && math.IsNaN(w)) {
							t.Fatalf("%+v: plane %d (%d, %d) = %v, want %v", cs, pl, i, j, g, w)
						}
					}
				}
			}
		}
	}
}
