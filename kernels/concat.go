package kernels

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// Concat, Split, Tile and Pad.

func init() {
	register("Concat", newConcat)
	register("Split", newSplit)
	register("Tile", newTile)
	register("Pad", newPad)
}

func newConcat(b *Build) (any, error) {
	a := b.Attrs()
	var axis int64
	if b.Opset < 4 {
		axis = a.Int("axis", 1)
	} else {
		axis = a.RequireInt("axis")
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		var xs []*tensor.Tensor
		for i, t := range in {
			if t == nil {
				return nil, fmt.Errorf("input %d is missing", i)
			}
			xs = append(xs, t)
		}
		if len(xs) == 0 {
			return nil, fmt.Errorf("Concat needs at least one input")
		}
		x0 := xs[0]
		r := len(x0.Shape)
		if r == 0 {
			return nil, fmt.Errorf("cannot concatenate scalars")
		}
		ax, err := NormAxis(axis, r)
		if err != nil {
			return nil, err
		}
		shape := append([]int(nil), x0.Shape...)
		shape[ax] = 0
		for i, x := range xs {
			if x.DType != x0.DType {
				return nil, fmt.Errorf("input %d is %v, want %v like input 0", i, x.DType, x0.DType)
			}
			if len(x.Shape) != r {
				return nil, fmt.Errorf("input %d has shape %v, want rank %d like input 0", i, tensor.ShapeString(x.Shape), r)
			}
			for d := range r {
				if d != ax && x.Shape[d] != x0.Shape[d] {
					return nil, fmt.Errorf("input %d has shape %v, incompatible with input 0's %v outside axis %d",
						i, tensor.ShapeString(x.Shape), tensor.ShapeString(x0.Shape), ax)
				}
			}
			shape[ax] += x.Shape[ax]
		}
		if len(xs) == 1 {
			return c.Outs(c.View(x0, shape)), nil
		}
		out := c.Alloc(x0.DType, shape...)
		outer := shpProd(shape[:ax])
		inner := shpProd(shape[ax+1:])
		rowOut := shape[ax] * inner
		off := 0
		for _, x := range xs {
			m, err := shpMoverFor(out, x)
			if err != nil {
				return nil, err
			}
			row := x.Shape[ax] * inner
			shpCopyStrided(c, m, []int{outer, row}, off, []int{rowOut, 1}, 0, []int{row, 1})
			off += row
		}
		return c.Outs(out), nil
	}), nil
}

func newSplit(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", 0)
	attrSplit := a.Ints("split", nil)
	hasAttrSplit := a.Has("split")
	numOutputs := a.Int("num_outputs", 0)
	hasNum := a.Has("num_outputs")
	if err := a.Err(); err != nil {
		return nil, err
	}
	nout := len(b.Node.Outputs)
	if b.Opset >= 13 && hasAttrSplit {
		return nil, fmt.Errorf("attribute split is not allowed from opset 13 (split is an input)")
	}
	if hasNum {
		if b.Opset < 18 {
			return nil, fmt.Errorf("attribute num_outputs needs opset 18")
		}
		if numOutputs < 1 || int(numOutputs) != nout {
			return nil, fmt.Errorf("attribute num_outputs = %d, but the node has %d outputs", numOutputs, nout)
		}
	}
	if nout == 0 {
		return nil, fmt.Errorf("Split needs at least one output")
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "input")
		if err != nil {
			return nil, err
		}
		r := len(x.Shape)
		if r == 0 {
			return nil, fmt.Errorf("cannot split a scalar")
		}
		ax, err := NormAxis(axis, r)
		if err != nil {
			return nil, err
		}
		dim := x.Shape[ax]
		split := attrSplit
		hasSplit := hasAttrSplit
		if st := shpOpt(in, 1); st != nil && (b.Opset >= 13 || b.Opset == 1) {
			if split, err = Int64s(st); err != nil {
				return nil, fmt.Errorf("input split: %w", err)
			}
			if len(st.Shape) > 1 {
				return nil, fmt.Errorf("input split has shape %v, want 1-D", tensor.ShapeString(st.Shape))
			}
			hasSplit = true
		}
		sizes := make([]int, nout)
		if hasSplit {
			if hasNum {
				return nil, fmt.Errorf("split and num_outputs are both given")
			}
			if len(split) != nout {
				return nil, fmt.Errorf("split %v has %d entries for %d outputs", split, len(split), nout)
			}
			sum := int64(0)
			for i, s := range split {
				if s < 0 {
					return nil, fmt.Errorf("split %v has a negative size", split)
				}
				sum += s
				sizes[i] = int(s)
			}
			if sum != int64(dim) {
				return nil, fmt.Errorf("split %v sums to %d, but axis %d of input %v has size %d", split, sum, ax, x, dim)
			}
		} else if b.Opset >= 18 {
			// Equal chunks of ceil(dim/n); the last ones get what is left.
			chunk := (dim + nout - 1) / nout
			left := dim
			for i := range sizes {
				sizes[i] = min(chunk, left)
				left -= sizes[i]
			}
		} else {
			if dim%nout != 0 {
				return nil, fmt.Errorf("axis %d of input %v (size %d) does not split evenly into %d outputs", ax, x, dim, nout)
			}
			for i := range sizes {
				sizes[i] = dim / nout
			}
		}
		outer := shpProd(x.Shape[:ax])
		inner := shpProd(x.Shape[ax+1:])
		outs := make([]*tensor.Tensor, nout)
		off := 0
		for i, s := range sizes {
			shape := append([]int(nil), x.Shape...)
			shape[ax] = s
			if s == dim {
				outs[i] = shpView(c, x, shape)
				continue
			}
			o := c.Alloc(x.DType, shape...)
			m, err := shpMoverFor(o, x)
			if err != nil {
				return nil, err
			}
			row := s * inner
			shpCopyStrided(c, m, []int{outer, row}, 0, []int{row, 1}, off*inner, []int{dim * inner, 1})
			off += s
			outs[i] = o
		}
		return outs, nil
	}), nil
}

