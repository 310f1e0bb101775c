package ir

import "github.com/inferd/inferd/tensor"

// Shape functions of control flow (If, Loop, Scan, SequenceMap), sequence
// and optional operators.

func init() {
	registerInfer(DomainONNX, inferIf, "If")
	registerInfer(DomainONNX, inferLoop, "Loop")
	registerInfer(DomainONNX, inferScan, "Scan")
	registerInfer(DomainONNX, inferSequenceMap, "SequenceMap")
	registerInfer(DomainONNX, inferSequenceEmpty, "SequenceEmpty")
	registerInfer(DomainONNX, inferSequenceConstruct, "SequenceConstruct")
	registerInfer(DomainONNX, inferSequenceInsert, "SequenceInsert")
	registerInfer(DomainONNX, inferSequenceAt, "SequenceAt")
	registerInfer(DomainONNX, inferSequenceErase, "SequenceErase")
	registerInfer(DomainONNX, inferSequenceLength, "SequenceLength")
	registerInfer(DomainONNX, inferSplitToSequence, "SplitToSequence")
	registerInfer(DomainONNX, inferConcatFromSequence, "ConcatFromSequence")
	registerInfer(DomainONNX, inferOptional, "Optional")
	registerInfer(DomainONNX, inferOptionalHasElement, "OptionalHasElement")
	registerInfer(DomainONNX, inferOptionalGetElement, "OptionalGetElement")
}

// joinTypes returns the most precise type that covers both a and b: the
// type of a value that is either. ok is false if they cannot be the same
// value's (different kinds or element types). An unknown type joined
// with a known one keeps the known one's kind and element type only.
func joinTypes(a, b Type) (Type, bool) {
	if a.Kind == UnknownKind && b.Kind == UnknownKind {
		return Type{}, true
	}
	if a.Kind == UnknownKind || b.Kind == UnknownKind {
		if a.Kind == UnknownKind {
			a, b = b, a
		}
		return stripShapes(a), true
	}
	if a.Kind != b.Kind {
		return Type{}, false
	}
	out := Type{Kind: a.Kind, DType: a.DType, KeyType: a.KeyType}
	switch a.Kind {
	case TensorKind, SparseTensorKind:
		switch {
		case a.DType == tensor.Undefined:
			out.DType = b.DType
		case b.DType != tensor.Undefined && a.DType != b.DType:
			return Type{}, false
		}
		if a.Shape != nil && b.Shape != nil && len(a.Shape) == len(b.Shape) {
			out.Shape = make(Shape, len(a.Shape))
			for i := range a.Shape {
				out.Shape[i] = unknownDim
				if identicalDim(a.Shape[i], b.Shape[i]) {
					out.Shape[i] = a.Shape[i]
				}
			}
		}
	default:
		switch {
		case a.Elem == nil || b.Elem == nil:
		default:
			e, ok := joinTypes(*a.Elem, *b.Elem)
			if !ok {
				return Type{}, false
			}
			out.Elem = &e
		}
	}
	return out, true
}

// stripShapes returns t without its shapes (element shapes included).
func stripShapes(t Type) Type {
	t.Shape = nil
	if t.Elem != nil {
		e := stripShapes(*t.Elem)
		t.Elem = &e
	}
	return t
}

// loopBody infers a loop body (Loop, Scan) whose inputs ins[first:first+n]
// are loop-carried and come back as outputs outFirst.... It first tries
// the initial types; if the body changes them, it infers again with the
// join of initial and changed types, which holds for every iteration.
func (r *inferer) loopBody(body *Graph, sc *scope, ins []Type, first, n, outFirst int) []Type {
	var outs []Type
	errs, types := r.hold(func() { outs = r.graph(body, sc, ins) })
	stable := true
	for k := range n {
		if outFirst+k < len(outs) && !sameType(outs[outFirst+k], ins[first+k]) {
			stable = false
		}
	}
	if stable {
		r.release(errs, types)
		return outs
	}
	gen := append([]Type(nil), ins...)
	for k := range n {
		if outFirst+k < len(outs) {
			if j, ok := joinTypes(ins[first+k], outs[outFirst+k]); ok {
				gen[first+k] = j
			}
		}
	}
	return r.graph(body, sc, gen)
}

