package kernels

import (
	"flag"
	"fmt"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/tensor"
)

// ResNet-50 convolution shapes (batch 1).
var nnBenchShapes = []struct {
	name                string
	c, h, m, k, s, p, g int
}{
	{"conv1_7x7s2", 3, 224, 64, 7, 2, 3, 1},
	{"l1_3x3", 64, 56, 64, 3, 1, 1, 1},
	{"l1_1x1_256to64", 256, 56, 64, 1, 1, 0, 1},
	{"l2_1x1s2_ds", 256, 56, 512, 1, 2, 0, 1},
	{"l3_3x3", 256, 14, 256, 3, 1, 1, 1},
	{"l4_1x1_2048to512", 2048, 7, 512, 1, 1, 0, 1},
	{"l4_3x3", 512, 7, 512, 3, 1, 1, 1},
	{"dw_3x3_112", 32, 112, 32, 3, 1, 1, 32},
	// MobileNetV2 pointwise and depthwise shapes.
	{"pw_16to96_112", 16, 112, 96, 1, 1, 0, 1},
	{"pw_144to24_56", 144, 56, 24, 1, 1, 0, 1},
	{"pw_64to384_14", 64, 14, 384, 1, 1, 0, 1},
	{"pw_384to64_14", 384, 14, 64, 1, 1, 0, 1},
	{"pw_160to960_7", 160, 7, 960, 1, 1, 0, 1},
	{"pw_960to160_7", 960, 7, 160, 1, 1, 0, 1},
	{"dw_3x3s2_56", 144, 56, 144, 3, 2, 1, 144},
	{"dw_3x3_14", 384, 14, 384, 3, 1, 1, 384},
	{"dw_3x3_7", 960, 7, 960, 3, 1, 1, 960},
}

func BenchmarkConvShapes(b *testing.B) {
	for _, threads := range []int{1, 2} {
		for _, sh := range nnBenchShapes {
			b.Run(fmt.Sprintf("%s/t%d", sh.name, threads), func(b *testing.B) {
				x := tensor.New(tensor.Float32, 1, sh.c, sh.h, sh.h)
				w := tensor.New(tensor.Float32, sh.m, sh.c/sh.g, sh.k, sh.k)
				bias := tensor.New(tensor.Float32, sh.m)
				for i, v := 0, x.Data.([]float32); i < len(v); i++ {
					v[i] = float32(i%13) * 0.1
				}
				for i, v := 0, w.Data.([]float32); i < len(v); i++ {
					v[i] = float32(i%7) * 0.01
				}
				// W and B are initializers, as in a model: the filter is
				// packed when the kernel is built.
				k, err := nnBuildConst(b, "Conv", 13, 3, 1, []*tensor.Tensor{nil, w, bias}, nnAttrInts("strides", int64(sh.s), int64(sh.s)),
					nnAttrInts("pads", int64(sh.p), int64(sh.p), int64(sh.p), int64(sh.p)), nnAttrInt("group", int64(sh.g)))
				if err != nil {
					b.Fatal(err)
				}
				pool := parallel.New(threads)
				defer pool.Close()
				ctx := &Context{Par: pool.For, Threads: threads, Arena: NewArena(1)}
				out := (sh.h+2*sh.p-sh.k)/sh.s + 1
				b.ResetTimer()
				cpu0 := nnCPUTime()
				best := time.Duration(math.MaxInt64)
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					ctx.Arena.Begin(0)
					if _, err := k.Run(ctx, []*tensor.Tensor{x, w, bias}); err != nil {
						b.Fatal(err)
					}
					best = min(best, time.Since(t0))
				}
				flops := 2.0 * float64(sh.m*(sh.c/sh.g)*sh.k*sh.k*out*out)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
				b.ReportMetric(flops/best.Seconds()/1e9, "bestGFLOPS")
				b.ReportMetric(flops*float64(b.N)/(nnCPUTime()-cpu0)/1e9, "cpuGFLOPS")
			})
		}
	}
}

