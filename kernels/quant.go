package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/tensor"
)

// Quantization: QuantizeLinear, DequantizeLinear (per tensor, per axis and,
// from opset 21, blocked; 8- and 16-bit integers, int4/uint4, float8, int32
// for dequantization), DynamicQuantizeLinear, MatMulInteger, QLinearMatMul
// and QLinearConv.

func init() {
	register("QuantizeLinear", newQuantizeLinear)
	register("DequantizeLinear", newDequantizeLinear)
	register("DynamicQuantizeLinear", newDynamicQuantizeLinear)
	register("MatMulInteger", newMatMulInteger)
	register("QLinearMatMul", newQLinearMatMul)
	register("QLinearConv", newQLinearConv)
}

// ---- float8 ----

// linalgIsF8 reports whether dt is one of the float8 types.
func linalgIsF8(dt tensor.DType) bool {
	switch dt {
	case tensor.Float8E4M3FN, tensor.Float8E4M3FNUZ, tensor.Float8E5M2, tensor.Float8E5M2FNUZ:
		return true
	}
	return false
}

// ---- reading and writing quantized tensors ----

// linalgQRange returns the saturation range of an integer quantized type.
func linalgQRange(dt tensor.DType) (lo, hi float64, ok bool) {
	switch dt {
	case tensor.Uint8:
		return 0, 255, true
	case tensor.Int8:
		return -128, 127, true
	case tensor.Uint16:
		return 0, 65535, true
	case tensor.Int16:
		return -32768, 32767, true
	case tensor.Uint4:
		return 0, 15, true
	case tensor.Int4:
		return -8, 7, true
	case tensor.Int32:
		return math.MinInt32, math.MaxInt32, true
	}
	return 0, 0, false
}

// linalgQRead returns the values of a quantized tensor (integers, 4-bit
// integers or float8) as float32s.
func linalgQRead(t *tensor.Tensor) ([]float32, error) {
	if linalgIsF8(t.DType) {
		out := make([]float32, t.Len())
		switch s := t.Data.(type) {
		case []tensor.F8E4M3FN:
			for i, v := range s {
				out[i] = v.Float32()
			}
		case []tensor.F8E4M3FNUZ:
			for i, v := range s {
				out[i] = v.Float32()
			}
		case []tensor.F8E5M2:
			for i, v := range s {
				out[i] = v.Float32()
			}
		case []tensor.F8E5M2FNUZ:
			for i, v := range s {
				out[i] = v.Float32()
			}
		}
		return out, nil
	}
	switch s := t.Data.(type) {
	case []int8:
		return linalgToF32(s), nil
	case []uint8:
		return linalgToF32(s), nil
	case []int16:
		return linalgToF32(s), nil
	case []uint16:
		return linalgToF32(s), nil
	case []int32:
		return linalgToF32(s), nil
	case []tensor.I4:
		return linalgToF32(s), nil
	case []tensor.U4:
		return linalgToF32(s), nil
	}
	return nil, fmt.Errorf("%v is not a quantized type: %w", t.DType, ErrUnsupported)
}

func linalgToF32[T ~int8 | ~uint8 | ~int16 | ~uint16 | ~int32](s []T) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}

// linalgQStoreInts writes integral, in-range values q into t's storage.
func linalgQStoreInts(t *tensor.Tensor, q []int32) {
	switch d := t.Data.(type) {
	case []int8:
		linalgNarrow(d, q)
	case []uint8:
		linalgNarrow(d, q)
	case []int16:
		linalgNarrow(d, q)
	case []uint16:
		linalgNarrow(d, q)
	case []int32:
		copy(d, q)
	case []tensor.I4:
		linalgNarrow(d, q)
	case []tensor.U4:
		linalgNarrow(d, q)
	default:
		panic(fmt.Sprintf("linalgQStoreInts into %v", t.DType))
	}
}

func linalgNarrow[T ~int8 | ~uint8 | ~int16 | ~uint16](d []T, q []int32) {
	for i, v := range q {
		d[i] = T(v)
	}
}