func inferIf(c *nodeCtx) {
	if dt := c.dtype(0); dt != tensor.Undefined && dt != tensor.Bool {
		c.errorf("condition %s is not bool", c.desc(0))
	}
	thenG, elseG := c.attrs.RequireGraph("then_branch"), c.attrs.RequireGraph("else_branch")
	if thenG == nil || elseG == nil {
		return
	}
	a := c.r.graph(thenG, c.sc, nil)
	b := c.r.graph(elseG, c.sc, nil)
	if len(a) != len(b) || len(a) != len(c.out) {
		c.errorf("then_branch has %d outputs and else_branch %d, for %d node outputs", len(a), len(b), len(c.out))
		return
	}
	for i := range c.out {
		t, ok := joinTypes(a[i], b[i])
		if !ok {
			c.errorf("output %d is %v in then_branch but %v in else_branch", i, a[i], b[i])
			continue
		}
		c.set(i, t)
	}
}

func inferLoop(c *nodeCtx) {
	body := c.attrs.RequireGraph("body")
	if body == nil {
		return
	}
	n := max(len(c.in)-2, 0)
	if len(body.Inputs) != n+2 || len(body.Outputs) < n+1 {
		c.errorf("body has %d inputs and %d outputs, want %d and at least %d for %d loop-carried values", len(body.Inputs), len(body.Outputs), n+2, n+1, n)
		return
	}
	for i, want := range []tensor.DType{tensor.Int64, tensor.Bool} {
		if dt := c.dtype(i); dt != tensor.Undefined && dt != want {
			c.errorf("%s is not %v", c.desc(i), want)
		}
	}
	ins := make([]Type, n+2)
	ins[0] = TensorType(tensor.Int64, Shape{})
	ins[1] = TensorType(tensor.Bool, Shape{})
	for k := range n {
		ins[2+k] = c.typ(2 + k)
	}
	outs := c.r.loopBody(body, c.sc, ins, 2, n, 1)
	for k := range n {
		t, ok := joinTypes(ins[2+k], outs[1+k])
		if !ok && ins[2+k].Kind == OptionalKind && ins[2+k].Elem != nil {
			// An optional initial value the body turns into its element
			// type (as test_loop16_seq_none does): the loop yields the
			// body's type.
			if _, ok = joinTypes(*ins[2+k].Elem, outs[1+k]); ok {
				t = outs[1+k]
			}
		}
		if !ok {
			c.errorf("loop-carried value %d enters as %v but the body returns %v", k, ins[2+k], outs[1+k])
			continue
		}
		c.set(k, t)
	}
	for j := n; j < len(c.out) && 1+j < len(outs); j++ {
		c.set(j, scanOutput(outs[1+j], unknownDim, 0))
	}
}

// scanOutput returns the type of the stacked outputs of a loop whose body
// output is t: a tensor with the iteration count inserted at axis.
func scanOutput(t Type, n Dim, axis int64) Type {
	if t.Kind != TensorKind {
		return Type{Kind: TensorKind, DType: t.DType}
	}
	if t.Shape == nil {
		return TensorType(t.DType, nil)
	}
	r := int64(len(t.Shape) + 1)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return TensorType(t.DType, nil)
	}
	s := make(Shape, 0, r)
	s = append(s, t.Shape[:axis]...)
	s = append(s, n)
	s = append(s, t.Shape[axis:]...)
	return TensorType(t.DType, s)
}

