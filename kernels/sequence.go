package kernels

import (
	"fmt"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Sequence ops. A *tensor.Sequence is a value like a tensor: these kernels
// never change the sequence they are given but build a new one, sharing
// the (immutable) element tensors.

func init() {
	register("SequenceEmpty", newSequenceEmpty)
	register("SequenceConstruct", newSequenceConstruct)
	register("SequenceInsert", newSequenceInsert)
	register("SequenceAt", newSequenceAt)
	register("SequenceErase", newSequenceErase)
	register("SequenceLength", newSequenceLength)
	register("ConcatFromSequence", newConcatFromSequence)
	register("SplitToSequence", newSplitToSequence)
	register("SequenceMap", newSequenceMap)
}

// ctlValueFunc adapts a function to ValueKernel.
type ctlValueFunc func(c *Context, in []any) ([]any, error)

func (f ctlValueFunc) RunValues(c *Context, in []any) ([]any, error) { return f(c, in) }

// ctlSeq returns in[i] as a sequence.
func ctlSeq(in []any, i int, what string) (*tensor.Sequence, error) {
	var v any
	if i < len(in) {
		v = in[i]
	}
	s, ok := v.(*tensor.Sequence)
	if !ok || s == nil {
		return nil, fmt.Errorf("input %s is %s, want a sequence", what, ctlKind(v))
	}
	return s, nil
}

// ctlTensor returns in[i] as a tensor; optional inputs may be missing (nil).
func ctlTensor(in []any, i int, what string, optional bool) (*tensor.Tensor, error) {
	var v any
	if i < len(in) {
		v = in[i]
	}
	if v == nil {
		if optional {
			return nil, nil
		}
		return nil, fmt.Errorf("input %s is missing", what)
	}
	t, ok := v.(*tensor.Tensor)
	if !ok || t == nil {
		return nil, fmt.Errorf("input %s is %s, want a tensor", what, ctlKind(v))
	}
	return t, nil
}

// ctlPosition reads a scalar position input (int32 or int64) and maps it
// into [0, n) (or [0, n] when end is allowed, for inserts).
func ctlPosition(t *tensor.Tensor, n int, end bool) (int, error) {
	if t.DType != tensor.Int32 && t.DType != tensor.Int64 {
		return 0, fmt.Errorf("input position is %v, want int32 or int64", t)
	}
	if len(t.Shape) != 0 && t.Len() != 1 {
		return 0, fmt.Errorf("input position has shape %v, want a scalar", tensor.ShapeString(t.Shape))
	}
	p64, err := ctlInt(t, "input position")
	if err != nil {
		return 0, err
	}
	hi := int64(n) - 1
	if end {
		hi = int64(n)
	}
	if p64 < -int64(n) || p64 > hi {
		return 0, fmt.Errorf("position %d is out of range [%d, %d] for a sequence of %d tensors", p64, -n, hi, n)
	}
	if p64 < 0 {
		p64 += int64(n)
	}
	return int(p64), nil
}

// ctlElemType is the element type a sequence should have: its own, or that
// of its first tensor.
func ctlElemType(s *tensor.Sequence) tensor.DType {
	if s.ElemType != tensor.Undefined {
		return s.ElemType
	}
	if len(s.Tensors) > 0 {
		return s.Tensors[0].DType
	}
	return tensor.Undefined
}

func newSequenceEmpty(b *Build) (any, error) {
	a := b.Attrs()
	dt := tensor.DType(a.Int("dtype", int64(tensor.Float32)))
	if err := a.Err(); err != nil {
		return nil, err
	}
	if !dt.Valid() {
		return nil, fmt.Errorf("attribute dtype = %d is not a tensor element type", int(dt))
	}
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		return []any{&tensor.Sequence{ElemType: dt}}, nil
	}), nil
}