func newTile(b *Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "input")
		if err != nil {
			return nil, err
		}
		rt, err := shpNeed(in, 1, "repeats")
		if err != nil {
			return nil, err
		}
		reps, err := Int64s(rt)
		if err != nil {
			return nil, fmt.Errorf("input repeats: %w", err)
		}
		r := len(x.Shape)
		if b.Opset < 6 {
			// Tile-1: repeat `tiles` times along the single axis `axis`.
			at, err := shpNeed(in, 2, "axis")
			if err != nil {
				return nil, err
			}
			av, err := Int64s(at)
			if err != nil || len(av) != 1 || len(reps) != 1 {
				return nil, fmt.Errorf("inputs tiles and axis must be scalar integers")
			}
			ax, err := NormAxis(av[0], r)
			if err != nil {
				return nil, err
			}
			t := reps[0]
			reps = make([]int64, r)
			for i := range reps {
				reps[i] = 1
			}
			reps[ax] = t
		}
		if len(reps) != r || (b.Opset >= 6 && len(rt.Shape) != 1) {
			return nil, fmt.Errorf("input repeats has shape %v, want [%d] (the input's rank)", tensor.ShapeString(rt.Shape), r)
		}
		shape := make([]int, r)
		for i, n := range reps {
			if n < 0 || n > shpMaxElems {
				return nil, fmt.Errorf("repeats %v has invalid entry %d", reps, n)
			}
			if x.Shape[i] > 0 && int(n) > shpMaxElems/x.Shape[i] {
				return nil, fmt.Errorf("repeats %v makes too large an output", reps)
			}
			shape[i] = x.Shape[i] * int(n)
		}
		if err := shpCheckShape(shape); err != nil {
			return nil, err
		}
		out := c.Alloc(x.DType, shape...)
		m, err := shpMoverFor(out, x)
		if err != nil {
			return nil, err
		}
		// View the output as [reps0, d0, reps1, d1, ...]: the repeat axes
		// read the input with stride 0.
		os, is := tensor.Strides(shape), tensor.Strides(x.Shape)
		var g, ds, ss []int
		for i := range r {
			g = append(g, int(reps[i]), x.Shape[i])
			ds = append(ds, x.Shape[i]*os[i], os[i])
			ss = append(ss, 0, is[i])
		}
		shpCopyStrided(c, m, g, 0, ds, 0, ss)
		return c.Outs(out), nil
	}), nil
}

// Pad modes.
const (
	shpPadConstant = iota
	shpPadReflect
	shpPadEdge
	shpPadWrap
)

