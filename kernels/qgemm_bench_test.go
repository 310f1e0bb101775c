package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// BenchmarkQLinearConv runs QLinearConv (uint8 activations, int8 weights
// packed at build) on ResNet-50's convolution shapes, and the float32
// Conv kernel on the same shapes (weights constant too), for comparison:
//
//	go test -run '^$' -bench 'QLinearConv' -count 6 ./kernels
//
// GOP/s counts 2·multiply-adds; best-GOP/s times the fastest call.
func BenchmarkQLinearConv(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, threads := range []int{1, 2} {
		pool := parallel.New(threads)
		for _, sh := range nnBenchShapes {
			if sh.g != 1 {
				continue
			}
			out := (sh.h+2*sh.p-sh.k)/sh.s + 1
			ops := 2.0 * float64(sh.m*sh.c*sh.k*sh.k*out*out)
			attrs := []*attrT{nnAttrInts("strides", int64(sh.s), int64(sh.s)),
				nnAttrInts("pads", int64(sh.p), int64(sh.p), int64(sh.p), int64(sh.p))}
			b.Run(fmt.Sprintf("%s/int8/t%d", sh.name, threads), func(b *testing.B) {
				x := qRand8(rng, false, 1, sh.c, sh.h, sh.h)
				w := qRand8(rng, true, sh.m, sh.c, sh.k, sh.k)
				in := []*tensor.Tensor{x, tensor.Scalar(float32(0.02)), tensor.Scalar(uint8(120)), w,
					qScales(rng, 0.001, 0.002, sh.m), tensor.FromSlice(make([]int8, sh.m), sh.m),
					tensor.Scalar(float32(0.5)), tensor.Scalar(uint8(128)), tensor.FromSlice(make([]int32, sh.m), sh.m)}
				consts := map[int]*tensor.Tensor{3: w, 4: in[4], 5: in[5]}
				k, err := newQLinearConvFast(qBuild("QLinearConv", 9, consts, attrs...))
				if err != nil {
					b.Fatal(err)
				}
				benchKernel(b, k.(Kernel), &Context{Par: pool.For}, in, ops)
			})
			b.Run(fmt.Sprintf("%s/fp32/t%d", sh.name, threads), func(b *testing.B) {
				x := qScales(rng, -1, 1, 1, sh.c, sh.h, sh.h)
				w := qScales(rng, -0.1, 0.1, sh.m, sh.c, sh.k, sh.k)
				bias := qScales(rng, -0.1, 0.1, sh.m)
				bd := qBuild("Conv", 3, map[int]*tensor.Tensor{1: w, 2: bias}, attrs...)
				bd.Opset = 13
				k, err := Default.Build(bd)
				if err != nil {
					b.Fatal(err)
				}
				benchKernel(b, k.(Kernel), &Context{Par: pool.For}, []*tensor.Tensor{x, w, bias}, ops)
			})
		}
		pool.Close()
	}
}

type attrT = ir.Attribute

func benchKernel(b *testing.B, k Kernel, c *Context, in []*tensor.Tensor, ops float64) {
	if _, err := k.Run(c, in); err != nil {
		b.Fatal(err)
	}
	best := time.Duration(math.MaxInt64)
	for b.Loop() {
		start := time.Now()
		if _, err := k.Run(c, in); err != nil {
			b.Fatal(err)
		}
		best = min(best, time.Since(start))
	}
	b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
	b.ReportMetric(ops/best.Seconds()/1e9, "best-GOP/s")
}
