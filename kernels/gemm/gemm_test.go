package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// guard is the sentinel around and between operands: a NaN with a payload
// of its own, so a kernel that reads it poisons its result and one that
// writes over it is caught bit for bit.
var guard = math.Float32frombits(0x7fc0dead)

const guardLen = 37 // odd, so that operands start at varied alignments

// guarded returns a slice of n elements filled by fill, with guardLen
// sentinels on each side in the backing array.
func guarded(n int, fill func(i int) float32) (view, whole []float32) {
	whole = make([]float32, n+2*guardLen)
	for i := range whole {
		whole[i] = guard
	}
	view = whole[guardLen : guardLen+n : guardLen+n]
	for i := range view {
		view[i] = fill(i)
	}
	return view, whole
}

// matrix returns an r×c stored matrix with row stride ld (ld > c leaves
// sentinel gaps) of random values in [-1, 1).
func matrix(rng *rand.Rand, r, c, ld int) Matrix {
	n := 0
	if r > 0 && c > 0 {
		n = (r-1)*ld + c
	}
	v, _ := guarded(n, func(i int) float32 {
		if i%ld >= c {
			return guard
		}
		return float32(rng.Float64()*2 - 1)
	})
	return Matrix{Data: v, Stride: ld}
}

// operand returns a random op(M) of r×c, stored transposed when trans.
func operand(rng *rand.Rand, r, c int, trans bool, pad int) Matrix {
	if trans {
		m := matrix(rng, c, r, r+pad)
		m.Trans = true
		return m
	}
	return matrix(rng, r, c, c+pad)
}

type gemmCase struct {
	m, n, k      int
	transA       bool
	transB       bool
	alpha, beta  float32
	ep           Epilogue
	pad          int // extra stride on A, B and C
	packA, packB bool
	fill         bool // B through a PanelFunc
	residual     bool // the beta term reads a separate residual matrix
}

func (c gemmCase) String() string {
	return fmt.Sprintf("m=%d,n=%d,k=%d,tA=%v,tB=%v,a=%g,b=%g,pA=%v,pB=%v,act=%d,bias=%v/%v,res=%v",
		c.m, c.n, c.k, c.transA, c.transB, c.alpha, c.beta, c.packA, c.packB, c.ep.Act, c.ep.Bias != nil, c.ep.BiasPerRow, c.residual)
}

// reference computes the case in float64 and returns each element's
// result and the scale its rounding error is measured against; the beta
// term reads c (row stride ldc).
func reference(tc gemmCase, a, b Matrix, c []float32, ldc int) (want, scale []float64) {
	want = make([]float64, tc.m*tc.n)
	scale = make([]float64, tc.m*tc.n)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			var s, abs float64
			for p := 0; p < tc.k; p++ {
				x := float64(a.at(i, p)) * float64(b.at(p, j))
				s += x
				abs += math.Abs(x)
			}
			v := float64(tc.alpha) * s
			sc := math.Abs(float64(tc.alpha)) * abs
			if tc.beta != 0 {
				cv := float64(tc.beta) * float64(c[i*ldc+j])
				v += cv
				sc += math.Abs(cv)
			}
			if tc.ep.Bias != nil {
				bi := j
				if tc.ep.BiasPerRow {
					bi = i
				}
				bv := float64(tc.ep.Bias[bi])
				v += bv
				sc += math.Abs(bv)
			}
			switch tc.ep.Act {
			case ActRelu:
				v = math.Max(v, 0)
			case ActClip:
				v = math.Min(math.Max(v, float64(tc.ep.Min)), float64(tc.ep.Max))
			case ActLeakyRelu:
				if v < 0 {
					v *= float64(tc.ep.Alpha)
				}
			}
			want[i*tc.n+j], scale[i*tc.n+j] = v, sc
		}
	}
	return want, scale
}