// linalgQStoreF8 encodes values v into the float8 tensor t.
func linalgQStoreF8(t *tensor.Tensor, v []float32, saturate bool) {
	switch d := t.Data.(type) {
	case []tensor.F8E4M3FN:
		for i, x := range v {
			d[i] = tensor.F8E4M3FNFromFloat32(x, saturate)
		}
	case []tensor.F8E4M3FNUZ:
		for i, x := range v {
			d[i] = tensor.F8E4M3FNUZFromFloat32(x, saturate)
		}
	case []tensor.F8E5M2:
		for i, x := range v {
			d[i] = tensor.F8E5M2FromFloat32(x, saturate)
		}
	case []tensor.F8E5M2FNUZ:
		for i, x := range v {
			d[i] = tensor.F8E5M2FNUZFromFloat32(x, saturate)
		}
	}
}

// ---- granularity ----

// linalgQLayout maps an element of x to the index of its scale and zero
// point: per tensor, per axis, or blocked along the axis.
type linalgQLayout struct {
	perTensor bool
	dim       int // x.Shape[axis]
	inner     int // elements after the axis
	s, block  int // blocked: scale.Shape[axis] and block size (0: per axis)
}

func (l *linalgQLayout) index(i int) int {
	if l.perTensor {
		return 0
	}
	r := i % (l.dim * l.inner)
	d := r / l.inner
	if l.block == 0 {
		return d
	}
	o := i / (l.dim * l.inner)
	return (o*l.s+d/l.block)*l.inner + r%l.inner
}

func linalgQLayoutFor(op string, xs, ss []int, axis, block int64) (*linalgQLayout, error) {
	if tensor.NumElements(ss) == 1 && len(ss) <= 1 {
		return &linalgQLayout{perTensor: true}, nil
	}
	ax, err := NormAxis(axis, len(xs))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	l := &linalgQLayout{dim: xs[ax], inner: tensor.NumElements(xs[ax+1:])}
	if block <= 0 {
		if len(ss) != 1 || ss[0] != xs[ax] {
			if len(ss) == len(xs) && len(xs) > 1 {
				return nil, fmt.Errorf("%s: scale of shape %v for input %v needs block_size", op, ss, xs)
			}
			return nil, fmt.Errorf("%s: scale of shape %v does not fit input %v along axis %d", op, ss, xs, ax)
		}
		return l, nil
	}
	if len(ss) != len(xs) {
		return nil, fmt.Errorf("%s: blocked scale of shape %v must have the rank of input %v", op, ss, xs)
	}
	for i := range xs {
		if i != ax && ss[i] != xs[i] {
			return nil, fmt.Errorf("%s: blocked scale of shape %v does not fit input %v", op, ss, xs)
		}
	}
	if linalgCeil(xs[ax], int(block)) != ss[ax] {
		return nil, fmt.Errorf("%s: block_size %d does not give %d blocks along axis %d of %v", op, block, ss[ax], ax, xs)
	}
	l.s, l.block = ss[ax], int(block)
	return l, nil
}

// ---- QuantizeLinear ----

