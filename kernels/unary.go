package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/kernels/vec"
	"github.com/inferd/inferd/tensor"
)

// Elementwise unary math ops. Float ops take float32, float64, float16 and
// bfloat16 (the last two computed in float32); the ops the spec defines on
// integers (Abs, Neg, Sign, Erf, BitwiseNot) take those too.

func init() {
	for _, u := range []struct {
		op string
		f  func(float64) float64
	}{
		{"Acos", math.Acos}, {"Acosh", math.Acosh}, {"Asin", math.Asin}, {"Asinh", math.Asinh},
		{"Atan", math.Atan}, {"Atanh", math.Atanh}, {"Cos", math.Cos}, {"Cosh", math.Cosh},
		{"Sin", math.Sin}, {"Sinh", math.Sinh}, {"Tan", math.Tan}, {"Log", math.Log},
	} {
		register(u.op, ewFloatFactory(ewMap(u.f, ewGrainHeavy)))
	}
	register("Exp", ewFloatFactory(ewFloatFn{f32: vec.Exp, f64: ewMapF64(math.Exp), grain: ewGrainHeavy, grain32: ewGrainCheap}))
	register("Tanh", ewFloatFactory(ewFloatFn{f32: vec.Tanh, f64: ewMapF64(math.Tanh), grain: ewGrainHeavy, grain32: ewGrainCheap}))
	register("Ceil", ewFloatFactory(ewMap(math.Ceil, ewGrainCheap)))
	register("Floor", ewFloatFactory(ewMap(math.Floor, ewGrainCheap)))
	register("Round", ewFloatFactory(ewMap(math.RoundToEven, ewGrainCheap)))
	register("Sqrt", ewFloatFactory(ewFloatFn{f32: ewSqrtF32, f64: ewMapF64(math.Sqrt), grain: ewGrainCheap}))
	register("Reciprocal", ewFloatFactory(ewFloatFn{f32: ewRecipF32, f64: ewRecip[float64], grain: ewGrainCheap}))
	register("Abs", newAbs)
	register("Neg", newNeg)
	register("Sign", newSign)
	register("Erf", newErf)
	register("IsNaN", newIsNaN)
	register("IsInf", newIsInf)
	register("Not", newNot)
	register("BitwiseNot", newBitwiseNot)
}

// ewFloatFn is a unary op on float32 and float64 slices (dst and src have
// equal length; they may alias). grain32, when set, is the float32 path's
// own grain: vectorized f32 loops run transcendental functions about as
// fast per element as scalar loops run additions.
type ewFloatFn struct {
	f32     func(d, s []float32)
	f64     func(d, s []float64)
	grain   int
	grain32 int
}

func (fn *ewFloatFn) grainF32() int {
	if fn.grain32 > 0 {
		return fn.grain32
	}
	return fn.grain
}

func ewMapF32(f func(float64) float64) func(d, s []float32) {
	return func(d, s []float32) {
		d = d[:len(s)]
		for i, v := range s {
			d[i] = float32(f(float64(v)))
		}
	}
}

func ewMapF64(f func(float64) float64) func(d, s []float64) {
	return func(d, s []float64) {
		d = d[:len(s)]
		for i, v := range s {
			d[i] = f(v)
		}
	}
}

// ewMap makes a float op from a float64 function; float32 values are
// computed in float64 and rounded once.
func ewMap(f func(float64) float64, grain int) ewFloatFn {
	return ewFloatFn{f32: ewMapF32(f), f64: ewMapF64(f), grain: grain}
}

