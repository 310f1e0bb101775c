package ir

import (
	"math"

	"github.com/inferd/inferd/tensor"
)

// Shape functions of operators that move, select or describe data:
// Constant, Shape, Size, Reshape, Transpose, Concat, Split, Slice, the
// Gathers, Squeeze, Unsqueeze, Flatten, Expand, Tile, Pad,
// ConstantOfShape, Range, NonZero, Compress, OneHot, EyeLike, Unique.
//
// Shape, Size, Gather, Concat, Slice, Squeeze, Unsqueeze, Reshape,
// ConstantOfShape and Range also compute the elements of small integer
// results (value.data), so that shape arguments computed in the graph
// (Shape→Gather→Unsqueeze→Concat→Reshape) are known.

func init() {
	registerInfer(DomainONNX, inferConstant, "Constant")
	registerInfer(DomainONNX, inferShapeOp, "Shape")
	registerInfer(DomainONNX, inferSize, "Size")
	registerInfer(DomainONNX, inferReshape, "Reshape")
	registerInfer(DomainONNX, inferTranspose, "Transpose")
	registerInfer(DomainONNX, inferConcat, "Concat")
	registerInfer(DomainONNX, inferSplit, "Split")
	registerInfer(DomainONNX, inferSlice, "Slice")
	registerInfer(DomainONNX, inferGather, "Gather")
	registerInfer(DomainONNX, inferGatherElements, "GatherElements")
	registerInfer(DomainONNX, inferGatherND, "GatherND")
	registerInfer(DomainONNX, inferSqueeze, "Squeeze")
	registerInfer(DomainONNX, inferUnsqueeze, "Unsqueeze")
	registerInfer(DomainONNX, inferFlatten, "Flatten")
	registerInfer(DomainONNX, inferExpand, "Expand")
	registerInfer(DomainONNX, inferTile, "Tile")
	registerInfer(DomainONNX, inferPad, "Pad")
	registerInfer(DomainONNX, inferConstantOfShape, "ConstantOfShape")
	registerInfer(DomainONNX, inferRange, "Range")
	registerInfer(DomainONNX, inferNonZero, "NonZero")
	registerInfer(DomainONNX, inferCompress, "Compress")
	registerInfer(DomainONNX, inferOneHot, "OneHot")
	registerInfer(DomainONNX, inferEyeLike, "EyeLike")
	registerInfer(DomainONNX, inferUnique, "Unique")
}

func inferConstant(c *nodeCtx) {
	var t *tensor.Tensor
	for _, a := range c.n.Attrs {
		switch a.Name {
		case "value", "sparse_value":
			t = a.T
		case "value_float":
			t = tensor.Scalar(a.F)
		case "value_floats":
			t = tensor.FromSlice(append([]float32(nil), a.Floats...), len(a.Floats))
		case "value_int":
			t = tensor.Scalar(a.I)
		case "value_ints":
			t = tensor.FromSlice(append([]int64(nil), a.Ints...), len(a.Ints))
		case "value_string":
			t = tensor.Scalar(string(a.S))
		case "value_strings":
			s := make([]string, len(a.Strings))
			for i, b := range a.Strings {
				s[i] = string(b)
			}
			t = tensor.FromSlice(s, len(s))
		}
	}
	if t == nil {
		c.errorf("no value attribute")
		return
	}
	v := c.setTensor(0, t.DType, ShapeOf(t.Shape...))
	if tensor.SliceLen(t.Data) == t.Len() {
		v.t = t
	}
}

// shapeRange returns the [start, end) of Shape's start and end attributes
// (opset 15) clamped to rank r.
func shapeRange(c *nodeCtx, r int) (int, int) {
	clamp := func(v int64) int {
		if v < 0 {
			v += int64(r)
		}
		return int(min(max(v, 0), int64(r)))
	}
	start := clamp(c.attrs.Int("start", 0))
	end := r
	if c.attrs.Has("end") {
		end = clamp(c.attrs.Int("end", 0))
	}
	return start, max(start, end)
}

