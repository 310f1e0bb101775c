package vec

import "math"

// Op codes of the unary, binary and scalar routines, shared by the
// dispatchers of each architecture.
const (
	opExp = iota
	opTanh
	opSigmoid
	opErf
	opGelu
	opGeluTanh
	opSilu
	opRelu
)

const (
	opAdd = iota
	opSub
	opMul
	opDiv
	opScalarSub // s - x
	opScalarDiv // s / x
)

// BlockLen is the length of the blocks within which Sum, SoftmaxRow and
// LayerNormRow add in float32 lanes (LogSoftmaxRow: 256); block totals
// are added in float64.
const BlockLen = 1024

var unaryGeneric = [...]func(dst, x []float32){
	opExp: expGeneric, opTanh: tanhGeneric, opSigmoid: sigmoidGeneric, opErf: erfGeneric,
	opGelu: geluGeneric, opGeluTanh: geluTanhGeneric, opSilu: siluGeneric, opRelu: reluGeneric,
}

func unary(op int, dst, x []float32) {
	dst = dst[:len(x)]
	if len(x) == 0 || unaryAsm(op, dst, x) {
		return
	}
	unaryGeneric[op](dst, x)
}

// Exp sets dst[i] = e^x[i].
func Exp(dst, x []float32) { unary(opExp, dst, x) }

// Tanh sets dst[i] = tanh x[i].
func Tanh(dst, x []float32) { unary(opTanh, dst, x) }

// Sigmoid sets dst[i] = 1/(1 + e^-x[i]).
func Sigmoid(dst, x []float32) { unary(opSigmoid, dst, x) }

// Erf sets dst[i] = erf x[i].
func Erf(dst, x []float32) { unary(opErf, dst, x) }

// Gelu sets dst[i] = x[i]/2·(1 + erf(x[i]/√2)), ONNX's Gelu with
// approximate="none".
func Gelu(dst, x []float32) { unary(opGelu, dst, x) }

// GeluTanh sets dst[i] = x[i]/2·(1 + tanh(√(2/π)·(x[i] + 0.044715·x[i]³))),
// ONNX's Gelu with approximate="tanh", computed as x·Sigmoid(2u).
func GeluTanh(dst, x []float32) { unary(opGeluTanh, dst, x) }

// Silu sets dst[i] = x[i]·Sigmoid(x[i]) (also called Swish).
func Silu(dst, x []float32) { unary(opSilu, dst, x) }

// Relu sets dst[i] = max(x[i], 0); NaN and -0 pass through unchanged.
func Relu(dst, x []float32) { unary(opRelu, dst, x) }

// Clip sets dst[i] = min(max(x[i], lo), hi); NaN passes through.
func Clip(dst, x []float32, lo, hi float32) {
	dst = dst[:len(x)]
	if len(x) == 0 || clipAsm(dst, x, lo, hi) {
		return
	}
	clipGeneric(dst, x, lo, hi)
}

var binaryGeneric = [...]func(dst, x, y []float32){
	opAdd: addGeneric, opSub: subGeneric, opMul: mulGeneric, opDiv: divGeneric,
}

func binary(op int, dst, x, y []float32) {
	dst, y = dst[:len(x)], y[:len(x)]
	if len(x) == 0 || binaryAsm(op, dst, x, y) {
		return
	}
	binaryGeneric[op](dst, x, y)
}

// Add sets dst[i] = x[i] + y[i]; y has at least len(x) elements.
func Add(dst, x, y []float32) { binary(opAdd, dst, x, y) }

// Sub sets dst[i] = x[i] - y[i]; y has at least len(x) elements.
func Sub(dst, x, y []float32) { binary(opSub, dst, x, y) }

// Mul sets dst[i] = x[i]·y[i]; y has at least len(x) elements.
func Mul(dst, x, y []float32) { binary(opMul, dst, x, y) }

// Div sets dst[i] = x[i]/y[i]; y has at least len(x) elements.
func Div(dst, x, y []float32) { binary(opDiv, dst, x, y) }

var scalarGeneric = [...]func(dst, x []float32, s float32){
	opAdd: addScalarGeneric, opSub: subScalarGeneric, opMul: mulScalarGeneric, opDiv: divScalarGeneric,
	opScalarSub: scalarSubGeneric, opScalarDiv: scalarDivGeneric,
}

func scalar(op int, dst, x []float32, s float32) {
	dst = dst[:len(x)]
	if len(x) == 0 || scalarAsm(op, dst, x, s) {
		return
	}
	scalarGeneric[op](dst, x, s)
}

// AddScalar sets dst[i] = x[i] + s.
func AddScalar(dst, x []float32, s float32) { scalar(opAdd, dst, x, s) }

// SubScalar sets dst[i] = x[i] - s.
func SubScalar(dst, x []float32, s float32) { scalar(opSub, dst, x, s) }

// MulScalar sets dst[i] = x[i]·s.
func MulScalar(dst, x []float32, s float32) { scalar(opMul, dst, x, s) }

// DivScalar sets dst[i] = x[i]/s (a true division, not a multiplication
// by 1/s).
func DivScalar(dst, x []float32, s float32) { scalar(opDiv, dst, x, s) }

// ScalarSub sets dst[i] = s - x[i].
func ScalarSub(dst []float32, s float32, x []float32) { scalar(opScalarSub, dst, x, s) }

