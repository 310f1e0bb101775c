package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Control flow: If, Loop and Scan. Each compiles its graph attributes once,
// in the factory, and runs them through the engine's Subgraph; values the
// bodies capture from enclosing graphs reach them through Context.Scope.

func init() {
	register("If", newIf)
	register("Loop", newLoop)
	Default.Register(Spec{Op: "Scan", Since: 8, Until: 8, New: newScan8})
	Default.Register(Spec{Op: "Scan", Since: 9, New: newScan9})
}

// ctlCompile compiles the graph attribute g of the node being built.
func ctlCompile(b *Build, attr string, g *ir.Graph) (Subgraph, error) {
	if b.Compile == nil {
		return nil, fmt.Errorf("attribute %q: the engine gave no subgraph compiler", attr)
	}
	sg, err := b.Compile(g)
	if err != nil {
		return nil, fmt.Errorf("attribute %q: %w", attr, err)
	}
	return sg, nil
}

// ctlCtxErr reports the cancellation of the run, if any.
func ctlCtxErr(c *Context) error {
	if c == nil || c.Ctx == nil {
		return nil
	}
	return c.Ctx.Err()
}

// ctlBool reads a boolean condition: a bool tensor with exactly one element.
func ctlBool(v any, what string) (bool, error) {
	t, ok := v.(*tensor.Tensor)
	if !ok || t == nil {
		return false, fmt.Errorf("%s is %s, want a bool tensor", what, ctlKind(v))
	}
	b, ok := t.Data.([]bool)
	if !ok {
		return false, fmt.Errorf("%s is %v, want bool", what, t)
	}
	if len(b) != 1 {
		return false, fmt.Errorf("%s has shape %v, want a single element", what, tensor.ShapeString(t.Shape))
	}
	return b[0], nil
}

// ctlInt reads an integer scalar (a tensor with exactly one element).
func ctlInt(v any, what string) (int64, error) {
	t, ok := v.(*tensor.Tensor)
	if !ok || t == nil {
		return 0, fmt.Errorf("%s is %s, want an integer tensor", what, ctlKind(v))
	}
	if t.Len() != 1 {
		return 0, fmt.Errorf("%s has shape %v, want a single element", what, tensor.ShapeString(t.Shape))
	}
	vals, err := Int64s(t)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return vals[0], nil
}

// ctlKind names the kind of an ONNX value for error messages.
func ctlKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "missing"
	case *tensor.Tensor:
		if x == nil {
			return "missing"
		}
		return "a tensor " + x.String()
	case *tensor.Sequence:
		return "a sequence"
	case *tensor.Optional:
		return "an optional"
	case *tensor.Map:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}

// ctlScanTypes returns the declared per-iteration types of a body's scan
// outputs (g's outputs from first on), used only when a loop runs no
// iteration. Where the body leaves an element type unknown it is taken
// from the node's own output (node outputs from nodeFirst on).
func ctlScanTypes(b *Build, g *ir.Graph, first, nodeFirst int) []ir.Type {
	var out []ir.Type
	for i := first; i < len(g.Outputs); i++ {
		t := g.Outputs[i].Type
		if t.Kind == ir.UnknownKind || (t.Kind == ir.TensorKind && !t.DType.Valid()) {
			if j := nodeFirst + i - first; j < len(b.OutputTypes) && b.OutputTypes[j].Kind == ir.TensorKind && b.OutputTypes[j].DType.Valid() {
				t = ir.Type{Kind: ir.TensorKind, DType: b.OutputTypes[j].DType}
			}
		}
		out = append(out, t)
	}
	return out
}

