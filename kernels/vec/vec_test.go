package vec

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The sweeps test every stride-th float32 of each range; -vec.stride=1
// tests every float32 (minutes per function).
var stride = flag.Int("vec.stride", 257, "test every stride-th float32 in the accuracy sweeps")

// forEachImpl runs f once per implementation this CPU runs (assembly
// levels and the Go version), restoring the best one afterwards.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, name := range impls() {
		t.Run(name, func(t *testing.T) {
			t.Cleanup(useImpl(name))
			f(t)
		})
	}
}

// fn is one transcendental routine with its float64 reference and bound.
type fn struct {
	name    string
	f       func(dst, x []float32)
	ref     func(float64) float64
	lo, hi  float64 // sweep [lo, hi]
	maxRel  float64 // where the result is a normal float32
	absTail func(x float64) float64
}

func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func silu64(x float64) float64 { return x * sigmoid64(x) }

func gelu64(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

// geluTanh64 is x/2·(1+tanh u) as x·sigmoid(2u): the same function, whose
// float64 value does not cancel for negative x.
func geluTanh64(x float64) float64 {
	return x * sigmoid64(2*math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))
}

var fns = []fn{
	{name: "Exp", f: Exp, ref: math.Exp, lo: -110, hi: 90, maxRel: 1e-7},
	{name: "Tanh", f: Tanh, ref: math.Tanh, lo: -20, hi: 20, maxRel: 1.5e-7},
	{name: "Sigmoid", f: Sigmoid, ref: sigmoid64, lo: -110, hi: 30, maxRel: 2e-7},
	{name: "Erf", f: Erf, ref: math.Erf, lo: -6, hi: 6, maxRel: 1.5e-7},
	{name: "Silu", f: Silu, ref: silu64, lo: -87.3, hi: 100, maxRel: 2.5e-7},
	{name: "SiluTail", f: Silu, ref: silu64, lo: -110, hi: -87.3, // sigmoid(x) is subnormal
		absTail: func(x float64) float64 { return math.Abs(x)*0x1p-149 + 0x1p-149 }},
	{name: "Gelu", f: Gelu, ref: gelu64, lo: 0, hi: 100, maxRel: 3e-7},
	{name: "GeluNeg", f: Gelu, ref: gelu64, lo: -20, hi: 0,
		absTail: func(x float64) float64 { return 1.2e-7*math.Abs(x) + 0x1p-149 }},
	{name: "GeluTanh", f: GeluTanh, ref: geluTanh64, lo: -20, hi: 100,
		absTail: func(x float64) float64 {
			u := math.Sqrt(2/math.Pi) * (x + 0.044715*x*x*x)
			return (3e-7+2.5e-7*math.Abs(2*u))*math.Abs(geluTanh64(x)) + math.Abs(x)*0x1p-149 + 0x1p-149
		}},
}

// sweepFloats returns every stride-th float32 in [lo, hi] by bit pattern
// (both signs), plus the range's ends.
func sweepFloats(lo, hi float64, stride int) []float32 {
	var xs []float32
	add := func(a, b float64, sign float32) {
		if b <= a {
			return
		}
		start := math.Float32bits(float32(a))
		end := math.Float32bits(float32(b))
		for u := start; u <= end; u += uint32(stride) {
			xs = append(xs, sign*math.Float32frombits(u))
		}
		xs = append(xs, sign*float32(b))
	}
	if hi > 0 {
		add(max(lo, 0), hi, 1)
	}
	if lo < 0 {
		add(max(-hi, 0), -lo, -1)
	}
	return xs
}

