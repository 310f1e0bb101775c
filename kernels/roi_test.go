package kernels

import (
	"testing"

	"github.com/inferd/inferd/tensor"
)

func TestRoiAlign(t *testing.T) {
	// X = 4h + w is linear, so bilinear samples are exact.
	x := nnF32([]int{1, 1, 4, 4}, nnSeq(16)...)
	rois := nnF32([]int{1, 4}, 0, 0, 3, 3)
	bi := tensor.FromSlice([]int64{0}, 1)
	out := nnRun(t, "RoiAlign", 10, []*tensor.Tensor{x, rois, bi}, 1, nnAttrInt("sampling_ratio", 2))
	nnCheck(t, out[0], []int{1, 1, 1, 1}, []float64{7.5}, 1e-6)
	out = nnRun(t, "RoiAlign", 10, []*tensor.Tensor{x, rois, bi}, 1)
	nnCheck(t, out[0], []int{1, 1, 1, 1}, []float64{7.5}, 1e-6)
	out = nnRun(t, "RoiAlign", 16, []*tensor.Tensor{x, rois, bi}, 1, nnAttrInt("sampling_ratio", 2))
	nnCheck(t, out[0], []int{1, 1, 1, 1}, []float64{5}, 1e-6)
	out = nnRun(t, "RoiAlign", 16, []*tensor.Tensor{x, rois, bi}, 1, nnAttrInt("sampling_ratio", 2), nnAttrString("mode", "max"), nnAttrString("coordinate_transformation_mode", "output_half_pixel"))
	nnCheck(t, out[0], []int{1, 1, 1, 1}, []float64{5.625}, 1e-6)
	// 2x2 bins over the same RoI, two RoIs on a batch of two (the second image is X+100).
	x2 := nnF32([]int{2, 1, 4, 4}, append(nnSeq(16), nnSeq(16)...)...)
	for i := 16; i < 32; i++ {
		x2.Data.([]float32)[i] += 100
	}
	rois2 := nnF32([]int{2, 4}, 0, 0, 3, 3, 0, 0, 3, 3)
	bi2 := tensor.FromSlice([]int64{0, 1}, 2)
	out = nnRun(t, "RoiAlign", 10, []*tensor.Tensor{x2, rois2, bi2}, 1, nnAttrInt("sampling_ratio", 1), nnAttrInt("output_height", 2), nnAttrInt("output_width", 2))
	// Bin centres at 0.75 and 2.25: 4y + x.
	nnCheck(t, out[0], []int{2, 1, 2, 2}, []float64{3.75, 5.25, 9.75, 11.25, 103.75, 105.25, 109.75, 111.25}, 1e-6)
	bad := tensor.FromSlice([]int64{2}, 1)
	if err := nnRunErr(t, "RoiAlign", 10, []*tensor.Tensor{x, rois, bad}, 1); err == nil {
		t.Fatal("out-of-range batch index accepted")
	}
}
