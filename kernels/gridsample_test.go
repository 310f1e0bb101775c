package kernels

import (
	"testing"

	"github.com/inferd/inferd/tensor"
)

func TestGridSample(t *testing.T) {
	x := nnF32([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	grid := nnF32([]int{1, 1, 3, 2}, -1, -1, 0, 0, 1, -1)
	out := nnRun(t, "GridSample", 16, []*tensor.Tensor{x, grid}, 1, nnAttrInt("align_corners", 1))
	nnCheck(t, out[0], []int{1, 1, 1, 3}, []float64{1, 2.5, 2}, 1e-6)
	corner := nnF32([]int{1, 1, 1, 2}, -1, -1)
	for _, tc := range []struct {
		pad  string
		want float64
	}{{"zeros", 0.25}, {"border", 1}, {"reflection", 1}} {
		out = nnRun(t, "GridSample", 16, []*tensor.Tensor{x, corner}, 1, nnAttrString("padding_mode", tc.pad))
		nnCheck(t, out[0], []int{1, 1, 1, 1}, []float64{tc.want}, 1e-6)
	}
	// Far outside: zeros gives 0, border the corner, reflection folds back.
	far := nnF32([]int{1, 1, 1, 2}, -3, 0.5)
	out = nnRun(t, "GridSample", 16, []*tensor.Tensor{x, far}, 1, nnAttrString("padding_mode", "zeros"))
	nnCheck(t, out[0], []int{1, 1, 1, 1}, []float64{0}, 1e-6)
	out = nnRun(t, "GridSample", 16, []*tensor.Tensor{x, far}, 1, nnAttrString("padding_mode", "border"), nnAttrInt("align_corners", 1))
	// y = 0.75 → between rows: 1*.25 + 3*.75 = 2.5 at column 0.
	nnCheck(t, out[0], []int{1, 1, 1, 1}, []float64{2.5}, 1e-6)
	// reflection with align_corners: x = (−3+1)/2*1 = −1 → reflects to 1; y = 0.75: 2*.25 + 4*.75 = 3.5.
	out = nnRun(t, "GridSample", 16, []*tensor.Tensor{x, far}, 1, nnAttrString("padding_mode", "reflection"), nnAttrInt("align_corners", 1))
	nnCheck(t, out[0], []int{1, 1, 1, 1}, []float64{3.5}, 1e-6)
	// nearest: (0.1, -0.6) → x 0.6 → 1, y -0.1 → 0.
	pt := nnF32([]int{1, 1, 1, 2}, 0.1, -0.6)
	out = nnRun(t, "GridSample", 16, []*tensor.Tensor{x, pt}, 1, nnAttrString("mode", "nearest"))
	nnCheck(t, out[0], []int{1, 1, 1, 1}, []float64{2}, 1e-6)
	// bicubic on linear data 4h + w at the centre of a 4x4 image.
	x4 := nnF32([]int{1, 1, 4, 4}, nnSeq(16)...)
	c0 := nnF32([]int{1, 1, 1, 2}, 0, 0)
	out = nnRun(t, "GridSample", 16, []*tensor.Tensor{x4, c0}, 1, nnAttrString("mode", "bicubic"), nnAttrInt("align_corners", 1))
	nnCheck(t, out[0], []int{1, 1, 1, 1}, []float64{7.5}, 1e-5)
	// Opset 20: 1-D cubic and 3-D linear.
	x1 := nnF32([]int{1, 1, 4}, 1, 2, 3, 4)
	g1 := nnF32([]int{1, 1, 1}, 0)
	out = nnRun(t, "GridSample", 20, []*tensor.Tensor{x1, g1}, 1, nnAttrString("mode", "cubic"), nnAttrInt("align_corners", 1))
	nnCheck(t, out[0], []int{1, 1, 1}, []float64{2.5}, 1e-5)
	x3 := tensor.FromSlice([]float64{0, 1, 2, 3, 4, 5, 6, 7}, 1, 1, 2, 2, 2)
	g3 := tensor.FromSlice([]float64{0, 0, 0, 1, -1, -1}, 1, 1, 1, 2, 3)
	out = nnRun(t, "GridSample", 20, []*tensor.Tensor{x3, g3}, 1, nnAttrInt("align_corners", 1))
	// centre = mean 3.5; (x=1, y=-1, z=-1) = index d0 h0 w1 = 1.
	nnCheck(t, out[0], []int{1, 1, 1, 1, 2}, []float64{3.5, 1}, 1e-12)
	if _, err := nnBuild(t, "GridSample", 16, 2, 1, nnAttrString("padding_mode", "wrap")); err == nil {
		t.Fatal("bad padding_mode accepted")
	}
}
