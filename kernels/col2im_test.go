package kernels

import (
	"testing"

	"github.com/inferd/inferd/tensor"
)

func TestCol2Im(t *testing.T) {
	x := nnF32([]int{1, 5, 5}, nnSeq1(25)...)
	img := tensor.FromSlice([]int64{5, 5}, 2)
	blk := tensor.FromSlice([]int64{1, 5}, 2)
	out := nnRun(t, "Col2Im", 18, []*tensor.Tensor{x, img, blk}, 1)
	nnCheck(t, out[0], []int{1, 1, 5, 5}, []float64{1, 6, 11, 16, 21, 2, 7, 12, 17, 22, 3, 8, 13, 18, 23, 4, 9, 14, 19, 24, 5, 10, 15, 20, 25}, 0)
	// Overlapping blocks add up.
	x2 := nnF32([]int{1, 2, 2}, 1, 2, 3, 4)
	out = nnRun(t, "Col2Im", 18, []*tensor.Tensor{x2, tensor.FromSlice([]int64{1, 3}, 2), tensor.FromSlice([]int64{1, 2}, 2)}, 1)
	nnCheck(t, out[0], []int{1, 1, 1, 3}, []float64{1, 5, 4}, 0)
	// Padding drops entries; strides and dilations: image 1x4, block 1x2, pads [0,1,0,0], stride 2:
	// blocks at w = -1 and 1 → taps (-1, 0) and (1, 2): image = [b0, a1, b1, 0].
	out = nnRun(t, "Col2Im", 18, []*tensor.Tensor{x2, tensor.FromSlice([]int64{1, 4}, 2), tensor.FromSlice([]int64{1, 2}, 2)}, 1,
		nnAttrInts("pads", 0, 1, 0, 0), nnAttrInts("strides", 1, 2))
	nnCheck(t, out[0], []int{1, 1, 1, 4}, []float64{3, 2, 4, 0}, 0)
	if err := nnRunErr(t, "Col2Im", 18, []*tensor.Tensor{x2, tensor.FromSlice([]int64{1, 5}, 2), tensor.FromSlice([]int64{1, 2}, 2)}, 1); err == nil {
		t.Fatal("wrong block count accepted")
	}
}
