package ir

import "github.com/inferd/inferd/tensor"

// Shape functions of reductions: Reduce*, ArgMax, ArgMin, TopK.

func init() {
	registerInfer(DomainONNX, inferReduce,
		"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
		"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")
	registerInfer(DomainONNX, inferArgMax, "ArgMax", "ArgMin")
	registerInfer(DomainONNX, inferTopK, "TopK")
}

// reduceShape removes (or, with keepdims, sets to 1) the given axes of x.
func reduceShape(x Shape, axes []int, keep bool) Shape {
	drop := make([]bool, len(x))
	for _, a := range axes {
		drop[a] = true
	}
	out := Shape{}
	for i, d := range x {
		switch {
		case !drop[i]:
			out = append(out, d)
		case keep:
			out = append(out, dimOf(1))
		}
	}
	return out
}

func inferReduce(c *nodeCtx) {
	x := c.shape(0)
	dt := c.dtype(0)
	// Axes became an input in opset 13 for ReduceSum, 18 for the others.
	attrUntil := int64(18)
	if c.n.OpType == "ReduceSum" {
		attrUntil = 13
	}
	axes, _, known := c.axesArg(attrUntil)
	keep := c.attrs.Int("keepdims", 1) != 0
	if !c.has(0) {
		return
	}
	if x == nil {
		c.setTensor(0, dt, nil)
		return
	}
	if !known {
		if keep {
			c.setTensor(0, dt, unknownShape(len(x)))
		} else {
			c.setTensor(0, dt, nil)
		}
		return
	}
	if len(axes) == 0 {
		if c.opset >= attrUntil && c.attrs.Int("noop_with_empty_axes", 0) != 0 {
			c.setTensor(0, dt, copyShape(x))
			return
		}
		all := make([]int, len(x))
		for i := range all {
			all[i] = i
		}
		c.setTensor(0, dt, reduceShape(x, all, keep))
		return
	}
	ax, ok := c.normAxes(axes, len(x))
	if !ok {
		return
	}
	c.setTensor(0, dt, reduceShape(x, ax, keep))
}

func inferArgMax(c *nodeCtx) {
	x := c.shape(0)
	if x == nil {
		if c.has(0) {
			c.setTensor(0, tensor.Int64, nil)
		}
		return
	}
	axis, ok := c.axis("axis", c.attrs.Int("axis", 0), len(x))
	if !ok {
		return
	}
	c.setTensor(0, tensor.Int64, reduceShape(x, []int{axis}, c.attrs.Int("keepdims", 1) != 0))
}

func inferTopK(c *nodeCtx) {
	x := c.shape(0)
	dt := c.dtype(0)
	if x == nil {
		c.setTensor(0, dt, nil)
		c.setTensor(1, tensor.Int64, nil)
		return
	}
	axis, ok := c.axis("axis", c.attrs.Int("axis", -1), len(x))
	if !ok {
		return
	}
	k := unknownDim
	if c.opset < 10 {
		k = dimOf(c.attrs.RequireInt("k"))
	} else if v, ok := c.scalarInt(1); ok {
		k = dimOf(v)
	}
	if k.Known() && x[axis].Known() && k.Value > x[axis].Value {
		c.errorf("k = %d is larger than dimension %d (%d) of %s", k.Value, axis, x[axis].Value, c.desc(0))
		return
	}
	out := copyShape(x)
	out[axis] = k
	c.setTensor(0, dt, out)
	c.setTensor(1, tensor.Int64, copyShape(out))
}