func inferShapeOp(c *nodeCtx) {
	s := c.shape(0)
	if s == nil {
		if c.has(0) {
			c.setTensor(0, tensor.Int64, Shape{unknownDim})
		}
		return
	}
	lo, hi := shapeRange(c, len(s))
	c.setData(0, tensor.Int64, ShapeOf(hi-lo), eltsOf(s[lo:hi]))
}

func inferSize(c *nodeCtx) {
	if !c.has(0) {
		return
	}
	v := c.setTensor(0, tensor.Int64, Shape{})
	if s := c.shape(0); s != nil {
		if d := dimProduct(s); d.Known() || d.Param != "" {
			v.data = []elt{eltOf(d)}
		}
	}
}

func inferReshape(c *nodeCtx) {
	in := c.shape(0)
	var target []elt
	ok := false
	if c.opset < 5 {
		if xs := c.attrs.Ints("shape", nil); xs != nil {
			target, ok = intElts(xs), true
		}
	} else {
		target, ok = c.elts(1)
	}
	dt := c.dtype(0)
	if !ok {
		// The target's length, if known, is the rank.
		if s := c.shape(1); len(s) == 1 && s[0].Known() {
			c.setTensor(0, dt, unknownShape(int(s[0].Value)))
		} else if c.has(0) {
			c.setTensor(0, dt, nil)
		}
		return
	}
	allowZero := c.attrs.Int("allowzero", 0) != 0
	out := make(Shape, len(target))
	neg := -1
	for i, e := range target {
		switch {
		case e.is(-1):
			if neg >= 0 {
				c.errorf("shape %v has more than one -1", eltString(target))
				return
			}
			neg = i
		case e.is(0) && !allowZero:
			switch {
			case in == nil:
				out[i] = unknownDim
			case i >= len(in):
				c.errorf("shape %v copies dimension %d (0) of %s, which has rank %d", eltString(target), i, c.desc(0), len(in))
				return
			default:
				out[i] = in[i]
			}
		case e.known && e.v < 0:
			c.errorf("shape %v has a negative dimension %d", eltString(target), e.v)
			return
		default:
			out[i] = e.dim()
		}
	}
	if neg >= 0 {
		others := append(append(Shape{}, out[:neg]...), out[neg+1:]...)
		d, fail := solveReshape(in, others)
		if fail {
			c.errorf("cannot reshape %s to %v: %v elements do not divide into %v", c.desc(0), eltString(target), dimProduct(in), dimProduct(others))
			return
		}
		out[neg] = d
	} else if in != nil {
		a, b := dimProduct(in), dimProduct(out)
		if conflict(a, b) {
			c.errorf("cannot reshape %s (%v elements) to %v (%v elements)", c.desc(0), a, eltString(target), b)
			return
		}
	}
	// The elements stay as they are.
	e, _ := c.elts(0)
	c.setData(0, dt, out, e)
}

func intElts(xs []int64) []elt {
	out := make([]elt, len(xs))
	for i, x := range xs {
		out[i] = knownElt(x)
	}
	return out
}

func eltString(es []elt) string {
	b := []byte{'['}
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case e.known:
			b = append(b, itoa(e.v)...)
		case e.param != "":
			b = append(b, e.param...)
		default:
			b = append(b, '?')
		}
	}
	return string(append(b, ']'))
}

// solveReshape works out the dimension -1 stands for when reshaping in to
// a shape whose other dimensions are others: known sizes divide, and
// symbols present on both sides cancel. fail reports sizes that do not
// divide.
func solveReshape(in, others Shape) (d Dim, fail bool) {
	if in == nil {
		return unknownDim, false
	}
	type side struct {
		known int64
		syms  map[string]int
		nsym  int
	}
	collect := func(s Shape) (side, bool) {
		sd := side{known: 1, syms: map[string]int{}}
		for _, d := range s {
			switch {
			case d.Known():
				sd.known = mulClamp(sd.known, d.Value)
			case d.Param != "":
				sd.syms[d.Param]++
				sd.nsym++
			default:
				return sd, false
			}
		}
		return sd, true
	}
	a, ok1 := collect(in)
	b, ok2 := collect(others)
	if !ok1 || !ok2 {
		return unknownDim, false
	}
	for p, n := range b.syms {
		if a.syms[p] < n {
			return unknownDim, false
		}
		a.syms[p] -= n
		a.nsym -= n
	}
	if b.known == 0 {
		return unknownDim, false
	}
	switch a.nsym {
	case 0:
		if a.known%b.known != 0 {
			return unknownDim, true
		}
		return dimOf(a.known / b.known), false
	case 1:
		if a.known == b.known {
			for p, n := range a.syms {
				if n == 1 {
					return Dim{Value: -1, Param: p}, false
				}
			}
		}
	}
	return unknownDim, false
}

