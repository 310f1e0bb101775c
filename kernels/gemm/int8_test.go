package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// forEachImpl8 runs f under every 8-bit implementation this CPU has.
func forEachImpl8(t *testing.T, f func(t *testing.T)) {
	for _, im := range available8() {
		t.Run(im.name, func(t *testing.T) {
			restore, ok := useImpl8(im.name)
			if !ok {
				t.Skip("not on this CPU")
			}
			t.Cleanup(restore)
			f(t)
		})
	}
}

const guard8 = 0xA5 // sentinel byte around 8-bit operands and outputs

// matrix8 returns a random op(M) of r×c (stored transposed when trans)
// with extra stride pad, uint8 or int8, with guard bytes around it and
// in the stride gaps. Values span the whole type.
func matrix8(rng *rand.Rand, r, c int, signed, trans bool, pad int) Matrix8 {
	sr, sc := r, c
	if trans {
		sr, sc = c, r
	}
	ld := sc + pad
	n := 0
	if sr > 0 && sc > 0 {
		n = (sr-1)*ld + sc
	}
	whole := make([]byte, n+2*guardLen)
	for i := range whole {
		whole[i] = guard8
	}
	v := whole[guardLen : guardLen+n : guardLen+n]
	for i := range v {
		if i%ld < sc {
			v[i] = byte(rng.IntN(256))
		}
	}
	return Matrix8{Data: v, Signed: signed, Stride: ld, Trans: trans}
}

type q8Case struct {
	m, n, k      int
	sa, sb       bool // operand types: int8 (true) or uint8
	ta, tb       bool // stored transposed
	pad          int
	form         string // "plain", "packedA", "packedB"
	za, zb       string // zero points: "", "one", "vec"
	out          string // "i32", "f32", "u8", "s8"
	perRow       bool
	bias32, bias bool
	scale, rowSc string // "", "one", "vec"
	act          Activation
	min, max     float32
	zy           int32
	par          bool
	rows         bool // B given by row offsets (Matrix8.Rows), its rows permuted
}

func (c q8Case) String() string {
	return fmt.Sprintf("m=%d,n=%d,k=%d,s=%v/%v,t=%v/%v,pad=%d,%s,z=%q/%q,%s,perRow=%v,b32=%v,b=%v,sc=%q/%q,act=%d,par=%v,rows=%v",
		c.m, c.n, c.k, c.sa, c.sb, c.ta, c.tb, c.pad, c.form, c.za, c.zb, c.out, c.perRow, c.bias32, c.bias, c.scale, c.rowSc, c.act, c.par, c.rows)
}

func zeros8(rng *rand.Rand, kind string, n int, signed bool) []int32 {
	draw := func() int32 {
		if signed {
			return int32(rng.IntN(256)) - 128
		}
		return int32(rng.IntN(256))
	}
	switch kind {
	case "one":
		return []int32{draw()}
	case "vec":
		z := make([]int32, n)
		for i := range z {
			z[i] = draw()
		}
		return z
	}
	return nil
}