// ewFloatUnary applies fn to a float tensor.
func ewFloatUnary(c *Context, x *tensor.Tensor, fn ewFloatFn) (*tensor.Tensor, error) {
	switch s := x.Data.(type) {
	case []float32:
		out := c.AllocRaw(tensor.Float32, x.Shape...) // fn writes every element
		d := out.Data.([]float32)
		ewPar(c, len(s), fn.grainF32(), func(lo, hi int) { fn.f32(d[lo:hi], s[lo:hi]) })
		return out, nil
	case []float64:
		out := c.AllocRaw(tensor.Float64, x.Shape...)
		d := out.Data.([]float64)
		ewPar(c, len(s), fn.grain, func(lo, hi int) { fn.f64(d[lo:hi], s[lo:hi]) })
		return out, nil
	case []tensor.F16, []tensor.BF16:
		w := ewWiden(x)
		s32 := w.Data.([]float32) // a private copy: compute in place
		ewPar(c, len(s32), fn.grainF32(), func(lo, hi int) { fn.f32(s32[lo:hi], s32[lo:hi]) })
		return ewNarrow(c, w, x.DType), nil
	}
	return nil, fmt.Errorf("input of type %v: %w", x.DType, ErrUnsupported)
}

// ewUnaryKernel wraps a one-input computation with input checks.
func ewUnaryKernel(f func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error)) KernelFunc {
	return func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("missing input")
		}
		out, err := f(c, in[0])
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}
}

func ewFloatFactory(fn ewFloatFn) Factory {
	k := ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) { return ewFloatUnary(c, x, fn) })
	return func(*Build) (any, error) { return k, nil }
}

// ewUnaryT maps src storage []T to a new tensor of dtype odt and storage []U.
func ewUnaryT[T, U any](c *Context, x *tensor.Tensor, odt tensor.DType, grain int, f func(d []U, s []T)) *tensor.Tensor {
	s := x.Data.([]T)
	out := c.Alloc(odt, x.Shape...)
	d := out.Data.([]U)
	ewPar(c, len(s), grain, func(lo, hi int) { f(d[lo:hi], s[lo:hi]) })
	return out
}

func ewSqrtF32(d, s []float32) {
	d = d[:len(s)]
	for i, v := range s {
		d[i] = float32(math.Sqrt(float64(v)))
	}
}

func ewRecipF32(d, s []float32) {
	d = d[:len(s)]
	for i, v := range s {
		d[i] = 1 / v
	}
}

func ewRecip[T float32 | float64](d, s []T) {
	d = d[:len(s)]
	for i, v := range s {
		d[i] = 1 / v
	}
}

// ---- Abs, Neg, Sign ----

func ewAbsInt[T tensor.Numeric](d, s []T) {
	d = d[:len(s)]
	for i, v := range s {
		if v < 0 {
			v = -v
		}
		d[i] = v
	}
}

func ewNegNum[T tensor.Numeric](d, s []T) {
	d = d[:len(s)]
	for i, v := range s {
		d[i] = -v
	}
}

func ewSignNum[T tensor.Numeric](d, s []T) {
	d = d[:len(s)]
	for i, v := range s {
		switch {
		case v > 0:
			d[i] = 1
		case v < 0:
			var z T
			d[i] = z - 1 // unreachable for unsigned T
		default:
			d[i] = v // 0, -0 or NaN
		}
	}
}

// ewNumUnary applies fl to float tensors (float16 and bfloat16 through
// float32) and op to the others.
func ewNumUnary(c *Context, x *tensor.Tensor, fl ewFloatFn, op func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error)) (*tensor.Tensor, error) {
	switch x.DType {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		return ewFloatUnary(c, x, fl)
	}
	return op(c, x)
}

// ewIntOp holds one instantiation of an integer op per type; a nil
// unsigned entry means the op does not take that type.
type ewIntOp struct {
	i8  func(d, s []int8)
	i16 func(d, s []int16)
	i32 func(d, s []int32)
	i64 func(d, s []int64)
	u8  func(d, s []uint8)
	u16 func(d, s []uint16)
	u32 func(d, s []uint32)
	u64 func(d, s []uint64)
}