func inferTranspose(c *nodeCtx) {
	in := c.shape(0)
	dt := c.dtype(0)
	perm := c.attrs.Ints("perm", nil)
	if in == nil {
		if perm != nil {
			c.setTensor(0, dt, unknownShape(len(perm)))
		} else if c.has(0) {
			c.setTensor(0, dt, nil)
		}
		return
	}
	if perm == nil {
		perm = make([]int64, len(in))
		for i := range perm {
			perm[i] = int64(len(in) - 1 - i)
		}
	}
	if len(perm) != len(in) {
		c.errorf("perm %v does not fit %s", perm, c.desc(0))
		return
	}
	out := make(Shape, len(in))
	seen := make([]bool, len(in))
	for i, p := range perm {
		if p < 0 || p >= int64(len(in)) || seen[p] {
			c.errorf("perm %v is not a permutation of %d axes", perm, len(in))
			return
		}
		seen[p] = true
		out[i] = in[p]
	}
	c.setTensor(0, dt, out)
}

func inferConcat(c *nodeCtx) {
	idx := allInputs(c)
	dt := c.sameElemTypes(idx...)
	if len(idx) == 0 {
		return
	}
	r := -1
	for _, i := range idx {
		if s := c.shape(i); s != nil {
			if r >= 0 && len(s) != r {
				c.errorf("%s has rank %d, want %d like the inputs before it", c.desc(i), len(s), r)
				return
			}
			r = len(s)
		}
	}
	if r < 0 {
		c.setTensor(0, dt, nil)
		return
	}
	if r == 0 {
		c.errorf("cannot concatenate scalars")
		return
	}
	def := int64(1)
	if c.opset >= 4 {
		def = 0
	}
	axis, ok := c.axis("axis", c.attrs.Int("axis", def), r)
	if !ok {
		return
	}
	out := make(Shape, r)
	for j := range out {
		out[j] = unknownDim
	}
	sum := knownElt(0)
	for k, i := range idx {
		s := c.shape(i)
		if s == nil {
			sum = unknownElt
			continue
		}
		sum = eltAdd(sum, eltOf(s[axis]))
		for j, d := range s {
			if j == axis {
				continue
			}
			if k > 0 && conflict(out[j], d) {
				c.errorf("%s differs from the first input in dimension %d: %v, want %v", c.desc(i), j, d, out[j])
				return
			}
			if k == 0 {
				out[j] = d
			} else if !sameDim(out[j], d) {
				out[j] = unify(out[j], d)
			}
		}
	}
	out[axis] = sum.dim()
	v := c.setTensor(0, dt, out)
	if r == 1 && dimsLen(out) >= 0 {
		var data []elt
		for _, i := range idx {
			e, ok := c.elts(i)
			if !ok {
				return
			}
			data = append(data, e...)
		}
		if len(data) == dimsLen(out) {
			v.data = data
		}
	}
}