func floats8(rng *rand.Rand, kind string, n int, lo, hi float64) []float32 {
	var v []float32
	switch kind {
	case "one":
		v = make([]float32, 1)
	case "vec":
		v = make([]float32, n)
	}
	for i := range v {
		v[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return v
}

// ref8 computes the case's output the way QEpilogue documents it, from
// sums taken in int64 over the operands' own values.
func ref8(tc q8Case, a, b Matrix8, za, zb []int32, e *QEpilogue) (i32 []int32, f32 []float32, q []int32) {
	m, n, k := tc.m, tc.n, tc.k
	zAt := func(z []int32, i int) int64 {
		switch len(z) {
		case 0:
			return 0
		case 1:
			return int64(z[0])
		}
		return int64(z[i])
	}
	per := func(v []float32, i, j int) float32 {
		if len(v) == 1 {
			return v[0]
		}
		if e.PerRow {
			return v[i]
		}
		return v[j]
	}
	i32 = make([]int32, m*n)
	f32 = make([]float32, m*n)
	q = make([]int32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int64
			for p := 0; p < k; p++ {
				s += (int64(a.at(i, p)) - zAt(za, i)) * (int64(b.at(p, j)) - zAt(zb, j))
			}
			v := int32(s)
			if e.Bias32 != nil {
				if e.PerRow {
					v += e.Bias32[i]
				} else {
					v += e.Bias32[j]
				}
			}
			i32[i*n+j] = v
			r, c := float32(1), float32(1)
			if e.RowScale != nil {
				r = e.RowScale[i]
			}
			if e.Scale != nil {
				if e.PerRow {
					r *= per(e.Scale, i, j)
				} else {
					c = per(e.Scale, i, j)
				}
			}
			f := float32(v)
			if e.RowScale != nil || (e.PerRow && e.Scale != nil) {
				f *= r
			}
			if !e.PerRow && e.Scale != nil {
				f *= c
			}
			if e.Bias != nil {
				f += per(e.Bias, i, j)
			}
			lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
			switch e.Act {
			case ActRelu:
				lo = 0
			case ActClip:
				lo, hi = e.Min, e.Max
			}
			if e.Uint8 != nil || e.Int8 != nil {
				qlo, qhi := float32(0), float32(255)
				if e.Int8 != nil {
					qlo, qhi = -128, 127
				}
				lo, hi = max(lo, qlo-float32(e.ZeroPoint)), min(hi, qhi-float32(e.ZeroPoint))
			}
			f = min(max(f, lo), hi)
			f32[i*n+j] = f
			q[i*n+j] = roundEven32(f) + e.ZeroPoint
		}
	}
	return i32, f32, q
}

// check8 runs tc with guards around the output and compares bit for bit
// with ref8.
func check8(t *testing.T, rng *rand.Rand, tc q8Case) {
	t.Helper()
	m, n, k := tc.m, tc.n, tc.k
	a := matrix8(rng, m, k, tc.sa, tc.ta, tc.pad)
	b := matrix8(rng, k, n, tc.sb, tc.tb, tc.pad)
	if tc.rows && !tc.tb {
		b.Rows = make([]int, k)
		for i, p := range rng.Perm(k) {
			b.Rows[i] = p * b.Stride
		}
	}
	za := zeros8(rng, tc.za, m, tc.sa)
	zb := zeros8(rng, tc.zb, n, tc.sb)
	per := n
	if tc.perRow {
		per = m
	}
	e := &QEpilogue{PerRow: tc.perRow, Act: tc.act, Min: tc.min, Max: tc.max, ZeroPoint: tc.zy, Ldc: n + tc.pad}
	if tc.bias32 {
		e.Bias32 = make([]int32, per)
		for i := range e.Bias32 {
			e.Bias32[i] = int32(rng.IntN(20001)) - 10000
		}
	}
	// Scales near 1/Σ|terms| keep quantized outputs inside the range
	// often enough to test rounding, not only saturation.
	mag := 1.0 / (64 * math.Sqrt(float64(k)+1) * 64)
	e.Scale = floats8(rng, tc.scale, per, mag/2, 2*mag)
	e.RowScale = floats8(rng, tc.rowSc, m, 0.5, 2)
	if tc.rowSc == "one" {
		e.RowScale = nil
	}
	if tc.bias {
		e.Bias = floats8(rng, "vec", per, -1, 1)
	}
	ldc := n + tc.pad
	size := 4
	if tc.out == "u8" || tc.out == "s8" {
		size = 1
	}
	whole := make([]byte, size*((m-1)*ldc+n+2*guardLen))
	for i := range whole {
		whole[i] = guard8
	}
	cb := whole[size*guardLen : len(whole)-size*guardLen]
	nElem := len(cb) / size
	switch tc.out {
	case "i32":
		e.Int32 = unsafe.Slice((*int32)(unsafe.Pointer(&cb[0])), nElem)
	case "f32":
		e.Float32 = unsafe.Slice((*float32)(unsafe.Pointer(&cb[0])), nElem)
	case "u8":
		e.Uint8 = cb
	case "s8":
		e.Int8 = unsafe.Slice((*int8)(unsafe.Pointer(&cb[0])), nElem)
	}
	var o *Options8
	if tc.par {
		o = &Options8{Parallel: parallel3, Threads: 3}
	}
	switch tc.form {
	case "packedA":
		Gemm8PackedA(n, PackA8(m, k, a, za), b, zb, e, o)
	case "packedB":
		Gemm8PackedB(m, a, za, PackB8(k, n, b, zb), e, o)
	default:
		Gemm8(m, n, k, a, za, b, zb, e, o)
	}
	i32, f32, q := ref8(tc, a, b, za, zb, e)
	for off := range whole {
		inside := off >= size*guardLen && off < len(whole)-size*guardLen && ((off-size*guardLen)/size)%ldc < n
		if !inside && whole[off] != guard8 {
			t.Fatalf("%v: wrote outside C at byte %d", tc, off-size*guardLen)
		}
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			x := i*ldc + j
			w := i*n + j
			switch tc.out {
			case "i32":
				if got := e.Int32[x]; got != i32[w] {
					t.Fatalf("%v: C[%d][%d] = %d, want %d", tc, i, j, got, i32[w])
				}
			case "f32":
				if got := e.Float32[x]; math.Float32bits(got) != math.Float32bits(f32[w]) {
					t.Fatalf("%v: C[%d][%d] = %g, want %g (sum %d)", tc, i, j, got, f32[w], i32[w])
				}
			case "u8":
				if got := e.Uint8[x]; got != uint8(q[w]) {
					t.Fatalf("%v: C[%d][%d] = %d, want %d (%g)", tc, i, j, got, q[w], f32[w])
				}
			case "s8":
				if got := e.Int8[x]; got != int8(q[w]) {
					t.Fatalf("%v: C[%d][%d] = %d, want %d (%g)", tc, i, j, got, q[w], f32[w])
				}
			}
		}
	}
}

