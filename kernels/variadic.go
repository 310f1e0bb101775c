package kernels

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// Sum, Mean, Max and Min over any number of inputs with NumPy
// broadcasting. The output is allocated once at the broadcast shape; the
// first input is broadcast into it and the rest are folded in place.

func init() {
	register("Sum", ewVariadicFactory(ewOpAdd, false))
	register("Mean", ewVariadicFactory(ewOpAdd, true))
	register("Max", ewVariadicFactory(ewOpMax, false))
	register("Min", ewVariadicFactory(ewOpMin, false))
}

func ewVariadicFactory(op int, mean bool) Factory {
	return func(*Build) (any, error) {
		return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			out, err := ewVariadic(c, op, mean, in)
			if err != nil {
				return nil, err
			}
			return c.Outs(out), nil
		}), nil
	}
}

func ewVariadic(c *Context, op int, mean bool, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("want at least one input")
	}
	shapes := make([][]int, len(in))
	for i, t := range in {
		if t == nil {
			return nil, fmt.Errorf("input %d is missing", i)
		}
		if t.DType != in[0].DType {
			return nil, fmt.Errorf("input %d is %v, input 0 is %v", i, t.DType, in[0].DType)
		}
		shapes[i] = t.Shape
	}
	dt := in[0].DType
	if ewIsHalf(dt) {
		w := make([]*tensor.Tensor, len(in))
		for i, t := range in {
			w[i] = ewWiden(t)
		}
		r, err := ewVariadic(c, op, mean, w)
		if err != nil {
			return nil, err
		}
		return ewNarrow(c, r, dt), nil
	}
	shape, err := BroadcastShapes(shapes...)
	if err != nil {
		return nil, err
	}
	var out *tensor.Tensor
	switch {
	case len(in) == 1:
		out = c.Alloc(dt, shape...)
		tensor.CopySlice(out.Data, in[0].Data)
	case len(in) == 2:
		// The common case: one pass, no copy.
		out = c.Alloc(dt, shape...)
		if err := ewArithIntoAny(c, op, out, in[0], in[1]); err != nil {
			return nil, err
		}
	default:
		out = c.Alloc(dt, shape...)
		if err := ewBroadcastCopy(c, out, in[0]); err != nil {
			return nil, err
		}
		for _, t := range in[1:] {
			if err := ewArithIntoAny(c, op, out, out, t); err != nil {
				return nil, err
			}
		}
	}
	if mean {
		n := &tensor.Tensor{DType: dt, Shape: nil, Data: tensor.MakeSlice(dt, 1)}
		if err := ewSetScalar(n, len(in)); err != nil {
			return nil, err
		}
		if err := ewArithIntoAny(c, ewOpDiv, out, out, n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ewSetScalar stores v in the one-element numeric tensor t.
func ewSetScalar(t *tensor.Tensor, v int) error {
	switch s := t.Data.(type) {
	case []float32:
		s[0] = float32(v)
	case []float64:
		s[0] = float64(v)
	case []int8:
		s[0] = int8(v)
	case []int16:
		s[0] = int16(v)
	case []int32:
		s[0] = int32(v)
	case []int64:
		s[0] = int64(v)
	case []uint8:
		s[0] = uint8(v)
	case []uint16:
		s[0] = uint16(v)
	case []uint32:
		s[0] = uint32(v)
	case []uint64:
		s[0] = uint64(v)
	default:
		return fmt.Errorf("Mean of %v tensors: %w", t.DType, ErrUnsupported)
	}
	return nil
}

// ewBroadcastCopy writes x broadcast to out's shape into out.
func ewBroadcastCopy(c *Context, out, x *tensor.Tensor) error {
	switch x.Data.(type) {
	case []float32:
		ewBroadcastCopyT[float32](c, out, x)
	case []float64:
		ewBroadcastCopyT[float64](c, out, x)
	case []int8:
		ewBroadcastCopyT[int8](c, out, x)
	case []int16:
		ewBroadcastCopyT[int16](c, out, x)
	case []int32:
		ewBroadcastCopyT[int32](c, out, x)
	case []int64:
		ewBroadcastCopyT[int64](c, out, x)
	case []uint8:
		ewBroadcastCopyT[uint8](c, out, x)
	case []uint16:
		ewBroadcastCopyT[uint16](c, out, x)
	case []uint32:
		ewBroadcastCopyT[uint32](c, out, x)
	case []uint64:
		ewBroadcastCopyT[uint64](c, out, x)
	default:
		return fmt.Errorf("%v tensors: %w", x.DType, ErrUnsupported)
	}
	return nil
}

func ewBroadcastCopyT[T any](c *Context, out, x *tensor.Tensor) {
	o, a := out.Data.([]T), x.Data.([]T)
	if len(a) == len(o) {
		copy(o, a)
		return
	}
	p := ewNewPlan(out.Shape, x.Shape)
	ewPar(c, len(o), ewGrainCheap, func(lo, hi int) {
		p.chunk(lo, hi, func(oo int, off [ewPlanIns]int, cnt int) {
			if p.inc[0] == 1 {
				copy(o[oo:oo+cnt], a[off[0]:])
				return
			}
			v := a[off[0]]
			for i := oo; i < oo+cnt; i++ {
				o[i] = v
			}
		})
	})
}
