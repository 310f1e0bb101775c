package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/inferd/inferd/internal/parallel"
)

// Run with, for example:
//
//	go test -run '^$' -bench 'GemmInt4' -count 6 ./kernels/gemm
//
// GB/s counts the bytes of the packed weight (4-bit values, scales and
// zero points) a call reads: the measure of a batch-1 product, which
// reads every weight once. "fp32" rows run the same shape with a float32
// weight through GemmPackedB, for comparison.

var benchInt4Shapes = []benchShape{
	{"gemv768", 1, 768, 768, "int4"},
	{"gemv4096", 1, 4096, 4096, "int4"},
	{"gemv4096x11008", 1, 11008, 4096, "int4"},
	{"gemv4096-fp32", 1, 4096, 4096, "fp32"},
	{"batch16", 16, 768, 768, "int4"},
	{"bert", 128, 768, 768, "int4"},
}

func BenchmarkGemmInt4(b *testing.B) {
	pool := parallel.New(2)
	defer pool.Close()
	for _, s := range benchInt4Shapes {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/m=%d,n=%d,k=%d/threads=%d", s.name, s.m, s.n, s.k, threads), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 1))
				a := operand(rng, s.m, s.k, false, 0)
				c := make([]float32, s.m*s.n)
				var o *Options
				if threads > 1 {
					o = &Options{Parallel: pool.For, Threads: threads}
				}
				var f func()
				var bytes int
				if s.form == "fp32" {
					pb := PackB(s.k, s.n, operand(rng, s.k, s.n, false, 0))
					bytes = 4 * pb.Floats()
					f = func() { GemmPackedB(s.m, 1, a, pb, 0, c, s.n, o) }
				} else {
					pb := PackInt4(randInt4(rng, s.k, s.n, 32, true, false))
					bytes = pb.Bytes()
					f = func() { GemmInt4PackedB(s.m, 1, a, pb, 0, c, s.n, o) }
				}
				f()
				b.ReportAllocs()
				b.SetBytes(int64(bytes))
				best := time.Duration(math.MaxInt64)
				for b.Loop() {
					start := time.Now()
					f()
					best = min(best, time.Since(start))
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
				b.ReportMetric(float64(bytes)/sec/1e9, "GB/s")
				b.ReportMetric(float64(bytes)/best.Seconds()/1e9, "best-GB/s")
				b.ReportMetric(flops/sec/1e9, "GFLOP/s")
				b.ReportMetric(flops/best.Seconds()/1e9, "best-GFLOP/s")
			})
		}
	}
}
