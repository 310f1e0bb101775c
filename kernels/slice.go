package kernels

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// Slice: opsets 1-9 take starts/ends/axes as attributes, opset 10 on as
// inputs with optional steps (negative steps included).

func init() {
	register("Slice", newSlice)
}

// shpSliceAxis clamps one axis's start and end as ONNX specifies and
// returns the first index and the element count.
func shpSliceAxis(start, end, step int64, dim int) (first, count int) {
	d := int64(dim)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	if step > 0 {
		start = min(max(start, 0), d)
		end = min(max(end, 0), d)
		if end > start {
			return int(start), int((end-start-1)/step + 1)
		}
		return int(start), 0
	}
	start = min(max(start, 0), d-1)
	end = min(max(end, -1), d-1)
	if start > end {
		s := -step
		if s < 0 { // step is math.MinInt64
			return int(start), 1
		}
		return int(start), int((start-end-1)/s + 1)
	}
	return int(start), 0
}

func newSlice(b *Build) (any, error) {
	a := b.Attrs()
	var aStarts, aEnds, aAxes []int64
	if b.Opset < 10 {
		if !a.Has("starts") || !a.Has("ends") {
			a.Fail(fmt.Errorf("required attributes \"starts\" and \"ends\" are missing"))
		}
		aStarts = a.Ints("starts", nil)
		aEnds = a.Ints("ends", nil)
		aAxes = a.Ints("axes", nil)
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		starts, ends, axes := aStarts, aEnds, aAxes
		var steps []int64
		if b.Opset >= 10 {
			read := func(i int, name string) ([]int64, error) {
				t := shpOpt(in, i)
				if t == nil {
					return nil, nil
				}
				if len(t.Shape) != 1 {
					return nil, fmt.Errorf("input %s has shape %v, want 1-D", name, tensor.ShapeString(t.Shape))
				}
				return shpIndices(t, name)
			}
			if _, err := shpNeed(in, 1, "starts"); err != nil {
				return nil, err
			}
			if _, err := shpNeed(in, 2, "ends"); err != nil {
				return nil, err
			}
			if starts, err = read(1, "starts"); err != nil {
				return nil, err
			}
			if ends, err = read(2, "ends"); err != nil {
				return nil, err
			}
			if axes, err = read(3, "axes"); err != nil {
				return nil, err
			}
			if steps, err = read(4, "steps"); err != nil {
				return nil, err
			}
		}
		n := len(starts)
		if len(ends) != n {
			return nil, fmt.Errorf("starts %v and ends %v differ in length", starts, ends)
		}
		if axes != nil && len(axes) != n {
			return nil, fmt.Errorf("axes %v has %d entries, want %d like starts", axes, len(axes), n)
		}
		if steps != nil && len(steps) != n {
			return nil, fmt.Errorf("steps %v has %d entries, want %d like starts", steps, len(steps), n)
		}
		r := len(x.Shape)
		var ax []int
		if axes == nil {
			if n > r {
				return nil, fmt.Errorf("starts %v has more entries than input %v has axes", starts, x)
			}
			ax = c.Ints(n)
			for i := range ax {
				ax[i] = i
			}
		} else if ax, err = shpAxes(c, axes, r); err != nil {
			return nil, err
		}
		shape := c.IntsOf(x.Shape)
		is := c.Strides(x.Shape)
		ss := c.IntsOf(is)
		so := 0
		whole := true
		for i, a := range ax {
			step := int64(1)
			if steps != nil {
				step = steps[i]
			}
			if step == 0 {
				return nil, fmt.Errorf("steps %v has a zero step", steps)
			}
			first, count := shpSliceAxis(starts[i], ends[i], step, x.Shape[a])
			if count != x.Shape[a] || (count > 1 && step != 1) {
				whole = false
			}
			shape[a] = count
			if count > 0 {
				so += first * is[a]
			}
			ss[a] = int(step) * is[a]
		}
		if whole {
			return c.Outs(shpView(c, x, shape)), nil
		}
		out := c.Alloc(x.DType, shape...)
		m, err := shpMoverFor(out, x)
		if err != nil {
			return nil, err
		}
		shpCopyStrided(c, m, shape, 0, c.Strides(shape), so, ss)
		return c.Outs(out), nil
	}), nil
}
