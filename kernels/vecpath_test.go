package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// TestVecFastPaths checks the float32 paths that run package vec against
// the same op on float64 inputs (computed with math's float64
// functions), over shapes that take each fast path (same shape, scalar
// on either side, last-axis and per-channel broadcasts) with lengths
// around the vector widths and vec.BlockLen.
func TestVecFastPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	rnd := func(scale float64, shape ...int) (*tensor.Tensor, *tensor.Tensor) {
		n := tensor.NumElements(shape)
		v32 := make([]float32, n)
		v64 := make([]float64, n)
		for i := range v32 {
			v32[i] = float32(r.NormFloat64() * scale)
			v64[i] = float64(v32[i])
		}
		return tensor.FromSlice(v32, shape...), tensor.FromSlice(v64, shape...)
	}
	type tc struct {
		op     string
		opset  int64
		attrs  []*ir.Attribute
		shapes [][]int
		nout   int
		scale  float64
		rel    float64 // per element, plus an absolute floor of rel·scale
	}
	cases := []tc{
		{op: "Exp", opset: 13, shapes: [][]int{{3, 37}}, scale: 10, rel: 2e-7},
		{op: "Tanh", opset: 13, shapes: [][]int{{5000}}, scale: 2, rel: 2e-7},
		{op: "Sigmoid", opset: 13, shapes: [][]int{{7, 9}}, scale: 5, rel: 2e-7},
		{op: "Erf", opset: 13, shapes: [][]int{{70}}, scale: 1.5, rel: 2e-7},
		{op: "Relu", opset: 14, shapes: [][]int{{33}}, scale: 1},
		{op: "Gelu", opset: 20, shapes: [][]int{{65}}, scale: 2, rel: 3e-7},
		{op: "Gelu", opset: 20, attrs: []*ir.Attribute{ewAttrS("approximate", "tanh")}, shapes: [][]int{{65}}, scale: 2, rel: 3e-6},
		{op: "Add", opset: 14, shapes: [][]int{{4, 33}, {4, 33}}, scale: 1},
		{op: "Sub", opset: 14, shapes: [][]int{{4, 33}, {33}}, scale: 1},
		{op: "Sub", opset: 14, shapes: [][]int{{33}, {4, 33}}, scale: 1},
		{op: "Mul", opset: 14, shapes: [][]int{{2, 3, 5, 7}, {3, 1, 1}}, scale: 1},
		{op: "Div", opset: 14, shapes: [][]int{{2, 19}, {}}, scale: 1},
		{op: "Div", opset: 14, shapes: [][]int{{}, {2, 19}}, scale: 1},
		{op: "Sub", opset: 14, shapes: [][]int{{}, {41}}, scale: 1},
		{op: "Softmax", opset: 13, shapes: [][]int{{3, 1100}}, scale: 5, rel: 5e-7},
		{op: "Softmax", opset: 11, attrs: []*ir.Attribute{ewAttrI("axis", 1)}, shapes: [][]int{{2, 3, 7}}, scale: 5, rel: 5e-7},
		{op: "LogSoftmax", opset: 13, shapes: [][]int{{5, 40}}, scale: 5, rel: 5e-7},
		{op: "LayerNormalization", opset: 17, shapes: [][]int{{3, 4, 1030}, {1030}, {1030}}, nout: 3, scale: 1, rel: 2e-6},
		{op: "LayerNormalization", opset: 17, shapes: [][]int{{6, 31}, {31}}, nout: 3, scale: 1, rel: 2e-6},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s%v", c.op, c.shapes), func(t *testing.T) {
			var in32, in64 []*tensor.Tensor
			for k, s := range c.shapes {
				a, b := rnd(c.scale, s...)
				if c.op == "Div" && k == 1 || c.op == "LayerNormalization" && k > 0 {
					for i, v := range a.Data.([]float32) {
						a.Data.([]float32)[i] = v + 3
						b.Data.([]float64)[i] = float64(v + 3)
					}
				}
				in32, in64 = append(in32, a), append(in64, b)
			}
			nout := max(c.nout, 1)
			got, err := linalgTry(c.op, c.opset, nout, c.attrs, nil, in32...)
			if err != nil {
				t.Fatal(err)
			}
			want, err := linalgTry(c.op, c.opset, nout, c.attrs, nil, in64...)
			if err != nil {
				t.Fatal(err)
			}
			for o := range got {
				g, err := Float64s(got[o])
				if err != nil {
					t.Fatal(err)
				}
				w, _ := Float64s(want[o])
				if len(g) != len(w) {
					t.Fatalf("output %d: %d values, want %d", o, len(g), len(w))
				}
				for i := range w {
					if d := math.Abs(g[i] - w[i]); d > c.rel*(math.Abs(w[i])+c.scale) && !(d <= 6e-8*math.Abs(w[i])) {
						t.Fatalf("output %d [%d] = %g, float64 path %g (rel %.3g)", o, i, g[i], w[i], d/math.Abs(w[i]))
					}
				}
			}
		})
	}
}
