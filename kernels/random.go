package kernels

// Random ops: RandomUniform, RandomNormal, RandomUniformLike,
// RandomNormalLike, Bernoulli and Multinomial.
//
// Each Run draws from its own PCG generator (math/rand/v2). With a `seed`
// attribute the generator is seeded from the seed's bits, so the same
// seed gives the same output on every run and every machine; without one
// each run takes a fresh random seed. The streams are inferd's own: they
// do not reproduce NumPy's or onnxruntime's numbers for the same seed (the
// ONNX spec makes no such promise), only the distributions, shapes and
// types.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/inferd/inferd/tensor"
)

func init() {
	register("RandomUniform", newRandomUniform)
	register("RandomNormal", newRandomNormal)
	register("RandomUniformLike", newRandomUniformLike)
	register("RandomNormalLike", newRandomNormalLike)
	register("Bernoulli", newBernoulli)
	register("Multinomial", newMultinomial)
}

// miscSeed is the optional seed attribute of a random op.
type miscSeed struct {
	has  bool
	seed float32
}

func miscReadSeed(b *Build) miscSeed {
	a := b.Attrs()
	s := miscSeed{has: a.Has("seed"), seed: a.Float("seed", 0)}
	return s
}

// rng returns the generator for one run.
func (s miscSeed) rng() *rand.Rand {
	if s.has {
		// Seed from the bits of the (float) seed so that every distinct
		// seed value gives its own stream; the second word is fixed.
		bitsv := math.Float64bits(float64(s.seed))
		return rand.New(rand.NewPCG(bitsv, 0x9e3779b97f4a7c15))
	}
	return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
}

// miscRandomFloatType checks a random op's float output type.
func miscRandomFloatType(dt tensor.DType) error {
	if !miscIsFloat(dt) {
		return fmt.Errorf("output type %v is not a float type (float, double, float16, bfloat16)", dt)
	}
	return nil
}

// miscRandomKernel builds the kernel of the four Random* ops. fixed is
// the output shape (nil for the *Like ops, which take it from input 0);
// dt the output type (Undefined: the input's type); draw one sample.
func miscRandomKernel(s miscSeed, fixed []int, dt tensor.DType, draw func(r *rand.Rand) float64) KernelFunc {
	return func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		shape, odt := fixed, dt
		if fixed == nil {
			if len(in) < 1 || in[0] == nil {
				return nil, fmt.Errorf("input is missing")
			}
			shape = in[0].Shape
			if odt == tensor.Undefined {
				odt = in[0].DType
				if err := miscRandomFloatType(odt); err != nil {
					return nil, fmt.Errorf("input type %v is not a float type and no dtype attribute is set", odt)
				}
			}
		}
		r := s.rng()
		v := make([]float64, tensor.NumElements(shape))
		for i := range v {
			v[i] = draw(r)
		}
		out := c.Alloc(odt, shape...)
		if err := miscWriteF64(out, v); err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}
}

// miscRandomArgs reads the attributes shared by the four Random* ops.
func miscRandomArgs(b *Build, like bool, p1, p2 string, d1, d2 float32) (s miscSeed, shape []int, dt tensor.DType, x1, x2 float64, err error) {
	a := b.Attrs()
	s = miscReadSeed(b)
	x1 = float64(a.Float(p1, d1))
	x2 = float64(a.Float(p2, d2))
	if like {
		dt = tensor.DType(a.Int("dtype", 0))
	} else {
		dt = tensor.DType(a.Int("dtype", int64(tensor.Float32)))
		sh := a.Ints("shape", nil)
		if !a.Has("shape") {
			a.Fail(fmt.Errorf("required attribute \"shape\" is missing"))
		}
		shape = make([]int, len(sh))
		for i, d := range sh {
			if d < 0 {
				a.Fail(fmt.Errorf("attribute shape %v has a negative dimension", sh))
			}
			shape[i] = int(d)
		}
	}
	if err = a.Err(); err != nil {
		return
	}
	if dt != tensor.Undefined || !like {
		err = miscRandomFloatType(dt)
	}
	return
}

func newRandomUniform(b *Build) (any, error) {
	s, shape, dt, low, high, err := miscRandomArgs(b, false, "low", "high", 0, 1)
	if err != nil {
		return nil, err
	}
	return miscRandomKernel(s, shape, dt, miscUniform(low, high)), nil
}

func newRandomUniformLike(b *Build) (any, error) {
	s, _, dt, low, high, err := miscRandomArgs(b, true, "low", "high", 0, 1)
	if err != nil {
		return nil, err
	}
	return miscRandomKernel(s, nil, dt, miscUniform(low, high)), nil
}

