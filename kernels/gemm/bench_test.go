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
//	go test -run '^$' -bench . -count 6 ./kernels/gemm | tee new.txt
//	benchstat old.txt new.txt
//
// Each GEMM benchmark reports GFLOP/s and, on amd64, "%peak": the share of
// the single-core FMA peak of its implementation (times the threads),
// measured in the same process by the loop of BenchmarkPeakFMA. The
// best-GFLOP/s and best-%peak metrics time the fastest single call: on a
// machine shared with other work they show what the code does when it has
// the core, where the averages show what it got.

var (
	peakOnce sync.Once
	peaks    = map[string]float64{}
)

func peakOf(name string) (float64, bool) {
	peakOnce.Do(func() {
		for _, im := range available() {
			if g, ok := measurePeak(im.name); ok {
				peaks[im.name] = g
			}
		}
	})
	g, ok := peaks[name]
	return g, ok
}

type benchShape struct {
	name    string
	m, n, k int
	form    string // "packedB", "packedA", "plain", "transB" (plain, B stored transposed)
}

var benchShapes = []benchShape{
	{"sq512", 512, 512, 512, "packedB"},
	{"sq1024", 1024, 1024, 1024, "packedB"},
	{"bert", 128, 768, 768, "packedB"},
	{"batch4", 4, 768, 768, "packedB"},
	{"batch16", 16, 768, 768, "packedB"},
	{"gemv", 1, 768, 768, "packedB"},
	{"gemv-plain", 1, 768, 768, "plain"},
	{"gemv-transB", 1, 768, 768, "transB"},
	{"sq512-plain", 512, 512, 512, "plain"},
	// ResNet-50 convolutions as NCHW GEMMs: C[Cout][HW] = W[Cout][Cin·kh·kw]·col.
	{"rn50-conv2-3x3", 64, 3136, 576, "packedA"},
	{"rn50-conv2-1x1a", 64, 3136, 64, "packedA"},
	{"rn50-conv2-1x1b", 256, 3136, 64, "packedA"},
	{"rn50-conv3-3x3", 128, 784, 1152, "packedA"},
	{"rn50-conv4-3x3", 256, 196, 2304, "packedA"},
	{"rn50-conv5-3x3", 512, 49, 4608, "packedA"},
	{"rn50-conv5-1x1", 2048, 49, 512, "packedA"},
	// The same in NHWC orientation: C[HW][Cout] = col·Wᵀ.
	{"rn50-conv2-3x3-nhwc", 3136, 64, 576, "packedB"},
	{"rn50-conv3-3x3-nhwc", 784, 128, 1152, "packedB"},
	{"rn50-conv5-3x3-nhwc", 49, 512, 4608, "packedB"},
}

func BenchmarkGemm(b *testing.B) {
	pool := parallel.New(2)
	defer pool.Close()
	for _, s := range benchShapes {
		for _, threads := range []int{1, 2} {
			name := fmt.Sprintf("%s/m=%d,n=%d,k=%d/%s/threads=%d", s.name, s.m, s.n, s.k, s.form, threads)
			b.Run(name, func(b *testing.B) {
				benchGemm(b, s, threads, pool)
			})
		}
	}
}

// BenchmarkGemmImpl runs 512³ under every implementation, for comparison.
func BenchmarkGemmImpl(b *testing.B) {
	for _, im := range available() {
		b.Run(im.name, func(b *testing.B) {
			restore, _ := useImpl(im.name)
			defer restore()
			benchGemm(b, benchShape{"sq256", 256, 256, 256, "packedB"}, 1, nil)
		})
	}
}

func benchGemm(b *testing.B, s benchShape, threads int, pool *parallel.Pool) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := operand(rng, s.m, s.k, false, 0)
	bm := operand(rng, s.k, s.n, false, 0)
	c := make([]float32, s.m*s.n)
	var o *Options
	if threads > 1 {
		o = &Options{Parallel: pool.For, Threads: threads}
	}
	var f func()
	switch s.form {
	case "packedB":
		pb := PackB(s.k, s.n, bm)
		f = func() { GemmPackedB(s.m, 1, a, pb, 0, c, s.n, o) }
	case "packedA":
		pa := PackA(s.m, s.k, a)
		f = func() { GemmPackedA(s.n, 1, pa, bm, 0, c, s.n, o) }
	case "transB":
		bt := operand(rng, s.k, s.n, true, 0)
		f = func() { Gemm(s.m, s.n, s.k, 1, a, bt, 0, c, s.n, o) }
	default:
		f = func() { Gemm(s.m, s.n, s.k, 1, a, bm, 0, c, s.n, o) }
	}
	f()
	b.ReportAllocs()
	b.SetBytes(int64(4 * (s.m*s.k + s.k*s.n + s.m*s.n)))
	best := time.Duration(math.MaxInt64)
	for b.Loop() {
		start := time.Now()
		f()
		best = min(best, time.Since(start))
	}
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
	gflops := flops * float64(b.N) / b.Elapsed().Seconds() / 1e9
	bestGflops := flops / best.Seconds() / 1e9
	b.ReportMetric(gflops, "GFLOP/s")
	b.ReportMetric(bestGflops, "best-GFLOP/s")
	if peak, ok := peakOf(current.name); ok {
		b.ReportMetric(100*gflops/(peak*float64(threads)), "%peak")
		b.ReportMetric(100*bestGflops/(peak*float64(threads)), "best-%peak")
	}
}

// BenchmarkBlocking sweeps the blocking parameters on a few shapes, one
// thread: the data behind kcMax and bBlockBytes.
func BenchmarkBlocking(b *testing.B) {
	defer func(kc, bb int) { kcMax, bBlockBytes = kc, bb }(kcMax, bBlockBytes)
	shapes := []benchShape{
		{"sq512", 512, 512, 512, "packedB"},
		{"bert", 128, 768, 768, "packedB"},
		{"rn50-conv2-3x3", 64, 3136, 576, "packedA"},
	}
	for _, s := range shapes {
		for _, kc := range []int{128, 256, 512} {
			for _, bb := range []int{128 << 10, 512 << 10} {
				b.Run(fmt.Sprintf("%s/kc=%d,bblock=%dK", s.name, kc, bb>>10), func(b *testing.B) {
					kcMax, bBlockBytes = kc, bb
					benchGemm(b, s, 1, nil)
				})
			}
		}
	}
}