func inferSplit(c *nodeCtx) {
	in := c.shape(0)
	dt := c.dtype(0)
	n := len(c.out)
	if in == nil {
		for i := range n {
			c.setTensor(i, dt, nil)
		}
		return
	}
	axis, ok := c.axis("axis", c.attrs.Int("axis", 0), len(in))
	if !ok {
		return
	}
	var split []int64
	haveSplit := false
	if c.opset < 13 {
		if s := c.attrs.Ints("split", nil); s != nil {
			split, haveSplit = s, true
		} else if c.has(1) { // opset 2 took split as an input too
			split, haveSplit = c.ints(1)
			if !haveSplit {
				split = nil
			}
		}
	} else if c.has(1) {
		var known bool
		split, known = c.ints(1)
		if !known {
			for i := range n {
				s := copyShape(in)
				s[axis] = unknownDim
				c.setTensor(i, dt, s)
			}
			return
		}
		haveSplit = true
	}
	d := in[axis]
	sizes := make([]Dim, n)
	switch {
	case haveSplit:
		if len(split) != n {
			c.errorf("split %v has %d parts for %d outputs", split, len(split), n)
			return
		}
		total := int64(0)
		for i, s := range split {
			if s < 0 {
				c.errorf("split %v has a negative size", split)
				return
			}
			sizes[i] = dimOf(s)
			total += s
		}
		if d.Known() && d.Value != total {
			c.errorf("split %v adds up to %d, but %s has %d along axis %d", split, total, c.desc(0), d.Value, axis)
			return
		}
	case d.Known():
		parts := int64(n)
		if c.attrs.Has("num_outputs") {
			parts = c.attrs.Int("num_outputs", 0)
		}
		if parts <= 0 {
			c.errorf("cannot split into %d parts", parts)
			return
		}
		if c.opset < 18 && d.Value%parts != 0 {
			c.errorf("%s cannot be split evenly into %d parts along axis %d", c.desc(0), parts, axis)
			return
		}
		chunk := ceilDiv(d.Value, parts)
		left := d.Value
		for i := range sizes {
			sizes[i] = dimOf(min(chunk, max(left, 0)))
			left -= chunk
		}
	default:
		for i := range sizes {
			sizes[i] = unknownDim
		}
	}
	for i := range n {
		s := copyShape(in)
		s[axis] = sizes[i]
		c.setTensor(i, dt, s)
	}
}

// sliceDim returns the length of slicing a dimension of size d from start
// to end by step, clamped as Slice does.
func sliceDim(d, start, end, step int64) int64 {
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	if step > 0 {
		start = min(max(start, 0), d)
		end = min(max(end, 0), d)
		if end <= start {
			return 0
		}
		return ceilDiv(end-start, step)
	}
	start = min(max(start, 0), d-1)
	end = min(max(end, -1), d-1)
	if start <= end {
		return 0
	}
	return ceilDiv(start-end, -step)
}

// sliceStart returns the first index Slice takes from a dimension of
// size d.
func sliceStart(d, start, step int64) int64 {
	if start < 0 {
		start += d
	}
	if step > 0 {
		return min(max(start, 0), d)
	}
	return min(max(start, 0), d-1)
}

func inferSlice(c *nodeCtx) {
	in := c.shape(0)
	dt := c.dtype(0)
	if in == nil {
		if c.has(0) {
			c.setTensor(0, dt, nil)
		}
		return
	}
	var starts, ends, axes, steps []int64
	known := true
	if c.opset < 10 {
		starts = c.attrs.Ints("starts", nil)
		ends = c.attrs.Ints("ends", nil)
		axes = c.attrs.Ints("axes", nil)
	} else {
		var ok1, ok2 bool
		starts, ok1 = c.ints(1)
		ends, ok2 = c.ints(2)
		known = ok1 && ok2
		if c.has(3) {
			var ok bool
			if axes, ok = c.ints(3); !ok {
				c.setTensor(0, dt, unknownShape(len(in)))
				return
			}
		}
		if c.has(4) {
			var ok bool
			if steps, ok = c.ints(4); !ok {
				known = false
			}
		}
	}
	if axes == nil {
		n := len(starts)
		if !known {
			if s := c.shape(1); len(s) == 1 && s[0].Known() {
				n = int(s[0].Value)
			} else {
				c.setTensor(0, dt, unknownShape(len(in)))
				return
			}
		}
		axes = make([]int64, n)
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	out := copyShape(in)
	if !known {
		for _, a := range axes {
			if ax, ok := c.axis("axes", a, len(in)); ok {
				out[ax] = unknownDim
			}
		}
		c.setTensor(0, dt, out)
		return
	}
	if len(starts) != len(axes) || len(ends) != len(axes) || (steps != nil && len(steps) != len(axes)) {
		c.errorf("starts %v, ends %v, axes %v and steps %v differ in length", starts, ends, axes, steps)
		return
	}
	seen := map[int]bool{}
	var dataStart, dataStep int64 = 0, 1
	for i, a := range axes {
		ax, ok := c.axis("axes", a, len(in))
		if !ok {
			return
		}
		if seen[ax] {
			c.errorf("axes %v repeats axis %d", axes, ax)
			return
		}
		seen[ax] = true
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			c.errorf("steps %v has a 0", steps)
			return
		}
		d := in[ax]
		switch {
		case d.Known():
			out[ax] = dimOf(sliceDim(d.Value, starts[i], ends[i], step))
			if ax == 0 {
				dataStart, dataStep = sliceStart(d.Value, starts[i], step), step
			}
		case starts[i] == 0 && step == 1 && ends[i] >= math.MaxInt32:
			// The whole of an unknown dimension.
		default:
			out[ax] = unknownDim
		}
	}
	v := c.setTensor(0, dt, out)
	if e, ok := c.elts(0); ok && len(in) == 1 && in[0].Known() && len(e) == int(in[0].Value) && out[0].Known() {
		data := make([]elt, out[0].Value)
		for k := range data {
			data[k] = e[dataStart+int64(k)*dataStep]
		}
		v.data = data
	}
}