// ScalarDiv sets dst[i] = s/x[i].
func ScalarDiv(dst []float32, s float32, x []float32) { scalar(opScalarDiv, dst, x, s) }

// MulAdd sets dst[i] = x[i]·y[i] + z[i] with one rounding (a fused
// multiply-add; the portable version rounds the exact float64 result,
// which differs from a fused one only in rare double-rounding cases).
func MulAdd(dst, x, y, z []float32) {
	dst, y, z = dst[:len(x)], y[:len(x)], z[:len(x)]
	if len(x) == 0 || mulAddAsm(dst, x, y, z) {
		return
	}
	mulAddGeneric(dst, x, y, z)
}

// Max returns the largest element of x: NaN if any element is NaN, -Inf
// if x is empty.
func Max(x []float32) float32 {
	if m, ok := maxAsm(x); ok {
		return m
	}
	return maxGeneric(x)
}

// Sum returns the sum of x (see BlockLen for how it adds).
func Sum(x []float32) float32 { return float32(sum64(x)) }

func sum64(x []float32) float64 {
	s := 0.0
	for len(x) > 0 {
		b := x[:min(len(x), BlockLen)]
		x = x[len(b):]
		if t, ok := sumAsm(b); ok {
			s += float64(t)
		} else {
			s += sumGeneric(b)
		}
	}
	return s
}

// expSubSum sets dst[i] = e^(x[i]-m) and returns the sum.
func expSubSum(dst, x []float32, m float32) float64 {
	dst = dst[:len(x)]
	s := 0.0
	for len(x) > 0 {
		n := min(len(x), BlockLen)
		if t, ok := expSubSumAsm(dst[:n], x[:n], m); ok {
			s += float64(t)
		} else {
			s += expSubSumGeneric(dst[:n], x[:n], m)
		}
		dst, x = dst[n:], x[n:]
	}
	return s
}

// SoftmaxRow sets dst to the softmax of x: e^(x[i]-max x) divided by the
// sum of those. The result has the accuracy of Exp, one rounding of the
// sum (see BlockLen) and one multiplication by its reciprocal. A row with
// a NaN gives NaN everywhere; so does a row of -Inf, as in the float64
// formula.
func SoftmaxRow(dst, x []float32) {
	dst = dst[:len(x)]
	if len(x) == 0 {
		return
	}
	m := Max(x)
	s := expSubSum(dst, x, m)
	MulScalar(dst, dst, float32(1/s))
}

// LogSoftmaxRow sets dst to the log of the softmax of x, computed as
// (x[i] - max x) - log Σe^(x[j]-max x).
func LogSoftmaxRow(dst, x []float32) {
	dst = dst[:len(x)]
	if len(x) == 0 {
		return
	}
	m := Max(x)
	var s float64
	// The exponentials are summed in chunks of 256, the size of
	// the scratch buffer that the in-place case needs, so that both cases
	// add alike.
	const chunk = 256
	if &dst[0] != &x[0] {
		for b := 0; b < len(x); b += chunk {
			e := min(len(x), b+chunk)
			s += expSubSum(dst[b:e], x[b:e], m) // dst as scratch
		}
		SubScalar(dst, x, m)
	} else {
		// In place: keep x - m and exponentiate it into the scratch.
		SubScalar(dst, x, m)
		var scratch [chunk]float32
		for b := 0; b < len(dst); b += chunk {
			blk := dst[b:min(len(dst), b+chunk)]
			s += expSubSum(scratch[:len(blk)], blk, 0)
		}
	}
	SubScalar(dst, dst, float32(math.Log(s)))
}

// LayerNormRow sets dst[i] = (x[i] - mean)·invStd·scale[i] + bias[i],
// where mean and invStd = 1/√(variance + eps) are those of x, and
// returns mean and invStd (computed in float64). bias may be nil (no
// bias); scale and bias have at least len(x) elements.
//
// The mean and variance come from one pass over x: sums of x[i] - x[0]
// and of its square, in float32 lanes within blocks (see BlockLen) and
// float64 across them. Shifting by x[0] keeps the variance accurate when
// the mean is far from 0. The mean is subtracted from x in two float32
// parts, so that rows whose spread is small next to their mean keep
// their precision.
func LayerNormRow(dst, x, scale, bias []float32, eps float32) (mean, invStd float64) {
	dst = dst[:len(x)]
	n := len(x)
	if n == 0 {
		return 0, 0
	}
	scale = scale[:n]
	if bias != nil {
		bias = bias[:n]
	}
	shift := x[0]
	var s1, s2 float64
	for b := 0; b < n; b += BlockLen {
		blk := x[b:min(n, b+BlockLen)]
		t1, t2, ok := sumShiftAsm(blk, shift)
		if !ok {
			t1, t2 = sumShiftGeneric(blk, shift)
		}
		s1 += t1
		s2 += t2
	}
	d := s1 / float64(n)
	variance := max(s2/float64(n)-d*d, 0)
	mean = float64(shift) + d
	invStd = 1 / math.Sqrt(variance+float64(eps))
	mh := float32(mean)
	ml := float32(mean - float64(mh))
	if !normAsm(dst, x, scale, bias, mh, ml, float32(invStd)) {
		normGeneric(dst, x, scale, bias, mh, ml, float32(invStd))
	}
	return mean, invStd
}
