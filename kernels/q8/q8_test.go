package q8

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// addSpec is QLinearAdd from the ONNX formulas in float64:
// saturate(roundHalfEven(act((a−za)·sa + (b−zb)·sb) / sc) + zc). It also
// returns the quotient's distance from the nearest rounding tie, where
// float32 arithmetic may legitimately land one code away.
func addSpec(a, b byte, p *AddParams) (code int32, tie float64) {
	val := func(x byte, signed bool) float64 {
		if signed {
			return float64(int8(x))
		}
		return float64(x)
	}
	v := (val(a, p.ASigned)-float64(p.AZero))*float64(p.AScale) + (val(b, p.BSigned)-float64(p.BZero))*float64(p.BScale)
	v = min(max(v, float64(p.Lo)), float64(p.Hi))
	q := v / float64(p.CScale)
	tie = math.Abs(math.Abs(q-math.Floor(q)) - 0.5)
	lo, hi := codeRange(p.CSigned)
	r := math.RoundToEven(q) + float64(p.CZero)
	return int32(min(float64(hi), max(float64(lo), r))), tie
}

func decode(c byte, signed bool) int32 {
	if signed {
		return int32(int8(c))
	}
	return int32(c)
}

var inf = float32(math.Inf(1))

func addCases() []AddParams {
	var ps []AddParams
	for _, sg := range [][3]bool{{true, true, true}, {false, false, false}, {true, false, true}, {false, true, false}, {true, true, false}} {
		for _, act := range [][2]float32{{-inf, inf}, {0, inf}, {0, 6}, {-1.5, 0.25}} {
			p := AddParams{AScale: 0.0213, BScale: 0.0478, CScale: 0.0391, AZero: 3, BZero: -7, CZero: -12,
				ASigned: sg[0], BSigned: sg[1], CSigned: sg[2], Lo: act[0], Hi: act[1]}
			if !p.ASigned {
				p.AZero = 130
			}
			if !p.BSigned {
				p.BZero = 121
			}
			if !p.CSigned {
				p.CZero = 97
			}
			ps = append(ps, p)
		}
	}
	// Scales that make ties common (powers of two) and a negative
	// output scale.
	ps = append(ps, AddParams{AScale: 0.5, BScale: 0.25, CScale: 1, ASigned: true, BSigned: true, CSigned: true, Lo: -inf, Hi: inf},
		AddParams{AScale: 0.125, BScale: 0.125, CScale: -0.5, CZero: 5, ASigned: true, BSigned: true, CSigned: true, Lo: -inf, Hi: inf},
		AddParams{AScale: 3e-5, BScale: 2e-3, CScale: 1e-6, ASigned: false, BSigned: true, CSigned: false, Lo: 0, Hi: inf})
	return ps
}

// allPairs lays out every pair of codes (a's byte high) and a tail of
// 37 more, so that every implementation also runs its remainder path.
func allPairs() (a, b []byte) {
	n := 1<<16 + 37
	a, b = make([]byte, n), make([]byte, n)
	for i := range n {
		a[i], b[i] = byte(i>>8), byte(i)
	}
	return a, b
}

func TestAddSpec(t *testing.T) {
	a, b := allPairs()
	for _, impl := range impls() {
		t.Run(impl, func(t *testing.T) {
			defer useImpl(impl)()
			for ci, p := range addCases() {
				y := make([]byte, len(a))
				if err := Add(y, a, b, &p); err != nil {
					t.Fatal(err)
				}
				near := 0
				for i := range y {
					want, tie := addSpec(a[i], b[i], &p)
					got := decode(y[i], p.CSigned)
					if got == want {
						continue
					}
					if tie < 1e-4 && (got-want == 1 || want-got == 1) {
						near++
						continue
					}
					t.Fatalf("case %d %+v: a=%d b=%d: got %d, want %d", ci, p, a[i], b[i], got, want)
				}
				if near > 64 {
					t.Errorf("case %d: %d results one code off at rounding ties", ci, near)
				}
			}
		})
	}
}