func newQuantizeLinear(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", 1)
	saturate := a.Int("saturate", 1) != 0
	block := a.Int("block_size", 0)
	outDT := tensor.DType(a.Int("output_dtype", 0))
	if err := a.Err(); err != nil {
		return nil, err
	}
	if block < 0 {
		return nil, fmt.Errorf("QuantizeLinear block_size is %d, want ≥ 0", block)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("QuantizeLinear needs inputs x and y_scale")
		}
		x, st := in[0], in[1]
		var zt *tensor.Tensor
		if len(in) > 2 {
			zt = in[2]
		}
		dt := outDT
		if zt != nil {
			if dt != tensor.Undefined && dt != zt.DType {
				return nil, fmt.Errorf("QuantizeLinear output_dtype %v differs from y_zero_point's type %v", dt, zt.DType)
			}
			dt = zt.DType
			if !tensor.EqualShapes(zt.Shape, st.Shape) && !(zt.Len() == 1 && st.Len() == 1) {
				return nil, fmt.Errorf("QuantizeLinear y_zero_point %v and y_scale %v differ in shape", zt, st)
			}
		}
		if dt == tensor.Undefined {
			dt = tensor.Uint8
		}
		lo, hi, isInt := linalgQRange(dt)
		isF8 := linalgIsF8(dt)
		if (!isInt && !isF8) || dt == tensor.Int32 {
			return nil, fmt.Errorf("QuantizeLinear to %v: %w", dt, ErrUnsupported)
		}
		l, err := linalgQLayoutFor("QuantizeLinear", x.Shape, st.Shape, axis, block)
		if err != nil {
			return nil, err
		}
		xv, err := linalgQInput(x)
		if err != nil {
			return nil, fmt.Errorf("QuantizeLinear x: %w", err)
		}
		sv, err := linalgQInput(st)
		if err != nil {
			return nil, fmt.Errorf("QuantizeLinear y_scale: %w", err)
		}
		var zv []float32
		if zt != nil {
			if zv, err = linalgQRead(zt); err != nil {
				return nil, fmt.Errorf("QuantizeLinear y_zero_point: %w", err)
			}
		}
		y := c.Alloc(dt, x.Shape...)
		if isInt {
			q := make([]int32, len(xv))
			c.Parallel(linalgCeil(len(xv), 4096), func(lo8, hi8 int) {
				for i := lo8 * 4096; i < min(len(xv), hi8*4096); i++ {
					p := l.index(i)
					v := math.RoundToEven(float64(xv[i] / sv[p]))
					if zv != nil {
						v += float64(zv[p])
					}
					q[i] = int32(min(hi, max(lo, v)))
				}
			})
			linalgQStoreInts(y, q)
		} else {
			v := make([]float32, len(xv))
			for i := range xv {
				p := l.index(i)
				v[i] = xv[i] / sv[p]
				if zv != nil {
					v[i] += zv[p]
				}
			}
			linalgQStoreF8(y, v, saturate)
		}
		return c.Outs(y), nil
	}), nil
}

// linalgQInput reads a quantization input or scale (float or int32) as
// float32s.
func linalgQInput(t *tensor.Tensor) ([]float32, error) {
	if t.DType == tensor.Int32 {
		return linalgToF32(t.Data.([]int32)), nil
	}
	if !t.DType.IsFloat() {
		return nil, fmt.Errorf("type %v: %w", t.DType, ErrUnsupported)
	}
	return Float32s(t)
}

// ---- DequantizeLinear ----

func newDequantizeLinear(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", 1)
	block := a.Int("block_size", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if block < 0 {
		return nil, fmt.Errorf("DequantizeLinear block_size is %d, want ≥ 0", block)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("DequantizeLinear needs inputs x and x_scale")
		}
		x, st := in[0], in[1]
		var zt *tensor.Tensor
		if len(in) > 2 {
			zt = in[2]
		}
		if zt != nil {
			if zt.DType != x.DType {
				return nil, fmt.Errorf("DequantizeLinear x_zero_point is %v, x is %v", zt.DType, x.DType)
			}
			if !tensor.EqualShapes(zt.Shape, st.Shape) && !(zt.Len() == 1 && st.Len() == 1) {
				return nil, fmt.Errorf("DequantizeLinear x_zero_point %v and x_scale %v differ in shape", zt, st)
			}
		}
		switch st.DType {
		case tensor.Float32, tensor.Float16, tensor.BFloat16:
		default:
			return nil, fmt.Errorf("DequantizeLinear x_scale of %v: %w", st.DType, ErrUnsupported)
		}
		l, err := linalgQLayoutFor("DequantizeLinear", x.Shape, st.Shape, axis, block)
		if err != nil {
			return nil, err
		}
		xv, err := linalgQRead(x)
		if err != nil {
			return nil, fmt.Errorf("DequantizeLinear x: %w", err)
		}
		sv, _ := Float32s(st)
		var zv []float32
		if zt != nil {
			zv, _ = linalgQRead(zt)
		}
		y := c.Alloc(st.DType, x.Shape...)
		yv := make([]float32, len(xv))
		if l.perTensor {
			s, z := sv[0], float32(0)
			if zv != nil {
				z = zv[0]
			}
			for i, v := range xv {
				yv[i] = (v - z) * s
			}
		} else {
			for i, v := range xv {
				p := l.index(i)
				if zv != nil {
					v -= zv[p]
				}
				yv[i] = v * sv[p]
			}
		}
		linalgStoreF32(y, yv)
		return c.Outs(y), nil
	}), nil
}