// parallel3 is a splitter that runs three chunks concurrently, so tests
// see tasks split unevenly and racing.
func parallel3(n int, fn func(lo, hi int)) {
	var wg sync.WaitGroup
	for c := 0; c < 3; c++ {
		lo, hi := c*n/3, (c+1)*n/3
		if lo == hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// check runs tc through the API it names, with guards around every operand,
// and compares against the float64 reference.
func check(t *testing.T, rng *rand.Rand, tc gemmCase, par bool) {
	t.Helper()
	a := operand(rng, tc.m, tc.k, tc.transA, tc.pad)
	b := operand(rng, tc.k, tc.n, tc.transB, tc.pad)
	ldc := tc.n + tc.pad
	c, cWhole := guarded((tc.m-1)*ldc+tc.n, func(i int) float32 {
		if i%ldc >= tc.n {
			return guard
		}
		if tc.beta == 0 {
			return float32(math.NaN()) // must not be read
		}
		return float32(rng.Float64()*2 - 1)
	})
	o := &Options{Epilogue: tc.ep}
	var want, scale []float64
	if tc.residual {
		r := matrix(rng, tc.m, tc.n, tc.n+2)
		o.Residual, o.ResidualStride = r.Data, r.Stride
		want, scale = reference(tc, a, b, r.Data, r.Stride)
	} else {
		want, scale = reference(tc, a, b, c, ldc)
	}
	if par {
		o.Parallel, o.Threads = parallel3, 3
	}
	switch {
	case tc.packA && tc.packB:
		// A packed by the caller into storage of its own.
		pa := PackA(tc.m, tc.k, a)
		own := append([]float32(nil), pa.data...)
		va := PackedAOf(tc.m, tc.k, own)
		GemmPackedAB(tc.alpha, &va, PackB(tc.k, tc.n, b), tc.beta, c, ldc, o)
	case tc.packA:
		pa := PackA(tc.m, tc.k, a)
		if tc.fill {
			GemmPackedAFunc(tc.n, tc.alpha, pa, func(dst []float32, p0, p1, j0 int) {
				packBPanel(dst, b, p0, p1, j0, min(NR, tc.n-j0))
			}, tc.beta, c, ldc, o)
		} else {
			GemmPackedA(tc.n, tc.alpha, pa, b, tc.beta, c, ldc, o)
		}
	case tc.packB:
		var pb *PackedB
		if tc.fill {
			pb = PackBFunc(tc.k, tc.n, func(dst []float32, p0, p1, j0 int) {
				packBPanel(dst, b, p0, p1, j0, min(NR, tc.n-j0))
			})
		} else {
			pb = PackB(tc.k, tc.n, b)
		}
		GemmPackedB(tc.m, tc.alpha, a, pb, tc.beta, c, ldc, o)
	default:
		Gemm(tc.m, tc.n, tc.k, tc.alpha, a, b, tc.beta, c, ldc, o)
	}
	for i := range cWhole {
		inside := i >= guardLen && i < guardLen+len(c) && (i-guardLen)%ldc < tc.n
		if !inside && math.Float32bits(cWhole[i]) != math.Float32bits(guard) {
			t.Fatalf("%v: wrote %g outside C at offset %d", tc, cWhole[i], i-guardLen)
		}
	}
	const tol = 2e-6 // relative to Σ|a·b|: fp32 sums of up to a few thousand terms
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			got, w := float64(c[i*ldc+j]), want[i*tc.n+j]
			if math.IsNaN(got) || math.Abs(got-w) > tol*(scale[i*tc.n+j]+1e-30)*math.Sqrt(float64(tc.k)+1)+1e-30 {
				t.Fatalf("%v: C[%d][%d] = %g, want %g", tc, i, j, got, w)
			}
		}
	}
}

// forEachImpl runs f under every implementation this CPU has.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	for _, im := range available() {
		t.Run(im.name, func(t *testing.T) {
			restore, ok := useImpl(im.name)
			if !ok {
				t.Skip("not on this CPU")
			}
			t.Cleanup(restore)
			f(t)
		})
	}
}