func newSequenceConstruct(b *Build) (any, error) {
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		if len(in) == 0 {
			return nil, fmt.Errorf("SequenceConstruct needs at least one input")
		}
		s := &tensor.Sequence{Tensors: make([]*tensor.Tensor, len(in))}
		for i := range in {
			t, err := ctlTensor(in, i, fmt.Sprint(i), false)
			if err != nil {
				return nil, err
			}
			if i == 0 {
				s.ElemType = t.DType
			} else if t.DType != s.ElemType {
				return nil, fmt.Errorf("input %d is %v, input 0 is %v; all inputs must have the same element type", i, t, s.Tensors[0])
			}
			s.Tensors[i] = t
		}
		return []any{s}, nil
	}), nil
}

func newSequenceInsert(b *Build) (any, error) {
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		s, err := ctlSeq(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		t, err := ctlTensor(in, 1, "tensor", false)
		if err != nil {
			return nil, err
		}
		pt, err := ctlTensor(in, 2, "position", true)
		if err != nil {
			return nil, err
		}
		et := ctlElemType(s)
		if et != tensor.Undefined && t.DType != et {
			return nil, fmt.Errorf("cannot insert %v into a sequence of %v", t, et)
		}
		n := len(s.Tensors)
		pos := n
		if pt != nil {
			if pos, err = ctlPosition(pt, n, true); err != nil {
				return nil, err
			}
		}
		ts := make([]*tensor.Tensor, 0, n+1)
		ts = append(ts, s.Tensors[:pos]...)
		ts = append(ts, t)
		ts = append(ts, s.Tensors[pos:]...)
		return []any{&tensor.Sequence{ElemType: t.DType, Tensors: ts}}, nil
	}), nil
}

func newSequenceAt(b *Build) (any, error) {
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		s, err := ctlSeq(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		pt, err := ctlTensor(in, 1, "position", false)
		if err != nil {
			return nil, err
		}
		pos, err := ctlPosition(pt, len(s.Tensors), false)
		if err != nil {
			return nil, err
		}
		return []any{s.Tensors[pos]}, nil
	}), nil
}

func newSequenceErase(b *Build) (any, error) {
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		s, err := ctlSeq(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		pt, err := ctlTensor(in, 1, "position", true)
		if err != nil {
			return nil, err
		}
		n := len(s.Tensors)
		if n == 0 {
			return nil, fmt.Errorf("cannot erase from an empty sequence")
		}
		pos := n - 1
		if pt != nil {
			if pos, err = ctlPosition(pt, n, false); err != nil {
				return nil, err
			}
		}
		ts := make([]*tensor.Tensor, 0, n-1)
		ts = append(ts, s.Tensors[:pos]...)
		ts = append(ts, s.Tensors[pos+1:]...)
		return []any{&tensor.Sequence{ElemType: ctlElemType(s), Tensors: ts}}, nil
	}), nil
}

func newSequenceLength(b *Build) (any, error) {
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		s, err := ctlSeq(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		out := c.Alloc(tensor.Int64)
		out.Data.([]int64)[0] = int64(len(s.Tensors))
		return []any{out}, nil
	}), nil
}