func (g *ewIntOp) run(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
	switch x.Data.(type) {
	case []int8:
		return ewUnaryT(c, x, x.DType, ewGrainCheap, g.i8), nil
	case []int16:
		return ewUnaryT(c, x, x.DType, ewGrainCheap, g.i16), nil
	case []int32:
		return ewUnaryT(c, x, x.DType, ewGrainCheap, g.i32), nil
	case []int64:
		return ewUnaryT(c, x, x.DType, ewGrainCheap, g.i64), nil
	case []uint8:
		if g.u8 != nil {
			return ewUnaryT(c, x, x.DType, ewGrainCheap, g.u8), nil
		}
	case []uint16:
		if g.u16 != nil {
			return ewUnaryT(c, x, x.DType, ewGrainCheap, g.u16), nil
		}
	case []uint32:
		if g.u32 != nil {
			return ewUnaryT(c, x, x.DType, ewGrainCheap, g.u32), nil
		}
	case []uint64:
		if g.u64 != nil {
			return ewUnaryT(c, x, x.DType, ewGrainCheap, g.u64), nil
		}
	}
	return nil, fmt.Errorf("input of type %v: %w", x.DType, ErrUnsupported)
}

func ewAbsF32(d, s []float32) {
	d = d[:len(s)]
	for i, v := range s {
		d[i] = math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
	}
}

var (
	ewAbsInts = &ewIntOp{ewAbsInt[int8], ewAbsInt[int16], ewAbsInt[int32], ewAbsInt[int64],
		ewCopy[uint8], ewCopy[uint16], ewCopy[uint32], ewCopy[uint64]}
	ewNegInts  = &ewIntOp{i8: ewNegNum[int8], i16: ewNegNum[int16], i32: ewNegNum[int32], i64: ewNegNum[int64]}
	ewSignInts = &ewIntOp{ewSignNum[int8], ewSignNum[int16], ewSignNum[int32], ewSignNum[int64],
		ewSignNum[uint8], ewSignNum[uint16], ewSignNum[uint32], ewSignNum[uint64]}
	ewAbsFloat  = ewFloatFn{f32: ewAbsF32, f64: ewMapF64(math.Abs), grain: ewGrainCheap}
	ewNegFloat  = ewFloatFn{f32: ewNegNum[float32], f64: ewNegNum[float64], grain: ewGrainCheap}
	ewSignFloat = ewFloatFn{f32: ewSignNum[float32], f64: ewSignNum[float64], grain: ewGrainCheap}
)

func ewCopy[T any](d, s []T) { copy(d, s) }

func newAbs(*Build) (any, error) {
	return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
		return ewNumUnary(c, x, ewAbsFloat, ewAbsInts.run)
	}), nil
}

func newNeg(*Build) (any, error) {
	return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
		return ewNumUnary(c, x, ewNegFloat, ewNegInts.run)
	}), nil
}

func newSign(*Build) (any, error) {
	return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
		return ewNumUnary(c, x, ewSignFloat, ewSignInts.run)
	}), nil
}

// ---- Erf ----

var ewErfFloat = ewFloatFn{f32: vec.Erf, f64: ewMapF64(math.Erf), grain: ewGrainHeavy, grain32: ewGrainCheap}

func newErf(*Build) (any, error) {
	return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
		return ewNumUnary(c, x, ewErfFloat, func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
			// erf of an integer is -1, 0 or 1 (erf(1) ≈ 0.84 truncates to 0).
			v, err := Float64s(x)
			if err != nil || !x.DType.IsInt() {
				return nil, fmt.Errorf("input of type %v: %w", x.DType, ErrUnsupported)
			}
			r := make([]float64, len(v))
			for i, f := range v {
				r[i] = math.Erf(f)
			}
			return FromFloat64s(x.DType, x.Shape, r)
		})
	}), nil
}

// ---- IsNaN, IsInf ----

