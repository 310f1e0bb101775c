package tensor

import "math"

// This file converts the narrow ONNX element types (float8 E4M3FN,
// E4M3FNUZ, E5M2, E5M2FNUZ, float4 E2M1, int4 and uint4) to and from
// float32/float64, and rounds float64 to float16 and bfloat16 exactly once.
//
// Narrowing float conversions round to nearest, ties to even, as if the
// exponent were unbounded; the rounded value then either fits or overflows.
// Overflow follows the Cast operator's `saturate` attribute:
//
//	x                 E4M3FN    E4M3FNUZ  E5M2      E5M2FNUZ
//	NaN               NaN       NaN       NaN       NaN
//	±Inf, saturate    ±448      ±240      ±57344    ±57344
//	±Inf, !saturate   ±NaN      NaN       ±Inf      NaN
//	[x] > max, sat.   ±448      ±240      ±57344    ±57344
//	[x] > max, !sat.  ±NaN      NaN       ±Inf      NaN
//
// (The Cast-19..23 tables say Inf becomes NaN for the FNUZ types even when
// saturating, but ONNX's reference results have always saturated it, and
// Cast-24 corrected the table.)
//
// The FNUZ types have no negative zero: -0 and negative values that round
// to zero become +0 (0x80 is their only NaN).

// f8Format describes one float8 layout.
type f8Format struct {
	mant    int     // mantissa bits
	bias    int     // exponent bias
	max     float64 // largest finite magnitude
	uz      bool    // FNUZ: no -0, NaN is 0x80, no infinities
	inf     bool    // has infinities (E5M2)
	nanCode uint8   // NaN pattern without sign (FN types)
}

var (
	f8E4M3FN   = f8Format{mant: 3, bias: 7, max: 448, nanCode: 0x7f}
	f8E4M3FNUZ = f8Format{mant: 3, bias: 8, max: 240, uz: true}
	f8E5M2     = f8Format{mant: 2, bias: 15, max: 57344, inf: true, nanCode: 0x7f}
	f8E5M2FNUZ = f8Format{mant: 2, bias: 16, max: 57344, uz: true}
)

// decode returns the value of code c.
func (f *f8Format) decode(c uint8) float32 {
	neg := c&0x80 != 0
	if f.uz && c == 0x80 {
		return float32(math.NaN())
	}
	mag := c & 0x7f
	expBits := 7 - f.mant
	e := int(mag >> f.mant)
	m := int(mag) & (1<<f.mant - 1)
	var v float64
	switch {
	case !f.uz && !f.inf && mag == 0x7f: // E4M3FN NaN
		return float32(math.NaN())
	case f.inf && e == 1<<expBits-1: // E5M2 Inf/NaN
		if m != 0 {
			return float32(math.NaN())
		}
		v = math.Inf(1)
	case e == 0:
		v = math.Ldexp(float64(m), 1-f.bias-f.mant)
	default:
		v = math.Ldexp(float64(m|1<<f.mant), e-f.bias-f.mant)
	}
	if neg {
		v = -v
	}
	return float32(v)
}

// encode rounds x to the format.
func (f *f8Format) encode(x float64, saturate bool) uint8 {
	var sign uint8
	if math.Signbit(x) {
		sign = 0x80
	}
	nan := func() uint8 {
		if f.uz {
			return 0x80
		}
		return sign | f.nanCode
	}
	overflow := func() uint8 {
		switch {
		case saturate:
			return sign | f.encodeMag(f.max)
		case f.uz:
			return 0x80
		case f.inf:
			return sign | 0x7c
		}
		return nan()
	}
	if math.IsNaN(x) {
		return nan()
	}
	if math.IsInf(x, 0) {
		return overflow()
	}
	a := math.Abs(x)
	if a == 0 {
		if f.uz {
			return 0
		}
		return sign
	}
	emin := 1 - f.bias
	_, e := math.Frexp(a)
	e-- // a = 1.xxx * 2^e
	if e < emin {
		e = emin
	}
	q := math.Ldexp(1, e-f.mant)
	r := math.RoundToEven(a/q) * q
	if r > f.max {
		return overflow()
	}
	if r == 0 {
		if f.uz {
			return 0
		}
		return sign
	}
	return sign | f.encodeMag(r)
}