func TestAccuracy(t *testing.T) {
	for _, f := range fns {
		xs := sweepFloats(f.lo, f.hi, *stride)
		got := make([]float32, len(xs))
		t.Run(f.name, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T) {
				f.f(got, xs)
				worst, at := 0.0, float32(0)
				fails := 0
				for i, x := range xs {
					want := f.ref(float64(x))
					g := float64(got[i])
					var bad bool
					var rel float64
					switch w32 := float32(want); {
					case math.IsInf(float64(w32), 0):
						bad = g != float64(w32) && !(math.Abs(g) == math.MaxFloat32 && math.Abs(want) < math.MaxFloat32*(1+0x1p-24))
					case f.absTail != nil:
						bad = math.Abs(g-want) > f.absTail(float64(x))
						if x != 0 {
							rel = math.Abs(g-want) / math.Abs(float64(x)) // reported relative to |x|
						}
					case math.Abs(want) < 0x1p-126:
						bad = math.Abs(g-want) > 0x1p-149
					default:
						rel = math.Abs(g-want) / math.Abs(want)
						bad = rel > f.maxRel
					}
					if rel > worst {
						worst, at = rel, x
					}
					if bad {
						if fails++; fails <= 5 {
							t.Errorf("%s(%g) = %g, want %g (rel %.3g)", f.name, x, g, want, math.Abs(g-want)/math.Abs(want))
						}
					}
				}
				t.Logf("%d points in [%g, %g]: max relative error %.3g at %g; %d out of bounds", len(xs), f.lo, f.hi, worst, at, fails)
			})
		})
	}
}

func TestSpecialValues(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	sub := math.Float32frombits(1) // smallest subnormal
	cases := []struct {
		name string
		f    func(dst, x []float32)
		in   []float32
		want []float32
	}{
		{"Exp", Exp, []float32{0, float32(math.Copysign(0, -1)), inf, -inf, nan, sub, 89, -104, 88.72283, -87.33654, -103.27893, -103.97208},
			[]float32{1, 1, inf, 0, nan, 1, inf, 0, float32(math.Exp(float64(float32(88.72283)))), float32(math.Exp(float64(float32(-87.33654)))), sub, sub}},
		{"Tanh", Tanh, []float32{0, float32(math.Copysign(0, -1)), inf, -inf, nan, sub, -sub, 10, -10, 1e30},
			[]float32{0, float32(math.Copysign(0, -1)), 1, -1, nan, sub, -sub, 1, -1, 1}},
		{"Sigmoid", Sigmoid, []float32{0, inf, -inf, nan, 1e30, -1e30, 30},
			[]float32{0.5, 1, 0, nan, 1, 0, 1}},
		{"Erf", Erf, []float32{0, float32(math.Copysign(0, -1)), inf, -inf, nan, sub, 4, -4, 1e30},
			[]float32{0, float32(math.Copysign(0, -1)), 1, -1, nan, float32(2 / math.SqrtPi * 0x1p-149), 1, -1, 1}},
		{"Gelu", Gelu, []float32{0, inf, -inf, nan, 1e30},
			[]float32{0, inf, nan, nan, 1e30}},
		{"GeluTanh", GeluTanh, []float32{0, inf, nan, 1e30, -1e30},
			[]float32{0, inf, nan, 1e30, 0}},
		{"Silu", Silu, []float32{0, inf, -inf, nan, 1e30, -1e30},
			[]float32{0, inf, nan, nan, 1e30, 0}},
		{"Relu", Relu, []float32{0, float32(math.Copysign(0, -1)), inf, -inf, nan, -sub, sub, -2, 3},
			[]float32{0, float32(math.Copysign(0, -1)), inf, 0, nan, 0, sub, 0, 3}},
	}
	forEachImpl(t, func(t *testing.T) {
		for _, c := range cases {
			got := make([]float32, len(c.in))
			c.f(got, c.in)
			for i, x := range c.in {
				g, w := got[i], c.want[i]
				same := g == w && math.Signbit(float64(g)) == math.Signbit(float64(w)) ||
					g != g && w != w ||
					math.Abs(float64(g-w)) <= 2e-7*math.Abs(float64(w))
				if !same {
					t.Errorf("%s(%g) = %g, want %g", c.name, x, g, w)
				}
			}
		}
	})
}