var (
	q8Forms = []string{"plain", "packedA", "packedB"}
	q8Outs  = []string{"i32", "f32", "u8", "s8"}
	q8Zeros = []string{"", "one", "vec"}
)

func TestGemm8Small(t *testing.T) {
	forEachImpl8(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		v := 0
		for m := 1; m <= 14; m++ {
			for n := 1; n <= 35; n += 1 + m%3 {
				for k := 1; k <= 13; k++ {
					v++
					tc := q8Case{m: m, n: n, k: k, sa: v%2 == 0, sb: v%3 == 0, ta: v%5 == 0, tb: v%7 == 0,
						pad: v % 3, form: q8Forms[v%3], out: q8Outs[(v/3)%4],
						za: q8Zeros[(v/2)%3], zb: q8Zeros[(v/5)%3], scale: "one", perRow: v%11 == 0}
					if tc.za == "vec" && tc.zb == "vec" {
						tc.zb = "one"
					}
					check8(t, rng, tc)
				}
			}
		}
	})
}

func TestGemm8Tiles(t *testing.T) {
	forEachImpl8(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(23, 24))
		v := 0
		for _, m := range tileMs {
			for _, n := range tileNs {
				for _, k := range []int{1, 4, 7, 64, 129, 300} {
					v++
					tc := q8Case{m: m, n: n, k: k, sa: v%2 == 1, sb: v%4 < 2, form: q8Forms[v%3],
						out: q8Outs[v%4], za: q8Zeros[v%3], zb: q8Zeros[(v/3)%3], scale: "vec",
						bias32: v%5 == 0, perRow: v%7 < 3, par: v%4 == 1, ta: v%9 == 0, tb: v%6 == 0, rows: v%3 != 2}
					if tc.za == "vec" && tc.zb == "vec" {
						tc.za = ""
					}
					check8(t, rng, tc)
				}
			}
		}
	})
}

func TestGemm8Epilogue(t *testing.T) {
	forEachImpl8(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(25, 26))
		for _, s := range [][3]int{{1, 37, 20}, {13, 33, 70}, {30, 70, 300}} {
			m, n, k := s[0], s[1], s[2]
			cases := []q8Case{
				{out: "f32", scale: "vec", bias: true},
				{out: "f32", scale: "vec", rowSc: "vec", bias: true, act: ActRelu},
				{out: "f32", scale: "vec", perRow: true, bias: true, act: ActClip, min: -0.25, max: 0.5},
				{out: "f32", rowSc: "vec", bias: true, bias32: true},
				{out: "u8", scale: "vec", zy: 100},
				{out: "u8", scale: "vec", perRow: true, bias32: true, zy: 3, act: ActRelu},
				{out: "s8", scale: "one", rowSc: "vec", zy: -7},
				{out: "s8", scale: "vec", zy: 5, act: ActClip, min: -20, max: 30},
				{out: "u8", scale: "one", zy: 255},
				{out: "i32", bias32: true, perRow: true},
			}
			for c, tc := range cases {
				for _, form := range q8Forms {
					tc.m, tc.n, tc.k, tc.form = m, n, k, form
					tc.sa, tc.sb = c%2 == 0, c%3 == 0
					tc.za, tc.zb = q8Zeros[c%3], q8Zeros[(c+1)%2]
					tc.par = c%2 == 1
					check8(t, rng, tc)
				}
			}
		}
	})
}

