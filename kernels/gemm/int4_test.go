package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func forEachImplInt4(t *testing.T, f func(t *testing.T)) {
	for _, im := range availableInt4() {
		t.Run(im.name, func(t *testing.T) {
			restore, ok := useImplInt4(im.name)
			if !ok {
				t.Skip("not on this CPU")
			}
			t.Cleanup(restore)
			f(t)
		})
	}
}

// randInt4 returns a random k×n Int4Weight.
func randInt4(rng *rand.Rand, k, n, block int, signed, zeros bool) Int4Weight {
	nblk := ceilDiv(k, block)
	w := Int4Weight{K: k, N: n, Block: block, Signed: signed,
		Values: make([]int8, k*n), Scales: make([]float32, nblk*n)}
	lo := 0
	if signed {
		lo = -8
	}
	for i := range w.Values {
		w.Values[i] = int8(lo + rng.IntN(16))
	}
	for i := range w.Scales {
		w.Scales[i] = float32(0.01 + 0.1*rng.Float64())
	}
	if zeros {
		w.Zeros = make([]int8, nblk*n)
		for i := range w.Zeros {
			w.Zeros[i] = int8(lo + rng.IntN(16))
		}
	}
	return w
}

// dequant returns w as a float32 k×n matrix, as DequantizeLinear computes
// it.
func (w Int4Weight) dequant() Matrix {
	d := make([]float32, w.K*w.N)
	for kk := 0; kk < w.K; kk++ {
		for j := 0; j < w.N; j++ {
			x := (kk/w.Block)*w.N + j
			var z float32
			if w.Zeros != nil {
				z = float32(w.Zeros[x])
			}
			d[kk*w.N+j] = (float32(w.Values[kk*w.N+j]) - z) * w.Scales[x]
		}
	}
	return Matrix{Data: d, Stride: w.N}
}

type int4Case struct {
	gemmCase
	block         int
	signed, zeros bool
}

func (c int4Case) String() string {
	return fmt.Sprintf("%v,block=%d,signed=%v,zeros=%v", c.gemmCase, c.block, c.signed, c.zeros)
}

// checkInt4 runs GemmInt4PackedB and compares with the float64 product of
// A and the dequantized weight. The one-row kernel applies scales per
// block rather than per weight, and subtracts the zero-point term after
// the sum, so the bound is eight times the float32 tests'.
func checkInt4(t *testing.T, rng *rand.Rand, tc int4Case, par bool) {
	t.Helper()
	w := randInt4(rng, tc.k, tc.n, tc.block, tc.signed, tc.zeros)
	a := operand(rng, tc.m, tc.k, tc.transA, tc.pad)
	ldc := tc.n + tc.pad
	c, cWhole := guarded((tc.m-1)*ldc+tc.n, func(i int) float32 {
		if i%ldc >= tc.n {
			return guard
		}
		if tc.beta == 0 {
			return float32(math.NaN())
		}
		return float32(rng.Float64()*2 - 1)
	})
	want, scale := reference(tc.gemmCase, a, w.dequant(), c, ldc)
	if tc.m == 1 {
		// The one-row kernel's terms are s·u·a and s·z·a.
		for j := 0; j < tc.n; j++ {
			for kk := 0; kk < tc.k; kk++ {
				scale[j] += math.Abs(float64(tc.alpha) * float64(a.at(0, kk)) * float64(w.Scales[(kk/w.Block)*w.N+j]) * 16)
			}
		}
	}
	o := &Options{Epilogue: tc.ep}
	if par {
		o.Parallel, o.Threads = parallel3, 3
	}
	GemmInt4PackedB(tc.m, tc.alpha, a, PackInt4(w), tc.beta, c, ldc, o)
	for i := range cWhole {
		inside := i >= guardLen && i < guardLen+len(c) && (i-guardLen)%ldc < tc.n
		if !inside && math.Float32bits(cWhole[i]) != math.Float32bits(guard) {
			t.Fatalf("%v: wrote %g outside C at offset %d", tc, cWhole[i], i-guardLen)
		}
	}
	const tol = 16e-6
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			got, wv := float64(c[i*ldc+j]), want[i*tc.n+j]
			if math.IsNaN(got) || math.Abs(got-wv) > tol*(scale[i*tc.n+j]+1e-30)*math.Sqrt(float64(tc.k)+1)+1e-30 {
				t.Fatalf("%v: C[%d][%d] = %g, want %g", tc, i, j, got, wv)
			}
		}
	}
}