func inferGather(c *nodeCtx) {
	data, ind := c.shape(0), c.shape(1)
	dt := c.dtype(0)
	if data == nil || ind == nil {
		if c.has(0) {
			c.setTensor(0, dt, nil)
		}
		return
	}
	if len(data) == 0 {
		c.errorf("cannot gather from a scalar %s", c.desc(0))
		return
	}
	axis, ok := c.axis("axis", c.attrs.Int("axis", 0), len(data))
	if !ok {
		return
	}
	out := make(Shape, 0, len(data)-1+len(ind))
	out = append(out, data[:axis]...)
	out = append(out, ind...)
	out = append(out, data[axis+1:]...)
	if idx, ok := c.ints(1); ok && data[axis].Known() {
		for _, i := range idx {
			if i < -data[axis].Value || i >= data[axis].Value {
				c.errorf("index %d is out of range for dimension %d (%d) of %s", i, axis, data[axis].Value, c.desc(0))
				return
			}
		}
	}
	v := c.setTensor(0, dt, out)
	e, ok1 := c.elts(0)
	idx, ok2 := c.ints(1)
	if ok1 && ok2 && len(data) == 1 && len(ind) <= 1 {
		res := make([]elt, len(idx))
		for k, i := range idx {
			if i < 0 {
				i += int64(len(e))
			}
			if i < 0 || i >= int64(len(e)) {
				return
			}
			res[k] = e[i]
		}
		if dimsLen(out) == len(res) {
			v.data = res
		}
	}
}

func inferGatherElements(c *nodeCtx) {
	data, ind := c.shape(0), c.shape(1)
	if data != nil && ind != nil {
		if len(data) != len(ind) {
			c.errorf("%s and %s differ in rank", c.desc(0), c.desc(1))
			return
		}
		c.axis("axis", c.attrs.Int("axis", 0), len(data))
	}
	if c.has(0) {
		c.setTensor(0, c.dtype(0), copyShape(ind))
	}
}

func inferGatherND(c *nodeCtx) {
	data, ind := c.shape(0), c.shape(1)
	dt := c.dtype(0)
	b := int(c.attrs.Int("batch_dims", 0))
	if data == nil || ind == nil || len(ind) == 0 || !ind[len(ind)-1].Known() {
		c.setTensor(0, dt, nil)
		return
	}
	last := int(ind[len(ind)-1].Value)
	if b < 0 || b+last > len(data) || b >= len(ind) {
		c.errorf("%s indexes %d dimensions after %d batch dimensions of %s", c.desc(1), last, b, c.desc(0))
		return
	}
	out := append(Shape{}, ind[:len(ind)-1]...)
	out = append(out, data[b+last:]...)
	c.setTensor(0, dt, out)
}

// axesArg returns the axes of Squeeze, Unsqueeze and the Reduce ops: an
// attribute before opset attrUntil, else input 1. known is false when an
// axes input is given but not constant.
func (c *nodeCtx) axesArg(attrUntil int64) (axes []int64, given, known bool) {
	if c.opset < attrUntil {
		a := c.attrs.Ints("axes", nil)
		return a, a != nil, true
	}
	if !c.has(1) {
		return nil, false, true
	}
	a, ok := c.ints(1)
	return a, true, ok
}