// TestGemm8Blocking forces small blocks and packing budgets so that every
// branch of the driver runs.
func TestGemm8Blocking(t *testing.T) {
	defer func(bb, pb int) { bBlock8, packBytes8 = bb, pb }(bBlock8, packBytes8)
	bBlock8, packBytes8 = 64*40, 24*40
	forEachImpl8(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(27, 28))
		for _, s := range [][3]int{{100, 150, 37}, {37, 300, 40}, {250, 70, 33}} {
			for v, form := range q8Forms {
				check8(t, rng, q8Case{m: s[0], n: s[1], k: s[2], form: form, out: q8Outs[v], za: "one", zb: "vec", sb: true, scale: "vec", par: true})
				check8(t, rng, q8Case{m: s[0], n: s[1], k: s[2], form: form, out: q8Outs[v+1], za: "vec", zb: "one", sa: true, rows: true})
			}
		}
	})
}

func TestGemm8Large(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	rng := rand.New(rand.NewPCG(29, 30))
	for _, s := range [][3]int{{130, 200, 1000}, {1, 700, 768}, {64, 3136, 64}} {
		for v, form := range q8Forms {
			check8(t, rng, q8Case{m: s[0], n: s[1], k: s[2], form: form, out: q8Outs[v], za: "one", zb: "one", scale: "one", par: v != 1})
		}
	}
}

// TestGemm8Extremes drives the sums to their largest magnitudes: every
// operand value at an end of its range and zero points at the other.
func TestGemm8Extremes(t *testing.T) {
	forEachImpl8(t, func(t *testing.T) {
		for _, signed := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			const m, n, k = 13, 33, 2000
			a := Matrix8{Data: make([]byte, m*k), Signed: signed[0], Stride: k}
			b := Matrix8{Data: make([]byte, k*n), Signed: signed[1], Stride: n}
			fill := func(x Matrix8, hi bool) int32 {
				v, z := byte(255), int32(0)
				if x.Signed {
					v, z = 127, -128
				}
				if !hi {
					v, z = byte(z), int32(v)
					if x.Signed {
						z = 127
					}
				}
				for i := range x.Data {
					x.Data[i] = v
				}
				return z
			}
			za := fill(a, true)
			zb := fill(b, false)
			c := make([]int32, m*n)
			Gemm8(m, n, k, a, []int32{za}, b, []int32{zb}, &QEpilogue{Int32: c, Ldc: n}, nil)
			want := int32(int64(k) * (int64(a.at(0, 0)) - int64(za)) * (int64(b.at(0, 0)) - int64(zb)))
			for i, got := range c {
				if got != want {
					t.Fatalf("signed %v: C[%d] = %d, want %d", signed, i, got, want)
				}
			}
		}
	})
}

func TestGemm8NoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	rng := rand.New(rand.NewPCG(31, 32))
	const m, n, k = 100, 200, 300
	a := matrix8(rng, m, k, false, false, 0)
	b := matrix8(rng, k, n, true, false, 0)
	pa, pb := PackA8(m, k, a, []int32{3}), PackB8(k, n, b, nil)
	c := make([]uint8, m*n)
	f := make([]float32, m*n)
	scale := make([]float32, n)
	za, zb := []int32{7}, []int32{1}
	o := &Options8{Parallel: serial2, Threads: 2}
	for name, fn := range map[string]func(){
		"Gemm8":        func() { Gemm8(m, n, k, a, za, b, nil, &QEpilogue{Uint8: c, Ldc: n, Scale: scale}, o) },
		"Gemm8PackedB": func() { Gemm8PackedB(m, a, za, pb, &QEpilogue{Float32: f, Ldc: n, Scale: scale}, o) },
		"Gemm8PackedA": func() { Gemm8PackedA(n, pa, b, zb, &QEpilogue{Uint8: c, Ldc: n, Scale: scale[:1]}, o) },
	} {
		fn()
		if got := testing.AllocsPerRun(20, fn); got != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, got)
		}
	}
}

