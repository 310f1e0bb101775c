package kernels

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// Scatter, ScatterElements and ScatterND, with the reduction attribute
// (none, add, mul from opset 16; max, min from opset 18).

func init() {
	Default.Register(Spec{Op: "Scatter", Since: 9, New: newScatterElements})
	Default.Register(Spec{Op: "ScatterElements", Since: 11, New: newScatterElements})
	Default.Register(Spec{Op: "ScatterND", Since: 11, New: newScatterND})
}

func shpReduction(b *Build) (string, error) {
	a := b.Attrs()
	red := a.String("reduction", "none")
	if err := a.Err(); err != nil {
		return "", err
	}
	switch red {
	case "none", "add", "mul", "max", "min":
		return red, nil
	}
	return "", fmt.Errorf("attribute reduction = %q, want none, add, mul, max or min", red)
}

func newScatterElements(b *Build) (any, error) {
	red, err := shpReduction(b)
	if err != nil {
		return nil, err
	}
	a := b.Attrs()
	axis := a.Int("axis", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		it, err := shpNeed(in, 1, "indices")
		if err != nil {
			return nil, err
		}
		ut, err := shpNeed(in, 2, "updates")
		if err != nil {
			return nil, err
		}
		r := len(x.Shape)
		if r == 0 || len(it.Shape) != r {
			return nil, fmt.Errorf("data %v and indices %v must have the same rank ≥ 1", x, it)
		}
		if !tensor.EqualShapes(it.Shape, ut.Shape) {
			return nil, fmt.Errorf("updates %v must have the shape of indices %v", ut, it)
		}
		if ut.DType != x.DType {
			return nil, fmt.Errorf("updates is %v, want %v like data", ut.DType, x.DType)
		}
		ax, err := NormAxis(axis, r)
		if err != nil {
			return nil, err
		}
		for d := range r {
			if d != ax && it.Shape[d] > x.Shape[d] {
				return nil, fmt.Errorf("indices shape %v exceeds data shape %v on axis %d",
					tensor.ShapeString(it.Shape), tensor.ShapeString(x.Shape), d)
			}
		}
		idx, err := shpNormIndices(c, it, x.Shape[ax], "indices")
		if err != nil {
			return nil, err
		}
		offs := shpElementOffsets(x.Shape, it.Shape, ax, idx)
		out, err := shpScatter(c, x, ut, offs, 1, red)
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

func newScatterND(b *Build) (any, error) {
	red, err := shpReduction(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		it, err := shpNeed(in, 1, "indices")
		if err != nil {
			return nil, err
		}
		ut, err := shpNeed(in, 2, "updates")
		if err != nil {
			return nil, err
		}
		if ut.DType != x.DType {
			return nil, fmt.Errorf("updates is %v, want %v like data", ut.DType, x.DType)
		}
		nd, err := shpNDPlan(x.Shape, it, 0)
		if err != nil {
			return nil, err
		}
		if !tensor.EqualShapes(nd.outShape, ut.Shape) {
			return nil, fmt.Errorf("updates has shape %v, want %v", tensor.ShapeString(ut.Shape), tensor.ShapeString(nd.outShape))
		}
		out, err := shpScatter(c, x, ut, nd.offs, nd.slice, red)
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

// shpScatter returns a copy of x where, for each t, the n elements from
// offs[t] are replaced by (or reduced with) updates[t*n : (t+1)*n].
func shpScatter(c *Context, x, upd *tensor.Tensor, offs []int, n int, red string) (*tensor.Tensor, error) {
	out := c.Alloc(x.DType, x.Shape...)
	tensor.CopySlice(out.Data, x.Data)
	if red == "none" {
		m, err := shpMoverFor(out, upd)
		if err != nil {
			return nil, err
		}
		if n == 1 {
			m.put(offs, 0)
			return out, nil
		}
		for t, off := range offs {
			m.copyRun(off, t*n, n)
		}
		return out, nil
	}
	var ok bool
	switch o := out.Data.(type) {
	case []float32:
		ok = shpScatterRed(o, upd.Data.([]float32), offs, n, red)
	case []float64:
		ok = shpScatterRed(o, upd.Data.([]float64), offs, n, red)
	case []int8:
		ok = shpScatterRed(o, upd.Data.([]int8), offs, n, red)
	case []int16:
		ok = shpScatterRed(o, upd.Data.([]int16), offs, n, red)
	case []int32:
		ok = shpScatterRed(o, upd.Data.([]int32), offs, n, red)
	case []int64:
		ok = shpScatterRed(o, upd.Data.([]int64), offs, n, red)
	case []uint8:
		ok = shpScatterRed(o, upd.Data.([]uint8), offs, n, red)
	case []uint16:
		ok = shpScatterRed(o, upd.Data.([]uint16), offs, n, red)
	case []uint32:
		ok = shpScatterRed(o, upd.Data.([]uint32), offs, n, red)
	case []uint64:
		ok = shpScatterRed(o, upd.Data.([]uint64), offs, n, red)
	case []tensor.F16, []tensor.BF16:
		of, err := Float32s(out)
		if err != nil {
			return nil, err
		}
		uf, err := Float32s(upd)
		if err != nil {
			return nil, err
		}
		ok = shpScatterRed(of, uf, offs, n, red)
		res, err := FromFloat64s(out.DType, out.Shape, toF64(of))
		if err != nil {
			return nil, err
		}
		return res, nil
	case []bool:
		// Logical or (add, max) and and (mul, min).
		u := upd.Data.([]bool)
		ok = true
		for t, off := range offs {
			for j := range n {
				v := u[t*n+j]
				if red == "add" || red == "max" {
					o[off+j] = o[off+j] || v
				} else {
					o[off+j] = o[off+j] && v
				}
			}
		}
	}
	if !ok {
		return nil, fmt.Errorf("reduction %s on %v: %w", red, x.DType, ErrUnsupported)
	}
	return out, nil
}

func shpScatterRed[T tensor.Numeric](o, u []T, offs []int, n int, red string) bool {
	var f func(a, b T) T
	switch red {
	case "add":
		f = func(a, b T) T { return a + b }
	case "mul":
		f = func(a, b T) T { return a * b }
	case "max":
		f = func(a, b T) T { return max(a, b) }
	case "min":
		f = func(a, b T) T { return min(a, b) }
	default:
		return false
	}
	for t, off := range offs {
		d := o[off : off+n]
		s := u[t*n : t*n+n]
		for j := range d {
			d[j] = f(d[j], s[j])
		}
	}
	return true
}
