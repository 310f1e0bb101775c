package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/tensor"
)

// Shape and metadata ops: Shape Size Reshape Flatten Squeeze Unsqueeze
// Expand Identity ConstantOfShape Constant EyeLike Range.
//
// Reshape, Flatten, Squeeze, Unsqueeze and Identity return views that share
// the input's storage: the engine never modifies tensors in place.

func init() {
	register("Shape", newShape)
	register("Size", newSize)
	register("Reshape", newReshape)
	register("Flatten", newFlatten)
	register("Squeeze", newSqueeze)
	register("Unsqueeze", newUnsqueeze)
	Default.Register(Spec{Op: "Expand", Since: 8, New: newExpand})
	register("Identity", newIdentity)
	Default.Register(Spec{Op: "ConstantOfShape", Since: 9, New: newConstantOfShape})
	register("Constant", newConstant)
	Default.Register(Spec{Op: "EyeLike", Since: 9, New: newEyeLike})
	Default.Register(Spec{Op: "Range", Since: 11, New: newRange})
}

// shpNeed checks that input i is present.
func shpNeed(in []*tensor.Tensor, i int, name string) (*tensor.Tensor, error) {
	if i >= len(in) || in[i] == nil {
		return nil, fmt.Errorf("required input %d (%s) is missing", i, name)
	}
	return in[i], nil
}

// shpOpt returns input i, or nil if it is omitted.
func shpOpt(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

func newShape(b *Build) (any, error) {
	a := b.Attrs()
	start := a.Int("start", 0)
	end := a.Int("end", math.MaxInt64)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		r := int64(len(x.Shape))
		clamp := func(v int64) int {
			if v < 0 {
				v += r
			}
			return int(min(max(v, 0), r))
		}
		s, e := clamp(start), clamp(end)
		n := max(e-s, 0)
		out := c.Alloc(tensor.Int64, n)
		o := out.Data.([]int64)
		for i := range o {
			o[i] = int64(x.Shape[s+i])
		}
		return c.Outs(out), nil
	}), nil
}

func newSize(b *Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		out := c.Alloc(tensor.Int64)
		out.Data.([]int64)[0] = int64(x.Len())
		return c.Outs(out), nil
	}), nil
}

// shpReshapeDims resolves a Reshape shape against the input shape: 0
// copies the input dimension (unless allowzero) and one -1 is inferred.
func shpReshapeDims(c *Context, in []int, spec []int64, allowzero bool) ([]int, error) {
	out := c.Ints(len(spec))
	infer := -1
	known := 1
	hasZero := false
	for i, d := range spec {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case d < -1:
			return nil, fmt.Errorf("shape %v has invalid dimension %d", spec, d)
		case d == 0 && !allowzero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d (0), but the input %v has rank %d", spec, i, tensor.ShapeString(in), len(in))
			}
			out[i] = in[i]
		case d == 0:
			hasZero = true
			out[i] = 0
		default:
			if d > shpMaxElems {
				return nil, fmt.Errorf("shape %v has too large dimension %d", spec, d)
			}
			out[i] = int(d)
		}
		if out[i] > 0 && known > shpMaxElems/out[i] {
			return nil, fmt.Errorf("shape %v is too large", spec)
		}
		known *= out[i]
	}
	total := shpProd(in)
	if infer >= 0 {
		if hasZero {
			return nil, fmt.Errorf("shape %v has both 0 and -1 with allowzero=1", spec)
		}
		if known == 0 {
			if total != 0 {
				return nil, fmt.Errorf("cannot infer -1 in shape %v for input %v", spec, tensor.ShapeString(in))
			}
			return nil, fmt.Errorf("-1 in shape %v is ambiguous for empty input %v", spec, tensor.ShapeString(in))
		}
		if total%known != 0 {
			return nil, fmt.Errorf("cannot reshape input %v (%d elements) to %v", tensor.ShapeString(in), total, spec)
		}
		out[infer] = total / known
		known = total
	}
	if known != total {
		return nil, fmt.Errorf("cannot reshape input %v (%d elements) to %v (%d elements)", tensor.ShapeString(in), total, spec, known)
	}
	return out, nil
}