// ---- DynamicQuantizeLinear ----

func newDynamicQuantizeLinear(b *Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("DynamicQuantizeLinear needs an input")
		}
		x := in[0]
		if x.DType != tensor.Float32 {
			return nil, fmt.Errorf("DynamicQuantizeLinear of %v: %w", x.DType, ErrUnsupported)
		}
		xv := x.Data.([]float32)
		var mn, mx float32 // the range always includes 0
		for _, v := range xv {
			mn = min(mn, v)
			mx = max(mx, v)
		}
		scale := float32(1) / 255
		if mx != mn {
			scale = (mx - mn) / 255
		}
		zp := math.RoundToEven(float64(min(255, max(0, 0-mn/scale))))
		y := c.Alloc(tensor.Uint8, x.Shape...)
		yv := y.Data.([]uint8)
		c.Parallel(linalgCeil(len(xv), 4096), func(lo, hi int) {
			for i := lo * 4096; i < min(len(xv), hi*4096); i++ {
				q := math.RoundToEven(float64(xv[i]/scale)) + zp
				yv[i] = uint8(min(255, max(0, q)))
			}
		})
		return c.Outs(y, tensor.Scalar(scale), tensor.Scalar(uint8(zp))), nil
	}), nil
}

// ---- MatMulInteger and QLinearMatMul ----

