package dwconv

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// BenchmarkPlanMobileNet times Plan.Run on MobileNetV2's depthwise layers
// (3×3, padding 1, ReLU6), all channels of one image.
func BenchmarkPlanMobileNet(b *testing.B) {
	for _, bc := range []struct{ c, h, s int }{
		{4, 112, 1}, {32, 112, 1}, {96, 112, 2}, {8, 56, 1}, {8, 56, 2}, {144, 56, 1}, {144, 56, 2}, {192, 28, 1}, {192, 28, 2},
		{384, 14, 1}, {576, 14, 1}, {576, 14, 2}, {960, 7, 1},
	} {
		b.Run(fmt.Sprintf("c%d_%d_s%d", bc.c, bc.h, bc.s), func(b *testing.B) {
			oh := (bc.h-1)/bc.s + 1
			p := NewPlan(Geom{H: bc.h, W: bc.h, OH: oh, OW: oh, KH: 3, KW: 3, SH: bc.s, SW: bc.s, DH: 1, DW: 1, PT: 1, PL: 1})
			x := make([]float32, bc.c*bc.h*bc.h)
			for i := range x {
				x[i] = float32(i%7) - 3
			}
			y := make([]float32, bc.c*oh*oh)
			w := make([]float32, bc.c*9)
			bias := make([]float32, bc.c)
			sc := make([]float32, p.ScratchLen())
			best := time.Duration(math.MaxInt64)
			for b.Loop() {
				t0 := time.Now()
				p.Run(y, x, w, bias, bc.c, 1, 0, 6, sc)
				best = min(best, time.Since(t0))
			}
			b.ReportMetric(float64(best.Nanoseconds())/1e3, "best-us")
			b.ReportMetric(float64(4*(len(x)+len(y)))/best.Seconds()/1e9, "best-GB/s")
		})
	}
}