// nnCPUTime returns the process's user+system CPU seconds, a steadier
// measure than wall time on a loaded machine.
func nnCPUTime() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// nnResNetShapes are the distinct convolutions of ResNet-50 and ResNet-18
// (batch 1) with how many times each model runs them, so that a run of
// BenchmarkConvResNet estimates each model's convolution time:
//
//	go test ./kernels -run '^$' -bench ConvResNet -benchtime 40x
type nnResNetShape struct {
	name             string
	c, h, m, k, s, p int
	n50, n18         int // uses in ResNet-50 and ResNet-18
}

var nnResNetShapes = []nnResNetShape{
	{"conv1_7x7s2", 3, 224, 64, 7, 2, 3, 1, 1},
	{"l1_1x1_64to64", 64, 56, 64, 1, 1, 0, 1, 0},
	{"l1_3x3_64", 64, 56, 64, 3, 1, 1, 3, 4},
	{"l1_1x1_64to256", 64, 56, 256, 1, 1, 0, 4, 0},
	{"l1_1x1_256to64", 256, 56, 64, 1, 1, 0, 2, 0},
	{"l2_1x1_256to128", 256, 56, 128, 1, 1, 0, 1, 0},
	{"l2_3x3s2_128", 128, 56, 128, 3, 2, 1, 1, 0},
	{"l2_3x3s2_64to128", 64, 56, 128, 3, 2, 1, 0, 1},
	{"l2_1x1s2_ds_256", 256, 56, 512, 1, 2, 0, 1, 0},
	{"l2_1x1s2_ds_64", 64, 56, 128, 1, 2, 0, 0, 1},
	{"l2_1x1_128to512", 128, 28, 512, 1, 1, 0, 4, 0},
	{"l2_1x1_512to128", 512, 28, 128, 1, 1, 0, 3, 0},
	{"l2_3x3_128", 128, 28, 128, 3, 1, 1, 3, 3},
	{"l3_1x1_512to256", 512, 28, 256, 1, 1, 0, 1, 0},
	{"l3_3x3s2_256", 256, 28, 256, 3, 2, 1, 1, 0},
	{"l3_3x3s2_128to256", 128, 28, 256, 3, 2, 1, 0, 1},
	{"l3_1x1s2_ds_512", 512, 28, 1024, 1, 2, 0, 1, 0},
	{"l3_1x1s2_ds_128", 128, 28, 256, 1, 2, 0, 0, 1},
	{"l3_1x1_256to1024", 256, 14, 1024, 1, 1, 0, 6, 0},
	{"l3_1x1_1024to256", 1024, 14, 256, 1, 1, 0, 5, 0},
	{"l3_3x3_256", 256, 14, 256, 3, 1, 1, 5, 3},
	{"l4_1x1_1024to512", 1024, 14, 512, 1, 1, 0, 1, 0},
	{"l4_3x3s2_512", 512, 14, 512, 3, 2, 1, 1, 0},
	{"l4_3x3s2_256to512", 256, 14, 512, 3, 2, 1, 0, 1},
	{"l4_1x1s2_ds_1024", 1024, 14, 2048, 1, 2, 0, 1, 0},
	{"l4_1x1s2_ds_256", 256, 14, 512, 1, 2, 0, 0, 1},
	{"l4_1x1_512to2048", 512, 7, 2048, 1, 1, 0, 3, 0},
	{"l4_1x1_2048to512", 2048, 7, 512, 1, 1, 0, 2, 0},
	{"l4_3x3_512", 512, 7, 512, 3, 1, 1, 2, 3},
}

// nnBenchCold, set by -convcold, evicts the caches before each timed run,
// as a model does with its weights: ResNet-50's 100 MB stream from memory
// every run.
var nnBenchCold = flag.Bool("convcold", false, "BenchmarkConvResNet: evict the caches before each run")

// nnEvict is written before each cold run.
var nnEvict []byte

func nnEvictCaches() {
	if nnEvict == nil {
		nnEvict = make([]byte, 64<<20)
	}
	for i := 0; i < len(nnEvict); i += 64 {
		nnEvict[i]++
	}
}

