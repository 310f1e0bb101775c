package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/inferd/inferd/internal/parallel"
)

// Run with, for example:
//
//	go test -run '^$' -bench 'GemmBF16|PeakBF16' -count 6 ./kernels/gemm
//
// GFLOP/s counts 2·m·n·k; %peak is against the VDPBF16PS loop of
// BenchmarkPeakBF16 measured in the same process (times the threads).

var (
	peakBF16Once sync.Once
	peakBF16Val  float64
	peakBF16OK   bool
)

var benchBF16Shapes = []benchShape{
	{"sq512", 512, 512, 512, "packedB"},
	{"bert", 128, 768, 768, "packedB"},
	{"batch16", 16, 768, 768, "packedB"},
	{"gemv", 1, 768, 768, "packedB"},
}

func BenchmarkGemmBF16(b *testing.B) {
	pool := parallel.New(2)
	defer pool.Close()
	for _, s := range benchBF16Shapes {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/m=%d,n=%d,k=%d/threads=%d", s.name, s.m, s.n, s.k, threads), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 1))
				a := operand(rng, s.m, s.k, false, 0)
				pb := PackBF16(s.k, s.n, operand(rng, s.k, s.n, false, 0))
				c := make([]float32, s.m*s.n)
				var o *Options
				if threads > 1 {
					o = &Options{Parallel: pool.For, Threads: threads}
				}
				f := func() { GemmBF16PackedB(s.m, 1, a, pb, 0, c, s.n, o) }
				f()
				b.ReportAllocs()
				best := time.Duration(math.MaxInt64)
				for b.Loop() {
					start := time.Now()
					f()
					best = min(best, time.Since(start))
				}
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
				g := flops * float64(b.N) / b.Elapsed().Seconds() / 1e9
				bg := flops / best.Seconds() / 1e9
				b.ReportMetric(g, "GFLOP/s")
				b.ReportMetric(bg, "best-GFLOP/s")
				peakBF16Once.Do(func() { peakBF16Val, peakBF16OK = measurePeakBF16() })
				if peakBF16OK && curBF16.name != "generic" {
					b.ReportMetric(100*g/(peakBF16Val*float64(threads)), "%peak")
					b.ReportMetric(100*bg/(peakBF16Val*float64(threads)), "best-%peak")
				}
			})
		}
	}
}
