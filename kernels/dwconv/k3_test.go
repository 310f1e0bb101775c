package dwconv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestK3 compares 3×3 plans (the k3 kernels where the CPU has them) with a
// float64 reference over plane sizes around the kernels' blocking (16
// columns a vector, up to 4 vectors and 8 rows a block, blocks moved back
// at the edges), both strides, every padding up to 2 on each side, one to
// five channels, with and without bias, and guard values after y that
// must survive.
func TestK3(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sizes := []int{1, 2, 3, 5, 7, 8, 9, 14, 15, 16, 17, 28, 31, 32, 33, 47, 56, 64, 65, 70, 112}
	n := 0
	for _, s := range []int{1, 2} {
		for _, h := range sizes {
			for _, w := range sizes {
				if h*w > 2000 && rng.IntN(4) != 0 {
					continue
				}
				pt, pl, pb, pr := rng.IntN(3), rng.IntN(3), rng.IntN(3), rng.IntN(3)
				if rng.IntN(2) == 0 {
					pt, pl, pb, pr = 1, 1, 1, 1
				}
				g := Geom{H: h, W: w, KH: 3, KW: 3, SH: s, SW: s, DH: 1, DW: 1, PT: pt, PL: pl}
				g.OH = (h+pt+pb-3)/s + 1
				g.OW = (w+pl+pr-3)/s + 1
				if g.OH < 1 || g.OW < 1 {
					continue
				}
				ch := 1 + rng.IntN(5)
				name := fmt.Sprintf("s%d %dx%d pad %d,%d,%d,%d ch %d", s, h, w, pt, pl, pb, pr, ch)
				k3Check(t, name, g, ch, rng.IntN(3) != 0, rng)
				n++
			}
		}
	}
	if k3Kernel(1, 1, 1) != nil && newK3(Geom{H: 7, W: 7, OH: 7, OW: 7, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1}) == nil {
		t.Errorf("no 3×3 kernel for a 7×7 plane where the kernels exist")
	}
}

func k3Check(t *testing.T, name string, g Geom, ch int, withBias bool, rng *rand.Rand) {
	t.Helper()
	p := NewPlan(g)
	if p == nil {
		t.Fatalf("%s: no plan", name)
	}
	x := make([]float32, ch*g.H*g.W)
	w := make([]float32, ch*9)
	var bias []float32
	if withBias {
		bias = make([]float32, ch)
	}
	for _, v := range [][]float32{x, w, bias} {
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
	}
	const guard = 20
	out := ch * g.OH * g.OW
	y := make([]float32, out+guard)
	for i := range y {
		y[i] = float32(math.NaN())
	}
	lo, hi := float32(-0.5), float32(0.75)
	if rng.IntN(2) == 0 {
		lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	}
	scratch := make([]float32, p.ScratchLen())
	for i := range scratch {
		scratch[i] = float32(math.NaN()) // Run must not rely on a zeroed scratch
	}
	p.Run(y[:out], x, w, bias, ch, 1, lo, hi, scratch)
	for i := out; i < len(y); i++ {
		if !math.IsNaN(float64(y[i])) {
			t.Fatalf("%s: guard y[%d] overwritten with %v", name, i, y[i])
		}
	}
	for c := 0; c < ch; c++ {
		for oh := 0; oh < g.OH; oh++ {
			for ow := 0; ow < g.OW; ow++ {
				s := 0.0
				if bias != nil {
					s = float64(bias[c])
				}
				for kh := 0; kh < 3; kh++ {
					for kw := 0; kw < 3; kw++ {
						ih, iw := oh*g.SH-g.PT+kh, ow*g.SW-g.PL+kw
						if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
							s += float64(w[c*9+kh*3+kw]) * float64(x[(c*g.H+ih)*g.W+iw])
						}
					}
				}
				s = math.Min(math.Max(s, float64(lo)), float64(hi))
				got := y[(c*g.OH+oh)*g.OW+ow]
				if math.Abs(float64(got)-s) > 1e-5 {
					t.Fatalf("%s: y[%d][%d][%d] = %v, want %v", name, c, oh, ow, got, s)
				}
			}
		}
	}
}