// normAxes normalises axes against rank r, reporting out-of-range and
// repeated axes.
func (c *nodeCtx) normAxes(axes []int64, r int) ([]int, bool) {
	out := make([]int, len(axes))
	seen := map[int]bool{}
	for i, a := range axes {
		ax, ok := c.axis("axes", a, r)
		if !ok {
			return nil, false
		}
		if seen[ax] {
			c.errorf("axes %v repeats axis %d", axes, ax)
			return nil, false
		}
		seen[ax] = true
		out[i] = ax
	}
	return out, true
}

func inferSqueeze(c *nodeCtx) {
	in := c.shape(0)
	dt := c.dtype(0)
	axes, given, known := c.axesArg(13)
	if in == nil || !known {
		if s := c.shape(1); in != nil && len(s) == 1 && s[0].Known() && s[0].Value <= int64(len(in)) {
			// As many axes as the axes input has elements go.
			c.setTensor(0, dt, unknownShape(len(in)-int(s[0].Value)))
		} else if c.has(0) {
			c.setTensor(0, dt, nil)
		}
		return
	}
	drop := make([]bool, len(in))
	if given {
		ax, ok := c.normAxes(axes, len(in))
		if !ok {
			return
		}
		for _, a := range ax {
			if in[a].Known() && in[a].Value != 1 {
				c.errorf("cannot squeeze dimension %d of %s: it is %d, not 1", a, c.desc(0), in[a].Value)
				return
			}
			drop[a] = true
		}
	} else {
		for i, d := range in {
			if !d.Known() {
				c.setTensor(0, dt, nil) // any unknown dimension may be 1
				return
			}
			drop[i] = d.Value == 1
		}
	}
	out := Shape{}
	for i, d := range in {
		if !drop[i] {
			out = append(out, d)
		}
	}
	// The elements stay as they are.
	e, _ := c.elts(0)
	c.setData(0, dt, out, e)
}

func inferUnsqueeze(c *nodeCtx) {
	in := c.shape(0)
	dt := c.dtype(0)
	axes, given, known := c.axesArg(13)
	if !given && known {
		c.errorf("axes are missing")
		return
	}
	if in == nil || !known {
		if s := c.shape(1); in != nil && len(s) == 1 && s[0].Known() {
			// As many axes as the axes input has elements come in.
			c.setTensor(0, dt, unknownShape(len(in)+int(s[0].Value)))
		} else if c.has(0) {
			c.setTensor(0, dt, nil)
		}
		return
	}
	r := len(in) + len(axes)
	ax, ok := c.normAxes(axes, r)
	if !ok {
		return
	}
	ins := make([]bool, r)
	for _, a := range ax {
		ins[a] = true
	}
	out := make(Shape, r)
	j := 0
	for i := range out {
		if ins[i] {
			out[i] = dimOf(1)
		} else {
			out[i] = in[j]
			j++
		}
	}
	// The elements stay as they are.
	e, _ := c.elts(0)
	c.setData(0, dt, out, e)
}

func inferFlatten(c *nodeCtx) {
	in := c.shape(0)
	dt := c.dtype(0)
	if in == nil {
		if c.has(0) {
			c.setTensor(0, dt, unknownShape(2))
		}
		return
	}
	axis := c.attrs.Int("axis", 1)
	r := int64(len(in))
	if axis < -r || axis > r {
		c.errorf("axis %d is out of range for %s", axis, c.desc(0))
		return
	}
	if axis < 0 {
		axis += r
	}
	c.setTensor(0, dt, Shape{dimProduct(in[:axis]), dimProduct(in[axis:])})
}

// shapeArg returns a shape given as integer input i (Expand,
// ConstantOfShape): its elements as dimensions, or, if only its length is
// known, that many unknown dimensions.
func (c *nodeCtx) shapeArg(i int) (Shape, bool) {
	if e, ok := c.elts(i); ok {
		s := make(Shape, len(e))
		for k, x := range e {
			if x.known && x.v < 0 {
				c.errorf("shape %v has a negative dimension", eltString(e))
				return nil, false
			}
			s[k] = x.dim()
		}
		return s, true
	}
	if s := c.shape(i); len(s) == 1 && s[0].Known() {
		return unknownShape(int(s[0].Value)), true
	}
	return nil, false
}

