package dwconv

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRows compares Rows with a float64 reference over shapes around the
// kernels' blocking (four-row groups of narrow rows, 64 or 32 columns per
// block, 16 per vector), both strides and clamps, with guard values around
// y that must survive.
func TestRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const guard = 16
	for _, stride := range []int{1, 2} {
		for _, rows := range []int{1, 2, 3, 4, 5, 7, 9} {
			for _, cols := range []int{1, 2, 7, 14, 15, 16, 17, 28, 31, 32, 33, 56, 63, 64, 65, 112, 130} {
				for _, clampOn := range []bool{false, true} {
					kw := 3
					taps := 9
					xstep := stride*cols + kw + rng.IntN(3)
					ystep := cols + rng.IntN(3)
					offs := make([]int, taps)
					w := make([]float32, taps)
					for i := range offs {
						offs[i] = (i/kw)*xstep + i%kw
						w[i] = rng.Float32()*2 - 1
					}
					x := make([]float32, (rows-1+3)*xstep+stride*cols+kw)
					for i := range x {
						x[i] = rng.Float32()*2 - 1
					}
					// The taps read up to (rows-1)·xstep + max(offs) + stride·(cols-1).
					x = x[:(rows-1)*xstep+offs[taps-1]+stride*(cols-1)+1]
					y := make([]float32, guard+(rows-1)*ystep+cols+guard)
					for i := range y {
						y[i] = 777
					}
					bias := rng.Float32()
					lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
					if clampOn {
						lo, hi = 0, 1
					}
					Rows(y[guard:], ystep, x, xstep, rows, cols, stride, offs, w, bias, lo, hi)
					for i := range y {
						r, c := (i-guard)/ystep, (i-guard)%ystep
						inside := i >= guard && r < rows && c < cols
						if !inside {
							if y[i] != 777 {
								t.Fatalf("stride %d rows %d cols %d: y[%d] (outside) = %v", stride, rows, cols, i-guard, y[i])
							}
							continue
						}
						s := float64(bias)
						for k, o := range offs {
							s += float64(w[k]) * float64(x[r*xstep+o+stride*c])
						}
						s = math.Min(math.Max(s, float64(lo)), float64(hi))
						if math.Abs(float64(y[i])-s) > 1e-5 {
							t.Fatalf("stride %d rows %d cols %d clamp %v: y[%d][%d] = %v, want %v", stride, rows, cols, clampOn, r, c, y[i], s)
						}
					}
				}
			}
		}
	}
}

func TestRowsNaN(t *testing.T) {
	x := []float32{1, float32(math.NaN()), 3, 4}
	y := make([]float32, 3)
	Rows(y, 3, x, 4, 1, 3, 1, []int{0, 1}, []float32{1, 1}, 0, 0, 6)
	if y[0] == y[0] || y[1] == y[1] || y[2] != 6 {
		t.Fatalf("got %v, want [NaN NaN 6]", y)
	}
}

func TestRowsPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("out-of-range taps did not panic")
		}
	}()
	Rows(make([]float32, 4), 4, make([]float32, 4), 4, 1, 4, 1, []int{1}, []float32{1}, 0, 0, 0)
}

func BenchmarkRows(b *testing.B) {
	for _, bc := range []struct {
		name                string
		h, w, stride, chans int
	}{{"112s1", 112, 112, 1, 1}, {"56s2", 112, 112, 2, 1}, {"14s1", 14, 14, 1, 16}, {"7s2", 14, 14, 2, 16}} {
		b.Run(bc.name, func(b *testing.B) {
			wp := bc.w + 2
			x := make([]float32, (bc.h+3)*wp)
			oh, ow := bc.h/bc.stride, bc.w/bc.stride
			y := make([]float32, oh*ow)
			offs := []int{0, 1, 2, wp, wp + 1, wp + 2, 2 * wp, 2*wp + 1, 2*wp + 2}
			w := make([]float32, 9)
			inf := float32(math.Inf(1))
			for b.Loop() {
				for range bc.chans {
					Rows(y, ow, x, bc.stride*wp, oh, ow, bc.stride, offs, w, 0, -inf, inf)
				}
			}
			b.ReportMetric(float64(9*oh*ow*bc.chans)*2*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
