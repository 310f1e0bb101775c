package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/kernels/vec"
	"github.com/inferd/inferd/tensor"
)

// Activation functions. All take float32, float64, float16 and bfloat16
// (the last two computed in float32); Relu also takes signed integers,
// Shrink and Clip every numeric type, PRelu the types its spec lists.

func init() {
	register("Relu", newRelu)
	register("LeakyRelu", newLeakyRelu)
	register("Elu", newElu)
	register("Selu", newSelu)
	register("Celu", newCelu)
	register("Sigmoid", newSigmoid)
	register("HardSigmoid", newHardSigmoid)
	register("HardSwish", newHardSwish)
	register("Softplus", newSoftplus)
	register("Softsign", newSoftsign)
	register("Mish", newMish)
	register("Gelu", newGelu)
	register("ThresholdedRelu", newThresholdedRelu)
	register("Shrink", newShrink)
	register("PRelu", newPRelu)
	register("Clip", newClip)
}

// ewFloatKernel builds a float unary kernel from fn.
func ewFloatKernel(fn ewFloatFn) (any, error) {
	return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) { return ewFloatUnary(c, x, fn) }), nil
}

// ---- Relu ----

func ewReluNum[T tensor.Numeric](d, s []T) {
	d = d[:len(s)]
	for i, v := range s {
		if v < 0 {
			v = 0
		}
		d[i] = v
	}
}

var (
	ewReluFloat = ewFloatFn{f32: vec.Relu, f64: ewReluNum[float64], grain: ewGrainCheap}
	ewReluInts  = &ewIntOp{i8: ewReluNum[int8], i16: ewReluNum[int16], i32: ewReluNum[int32], i64: ewReluNum[int64]}
)

func newRelu(*Build) (any, error) {
	return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
		return ewNumUnary(c, x, ewReluFloat, ewReluInts.run)
	}), nil
}

// ---- Parameterised float activations ----

func newLeakyRelu(b *Build) (any, error) {
	a := b.Attrs()
	alpha := a.Float("alpha", 0.01)
	if err := a.Err(); err != nil {
		return nil, err
	}
	f32 := func(d, s []float32) {
		d = d[:len(s)]
		for i, v := range s {
			if v < 0 {
				v *= alpha
			}
			d[i] = v
		}
	}
	al := float64(alpha)
	f64 := func(d, s []float64) {
		d = d[:len(s)]
		for i, v := range s {
			if v < 0 {
				v *= al
			}
			d[i] = v
		}
	}
	return ewFloatKernel(ewFloatFn{f32: f32, f64: f64, grain: ewGrainCheap})
}

func newElu(b *Build) (any, error) {
	a := b.Attrs()
	alpha := float64(a.Float("alpha", 1))
	if err := a.Err(); err != nil {
		return nil, err
	}
	return ewFloatKernel(ewMap(func(x float64) float64 {
		if x < 0 {
			return alpha * math.Expm1(x)
		}
		return x
	}, ewGrainHeavy))
}

func newSelu(b *Build) (any, error) {
	a := b.Attrs()
	alpha := float64(a.Float("alpha", 1.67326319217681884765625))
	gamma := float64(a.Float("gamma", 1.05070102214813232421875))
	if err := a.Err(); err != nil {
		return nil, err
	}
	return ewFloatKernel(ewMap(func(x float64) float64 {
		if x <= 0 {
			return gamma * alpha * math.Expm1(x)
		}
		return gamma * x
	}, ewGrainHeavy))
}

func newCelu(b *Build) (any, error) {
	a := b.Attrs()
	alpha := float64(a.Float("alpha", 1))
	if err := a.Err(); err != nil {
		return nil, err
	}
	if alpha == 0 {
		return nil, fmt.Errorf("attribute alpha must not be 0")
	}
	return ewFloatKernel(ewMap(func(x float64) float64 {
		if x > 0 {
			return x
		}
		return alpha * math.Expm1(x/alpha)
	}, ewGrainHeavy))
}

// ewSigmoid is 1/(1+e^-x), computed without overflow for either sign.
func ewSigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func newSigmoid(*Build) (any, error) {
	return ewFloatKernel(ewFloatFn{f32: vec.Sigmoid, f64: ewMapF64(ewSigmoid), grain: ewGrainHeavy, grain32: ewGrainCheap})
}

