package kernels

import (
	"fmt"
	"math/rand/v2"

	"github.com/inferd/inferd/tensor"
)

// Dropout. In inference (always before opset 12; from 12 unless the
// training_mode input is true) the output is the input and the mask is all
// true. In training mode with ratio > 0, elements are dropped with
// probability ratio by a generator seeded from the seed attribute, so that
// every run of a node gives the same mask.

func init() {
	register("Dropout", newDropout)
}

// shpDropoutSeed is the seed used when the node has no seed attribute.
const shpDropoutSeed = 0x5eed

func newDropout(b *Build) (any, error) {
	a := b.Attrs()
	ratio := a.Float("ratio", 0.5)
	seed := a.Int("seed", shpDropoutSeed)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if b.Opset < 12 && !(ratio >= 0 && ratio < 1) {
		return nil, fmt.Errorf("attribute ratio = %v, want in [0, 1)", ratio)
	}
	wantMask := len(b.Node.Outputs) > 1 && b.Node.Outputs[1] != ""
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		training := false
		r := float64(0.5)
		if b.Opset >= 12 {
			if rt := shpOpt(in, 1); rt != nil {
				rv, err := Float64s(rt)
				if err != nil || len(rv) != 1 {
					return nil, fmt.Errorf("input ratio is %v, want a float scalar", rt)
				}
				r = rv[0]
			}
			if tt := shpOpt(in, 2); tt != nil {
				tv, ok := tt.Data.([]bool)
				if !ok || len(tv) != 1 {
					return nil, fmt.Errorf("input training_mode is %v, want a bool scalar", tt)
				}
				training = tv[0]
			}
		}
		if !training || r == 0 {
			var mask *tensor.Tensor
			if wantMask {
				mask = shpDropoutMask(c, b.Opset, x)
			}
			return c.Outs(c.View(x, x.Shape), mask), nil
		}
		if !(r > 0 && r < 1) {
			return nil, fmt.Errorf("ratio = %v, want in [0, 1)", r)
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
		mt := c.Alloc(tensor.Bool, x.Shape...)
		mask := mt.Data.([]bool)
		for i := range mask {
			mask[i] = rng.Float64() >= r
		}
		scale := 1 / (1 - r)
		out := c.Alloc(x.DType, x.Shape...)
		switch s := x.Data.(type) {
		case []float32:
			shpDrop(s, out.Data.([]float32), mask, float32(scale))
		case []float64:
			shpDrop(s, out.Data.([]float64), mask, scale)
		case []tensor.F16, []tensor.BF16:
			f, err := Float32s(x)
			if err != nil {
				return nil, err
			}
			y := make([]float32, len(f))
			shpDrop(f, y, mask, float32(scale))
			if out, err = FromFloat64s(x.DType, x.Shape, toF64(y)); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("training-mode Dropout of %v: %w", x.DType, ErrUnsupported)
		}
		return c.Outs(out, mt), nil
	}), nil
}

// shpDropoutMask is the inference-mode mask: all true (bool), or all ones
// of the data type before opset 10.
func shpDropoutMask(c *Context, opset int64, x *tensor.Tensor) *tensor.Tensor {
	if opset < 10 {
		if one, err := FromFloat64s(x.DType, nil, []float64{1}); err == nil {
			m := c.Alloc(x.DType, x.Shape...)
			if shpFill(c, m, one) == nil {
				return m
			}
		}
	}
	m := c.Alloc(tensor.Bool, x.Shape...)
	v := m.Data.([]bool)
	for i := range v {
		v[i] = true
	}
	return m
}

func shpDrop[T float32 | float64](x, y []T, mask []bool, scale T) {
	for i, v := range x {
		if mask[i] {
			y[i] = v * scale
		}
	}
}