func newReshape(b *Build) (any, error) {
	a := b.Attrs()
	allowzero := a.Int("allowzero", 0) != 0
	var attrShape []int64
	if b.Opset < 5 {
		if !a.Has("shape") {
			a.Fail(fmt.Errorf("required attribute \"shape\" is missing"))
		}
		attrShape = a.Ints("shape", nil)
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		spec := attrShape
		if b.Opset >= 5 {
			st, err := shpNeed(in, 1, "shape")
			if err != nil {
				return nil, err
			}
			if st.DType != tensor.Int64 || len(st.Shape) != 1 {
				return nil, fmt.Errorf("input shape is %v, want a 1-D int64 tensor", st)
			}
			spec = st.Data.([]int64)
		}
		dims, err := shpReshapeDims(c, x.Shape, spec, allowzero)
		if err != nil {
			return nil, err
		}
		return c.Outs(c.View(x, dims)), nil
	}), nil
}

func newFlatten(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", 1)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if b.Opset < 11 && axis < 0 {
		return nil, fmt.Errorf("attribute axis = %d, want ≥ 0 before opset 11", axis)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "input")
		if err != nil {
			return nil, err
		}
		r := int64(len(x.Shape))
		ax := axis
		if ax < 0 {
			ax += r
		}
		if ax < 0 || ax > r {
			return nil, fmt.Errorf("axis %d out of range for input %v of rank %d", axis, x, r)
		}
		return c.Outs(c.View(x, []int{shpProd(x.Shape[:ax]), shpProd(x.Shape[ax:])})), nil
	}), nil
}

// shpAxesInput reads an optional axes input (int64; int32 accepted).
func shpAxesInput(in []*tensor.Tensor, i int) ([]int64, bool, error) {
	t := shpOpt(in, i)
	if t == nil {
		return nil, false, nil
	}
	if len(t.Shape) > 1 {
		return nil, false, fmt.Errorf("input axes has shape %v, want 1-D", tensor.ShapeString(t.Shape))
	}
	v, err := shpIndices(t, "axes")
	return v, true, err
}

func newSqueeze(b *Build) (any, error) {
	a := b.Attrs()
	attrAxes := a.Ints("axes", nil)
	hasAttr := a.Has("axes")
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		axes, has := attrAxes, hasAttr
		if b.Opset >= 13 {
			if axes, has, err = shpAxesInput(in, 1); err != nil {
				return nil, err
			}
		}
		drop := make([]bool, len(x.Shape))
		if has && len(axes) > 0 { // empty axes squeeze every 1, as when omitted
			ax, err := shpAxes(c, axes, len(x.Shape))
			if err != nil {
				return nil, err
			}
			for _, a := range ax {
				if x.Shape[a] != 1 {
					return nil, fmt.Errorf("cannot squeeze axis %d of input %v: its size is %d, not 1", a, x, x.Shape[a])
				}
				drop[a] = true
			}
		} else {
			for i, d := range x.Shape {
				drop[i] = d == 1
			}
		}
		shape := []int{}
		for i, d := range x.Shape {
			if !drop[i] {
				shape = append(shape, d)
			}
		}
		return c.Outs(c.View(x, shape)), nil
	}), nil
}

func newUnsqueeze(b *Build) (any, error) {
	a := b.Attrs()
	var attrAxes []int64
	if b.Opset < 13 {
		if !a.Has("axes") {
			a.Fail(fmt.Errorf("required attribute \"axes\" is missing"))
		}
		attrAxes = a.Ints("axes", nil)
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		axes := attrAxes
		if b.Opset >= 13 {
			var has bool
			if axes, has, err = shpAxesInput(in, 1); err != nil {
				return nil, err
			}
			if !has {
				return nil, fmt.Errorf("required input 1 (axes) is missing")
			}
		}
		r := len(x.Shape) + len(axes)
		ax, err := shpAxes(c, axes, r)
		if err != nil {
			return nil, err
		}
		ins := make([]bool, r)
		for _, a := range ax {
			ins[a] = true
		}
		shape := make([]int, r)
		k := 0
		for i := range shape {
			if ins[i] {
				shape[i] = 1
				continue
			}
			shape[i] = x.Shape[k]
			k++
		}
		return c.Outs(c.View(x, shape)), nil
	}), nil
}

func newExpand(b *Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "input")
		if err != nil {
			return nil, err
		}
		st, err := shpNeed(in, 1, "shape")
		if err != nil {
			return nil, err
		}
		if st.DType != tensor.Int64 || len(st.Shape) != 1 {
			return nil, fmt.Errorf("input shape is %v, want a 1-D int64 tensor", st)
		}
		want := st.Data.([]int64)
		for _, d := range want {
			if d < 0 || d > shpMaxElems {
				return nil, fmt.Errorf("shape %v has invalid dimension %d", want, d)
			}
		}
		wi := c.Ints(len(want))
		for i, d := range want {
			wi[i] = int(d)
		}
		shape, err := ewBroadcast2(c, x.Shape, wi)
		if err != nil {
			return nil, err
		}
		if err := shpCheckShape(shape); err != nil {
			return nil, err
		}
		if tensor.EqualShapes(shape, x.Shape) {
			return c.Outs(c.View(x, shape)), nil
		}
		out := c.Alloc(x.DType, shape...)
		m, err := shpMoverFor(out, x)
		if err != nil {
			return nil, err
		}
		shpCopyStrided(c, m, shape, 0, tensor.Strides(shape), 0, BroadcastStrides(x.Shape, shape))
		return c.Outs(out), nil
	}), nil
}

