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
//	go test -run '^$' -bench 'Gemm8|PeakVNNI' -count 6 ./kernels/gemm | tee new.txt
//	benchstat old.txt new.txt
//
// Each 8-bit benchmark reports GOP/s (2·m·n·k integer operations a call)
// and, where the implementation has one, "%peak": the share of the
// single-core VPDPBUSD peak (times the threads) measured in the same
// process by BenchmarkPeakVNNI's loop. best-GOP/s and best-%peak time the
// fastest single call.

var (
	peak8Once sync.Once
	peaks8    = map[string]float64{}
)

func peak8Of(name string) (float64, bool) {
	peak8Once.Do(func() {
		for _, im := range available8() {
			if g, ok := measurePeak8(im.name); ok {
				peaks8[im.name] = g
			}
		}
	})
	g, ok := peaks8[name]
	return g, ok
}

// bench8Shapes are the 8-bit benchmark shapes: "packedB" is the MatMul
// form (uint8 activations × packed int8 weight), "packedA" the NCHW
// convolution form (packed int8 filter × uint8 im2col columns).
var bench8Shapes = []benchShape{
	{"sq512", 512, 512, 512, "packedB"},
	{"bert", 128, 768, 768, "packedB"},
	{"batch16", 16, 768, 768, "packedB"},
	{"gemv", 1, 768, 768, "packedB"},
	{"sq512-plain", 512, 512, 512, "plain"},
	{"rn50-conv2-3x3", 64, 3136, 576, "packedA"},
	{"rn50-conv2-1x1a", 64, 3136, 64, "packedA"},
	{"rn50-conv2-1x1b", 256, 3136, 64, "packedA"},
	{"rn50-conv3-3x3", 128, 784, 1152, "packedA"},
	{"rn50-conv4-3x3", 256, 196, 2304, "packedA"},
	{"rn50-conv5-3x3", 512, 49, 4608, "packedA"},
	{"rn50-conv5-1x1", 2048, 49, 512, "packedA"},
}

func BenchmarkGemm8(b *testing.B) {
	pool := parallel.New(2)
	defer pool.Close()
	for _, s := range bench8Shapes {
		for _, threads := range []int{1, 2} {
			name := fmt.Sprintf("%s/m=%d,n=%d,k=%d/%s/threads=%d", s.name, s.m, s.n, s.k, s.form, threads)
			b.Run(name, func(b *testing.B) { benchGemm8(b, s, threads, pool, "u8") })
		}
	}
}

// BenchmarkGemm8Output compares the outputs on 128×768×768.
func BenchmarkGemm8Output(b *testing.B) {
	for _, out := range []string{"i32", "f32", "u8"} {
		b.Run(out, func(b *testing.B) { benchGemm8(b, benchShape{"bert", 128, 768, 768, "packedB"}, 1, nil, out) })
	}
}

// BenchmarkGemm8Impl runs 256³ under every implementation.
func BenchmarkGemm8Impl(b *testing.B) {
	for _, im := range available8() {
		b.Run(im.name, func(b *testing.B) {
			restore, _ := useImpl8(im.name)
			defer restore()
			benchGemm8(b, benchShape{"sq256", 256, 256, 256, "packedB"}, 1, nil, "u8")
		})
	}
}

func benchGemm8(b *testing.B, s benchShape, threads int, pool *parallel.Pool, out string) {
	rng := rand.New(rand.NewPCG(1, 1))
	e := &QEpilogue{Ldc: s.n, ZeroPoint: 128}
	switch out {
	case "i32":
		e.Int32 = make([]int32, s.m*s.n)
	case "f32":
		e.Float32 = make([]float32, s.m*s.n)
	default:
		e.Uint8 = make([]uint8, s.m*s.n)
	}
	var o *Options8
	if threads > 1 {
		o = &Options8{Parallel: pool.For, Threads: threads}
	}
	var f func()
	switch s.form {
	case "packedA": // Y = W·X: int8 filter, uint8 activations
		w := matrix8(rng, s.m, s.k, true, false, 0)
		x := matrix8(rng, s.k, s.n, false, false, 0)
		if out != "i32" {
			e.PerRow, e.Scale = true, floats8(rng, "vec", s.m, 1e-5, 2e-5)
		}
		pa := PackA8(s.m, s.k, w, nil)
		zx := []int32{100}
		f = func() { Gemm8PackedA(s.n, pa, x, zx, e, o) }
	default: // Y = X·W: uint8 activations, int8 weight
		x := matrix8(rng, s.m, s.k, false, false, 0)
		w := matrix8(rng, s.k, s.n, true, false, 0)
		if out != "i32" {
			e.Scale = floats8(rng, "vec", s.n, 1e-5, 2e-5)
		}
		zx := []int32{100}
		if s.form == "plain" {
			f = func() { Gemm8(s.m, s.n, s.k, x, zx, w, nil, e, o) }
		} else {
			pb := PackB8(s.k, s.n, w, nil)
			f = func() { Gemm8PackedB(s.m, x, zx, pb, e, o) }
		}
	}
	f()
	b.ReportAllocs()
	b.SetBytes(int64(s.m*s.k + s.k*s.n + s.m*s.n))
	best := time.Duration(math.MaxInt64)
	for b.Loop() {
		start := time.Now()
		f()
		best = min(best, time.Since(start))
	}
	ops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
	gops := ops * float64(b.N) / b.Elapsed().Seconds() / 1e9
	bestGops := ops / best.Seconds() / 1e9
	b.ReportMetric(gops, "GOP/s")
	b.ReportMetric(bestGops, "best-GOP/s")
	if peak, ok := peak8Of(cur8.name); ok {
		b.ReportMetric(100*gops/(peak*float64(threads)), "%peak")
		b.ReportMetric(100*bestGops/(peak*float64(threads)), "best-%peak")
	}
}