func inferScan(c *nodeCtx) {
	body := c.attrs.RequireGraph("body")
	m := int(c.attrs.RequireInt("num_scan_inputs"))
	if body == nil {
		return
	}
	if c.opset < 9 {
		inferScan8(c, body, m)
		return
	}
	n := len(c.in) - m
	if m <= 0 || n < 0 || len(body.Inputs) != n+m || len(body.Outputs) < n {
		c.errorf("body has %d inputs and %d outputs, which do not fit %d inputs with %d scanned", len(body.Inputs), len(body.Outputs), len(c.in), m)
		return
	}
	inAxes := c.attrs.Ints("scan_input_axes", make([]int64, m))
	outAxes := c.attrs.Ints("scan_output_axes", make([]int64, len(body.Outputs)-n))
	if len(inAxes) != m || len(outAxes) != len(body.Outputs)-n {
		c.errorf("scan_input_axes %v or scan_output_axes %v has the wrong length", inAxes, outAxes)
		return
	}
	ins := make([]Type, n+m)
	for k := range n {
		ins[k] = c.typ(k)
	}
	seq := unknownDim
	first := true
	for j := range m {
		t := c.typ(n + j)
		ins[n+j] = TensorType(t.DType, nil)
		if t.Shape == nil {
			first = false
			continue
		}
		ax, ok := c.axis("scan_input_axes", inAxes[j], len(t.Shape))
		if !ok {
			return
		}
		d := t.Shape[ax]
		switch {
		case first:
			seq = d
		case conflict(seq, d):
			c.errorf("scan input %s has %v iterations, want %v", c.desc(n+j), d, seq)
			return
		case !sameDim(seq, d):
			seq = unify(seq, d)
		}
		first = false
		ins[n+j] = TensorType(t.DType, append(copyShape(t.Shape[:ax]), t.Shape[ax+1:]...))
	}
	outs := c.r.loopBody(body, c.sc, ins, 0, n, 0)
	for k := range n {
		t, _ := joinTypes(ins[k], outs[k])
		c.set(k, t)
	}
	for j := n; j < len(c.out) && j < len(outs); j++ {
		c.set(j, scanOutput(outs[j], seq, outAxes[j-n]))
	}
}

// inferScan8 handles Scan-8, whose inputs and outputs have a batch axis
// (0) before the scanned axis (1), after an optional sequence_lens input.
func inferScan8(c *nodeCtx, body *Graph, m int) {
	n := len(c.in) - 1 - m
	if m <= 0 || n < 0 || len(body.Inputs) != n+m || len(body.Outputs) < n {
		c.errorf("body has %d inputs and %d outputs, which do not fit %d inputs with %d scanned", len(body.Inputs), len(body.Outputs), len(c.in), m)
		return
	}
	batch, seq := unknownDim, unknownDim
	drop := func(t Type, k int) Type {
		if t.Shape == nil || len(t.Shape) < k {
			return TensorType(t.DType, nil)
		}
		return TensorType(t.DType, copyShape(t.Shape[k:]))
	}
	ins := make([]Type, n+m)
	for k := range n {
		t := c.typ(1 + k)
		if len(t.Shape) > 0 {
			batch = unify(batch, t.Shape[0])
		}
		ins[k] = drop(t, 1)
	}
	for j := range m {
		t := c.typ(1 + n + j)
		if len(t.Shape) > 1 {
			batch = unify(batch, t.Shape[0])
			seq = unify(seq, t.Shape[1])
		}
		ins[n+j] = drop(t, 2)
	}
	outs := c.r.loopBody(body, c.sc, ins, 0, n, 0)
	add := func(t Type, dims ...Dim) Type {
		if t.Kind != TensorKind || t.Shape == nil {
			return TensorType(t.DType, nil)
		}
		return TensorType(t.DType, append(append(Shape{}, dims...), t.Shape...))
	}
	for k := range n {
		t, _ := joinTypes(ins[k], outs[k])
		c.set(k, add(t, batch))
	}
	for j := n; j < len(c.out) && j < len(outs); j++ {
		c.set(j, add(outs[j], batch, seq))
	}
}

func inferSequenceMap(c *nodeCtx) {
	body := c.attrs.RequireGraph("body")
	if body == nil {
		return
	}
	if len(body.Inputs) != len(c.in) || len(body.Outputs) != len(c.out) {
		c.errorf("body has %d inputs and %d outputs for %d node inputs and %d outputs", len(body.Inputs), len(body.Outputs), len(c.in), len(c.out))
		return
	}
	ins := make([]Type, len(c.in))
	for i := range c.in {
		t := c.typ(i)
		if t.Kind == SequenceKind {
			if t.Elem != nil {
				ins[i] = *t.Elem
			}
		} else if i == 0 {
			c.errorf("%s is not a sequence", c.desc(0))
			return
		} else {
			ins[i] = t
		}
	}
	outs := c.r.graph(body, c.sc, ins)
	for i, t := range outs {
		e := t
		c.set(i, Type{Kind: SequenceKind, Elem: &e})
	}
}

// seqOf returns the sequence type of elements of type e.
func seqOf(e Type) Type { return Type{Kind: SequenceKind, Elem: &e} }