// linalgQSubZP returns x - zp as int32s, the zero point broadcast to x's
// shape. perRow marks an A operand: a 1-D zero point of x's row count is
// then one per row.
func linalgQSubZP(op string, x, zp *tensor.Tensor, perRow bool) ([]int32, error) {
	xv, err := linalgQInts(x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if zp == nil {
		return xv, nil
	}
	if zp.DType != x.DType {
		return nil, fmt.Errorf("%s: zero point is %v, operand is %v", op, zp.DType, x.DType)
	}
	zv, err := linalgQInts(zp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out := make([]int32, len(xv))
	if len(zv) == 1 {
		z := zv[0]
		for i, v := range xv {
			out[i] = v - z
		}
		return out, nil
	}
	zs, err := linalgQZPShape(op, x.Shape, zp.Shape, perRow)
	if err != nil {
		return nil, err
	}
	it := NewIndexer(x.Shape, zs)
	for i, v := range xv {
		out[i] = v - zv[it.Off[0]]
		it.Next()
	}
	return out, nil
}

// linalgQZPShape returns the shape under which a per-row (A) or
// per-column (B) parameter broadcasts to an operand of shape xs.
func linalgQZPShape(op string, xs, zs []int, perRow bool) ([]int, error) {
	if len(zs) == 1 && perRow && len(xs) >= 2 {
		zs = []int{zs[0], 1}
	}
	if len(zs) > len(xs) {
		return nil, fmt.Errorf("%s: parameter of shape %v does not fit operand %v", op, zs, xs)
	}
	off := len(xs) - len(zs)
	for i, d := range zs {
		if d != 1 && d != xs[off+i] {
			return nil, fmt.Errorf("%s: parameter of shape %v does not fit operand %v", op, zs, xs)
		}
	}
	return zs, nil
}

// linalgQInts reads an 8-bit integer tensor as int32s.
func linalgQInts(t *tensor.Tensor) ([]int32, error) {
	switch s := t.Data.(type) {
	case []uint8:
		return linalgWiden32(s), nil
	case []int8:
		return linalgWiden32(s), nil
	}
	return nil, fmt.Errorf("operand of %v: %w", t.DType, ErrUnsupported)
}

func linalgWiden32[T ~int8 | ~uint8](s []T) []int32 {
	out := make([]int32, len(s))
	for i, v := range s {
		out[i] = int32(v)
	}
	return out
}

func newMatMulInteger(b *Build) (any, error) {
	// A constant B (and zero point) is converted to int32 once.
	var constB *tensor.Tensor
	var constB32 []int32
	if cb := b.Const(1); cb != nil && (len(b.Node.Inputs) < 4 || b.Node.Inputs[3] == "" || b.Const(3) != nil) {
		if v, err := linalgQSubZP("MatMulInteger", cb, b.Const(3), false); err == nil {
			constB, constB32 = cb, v
		}
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("MatMulInteger needs inputs A and B")
		}
		get := func(i int) *tensor.Tensor {
			if i < len(in) {
				return in[i]
			}
			return nil
		}
		p, err := linalgPlanMatMul(in[0].Shape, in[1].Shape)
		if err != nil {
			return nil, fmt.Errorf("MatMulInteger: %w", err)
		}
		a32, err := linalgQSubZP("MatMulInteger", in[0], get(2), true)
		if err != nil {
			return nil, err
		}
		b32 := constB32
		if in[1] != constB || constB32 == nil {
			if b32, err = linalgQSubZP("MatMulInteger", in[1], get(3), false); err != nil {
				return nil, err
			}
		}
		y := c.Alloc(tensor.Int32, p.out...)
		linalgMatMulInto(c, p, a32, b32, y.Data.([]int32))
		return c.Outs(y), nil
	}), nil
}

func newQLinearMatMul(b *Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 8 {
			return nil, fmt.Errorf("QLinearMatMul needs 8 inputs, got %d", len(in))
		}
		for i, t := range in[:8] {
			if t == nil {
				return nil, fmt.Errorf("QLinearMatMul input %d is missing", i)
			}
		}
		a, as, az, bt, bs, bz, ys, yz := in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]
		lo, hi, ok := linalgQRange(yz.DType)
		if !ok || (yz.DType != tensor.Uint8 && yz.DType != tensor.Int8) {
			return nil, fmt.Errorf("QLinearMatMul output of %v: %w", yz.DType, ErrUnsupported)
		}
		p, err := linalgPlanMatMul(a.Shape, bt.Shape)
		if err != nil {
			return nil, fmt.Errorf("QLinearMatMul: %w", err)
		}
		a32, err := linalgQSubZP("QLinearMatMul", a, az, true)
		if err != nil {
			return nil, err
		}
		b32, err := linalgQSubZP("QLinearMatMul", bt, bz, false)
		if err != nil {
			return nil, err
		}
		acc := make([]int32, tensor.NumElements(p.out))
		linalgMatMulInto(c, p, a32, b32, acc)
		// Scales: per row of A (one per A row, batch included), per column
		// of B, and a scalar output scale and zero point.
		aRows := linalgQRowShape(a.Shape, true)
		bCols := linalgQRowShape(bt.Shape, false)
		asv, err := linalgQParamExpand("QLinearMatMul a_scale", as, aRows, true)
		if err != nil {
			return nil, err
		}
		bsv, err := linalgQParamExpand("QLinearMatMul b_scale", bs, bCols, false)
		if err != nil {
			return nil, err
		}
		if ys.Len() != 1 || yz.Len() != 1 {
			return nil, fmt.Errorf("QLinearMatMul y_scale and y_zero_point must be scalars")
		}
		ysv, _ := linalgQInput(ys)
		yzv, _ := linalgQRead(yz)
		q := make([]int32, len(acc))
		M, N := p.M, p.N
		nb := len(acc) / max(1, M*N)
		for bi := 0; bi < nb; bi++ {
			ai, bj := bi, 0
			if p.aOff != nil {
				ai, bj = p.aIdx[bi], p.bIdx[bi]
			}
			for i := 0; i < M; i++ {
				sa := asv[ai*M+i]
				for j := 0; j < N; j++ {
					mul := float64(sa * bsv[bj*N+j] / ysv[0])
					k := (bi*M+i)*N + j
					v := math.RoundToEven(float64(acc[k])*mul) + float64(yzv[0])
					q[k] = int32(min(hi, max(lo, v)))
				}
			}
		}
		y := c.Alloc(yz.DType, p.out...)
		linalgQStoreInts(y, q)
		return c.Outs(y), nil
	}), nil
}