func newHardSigmoid(b *Build) (any, error) {
	a := b.Attrs()
	alpha := a.Float("alpha", 0.2)
	beta := a.Float("beta", 0.5)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return ewFloatKernel(ewHardSigmoidFn(alpha, beta, false))
}

// ewHardSigmoidFn computes max(0, min(1, alpha*x + beta)), times x when
// swish is set (HardSwish).
func ewHardSigmoidFn(alpha, beta float32, swish bool) ewFloatFn {
	f32 := func(d, s []float32) {
		d = d[:len(s)]
		for i, v := range s {
			y := alpha*v + beta
			y = max(0, min(1, y))
			if swish {
				y *= v
			}
			d[i] = y
		}
	}
	al, be := float64(alpha), float64(beta)
	f64 := func(d, s []float64) {
		d = d[:len(s)]
		for i, v := range s {
			y := max(0, min(1, al*v+be))
			if swish {
				y *= v
			}
			d[i] = y
		}
	}
	return ewFloatFn{f32: f32, f64: f64, grain: ewGrainCheap}
}

func newHardSwish(*Build) (any, error) {
	return ewFloatKernel(ewHardSigmoidFn(1.0/6, 0.5, true))
}

// ewSoftplus is log(1+e^x) without overflow.
func ewSoftplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func newSoftplus(*Build) (any, error) { return ewFloatKernel(ewMap(ewSoftplus, ewGrainHeavy)) }

func newSoftsign(*Build) (any, error) {
	return ewFloatKernel(ewMap(func(x float64) float64 { return x / (1 + math.Abs(x)) }, ewGrainCheap))
}

func newMish(*Build) (any, error) {
	return ewFloatKernel(ewFloatFn{
		f32:   ewMapF32(func(x float64) float64 { return x * ewTanh32(ewSoftplus(x)) }),
		f64:   ewMapF64(func(x float64) float64 { return x * math.Tanh(ewSoftplus(x)) }),
		grain: ewGrainHeavy,
	})
}

func newGelu(b *Build) (any, error) {
	a := b.Attrs()
	approx := a.String("approximate", "none")
	if err := a.Err(); err != nil {
		return nil, err
	}
	switch approx {
	case "none":
		return ewFloatKernel(ewFloatFn{f32: vec.Gelu, f64: ewMapF64(ewGelu), grain: ewGrainHeavy, grain32: ewGrainCheap})
	case "tanh":
		return ewFloatKernel(ewFloatFn{
			f32:     vec.GeluTanh,
			f64:     ewMapF64(func(x float64) float64 { return ewGeluTanh(x, math.Tanh) }),
			grain:   ewGrainHeavy,
			grain32: ewGrainCheap,
		})
	}
	return nil, fmt.Errorf("attribute approximate is %q, want \"none\" or \"tanh\"", approx)
}

func ewGelu(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

func ewGeluTanh(x float64, tanh func(float64) float64) float64 {
	const k = 0.7978845608028654 // sqrt(2/pi)
	return 0.5 * x * (1 + tanh(k*(x+0.044715*x*x*x)))
}

func newThresholdedRelu(b *Build) (any, error) {
	a := b.Attrs()
	alpha := a.Float("alpha", 1)
	if err := a.Err(); err != nil {
		return nil, err
	}
	al := float64(alpha)
	return ewFloatKernel(ewFloatFn{
		f32: func(d, s []float32) {
			d = d[:len(s)]
			for i, v := range s {
				if !(v > alpha) {
					v = 0
				}
				d[i] = v
			}
		},
		f64: ewMapF64(func(x float64) float64 {
			if x > al {
				return x
			}
			return 0
		}),
		grain: ewGrainCheap,
	})
}

// ---- Shrink ----

func ewShrinkT[T tensor.Numeric](lambd, bias float64) func(d, s []T) {
	return func(d, s []T) {
		d = d[:len(s)]
		for i, v := range s {
			x := float64(v)
			switch {
			case x < -lambd:
				d[i] = T(x + bias)
			case x > lambd:
				d[i] = T(x - bias)
			default:
				d[i] = 0
			}
		}
	}
}

func newShrink(b *Build) (any, error) {
	a := b.Attrs()
	lambd := float64(a.Float("lambd", 0.5))
	bias := float64(a.Float("bias", 0))
	if err := a.Err(); err != nil {
		return nil, err
	}
	fl := ewFloatFn{f32: ewShrinkT[float32](lambd, bias), f64: ewShrinkT[float64](lambd, bias), grain: ewGrainCheap}
	ints := &ewIntOp{ewShrinkT[int8](lambd, bias), ewShrinkT[int16](lambd, bias), ewShrinkT[int32](lambd, bias),
		ewShrinkT[int64](lambd, bias), ewShrinkT[uint8](lambd, bias), ewShrinkT[uint16](lambd, bias),
		ewShrinkT[uint32](lambd, bias), ewShrinkT[uint64](lambd, bias)}
	return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
		return ewNumUnary(c, x, fl, ints.run)
	}), nil
}