// seqElem returns the element type of a sequence input, unknown if not
// known.
func (c *nodeCtx) seqElem(i int) Type {
	t := c.typ(i)
	if t.Kind == SequenceKind && t.Elem != nil {
		return *t.Elem
	}
	if t.Kind != UnknownKind && t.Kind != SequenceKind {
		c.errorf("%s is not a sequence", c.desc(i))
	}
	return Type{}
}

func inferSequenceEmpty(c *nodeCtx) {
	dt := tensor.DType(c.attrs.Int("dtype", int64(tensor.Float32)))
	c.set(0, seqOf(TensorType(dt, nil)))
}

func inferSequenceConstruct(c *nodeCtx) {
	var e Type
	for i := range c.in {
		if i == 0 {
			e = c.typ(0)
			continue
		}
		j, ok := joinTypes(e, c.typ(i))
		if !ok {
			c.errorf("%s differs in type from the first input %v", c.desc(i), e)
			return
		}
		e = j
	}
	c.set(0, seqOf(e))
}

func inferSequenceInsert(c *nodeCtx) {
	e := c.seqElem(0)
	j, ok := joinTypes(e, c.typ(1))
	if !ok {
		c.errorf("cannot insert %s into a sequence of %v", c.desc(1), e)
		return
	}
	c.set(0, seqOf(j))
}

func inferSequenceAt(c *nodeCtx) {
	if e := c.seqElem(0); e.Kind != UnknownKind {
		c.set(0, e)
	}
}

func inferSequenceErase(c *nodeCtx) {
	if t := c.typ(0); t.Kind != UnknownKind {
		c.seqElem(0)
		c.set(0, t)
	}
}

func inferSequenceLength(c *nodeCtx) {
	c.seqElem(0)
	c.setTensor(0, tensor.Int64, Shape{})
}

func inferSplitToSequence(c *nodeCtx) {
	x := c.shape(0)
	dt := c.dtype(0)
	if x == nil {
		c.set(0, seqOf(TensorType(dt, nil)))
		return
	}
	axis, ok := c.axis("axis", c.attrs.Int("axis", 0), len(x))
	if !ok {
		return
	}
	e := copyShape(x)
	switch {
	case !c.has(1):
		if c.attrs.Int("keepdims", 1) == 0 {
			e = append(e[:axis:axis], x[axis+1:]...)
		} else {
			e[axis] = dimOf(1)
		}
	default:
		e[axis] = unknownDim
		if s, ok := c.scalarInt(1); ok && len(c.shape(1)) == 0 && x[axis].Known() && s > 0 && x[axis].Value%s == 0 {
			e[axis] = dimOf(s)
		}
	}
	c.set(0, seqOf(TensorType(dt, e)))
}

func inferConcatFromSequence(c *nodeCtx) {
	e := c.seqElem(0)
	if e.Kind == UnknownKind {
		return
	}
	if e.Shape == nil {
		c.setTensor(0, e.DType, nil)
		return
	}
	newAxis := c.attrs.Int("new_axis", 0) != 0
	r := len(e.Shape)
	if newAxis {
		r++
	}
	axis, ok := c.axis("axis", c.attrs.RequireInt("axis"), r)
	if !ok {
		return
	}
	out := copyShape(e.Shape)
	if newAxis {
		out = append(out[:axis:axis], append(Shape{unknownDim}, e.Shape[axis:]...)...)
	} else {
		out[axis] = unknownDim
	}
	c.setTensor(0, e.DType, out)
}

func inferOptional(c *nodeCtx) {
	var e Type
	if c.has(0) {
		e = c.typ(0)
	} else if a := c.n.Attr("type"); a != nil && a.TP != nil {
		e = *a.TP
	}
	c.set(0, Type{Kind: OptionalKind, Elem: &e})
}

func inferOptionalHasElement(c *nodeCtx) {
	c.setTensor(0, tensor.Bool, Shape{})
}

func inferOptionalGetElement(c *nodeCtx) {
	t := c.typ(0)
	switch t.Kind {
	case OptionalKind:
		if t.Elem != nil {
			c.set(0, *t.Elem)
		}
	case UnknownKind:
	default:
		c.set(0, t) // opset 18 passes tensors and sequences through
	}
}