// BenchmarkConvResNet times each ResNet convolution as the models run it
// (FusedConv with Relu, constant filter and bias); bestms is the fastest
// run, and cpums the mean CPU time of a run (all threads), which a loaded
// machine inflates less than wall time.
func BenchmarkConvResNet(b *testing.B) {
	for _, threads := range []int{1, 2} {
		for _, sh := range nnResNetShapes {
			b.Run(fmt.Sprintf("%s/t%d", sh.name, threads), func(b *testing.B) {
				x := tensor.New(tensor.Float32, 1, sh.c, sh.h, sh.h)
				w := tensor.New(tensor.Float32, sh.m, sh.c, sh.k, sh.k)
				bias := tensor.New(tensor.Float32, sh.m)
				for i, v := 0, x.Data.([]float32); i < len(v); i++ {
					v[i] = float32(i%13)*0.1 - 0.5
				}
				for i, v := 0, w.Data.([]float32); i < len(v); i++ {
					v[i] = float32(i%7)*0.01 - 0.03
				}
				k, err := nnBuildConst(b, "Conv", 13, 3, 1, []*tensor.Tensor{nil, w, bias}, nnAttrInts("strides", int64(sh.s), int64(sh.s)),
					nnAttrInts("pads", int64(sh.p), int64(sh.p), int64(sh.p), int64(sh.p)))
				if err != nil {
					b.Fatal(err)
				}
				pool := parallel.New(threads)
				defer pool.Close()
				ctx := &Context{Par: pool.For, Threads: threads, Arena: NewArena(1)}
				out := (sh.h+2*sh.p-sh.k)/sh.s + 1
				in := []*tensor.Tensor{x, w, bias}
				for range 3 {
					ctx.Arena.Begin(0)
					k.Run(ctx, in)
				}
				b.ResetTimer()
				best := time.Duration(math.MaxInt64)
				cpu := 0.0
				for i := 0; i < b.N; i++ {
					if *nnBenchCold {
						b.StopTimer()
						nnEvictCaches()
						b.StartTimer()
					}
					c0 := nnCPUTime()
					t0 := time.Now()
					ctx.Arena.Begin(0)
					if _, err := k.Run(ctx, in); err != nil {
						b.Fatal(err)
					}
					best = min(best, time.Since(t0))
					cpu += nnCPUTime() - c0
				}
				flops := 2.0 * float64(sh.m*sh.c*sh.k*sh.k*out*out)
				b.ReportMetric(cpu/float64(b.N)*1e3, "cpums")
				b.ReportMetric(float64(best.Nanoseconds())/1e6, "bestms")
				b.ReportMetric(flops/best.Seconds()/1e9, "bestGFLOPS")
			})
		}
	}
}

// BenchmarkMaxPoolResNet times ResNet's 3×3/2 max pool over 64 planes of
// 112×112 (bestms: the fastest run).
func BenchmarkMaxPoolResNet(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("t%d", threads), func(b *testing.B) {
			x := tensor.New(tensor.Float32, 1, 64, 112, 112)
			for i, v := 0, x.Data.([]float32); i < len(v); i++ {
				v[i] = float32(i%13) * 0.1
			}
			k, err := nnBuild(b, "MaxPool", 12, 1, 1, nnAttrInts("kernel_shape", 3, 3), nnAttrInts("strides", 2, 2), nnAttrInts("pads", 1, 1, 1, 1))
			if err != nil {
				b.Fatal(err)
			}
			pool := parallel.New(threads)
			defer pool.Close()
			ctx := &Context{Par: pool.For, Threads: threads, Arena: NewArena(1)}
			best := time.Duration(math.MaxInt64)
			for b.Loop() {
				t0 := time.Now()
				ctx.Arena.Begin(0)
				if _, err := k.Run(ctx, []*tensor.Tensor{x}); err != nil {
					b.Fatal(err)
				}
				best = min(best, time.Since(t0))
			}
			b.ReportMetric(float64(best.Nanoseconds())/1e6, "bestms")
		})
	}
}