// ctlEmptyScan returns the scan output of a loop that ran no iteration:
// its element type and per-iteration shape come from the body's declared
// output type where known (float32 and [] otherwise), with a 0-length axis
// inserted at axis (clamped to the known rank).
func ctlEmptyScan(c *Context, t ir.Type, axis int) *tensor.Tensor {
	dt := t.DType
	if t.Kind != ir.TensorKind || !dt.Valid() {
		dt = tensor.Float32
	}
	elem, ok := t.Shape.Static()
	if t.Kind != ir.TensorKind || !ok {
		elem = nil
	}
	if axis < 0 {
		axis += len(elem) + 1
	}
	axis = max(0, min(axis, len(elem)))
	shape := make([]int, 0, len(elem)+1)
	shape = append(shape, elem[:axis]...)
	shape = append(shape, 0)
	shape = append(shape, elem[axis:]...)
	return c.Alloc(dt, shape...)
}

// ctlCopier returns copy(dst[i:i+n], src[j:j+n]) for two storage slices of
// the same element type.
func ctlCopier(dst, src any) (func(i, j, n int), error) {
	if tensor.DTypeOfSlice(dst) != tensor.DTypeOfSlice(src) || tensor.DTypeOfSlice(dst) == tensor.Undefined {
		return nil, fmt.Errorf("cannot copy %T into %T", src, dst)
	}
	switch d := dst.(type) {
	case []float32:
		return ctlCopyFn(d, src.([]float32)), nil
	case []float64:
		return ctlCopyFn(d, src.([]float64)), nil
	case []int8:
		return ctlCopyFn(d, src.([]int8)), nil
	case []int16:
		return ctlCopyFn(d, src.([]int16)), nil
	case []int32:
		return ctlCopyFn(d, src.([]int32)), nil
	case []int64:
		return ctlCopyFn(d, src.([]int64)), nil
	case []uint8:
		return ctlCopyFn(d, src.([]uint8)), nil
	case []uint16:
		return ctlCopyFn(d, src.([]uint16)), nil
	case []uint32:
		return ctlCopyFn(d, src.([]uint32)), nil
	case []uint64:
		return ctlCopyFn(d, src.([]uint64)), nil
	case []bool:
		return ctlCopyFn(d, src.([]bool)), nil
	case []string:
		return ctlCopyFn(d, src.([]string)), nil
	case []tensor.F16:
		return ctlCopyFn(d, src.([]tensor.F16)), nil
	case []tensor.BF16:
		return ctlCopyFn(d, src.([]tensor.BF16)), nil
	case []complex64:
		return ctlCopyFn(d, src.([]complex64)), nil
	case []complex128:
		return ctlCopyFn(d, src.([]complex128)), nil
	case []tensor.F8E4M3FN:
		return ctlCopyFn(d, src.([]tensor.F8E4M3FN)), nil
	case []tensor.F8E4M3FNUZ:
		return ctlCopyFn(d, src.([]tensor.F8E4M3FNUZ)), nil
	case []tensor.F8E5M2:
		return ctlCopyFn(d, src.([]tensor.F8E5M2)), nil
	case []tensor.F8E5M2FNUZ:
		return ctlCopyFn(d, src.([]tensor.F8E5M2FNUZ)), nil
	case []tensor.U4:
		return ctlCopyFn(d, src.([]tensor.U4)), nil
	case []tensor.I4:
		return ctlCopyFn(d, src.([]tensor.I4)), nil
	case []tensor.F4E2M1:
		return ctlCopyFn(d, src.([]tensor.F4E2M1)), nil
	}
	return nil, fmt.Errorf("cannot copy %T", src)
}

func ctlCopyFn[T any](d, s []T) func(i, j, n int) {
	return func(i, j, n int) { copy(d[i:i+n], s[j:j+n]) }
}

