package kernels

import (
	"testing"

	"github.com/inferd/inferd/tensor"
)

func nnScales(v ...float32) *tensor.Tensor { return tensor.FromSlice(v, len(v)) }
func nnSizes(v ...int64) *tensor.Tensor    { return tensor.FromSlice(v, len(v)) }

func TestResizeNearest(t *testing.T) {
	x := nnF32([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	want := []float64{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}
	out := nnRun(t, "Resize", 13, []*tensor.Tensor{x, nil, nnScales(1, 1, 2, 2)}, 1)
	nnCheck(t, out[0], []int{1, 1, 4, 4}, want, 0)
	// Opset 18 axes: scales for the last two axes only.
	out = nnRun(t, "Resize", 18, []*tensor.Tensor{x, nil, nnScales(2, 2)}, 1, nnAttrInts("axes", 2, -1))
	nnCheck(t, out[0], []int{1, 1, 4, 4}, want, 0)
	// sizes, with a parallel context and int64 data.
	xi := tensor.FromSlice([]int64{1, 2, 3, 4}, 1, 1, 2, 2)
	k, err := nnBuild(t, "Resize", 13, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := k.Run(nnParContext(), []*tensor.Tensor{xi, nil, nil, nnSizes(1, 1, 4, 4)})
	if err != nil {
		t.Fatal(err)
	}
	nnCheck(t, res[0], []int{1, 1, 4, 4}, want, 0)
	// keep_aspect_ratio_policy on a 2x4 input with sizes 4x4.
	x24 := nnF32([]int{1, 1, 2, 4}, 1, 2, 3, 4, 5, 6, 7, 8)
	out = nnRun(t, "Resize", 18, []*tensor.Tensor{x24, nil, nil, nnSizes(4, 4)}, 1, nnAttrInts("axes", 2, 3), nnAttrString("keep_aspect_ratio_policy", "not_larger"))
	nnCheck(t, out[0], []int{1, 1, 2, 4}, []float64{1, 2, 3, 4, 5, 6, 7, 8}, 0)
	out = nnRun(t, "Resize", 18, []*tensor.Tensor{x24, nil, nil, nnSizes(4, 4)}, 1, nnAttrInts("axes", 2, 3), nnAttrString("keep_aspect_ratio_policy", "not_smaller"))
	r0 := []float64{1, 1, 2, 2, 3, 3, 4, 4}
	r1 := []float64{5, 5, 6, 6, 7, 7, 8, 8}
	nnCheck(t, out[0], []int{1, 1, 4, 8}, append(append(append(append([]float64{}, r0...), r0...), r1...), r1...), 0)
	// Strings gather too.
	xs := tensor.FromSlice([]string{"a", "b"}, 2)
	out = nnRun(t, "Resize", 13, []*tensor.Tensor{xs, nil, nnScales(2)}, 1)
	if got := out[0].Data.([]string); len(got) != 4 || got[0] != "a" || got[1] != "a" || got[2] != "b" || got[3] != "b" {
		t.Fatalf("strings: %v", got)
	}
	// Errors: both scales and sizes; wrong scales length.
	if err := nnRunErr(t, "Resize", 13, []*tensor.Tensor{x, nil, nnScales(1, 1, 2, 2), nnSizes(1, 1, 4, 4)}, 1); err == nil {
		t.Fatal("scales and sizes both accepted")
	}
	if err := nnRunErr(t, "Resize", 13, []*tensor.Tensor{x, nil, nnScales(2, 2)}, 1); err == nil {
		t.Fatal("short scales accepted")
	}
	if _, err := nnBuild(t, "Resize", 13, 3, 1, nnAttrString("mode", "bogus")); err == nil {
		t.Fatal("bad mode accepted")
	}
}

func TestResizeLinear(t *testing.T) {
	x := nnF32([]int{4}, 1, 2, 3, 4)
	out := nnRun(t, "Resize", 13, []*tensor.Tensor{x, nil, nnScales(0.5)}, 1, nnAttrString("mode", "linear"))
	nnCheck(t, out[0], []int{2}, []float64{1.5, 3.5}, 1e-6)
	out = nnRun(t, "Resize", 18, []*tensor.Tensor{x, nil, nnScales(0.5)}, 1, nnAttrString("mode", "linear"), nnAttrInt("antialias", 1))
	nnCheck(t, out[0], []int{2}, []float64{1.625, 3.375}, 1e-6)
	out = nnRun(t, "Resize", 19, []*tensor.Tensor{x, nil, nnScales(0.6)}, 1, nnAttrString("mode", "linear"), nnAttrString("coordinate_transformation_mode", "half_pixel_symmetric"))
	nnCheck(t, out[0], []int{2}, []float64{1 + 2.0/3, 3 + 1.0/3}, 1e-5)
	// tf_crop_and_resize with extrapolation.
	roi := tensor.FromSlice([]float32{-0.5, 1.5}, 2)
	out = nnRun(t, "Resize", 13, []*tensor.Tensor{x, roi, nil, nnSizes(3)}, 1, nnAttrString("mode", "linear"),
		nnAttrString("coordinate_transformation_mode", "tf_crop_and_resize"), nnAttrFloat("extrapolation_value", 10))
	nnCheck(t, out[0], []int{3}, []float64{10, 2.5, 10}, 1e-6)
	// uint8 rounds half to even after interpolation.
	xu := tensor.FromSlice([]uint8{0, 255}, 2)
	out = nnRun(t, "Resize", 13, []*tensor.Tensor{xu, nil, nnScales(2)}, 1, nnAttrString("mode", "linear"))
	nnCheck(t, out[0], []int{4}, []float64{0, 64, 191, 255}, 0)
	// float64 2-D bilinear, align_corners: 2x2 → 3x3 gives midpoints.
	x2 := tensor.FromSlice([]float64{0, 2, 4, 6}, 2, 2)
	out = nnRun(t, "Resize", 13, []*tensor.Tensor{x2, nil, nil, nnSizes(3, 3)}, 1, nnAttrString("mode", "linear"), nnAttrString("coordinate_transformation_mode", "align_corners"))
	nnCheck(t, out[0], []int{3, 3}, []float64{0, 1, 2, 2, 3, 4, 4, 5, 6}, 1e-12)
}

func TestResizeCubic(t *testing.T) {
	x := nnF32([]int{4}, 1, 2, 3, 4)
	out := nnRun(t, "Resize", 13, []*tensor.Tensor{x, nil, nnScales(2)}, 1, nnAttrString("mode", "cubic"), nnAttrString("coordinate_transformation_mode", "asymmetric"))
	g, _ := Float64s(out[0])
	if len(g) != 8 || g[0] != 1 || abs64(g[1]-1.40625) > 1e-6 || g[2] != 2 || abs64(g[3]-2.5) > 1e-6 {
		t.Fatalf("cubic: %v", g)
	}
	out = nnRun(t, "Resize", 13, []*tensor.Tensor{x, nil, nnScales(2)}, 1, nnAttrString("mode", "cubic"), nnAttrString("coordinate_transformation_mode", "asymmetric"), nnAttrInt("exclude_outside", 1))
	g, _ = Float64s(out[0])
	if abs64(g[1]-1.5/1.09375) > 1e-6 {
		t.Fatalf("cubic exclude_outside: %v", g)
	}
	// Scale 1 is the identity whatever the kernel.
	out = nnRun(t, "Resize", 13, []*tensor.Tensor{x, nil, nnScales(1)}, 1, nnAttrString("mode", "cubic"))
	nnCheck(t, out[0], []int{4}, []float64{1, 2, 3, 4}, 0)
}

func abs64(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestUpsampleAndResize10(t *testing.T) {
	x := nnF32([]int{1, 1, 1, 2}, 1, 2)
	out := nnRun(t, "Upsample", 7, []*tensor.Tensor{x}, 1, nnAttrFloats("scales", 1, 1, 1, 2))
	nnCheck(t, out[0], []int{1, 1, 1, 4}, []float64{1, 1, 2, 2}, 0)
	out = nnRun(t, "Upsample", 9, []*tensor.Tensor{x, nnScales(1, 1, 2, 2)}, 1, nnAttrString("mode", "linear"))
	nnCheck(t, out[0], []int{1, 1, 2, 4}, []float64{1, 1.5, 2, 2, 1, 1.5, 2, 2}, 1e-6)
	out = nnRun(t, "Upsample", 1, []*tensor.Tensor{x}, 1, nnAttrFloat("height_scale", 2), nnAttrFloat("width_scale", 1), nnAttrString("mode", "bilinear"))
	nnCheck(t, out[0], []int{1, 1, 2, 2}, []float64{1, 2, 1, 2}, 1e-6)
	x4 := nnF32([]int{4}, 1, 2, 3, 4)
	out = nnRun(t, "Resize", 10, []*tensor.Tensor{x4, nnScales(0.6)}, 1)
	nnCheck(t, out[0], []int{2}, []float64{1, 3}, 0)
}

func TestResizeAntialiasProperties(t *testing.T) {
	// A constant signal stays constant under any normalised filter.
	x := nnF32([]int{1, 1, 8, 8}, make([]float32, 64)...)
	for i := range x.Data.([]float32) {
		x.Data.([]float32)[i] = 3
	}
	for _, mode := range []string{"linear", "cubic"} {
		out := nnRun(t, "Resize", 18, []*tensor.Tensor{x, nil, nil, nnSizes(3, 5)}, 1, nnAttrString("mode", mode),
			nnAttrInt("antialias", 1), nnAttrInts("axes", 2, 3))
		want := make([]float64, 15)
		for i := range want {
			want[i] = 3
		}
		nnCheck(t, out[0], []int{1, 1, 3, 5}, want, 1e-6)
	}
	// Antialiased linear downsampling by 1/3 at an output centre averages
	// with a triangle of half-width 3: x = 0..8, output 1 (centre 4) → 4.
	x9 := nnF32([]int{9}, nnSeq(9)...)
	out := nnRun(t, "Resize", 18, []*tensor.Tensor{x9, nil, nnScales(1.0 / 3)}, 1, nnAttrString("mode", "linear"), nnAttrInt("antialias", 1))
	g, _ := Float64s(out[0])
	if len(g) != 3 || abs64(g[1]-4) > 1e-5 {
		t.Fatalf("antialias linear: %v", g)
	}
	// tf_crop_and_resize on a subset of axes: roi covers axes [1] only.
	x2 := nnF32([]int{2, 4}, 1, 2, 3, 4, 5, 6, 7, 8)
	roi := tensor.FromSlice([]float32{0, 2.0 / 3}, 2)
	out = nnRun(t, "Resize", 18, []*tensor.Tensor{x2, roi, nil, nnSizes(3)}, 1, nnAttrString("mode", "linear"),
		nnAttrString("coordinate_transformation_mode", "tf_crop_and_resize"), nnAttrInts("axes", 1))
	// x_ori = o * (2/3) * 3 / 2 = o: the first three columns.
	nnCheck(t, out[0], []int{2, 3}, []float64{1, 2, 3, 5, 6, 7}, 1e-6)
}