func inferExpand(c *nodeCtx) {
	dt := c.dtype(0)
	target, ok := c.shapeArg(1)
	if !ok {
		if c.has(0) {
			c.setTensor(0, dt, nil)
		}
		return
	}
	in := c.shape(0)
	s, err := broadcastShapes(in, target)
	if err != nil {
		c.errorf("cannot expand %s to %v: %v", c.desc(0), target, err)
		return
	}
	c.setTensor(0, dt, s)
}

func inferTile(c *nodeCtx) {
	in := c.shape(0)
	dt := c.dtype(0)
	rep, ok := c.elts(1)
	if in == nil || !ok {
		if in != nil {
			c.setTensor(0, dt, unknownShape(len(in)))
		} else if c.has(0) {
			c.setTensor(0, dt, nil)
		}
		return
	}
	if len(rep) != len(in) {
		c.errorf("repeats %v do not match %s", eltString(rep), c.desc(0))
		return
	}
	out := make(Shape, len(in))
	for i, d := range in {
		out[i] = eltMul(eltOf(d), rep[i]).dim()
	}
	c.setTensor(0, dt, out)
}

func inferPad(c *nodeCtx) {
	in := c.shape(0)
	dt := c.dtype(0)
	if in == nil {
		if c.has(0) {
			c.setTensor(0, dt, nil)
		}
		return
	}
	var pads []elt
	ok := true
	switch {
	case c.opset < 2:
		pads = intElts(c.attrs.Ints("paddings", nil))
	case c.opset < 11:
		pads = intElts(c.attrs.Ints("pads", nil))
	default:
		pads, ok = c.elts(1)
	}
	axes := make([]int, len(in))
	for i := range axes {
		axes[i] = i
	}
	if c.has(3) {
		a, known := c.ints(3)
		if !known {
			c.setTensor(0, dt, unknownShape(len(in)))
			return
		}
		if axes, ok = c.normAxes(a, len(in)); !ok {
			return
		}
		ok = pads != nil
	}
	if !ok {
		c.setTensor(0, dt, unknownShape(len(in)))
		return
	}
	if len(pads) != 2*len(axes) {
		c.errorf("pads %v do not fit %s (want %d values)", eltString(pads), c.desc(0), 2*len(axes))
		return
	}
	out := copyShape(in)
	for i, a := range axes {
		e := eltAdd(eltAdd(eltOf(in[a]), pads[i]), pads[i+len(axes)])
		if e.known && e.v < 0 {
			c.errorf("pads %v make dimension %d of %s negative", eltString(pads), a, c.desc(0))
			return
		}
		out[a] = e.dim()
	}
	c.setTensor(0, dt, out)
}

func inferConstantOfShape(c *nodeCtx) {
	dt := tensor.Float32
	var fill *tensor.Tensor
	if t := c.attrs.Tensor("value"); t != nil {
		dt, fill = t.DType, t
	}
	s, ok := c.shapeArg(0)
	if !ok {
		c.setTensor(0, dt, nil)
		return
	}
	v := c.setTensor(0, dt, s)
	if n := dimsLen(s); n >= 0 && n <= maxDataLen {
		x := int64(0)
		if fill != nil {
			xs, ok := tensorInts(fill)
			if !ok || len(xs) != 1 {
				return
			}
			x = xs[0]
		} else {
			return
		}
		data := make([]elt, n)
		for i := range data {
			data[i] = knownElt(x)
		}
		v.data = data
	}
}