// linalgQRowShape returns the shape of A's rows (shape[:-1]+[1]) or B's
// columns (shape[:-2]+[1, N]); 1-D operands have one row or column set.
func linalgQRowShape(xs []int, rows bool) []int {
	if len(xs) == 1 {
		return []int{1}
	}
	s := append([]int{}, xs...)
	if rows {
		s[len(s)-1] = 1
	} else {
		s[len(s)-2] = 1
	}
	return s
}

// linalgQParamExpand reads a per-tensor, per-row (A) or per-column (B)
// scale and broadcasts it to target, the operand's row or column shape.
func linalgQParamExpand(what string, t *tensor.Tensor, target []int, perRow bool) ([]float32, error) {
	v, err := linalgQInput(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	n := tensor.NumElements(target)
	out := make([]float32, n)
	if len(v) == 1 {
		for i := range out {
			out[i] = v[0]
		}
		return out, nil
	}
	zs, err := linalgQZPShape(what, target, t.Shape, perRow)
	if err != nil {
		return nil, err
	}
	it := NewIndexer(target, zs)
	for i := range out {
		out[i] = v[it.Off[0]]
		it.Next()
	}
	return out, nil
}

// ---- QLinearConv ----

type linalgConvAttrs struct {
	autoPad                 string
	dilations, kernel, pads []int64
	strides                 []int64
	group                   int
}

func newQLinearConv(b *Build) (any, error) {
	a := b.Attrs()
	ca := &linalgConvAttrs{
		autoPad:   a.String("auto_pad", "NOTSET"),
		dilations: a.Ints("dilations", nil),
		kernel:    a.Ints("kernel_shape", nil),
		pads:      a.Ints("pads", nil),
		strides:   a.Ints("strides", nil),
		group:     int(a.Int("group", 1)),
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	switch ca.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return nil, fmt.Errorf("QLinearConv auto_pad %q is invalid", ca.autoPad)
	}
	if ca.group < 1 {
		return nil, fmt.Errorf("QLinearConv group is %d, want ≥ 1", ca.group)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 8 {
			return nil, fmt.Errorf("QLinearConv needs at least 8 inputs, got %d", len(in))
		}
		for i, t := range in[:8] {
			if t == nil {
				return nil, fmt.Errorf("QLinearConv input %d is missing", i)
			}
		}
		var bias *tensor.Tensor
		if len(in) > 8 {
			bias = in[8]
		}
		return linalgQLinearConv(c, ca, in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], bias)
	}), nil
}

// linalgConvGeom is a convolution's resolved geometry.
type linalgConvGeom struct {
	n, cin, cout, group int
	in, out, k          []int // spatial sizes
	stride, dil, padB   []int
}

