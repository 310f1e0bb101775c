package kernels

import (
	"testing"

	"github.com/inferd/inferd/tensor"
)

func TestConvInteger(t *testing.T) {
	// x = 2..10 (3x3) with zero point 1 → 1..9; w = ones (2x2): window sums.
	x := tensor.FromSlice([]uint8{2, 3, 4, 5, 6, 7, 8, 9, 10}, 1, 1, 3, 3)
	w := tensor.FromSlice([]uint8{1, 1, 1, 1}, 1, 1, 2, 2)
	xzp := tensor.Scalar(uint8(1))
	out := nnRun(t, "ConvInteger", 10, []*tensor.Tensor{x, w, xzp}, 1)
	if out[0].DType != tensor.Int32 {
		t.Fatalf("dtype %v", out[0].DType)
	}
	nnCheck(t, out[0], []int{1, 1, 2, 2}, []float64{12, 16, 24, 28}, 0)
	// Padding 1 contributes zero after the zero point: corner = 1.
	out = nnRun(t, "ConvInteger", 10, []*tensor.Tensor{x, w, xzp}, 1, nnAttrInts("pads", 1, 1, 1, 1))
	nnCheck(t, out[0], []int{1, 1, 4, 4}, []float64{1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9}, 0)

	// int8 weights with a per-output-channel zero point: channel 0 w-2 = [1,-1], channel 1 w+1 = [2, 2].
	x1 := tensor.FromSlice([]int8{1, 2, 3}, 1, 1, 3)
	w1 := tensor.FromSlice([]int8{3, 1, 1, 1}, 2, 1, 2)
	wzp := tensor.FromSlice([]int8{2, -1}, 2)
	out = nnRun(t, "ConvInteger", 10, []*tensor.Tensor{x1, w1, nil, wzp}, 1)
	nnCheck(t, out[0], []int{1, 2, 2}, []float64{-1, -1, 6, 10}, 0)

	if err := nnRunErr(t, "ConvInteger", 10, []*tensor.Tensor{nnF32([]int{1, 1, 3}, 1, 2, 3), w1}, 1); err == nil {
		t.Fatal("float input accepted")
	}
}