// encodeMag encodes a positive value that is exactly representable.
func (f *f8Format) encodeMag(r float64) uint8 {
	emin := 1 - f.bias
	_, e := math.Frexp(r)
	e--
	if e < emin {
		return uint8(r / math.Ldexp(1, emin-f.mant))
	}
	m := uint8((r/math.Ldexp(1, e) - 1) * float64(int(1)<<f.mant))
	return uint8(e+f.bias)<<f.mant | m
}

func (f *f8Format) table() *[256]float32 {
	var t [256]float32
	for i := range t {
		t[i] = f.decode(uint8(i))
	}
	return &t
}

var (
	tabE4M3FN   = f8E4M3FN.table()
	tabE4M3FNUZ = f8E4M3FNUZ.table()
	tabE5M2     = f8E5M2.table()
	tabE5M2FNUZ = f8E5M2FNUZ.table()
)

// Float32 widens v exactly.
func (v F8E4M3FN) Float32() float32 { return tabE4M3FN[v] }

// Float32 widens v exactly.
func (v F8E4M3FNUZ) Float32() float32 { return tabE4M3FNUZ[v] }

// Float32 widens v exactly.
func (v F8E5M2) Float32() float32 { return tabE5M2[v] }

// Float32 widens v exactly.
func (v F8E5M2FNUZ) Float32() float32 { return tabE5M2FNUZ[v] }

// F8E4M3FNFromFloat64 rounds x to float8 E4M3FN (see the file comment).
func F8E4M3FNFromFloat64(x float64, saturate bool) F8E4M3FN {
	return F8E4M3FN(f8E4M3FN.encode(x, saturate))
}

// F8E4M3FNUZFromFloat64 rounds x to float8 E4M3FNUZ.
func F8E4M3FNUZFromFloat64(x float64, saturate bool) F8E4M3FNUZ {
	return F8E4M3FNUZ(f8E4M3FNUZ.encode(x, saturate))
}

// F8E5M2FromFloat64 rounds x to float8 E5M2.
func F8E5M2FromFloat64(x float64, saturate bool) F8E5M2 {
	return F8E5M2(f8E5M2.encode(x, saturate))
}

// F8E5M2FNUZFromFloat64 rounds x to float8 E5M2FNUZ.
func F8E5M2FNUZFromFloat64(x float64, saturate bool) F8E5M2FNUZ {
	return F8E5M2FNUZ(f8E5M2FNUZ.encode(x, saturate))
}

// F8E4M3FNFromFloat32 rounds x to float8 E4M3FN.
func F8E4M3FNFromFloat32(x float32, saturate bool) F8E4M3FN {
	return F8E4M3FNFromFloat64(float64(x), saturate)
}

// F8E4M3FNUZFromFloat32 rounds x to float8 E4M3FNUZ.
func F8E4M3FNUZFromFloat32(x float32, saturate bool) F8E4M3FNUZ {
	return F8E4M3FNUZFromFloat64(float64(x), saturate)
}

// F8E5M2FromFloat32 rounds x to float8 E5M2.
func F8E5M2FromFloat32(x float32, saturate bool) F8E5M2 {
	return F8E5M2FromFloat64(float64(x), saturate)
}

// F8E5M2FNUZFromFloat32 rounds x to float8 E5M2FNUZ.
func F8E5M2FNUZFromFloat32(x float32, saturate bool) F8E5M2FNUZ {
	return F8E5M2FNUZFromFloat64(float64(x), saturate)
}

// Float4 E2M1: sign, 2 exponent bits (bias 1), 1 mantissa bit; no
// infinities or NaN. Magnitudes are 0, 0.5, 1, 1.5, 2, 3, 4, 6.
var f4Values = [8]float32{0, 0.5, 1, 1.5, 2, 3, 4, 6}