// ---- PRelu ----

func ewPReluRow[T tensor.Numeric](o, a, b []T, mode int) {
	switch mode {
	case ewVV:
		a, b = a[:len(o)], b[:len(o)]
		for i := range o {
			v := a[i]
			if v < 0 {
				v *= b[i]
			}
			o[i] = v
		}
	case ewVS:
		y := b[0]
		a = a[:len(o)]
		for i, v := range a {
			if v < 0 {
				v *= y
			}
			o[i] = v
		}
	default: // a constant x along the row: rare
		x := a[0]
		b = b[:len(o)]
		for i := range o {
			if x < 0 {
				o[i] = x * b[i]
			} else {
				o[i] = x
			}
		}
	}
}

func ewPReluT[T tensor.Numeric](c *Context, x, slope *tensor.Tensor) *tensor.Tensor {
	out := c.Alloc(x.DType, x.Shape...)
	ewBinaryInto(c, out, x, slope, ewGrainCheap, ewPReluRow[T])
	return out
}

func ewPRelu(c *Context, x, slope *tensor.Tensor) (*tensor.Tensor, error) {
	if err := ewSameType(x, slope); err != nil {
		return nil, err
	}
	// The slope broadcasts to X (unidirectionally). Before opset 7 a 1-D
	// slope of size C is per channel (axis 1); accept that layout too.
	shape, err := BroadcastShapes(x.Shape, slope.Shape)
	if err != nil || !tensor.EqualShapes(shape, x.Shape) {
		if len(slope.Shape) == 1 && len(x.Shape) >= 2 && slope.Shape[0] == x.Shape[1] {
			s := make([]int, len(x.Shape)-1)
			for i := range s {
				s[i] = 1
			}
			s[0] = slope.Shape[0]
			slope, _ = slope.Reshape(s...)
		} else {
			return nil, fmt.Errorf("slope of shape %v does not broadcast to X of shape %v", slope.Shape, x.Shape)
		}
	}
	if ewIsHalf(x.DType) {
		r, err := ewPRelu(c, ewWiden(x), ewWiden(slope))
		if err != nil {
			return nil, err
		}
		return ewNarrow(c, r, x.DType), nil
	}
	switch x.Data.(type) {
	case []float32:
		return ewPReluT[float32](c, x, slope), nil
	case []float64:
		return ewPReluT[float64](c, x, slope), nil
	case []int8:
		return ewPReluT[int8](c, x, slope), nil
	case []int16:
		return ewPReluT[int16](c, x, slope), nil
	case []int32:
		return ewPReluT[int32](c, x, slope), nil
	case []int64:
		return ewPReluT[int64](c, x, slope), nil
	case []uint8:
		return ewPReluT[uint8](c, x, slope), nil
	case []uint16:
		return ewPReluT[uint16](c, x, slope), nil
	case []uint32:
		return ewPReluT[uint32](c, x, slope), nil
	case []uint64:
		return ewPReluT[uint64](c, x, slope), nil
	}
	return nil, fmt.Errorf("PRelu of %v tensors: %w", x.DType, ErrUnsupported)
}

func newPRelu(*Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) != 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("want 2 inputs (X, slope), got %d", len(in))
		}
		out, err := ewPRelu(c, in[0], in[1])
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

// ---- Clip ----

func ewClipT[T tensor.Numeric](c *Context, x *tensor.Tensor, lo, hi T, hasLo, hasHi bool) *tensor.Tensor {
	return ewUnaryT(c, x, x.DType, ewGrainCheap, func(d, s []T) {
		d = d[:len(s)]
		switch {
		case hasLo && hasHi:
			for i, v := range s {
				if v < lo {
					v = lo
				}
				if v > hi {
					v = hi
				}
				d[i] = v
			}
		case hasLo:
			for i, v := range s {
				if v < lo {
					v = lo
				}
				d[i] = v
			}
		case hasHi:
			for i, v := range s {
				if v > hi {
					v = hi
				}
				d[i] = v
			}
		default:
			copy(d, s)
		}
	})
}