func TestGemm8Panics(t *testing.T) {
	a := Matrix8{Data: make([]byte, 4), Stride: 2}
	for name, f := range map[string]func(){
		"short A":   func() { Gemm8(2, 2, 3, a, nil, a, nil, &QEpilogue{Int32: make([]int32, 4), Ldc: 2}, nil) },
		"short C":   func() { Gemm8(2, 2, 2, a, nil, a, nil, &QEpilogue{Int32: make([]int32, 3), Ldc: 2}, nil) },
		"no output": func() { Gemm8(2, 2, 2, a, nil, a, nil, &QEpilogue{Ldc: 2}, nil) },
		"zero points": func() {
			Gemm8(2, 2, 2, a, []int32{1, 2}, a, []int32{1, 2}, &QEpilogue{Int32: make([]int32, 4), Ldc: 2}, nil)
		},
		"zp range": func() { Gemm8(2, 2, 2, a, []int32{256}, a, nil, &QEpilogue{Int32: make([]int32, 4), Ldc: 2}, nil) },
		"scale len": func() {
			Gemm8(2, 2, 2, a, nil, a, nil, &QEpilogue{Uint8: make([]uint8, 4), Ldc: 2, Scale: make([]float32, 3)}, nil)
		},
		"bias quant": func() {
			Gemm8(2, 2, 2, a, nil, a, nil, &QEpilogue{Uint8: make([]uint8, 4), Ldc: 2, Bias: make([]float32, 2)}, nil)
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

// TestPack8 holds the packers (fast and Go paths) to the documented
// layouts.
func TestPack8(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, m := range []int{1, 11, 12, 13, 25} {
		for _, k := range []int{1, 3, 4, 5, 63, 64, 65, 127, 128, 131, 260} {
			for v := 0; v < 8; v++ {
				trans, flip, pad := v&1 != 0, v&2 != 0, v/4*3+v%2
				a := matrix8(rng, m, k, false, trans, pad)
				kg := ceilDiv(k, 4)
				got := make([]byte, ceilDiv(m, MR)*MR*kg*4)
				packA8(got, a, 0, m, k, flip)
				for p := 0; p < len(got); p++ {
					panel, g, r, s := p/(kg*4*MR), p%(kg*4*MR)/(4*MR), p%(4*MR)/4, p%4
					i, kk := panel*MR+r, 4*g+s
					want := byte(0)
					if i < m && kk < k {
						want = byte(a.at(i, kk))
						if flip {
							want ^= 0x80
						}
					}
					if got[p] != want {
						t.Fatalf("packA8 m=%d k=%d trans=%v flip=%v pad=%d: byte %d (row %d, k %d) = %#x, want %#x", m, k, trans, flip, pad, p, i, kk, got[p], want)
					}
				}
				// The same sizes as a k×n B with n = m + 20.
				n := m + 20
				b := matrix8(rng, k, n, false, trans, pad)
				got = make([]byte, ceilDiv(n, NR)*NR*kg*4)
				packB8(got, b, k, 0, n, flip)
				for p := 0; p < len(got); p++ {
					panel, g, c, s := p/(kg*4*NR), p%(kg*4*NR)/(4*NR), p%(4*NR)/4, p%4
					j, kk := panel*NR+c, 4*g+s
					want := byte(0)
					if j < n && kk < k {
						want = byte(b.at(kk, j))
						if flip {
							want ^= 0x80
						}
					}
					if got[p] != want {
						t.Fatalf("packB8 k=%d n=%d trans=%v flip=%v pad=%d: byte %d (k %d, col %d) = %#x, want %#x", k, n, trans, flip, pad, p, kk, j, got[p], want)
					}
				}
			}
		}
	}
}

// TestGemm8ZeroK checks k = 0: the sums are zero and only the epilogue's
// terms remain.
func TestGemm8ZeroK(t *testing.T) {
	forEachImpl8(t, func(t *testing.T) {
		for _, form := range q8Forms {
			const m, n = 13, 40
			c := make([]int32, m*n)
			e := &QEpilogue{Int32: c, Ldc: n, Bias32: make([]int32, n)}
			for j := range e.Bias32 {
				e.Bias32[j] = int32(j)
			}
			a, b := Matrix8{Stride: 1}, Matrix8{Stride: n}
			switch form {
			case "packedA":
				Gemm8PackedA(n, PackA8(m, 0, a, nil), b, []int32{3}, e, nil)
			case "packedB":
				Gemm8PackedB(m, a, []int32{3}, PackB8(0, n, b, nil), e, nil)
			default:
				Gemm8(m, n, 0, a, []int32{3}, b, []int32{5}, e, nil)
			}
			for i, v := range c {
				if v != int32(i%n) {
					t.Fatalf("%s: C[%d] = %d, want %d", form, i, v, i%n)
				}
			}
		}
	})
}