func newRandomNormal(b *Build) (any, error) {
	s, shape, dt, mean, scale, err := miscRandomArgs(b, false, "mean", "scale", 0, 1)
	if err != nil {
		return nil, err
	}
	return miscRandomKernel(s, shape, dt, miscNormal(mean, scale)), nil
}

func newRandomNormalLike(b *Build) (any, error) {
	s, _, dt, mean, scale, err := miscRandomArgs(b, true, "mean", "scale", 0, 1)
	if err != nil {
		return nil, err
	}
	return miscRandomKernel(s, nil, dt, miscNormal(mean, scale)), nil
}

// miscUniform draws from [low, high).
func miscUniform(low, high float64) func(r *rand.Rand) float64 {
	return func(r *rand.Rand) float64 { return low + (high-low)*r.Float64() }
}

func miscNormal(mean, scale float64) func(r *rand.Rand) float64 {
	return func(r *rand.Rand) float64 { return mean + scale*r.NormFloat64() }
}

// ---------------------------------------------------------------------------
// Bernoulli.

func newBernoulli(b *Build) (any, error) {
	a := b.Attrs()
	s := miscReadSeed(b)
	dt := tensor.DType(a.Int("dtype", 0))
	if err := a.Err(); err != nil {
		return nil, err
	}
	if dt != tensor.Undefined && !miscNumericOut(dt) && dt != tensor.Bool {
		return nil, fmt.Errorf("dtype %v is not a numeric or bool type", dt)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("input is missing")
		}
		x := in[0]
		if !miscIsFloat(x.DType) {
			return nil, fmt.Errorf("input has type %v, want a float type", x.DType)
		}
		p, err := Float64s(x)
		if err != nil {
			return nil, err
		}
		odt := dt
		if odt == tensor.Undefined {
			odt = x.DType
		}
		r := s.rng()
		v := make([]float64, len(p))
		for i, pi := range p {
			if !(pi >= 0 && pi <= 1) {
				return nil, fmt.Errorf("input holds %g at index %d, want probabilities in [0, 1]", pi, i)
			}
			// Float64 is in [0, 1): p = 0 never fires, p = 1 always does.
			if r.Float64() < pi {
				v[i] = 1
			}
		}
		out := c.Alloc(odt, x.Shape...)
		if err := miscWriteF64(out, v); err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

// ---------------------------------------------------------------------------
// Multinomial.

func newMultinomial(b *Build) (any, error) {
	a := b.Attrs()
	s := miscReadSeed(b)
	dt := tensor.DType(a.Int("dtype", int64(tensor.Int32)))
	n := a.Int("sample_size", 1)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if dt != tensor.Int32 && dt != tensor.Int64 {
		return nil, fmt.Errorf("dtype %v is invalid, want int32 or int64", dt)
	}
	if n < 0 {
		return nil, fmt.Errorf("sample_size is %d, want >= 0", n)
	}
	samples := int(n)
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("input is missing")
		}
		x := in[0]
		if !miscIsFloat(x.DType) {
			return nil, fmt.Errorf("input has type %v, want a float type", x.DType)
		}
		if x.Rank() != 2 {
			return nil, fmt.Errorf("input has shape %v, want [batch_size, class_size]", x.Shape)
		}
		batch, classes := x.Shape[0], x.Shape[1]
		if classes == 0 && samples > 0 && batch > 0 {
			return nil, fmt.Errorf("input has shape %v: cannot sample from zero classes", x.Shape)
		}
		logits, err := Float64s(x)
		if err != nil {
			return nil, err
		}
		r := s.rng()
		res := make([]int64, batch*samples)
		cdf := make([]float64, classes)
		for bi := 0; bi < batch; bi++ {
			row := logits[bi*classes : (bi+1)*classes]
			// The inputs are unnormalised log-probabilities: the class
			// weights are exp(x - max), their running sums the CDF.
			mx := math.Inf(-1)
			for _, v := range row {
				if math.IsNaN(v) {
					return nil, fmt.Errorf("input row %d holds NaN", bi)
				}
				mx = max(mx, v)
			}
			if math.IsInf(mx, 0) {
				return nil, fmt.Errorf("input row %d has largest log-probability %g, want a finite value", bi, mx)
			}
			acc := 0.0
			for j, v := range row {
				acc += math.Exp(v - mx)
				cdf[j] = acc
			}
			for k := 0; k < samples; k++ {
				u := r.Float64() * acc
				j := sort.Search(classes, func(j int) bool { return cdf[j] > u })
				if j == classes {
					j = classes - 1
				}
				res[bi*samples+k] = int64(j)
			}
		}
		out := c.Alloc(dt, batch, samples)
		switch d := out.Data.(type) {
		case []int64:
			copy(d, res)
		case []int32:
			for i, v := range res {
				d[i] = int32(v)
			}
		}
		return c.Outs(out), nil
	}), nil
}