func newPad(b *Build) (any, error) {
	a := b.Attrs()
	modeName := a.String("mode", "constant")
	var attrPads []int64
	var value float32
	switch {
	case b.Opset < 2:
		if !a.Has("paddings") {
			a.Fail(fmt.Errorf("required attribute \"paddings\" is missing"))
		}
		attrPads = a.Ints("paddings", nil)
		value = a.Float("value", 0)
	case b.Opset < 11:
		if !a.Has("pads") {
			a.Fail(fmt.Errorf("required attribute \"pads\" is missing"))
		}
		attrPads = a.Ints("pads", nil)
		value = a.Float("value", 0)
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	var mode int
	switch modeName {
	case "constant":
		mode = shpPadConstant
	case "reflect":
		mode = shpPadReflect
	case "edge":
		mode = shpPadEdge
	case "wrap":
		mode = shpPadWrap
	default:
		return nil, fmt.Errorf("attribute mode = %q, want constant, reflect, edge or wrap", modeName)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		r := len(x.Shape)
		pads := attrPads
		var cval *tensor.Tensor
		var axes []int
		if b.Opset >= 11 {
			pt, err := shpNeed(in, 1, "pads")
			if err != nil {
				return nil, err
			}
			if len(pt.Shape) != 1 {
				return nil, fmt.Errorf("input pads has shape %v, want 1-D", tensor.ShapeString(pt.Shape))
			}
			if pads, err = shpIndices(pt, "pads"); err != nil {
				return nil, err
			}
			if cv := shpOpt(in, 2); cv != nil && mode == shpPadConstant {
				if cv.DType != x.DType || cv.Len() != 1 {
					return nil, fmt.Errorf("input constant_value is %v, want one %v element", cv, x.DType)
				}
				cval = cv
			}
			if at := shpOpt(in, 3); at != nil {
				av, _, err := shpAxesInput(in, 3)
				if err != nil {
					return nil, err
				}
				if axes, err = shpAxes(c, av, r); err != nil {
					return nil, fmt.Errorf("input axes: %w", err)
				}
			}
		} else if mode == shpPadConstant && value != 0 {
			if cval, err = FromFloat64s(x.DType, nil, []float64{float64(value)}); err != nil {
				return nil, fmt.Errorf("attribute value: %w", err)
			}
		}
		if axes == nil {
			axes = make([]int, r)
			for i := range axes {
				axes[i] = i
			}
		}
		if len(pads) != 2*len(axes) {
			return nil, fmt.Errorf("pads %v has %d entries, want %d (2 × %d axes)", pads, len(pads), 2*len(axes), len(axes))
		}
		begin, end := make([]int, r), make([]int, r)
		for i, ax := range axes {
			pb, pe := pads[i], pads[len(axes)+i]
			if pb > shpMaxElems || pe > shpMaxElems || pb < -shpMaxElems || pe < -shpMaxElems {
				return nil, fmt.Errorf("pads %v are too large", pads)
			}
			begin[ax], end[ax] = int(pb), int(pe)
		}
		shape := make([]int, r)
		for i, d := range x.Shape {
			shape[i] = d + begin[i] + end[i]
			if shape[i] < 0 {
				return nil, fmt.Errorf("pads %v remove more than axis %d of input %v holds", pads, i, x)
			}
			if mode != shpPadConstant && d == 0 && shape[i] > 0 {
				return nil, fmt.Errorf("cannot pad empty axis %d of input %v in %s mode", i, x, modeName)
			}
		}
		if err := shpCheckShape(shape); err != nil {
			return nil, err
		}
		out := c.Alloc(x.DType, shape...)
		m, err := shpMoverFor(out, x)
		if err != nil {
			return nil, err
		}
		os, is := tensor.Strides(shape), tensor.Strides(x.Shape)
		if mode == shpPadConstant {
			if cval != nil {
				if err := shpFill(c, out, cval); err != nil {
					return nil, err
				}
			}
			// Copy the part of the input that survives (negative pads crop).
			region := make([]int, r)
			do, so := 0, 0
			for i, d := range x.Shape {
				lo := max(0, -begin[i])
				hi := d - max(0, -end[i])
				region[i] = max(0, hi-lo)
				so += lo * is[i]
				do += max(0, begin[i]) * os[i]
			}
			shpCopyStrided(c, m, region, do, os, so, is)
			return c.Outs(out), nil
		}
		if out.Len() == 0 {
			return c.Outs(out), nil
		}
		// maps[a][o] is the input index that output index o of axis a reads.
		maps := make([][]int, r)
		for a := range r {
			d := x.Shape[a]
			mp := make([]int, shape[a])
			for o := range mp {
				i := o - begin[a]
				switch mode {
				case shpPadEdge:
					i = min(max(i, 0), d-1)
				case shpPadWrap:
					i = ((i % d) + d) % d
				case shpPadReflect:
					if d == 1 {
						i = 0
						break
					}
					p := 2 * (d - 1)
					i = ((i % p) + p) % p
					if i >= d {
						i = p - i
					}
				}
				mp[o] = i
			}
			maps[a] = mp
		}
		if r == 0 {
			m.copyRun(0, 0, 1)
			return c.Outs(out), nil
		}
		last := maps[r-1] // the input's last axis has stride 1
		rows := out.Len() / shape[r-1]
		work := func(lo, hi int) {
			idx := make([]int, r-1)
			rem := lo
			for a := r - 2; a >= 0; a-- {
				idx[a] = rem % shape[a]
				rem /= shape[a]
			}
			for row := lo; row < hi; row++ {
				so := 0
				for a := range r - 1 {
					so += maps[a][idx[a]] * is[a]
				}
				m.take(row*shape[r-1], so, last)
				for a := r - 2; a >= 0; a-- {
					idx[a]++
					if idx[a] < shape[a] {
						break
					}
					idx[a] = 0
				}
			}
		}
		if out.Len() >= shpParMin {
			c.Parallel(rows, work)
		} else {
			work(0, rows)
		}
		return c.Outs(out), nil
	}), nil
}
