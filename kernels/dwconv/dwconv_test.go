package dwconv

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRows compares Rows with a float64 reference over shapes around the
// kernels' blocking (four-row groups of narrow rows, 64 or 32 columns per
// block, 16 per vector), both strides and clamps, with guard values around
// y that must survive.
func TestRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const guard = 16
	for _, stride := range []int{1, 2} {
		for _, rows := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 17} {
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
			best := time.Duration(math.MaxInt64)
			for b.Loop() {
				t0 := time.Now()
				for range bc.chans {
					Rows(y, ow, x, bc.stride*wp, oh, ow, bc.stride, offs, w, 0, -inf, inf)
				}
				best = min(best, time.Since(t0))
			}
			flops := float64(9*oh*ow*bc.chans) * 2
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(flops/best.Seconds()/1e9, "best-GFLOP/s")
		})
	}
}

// TestPlan compares Plan.Run with a float64 reference over padded and
// unpadded planes, strides, dilations, uneven padding and channel
// multipliers.
func TestPlan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type tc struct{ h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int }
	cases := []tc{
		{7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
		{14, 14, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
		{56, 56, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
		{57, 70, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
		{9, 40, 5, 5, 1, 2, 2, 1, 3, 2, 1, 0},
		{5, 100, 3, 5, 3, 1, 1, 2, 0, 4, 2, 4},
		{3, 3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},
		{2, 50, 5, 3, 1, 1, 1, 1, 2, 1, 2, 1},
		{6, 6, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
	}
	for ci, cs := range cases {
		g := Geom{H: cs.h, W: cs.w, KH: cs.kh, KW: cs.kw, SH: cs.sh, SW: cs.sw, DH: cs.dh, DW: cs.dw, PT: cs.pt, PL: cs.pl}
		g.OH = (cs.h+cs.pt+cs.pb-(cs.kh-1)*cs.dh-1)/cs.sh + 1
		g.OW = (cs.w+cs.pl+cs.pr-(cs.kw-1)*cs.dw-1)/cs.sw + 1
		p := NewPlan(g)
		if p == nil {
			t.Fatalf("case %d: no plan", ci)
		}
		for _, mult := range []int{1, 2} {
			const ch = 4
			x := make([]float32, ch/mult*g.H*g.W)
			w := make([]float32, ch*g.KH*g.KW)
			bias := make([]float32, ch)
			for _, v := range [][]float32{x, w, bias} {
				for i := range v {
					v[i] = rng.Float32()*2 - 1
				}
			}
			y := make([]float32, ch*g.OH*g.OW)
			for i := range y {
				y[i] = float32(math.NaN())
			}
			lo, hi := float32(-0.5), float32(0.75)
			p.Run(y, x, w, bias, ch, mult, lo, hi, make([]float32, p.ScratchLen()))
			for c := 0; c < ch; c++ {
				for oh := 0; oh < g.OH; oh++ {
					for ow := 0; ow < g.OW; ow++ {
						s := float64(bias[c])
						for kh := 0; kh < g.KH; kh++ {
							for kw := 0; kw < g.KW; kw++ {
								ih, iw := oh*g.SH-g.PT+kh*g.DH, ow*g.SW-g.PL+kw*g.DW
								if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
									s += float64(w[c*g.KH*g.KW+kh*g.KW+kw]) * float64(x[c/mult*g.H*g.W+ih*g.W+iw])
								}
							}
						}
						s = math.Min(math.Max(s, float64(lo)), float64(hi))
						got := y[c*g.OH*g.OW+oh*g.OW+ow]
						if math.Abs(float64(got)-s) > 1e-5 {
							t.Fatalf("case %d mult %d: y[%d][%d][%d] = %v, want %v", ci, mult, c, oh, ow, got, s)
						}
					}
				}
			}
		}
	}
}
