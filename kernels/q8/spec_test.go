package q8

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ortqSpecCode is QuantizeLinear's code as the ONNX spec defines it,
// saturate(roundHalfEven(x / s) + z) with the quotient in float32 (the
// input's type), worked out in float64: the float64 quotient of two
// float32 values rounded once to float32 is the correctly rounded float32
// quotient (53 ≥ 2·24+2 bits, so the double rounding is innocuous).
func ortqSpecCode(x, s float32, z int32, signed bool) int32 {
	q := float64(float32(float64(x) / float64(s)))
	lo, hi := codeRange(signed)
	return int32(min(float64(hi), max(float64(lo), math.RoundToEven(q)+float64(z))))
}

// TestQuantizeExactQuotient checks Quantize code for code against the
// spec's float32 quotient, with no tolerance at ties: exact ties of the
// float32 quotient are many here, and so are values where multiplying by
// a float32 reciprocal, or rounding half away from zero, gives another
// code (the test counts them, so that it would catch either).
//
// The first case is the value where inferd and ONNX Runtime first part
// on bert_like's dynamic file (ORT's LayerNormalization output, one ulp
// from inferd's): x/s is exactly −23.5 in float32, code 120 − 24 = 96.
func TestQuantizeExactQuotient(t *testing.T) {
	bx, bs := float32(-0.8131234049797058), float32(0.03460099548101425)
	if q := float64(bx) / float64(bs); float32(q) != -23.5 {
		t.Fatalf("bert_like tie: float32 quotient %v, want -23.5", float32(q))
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, impl := range impls() {
		t.Run(impl, func(t *testing.T) {
			defer useImpl(impl)()
			y := make([]byte, 1)
			Quantize(y, []float32{bx}, bs, 120, false)
			if y[0] != 96 {
				t.Fatalf("bert_like tie: code %d, want 96", y[0])
			}
			recip, away := 0, 0
			for _, c := range []struct {
				s      float32
				z      int32
				signed bool
			}{{bs, 120, false}, {0.0371, -9, true}, {0.013, 200, false}, {1.0 / 255, 0, false}, {0.1, 0, true}, {3.3, 127, true}, {-0.07, 3, true}} {
				for n := 1; n < 700; n += 1 + n/3 {
					x := make([]float32, n)
					for i := range x {
						k := float64(r.IntN(300) - 150)
						switch i % 3 {
						case 0: // near a tie; often exactly one in float32
							x[i] = float32((k + 0.5) * float64(c.s))
						case 1:
							x[i] = float32((k + r.Float64()) * float64(c.s))
						default:
							x[i] = float32(r.NormFloat64() * 40 * float64(c.s))
						}
					}
					got := make([]byte, n+3)
					Quantize(got[:n], x, c.s, c.z, c.signed)
					lo, hi := codeRange(c.signed)
					for i, v := range x {
						want := ortqSpecCode(v, c.s, c.z, c.signed)
						if g := decode(got[i], c.signed); g != want {
							t.Fatalf("s=%v z=%d n=%d: x=%v (x/s=%v) gives %d, want %d", c.s, c.z, n, v, v/c.s, g, want)
						}
						rc := int32(min(float64(hi), max(float64(lo), math.RoundToEven(float64(v*(1/c.s)))+float64(c.z))))
						if rc != want {
							recip++
						}
						q := float64(float32(float64(v) / float64(c.s)))
						if aw := int32(min(float64(hi), max(float64(lo), math.Round(q)+float64(c.z)))); aw != want {
							away++
						}
					}
					for _, g := range got[n:] {
						if g != 0 {
							t.Fatalf("s=%v n=%d: wrote past y", c.s, n)
						}
					}
				}
			}
			t.Logf("codes a reciprocal multiply would change: %d; half-away rounding: %d", recip, away)
			if recip == 0 || away == 0 {
				t.Fatalf("cases do not tell the spec from a reciprocal multiply (%d) or from half-away rounding (%d)", recip, away)
			}
		})
	}
}