// guarded returns a slice of n elements inside NaN guards, and a check
// that the guards are intact.
func guarded(n, guard int) ([]float32, func(t *testing.T, name string)) {
	buf := make([]float32, n+2*guard)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	s := buf[guard : guard+n : guard+n]
	return s, func(t *testing.T, name string) {
		t.Helper()
		for i, v := range buf {
			if (i < guard || i >= guard+n) && math.Float32bits(v) != math.Float32bits(float32(math.NaN())) {
				t.Fatalf("%s: n=%d wrote %g outside dst at %d", name, n, v, i-guard)
			}
		}
	}
}

var sizes = func() []int {
	s := []int{}
	for n := 0; n <= 70; n++ {
		s = append(s, n)
	}
	return append(s, 127, 128, 129, 1000, 1023, 1024, 1025, 4099)
}()

func randSlice(r *rand.Rand, n int, scale float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = (r.Float32()*2 - 1) * scale
	}
	return s
}

// close32 reports whether got is within tol (relative) of want, or both NaN.
func close32(got, want float32, tol float64) bool {
	if got == want || got != got && want != want {
		return true
	}
	return math.Abs(float64(got-want)) <= tol*math.Abs(float64(want))
}

// TestSizes runs every routine over sizes around the vector widths, with
// dst inside guards, and compares with the Go version: exactly for
// arithmetic, within 3e-7 for the rest. It also runs each in place.
func TestSizes(t *testing.T) {
	type routine struct {
		name string
		tol  float64 // relative to the result
		run  func(dst []float32, in [3][]float32)
		abs  float64 // and absolute, for results that cancel
	}
	un := func(name string, f func(dst, x []float32), tol float64) routine {
		return routine{name: name, tol: tol, run: func(dst []float32, in [3][]float32) { f(dst, in[0]) }}
	}
	bin := func(name string, f func(dst, x, y []float32)) routine {
		return routine{name: name, run: func(dst []float32, in [3][]float32) { f(dst, in[0], in[1]) }}
	}
	sc := func(name string, f func(dst, x []float32, s float32)) routine {
		return routine{name: name, run: func(dst []float32, in [3][]float32) { f(dst, in[0], 0.7) }}
	}
	routines := []routine{
		un("Exp", Exp, 3e-7), un("Tanh", Tanh, 3e-7), un("Sigmoid", Sigmoid, 3e-7), un("Erf", Erf, 3e-7),
		{name: "Gelu", tol: 3e-7, abs: 1.5e-6, run: func(dst []float32, in [3][]float32) { Gelu(dst, in[0]) }},
		un("GeluTanh", GeluTanh, 1e-5), un("Silu", Silu, 3e-7), un("Relu", Relu, 0),
		{name: "Clip", run: func(dst []float32, in [3][]float32) { Clip(dst, in[0], -0.5, 0.25) }},
		bin("Add", Add), bin("Sub", Sub), bin("Mul", Mul), bin("Div", Div),
		sc("AddScalar", AddScalar), sc("SubScalar", SubScalar), sc("MulScalar", MulScalar), sc("DivScalar", DivScalar),
		{name: "ScalarSub", run: func(dst []float32, in [3][]float32) { ScalarSub(dst, 0.7, in[0]) }},
		{name: "ScalarDiv", run: func(dst []float32, in [3][]float32) { ScalarDiv(dst, 0.7, in[0]) }},
		{name: "MulAdd", abs: 1e-6, run: func(dst []float32, in [3][]float32) { MulAdd(dst, in[0], in[1], in[2]) }},
		{name: "SoftmaxRow", tol: 1e-6, run: func(dst []float32, in [3][]float32) { SoftmaxRow(dst, in[0]) }},
		{name: "LogSoftmaxRow", tol: 1e-6, abs: 3e-7, run: func(dst []float32, in [3][]float32) { LogSoftmaxRow(dst, in[0]) }},
		{name: "LayerNormRow", tol: 3e-6, abs: 6e-6, run: func(dst []float32, in [3][]float32) { LayerNormRow(dst, in[0], in[1], in[2], 1e-5) }},
		{name: "LayerNormRowNoBias", tol: 3e-6, abs: 6e-6, run: func(dst []float32, in [3][]float32) { LayerNormRow(dst, in[0], in[1], nil, 1e-5) }},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, rt := range routines {
		t.Run(rt.name, func(t *testing.T) {
			for _, n := range sizes {
				var in [3][]float32
				for k := range in {
					in[k] = randSlice(r, n, 6)
				}
				want := make([]float32, n)
				restore := useImpl("generic")
				rt.run(want, in)
				restore()
				for _, name := range impls() {
					restore := useImpl(name)
					dst, check := guarded(n, 4+n%5)
					rt.run(dst, in)
					check(t, name+" "+rt.name)
					for i := range n {
						if !close32(dst[i], want[i], rt.tol) && math.Abs(float64(dst[i]-want[i])) > rt.abs {
							t.Fatalf("%s %s n=%d: [%d] = %g, Go version %g (input %g)", name, rt.name, n, i, dst[i], want[i], in[0][i])
						}
					}
					// In place: dst is the first input.
					x := append([]float32(nil), in[0]...)
					inPlace := in
					inPlace[0] = x
					rt.run(x, inPlace)
					for i := range n {
						if !close32(x[i], dst[i], 0) {
							t.Fatalf("%s %s n=%d in place: [%d] = %g, want %g", name, rt.name, n, i, x[i], dst[i])
						}
					}
					restore()
				}
			}
		})
	}
}

func TestReductions(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	forEachImpl(t, func(t *testing.T) {
		for _, n := range sizes {
			x := randSlice(r, n, 100)
			wantMax, wantSum := float32(math.Inf(-1)), 0.0
			for _, v := range x {
				wantMax = max(wantMax, v)
				wantSum += float64(v)
			}
			if got := Max(x); got != wantMax {
				t.Errorf("Max n=%d: got %g, want %g", n, got, wantMax)
			}
			abs := 0.0
			for _, v := range x {
				abs += math.Abs(float64(v))
			}
			if got := Sum(x); math.Abs(float64(got)-wantSum) > 1e-6*abs+1e-30 {
				t.Errorf("Sum n=%d: got %g, want %g", n, got, wantSum)
			}
			if n > 0 {
				for _, i := range []int{0, n / 2, n - 1} {
					y := append([]float32(nil), x...)
					y[i] = float32(math.NaN())
					if got := Max(y); got == got {
						t.Errorf("Max n=%d with NaN at %d: got %g", n, i, got)
					}
					y[i] = float32(math.Inf(1))
					if got := Max(y); !math.IsInf(float64(got), 1) {
						t.Errorf("Max n=%d with +Inf at %d: got %g", n, i, got)
					}
				}
			}
		}
	})
}

func TestSoftmaxRow(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	forEachImpl(t, func(t *testing.T) {
		for _, n := range []int{1, 7, 16, 33, 1000, 5000} {
			for _, scale := range []float32{1, 30, 1000} {
				x := randSlice(r, n, scale)
				x[n/2] += 500 // a far-off maximum
				got := make([]float32, n)
				gotLog := make([]float32, n)
				SoftmaxRow(got, x)
				LogSoftmaxRow(gotLog, x)
				m := math.Inf(-1)
				for _, v := range x {
					m = max(m, float64(v))
				}
				s := 0.0
				for _, v := range x {
					s += math.Exp(float64(v) - m)
				}
				for i, v := range x {
					want := math.Exp(float64(v)-m) / s
					if w32 := float32(want); math.Abs(want) >= 0x1p-126 && math.Abs(float64(got[i])-want) > 5e-7*want ||
						math.Abs(want) < 0x1p-126 && math.Abs(float64(got[i]-w32)) > 0x1p-148 {
						t.Fatalf("n=%d scale=%g: softmax[%d] = %g, want %g", n, scale, i, got[i], want)
					}
					wantLog := float64(v) - m - math.Log(s)
					if math.Abs(float64(gotLog[i])-wantLog) > 3e-7*math.Abs(wantLog)+1e-7 {
						t.Fatalf("n=%d scale=%g: logsoftmax[%d] = %g, want %g", n, scale, i, gotLog[i], wantLog)
					}
				}
			}
		}
		// A NaN anywhere, or a row of -Inf, gives NaN everywhere.
		for _, x := range [][]float32{{1, float32(math.NaN()), 2}, {float32(math.Inf(-1)), float32(math.Inf(-1))}} {
			got := make([]float32, len(x))
			SoftmaxRow(got, x)
			for i, g := range got {
				if g == g {
					t.Errorf("softmax(%v)[%d] = %g, want NaN", x, i, g)
				}
			}
		}
	})
}

func TestLayerNormRow(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	forEachImpl(t, func(t *testing.T) {
		for _, n := range []int{1, 5, 16, 31, 768, 1025, 4096, 100000} {
			for _, c := range []struct{ mean, std float32 }{{0, 1}, {100, 0.01}, {-3e4, 2}, {1e-3, 1e-4}} {
				x := randSlice(r, n, c.std)
				for i := range x {
					x[i] += c.mean
				}
				scale := randSlice(r, n, 2)
				bias := randSlice(r, n, 1)
				got := make([]float32, n)
				mean, inv := LayerNormRow(got, x, scale, bias, 1e-5)
				wm, wv := 0.0, 0.0
				for _, v := range x {
					wm += float64(v)
				}
				wm /= float64(n)
				for _, v := range x {
					wv += (float64(v) - wm) * (float64(v) - wm)
				}
				wv /= float64(n)
				winv := 1 / math.Sqrt(wv+1e-5)
				if math.Abs(mean-wm) > 1e-6*math.Abs(wm)+1e-6*math.Sqrt(wv) || math.Abs(inv-winv) > 1e-5*winv {
					t.Errorf("n=%d %+v: mean, invStd = %g, %g; want %g, %g", n, c, mean, inv, wm, winv)
				}
				num, den := 0.0, 0.0
				for i, v := range x {
					want := (float64(v)-wm)*winv*float64(scale[i]) + float64(bias[i])
					num += (float64(got[i]) - want) * (float64(got[i]) - want)
					den += want * want
				}
				if e := math.Sqrt(num / den); e > 1e-6 {
					t.Errorf("n=%d %+v: relative L2 error %.3g", n, c, e)
				}
			}
		}
	})
}

// TestNoAllocs checks that the routines do not allocate, also on their
// tails (whose stack buffers must not escape).
func TestNoAllocs(t *testing.T) {
	x := make([]float32, 37)
	y := make([]float32, 37)
	d := make([]float32, 37)
	forEachImpl(t, func(t *testing.T) {
		for name, f := range map[string]func(){
			"Exp":          func() { Exp(d, x) },
			"Add":          func() { Add(d, x, y) },
			"MulScalar":    func() { MulScalar(d, x, 2) },
			"MulAdd":       func() { MulAdd(d, x, y, y) },
			"Clip":         func() { Clip(d, x, 0, 1) },
			"Max":          func() { Max(x) },
			"Sum":          func() { Sum(x) },
			"SoftmaxRow":   func() { SoftmaxRow(d, x) },
			"LayerNormRow": func() { LayerNormRow(d, x, y, y, 1e-5) },
		} {
			if a := testing.AllocsPerRun(10, f); a != 0 {
				t.Errorf("%s: %v allocations", name, a)
			}
		}
	})
}

func Example() {
	x := []float32{-1, 0, 1, 2}
	y := make([]float32, len(x))
	SoftmaxRow(y, x)
	fmt.Printf("%.4f\n", y)
	// Output: [0.0321 0.0871 0.2369 0.6439]
}
