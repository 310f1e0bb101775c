package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

func forEachImplBF16(t *testing.T, f func(t *testing.T)) {
	for _, im := range availableBF16() {
		t.Run(im.name, func(t *testing.T) {
			restore, ok := useImplBF16(im.name)
			if !ok {
				t.Skip("not on this CPU")
			}
			t.Cleanup(restore)
			f(t)
		})
	}
}

func TestBF16FromFloat32(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // a tie, to even (down)
		{0x3f818000, 0x3f82}, // a tie, to even (up)
		{0x3f808001, 0x3f81}, // above the tie
		{0x7f7fffff, 0x7f80}, // the largest float32 rounds to +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7fc00001, 0x7fc0}, // a quiet NaN stays quiet
		{0x7f800001, 0x7fc0}, // a signaling NaN is quieted
		{0x00400000, 0x0000}, // subnormals flush to zero
		{0x80400000, 0x8000}, // of their sign
		{0x00800000, 0x0080}, // the smallest normal stays
	} {
		if got := BF16FromFloat32(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("BF16FromFloat32(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

// bf16Round returns v rounded to bfloat16, as a float32.
func bf16Round(v float32) float32 { return math.Float32frombits(uint32(BF16FromFloat32(v)) << 16) }

// checkBF16 runs GemmBF16PackedB on tc and compares with the float64
// product of the bf16-rounded operands: the only error left is float32
// accumulation, held to the fp32 tests' bound.
func checkBF16(t *testing.T, rng *rand.Rand, tc gemmCase, par bool) {
	t.Helper()
	a := operand(rng, tc.m, tc.k, tc.transA, tc.pad)
	b := operand(rng, tc.k, tc.n, tc.transB, tc.pad)
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
	// The reference sees the rounded operands.
	ra, rb := a, b
	ra.Data, rb.Data = append([]float32(nil), a.Data...), append([]float32(nil), b.Data...)
	for i, v := range ra.Data {
		ra.Data[i] = bf16Round(v)
	}
	for i, v := range rb.Data {
		rb.Data[i] = bf16Round(v)
	}
	want, scale := reference(tc, ra, rb, c, ldc)
	o := &Options{Epilogue: tc.ep}
	if par {
		o.Parallel, o.Threads = parallel3, 3
	}
	GemmBF16PackedB(tc.m, tc.alpha, a, PackBF16(tc.k, tc.n, b), tc.beta, c, ldc, o)
	for i := range cWhole {
		inside := i >= guardLen && i < guardLen+len(c) && (i-guardLen)%ldc < tc.n
		if !inside && math.Float32bits(cWhole[i]) != math.Float32bits(guard) {
			t.Fatalf("%v: wrote %g outside C at offset %d", tc, cWhole[i], i-guardLen)
		}
	}
	const tol = 2e-6
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			got, w := float64(c[i*ldc+j]), want[i*tc.n+j]
			if math.IsNaN(got) || math.Abs(got-w) > tol*(scale[i*tc.n+j]+1e-30)*math.Sqrt(float64(tc.k)+1)+1e-30 {
				t.Fatalf("%v: C[%d][%d] = %g, want %g", tc, i, j, got, w)
			}
		}
	}
}

func TestBF16Sweep(t *testing.T) {
	forEachImplBF16(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(51, 52))
		for _, m := range tileMs {
			for _, n := range tileNs {
				for _, k := range []int{1, 2, 3, 31, 32, 33, 64, 65, 300} {
					v := m + n + k
					tc := gemmCase{m: m, n: n, k: k, alpha: 1, transA: v%4 == 1, transB: v%3 == 1, pad: v % 3}
					if v%2 == 1 {
						tc.alpha, tc.beta = 0.5, 1.5
					}
					checkBF16(t, rng, tc, v%5 == 0)
				}
			}
		}
	})
}

func TestBF16Epilogue(t *testing.T) {
	defer func(kc int) { kcBF16 = kc }(kcBF16)
	kcBF16 = 40 // several k blocks
	forEachImplBF16(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(53, 54))
		for _, s := range [][3]int{{1, 37, 200}, {13, 33, 7}, {30, 70, 300}} {
			m, n, k := s[0], s[1], s[2]
			rowBias, colBias := make([]float32, m), make([]float32, n)
			for i := range rowBias {
				rowBias[i] = float32(rng.Float64() - 0.5)
			}
			for i := range colBias {
				colBias[i] = float32(rng.Float64() - 0.5)
			}
			for e, ep := range []Epilogue{
				{Bias: colBias, Act: ActRelu},
				{Bias: rowBias, BiasPerRow: true},
				{Act: ActClip, Min: -0.25, Max: 0.5},
				{Act: ActLeakyRelu, Alpha: 0.1, Bias: colBias},
			} {
				checkBF16(t, rng, gemmCase{m: m, n: n, k: k, alpha: 0.75, beta: float32(e % 2), ep: ep}, e%2 == 0)
			}
		}
	})
}

// TestBF16Pack holds the assembly A packer to the Go one.
func TestBF16Pack(t *testing.T) {
	if len(availableBF16()) == 1 {
		t.Skip("no assembly packer")
	}
	rng := rand.New(rand.NewPCG(55, 56))
	for _, k := range []int{32, 33, 64, 95, 100, 256} {
		a := operand(rng, MR, k, false, 3)
		a.Data[5] = float32(math.NaN())
		a.Data[7] = 1e-40 // subnormal
		kp := ceilDiv(k, 2)
		got, want := make([]float32, kp*MR), make([]float32, kp*MR)
		packABF16(got, a, 0, MR, k)
		restore, _ := useImplBF16("generic")
		packABF16(want, a, 0, MR, k)
		restore()
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("k=%d: word %d = %#08x, want %#08x", k, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
			}
		}
	}
}

// TestBF16Accuracy measures the error bf16 rounding brings against the
// float32 product of the unrounded operands; it stays near the 2⁻⁹
// relative rounding of each input.
func TestBF16Accuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(57, 58))
	const m, n, k = 64, 96, 512
	a, b := operand(rng, m, k, false, 0), operand(rng, k, n, false, 0)
	want := make([]float32, m*n)
	got := make([]float32, m*n)
	Gemm(m, n, k, 1, a, b, 0, want, n, nil)
	GemmBF16PackedB(m, 1, a, PackBF16(k, n, b), 0, got, n, nil)
	var num, den float64
	for i := range want {
		d := float64(got[i] - want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if rel := math.Sqrt(num / den); rel > 1e-2 {
		t.Errorf("relative L2 error %.3g against float32, want ≤ 1e-2", rel)
	} else {
		t.Logf("relative L2 error against float32: %.3g", rel)
	}
}

func TestBF16NoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	rng := rand.New(rand.NewPCG(59, 60))
	const m, n, k = 50, 100, 200
	a := operand(rng, m, k, false, 0)
	pb := PackBF16(k, n, operand(rng, k, n, false, 0))
	c := make([]float32, m*n)
	o := &Options{Epilogue: Epilogue{Act: ActRelu}, Parallel: serial2, Threads: 2}
	f := func() { GemmBF16PackedB(m, 1, a, pb, 0, c, n, o) }
	f()
	if got := testing.AllocsPerRun(20, f); got != 0 {
		t.Errorf("%v allocations per call, want 0", got)
	}
}