// TestAddImplsAgree checks every implementation writes exactly the Go
// loop's bytes, at every length and misalignment up to a few vectors,
// and nothing past len(y).
func TestAddImplsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, impl := range impls() {
		t.Run(impl, func(t *testing.T) {
			defer useImpl(impl)()
			for ci, p := range addCases() {
				for n := 0; n < 300; n += 1 + n/16 {
					off := n % 7
					a, b := make([]byte, n+off), make([]byte, n+off)
					for i := range a {
						a[i], b[i] = byte(r.Uint32()), byte(r.Uint32())
					}
					want := make([]byte, n)
					addGeneric(want, a[off:], b[off:], &p)
					y := make([]byte, n+off+8)
					for i := range y {
						y[i] = 0xA5
					}
					if err := Add(y[off:off+n], a[off:], b[off:], &p); err != nil {
						t.Fatal(err)
					}
					for i := range y {
						g := y[i]
						switch {
						case i < off || i >= off+n:
							if g != 0xA5 {
								t.Fatalf("case %d n=%d: wrote byte %d outside y", ci, n, i)
							}
						case g != want[i-off]:
							t.Fatalf("case %d n=%d: y[%d] = %d, Go loop %d", ci, n, i-off, g, want[i-off])
						}
					}
				}
			}
		})
	}
}

func TestAddErrors(t *testing.T) {
	ok := AddParams{AScale: 1, BScale: 1, CScale: 1, Lo: -inf, Hi: inf}
	for _, tc := range []struct {
		name string
		mod  func(p *AddParams)
	}{
		{"zero output scale", func(p *AddParams) { p.CScale = 0 }},
		{"NaN scale", func(p *AddParams) { p.AScale = float32(math.NaN()) }},
		{"Inf scale", func(p *AddParams) { p.BScale = inf }},
		{"huge scale", func(p *AddParams) { p.AScale = 1e37 }},
		{"NaN bound", func(p *AddParams) { p.Hi = float32(math.NaN()) }},
		{"empty bounds", func(p *AddParams) { p.Lo, p.Hi = 1, 0 }},
		{"uint8 zero point", func(p *AddParams) { p.CZero = -1 }},
		{"int8 zero point", func(p *AddParams) { p.ASigned, p.AZero = true, 200 }},
	} {
		p := ok
		tc.mod(&p)
		if err := Add(make([]byte, 4), make([]byte, 4), make([]byte, 4), &p); !errors.Is(err, ErrParams) {
			t.Errorf("%s: err = %v, want ErrParams", tc.name, err)
		}
	}
	if err := Add(make([]byte, 4), make([]byte, 3), make([]byte, 4), &ok); err == nil {
		t.Error("short operand: no error")
	}
}

func TestMaxInto(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, impl := range impls() {
		t.Run(impl, func(t *testing.T) {
			defer useImpl(impl)()
			for _, signed := range []bool{true, false} {
				for n := 0; n < 400; n += 1 + n/8 {
					src := make([]byte, n)
					dst := make([]byte, n+8)
					for i := range src {
						src[i] = byte(r.Uint32())
					}
					for i := range dst {
						dst[i] = byte(r.Uint32())
					}
					old := append([]byte(nil), dst...)
					MaxInto(dst[:n], src, signed)
					for i := range dst {
						want := old[i]
						if i < n && decode(src[i], signed) > decode(old[i], signed) {
							want = src[i]
						}
						if dst[i] != want {
							t.Fatalf("signed=%v n=%d: dst[%d] = %d, want %d", signed, n, i, dst[i], want)
						}
					}
				}
			}
		})
	}
}