// ewScalarOf reads the single value of a bound tensor as T.
func ewScalarOf[T tensor.Numeric](t *tensor.Tensor, name string) (T, bool, error) {
	if t == nil {
		return 0, false, nil
	}
	s, ok := t.Data.([]T)
	if !ok {
		return 0, false, fmt.Errorf("input %s is %v, want the type of the input", name, t.DType)
	}
	if len(s) != 1 {
		return 0, false, fmt.Errorf("input %s has shape %v, want a scalar", name, t.Shape)
	}
	return s[0], true, nil
}

func ewClipRun[T tensor.Numeric](c *Context, x, lo, hi *tensor.Tensor) (*tensor.Tensor, error) {
	l, hasLo, err := ewScalarOf[T](lo, "min")
	if err != nil {
		return nil, err
	}
	h, hasHi, err := ewScalarOf[T](hi, "max")
	if err != nil {
		return nil, err
	}
	if s, ok := x.Data.([]float32); ok {
		// An absent bound is an infinite one: the same comparisons.
		fl, fh := float32(math.Inf(-1)), float32(math.Inf(1))
		if hasLo {
			fl = any(l).(float32)
		}
		if hasHi {
			fh = any(h).(float32)
		}
		out := c.AllocRaw(x.DType, x.Shape...)
		d := out.Data.([]float32)
		ewPar(c, len(s), ewGrainCheap, func(lo, hi int) { vec.Clip(d[lo:hi], s[lo:hi], fl, fh) })
		return out, nil
	}
	return ewClipT(c, x, l, h, hasLo, hasHi), nil
}

func ewClip(c *Context, x, lo, hi *tensor.Tensor) (*tensor.Tensor, error) {
	if ewIsHalf(x.DType) {
		w := func(t *tensor.Tensor) *tensor.Tensor {
			if t == nil {
				return nil
			}
			return ewWiden(t)
		}
		r, err := ewClip(c, ewWiden(x), w(lo), w(hi))
		if err != nil {
			return nil, err
		}
		return ewNarrow(c, r, x.DType), nil
	}
	switch x.Data.(type) {
	case []float32:
		return ewClipRun[float32](c, x, lo, hi)
	case []float64:
		return ewClipRun[float64](c, x, lo, hi)
	case []int8:
		return ewClipRun[int8](c, x, lo, hi)
	case []int16:
		return ewClipRun[int16](c, x, lo, hi)
	case []int32:
		return ewClipRun[int32](c, x, lo, hi)
	case []int64:
		return ewClipRun[int64](c, x, lo, hi)
	case []uint8:
		return ewClipRun[uint8](c, x, lo, hi)
	case []uint16:
		return ewClipRun[uint16](c, x, lo, hi)
	case []uint32:
		return ewClipRun[uint32](c, x, lo, hi)
	case []uint64:
		return ewClipRun[uint64](c, x, lo, hi)
	}
	return nil, fmt.Errorf("Clip of %v tensors: %w", x.DType, ErrUnsupported)
}

func newClip(b *Build) (any, error) {
	if b.Opset < 11 {
		// min and max are float attributes; absent means unbounded.
		a := b.Attrs()
		hasLo, hasHi := a.Has("min"), a.Has("max")
		lo := a.Float("min", 0)
		hi := a.Float("max", 0)
		if err := a.Err(); err != nil {
			return nil, err
		}
		return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
			var lt, ht *tensor.Tensor
			var err error
			if hasLo {
				if lt, err = FromFloat64s(x.DType, nil, []float64{float64(lo)}); err != nil {
					return nil, err
				}
			}
			if hasHi {
				if ht, err = FromFloat64s(x.DType, nil, []float64{float64(hi)}); err != nil {
					return nil, err
				}
			}
			return ewClip(c, x, lt, ht)
		}), nil
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("missing input")
		}
		var lo, hi *tensor.Tensor
		if len(in) > 1 {
			lo = in[1]
		}
		if len(in) > 2 {
			hi = in[2]
		}
		out, err := ewClip(c, in[0], lo, hi)
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}
