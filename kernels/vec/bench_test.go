package vec

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The benchmarks time each routine on every implementation this CPU runs
// (avx512, avx2, generic) over sizes from 16 to 1M elements. Compare
// implementations with benchstat, e.g.
//
//	go test ./kernels/vec -run '^$' -bench . -benchtime 0.2s -count 5 > new.txt
//	benchstat -col /impl new.txt
//
// SetBytes counts the bytes read and written, so B/s is memory traffic;
// Gelem/s is elements of x per second.

var benchSizes = []int{16, 256, 4096, 65536, 1 << 20}

func benchRoutine(b *testing.B, streams int, run func(d []float32, in [3][]float32)) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, name := range impls() {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("impl=%s/n=%d", name, n), func(b *testing.B) {
				defer useImpl(name)()
				var in [3][]float32
				for k := range in {
					in[k] = randSlice(r, n, 4)
					for i := range in[k] {
						in[k][i] += 5 // Div and LayerNorm away from 0
					}
				}
				d := make([]float32, n)
				b.SetBytes(int64(4 * n * streams))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					run(d, in)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
			})
		}
	}
}

func benchUnary(b *testing.B, f func(d, x []float32)) {
	benchRoutine(b, 2, func(d []float32, in [3][]float32) { f(d, in[0]) })
}

func BenchmarkExp(b *testing.B)      { benchUnary(b, Exp) }
func BenchmarkTanh(b *testing.B)     { benchUnary(b, Tanh) }
func BenchmarkSigmoid(b *testing.B)  { benchUnary(b, Sigmoid) }
func BenchmarkErf(b *testing.B)      { benchUnary(b, Erf) }
func BenchmarkGelu(b *testing.B)     { benchUnary(b, Gelu) }
func BenchmarkGeluTanh(b *testing.B) { benchUnary(b, GeluTanh) }
func BenchmarkSilu(b *testing.B)     { benchUnary(b, Silu) }
func BenchmarkRelu(b *testing.B)     { benchUnary(b, Relu) }

func BenchmarkClip(b *testing.B) {
	benchUnary(b, func(d, x []float32) { Clip(d, x, 4, 6) })
}

func BenchmarkAdd(b *testing.B) {
	benchRoutine(b, 3, func(d []float32, in [3][]float32) { Add(d, in[0], in[1]) })
}

func BenchmarkMul(b *testing.B) {
	benchRoutine(b, 3, func(d []float32, in [3][]float32) { Mul(d, in[0], in[1]) })
}

func BenchmarkDiv(b *testing.B) {
	benchRoutine(b, 3, func(d []float32, in [3][]float32) { Div(d, in[0], in[1]) })
}

func BenchmarkAddScalar(b *testing.B) {
	benchUnary(b, func(d, x []float32) { AddScalar(d, x, 1.5) })
}

func BenchmarkMulAdd(b *testing.B) {
	benchRoutine(b, 4, func(d []float32, in [3][]float32) { MulAdd(d, in[0], in[1], in[2]) })
}

func BenchmarkMax(b *testing.B) {
	benchRoutine(b, 1, func(d []float32, in [3][]float32) { d[0] = Max(in[0]) })
}

func BenchmarkSum(b *testing.B) {
	benchRoutine(b, 1, func(d []float32, in [3][]float32) { d[0] = Sum(in[0]) })
}

func BenchmarkSoftmaxRow(b *testing.B) {
	benchRoutine(b, 2, func(d []float32, in [3][]float32) { SoftmaxRow(d, in[0]) })
}

func BenchmarkLayerNormRow(b *testing.B) {
	benchRoutine(b, 4, func(d []float32, in [3][]float32) { LayerNormRow(d, in[0], in[1], in[2], 1e-5) })
}

func BenchmarkSub(b *testing.B) {
	benchRoutine(b, 3, func(d []float32, in [3][]float32) { Sub(d, in[0], in[1]) })
}

func BenchmarkMulScalar(b *testing.B) {
	benchUnary(b, func(d, x []float32) { MulScalar(d, x, 1.5) })
}

func BenchmarkDivScalar(b *testing.B) {
	benchUnary(b, func(d, x []float32) { DivScalar(d, x, 1.5) })
}

func BenchmarkScalarDiv(b *testing.B) {
	benchUnary(b, func(d, x []float32) { ScalarDiv(d, 1.5, x) })
}

func BenchmarkLogSoftmaxRow(b *testing.B) {
	benchRoutine(b, 2, func(d []float32, in [3][]float32) { LogSoftmaxRow(d, in[0]) })
}