func TestHMax3S2(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, impl := range impls() {
		t.Run(impl, func(t *testing.T) {
			defer useImpl(impl)()
			for _, signed := range []bool{true, false} {
				for n := 0; n < 200; n += 1 + n/8 {
					for extra := 1; extra <= 3; extra++ {
						m := make([]byte, 2*n+extra)
						for i := range m {
							m[i] = byte(r.Uint32())
						}
						dst := make([]byte, n+8)
						for i := range dst {
							dst[i] = 0x5A
						}
						HMax3S2(dst[:n], m, signed)
						for j := range dst {
							want := byte(0x5A)
							if j < n {
								want = m[2*j]
								for _, v := range m[2*j+1 : 2*j+3] {
									if decode(v, signed) > decode(want, signed) {
										want = v
									}
								}
							}
							if dst[j] != want {
								t.Fatalf("signed=%v n=%d extra=%d: dst[%d] = %d, want %d", signed, n, extra, j, dst[j], want)
							}
						}
					}
				}
			}
		})
	}
}

func TestNoAllocs(t *testing.T) {
	p := addCases()[0]
	a, b, y := make([]byte, 1000), make([]byte, 1000), make([]byte, 1000)
	m := make([]byte, 2001)
	if n := testing.AllocsPerRun(20, func() {
		_ = Add(y, a, b, &p)
		MaxInto(y, a, true)
		HMax3S2(y, m, false)
	}); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func BenchmarkAdd(b *testing.B) {
	p := addCases()[0]
	for _, impl := range impls() {
		for _, n := range []int{100352, 802816} {
			b.Run(fmt.Sprintf("impl=%s/n=%d", impl, n), func(b *testing.B) {
				defer useImpl(impl)()
				x, z, y := make([]byte, n), make([]byte, n), make([]byte, n)
				b.SetBytes(int64(3 * n))
				for b.Loop() {
					_ = Add(y, x, z, &p)
				}
			})
		}
	}
}

func BenchmarkMaxPoolRow(b *testing.B) {
	for _, impl := range impls() {
		b.Run("impl="+impl, func(b *testing.B) {
			defer useImpl(impl)()
			rows := make([]byte, 3*112)
			m := make([]byte, 114)
			y := make([]byte, 56)
			for b.Loop() {
				copy(m[1:113], rows[:112])
				MaxInto(m[1:113], rows[112:224], true)
				MaxInto(m[1:113], rows[224:], true)
				HMax3S2(y, m, true)
			}
		})
	}
}

// TestQuantizeSpec checks Quantize against saturate(roundHalfEven(x/s)
// + z) in float64, over lengths that exercise every block size and tail,
// exact ties included (the float32 quotient may land one code off only
// where the float64 one is within rounding of a tie).
func TestQuantizeSpec(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, impl := range impls() {
		t.Run(impl, func(t *testing.T) {
			defer useImpl(impl)()
			for _, c := range []struct {
				s      float32
				z      int32
				signed bool
			}{{0.5, 0, true}, {0.0371, -9, true}, {0.0371, 131, false}, {1.0 / 255, 0, false}, {3.3, 127, true}, {-0.25, 3, true}} {
				for n := 0; n < 600; n += 1 + n/4 {
					x := make([]float32, n)
					for i := range x {
						if i%3 == 0 {
							x[i] = float32(r.IntN(2000)-1000) * 0.25 // ties for s=0.5
						} else {
							x[i] = float32(r.NormFloat64() * 5)
						}
					}
					y := make([]byte, n+4)
					Quantize(y[:n], x, c.s, c.z, c.signed)
					lo, hi := codeRange(c.signed)
					for i := range n {
						q := float64(x[i]) / float64(c.s)
						want := int32(min(float64(hi), max(float64(lo), math.RoundToEven(q)+float64(c.z))))
						got := decode(y[i], c.signed)
						tie := math.Abs(math.Abs(q-math.Floor(q)) - 0.5)
						if got != want && !(tie < 1e-5 && (got-want == 1 || want-got == 1)) {
							t.Fatalf("%+v n=%d: x=%g gives %d, want %d", c, n, x[i], got, want)
						}
					}
					for _, g := range y[n:] {
						if g != 0 {
							t.Fatalf("%+v n=%d: wrote past y", c, n)
						}
					}
				}
			}
		})
	}
}

func TestMinMax(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, impl := range impls() {
		t.Run(impl, func(t *testing.T) {
			defer useImpl(impl)()
			for n := 0; n < 700; n += 1 + n/5 {
				x := make([]float32, n)
				wmn, wmx := 0.0, 0.0
				for i := range x {
					x[i] = float32(r.NormFloat64()*3 + 1)
					wmn, wmx = math.Min(wmn, float64(x[i])), math.Max(wmx, float64(x[i]))
				}
				mn, mx, ok := MinMax(x)
				if !ok || float64(mn) != wmn || float64(mx) != wmx {
					t.Fatalf("n=%d: MinMax = %g, %g, %v, want %g, %g, true", n, mn, mx, ok, wmn, wmx)
				}
				for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
					for _, at := range []int{0, n / 2, n - 1} {
						if n == 0 {
							continue
						}
						old := x[at]
						x[at] = float32(bad)
						if _, _, ok := MinMax(x); ok {
							t.Fatalf("n=%d: %g at %d not reported", n, bad, at)
						}
						x[at] = old
					}
				}
			}
		})
	}
}

