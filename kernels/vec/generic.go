package vec

import (
	"math"

	"github.com/inferd/inferd/kernels/vec/internal/coef"
)

// The portable versions. Each scalar function below is the algorithm the
// assembly runs on every lane; the Go versions evaluate polynomials and
// divisions in float64, which the lanes do in float32 with fused
// multiply-adds, so the two agree to within the documented error bounds
// but not always bit for bit.

const (
	log2e = 1.44269504088896340736
	ln2hi = 0.693145751953125 // ln 2 to 16 bits: n·ln2hi is exact for |n| < 2^8
	ln2lo = 1.42860682030941723212e-6

	// expLo and expHi clamp exp's argument: below expLo the result rounds
	// to 0, above expHi it overflows.
	expLo = -104
	expHi = 89

	tanhHi = 10 // tanh(x) rounds to 1 for x ≥ 9.01: clamp 2|x| to 2·tanhHi
	erfHi  = 4  // erf(x) rounds to 1 for x ≥ 3.92
)

// exp32 is e^x: x = n·ln2 + r with |r| ≤ ln2/2, e^r = 1 + r·P(r), then
// scaled by 2^n.
func exp32(x float32) float32 {
	x = min(max(x, expLo), expHi) // min and max keep NaN
	n := math.RoundToEven(float64(x * log2e))
	r := float64(x) - n*ln2hi - n*ln2lo
	p := horner(coef.Exp[:], r)
	return float32((1 + r*p) * math.Float64frombits(uint64(1023+int64(n))<<52))
}

func horner(c []float32, t float64) float64 {
	p := float64(c[len(c)-1])
	for k := len(c) - 2; k >= 0; k-- {
		p = p*t + float64(c[k])
	}
	return p
}

// tanh32 is tanh x: an odd polynomial x + x·s·P(s), s = x², for
// |x| < coef.TanhSmall, and 1 - 2/(e^2|x| + 1) with x's sign beyond.
func tanh32(x float32) float32 {
	a := math.Abs(float64(x))
	if a < coef.TanhSmall {
		s := float64(x) * float64(x)
		return float32(float64(x) + float64(x)*s*horner(coef.Tanh[:], s))
	}
	e := float64(exp32(float32(min(2*a, 2*tanhHi)))) // min keeps NaN
	return float32(math.Copysign(1-2/(e+1), float64(x)))
}

// sigmoid32 is 1/(1 + e^-x), computed from e = e^-|x| ≤ 1 as 1/(1+e)
// for x ≥ 0 and e/(1+e) for x < 0, so that neither overflows.
func sigmoid32(x float32) float32 {
	e := float64(exp32(-abs32(x)))
	if math.Signbit(float64(x)) {
		return float32(e / (1 + e))
	}
	return float32(1 / (1 + e))
}

// erf32 is erf x by piecewise polynomials on [0, 4) (see coef.Erf), with
// x's sign.
func erf32(x float32) float32 {
	a := min(float64(abs32(x)), erfHi)
	if a != a {
		return x
	}
	i := min(int(a*2), 7)
	var t, u, v float64
	if i == 0 {
		t, u, v = a*a, a, a
	} else {
		t = a - (float64(i)/2 + 0.25)
		u, v = t, float64(coef.Erf[0][i])
	}
	p := float64(coef.Erf[coef.ErfDegree+1][i])
	for k := coef.ErfDegree; k >= 1; k-- {
		p = p*t + float64(coef.Erf[k][i])
	}
	y := min(u*p+v, 1)
	return float32(math.Copysign(y, float64(x)))
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// Gelu's and GeluTanh's constants.
const (
	sqrt1_2   = 0.70710678118654752440
	geluTanhA = 1.5957691216057307   // 2·√(2/π)
	geluTanhB = 0.071354816272138239 // 2·√(2/π)·0.044715
)

func gelu32(x float32) float32 {
	h := 0.5 * x
	return h + h*erf32(x*sqrt1_2)
}

func geluTanh32(x float32) float32 {
	return x * sigmoid32(x*(geluTanhA+geluTanhB*x*x))
}

func silu32(x float32) float32 { return x * sigmoid32(x) }

func expGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = exp32(v)
	}
}

func tanhGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = tanh32(v)
	}
}

func sigmoidGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = sigmoid32(v)
	}
}

func erfGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = erf32(v)
	}
}

func geluGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = gelu32(v)
	}
}

func geluTanhGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = geluTanh32(v)
	}
}

func siluGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = silu32(v)
	}
}

// reluGeneric keeps NaN and -0, like max(x, 0) with x as the
// NaN-preferred operand.
func reluGeneric(dst, x []float32) {
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		dst[i] = v
	}
}

func clipGeneric(dst, x []float32, lo, hi float32) {
	for i, v := range x {
		if v < lo {
			v = lo
		}
		if v > hi {
			v = hi
		}
		dst[i] = v
	}
}

func addGeneric(dst, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		dst[i] = v + y[i]
	}
}

func subGeneric(dst, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		dst[i] = v - y[i]
	}
}

func mulGeneric(dst, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		dst[i] = v * y[i]
	}
}

func divGeneric(dst, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		dst[i] = v / y[i]
	}
}

func addScalarGeneric(dst, x []float32, s float32) {
	for i, v := range x {
		dst[i] = v + s
	}
}

func subScalarGeneric(dst, x []float32, s float32) {
	for i, v := range x {
		dst[i] = v - s
	}
}

func mulScalarGeneric(dst, x []float32, s float32) {
	for i, v := range x {
		dst[i] = v * s
	}
}

func divScalarGeneric(dst, x []float32, s float32) {
	for i, v := range x {
		dst[i] = v / s
	}
}

func scalarSubGeneric(dst, x []float32, s float32) {
	for i, v := range x {
		dst[i] = s - v
	}
}

func scalarDivGeneric(dst, x []float32, s float32) {
	for i, v := range x {
		dst[i] = s / v
	}
}

// mulAddGeneric rounds x·y + z once, except in the rare cases where
// rounding the exact float64 sum to float32 rounds twice.
func mulAddGeneric(dst, x, y, z []float32) {
	y, z = y[:len(x)], z[:len(x)]
	for i, v := range x {
		dst[i] = float32(float64(v)*float64(y[i]) + float64(z[i]))
	}
}

// maxGeneric returns the largest element, NaN if any is NaN.
func maxGeneric(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m || v != v {
			m = v
			if v != v {
				return v
			}
		}
	}
	return m
}

func sumGeneric(x []float32) float64 {
	s := 0.0
	for _, v := range x {
		s += float64(v)
	}
	return s
}

// expSubSumGeneric sets dst[i] = exp(x[i] - m) and returns their sum.
func expSubSumGeneric(dst, x []float32, m float32) float64 {
	s := 0.0
	for i, v := range x {
		e := exp32(v - m)
		dst[i] = e
		s += float64(e)
	}
	return s
}

// sumShiftGeneric returns Σ(x-s) and Σ(x-s)².
func sumShiftGeneric(x []float32, s float32) (s1, s2 float64) {
	for _, v := range x {
		d := float64(v - s)
		s1 += d
		s2 += d * d
	}
	return s1, s2
}

// normGeneric sets dst[i] = ((x[i] - mh) - ml)·inv·scale[i] + bias[i]
// (bias nil: no bias).
func normGeneric(dst, x, scale, bias []float32, mh, ml, inv float32) {
	scale = scale[:len(x)]
	if bias == nil {
		for i, v := range x {
			dst[i] = ((v - mh) - ml) * inv * scale[i]
		}
		return
	}
	bias = bias[:len(x)]
	for i, v := range x {
		dst[i] = ((v-mh)-ml)*inv*scale[i] + bias[i]
	}
}
