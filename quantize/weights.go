package quantize

import (
	"math"

	"github.com/inferd/inferd/tensor"
)

// axisLayout splits a shape around one axis: element i of a row-major
// tensor lies in channel (i / inner) % dim.
type axisLayout struct{ outer, dim, inner int }

func layoutOf(shape []int, axis int) axisLayout {
	l := axisLayout{outer: 1, dim: shape[axis], inner: 1}
	for _, d := range shape[:axis] {
		l.outer *= d
	}
	for _, d := range shape[axis+1:] {
		l.inner *= d
	}
	return l
}

// roundHalfEven rounds like QuantizeLinear does.
func roundHalfEven(x float64) float64 { return math.RoundToEven(x) }

// quantizeSymmetric quantizes w per channel along axis into int8 in
// [-qmax, qmax] with scale max|w|/qmax (1 for an all-zero channel). It
// returns the codes and one scale per channel.
func quantizeSymmetric(w []float32, shape []int, axis, qmax int) ([]int8, []float32) {
	l := layoutOf(shape, axis)
	absMax := make([]float64, l.dim)
	for o := 0; o < l.outer; o++ {
		for c := 0; c < l.dim; c++ {
			base := (o*l.dim + c) * l.inner
			for _, v := range w[base : base+l.inner] {
				absMax[c] = max(absMax[c], math.Abs(float64(v)))
			}
		}
	}
	scales := make([]float32, l.dim)
	for c, a := range absMax {
		scales[c] = 1
		if a > 0 {
			scales[c] = float32(a / float64(qmax))
		}
	}
	q := make([]int8, len(w))
	for o := 0; o < l.outer; o++ {
		for c := 0; c < l.dim; c++ {
			base := (o*l.dim + c) * l.inner
			s := float64(scales[c])
			for i := base; i < base+l.inner; i++ {
				v := roundHalfEven(float64(w[i]) / s)
				q[i] = int8(min(float64(qmax), max(-float64(qmax), v)))
			}
		}
	}
	return q, scales
}

// quantizeBias quantizes a bias to int32 with scale[c] = xScale·wScale[c],
// the scale of the int32 accumulator it is added to, and returns the codes
// and scales.
func quantizeBias(b []float32, xScale float32, wScales []float32) ([]int32, []float32) {
	q := make([]int32, len(b))
	s := make([]float32, len(b))
	for i, v := range b {
		ws := wScales[0]
		if len(wScales) > 1 {
			ws = wScales[i]
		}
		s[i] = xScale * ws
		if s[i] == 0 {
			s[i] = 1
		}
		r := roundHalfEven(float64(v) / float64(s[i]))
		q[i] = int32(min(math.MaxInt32, max(math.MinInt32, r)))
	}
	return q, s
}

// actParams are the quantization parameters of one activation tensor.
type actParams struct {
	dt        tensor.DType // Int8 or Uint8
	scale     float32
	zeroPoint int32
}

// lo and hi are the float range the parameters represent.
func (p actParams) lo() float64 {
	qmin := -128.0
	if p.dt == tensor.Uint8 {
		qmin = 0
	}
	return (qmin - float64(p.zeroPoint)) * float64(p.scale)
}

func (p actParams) hi() float64 {
	qmax := 127.0
	if p.dt == tensor.Uint8 {
		qmax = 255
	}
	return (qmax - float64(p.zeroPoint)) * float64(p.scale)
}

// zeroPointTensor returns the zero point as a scalar of the parameters'
// type.
func (p actParams) zeroPointTensor() *tensor.Tensor {
	if p.dt == tensor.Uint8 {
		return tensor.Scalar(uint8(p.zeroPoint))
	}
	return tensor.Scalar(int8(p.zeroPoint))
}

// paramsFor turns calibration statistics into parameters: symmetric int8
// over [-t, t], or asymmetric uint8 over [max(min,-t), min(max,t)]
// widened to include 0, where t is the method's threshold on |x|.
func paramsFor(s *tensorStats, dt tensor.DType, method Method, percentile float64) actParams {
	if dt == tensor.Int8 {
		t := s.threshold(method, percentile, 127)
		p := actParams{dt: tensor.Int8, scale: 1}
		if t > 0 {
			p.scale = float32(t / 127)
		}
		return p
	}
	levels := 255
	if s.min < 0 && s.max > 0 {
		levels = 127 // two-sided: about half the codes on each side
	}
	t := s.threshold(method, percentile, levels)
	lo := min(0, max(s.min, -t))
	hi := max(0, min(s.max, t))
	p := actParams{dt: tensor.Uint8, scale: 1}
	if hi > lo {
		p.scale = float32((hi - lo) / 255)
		zp := roundHalfEven(-lo / float64(p.scale))
		p.zeroPoint = int32(min(255, max(0, zp)))
	}
	return p
}