func newConcatFromSequence(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.RequireInt("axis")
	newAxis := a.Int("new_axis", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if newAxis != 0 && newAxis != 1 {
		return nil, fmt.Errorf("attribute new_axis = %d, want 0 or 1", newAxis)
	}
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		s, err := ctlSeq(in, 0, "input_sequence")
		if err != nil {
			return nil, err
		}
		if len(s.Tensors) == 0 {
			return nil, fmt.Errorf("input sequence is empty; there is nothing to concatenate")
		}
		first := s.Tensors[0]
		r := len(first.Shape)
		outRank := r
		if newAxis == 1 {
			outRank = r + 1
		}
		ax, err := NormAxis(axis, outRank)
		if err != nil {
			return nil, err
		}
		if newAxis == 0 && r == 0 {
			return nil, fmt.Errorf("cannot concatenate scalars without new_axis = 1")
		}
		total := 0
		for i, t := range s.Tensors {
			if t.DType != first.DType {
				return nil, fmt.Errorf("sequence element %d is %v, element 0 is %v", i, t, first)
			}
			if len(t.Shape) != r {
				return nil, fmt.Errorf("sequence element %d has shape %v, element 0 has %v; ranks must match", i, tensor.ShapeString(t.Shape), tensor.ShapeString(first.Shape))
			}
			for d := range r {
				if (newAxis == 1 || d != ax) && t.Shape[d] != first.Shape[d] {
					return nil, fmt.Errorf("sequence element %d has shape %v, element 0 has %v; they may differ only on axis %d", i, tensor.ShapeString(t.Shape), tensor.ShapeString(first.Shape), ax)
				}
			}
			if newAxis == 1 {
				total++
			} else {
				total += t.Shape[ax]
			}
		}
		var shape []int
		if newAxis == 1 {
			shape = append(shape, first.Shape[:ax]...)
			shape = append(shape, total)
			shape = append(shape, first.Shape[ax:]...)
		} else {
			shape = append([]int(nil), first.Shape...)
			shape[ax] = total
		}
		out := c.Alloc(first.DType, shape...)
		outer := tensor.NumElements(shape[:ax])
		row := tensor.NumElements(shape[ax:]) // elements per outer index in out
		off := 0
		for _, t := range s.Tensors {
			block := t.Len() // elements per outer index in t
			if outer > 0 {
				block /= outer
			}
			cp, err := ctlCopier(out.Data, t.Data)
			if err != nil {
				return nil, err
			}
			for o := range outer {
				cp(o*row+off, o*block, block)
			}
			off += block
		}
		return []any{out}, nil
	}), nil
}

func newSplitToSequence(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", 0)
	keep := a.Int("keepdims", 1)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if keep != 0 && keep != 1 {
		return nil, fmt.Errorf("attribute keepdims = %d, want 0 or 1", keep)
	}
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		x, err := ctlTensor(in, 0, "input", false)
		if err != nil {
			return nil, err
		}
		st, err := ctlTensor(in, 1, "split", true)
		if err != nil {
			return nil, err
		}
		if len(x.Shape) == 0 {
			return nil, fmt.Errorf("input is a scalar; there is no axis to split")
		}
		ax, err := NormAxis(axis, len(x.Shape))
		if err != nil {
			return nil, err
		}
		dim := x.Shape[ax]
		var lens []int
		squeeze := false
		switch {
		case st == nil:
			lens = make([]int, dim)
			for i := range lens {
				lens[i] = 1
			}
			squeeze = keep == 0
		case len(st.Shape) == 0:
			n, err := ctlInt(st, "input split")
			if err != nil {
				return nil, err
			}
			if n <= 0 {
				return nil, fmt.Errorf("split = %d, want a positive chunk size", n)
			}
			for at := 0; at < dim; at += int(n) {
				lens = append(lens, min(int(n), dim-at))
			}
		case len(st.Shape) == 1:
			v, err := Int64s(st)
			if err != nil {
				return nil, fmt.Errorf("input split: %w", err)
			}
			sum := int64(0)
			for i, l := range v {
				if l < 0 {
					return nil, fmt.Errorf("split[%d] = %d, want ≥ 0", i, l)
				}
				sum += l
				lens = append(lens, int(l))
			}
			if sum != int64(dim) {
				return nil, fmt.Errorf("split %v sums to %d, but axis %d of input %v has %d", v, sum, ax, x, dim)
			}
		default:
			return nil, fmt.Errorf("input split has shape %v, want a scalar or 1-D", tensor.ShapeString(st.Shape))
		}
		outer := tensor.NumElements(x.Shape[:ax])
		inner := tensor.NumElements(x.Shape[ax+1:])
		seq := &tensor.Sequence{ElemType: x.DType, Tensors: make([]*tensor.Tensor, 0, len(lens))}
		start := 0
		for _, l := range lens {
			shape := append([]int(nil), x.Shape...)
			shape[ax] = l
			if squeeze {
				shape = append(shape[:ax], shape[ax+1:]...)
			}
			t := c.Alloc(x.DType, shape...)
			cp, err := ctlCopier(t.Data, x.Data)
			if err != nil {
				return nil, err
			}
			for o := range outer {
				cp(o*l*inner, (o*dim+start)*inner, l*inner)
			}
			seq.Tensors = append(seq.Tensors, t)
			start += l
		}
		return []any{seq}, nil
	}), nil
}