// ctlTake returns the sub-tensor of t at index idx along axis (that axis
// removed).
func ctlTake(c *Context, t *tensor.Tensor, axis, idx int) (*tensor.Tensor, error) {
	shape := make([]int, 0, len(t.Shape)-1)
	shape = append(shape, t.Shape[:axis]...)
	shape = append(shape, t.Shape[axis+1:]...)
	if axis == 0 {
		// A contiguous block: share it.
		inner := tensor.NumElements(shape)
		return &tensor.Tensor{DType: t.DType, Shape: shape, Data: ctlSubSlice(t.Data, idx*inner, (idx+1)*inner)}, nil
	}
	out := c.Alloc(t.DType, shape...)
	cp, err := ctlCopier(out.Data, t.Data)
	if err != nil {
		return nil, err
	}
	outer := tensor.NumElements(t.Shape[:axis])
	dim := t.Shape[axis]
	inner := tensor.NumElements(t.Shape[axis+1:])
	for o := range outer {
		cp(o*inner, (o*dim+idx)*inner, inner)
	}
	return out, nil
}

// ctlSubSlice returns s[lo:hi:hi] for a storage slice (capacity clipped so
// nobody can append into the rest).
func ctlSubSlice(s any, lo, hi int) any {
	switch v := s.(type) {
	case []float32:
		return v[lo:hi:hi]
	case []float64:
		return v[lo:hi:hi]
	case []int8:
		return v[lo:hi:hi]
	case []int16:
		return v[lo:hi:hi]
	case []int32:
		return v[lo:hi:hi]
	case []int64:
		return v[lo:hi:hi]
	case []uint8:
		return v[lo:hi:hi]
	case []uint16:
		return v[lo:hi:hi]
	case []uint32:
		return v[lo:hi:hi]
	case []uint64:
		return v[lo:hi:hi]
	case []bool:
		return v[lo:hi:hi]
	case []string:
		return v[lo:hi:hi]
	case []tensor.F16:
		return v[lo:hi:hi]
	case []tensor.BF16:
		return v[lo:hi:hi]
	case []complex64:
		return v[lo:hi:hi]
	case []complex128:
		return v[lo:hi:hi]
	case []tensor.F8E4M3FN:
		return v[lo:hi:hi]
	case []tensor.F8E4M3FNUZ:
		return v[lo:hi:hi]
	case []tensor.F8E5M2:
		return v[lo:hi:hi]
	case []tensor.F8E5M2FNUZ:
		return v[lo:hi:hi]
	case []tensor.U4:
		return v[lo:hi:hi]
	case []tensor.I4:
		return v[lo:hi:hi]
	case []tensor.F4E2M1:
		return v[lo:hi:hi]
	}
	panic(fmt.Sprintf("kernels: sub-slice of %T", s))
}

// ctlStack stacks parts (all of one type and shape) along a new axis:
// part i lands at position pos(i) of the new axis, whose length is n
// (positions no part fills stay zero). It returns an error naming what if
// the parts disagree.
func ctlStack(c *Context, parts []*tensor.Tensor, n, axis int, pos func(i int) int, what string) (*tensor.Tensor, error) {
	first := parts[0]
	for i, p := range parts {
		if p.DType != first.DType || !tensor.EqualShapes(p.Shape, first.Shape) {
			return nil, fmt.Errorf("%s: iteration %d gave %v, iteration 0 gave %v; scan outputs must keep their type and shape", what, i, p, first)
		}
	}
	r := len(first.Shape)
	if axis < 0 {
		axis += r + 1
	}
	if axis < 0 || axis > r {
		return nil, fmt.Errorf("%s: axis out of range for rank %d", what, r+1)
	}
	shape := make([]int, 0, r+1)
	shape = append(shape, first.Shape[:axis]...)
	shape = append(shape, n)
	shape = append(shape, first.Shape[axis:]...)
	out := c.Alloc(first.DType, shape...)
	outer := tensor.NumElements(first.Shape[:axis])
	inner := tensor.NumElements(first.Shape[axis:])
	for i, p := range parts {
		cp, err := ctlCopier(out.Data, p.Data)
		if err != nil {
			return nil, err
		}
		at := pos(i)
		for o := range outer {
			cp((o*n+at)*inner, o*inner, inner)
		}
	}
	return out, nil
}

// ---- If ----

type ctlIf struct {
	then, els Subgraph
	nout      int
}