func TestSweepSmall(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for m := 1; m <= 17; m++ {
			for n := 1; n <= 17; n++ {
				for k := 1; k <= 17; k++ {
					tc := gemmCase{m: m, n: n, k: k, alpha: 1, beta: 0, pad: (m + n + k) % 3}
					switch (m + 2*n + 3*k) % 4 {
					case 1:
						tc.transA, tc.beta = true, 1
					case 2:
						tc.transB, tc.alpha, tc.beta = true, -0.5, 2
					case 3:
						tc.transA, tc.transB, tc.packB = true, true, true
					}
					check(t, rng, tc, false)
				}
			}
		}
	})
}

// tileSizes are dimensions around the tile and blocking edges.
var (
	tileMs = []int{1, 2, 5, 6, 7, 11, 12, 13, 23, 24, 25, 47, 49}
	tileNs = []int{1, 15, 16, 17, 31, 32, 33, 63, 65, 129}
	tileKs = []int{1, 3, 4, 5, 255, 256, 257}
)

func TestSweepTiles(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, m := range tileMs {
			for _, n := range tileNs {
				for _, k := range tileKs {
					for v := 0; v < 4; v++ {
						tc := gemmCase{m: m, n: n, k: k, alpha: 1.5, beta: 0.5,
							transA: v&1 != 0, transB: v&2 != 0, pad: v, packB: v == 1, packA: v == 2}
						check(t, rng, tc, v == 3)
					}
				}
			}
		}
	})
}

// TestPackedAB runs products with both operands packed ahead of time
// (GemmPackedAB, A through PackedAOf) around the tile edges, serially and
// split across threads.
func TestPackedAB(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, m := range tileMs {
			for _, n := range tileNs {
				for _, k := range []int{1, 5, 257} {
					tc := gemmCase{m: m, n: n, k: k, alpha: 1, beta: 0.5, packA: true, packB: true,
						ep: Epilogue{Act: ActRelu}, pad: (m + n) % 3}
					check(t, rng, tc, (m+n+k)%2 == 0)
				}
			}
		}
	})
}

// TestBlocking forces small blocks, packing budgets and parallel splits so
// that every branch of the driver runs, on large enough sizes.
func TestBlocking(t *testing.T) {
	defer func(kc, bb, pb, dm int) { kcMax, bBlockBytes, packBytes, directMaxM = kc, bb, pb, dm }(kcMax, bBlockBytes, packBytes, directMaxM)
	kcMax, bBlockBytes, packBytes = 40, 40*4*64, 100*4*24
	forEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		sizes := [][3]int{{100, 150, 100}, {37, 300, 99}, {250, 70, 130}, {13, 97, 41}}
		for _, s := range sizes {
			for v := 0; v < 8; v++ {
				for _, dm := range []int{0, 1000} {
					directMaxM = dm
					tc := gemmCase{m: s[0], n: s[1], k: s[2], alpha: 1, beta: float32(v % 2),
						transA: v&2 != 0, transB: v&4 != 0, packA: v == 1, packB: v == 3, pad: 1,
						fill: v == 1 || v == 3}
					check(t, rng, tc, true)
					check(t, rng, tc, false)
				}
			}
		}
	})
}

func TestLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][3]int{{300, 700, 600}, {1, 3000, 700}, {64, 3136, 576}} {
		for v := 0; v < 3; v++ {
			check(t, rng, gemmCase{m: s[0], n: s[1], k: s[2], alpha: 1, packB: v == 1, packA: v == 2}, v != 0)
		}
	}
}

