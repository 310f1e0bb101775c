package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/inferd/inferd/tensor"
)

// ortqDynQuantSpec is DynamicQuantizeLinear from the ONNX formulas, each
// float32 operation worked out in float64 and rounded once to float32
// (innocuous for +, − and ÷: 53 ≥ 2·24+2 bits): y_scale = (max(0, max x) −
// min(0, min x)) / 255, y_zero_point = saturate(roundHalfEven(0 −
// min/y_scale)), y = saturate(roundHalfEven(x / y_scale) + y_zero_point).
func ortqDynQuantSpec(x []float32) (scale float32, zp uint8, y []uint8) {
	mn, mx := 0.0, 0.0
	for _, v := range x {
		mn, mx = math.Min(mn, float64(v)), math.Max(mx, float64(v))
	}
	scale = float32(float64(float32(mx-mn)) / 255)
	z := math.RoundToEven(float64(-float32(mn / float64(scale))))
	z = min(255, max(0, z))
	y = make([]uint8, len(x))
	for i, v := range x {
		q := float64(float32(float64(v) / float64(scale)))
		y[i] = uint8(min(255, max(0, math.RoundToEven(q)+z)))
	}
	return scale, uint8(z), y
}

// TestDynamicQuantizeLinearSpec checks the reference and the fast
// DynamicQuantizeLinear code for code against the spec in float64, on
// tensors with many exact float32 ties of x / y_scale (where half to even
// and half away from zero part) across the parallel chunks.
func TestDynamicQuantizeLinearSpec(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{2, 3, 31, 4097, 70001} {
		for _, rng := range [][2]float32{{-4.1521196, 4.671134}, {-0.3, 7.9}, {0, 2.55}, {-13.7, 0}} {
			x := make([]float32, n)
			x[0], x[n-1] = rng[0], rng[1]
			s, _, _ := ortqDynQuantSpec([]float32{rng[0], rng[1]})
			// codes k + frac with k in [lo, hi), inside the range
			lo, hi := math.Ceil(float64(rng[0])/float64(s)), math.Floor(float64(rng[1])/float64(s))
			ties := 0
			for i := 1; i < n-1; i++ {
				k := lo + math.Floor(r.Float64()*(hi-lo))
				if i%2 == 0 {
					x[i] = float32((k + 0.5) * float64(s))
				} else {
					x[i] = float32((k + r.Float64()) * float64(s))
				}
				if q := float32(float64(x[i]) / float64(s)); q-float32(math.Floor(float64(q))) == 0.5 {
					ties++
				}
			}
			ws, wz, wy := ortqDynQuantSpec(x)
			if ws != s || (n > 30 && ties == 0) {
				t.Fatalf("n=%d range %v: test data off (scale %v vs %v, %d ties)", n, rng, ws, s, ties)
			}
			for _, f := range []struct {
				name string
				new  Factory
			}{{"reference", newDynamicQuantizeLinear}, {"fast", newQDynamicQuantizeFast}} {
				k, err := f.new(qBuild("DynamicQuantizeLinear", 1, nil))
				if err != nil {
					t.Fatal(err)
				}
				out, err := k.(Kernel).Run(&Context{}, []*tensor.Tensor{tensor.FromSlice(x, n)})
				if err != nil {
					t.Fatal(err)
				}
				gs, gz, gy := out[1].Data.([]float32)[0], out[2].Data.([]uint8)[0], out[0].Data.([]uint8)
				if gs != ws || gz != wz {
					t.Fatalf("%s n=%d range %v: scale %v zero point %d, want %v %d", f.name, n, rng, gs, gz, ws, wz)
				}
				for i := range wy {
					if gy[i] != wy[i] {
						t.Fatalf("%s n=%d range %v: x[%d]=%v (x/scale=%v) gives %d, want %d", f.name, n, rng, i, x[i], x[i]/ws, gy[i], wy[i])
					}
				}
			}
		}
	}
}