func newIf(b *Build) (any, error) {
	a := b.Attrs()
	tg := a.RequireGraph("then_branch")
	eg := a.RequireGraph("else_branch")
	if err := a.Err(); err != nil {
		return nil, err
	}
	k := &ctlIf{nout: len(b.Node.Outputs)}
	var err error
	if k.then, err = ctlCompile(b, "then_branch", tg); err != nil {
		return nil, err
	}
	if k.els, err = ctlCompile(b, "else_branch", eg); err != nil {
		return nil, err
	}
	for _, br := range []struct {
		name string
		sg   Subgraph
	}{{"then_branch", k.then}, {"else_branch", k.els}} {
		if br.sg.NumInputs() != 0 {
			return nil, fmt.Errorf("%s has %d inputs, want none", br.name, br.sg.NumInputs())
		}
		if br.sg.NumOutputs() < k.nout {
			return nil, fmt.Errorf("%s has %d outputs, the node has %d", br.name, br.sg.NumOutputs(), k.nout)
		}
	}
	if k.then.NumOutputs() != k.els.NumOutputs() {
		return nil, fmt.Errorf("then_branch has %d outputs, else_branch %d; want the same number", k.then.NumOutputs(), k.els.NumOutputs())
	}
	return k, nil
}

func (k *ctlIf) RunValues(c *Context, in []any) ([]any, error) {
	if len(in) < 1 {
		return nil, fmt.Errorf("input cond is missing")
	}
	cond, err := ctlBool(in[0], "input cond")
	if err != nil {
		return nil, err
	}
	br, name := k.els, "else_branch"
	if cond {
		br, name = k.then, "then_branch"
	}
	out, err := br.Run(c, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out[:k.nout], nil
}

// ---- Loop ----

type ctlLoop struct {
	body      Subgraph
	nCarried  int
	nScan     int
	nout      int
	scanTypes []ir.Type
}

func newLoop(b *Build) (any, error) {
	a := b.Attrs()
	g := a.RequireGraph("body")
	if err := a.Err(); err != nil {
		return nil, err
	}
	if len(b.Node.Inputs) < 2 {
		return nil, fmt.Errorf("Loop has %d inputs, want at least 2 (M and cond, which may be empty names)", len(b.Node.Inputs))
	}
	body, err := ctlCompile(b, "body", g)
	if err != nil {
		return nil, err
	}
	k := &ctlLoop{body: body, nCarried: len(b.Node.Inputs) - 2, nout: len(b.Node.Outputs)}
	if body.NumInputs() != 2+k.nCarried {
		return nil, fmt.Errorf("body has %d inputs, want %d (iteration number, condition and %d loop-carried values)", body.NumInputs(), 2+k.nCarried, k.nCarried)
	}
	k.nScan = body.NumOutputs() - 1 - k.nCarried
	if k.nScan < 0 {
		return nil, fmt.Errorf("body has %d outputs, want at least %d (condition and %d loop-carried values)", body.NumOutputs(), 1+k.nCarried, k.nCarried)
	}
	if k.nout > k.nCarried+k.nScan {
		return nil, fmt.Errorf("Loop has %d outputs, its body gives only %d loop-carried values and %d scan outputs", k.nout, k.nCarried, k.nScan)
	}
	k.scanTypes = ctlScanTypes(b, g, 1+k.nCarried, k.nCarried)
	return k, nil
}

func (k *ctlLoop) RunValues(c *Context, in []any) ([]any, error) {
	if len(in) != 2+k.nCarried {
		return nil, fmt.Errorf("got %d inputs, want %d", len(in), 2+k.nCarried)
	}
	trips := int64(math.MaxInt64)
	if in[0] != nil {
		m, err := ctlInt(in[0], "input M")
		if err != nil {
			return nil, err
		}
		trips = m
	}
	cond := true
	if in[1] != nil {
		v, err := ctlBool(in[1], "input cond")
		if err != nil {
			return nil, err
		}
		cond = v
	}
	carried := append([]any(nil), in[2:]...)
	scans := make([][]*tensor.Tensor, k.nScan)
	args := make([]any, 2+k.nCarried)
	var i int64
	for ; i < trips && cond; i++ {
		if err := ctlCtxErr(c); err != nil {
			return nil, err
		}
		args[0] = tensor.Scalar(i)
		args[1] = tensor.Scalar(cond)
		copy(args[2:], carried)
		out, err := k.body.Run(c, args)
		if err != nil {
			return nil, fmt.Errorf("body, iteration %d: %w", i, err)
		}
		if cond, err = ctlBool(out[0], "body output 0 (condition)"); err != nil {
			return nil, fmt.Errorf("iteration %d: %w", i, err)
		}
		copy(carried, out[1:1+k.nCarried])
		for j := range k.nScan {
			t, ok := out[1+k.nCarried+j].(*tensor.Tensor)
			if !ok || t == nil {
				return nil, fmt.Errorf("iteration %d: scan output %d is %s; scan outputs must be tensors", i, j, ctlKind(out[1+k.nCarried+j]))
			}
			scans[j] = append(scans[j], t)
		}
	}
	res := make([]any, k.nout)
	copy(res, carried)
	for j := 0; j < k.nScan && k.nCarried+j < k.nout; j++ {
		var t *tensor.Tensor
		if len(scans[j]) == 0 {
			t = ctlEmptyScan(c, k.scanTypes[j], 0)
		} else {
			var err error
			t, err = ctlStack(c, scans[j], len(scans[j]), 0, func(i int) int { return i }, fmt.Sprintf("scan output %d", j))
			if err != nil {
				return nil, err
			}
		}
		res[k.nCarried+j] = t
	}
	return res, nil
}

// ---- Scan (opset 9 and later) ----

type ctlScan struct {
	body      Subgraph
	nState    int
	nIn       int
	nOut      int // scan outputs the body gives
	nout      int // node outputs
	inAxes    []int64
	inRev     []bool
	outAxes   []int64
	outRev    []bool
	scanTypes []ir.Type
}

// ctlFlags reads a list attribute of n entries (default all zero) whose
// values must be 0 or 1.
func ctlFlags(a *ir.AttrReader, name string, n int) []bool {
	v := a.Ints(name, nil)
	out := make([]bool, n)
	if v == nil {
		return out
	}
	if len(v) != n {
		a.Fail(fmt.Errorf("attribute %s has %d entries, want %d", name, len(v), n))
		return out
	}
	for i, x := range v {
		if x != 0 && x != 1 {
			a.Fail(fmt.Errorf("attribute %s[%d] = %d, want 0 (forward) or 1 (reverse)", name, i, x))
		}
		out[i] = x == 1
	}
	return out
}

func ctlAxes(a *ir.AttrReader, name string, n int) []int64 {
	v := a.Ints(name, nil)
	if v == nil {
		return make([]int64, n)
	}
	if len(v) != n {
		a.Fail(fmt.Errorf("attribute %s has %d entries, want %d", name, len(v), n))
	}
	return v
}

func newScan9(b *Build) (any, error) {
	a := b.Attrs()
	g := a.RequireGraph("body")
	m := a.RequireInt("num_scan_inputs")
	if err := a.Err(); err != nil {
		return nil, err
	}
	nin := len(b.Node.Inputs)
	if m < 1 || int(m) > nin {
		return nil, fmt.Errorf("num_scan_inputs = %d, want 1 to %d (the number of inputs)", m, nin)
	}
	k := &ctlScan{nIn: int(m), nState: nin - int(m), nout: len(b.Node.Outputs)}
	body, err := ctlCompile(b, "body", g)
	if err != nil {
		return nil, err
	}
	k.body = body
	if body.NumInputs() != nin {
		return nil, fmt.Errorf("body has %d inputs, want %d (%d state variables and %d scan inputs)", body.NumInputs(), nin, k.nState, k.nIn)
	}
	k.nOut = body.NumOutputs() - k.nState
	if k.nOut < 0 {
		return nil, fmt.Errorf("body has %d outputs, want at least the %d state variables", body.NumOutputs(), k.nState)
	}
	if k.nout > k.nState+k.nOut {
		return nil, fmt.Errorf("Scan has %d outputs, its body gives %d", k.nout, k.nState+k.nOut)
	}
	k.inAxes = ctlAxes(a, "scan_input_axes", k.nIn)
	k.inRev = ctlFlags(a, "scan_input_directions", k.nIn)
	k.outAxes = ctlAxes(a, "scan_output_axes", k.nOut)
	k.outRev = ctlFlags(a, "scan_output_directions", k.nOut)
	if err := a.Err(); err != nil {
		return nil, err
	}
	k.scanTypes = ctlScanTypes(b, g, k.nState, k.nState)
	return k, nil
}

func (k *ctlScan) RunValues(c *Context, in []any) ([]any, error) {
	if len(in) != k.nState+k.nIn {
		return nil, fmt.Errorf("got %d inputs, want %d", len(in), k.nState+k.nIn)
	}
	state := append([]any(nil), in[:k.nState]...)
	scanIn := make([]*tensor.Tensor, k.nIn)
	axes := make([]int, k.nIn)
	steps := -1
	for j := range k.nIn {
		v := in[k.nState+j]
		t, ok := v.(*tensor.Tensor)
		if !ok || t == nil {
			return nil, fmt.Errorf("scan input %d is %s, want a tensor", j, ctlKind(v))
		}
		ax, err := NormAxis(k.inAxes[j], len(t.Shape))
		if err != nil {
			return nil, fmt.Errorf("scan_input_axes[%d]: %w", j, err)
		}
		if steps >= 0 && t.Shape[ax] != steps {
			return nil, fmt.Errorf("scan input %d has %d steps along axis %d, scan input 0 has %d", j, t.Shape[ax], ax, steps)
		}
		steps = t.Shape[ax]
		scanIn[j], axes[j] = t, ax
	}
	scans := make([][]*tensor.Tensor, k.nOut)
	args := make([]any, k.nState+k.nIn)
	for t := range steps {
		if err := ctlCtxErr(c); err != nil {
			return nil, err
		}
		copy(args, state)
		for j, x := range scanIn {
			idx := t
			if k.inRev[j] {
				idx = steps - 1 - t
			}
			s, err := ctlTake(c, x, axes[j], idx)
			if err != nil {
				return nil, err
			}
			args[k.nState+j] = s
		}
		out, err := k.body.Run(c, args)
		if err != nil {
			return nil, fmt.Errorf("body, iteration %d: %w", t, err)
		}
		copy(state, out[:k.nState])
		for j := range k.nOut {
			v, ok := out[k.nState+j].(*tensor.Tensor)
			if !ok || v == nil {
				return nil, fmt.Errorf("iteration %d: scan output %d is %s, want a tensor", t, j, ctlKind(out[k.nState+j]))
			}
			scans[j] = append(scans[j], v)
		}
	}
	res := make([]any, k.nout)
	copy(res, state)
	for j := 0; j < k.nOut && k.nState+j < k.nout; j++ {
		var t *tensor.Tensor
		if steps == 0 {
			t = ctlEmptyScan(c, k.scanTypes[j], int(k.outAxes[j]))
		} else {
			rev := k.outRev[j]
			var err error
			t, err = ctlStack(c, scans[j], steps, int(k.outAxes[j]), func(i int) int {
				if rev {
					return steps - 1 - i
				}
				return i
			}, fmt.Sprintf("scan output %d", j))
			if err != nil {
				return nil, err
			}
		}
		res[k.nState+j] = t
	}
	return res, nil
}

// ---- Scan (opset 8: batch axis 0, sequence axis 1, sequence_lens) ----

type ctlScan8 struct {
	body      Subgraph
	nState    int
	nIn       int
	nOut      int
	nout      int
	rev       []bool
	scanTypes []ir.Type
	stateType []ir.Type
}

func newScan8(b *Build) (any, error) {
	a := b.Attrs()
	g := a.RequireGraph("body")
	m := a.RequireInt("num_scan_inputs")
	if err := a.Err(); err != nil {
		return nil, err
	}
	nin := len(b.Node.Inputs) - 1 // the first is sequence_lens
	if m < 1 || int(m) > nin {
		return nil, fmt.Errorf("num_scan_inputs = %d, want 1 to %d (the number of inputs after sequence_lens)", m, nin)
	}
	k := &ctlScan8{nIn: int(m), nState: nin - int(m), nout: len(b.Node.Outputs)}
	k.rev = ctlFlags(a, "directions", k.nIn)
	if err := a.Err(); err != nil {
		return nil, err
	}
	body, err := ctlCompile(b, "body", g)
	if err != nil {
		return nil, err
	}
	k.body = body
	if body.NumInputs() != nin {
		return nil, fmt.Errorf("body has %d inputs, want %d (%d state variables and %d scan inputs)", body.NumInputs(), nin, k.nState, k.nIn)
	}
	k.nOut = body.NumOutputs() - k.nState
	if k.nOut < 0 {
		return nil, fmt.Errorf("body has %d outputs, want at least the %d state variables", body.NumOutputs(), k.nState)
	}
	if k.nout > k.nState+k.nOut {
		return nil, fmt.Errorf("Scan has %d outputs, its body gives %d", k.nout, k.nState+k.nOut)
	}
	for _, o := range g.Outputs[:k.nState] {
		k.stateType = append(k.stateType, o.Type)
	}
	k.scanTypes = ctlScanTypes(b, g, k.nState, k.nState)
	return k, nil
}

func (k *ctlScan8) RunValues(c *Context, in []any) ([]any, error) {
	if len(in) != 1+k.nState+k.nIn {
		return nil, fmt.Errorf("got %d inputs, want %d", len(in), 1+k.nState+k.nIn)
	}
	vals := make([]*tensor.Tensor, k.nState+k.nIn)
	batch := -1
	for i := range vals {
		v := in[1+i]
		t, ok := v.(*tensor.Tensor)
		if !ok || t == nil {
			return nil, fmt.Errorf("input %d is %s, want a tensor", 1+i, ctlKind(v))
		}
		if i < k.nState && len(t.Shape) < 1 {
			return nil, fmt.Errorf("state input %d is a scalar, want the batch axis first", i)
		}
		if i >= k.nState && len(t.Shape) < 2 {
			return nil, fmt.Errorf("scan input %d has shape %v, want rank ≥ 2 (batch axis, then sequence axis)", i-k.nState, tensor.ShapeString(t.Shape))
		}
		if batch >= 0 && t.Shape[0] != batch {
			return nil, fmt.Errorf("input %d has batch size %d, want %d", 1+i, t.Shape[0], batch)
		}
		batch = t.Shape[0]
		vals[i] = t
	}
	maxLen := vals[k.nState].Shape[1]
	for j := 1; j < k.nIn; j++ {
		if d := vals[k.nState+j].Shape[1]; d != maxLen {
			return nil, fmt.Errorf("scan input %d has sequence length %d, scan input 0 has %d", j, d, maxLen)
		}
	}
	lens := make([]int, batch)
	for i := range lens {
		lens[i] = maxLen
	}
	if in[0] != nil {
		t, ok := in[0].(*tensor.Tensor)
		if !ok {
			return nil, fmt.Errorf("input sequence_lens is %s, want an int64 tensor", ctlKind(in[0]))
		}
		l, err := Int64s(t)
		if err != nil {
			return nil, fmt.Errorf("input sequence_lens: %w", err)
		}
		if len(l) != batch {
			return nil, fmt.Errorf("input sequence_lens has %d entries, want the batch size %d", len(l), batch)
		}
		for i, v := range l {
			if v < 0 || v > int64(maxLen) {
				return nil, fmt.Errorf("sequence_lens[%d] = %d, want 0 to %d", i, v, maxLen)
			}
			lens[i] = int(v)
		}
	}
	finalStates := make([][]*tensor.Tensor, k.nState)
	// scans[j][b] holds batch b's per-step outputs of scan output j.
	scans := make([][][]*tensor.Tensor, k.nOut)
	for j := range scans {
		scans[j] = make([][]*tensor.Tensor, batch)
	}
	args := make([]any, k.nState+k.nIn)
	for bi := range batch {
		state := make([]any, k.nState)
		for i := range k.nState {
			s, err := ctlTake(c, vals[i], 0, bi)
			if err != nil {
				return nil, err
			}
			state[i] = s
		}
		seqs := make([]*tensor.Tensor, k.nIn)
		for j := range k.nIn {
			s, err := ctlTake(c, vals[k.nState+j], 0, bi)
			if err != nil {
				return nil, err
			}
			seqs[j] = s
		}
		n := lens[bi]
		for t := range n {
			if err := ctlCtxErr(c); err != nil {
				return nil, err
			}
			copy(args, state)
			for j, s := range seqs {
				idx := t
				if k.rev[j] {
					idx = n - 1 - t
				}
				x, err := ctlTake(c, s, 0, idx)
				if err != nil {
					return nil, err
				}
				args[k.nState+j] = x
			}
			out, err := k.body.Run(c, args)
			if err != nil {
				return nil, fmt.Errorf("body, batch %d, iteration %d: %w", bi, t, err)
			}
			copy(state, out[:k.nState])
			for j := range k.nOut {
				v, ok := out[k.nState+j].(*tensor.Tensor)
				if !ok || v == nil {
					return nil, fmt.Errorf("batch %d, iteration %d: scan output %d is %s, want a tensor", bi, t, j, ctlKind(out[k.nState+j]))
				}
				scans[j][bi] = append(scans[j][bi], v)
			}
		}
		for i := range k.nState {
			v, ok := state[i].(*tensor.Tensor)
			if !ok || v == nil {
				return nil, fmt.Errorf("batch %d: state variable %d is %s, want a tensor", bi, i, ctlKind(state[i]))
			}
			finalStates[i] = append(finalStates[i], v)
		}
	}
	res := make([]any, k.nout)
	for i := 0; i < k.nState && i < k.nout; i++ {
		if batch == 0 {
			res[i] = ctlEmptyScan(c, k.stateType[i], 0)
			continue
		}
		t, err := ctlStack(c, finalStates[i], batch, 0, func(b int) int { return b }, fmt.Sprintf("state variable %d", i))
		if err != nil {
			return nil, err
		}
		res[i] = t
	}
	for j := 0; j < k.nOut && k.nState+j < k.nout; j++ {
		// Every batch's outputs must share one element type and shape;
		// steps past a batch's sequence length stay zero.
		var proto *tensor.Tensor
		for _, steps := range scans[j] {
			if len(steps) > 0 {
				proto = steps[0]
				break
			}
		}
		if proto == nil {
			t := ctlEmptyScan(c, k.scanTypes[j], 0)
			shape := append([]int{batch, maxLen}, t.Shape[1:]...)
			res[k.nState+j] = c.Alloc(t.DType, shape...)
			continue
		}
		inner := proto.Len()
		shape := append([]int{batch, maxLen}, proto.Shape...)
		out := c.Alloc(proto.DType, shape...)
		for bi, steps := range scans[j] {
			for t, v := range steps {
				if v.DType != proto.DType || !tensor.EqualShapes(v.Shape, proto.Shape) {
					return nil, fmt.Errorf("scan output %d: batch %d, iteration %d gave %v, want %v; scan outputs must keep their type and shape", j, bi, t, v, proto)
				}
				cp, err := ctlCopier(out.Data, v.Data)
				if err != nil {
					return nil, err
				}
				cp((bi*maxLen+t)*inner, 0, inner)
			}
		}
		res[k.nState+j] = out
	}
	return res, nil
}