func linalgConvResolve(ca *linalgConvAttrs, xs, ws []int) (*linalgConvGeom, error) {
	if len(xs) < 3 || len(ws) != len(xs) {
		return nil, fmt.Errorf("QLinearConv input %v and weight %v must be N-D with equal ranks ≥ 3", xs, ws)
	}
	r := len(xs) - 2
	g := &linalgConvGeom{n: xs[0], cin: xs[1], cout: ws[0], group: ca.group, in: xs[2:], k: ws[2:]}
	if g.cin != ws[1]*ca.group || g.cout%ca.group != 0 {
		return nil, fmt.Errorf("QLinearConv input %v, weight %v and group %d do not fit", xs, ws, ca.group)
	}
	if ca.kernel != nil {
		if len(ca.kernel) != r {
			return nil, fmt.Errorf("QLinearConv kernel_shape %v has the wrong rank", ca.kernel)
		}
		for i, k := range ca.kernel {
			if int(k) != g.k[i] {
				return nil, fmt.Errorf("QLinearConv kernel_shape %v does not match weight %v", ca.kernel, ws)
			}
		}
	}
	get := func(v []int64, n int, def int) ([]int, error) {
		if v == nil {
			out := make([]int, n)
			for i := range out {
				out[i] = def
			}
			return out, nil
		}
		if len(v) != n {
			return nil, fmt.Errorf("QLinearConv attribute %v has %d values, want %d", v, len(v), n)
		}
		out := make([]int, n)
		for i, x := range v {
			out[i] = int(x)
		}
		return out, nil
	}
	var err error
	if g.stride, err = get(ca.strides, r, 1); err != nil {
		return nil, err
	}
	if g.dil, err = get(ca.dilations, r, 1); err != nil {
		return nil, err
	}
	pads, err := get(ca.pads, 2*r, 0)
	if err != nil {
		return nil, err
	}
	g.padB = pads[:r]
	g.out = make([]int, r)
	for i := 0; i < r; i++ {
		if g.stride[i] < 1 || g.dil[i] < 1 {
			return nil, fmt.Errorf("QLinearConv strides and dilations must be ≥ 1")
		}
		ek := (g.k[i]-1)*g.dil[i] + 1
		switch ca.autoPad {
		case "NOTSET":
			g.out[i] = (g.in[i]+pads[i]+pads[r+i]-ek)/g.stride[i] + 1
		case "VALID":
			g.padB[i] = 0
			g.out[i] = linalgCeil(g.in[i]-ek+1, g.stride[i])
		default:
			g.out[i] = linalgCeil(g.in[i], g.stride[i])
			total := max(0, (g.out[i]-1)*g.stride[i]+ek-g.in[i])
			if ca.autoPad == "SAME_UPPER" {
				g.padB[i] = total / 2
			} else {
				g.padB[i] = total - total/2
			}
		}
		if g.out[i] < 0 {
			g.out[i] = 0
		}
	}
	return g, nil
}

