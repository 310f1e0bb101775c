package q8

import "math"

// The Go versions: the reference loops the assembly computes, and what
// runs without it (and on the tails).

// addGeneric is Add's loop, step by step as QLinearAdd's reference
// computes it. The explicit float32 conversions keep the compiler from
// fusing the multiply and the add.
func addGeneric(y, a, b []byte, p *AddParams) {
	a, b = a[:len(y)], b[:len(y)]
	clo, chi := codeRange(p.CSigned)
	for i := range y {
		ia, ib := int32(a[i]), int32(b[i])
		if p.ASigned {
			ia = int32(int8(a[i]))
		}
		if p.BSigned {
			ib = int32(int8(b[i]))
		}
		fa := float32(float32(ia-p.AZero) * p.AScale)
		fb := float32(float32(ib-p.BZero) * p.BScale)
		v := min(max(float32(fa+fb), p.Lo), p.Hi)
		q := math.RoundToEven(float64(v / p.CScale))
		c := min(float64(chi), max(float64(clo), q+float64(p.CZero)))
		y[i] = byte(int32(c))
	}
}

func maxIntoGeneric(dst, src []byte, signed bool) {
	src = src[:len(dst)]
	if signed {
		for i, v := range src {
			dst[i] = byte(max(int8(dst[i]), int8(v)))
		}
		return
	}
	for i, v := range src {
		dst[i] = max(dst[i], v)
	}
}

func hmax3s2Generic(dst, m []byte, signed bool) {
	if len(dst) == 0 {
		return
	}
	m = m[:2*len(dst)+1]
	if signed {
		for j := range dst {
			dst[j] = byte(max(int8(m[2*j]), int8(m[2*j+1]), int8(m[2*j+2])))
		}
		return
	}
	for j := range dst {
		dst[j] = max(m[2*j], m[2*j+1], m[2*j+2])
	}
}

func quantizeGeneric(y []byte, x []float32, s float32, z int32, signed bool) {
	lo, hi := codeRange(signed)
	flo, fhi := float32(lo-z), float32(hi-z)
	x = x[:len(y)]
	for i, v := range x {
		q := min(max(v/s, flo), fhi)
		y[i] = byte(int32(math.RoundToEven(float64(q))) + z)
	}
}

// minMaxGeneric is MinMax in Go: a NaN or an Inf clears finite.
func minMaxGeneric(x []float32) (mn, mx float32, finite bool) {
	finite = true
	for _, v := range x {
		if v-v != 0 {
			finite = false
		}
		mn, mx = min(mn, v), max(mx, v)
	}
	return mn, mx, finite
}