// ---- SequenceMap ----

type ctlSequenceMap struct {
	body     Subgraph
	nout     int
	outTypes []ir.Type
}

func newSequenceMap(b *Build) (any, error) {
	a := b.Attrs()
	g := a.RequireGraph("body")
	if err := a.Err(); err != nil {
		return nil, err
	}
	body, err := ctlCompile(b, "body", g)
	if err != nil {
		return nil, err
	}
	if body.NumInputs() != len(b.Node.Inputs) {
		return nil, fmt.Errorf("body has %d inputs, the node %d; want the same number", body.NumInputs(), len(b.Node.Inputs))
	}
	if body.NumOutputs() < len(b.Node.Outputs) {
		return nil, fmt.Errorf("body has %d outputs, the node %d", body.NumOutputs(), len(b.Node.Outputs))
	}
	k := &ctlSequenceMap{body: body, nout: len(b.Node.Outputs), outTypes: ctlScanTypes(b, g, 0, 0)}
	for j := range k.outTypes {
		// An unknown body output type: take the node's sequence element type.
		if k.outTypes[j].Kind != ir.TensorKind && j < len(b.OutputTypes) {
			if ot := b.OutputTypes[j]; ot.Kind == ir.SequenceKind && ot.Elem != nil && ot.Elem.Kind == ir.TensorKind {
				k.outTypes[j] = *ot.Elem
			}
		}
	}
	return k, nil
}

func (k *ctlSequenceMap) RunValues(c *Context, in []any) ([]any, error) {
	first, err := ctlSeq(in, 0, "input_sequence")
	if err != nil {
		return nil, err
	}
	n := len(first.Tensors)
	seqs := make([]*tensor.Sequence, len(in))
	for i, v := range in {
		switch x := v.(type) {
		case *tensor.Sequence:
			if len(x.Tensors) != n {
				return nil, fmt.Errorf("input %d is a sequence of %d tensors, input 0 of %d; sequences must have the same length", i, len(x.Tensors), n)
			}
			seqs[i] = x
		case *tensor.Tensor:
		default:
			return nil, fmt.Errorf("input %d is %s, want a sequence or a tensor", i, ctlKind(v))
		}
	}
	outs := make([]*tensor.Sequence, k.nout)
	for j := range outs {
		dt := tensor.Undefined
		if t := k.outTypes[j]; t.Kind == ir.TensorKind {
			dt = t.DType
		}
		outs[j] = &tensor.Sequence{ElemType: dt, Tensors: make([]*tensor.Tensor, 0, n)}
	}
	args := make([]any, len(in))
	for e := range n {
		if err := ctlCtxErr(c); err != nil {
			return nil, err
		}
		for i, v := range in {
			if seqs[i] != nil {
				args[i] = seqs[i].Tensors[e]
			} else {
				args[i] = v
			}
		}
		res, err := k.body.Run(c, args)
		if err != nil {
			return nil, fmt.Errorf("body, element %d: %w", e, err)
		}
		for j := range outs {
			t, ok := res[j].(*tensor.Tensor)
			if !ok || t == nil {
				return nil, fmt.Errorf("element %d: body output %d is %s, want a tensor", e, j, ctlKind(res[j]))
			}
			if e == 0 {
				outs[j].ElemType = t.DType
			} else if t.DType != outs[j].ElemType {
				return nil, fmt.Errorf("element %d: body output %d is %v, element 0 gave %v", e, j, t, outs[j].Tensors[0])
			}
			outs[j].Tensors = append(outs[j].Tensors, t)
		}
	}
	res := make([]any, k.nout)
	for j, s := range outs {
		if s.ElemType == tensor.Undefined {
			s.ElemType = tensor.Float32
		}
		res[j] = s
	}
	return res, nil
}
