package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkPack times packing per element, the cost a call pays for an
// operand that was not packed ahead of time.
func BenchmarkPack(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const m, k = 512, 512
	for _, trans := range []bool{false, true} {
		a := operand(rng, m, k, trans, 0)
		dst := make([]float32, ceilDiv(m, MR)*MR*k)
		b.Run(fmt.Sprintf("A/trans=%v", trans), func(b *testing.B) {
			for b.Loop() {
				packA(dst, a, 0, m, k)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(m*k), "ns/elem")
		})
		bm := operand(rng, k, m, trans, 0)
		b.Run(fmt.Sprintf("B/trans=%v", trans), func(b *testing.B) {
			for b.Loop() {
				packB(dst, bm, k, 0, m)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(m*k), "ns/elem")
		})
	}
}

// TestPackFast holds the assembly packers to the Go loops on sizes around
// their 16-column blocks.
func TestPackFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	forEachImpl(t, func(t *testing.T) {
		for _, k := range []int{1, 15, 16, 17, 31, 32, 33, 100} {
			for _, trans := range []bool{false, true} {
				const m = 2*MR + 3
				a := operand(rng, m, k, trans, 3)
				got := make([]float32, ceilDiv(m, MR)*MR*k)
				packA(got, a, 0, m, k)
				b := operand(rng, k, 2*NR+5, trans, 1)
				gotB := make([]float32, 3*NR*k)
				packB(gotB, b, k, 0, 2*NR+5)
				for i := 0; i < m; i++ {
					for kk := 0; kk < k; kk++ {
						if g, w := got[(i/MR)*k*MR+kk*MR+i%MR], a.at(i, kk); g != w {
							t.Fatalf("A k=%d trans=%v: (%d,%d) = %g, want %g", k, trans, i, kk, g, w)
						}
					}
				}
				for kk := 0; kk < k; kk++ {
					for j := 0; j < 3*NR; j++ {
						w := float32(0)
						if j < 2*NR+5 {
							w = b.at(kk, j)
						}
						if g := gotB[(j/NR)*k*NR+kk*NR+j%NR]; g != w {
							t.Fatalf("B k=%d trans=%v: (%d,%d) = %g, want %g", k, trans, kk, j, g, w)
						}
					}
				}
			}
		}
	})
}
