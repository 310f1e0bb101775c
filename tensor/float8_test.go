package tensor

import (
	"math"
	"testing"
)

func isNaN32(f float32) bool { return f != f }

func TestF8Decode(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct {
		name string
		got  float32
		want float32
	}{
		{"e4m3fn 0x38", F8E4M3FN(0x38).Float32(), 1},
		{"e4m3fn 0x7e", F8E4M3FN(0x7e).Float32(), 448},
		{"e4m3fn 0xfe", F8E4M3FN(0xfe).Float32(), -448},
		{"e4m3fn 0x01", F8E4M3FN(0x01).Float32(), 1.0 / 512},
		{"e4m3fn 0x08", F8E4M3FN(0x08).Float32(), 1.0 / 64},
		{"e4m3fn 0x3c", F8E4M3FN(0x3c).Float32(), 1.5},
		{"e4m3fnuz 0x40", F8E4M3FNUZ(0x40).Float32(), 1},
		{"e4m3fnuz 0x7f", F8E4M3FNUZ(0x7f).Float32(), 240},
		{"e4m3fnuz 0x01", F8E4M3FNUZ(0x01).Float32(), 1.0 / 1024},
		{"e5m2 0x3c", F8E5M2(0x3c).Float32(), 1},
		{"e5m2 0x7b", F8E5M2(0x7b).Float32(), 57344},
		{"e5m2 0x7c", F8E5M2(0x7c).Float32(), inf},
		{"e5m2 0xfc", F8E5M2(0xfc).Float32(), -inf},
		{"e5m2 0x01", F8E5M2(0x01).Float32(), 1.0 / 65536},
		{"e5m2fnuz 0x40", F8E5M2FNUZ(0x40).Float32(), 1},
		{"e5m2fnuz 0x7f", F8E5M2FNUZ(0x7f).Float32(), 57344},
		{"e5m2fnuz 0x01", F8E5M2FNUZ(0x01).Float32(), 1.0 / 131072},
		{"e5m2fnuz 0xc0", F8E5M2FNUZ(0xc0).Float32(), -1},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, f := range []float32{F8E4M3FN(0x7f).Float32(), F8E4M3FN(0xff).Float32(), F8E4M3FNUZ(0x80).Float32(),
		F8E5M2(0x7d).Float32(), F8E5M2(0xff).Float32(), F8E5M2FNUZ(0x80).Float32()} {
		if !isNaN32(f) {
			t.Errorf("want NaN, got %v", f)
		}
	}
	if f := F8E4M3FN(0x80).Float32(); f != 0 || !math.Signbit(float64(f)) {
		t.Errorf("e4m3fn 0x80 = %v, want -0", f)
	}
}

// Every non-NaN code must survive decode → encode.
func TestF8RoundTrip(t *testing.T) {
	for i := 0; i < 256; i++ {
		if f := F8E4M3FN(i).Float32(); !isNaN32(f) {
			if g := F8E4M3FNFromFloat32(f, false); g != F8E4M3FN(i) {
				t.Errorf("e4m3fn %#02x -> %v -> %#02x", i, f, g)
			}
		}
		if f := F8E4M3FNUZ(i).Float32(); !isNaN32(f) {
			if g := F8E4M3FNUZFromFloat32(f, false); g != F8E4M3FNUZ(i) {
				t.Errorf("e4m3fnuz %#02x -> %v -> %#02x", i, f, g)
			}
		}
		if f := F8E5M2(i).Float32(); !isNaN32(f) {
			if g := F8E5M2FromFloat32(f, false); g != F8E5M2(i) {
				t.Errorf("e5m2 %#02x -> %v -> %#02x", i, f, g)
			}
		}
		if f := F8E5M2FNUZ(i).Float32(); !isNaN32(f) {
			if g := F8E5M2FNUZFromFloat32(f, false); g != F8E5M2FNUZ(i) {
				t.Errorf("e5m2fnuz %#02x -> %v -> %#02x", i, f, g)
			}
		}
	}
}

func TestF8Encode(t *testing.T) {
	inf := math.Inf(1)
	nan := math.NaN()
	type c struct {
		x    float64
		sat  bool
		want uint8
	}
	check := func(name string, enc func(float64, bool) uint8, cases []c) {
		for _, k := range cases {
			if got := enc(k.x, k.sat); got != k.want {
				t.Errorf("%s(%v, saturate=%v) = %#02x, want %#02x", name, k.x, k.sat, got, k.want)
			}
		}
	}
	check("e4m3fn", func(x float64, s bool) uint8 { return uint8(F8E4M3FNFromFloat64(x, s)) }, []c{
		{1, true, 0x38},
		{-1, true, 0xb8},
		{0, true, 0},
		{math.Copysign(0, -1), true, 0x80},
		{448, true, 0x7e},
		{464, false, 0x7e},  // tie between 448 (even) and 480: 448
		{470, false, 0x7f},  // rounds past max: NaN
		{470, true, 0x7e},   // saturates
		{-1e6, true, 0xfe},  // saturates
		{-1e6, false, 0xff}, // -NaN
		{inf, true, 0x7e},
		{-inf, true, 0xfe},
		{inf, false, 0x7f},
		{-inf, false, 0xff},
		{nan, true, 0x7f},
		{1.0 / 1024, true, 0},    // half the smallest subnormal: ties to zero
		{3.0 / 1024, true, 0x02}, // 1.5 subnormal units: ties to even (2)
		{1.0625, true, 0x38},     // 1 + 1/16 tie: even (1.0)
		{1.1875, true, 0x3a},     // 1 + 3/16 tie: even (1.25)
		{-1e-7, true, 0x80},      // -0
		{0.4789254, true, 0x2f},  // 0.46875 (1.875 * 2^-2)
		{1.0 / 64 * 1.99, true, 0x10},
	})
	check("e4m3fnuz", func(x float64, s bool) uint8 { return uint8(F8E4M3FNUZFromFloat64(x, s)) }, []c{
		{1, true, 0x40},
		{-1, true, 0xc0},
		{math.Copysign(0, -1), true, 0},
		{-1e-7, true, 0}, // no negative zero
		{240, true, 0x7f},
		{1e6, true, 0x7f},
		{-1e6, true, 0xff},
		{1e6, false, 0x80},
		{inf, true, 0x7f},
		{-inf, true, 0xff},
		{-inf, false, 0x80},
		{nan, true, 0x80},
	})
	check("e5m2", func(x float64, s bool) uint8 { return uint8(F8E5M2FromFloat64(x, s)) }, []c{
		{1, true, 0x3c},
		{57344, true, 0x7b},
		{61440, false, 0x7c}, // tie between max (odd) and 2^16: rounds to infinity
		{60000, false, 0x7b},
		{1e6, false, 0x7c},
		{-1e6, false, 0xfc},
		{1e6, true, 0x7b},
		{inf, true, 0x7b},
		{-inf, true, 0xfb},
		{inf, false, 0x7c},
		{-inf, false, 0xfc},
		{math.Copysign(0, -1), true, 0x80},
	})
	check("e5m2fnuz", func(x float64, s bool) uint8 { return uint8(F8E5M2FNUZFromFloat64(x, s)) }, []c{
		{1, true, 0x40},
		{57344, true, 0x7f},
		{1e6, true, 0x7f},
		{1e6, false, 0x80},
		{inf, true, 0x7f},
		{inf, false, 0x80},
		{nan, false, 0x80},
		{math.Copysign(0, -1), true, 0},
	})
	if g := F8E5M2FromFloat64(nan, true); !isNaN32(g.Float32()) {
		t.Errorf("e5m2(NaN) = %#02x, not NaN", g)
	}
}

func TestF4E2M1(t *testing.T) {
	want := map[uint8]float32{0: 0, 1: 0.5, 2: 1, 3: 1.5, 4: 2, 5: 3, 6: 4, 7: 6, 9: -0.5, 15: -6}
	for c, v := range want {
		if got := F4E2M1(c).Float32(); got != v {
			t.Errorf("F4E2M1(%#x) = %v, want %v", c, got, v)
		}
	}
	cases := []struct {
		x    float64
		want uint8
	}{
		{0.48, 1}, {0.25, 0}, {1.05, 2}, {-3.5, 0xe}, {-8, 0xf}, {9, 7}, {1e6, 7},
		{1e-7, 0}, {math.NaN(), 7}, {math.Inf(1), 7}, {math.Inf(-1), 0xf}, {-4, 0xe},
		{0.01, 0}, {math.Copysign(0, -1), 8}, {2.5, 4}, {5, 6}, {5.5, 7}, {0.75, 2}, {1.75, 4},
	}
	for _, c := range cases {
		if got := F4E2M1FromFloat64(c.x); uint8(got) != c.want {
			t.Errorf("F4E2M1FromFloat64(%v) = %#x, want %#x", c.x, got, c.want)
		}
	}
}

func TestInt4(t *testing.T) {
	if v := I4(-8).Int(); v != -8 {
		t.Errorf("I4(-8) = %d", v)
	}
	if v := I4(0x0f).Int(); v != -1 { // raw nibble form sign-extends
		t.Errorf("I4(0x0f) = %d, want -1", v)
	}
	for _, c := range []struct {
		x    float64
		want int
	}{{-9, -8}, {7.6, 7}, {2.5, 2}, {3.5, 4}, {-2.5, -2}, {100, 7}, {math.NaN(), 0}} {
		if got := I4FromFloat64(c.x).Int(); got != c.want {
			t.Errorf("I4FromFloat64(%v) = %d, want %d", c.x, got, c.want)
		}
	}
	for _, c := range []struct {
		x    float64
		want int
	}{{-9, 0}, {15.4, 15}, {16, 15}, {0.5, 0}, {1.5, 2}} {
		if got := U4FromFloat64(c.x).Int(); got != c.want {
			t.Errorf("U4FromFloat64(%v) = %d, want %d", c.x, got, c.want)
		}
	}
	if I4FromInt64(-100).Int() != -8 || U4FromInt64(300).Int() != 15 || U4FromInt64(-1).Int() != 0 {
		t.Error("int clamping")
	}
}

func TestRoundOdd(t *testing.T) {
	// 1 + 2^-11 + 2^-40 is just above a float16 tie; float32(x) rounds the
	// tail away and then ties to even (1.0), the correct answer is 1+2^-10.
	x := 1 + math.Ldexp(1, -11) + math.Ldexp(1, -40)
	if float32(x) != float32(1+math.Ldexp(1, -11)) {
		t.Fatal("test premise")
	}
	if got := F16FromFloat64(x); got != 0x3c01 {
		t.Errorf("F16FromFloat64(%v) = %#04x, want 0x3c01", x, got)
	}
	if got := F16FromFloat64(1 + math.Ldexp(1, -11)); got != 0x3c00 {
		t.Errorf("exact tie: got %#04x, want 0x3c00", got)
	}
	y := 1 + math.Ldexp(1, -8) + math.Ldexp(1, -40)
	if got := BF16FromFloat64(y); got != 0x3f81 {
		t.Errorf("BF16FromFloat64(%v) = %#04x, want 0x3f81", y, got)
	}
	if got := F16FromFloat64(-2); got != 0xc000 {
		t.Errorf("F16FromFloat64(-2) = %#04x", got)
	}
}
