package kernels

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/inferd/inferd/kernels/gemm"
)

// BenchmarkPointwiseMobileNet times MobileNetV2's 1×1 convolutions as the
// GEMMs Conv runs them (filter packed, X read in place, bias and ReLU6 in
// the epilogue), one thread, reporting the best run's GFLOP/s.
func BenchmarkPointwiseMobileNet(b *testing.B) {
	for _, s := range []struct{ m, k, p int }{
		{16, 32, 12544}, {96, 16, 12544}, {144, 24, 3136}, {24, 144, 3136},
		{384, 64, 196}, {576, 96, 196}, {96, 576, 196},
		{960, 160, 49}, {160, 960, 49}, {1280, 320, 49}, {1280, 320, 64},
	} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.k, s.p), func(b *testing.B) {
			w := make([]float32, s.m*s.k)
			x := make([]float32, s.k*s.p)
			for i := range w {
				w[i] = float32(i%5) * 0.01
			}
			for i := range x {
				x[i] = float32(i%7) * 0.1
			}
			bias := make([]float32, s.m)
			y := make([]float32, s.m*s.p)
			pa := gemm.PackA(s.m, s.k, gemm.Matrix{Data: w, Stride: s.k})
			o := gemm.Options{Epilogue: gemm.Epilogue{Bias: bias, BiasPerRow: true, Act: gemm.ActClip, Min: 0, Max: 6}}
			best := time.Duration(math.MaxInt64)
			for b.Loop() {
				t0 := time.Now()
				gemm.GemmPackedA(s.p, 1, pa, gemm.Matrix{Data: x, Stride: s.p}, 0, y, s.p, &o)
				best = min(best, time.Since(t0))
			}
			b.ReportMetric(float64(best.Nanoseconds())/1e3, "best-us")
			b.ReportMetric(2*float64(s.m*s.k*s.p)/best.Seconds()/1e9, "GFLOP/s")
		})
	}
}