// Float32 widens v exactly (only the low 4 bits count).
func (v F4E2M1) Float32() float32 {
	m := f4Values[v&7]
	if v&8 != 0 {
		return -m
	}
	return m
}

// F4E2M1FromFloat64 rounds x to float4 E2M1, ties to even, saturating:
// values beyond ±6 and ±Inf become ±6, and NaN becomes 6.
func F4E2M1FromFloat64(x float64) F4E2M1 {
	if math.IsNaN(x) {
		return 7
	}
	var sign F4E2M1
	if math.Signbit(x) {
		sign = 8
	}
	a := math.Abs(x)
	if a >= 6 {
		return sign | 7
	}
	// Representable values are k*q with q = 0.5 below 2, 1 in [2,4), 2 in [4,6].
	var q float64
	switch {
	case a < 2:
		q = 0.5
	case a < 4:
		q = 1
	default:
		q = 2
	}
	r := math.RoundToEven(a/q) * q
	for i, v := range f4Values {
		if float64(v) == r {
			return sign | F4E2M1(i)
		}
	}
	return sign | 7 // unreachable: r is always one of the values
}

// F4E2M1FromFloat32 rounds x to float4 E2M1.
func F4E2M1FromFloat32(x float32) F4E2M1 { return F4E2M1FromFloat64(float64(x)) }

// Int returns v's value (only the low 4 bits count).
func (v U4) Int() int { return int(v & 0xf) }

// Int returns v's value, sign-extending the low 4 bits.
func (v I4) Int() int { return int(int8(v<<4) >> 4) }

// Float32 returns v's value.
func (v U4) Float32() float32 { return float32(v.Int()) }

// Float32 returns v's value.
func (v I4) Float32() float32 { return float32(v.Int()) }

// U4FromInt64 clamps x to [0, 15].
func U4FromInt64(x int64) U4 { return U4(min(max(x, 0), 15)) }

// I4FromInt64 clamps x to [-8, 7].
func I4FromInt64(x int64) I4 { return I4(min(max(x, -8), 7)) }

// U4FromUint64 clamps x to [0, 15].
func U4FromUint64(x uint64) U4 { return U4(min(x, 15)) }

// I4FromUint64 clamps x to [0, 7].
func I4FromUint64(x uint64) I4 { return I4(min(x, 7)) }

// U4FromFloat64 rounds x to the nearest integer, ties to even, and clamps
// it to [0, 15]; NaN becomes 0.
func U4FromFloat64(x float64) U4 {
	if math.IsNaN(x) {
		return 0
	}
	return U4(min(max(math.RoundToEven(x), 0), 15))
}

// I4FromFloat64 rounds x to the nearest integer, ties to even, and clamps
// it to [-8, 7]; NaN becomes 0.
func I4FromFloat64(x float64) I4 {
	if math.IsNaN(x) {
		return 0
	}
	return I4(min(max(math.RoundToEven(x), -8), 7))
}

// Float32RoundOdd narrows x to float32 rounding to odd: an inexact result
// gets its last mantissa bit set. Rounding that result again to a format
// with at most 22 mantissa bits (float16, bfloat16, float8) gives the
// correctly rounded value of x, which a plain float32(x) might not.
func Float32RoundOdd(x float64) float32 {
	f := float32(x)
	if float64(f) == x || math.IsNaN(x) || math.IsInf(float64(f), 0) {
		return f
	}
	b := math.Float32bits(f)
	if math.Abs(float64(f)) > math.Abs(x) {
		b-- // step toward zero: truncate
	}
	return math.Float32frombits(b | 1)
}

// F16FromFloat64 rounds x to the nearest float16, ties to even.
func F16FromFloat64(x float64) F16 { return F16FromFloat32(Float32RoundOdd(x)) }

// BF16FromFloat64 rounds x to the nearest bfloat16, ties to even.
func BF16FromFloat64(x float64) BF16 { return BF16FromFloat32(Float32RoundOdd(x)) }