func linalgQLinearConv(c *Context, ca *linalgConvAttrs, x, xs, xz, w, ws, wz, ys, yz, bias *tensor.Tensor) ([]*tensor.Tensor, error) {
	g, err := linalgConvResolve(ca, x.Shape, w.Shape)
	if err != nil {
		return nil, err
	}
	lo, hi, ok := linalgQRange(yz.DType)
	if !ok || (yz.DType != tensor.Uint8 && yz.DType != tensor.Int8) {
		return nil, fmt.Errorf("QLinearConv output of %v: %w", yz.DType, ErrUnsupported)
	}
	if xs.Len() != 1 || xz.Len() != 1 || ys.Len() != 1 || yz.Len() != 1 {
		return nil, fmt.Errorf("QLinearConv x and y scales and zero points must be scalars")
	}
	x32, err := linalgQSubZP("QLinearConv", x, xz, false)
	if err != nil {
		return nil, err
	}
	// Weight zero point and scale: scalar or one per output channel.
	wv, err := linalgQInts(w)
	if err != nil {
		return nil, fmt.Errorf("QLinearConv: %w", err)
	}
	wzv, err := linalgQInts(wz)
	if err != nil || wz.DType != w.DType {
		return nil, fmt.Errorf("QLinearConv w_zero_point of %v for weight %v", wz.DType, w.DType)
	}
	wsv, err := linalgQInput(ws)
	if err != nil {
		return nil, fmt.Errorf("QLinearConv w_scale: %w", err)
	}
	if (len(wzv) != 1 && len(wzv) != g.cout) || (len(wsv) != 1 && len(wsv) != g.cout) {
		return nil, fmt.Errorf("QLinearConv w_scale and w_zero_point must have 1 or %d elements", g.cout)
	}
	per := len(wv) / max(1, g.cout)
	w32 := make([]int32, len(wv))
	for i, v := range wv {
		m := i / max(1, per)
		w32[i] = v - wzv[min(m, len(wzv)-1)]
	}
	var bv []int32
	if bias != nil {
		b32, ok := bias.Data.([]int32)
		if !ok || len(b32) != g.cout {
			return nil, fmt.Errorf("QLinearConv bias %v must be int32 of %d elements", bias, g.cout)
		}
		bv = b32
	}
	xsv, _ := linalgQInput(xs)
	ysv, _ := linalgQInput(ys)
	yzv, _ := linalgQRead(yz)

	acc := linalgConvInt32(c, g, x32, w32)
	outSp := tensor.NumElements(g.out)
	q := make([]int32, len(acc))
	for i := range acc {
		m := (i / max(1, outSp)) % g.cout
		v := acc[i]
		if bv != nil {
			v += bv[m]
		}
		mul := float64(xsv[0] * wsv[min(m, len(wsv)-1)] / ysv[0])
		r := math.RoundToEven(float64(v)*mul) + float64(yzv[0])
		q[i] = int32(min(hi, max(lo, r)))
	}
	shape := append([]int{g.n, g.cout}, g.out...)
	y := c.Alloc(yz.DType, shape...)
	linalgQStoreInts(y, q)
	return c.Outs(y), nil
}

// linalgConvInt32 convolves x [N, C, in...] with w [M, C/group, k...]
// (zero points already subtracted, so padding is 0) by im2col and GEMM.
func linalgConvInt32(c *Context, g *linalgConvGeom, x, w []int32) []int32 {
	r := len(g.in)
	outSp, inSp, kvol := tensor.NumElements(g.out), tensor.NumElements(g.in), tensor.NumElements(g.k)
	cpg, mpg := g.cin/g.group, g.cout/g.group
	rows := cpg * kvol
	out := make([]int32, g.n*g.cout*outSp)
	if outSp == 0 {
		return out
	}
	col := make([]int32, rows*outSp)
	inSt := tensor.Strides(g.in)
	for n := 0; n < g.n; n++ {
		for gr := 0; gr < g.group; gr++ {
			xg := x[(n*g.cin+gr*cpg)*inSp:]
			c.Parallel(rows, func(lo, hi int) {
				kidx := make([]int, r)
				oidx := make([]int, r)
				for row := lo; row < hi; row++ {
					ch, kk := row/kvol, row%kvol
					for d := r - 1; d >= 0; d-- {
						kidx[d] = kk % g.k[d]
						kk /= g.k[d]
					}
					dst := col[row*outSp : (row+1)*outSp]
					clear(oidx)
					for o := range dst {
						off, inside := 0, true
						for d := 0; d < r; d++ {
							p := oidx[d]*g.stride[d] - g.padB[d] + kidx[d]*g.dil[d]
							if p < 0 || p >= g.in[d] {
								inside = false
								break
							}
							off += p * inSt[d]
						}
						if inside {
							dst[o] = xg[ch*inSp+off]
						} else {
							dst[o] = 0
						}
						for d := r - 1; d >= 0; d-- {
							oidx[d]++
							if oidx[d] < g.out[d] {
								break
							}
							oidx[d] = 0
						}
					}
				}
			})
			gm := &linalgGemm[int32]{M: mpg, N: outSp, K: rows,
				A: w[gr*mpg*rows:], aRS: rows, aCS: 1,
				B: col, bRS: outSp, bCS: 1,
				C: out[(n*g.cout+gr*mpg)*outSp:], ldc: outSp, alpha: 1}
			linalgRun(c, gm)
		}
	}
	return out
}
