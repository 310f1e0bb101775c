package tensor

import (
	"math"
	"testing"
)

func TestF16RoundTrip(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := F16(i)
		f := h.Float32()
		if f != f {
			if g := F16FromFloat32(f); g.Float32() == g.Float32() {
				t.Fatalf("NaN %#04x came back as %#04x", i, g)
			}
			continue
		}
		if g := F16FromFloat32(f); g != h {
			t.Fatalf("F16 %#04x -> %v -> %#04x", i, f, g)
		}
	}
}

func TestF16Rounding(t *testing.T) {
	cases := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00},
		{65504, 0x7bff},
		{65520, 0x7c00},        // rounds up to infinity
		{1 + 1.0/2048, 0x3c00}, // tie, even stays
		{1 + 3.0/2048, 0x3c02}, // tie, odd rounds up
		{5.960464477539063e-08, 0x0001},
		{2.9802322387695312e-08, 0x0000}, // tie with zero rounds to even (zero)
		{-2, 0xc000},
		{float32(math.Inf(-1)), 0xfc00},
	}
	for _, c := range cases {
		if got := F16FromFloat32(c.in); uint16(got) != c.want {
			t.Errorf("F16FromFloat32(%g) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

func TestBF16(t *testing.T) {
	cases := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81},
		{-0.5, 0xbf00},
	}
	for _, c := range cases {
		if got := BF16FromFloat32(c.in); uint16(got) != c.want {
			t.Errorf("BF16FromFloat32(%g) = %#04x, want %#04x", c.in, got, c.want)
		}
		if back := BF16(c.want).Float32(); BF16FromFloat32(back) != BF16(c.want) {
			t.Errorf("round trip of %#04x failed", c.want)
		}
	}
	if nan := BF16FromFloat32(float32(math.NaN())).Float32(); nan == nan {
		t.Error("NaN did not stay NaN")
	}
}
