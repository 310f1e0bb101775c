package kernels

import (
	"testing"

	"github.com/inferd/inferd/tensor"
)

func nnTwice(v []float64) []float64 { return append(append([]float64{}, v...), v...) }

func TestConvTransposeBasic(t *testing.T) {
	x := nnF32([]int{1, 1, 3, 3}, nnSeq(9)...)
	w := nnF32([]int{1, 2, 3, 3}, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
	out := nnRun(t, "ConvTranspose", 11, []*tensor.Tensor{x, w}, 1)
	nnCheck(t, out[0], []int{1, 2, 5, 5}, nnTwice([]float64{
		0, 1, 3, 3, 2,
		3, 8, 15, 12, 7,
		9, 21, 36, 27, 15,
		9, 20, 33, 24, 13,
		6, 13, 21, 15, 8}), 1e-6)

	x1 := nnF32([]int{1, 1, 3}, 0, 1, 2)
	w1 := nnF32([]int{1, 2, 3}, 1, 1, 1, 1, 1, 1)
	b1 := nnF32([]int{2}, 10, 20)
	out = nnRun(t, "ConvTranspose", 11, []*tensor.Tensor{x1, w1, b1}, 1)
	nnCheck(t, out[0], []int{1, 2, 5}, []float64{10, 11, 13, 13, 12, 20, 21, 23, 23, 22}, 1e-6)
}

func TestConvTransposeStridesOutputShape(t *testing.T) {
	x := nnF32([]int{1, 1, 3, 3}, nnSeq(9)...)
	w := nnF32([]int{1, 2, 3, 3}, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
	r0 := []float64{0, 0, 1, 1, 3, 2, 2, 0}
	r1 := []float64{3, 3, 7, 4, 9, 5, 5, 0}
	r2 := []float64{6, 6, 13, 7, 15, 8, 8, 0}
	var ch []float64
	for _, r := range [][]float64{r0, r0, r0, r1, r1, r1, r2, r2, r2, make([]float64, 8)} {
		ch = append(ch, r...)
	}
	want := nnTwice(ch)
	out := nnRun(t, "ConvTranspose", 11, []*tensor.Tensor{x, w}, 1, nnAttrInts("strides", 3, 2), nnAttrInts("output_shape", 10, 8))
	nnCheck(t, out[0], []int{1, 2, 10, 8}, want, 1e-6)
	out = nnRun(t, "ConvTranspose", 11, []*tensor.Tensor{x, w}, 1, nnAttrInts("strides", 3, 2), nnAttrInts("output_padding", 1, 1))
	nnCheck(t, out[0], []int{1, 2, 10, 8}, want, 1e-6)
	// Same with a parallel context and kernel_shape given.
	k, err := nnBuild(t, "ConvTranspose", 11, 2, 1, nnAttrInts("strides", 3, 2), nnAttrInts("output_padding", 1, 1), nnAttrInts("kernel_shape", 3, 3))
	if err != nil {
		t.Fatal(err)
	}
	res, err := k.Run(nnParContext(), []*tensor.Tensor{x, w})
	if err != nil {
		t.Fatal(err)
	}
	nnCheck(t, res[0], []int{1, 2, 10, 8}, want, 1e-6)

	// pads [1,2,1,2]: rows 1..7, columns 2..4 of the above.
	out = nnRun(t, "ConvTranspose", 11, []*tensor.Tensor{x, w}, 1, nnAttrInts("strides", 3, 2), nnAttrInts("pads", 1, 2, 1, 2))
	nnCheck(t, out[0], []int{1, 2, 7, 3}, nnTwice([]float64{1, 1, 3, 1, 1, 3, 7, 4, 9, 7, 4, 9, 7, 4, 9, 13, 7, 15, 13, 7, 15}), 1e-6)

	// SAME_UPPER strides 2: output 6x6, the first 6 rows/cols of the 7x7 result.
	out = nnRun(t, "ConvTranspose", 11, []*tensor.Tensor{x, w}, 1, nnAttrInts("strides", 2, 2), nnAttrString("auto_pad", "SAME_UPPER"))
	nnCheck(t, out[0], []int{1, 2, 6, 6}, nnTwice([]float64{
		0, 0, 1, 1, 3, 2,
		0, 0, 1, 1, 3, 2,
		3, 3, 8, 5, 12, 7,
		3, 3, 7, 4, 9, 5,
		9, 9, 20, 11, 24, 13,
		6, 6, 13, 7, 15, 8}), 1e-6)
	// SAME_LOWER drops the first row/column instead.
	out = nnRun(t, "ConvTranspose", 11, []*tensor.Tensor{x, w}, 1, nnAttrInts("strides", 2, 2), nnAttrString("auto_pad", "SAME_LOWER"))
	nnCheck(t, out[0], []int{1, 2, 6, 6}, nnTwice([]float64{
		0, 1, 1, 3, 2, 2,
		3, 8, 5, 12, 7, 7,
		3, 7, 4, 9, 5, 5,
		9, 20, 11, 24, 13, 13,
		6, 13, 7, 15, 8, 8,
		6, 13, 7, 15, 8, 8}), 1e-6)
}

func TestConvTransposeDilationsGroups(t *testing.T) {
	x := nnF32([]int{1, 1, 3, 3}, 3, 8, 1, 9, 5, 7, 3, 2, 6)
	w := nnF32([]int{1, 1, 2, 2}, 7, 2, 1, 9)
	out := nnRun(t, "ConvTranspose", 11, []*tensor.Tensor{x, w}, 1, nnAttrInts("dilations", 2, 2))
	nnCheck(t, out[0], []int{1, 1, 5, 5}, []float64{
		21, 56, 13, 16, 2,
		63, 35, 67, 10, 14,
		24, 22, 76, 76, 21,
		9, 5, 88, 45, 63,
		3, 2, 33, 18, 54}, 1e-6)

	// group 2, 1-D: channel 0 [1,2] with kernel [1,1] → [1,3,2];
	// channel 1 [3,4] with kernel [2,0] → [6,8,0].
	xg := nnF32([]int{1, 2, 2}, 1, 2, 3, 4)
	wg := nnF32([]int{2, 1, 2}, 1, 1, 2, 0)
	out = nnRun(t, "ConvTranspose", 11, []*tensor.Tensor{xg, wg}, 1, nnAttrInt("group", 2))
	nnCheck(t, out[0], []int{1, 2, 3}, []float64{1, 3, 2, 6, 8, 0}, 1e-6)

	// float64 and 3-D: 1x1x1 input 2, 2x2x2 kernel 1..8 → 2*kernel.
	x3 := tensor.FromSlice([]float64{2}, 1, 1, 1, 1, 1)
	w3 := tensor.FromSlice([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 1, 1, 2, 2, 2)
	out = nnRun(t, "ConvTranspose", 11, []*tensor.Tensor{x3, w3}, 1)
	nnCheck(t, out[0], []int{1, 1, 2, 2, 2}, []float64{2, 4, 6, 8, 10, 12, 14, 16}, 1e-12)
}