// shpIdentity passes its input through: tensors as views, sequences and
// optionals (opset 14+) unchanged.
type shpIdentity struct{}

func (shpIdentity) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x, err := shpNeed(in, 0, "input")
	if err != nil {
		return nil, err
	}
	return c.Outs(c.View(x, x.Shape)), nil
}

func (shpIdentity) RunValues(c *Context, in []any) ([]any, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, fmt.Errorf("required input 0 (input) is missing")
	}
	switch v := in[0].(type) {
	case *tensor.Tensor:
		return []any{shpView(c, v, v.Shape)}, nil
	case *tensor.Sequence:
		return []any{v}, nil
	case *tensor.Optional:
		return []any{v}, nil
	}
	return nil, fmt.Errorf("input is a %T, want a tensor, sequence or optional", in[0])
}

func newIdentity(b *Build) (any, error) { return shpIdentity{}, nil }

func newConstantOfShape(b *Build) (any, error) {
	a := b.Attrs()
	val := a.Tensor("value")
	if err := a.Err(); err != nil {
		return nil, err
	}
	if val == nil {
		val = tensor.Scalar(float32(0))
	}
	if err := val.Validate(); err != nil {
		return nil, fmt.Errorf("attribute value: %w", err)
	}
	if val.Len() != 1 {
		return nil, fmt.Errorf("attribute value has shape %v, want one element", tensor.ShapeString(val.Shape))
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		st, err := shpNeed(in, 0, "input")
		if err != nil {
			return nil, err
		}
		if st.DType != tensor.Int64 || len(st.Shape) != 1 {
			return nil, fmt.Errorf("input is %v, want a 1-D int64 tensor", st)
		}
		want := st.Data.([]int64)
		for _, d := range want {
			if d < 0 || d > shpMaxElems {
				return nil, fmt.Errorf("shape %v has invalid dimension %d", want, d)
			}
		}
		shape := c.Ints(len(want))
		for i, d := range want {
			shape[i] = int(d)
		}
		if err := shpCheckShape(shape); err != nil {
			return nil, err
		}
		out := c.Alloc(val.DType, shape...)
		if err := shpFill(c, out, val); err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

func newConstant(b *Build) (any, error) {
	a := b.Attrs()
	var t *tensor.Tensor
	set := 0
	if a.Has("sparse_value") {
		return nil, fmt.Errorf("attribute sparse_value (a sparse constant): %w", ErrUnsupported)
	}
	if a.Has("value") {
		set++
		t = a.Tensor("value")
		if t == nil && a.Err() == nil {
			a.Fail(fmt.Errorf("attribute value holds no tensor"))
		}
	}
	if a.Has("value_float") {
		set++
		t = tensor.Scalar(a.Float("value_float", 0))
	}
	if a.Has("value_floats") {
		set++
		v := append([]float32(nil), a.Floats("value_floats", nil)...)
		t = tensor.FromSlice(v, len(v))
	}
	if a.Has("value_int") {
		set++
		t = tensor.Scalar(a.Int("value_int", 0))
	}
	if a.Has("value_ints") {
		set++
		v := append([]int64(nil), a.Ints("value_ints", nil)...)
		t = tensor.FromSlice(v, len(v))
	}
	if a.Has("value_string") {
		set++
		t = tensor.Scalar(a.String("value_string", ""))
	}
	if a.Has("value_strings") {
		set++
		v := a.Strings("value_strings", nil)
		t = tensor.FromSlice(v, len(v))
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	if set != 1 {
		return nil, fmt.Errorf("Constant needs exactly one of the value attributes, got %d", set)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("constant value: %w", err)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return c.Outs(t), nil
	}), nil
}

func newEyeLike(b *Build) (any, error) {
	a := b.Attrs()
	dt := tensor.DType(a.Int("dtype", 0))
	hasDT := a.Has("dtype")
	k := a.Int("k", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if hasDT && !dt.Valid() {
		return nil, fmt.Errorf("attribute dtype = %d is not a known type", int(dt))
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "input")
		if err != nil {
			return nil, err
		}
		if len(x.Shape) != 2 {
			return nil, fmt.Errorf("input has shape %v, want rank 2", tensor.ShapeString(x.Shape))
		}
		odt := x.DType
		if hasDT {
			odt = dt
		}
		one, err := FromFloat64s(odt, nil, []float64{1})
		if err != nil {
			return nil, err
		}
		rows, cols := x.Shape[0], x.Shape[1]
		out := c.Alloc(odt, rows, cols)
		m, err := shpMoverFor(out, one)
		if err != nil {
			return nil, err
		}
		for i := range rows {
			j := int64(i) + k
			if j >= 0 && j < int64(cols) {
				m.copyRun(i*cols+int(j), 0, 1)
			}
		}
		return c.Outs(out), nil
	}), nil
}

func newRange(b *Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		var ts [3]*tensor.Tensor
		for i, name := range []string{"start", "limit", "delta"} {
			t, err := shpNeed(in, i, name)
			if err != nil {
				return nil, err
			}
			if t.Len() != 1 || len(t.Shape) > 1 {
				return nil, fmt.Errorf("input %s has shape %v, want a scalar", name, tensor.ShapeString(t.Shape))
			}
			if i > 0 && t.DType != ts[0].DType {
				return nil, fmt.Errorf("input %s is %v, want %v like start", name, t.DType, ts[0].DType)
			}
			ts[i] = t
		}
		var out *tensor.Tensor
		var err error
		switch ts[0].DType {
		case tensor.Int16:
			out, err = shpRangeInt[int16](c, ts)
		case tensor.Int32:
			out, err = shpRangeInt[int32](c, ts)
		case tensor.Int64:
			out, err = shpRangeInt[int64](c, ts)
		case tensor.Int8:
			out, err = shpRangeInt[int8](c, ts)
		case tensor.Uint8:
			out, err = shpRangeInt[uint8](c, ts)
		case tensor.Uint16:
			out, err = shpRangeInt[uint16](c, ts)
		case tensor.Uint32:
			out, err = shpRangeInt[uint32](c, ts)
		case tensor.Uint64:
			out, err = shpRangeInt[uint64](c, ts)
		case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
			out, err = shpRangeFloat(c, ts)
		default:
			err = fmt.Errorf("Range of %v: %w", ts[0].DType, ErrUnsupported)
		}
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

// shpRangeMax bounds Range's output length.
const shpRangeMax = 1 << 31

func shpRangeInt[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64](c *Context, ts [3]*tensor.Tensor) (*tensor.Tensor, error) {
	start, limit, delta := ts[0].Data.([]T)[0], ts[1].Data.([]T)[0], ts[2].Data.([]T)[0]
	if delta == 0 {
		return nil, fmt.Errorf("delta is 0")
	}
	var n uint64
	neg := delta < 0
	switch {
	case !neg && limit > start:
		// Differences are taken in uint64 so that they cannot overflow.
		diff, d := uint64(limit)-uint64(start), uint64(delta)
		n = diff / d
		if diff%d != 0 {
			n++
		}
	case neg && limit < start:
		diff, d := uint64(start)-uint64(limit), -uint64(delta)
		n = diff / d
		if diff%d != 0 {
			n++
		}
	}
	if n > shpRangeMax {
		return nil, fmt.Errorf("range of %d elements is too large", n)
	}
	out := c.Alloc(tensor.DTypeOf[T](), int(n))
	o := out.Data.([]T)
	v := start
	for i := range o {
		o[i] = v
		v += delta
	}
	return out, nil
}

func shpRangeFloat(c *Context, ts [3]*tensor.Tensor) (*tensor.Tensor, error) {
	var f [3]float64
	for i, t := range ts {
		v, err := Float64s(t)
		if err != nil {
			return nil, err
		}
		f[i] = v[0]
	}
	start, limit, delta := f[0], f[1], f[2]
	if delta == 0 {
		return nil, fmt.Errorf("delta is 0")
	}
	cnt := math.Ceil((limit - start) / delta)
	if math.IsNaN(cnt) || cnt < 0 {
		cnt = 0
	}
	if cnt > shpRangeMax {
		return nil, fmt.Errorf("range from %g to %g by %g is too large", start, limit, delta)
	}
	v := make([]float64, int(cnt))
	for i := range v {
		v[i] = start + float64(i)*delta
	}
	return FromFloat64s(ts[0].DType, []int{len(v)}, v)
}