// ewFloat32sAny widens any float tensor (including float8 and float4) to
// float32 values; float32 storage is returned as is.
func ewFloat32sAny(t *tensor.Tensor) ([]float32, bool) {
	switch s := t.Data.(type) {
	case []float32:
		return s, true
	case []tensor.F8E4M3FN:
		return ewWidenF8(s), true
	case []tensor.F8E4M3FNUZ:
		return ewWidenF8(s), true
	case []tensor.F8E5M2:
		return ewWidenF8(s), true
	case []tensor.F8E5M2FNUZ:
		return ewWidenF8(s), true
	case []tensor.F4E2M1:
		return ewWidenF8(s), true
	case []tensor.F16, []tensor.BF16:
		return ewWiden(t).Data.([]float32), true
	}
	return nil, false
}

func ewWidenF8[T interface{ Float32() float32 }](s []T) []float32 {
	d := make([]float32, len(s))
	for i, v := range s {
		d[i] = v.Float32()
	}
	return d
}

func newIsNaN(*Build) (any, error) {
	return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
		out := c.Alloc(tensor.Bool, x.Shape...)
		d := out.Data.([]bool)
		if s, ok := x.Data.([]float64); ok {
			for i, v := range s {
				d[i] = v != v
			}
			return out, nil
		}
		s, ok := ewFloat32sAny(x)
		if !ok {
			return nil, fmt.Errorf("input of type %v: %w", x.DType, ErrUnsupported)
		}
		for i, v := range s {
			d[i] = v != v
		}
		return out, nil
	}), nil
}

func newIsInf(b *Build) (any, error) {
	a := b.Attrs()
	neg := a.Int("detect_negative", 1) != 0
	pos := a.Int("detect_positive", 1) != 0
	if err := a.Err(); err != nil {
		return nil, err
	}
	return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
		out := c.Alloc(tensor.Bool, x.Shape...)
		d := out.Data.([]bool)
		test := func(v float64) bool { return pos && v > math.MaxFloat64 || neg && v < -math.MaxFloat64 }
		if s, ok := x.Data.([]float64); ok {
			for i, v := range s {
				d[i] = test(v)
			}
			return out, nil
		}
		s, ok := ewFloat32sAny(x)
		if !ok {
			return nil, fmt.Errorf("input of type %v: %w", x.DType, ErrUnsupported)
		}
		for i, v := range s {
			d[i] = test(float64(v))
		}
		return out, nil
	}), nil
}

// ---- Not, BitwiseNot ----

func newNot(*Build) (any, error) {
	return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
		if x.DType != tensor.Bool {
			return nil, fmt.Errorf("Not wants a bool input, got %v", x.DType)
		}
		return ewUnaryT(c, x, tensor.Bool, ewGrainCheap, func(d, s []bool) {
			for i, v := range s {
				d[i] = !v
			}
		}), nil
	}), nil
}

func ewBitNot[T ewInt](d, s []T) {
	d = d[:len(s)]
	for i, v := range s {
		d[i] = ^v
	}
}

var ewBitNotInts = &ewIntOp{ewBitNot[int8], ewBitNot[int16], ewBitNot[int32], ewBitNot[int64],
	ewBitNot[uint8], ewBitNot[uint16], ewBitNot[uint32], ewBitNot[uint64]}

func newBitwiseNot(*Build) (any, error) { return ewUnaryKernel(ewBitNotInts.run), nil }

// ---- float32 transcendental kernels ----
//
// The hot float32 paths of real models (Exp in attention and softmax
// decompositions, Tanh in LSTMs, Erf in BERT's GELU) run vec's
// vectorized routines, accurate to 1.5e-7 relative (see package vec).

// ewTanh32 is tanh for results that will be rounded to float32, for
// composite activations (Mish) that evaluate in float64: through one
// exponential, with the odd series near 0 (its truncation error,
// below 2x⁵/15, is far under float32's precision there).
func ewTanh32(x float64) float64 {
	a := math.Abs(x)
	switch {
	case a < 0.004:
		return x * (1 - x*x*(1.0/3))
	case a > 9.1: // tanh rounds to ±1 in float32
		return math.Copysign(1, x)
	case a != a:
		return x
	}
	t := math.Exp(2 * a)
	return math.Copysign((t-1)/(t+1), x)
}