func TestEpilogue(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, s := range [][3]int{{1, 37, 20}, {1, 300, 33}, {13, 33, 7}, {30, 70, 300}} {
			m, n, k := s[0], s[1], s[2]
			rowBias, colBias := make([]float32, m), make([]float32, n)
			for i := range rowBias {
				rowBias[i] = float32(rng.Float64() - 0.5)
			}
			for i := range colBias {
				colBias[i] = float32(rng.Float64() - 0.5)
			}
			eps := []Epilogue{
				{Bias: colBias},
				{Bias: rowBias, BiasPerRow: true},
				{Act: ActRelu},
				{Act: ActClip, Min: -0.25, Max: 0.5},
				{Act: ActClip, Min: float32(math.Inf(-1)), Max: 0.1},
				{Act: ActLeakyRelu, Alpha: 0.1, Bias: colBias},
				{Act: ActRelu, Bias: rowBias, BiasPerRow: true},
				{Act: ActRelu, Bias: colBias},
			}
			for e, ep := range eps {
				for v := 0; v < 4; v++ {
					tc := gemmCase{m: m, n: n, k: k, alpha: 0.75, beta: float32(v % 2), ep: ep,
						transB: v >= 2, packB: v == 1, packA: v == 3, residual: e == len(eps)-1}
					if tc.residual {
						tc.beta = float32(v%2) + 1
					}
					check(t, rng, tc, e%2 == 0)
				}
			}
		}
	})
}

func TestFunc(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, m := range []int{1, 29} {
		const n, k = 70, 50
		a, b := operand(rng, m, k, false, 0), operand(rng, k, n, false, 0)
		got, want := make([]float32, m*n), make([]float32, m*n)
		Gemm(m, n, k, 1, a, b, 0, want, n, nil)
		for i := range want {
			want[i] = want[i]*2 + float32(i)
		}
		var mu sync.Mutex
		seen := 0
		Gemm(m, n, k, 1, a, b, 0, got, n, &Options{Epilogue: Epilogue{Func: func(row []float32, i, j0 int) {
			for j := range row {
				row[j] = row[j]*2 + float32(i*n+j0+j)
			}
			mu.Lock()
			seen += len(row)
			mu.Unlock()
		}}, Parallel: parallel3})
		if seen != m*n {
			t.Errorf("m=%d: Func saw %d elements, want %d", m, seen, m*n)
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("m=%d: C[%d] = %g, want %g", m, i, got[i], want[i])
			}
		}
	}
}

// TestNaNPropagates checks that a NaN in A reaches C through the clamp
// (Relu must not turn NaN into 0).
func TestNaNPropagates(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		for _, m := range []int{1, 5, 12} {
			const n, k = 40, 8
			a, b := make([]float32, m*k), make([]float32, k*n)
			for i := range b {
				b[i] = 1
			}
			a[0] = float32(math.NaN())
			c := make([]float32, m*n)
			Gemm(m, n, k, 1, Matrix{Data: a, Stride: k}, Matrix{Data: b, Stride: n}, 0, c, n,
				&Options{Epilogue: Epilogue{Act: ActClip, Min: 0, Max: 6}})
			for j := 0; j < n; j++ {
				if !math.IsNaN(float64(c[j])) {
					t.Fatalf("m=%d: C[0][%d] = %g, want NaN", m, j, c[j])
				}
			}
		}
	})
}

func TestDegenerate(t *testing.T) {
	// k = 0 and alpha = 0 leave beta·C plus the epilogue, and read no A
	// or B.
	c := []float32{1, -2, 3, -4}
	nan := float32(math.NaN())
	Gemm(2, 2, 3, 0, Matrix{Data: []float32{nan, nan, nan, nan, nan, nan}, Stride: 3},
		Matrix{Data: []float32{nan, nan, nan, nan, nan, nan}, Stride: 2}, 2, c, 2,
		&Options{Epilogue: Epilogue{Act: ActRelu, Bias: []float32{1, 1}}})
	if want := []float32{3, 0, 7, 0}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("alpha=0: C = %v, want %v", c, want)
	}
	Gemm(2, 2, 0, 1, Matrix{}, Matrix{}, 0, c, 2, nil)
	if want := []float32{0, 0, 0, 0}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("k=0: C = %v, want %v", c, want)
	}
	Gemm(0, 5, 5, 1, Matrix{}, Matrix{Data: make([]float32, 25), Stride: 5}, 0, nil, 5, nil) // no rows: nothing to do
}

func TestPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"short A": func() {
			Gemm(2, 2, 2, 1, Matrix{Data: make([]float32, 3), Stride: 2}, Matrix{Data: make([]float32, 4), Stride: 2}, 0, make([]float32, 4), 2, nil)
		},
		"short C": func() {
			Gemm(2, 2, 2, 1, Matrix{Data: make([]float32, 4), Stride: 2}, Matrix{Data: make([]float32, 4), Stride: 2}, 0, make([]float32, 3), 2, nil)
		},
		"stride B": func() {
			Gemm(2, 2, 2, 1, Matrix{Data: make([]float32, 4), Stride: 2}, Matrix{Data: make([]float32, 4), Stride: 1}, 0, make([]float32, 4), 2, nil)
		},
		"short bias": func() {
			Gemm(2, 2, 2, 1, Matrix{Data: make([]float32, 4), Stride: 2}, Matrix{Data: make([]float32, 4), Stride: 2}, 0, make([]float32, 4), 2, &Options{Epilogue: Epilogue{Bias: []float32{1}}})
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// serial2 splits into two chunks run one after the other: a splitter that
// allocates nothing, for counting the allocations of Gemm itself.
func serial2(n int, fn func(lo, hi int)) {
	fn(0, n/2)
	fn(n/2, n)
}

func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	const m, n, k = 100, 200, 300
	a, at := operand(rng, m, k, false, 0), operand(rng, m, k, true, 0)
	b, bt := operand(rng, k, n, false, 0), operand(rng, k, n, true, 0)
	pa, pb := PackA(m, k, a), PackB(k, n, b)
	c := make([]float32, m*n)
	bias := make([]float32, n)
	o := &Options{Epilogue: Epilogue{Bias: bias, Act: ActRelu}, Parallel: serial2, Threads: 2}
	for name, f := range map[string]func(){
		"Gemm":           func() { Gemm(m, n, k, 1, a, b, 0, c, n, o) },
		"Gemm/trans":     func() { Gemm(m, n, k, 1, at, bt, 1, c, n, o) },
		"Gemm/serial":    func() { Gemm(m, n, k, 1, a, bt, 1, c, n, nil) },
		"GemmPackedB":    func() { GemmPackedB(m, 1, a, pb, 0, c, n, o) },
		"GemmPackedA":    func() { GemmPackedA(n, 1, pa, bt, 0, c, n, o) },
		"GemmPackedB/m1": func() { GemmPackedB(1, 1, a, pb, 0, c, n, o) },
		"Gemm/m1":        func() { Gemm(1, n, k, 1, at, b, 0, c, n, o) },
		"Gemm/m1/transB": func() { Gemm(1, n, k, 1, a, bt, 0, c, n, o) },
		"Gemm/m4":        func() { Gemm(4, n, k, 1, a, b, 0, c, n, o) },
	} {
		f() // warm the pools
		if got := testing.AllocsPerRun(20, f); got != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, got)
		}
	}
}

// TestResidualBlocks checks the residual with k split in blocks: only the
// first block reads it, the others add to the partial sums in C.
func TestResidualBlocks(t *testing.T) {
	defer func(kc int) { kcMax = kc }(kcMax)
	kcMax = 16
	forEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(15, 16))
		for _, s := range [][3]int{{1, 40, 50}, {1, 200, 50}, {20, 70, 50}} {
			for v := 0; v < 3; v++ {
				check(t, rng, gemmCase{m: s[0], n: s[1], k: s[2], alpha: 1, beta: 1, residual: true,
					transB: v == 1, packA: v == 2, ep: Epilogue{Act: ActRelu}}, v == 0)
			}
		}
	})
}