func inferRange(c *nodeCtx) {
	dt := c.sameElemTypes(0, 1, 2)
	for i := range 3 {
		if s := c.shape(i); s != nil && len(s) != 0 {
			c.errorf("%s is not a scalar", c.desc(i))
			return
		}
	}
	start, ok1 := c.floats(0)
	limit, ok2 := c.floats(1)
	delta, ok3 := c.floats(2)
	if ok1 && ok2 && ok3 && len(start) == 1 && len(limit) == 1 && len(delta) == 1 {
		if delta[0] == 0 {
			c.errorf("delta is 0")
			return
		}
		n := int64(math.Max(math.Ceil((limit[0]-start[0])/delta[0]), 0))
		v := c.setTensor(0, dt, ShapeOf(int(n)))
		if dt.IsInt() && n <= maxDataLen {
			data := make([]elt, n)
			for i := range data {
				data[i] = knownElt(int64(start[0]) + int64(i)*int64(delta[0]))
			}
			v.data = data
		}
		return
	}
	// Range(0, n, 1) has n elements, n perhaps symbolic.
	s0, ok1 := c.elts(0)
	lim, ok2 := c.elts(1)
	d1, ok3 := c.elts(2)
	if ok1 && ok2 && ok3 && len(s0) == 1 && len(lim) == 1 && len(d1) == 1 && s0[0].is(0) && d1[0].is(1) {
		c.setTensor(0, dt, Shape{lim[0].dim()})
		return
	}
	c.setTensor(0, dt, Shape{unknownDim})
}

func inferNonZero(c *nodeCtx) {
	r := unknownDim
	if s := c.shape(0); s != nil {
		r = dimOf(int64(len(s)))
	}
	c.setTensor(0, tensor.Int64, Shape{r, unknownDim})
}

func inferCompress(c *nodeCtx) {
	in := c.shape(0)
	dt := c.dtype(0)
	cond, condKnown := c.ints(1)
	count := func(n int64) Dim {
		if !condKnown {
			return unknownDim
		}
		k := int64(0)
		for i, x := range cond {
			if int64(i) < n && x != 0 {
				k++
			}
		}
		return dimOf(k)
	}
	if !c.attrs.Has("axis") {
		d := unknownDim
		if n := dimProduct(in); n.Known() {
			d = count(n.Value)
		}
		c.setTensor(0, dt, Shape{d})
		return
	}
	if in == nil {
		c.setTensor(0, dt, nil)
		return
	}
	axis, ok := c.axis("axis", c.attrs.Int("axis", 0), len(in))
	if !ok {
		return
	}
	out := copyShape(in)
	out[axis] = unknownDim
	if in[axis].Known() {
		out[axis] = count(in[axis].Value)
	}
	c.setTensor(0, dt, out)
}

func inferOneHot(c *nodeCtx) {
	dt := c.dtype(2)
	in := c.shape(0)
	if in == nil {
		c.setTensor(0, dt, nil)
		return
	}
	depth := unknownDim
	if d, ok := c.floats(1); ok && len(d) == 1 {
		depth = dimOf(int64(d[0]))
	}
	r := len(in) + 1
	axis, ok := c.axis("axis", c.attrs.Int("axis", -1), r)
	if !ok {
		return
	}
	out := make(Shape, 0, r)
	out = append(out, in[:axis]...)
	out = append(out, depth)
	out = append(out, in[axis:]...)
	c.setTensor(0, dt, out)
}

func inferEyeLike(c *nodeCtx) {
	dt := c.dtype(0)
	if c.attrs.Has("dtype") {
		dt = tensor.DType(c.attrs.Int("dtype", 0))
	}
	if s := c.shape(0); s != nil && len(s) != 2 {
		c.errorf("%s is not 2-D", c.desc(0))
		return
	}
	c.setTensor(0, dt, copyShape(c.shape(0)))
}

func inferUnique(c *nodeCtx) {
	in := c.shape(0)
	dt := c.dtype(0)
	inverse := unknownDim
	if !c.attrs.Has("axis") {
		c.setTensor(0, dt, Shape{unknownDim})
		if in != nil {
			inverse = dimProduct(in)
		}
	} else if in != nil {
		axis, ok := c.axis("axis", c.attrs.Int("axis", 0), len(in))
		if !ok {
			return
		}
		out := copyShape(in)
		out[axis] = unknownDim
		c.setTensor(0, dt, out)
		inverse = in[axis]
	} else {
		c.setTensor(0, dt, nil)
	}
	c.setTensor(1, tensor.Int64, Shape{unknownDim})
	c.setTensor(2, tensor.Int64, Shape{inverse})
	c.setTensor(3, tensor.Int64, Shape{unknownDim})
}