func TestQuantizeAllocs(t *testing.T) {
	x, y := make([]float32, 1000), make([]byte, 1000)
	if n := testing.AllocsPerRun(20, func() {
		Quantize(y, x, 0.1, 3, true)
		MinMax(x)
	}); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func BenchmarkDynamicQuantize(b *testing.B) {
	for _, impl := range impls() {
		b.Run("impl="+impl, func(b *testing.B) {
			defer useImpl(impl)()
			x, y := make([]float32, 128*1536), make([]byte, 128*1536)
			for i := range x {
				x[i] = float32(i%1000) * 0.01
			}
			b.SetBytes(int64(5 * len(x)))
			for b.Loop() {
				mn, mx, _ := MinMax(x)
				Quantize(y, x, (mx-mn)/255, 0, false)
			}
		})
	}
}

func TestEvens(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, impl := range impls() {
		t.Run(impl, func(t *testing.T) {
			defer useImpl(impl)()
			for n := 0; n < 300; n += 1 + n/8 {
				for _, extra := range []int{-1, 0, 1} {
					if 2*n+extra < 0 {
						continue
					}
					src := make([]byte, max(0, 2*n+extra))
					for i := range src {
						src[i] = byte(r.Uint32())
					}
					dst := make([]byte, n+5)
					Evens(dst[:n], src)
					for j := range dst {
						want := byte(0)
						if j < n {
							want = src[2*j]
						}
						if dst[j] != want {
							t.Fatalf("n=%d len(src)=%d: dst[%d] = %d, want %d", n, len(src), j, dst[j], want)
						}
					}
				}
			}
		})
	}
}

func TestCompact(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, impl := range impls() {
		t.Run(impl, func(t *testing.T) {
			defer useImpl(impl)()
			for _, w := range []int{1, 7, 14, 63, 64, 65, 130} {
				for _, extra := range []int{0, 2, 9} {
					for _, rows := range []int{0, 1, 5} {
						stride := w + extra
						src := make([]byte, max(0, (rows-1)*stride+w))
						for i := range src {
							src[i] = byte(r.Uint32())
						}
						dst := make([]byte, rows*w+3)
						Compact(dst[:rows*w], src, rows, w, stride)
						for i, g := range dst {
							want := byte(0)
							if i < rows*w {
								want = src[i/w*stride+i%w]
							}
							if g != want {
								t.Fatalf("w=%d stride=%d rows=%d: dst[%d] = %d, want %d", w, stride, rows, i, g, want)
							}
						}
					}
				}
			}
		})
	}
}