func TestInt4Sweep(t *testing.T) {
	forEachImplInt4(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(61, 62))
		v := 0
		for _, m := range []int{1, 2, 12, 13, 30} {
			for _, n := range tileNs {
				for _, k := range []int{1, 5, 31, 32, 33, 100, 300} {
					for _, block := range []int{16, 32, 64, 128} {
						v++
						tc := int4Case{gemmCase: gemmCase{m: m, n: n, k: k, alpha: 1, pad: v % 3, transA: v%5 == 0},
							block: block, signed: v%2 == 0, zeros: v%3 != 0}
						if v%4 == 1 {
							tc.alpha, tc.beta = -0.5, 2
						}
						checkInt4(t, rng, tc, v%7 == 0)
					}
				}
			}
		}
	})
}

func TestInt4Epilogue(t *testing.T) {
	defer func(kc int) { kcInt4 = kc }(kcInt4)
	kcInt4 = 48 // several k blocks
	forEachImplInt4(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(63, 64))
		for _, s := range [][3]int{{1, 100, 200}, {13, 33, 70}, {40, 70, 300}} {
			m, n, k := s[0], s[1], s[2]
			colBias := make([]float32, n)
			for i := range colBias {
				colBias[i] = float32(rng.Float64() - 0.5)
			}
			for e, ep := range []Epilogue{
				{Bias: colBias, Act: ActRelu},
				{Act: ActClip, Min: -0.25, Max: 0.5},
				{Act: ActLeakyRelu, Alpha: 0.1, Bias: colBias},
			} {
				checkInt4(t, rng, int4Case{gemmCase: gemmCase{m: m, n: n, k: k, alpha: 0.75, beta: float32(e % 2), ep: ep},
					block: 32, signed: e%2 == 0, zeros: e == 1}, e != 1)
			}
		}
	})
}

// TestInt4Dequant holds the assembly dequantizer to the Go one, bit for
// bit.
func TestInt4Dequant(t *testing.T) {
	im := availableInt4()[0]
	if im == genericInt4 {
		t.Skip("no assembly")
	}
	rng := rand.New(rand.NewPCG(65, 66))
	for _, k := range []int{1, 33, 130} {
		for _, block := range []int{32, 64} {
			b := PackInt4(randInt4(rng, k, 70, block, true, true))
			for p := 0; p < 3; p++ {
				got, want := make([]float32, k*NR), make([]float32, k*NR)
				im.dequant(got, b, p, 0, k)
				dequantInt4Generic(want, b, p, 0, k)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("k=%d block=%d panel %d: element %d = %g, want %g", k, block, p, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func TestInt4Panics(t *testing.T) {
	for name, w := range map[string]Int4Weight{
		"range":  {K: 1, N: 1, Block: 32, Values: []int8{8}, Signed: true, Scales: []float32{1}},
		"scales": {K: 40, N: 1, Block: 32, Values: make([]int8, 40), Scales: []float32{1}},
		"block":  {K: 1, N: 1, Block: 0, Values: []int8{1}, Scales: []float32{1}},
		"zero":   {K: 1, N: 1, Block: 32, Values: []int8{1}, Scales: []float32{1}, Zeros: []int8{16}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			PackInt4(w)
		}()
	}
}

func TestInt4NoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	rng := rand.New(rand.NewPCG(67, 68))
	const m, n, k = 40, 100, 200
	a := operand(rng, m, k, false, 0)
	pb := PackInt4(randInt4(rng, k, n, 32, true, false))
	c := make([]float32, m*n)
	o := &Options{Parallel: serial2, Threads: 2}
	for name, f := range map[string]func(){
		"gemm": func() { GemmInt4PackedB(m, 1, a, pb, 0, c, n, o) },
		"gemv": func() { GemmInt4PackedB(1, 1, a, pb, 0, c, n, o) },
	} {
		f()
		if got := testing.AllocsPerRun(20, f); got != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, got)
		}
	}
}
