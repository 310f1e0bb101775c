package kernels

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/kernels/q8"
	"github.com/inferd/inferd/tensor"
)

// Fast integer kernels for MatMulInteger, QLinearMatMul, ConvInteger and
// QLinearConv on kernels/gemm's 8-bit GEMM (VPDPBUSD where the CPU has
// it). They register above the reference kernels of quant.go and
// conv_integer.go. ONNX Runtime's com.microsoft.MatMulIntegerToFloat,
// dynamic quantization's MatMulInteger → Cast → Mul (→ Add) in one node,
// runs on the same path with the float output of the GEMM's epilogue. A constant weight (with a constant zero point) is packed
// once when the plan is built; any other 8-bit weight is packed per call.
//
// What they cover: 8-bit operands of either type; MatMul with a 2-D B
// (A's batch dimensions fold into its rows) or a B batched exactly as A;
// 1-D and 2-D convolutions with any stride, dilation, padding and group
// (as Y = W·X per image and group, the filter taps read in place from a
// padded copy of X: see qPhases); zero points per tensor, per row of A or
// output channel, or per column of B (not per row and per column at
// once). Anything else (a broadcast batch, 3-D convolutions, both zero
// points varying, scales of other shapes) runs the reference kernel,
// which the fast kernel keeps for the purpose: shapes and zero points are
// often known only at run time, so the choice is made per call. They
// decline at build time only a node whose operand types are known not to
// be 8-bit.
//
// Requantization is float32, rounding half to even as ONNX Runtime does;
// the reference computes the product in float64, so an output exactly at
// (or within float32 rounding of) a half can differ by one.

const qgemmPriority = 10

func init() {
	for _, s := range []struct {
		op  string
		new Factory
	}{
		{"MatMulInteger", newQMatMulInteger},
		{"QLinearMatMul", newQLinearMatMulFast},
		{"ConvInteger", newQConvInteger},
		{"QLinearConv", newQLinearConvFast},
	} {
		Default.Register(Spec{Op: s.op, Priority: qgemmPriority, New: s.new})
	}
	Default.Register(Spec{Domain: "com.microsoft", Op: "MatMulIntegerToFloat", Priority: qgemmPriority, New: newQMatMulIntegerToFloat})
}

// ---- operands ----

// q8Bytes returns the storage of an 8-bit tensor as bytes, and whether it
// is int8; ok is false for any other type.
func q8Bytes(t *tensor.Tensor) (data []byte, signed, ok bool) {
	switch s := t.Data.(type) {
	case []uint8:
		return s, false, true
	case []int8:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)), true, true
	}
	return nil, false, false
}

// q8Zeros reads an optional zero point of the same 8-bit type as its
// operand: nil when absent, else its values (want: the number of values a
// vector zero point must have). ok is false when it does not fit.
func q8Zeros(z *tensor.Tensor, dt tensor.DType, want int) ([]int32, bool) {
	if z == nil {
		return nil, true
	}
	if z.DType != dt || (z.Len() != 1 && (z.Len() != want || len(z.Shape) != 1)) {
		return nil, false
	}
	v, _, ok := q8Bytes(z)
	if !ok {
		return nil, false
	}
	out := make([]int32, len(v))
	for i, b := range v {
		if dt == tensor.Int8 {
			out[i] = int32(int8(b))
		} else {
			out[i] = int32(b)
		}
	}
	return out, true
}

// q8Scales reads a float32 scale of 1 or want values.
func q8Scales(s *tensor.Tensor, want int) ([]float32, bool) {
	if s == nil || s.DType != tensor.Float32 || (s.Len() != 1 && (s.Len() != want || len(s.Shape) != 1)) {
		return nil, false
	}
	return s.Data.([]float32), true
}

// q8NotInt8 reports whether input i's declared type rules out an 8-bit
// operand.
func q8NotInt8(b *Build, i int) bool {
	if i >= len(b.InputTypes) || b.InputTypes[i].Kind != ir.TensorKind {
		return false
	}
	dt := b.InputTypes[i].DType
	return dt != tensor.Undefined && dt != tensor.Uint8 && dt != tensor.Int8
}

// q8Options runs the GEMM on the session's threads.
func q8Options(c *Context) *gemm.Options8 {
	if c == nil || c.Par == nil {
		return nil
	}
	return &gemm.Options8{Parallel: c.Par}
}

func q8Input(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// ---- MatMulInteger and QLinearMatMul ----

// qMatMul runs C = (A - za)·(B - zb) with a 2-D B, as MatMulInteger
// (int32 out) or QLinearMatMul (requantized out).
type qMatMul struct {
	linear  bool   // QLinearMatMul
	toFloat bool   // com.microsoft.MatMulIntegerToFloat
	ref     Kernel // nil for MatMulIntegerToFloat, which has no reference
	// ai.inferd.QLinearMatMul: an activation, and an int32 bias input.
	act  qAct
	bias bool
	// The weight packed at build, for inputs that are the constants seen
	// then.
	constB, constBZ *tensor.Tensor
	packed          *gemm.PackedB8
}

// Input positions of the ops.
func (k *qMatMul) slots() (a, az, b, bz int) {
	switch {
	case k.linear:
		return 0, 2, 3, 5
	case k.toFloat:
		return 0, 4, 1, 5
	}
	return 0, 2, 1, 3
}

func newQMatMulInteger(b *Build) (any, error) {
	if q8NotInt8(b, 0) || q8NotInt8(b, 1) {
		return nil, ErrDecline
	}
	ref, err := newMatMulInteger(b)
	if err != nil {
		return nil, err
	}
	return newQMatMul(&qMatMul{ref: ref.(Kernel)}, b), nil
}

func newQLinearMatMulFast(b *Build) (any, error) {
	if q8NotInt8(b, 0) || q8NotInt8(b, 3) {
		return nil, ErrDecline
	}
	ref, err := newQLinearMatMul(b)
	if err != nil {
		return nil, err
	}
	return newQMatMul(&qMatMul{linear: true, ref: ref.(Kernel)}, b), nil
}

// newQMatMulIntegerToFloat builds ONNX Runtime's contrib op
// MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zero_point, b_zero_point,
// bias): Y = (A - za)·(B - zb)·a_scale·b_scale[j] + bias[j] in float32,
// the fused form of dynamic quantization's MatMulInteger → Cast → Mul
// (→ Add), with the same float32 arithmetic as those nodes.
func newQMatMulIntegerToFloat(b *Build) (any, error) {
	if q8NotInt8(b, 0) || q8NotInt8(b, 1) {
		return nil, ErrDecline
	}
	return newQMatMul(&qMatMul{toFloat: true}, b), nil
}

// newQMatMul completes k (its kind and reference set) for the node b
// builds, packing a constant weight.
func newQMatMul(k *qMatMul, b *Build) *qMatMul {
	_, _, bi, bzi := k.slots()
	w := b.Const(bi)
	var wz *tensor.Tensor
	if bzi < len(b.Node.Inputs) && b.Node.Inputs[bzi] != "" {
		if wz = b.Const(bzi); wz == nil {
			return k // a zero point known only at run time: pack per call
		}
	}
	if w == nil || len(w.Shape) != 2 {
		return k
	}
	data, signed, ok := q8Bytes(w)
	zb, zok := q8Zeros(wz, w.DType, w.Shape[1])
	if !ok || !zok {
		return k
	}
	kk, n := w.Shape[0], w.Shape[1]
	k.constB, k.constBZ = w, wz
	k.packed = gemm.PackB8(kk, n, gemm.Matrix8{Data: data, Signed: signed, Stride: n}, zb)
	return k
}

func (k *qMatMul) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if y := k.fast(c, in); y != nil {
		return c.Outs(y), nil
	}
	if k.ref == nil {
		return nil, fmt.Errorf("MatMulIntegerToFloat of %v and %v with these scales, zero points and bias: %w",
			shapeOf(q8Input(in, 0)), shapeOf(q8Input(in, 1)), ErrUnsupported)
	}
	out, err := k.ref.Run(c, in)
	if err == nil && k.act.kind != gemm.ActNone {
		ys, zy, _ := qOutParams(in[6], in[7])
		k.act.clampCodes(out[0], ys, zy)
	}
	return out, err
}

func shapeOf(t *tensor.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape
}

// fast runs the call on the 8-bit GEMM and returns its output, or nil
// when the reference kernel must run it.
func (k *qMatMul) fast(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	ai, azi, bi, bzi := k.slots()
	a, bt := q8Input(in, ai), q8Input(in, bi)
	if a == nil || bt == nil || len(a.Shape) < 1 || len(bt.Shape) < 2 {
		return nil
	}
	ad, as, ok1 := q8Bytes(a)
	bd, bs, ok2 := q8Bytes(bt)
	kk, n := bt.Shape[len(bt.Shape)-2], bt.Shape[len(bt.Shape)-1]
	if !ok1 || !ok2 || a.Shape[len(a.Shape)-1] != kk {
		return nil
	}
	// A batched B must have A's batch dimensions exactly; a 2-D B takes
	// all of A's rows at once.
	batches := 1
	if len(bt.Shape) > 2 {
		if len(a.Shape) != len(bt.Shape) || !tensor.EqualShapes(a.Shape[:len(a.Shape)-2], bt.Shape[:len(bt.Shape)-2]) {
			return nil
		}
		batches = tensor.NumElements(bt.Shape[:len(bt.Shape)-2])
	}
	m := tensor.NumElements(a.Shape[:len(a.Shape)-1])
	// A per-row zero point has one value per row of the last matrix of
	// A; batches repeat it.
	rows := 1
	if len(a.Shape) >= 2 {
		rows = a.Shape[len(a.Shape)-2]
	}
	az, bz := q8Input(in, azi), q8Input(in, bzi)
	za, ok1 := q8Zeros(az, a.DType, rows)
	zb, ok2 := q8Zeros(bz, bt.DType, n)
	if !ok1 || !ok2 || !gemm.Supports8(za, zb) {
		return nil
	}
	if len(za) > 1 && m > rows {
		za = repeat(za, m/rows)
	}

	outShape := append(append([]int{}, a.Shape[:len(a.Shape)-1]...), n)
	e := &gemm.QEpilogue{Ldc: n}
	var y *tensor.Tensor
	if k.linear {
		ast, bst, yst, yz := q8Input(in, 1), q8Input(in, 4), q8Input(in, 6), q8Input(in, 7)
		if yz == nil || yz.Len() != 1 || (yz.DType != tensor.Uint8 && yz.DType != tensor.Int8) {
			return nil
		}
		sa, ok1 := q8Scales(ast, rows)
		sb, ok2 := q8Scales(bst, n)
		sy, ok3 := q8Scales(yst, 1)
		if !ok1 || !ok2 || !ok3 {
			return nil
		}
		// As the reference: sa·sb/sy, in float32.
		scale := make([]float32, len(sb))
		for j, s := range sb {
			if len(sa) == 1 {
				scale[j] = sa[0] * s / sy[0]
			} else {
				scale[j] = s / sy[0]
			}
		}
		e.Scale = scale
		if len(sa) > 1 {
			e.RowScale = repeat(sa, m/rows)
		}
		zy, _ := q8Zeros(yz, yz.DType, 1)
		e.ZeroPoint = zy[0]
		k.act.epilogue(e, sy[0])
		if bt := q8Input(in, 8); k.bias && bt != nil {
			b32, ok := bt.Data.([]int32)
			if !ok || len(b32) != n || len(bt.Shape) != 1 {
				return nil
			}
			e.Bias32 = b32
		}
		y = c.AllocRaw(yz.DType, outShape...)
		if yz.DType == tensor.Uint8 {
			e.Uint8 = y.Data.([]uint8)
		} else {
			e.Int8 = y.Data.([]int8)
		}
	} else if k.toFloat {
		sa, ok1 := q8Scales(q8Input(in, 2), 1)
		sb, ok2 := q8Scales(q8Input(in, 3), n)
		if !ok1 || !ok2 {
			return nil
		}
		// As MatMulInteger → Cast → Mul(a_scale·b_scale): the scales'
		// product first, in float32.
		scale := make([]float32, len(sb))
		for j, s := range sb {
			scale[j] = sa[0] * s
		}
		e.Scale = scale
		if bt := q8Input(in, 6); bt != nil {
			bias, ok := bt.Data.([]float32)
			if !ok || len(bias) != n || len(bt.Shape) != 1 {
				return nil
			}
			e.Bias = bias
		}
		y = c.AllocRaw(tensor.Float32, outShape...)
		e.Float32 = y.Data.([]float32)
	} else {
		y = c.AllocRaw(tensor.Int32, outShape...)
		e.Int32 = y.Data.([]int32)
	}
	if m == 0 || n == 0 {
		return y
	}
	o := q8Options(c)
	if batches == 1 && k.packed != nil && bt == k.constB && bz == k.constBZ {
		gemm.Gemm8PackedB(m, gemm.Matrix8{Data: ad, Signed: as, Stride: max(kk, 1)}, za, k.packed, e, o)
		return y
	}
	// One call per batch, with A's rows of the batch and their outputs.
	mb := m / batches
	for bi := 0; bi < batches; bi++ {
		eb := *e
		off := bi * mb * n
		switch {
		case e.Int32 != nil:
			eb.Int32 = e.Int32[off:]
		case e.Float32 != nil:
			eb.Float32 = e.Float32[off:]
		case e.Uint8 != nil:
			eb.Uint8 = e.Uint8[off:]
		default:
			eb.Int8 = e.Int8[off:]
		}
		if e.RowScale != nil {
			eb.RowScale = e.RowScale[bi*mb : (bi+1)*mb]
		}
		zab := za
		if len(za) > 1 {
			zab = za[bi*mb : (bi+1)*mb]
		}
		am := gemm.Matrix8{Data: ad[bi*mb*kk:], Signed: as, Stride: max(kk, 1)}
		bm := gemm.Matrix8{Data: bd[bi*kk*n:], Signed: bs, Stride: n}
		gemm.Gemm8(mb, n, kk, am, zab, bm, zb, &eb, o)
	}
	return y
}

// repeat returns times copies of v, one after another.
func repeat[T any](v []T, times int) []T {
	out := make([]T, 0, len(v)*times)
	for range times {
		out = append(out, v...)
	}
	return out
}

// ---- ConvInteger and QLinearConv ----

// qConv runs a 1-D or 2-D convolution of 8-bit x and w as, per image and
// group, a product of the filter and the input's taps on the 8-bit GEMM:
// ConvInteger (int32 out) or QLinearConv (requantized out, with an int32
// bias).
type qConv struct {
	linear bool
	ref    Kernel
	act    qAct // ai.inferd.QLinearConv's activation
	ca     *linalgConvAttrs
	// The filter packed at build, one per group.
	constW, constWZ *tensor.Tensor
	packed          []*gemm.PackedA8
	// QLinearConv's requantizing scales sx·sw[m]/sy, worked out at build
	// for the constant scale tensors (x, w, y) seen then.
	constS     [3]*tensor.Tensor
	constScale []float32
	// The geometry of the last input and filter shapes.
	plans nnShapeCache[*qConvPlan]
}

// qConvPlan is what a convolution's shapes decide: the geometry, and for
// a convolution that does not read x in place its stride phases and the
// offsets of the filter taps in them.
type qConvPlan struct {
	g      *linalgConvGeom
	geo    q2d
	direct bool
	ph     qPhases
	offs   []int
}

func newQConvPlan(ca *linalgConvAttrs, xs, ws []int) (*qConvPlan, error) {
	g, err := linalgConvResolve(ca, xs, ws)
	if err != nil {
		return nil, err
	}
	p := &qConvPlan{g: g, geo: q2dOf(g)}
	// A 1×1 stride-1 unpadded convolution reads x as it is. The others
	// read their filter taps as shifted views of a padded copy of x, split
	// into stride phases (qPhases): no im2col matrix.
	p.direct = tensor.NumElements(g.k) == 1
	for d := range g.in {
		p.direct = p.direct && g.stride[d] == 1 && g.padB[d] == 0 && g.out[d] == g.in[d]
	}
	if !p.direct {
		p.ph = newQPhases(p.geo)
		p.offs = p.ph.offsets(g.cin / g.group)
	}
	return p, nil
}

// qLinearConvScales returns sx·sw[m]/sy for the m < cout output channels
// (as the reference: in float32), or false when the scales do not fit.
func qLinearConvScales(xst, wst, yst *tensor.Tensor, cout int) ([]float32, bool) {
	sx, ok1 := q8Scales(xst, 1)
	sw, ok2 := q8Scales(wst, cout)
	sy, ok3 := q8Scales(yst, 1)
	if !ok1 || !ok2 || !ok3 {
		return nil, false
	}
	scale := make([]float32, cout)
	for m := range scale {
		scale[m] = sx[0] * sw[min(m, len(sw)-1)] / sy[0]
	}
	return scale, true
}

func (k *qConv) slots() (x, xz, w, wz int) {
	if k.linear {
		return 0, 2, 3, 5
	}
	return 0, 2, 1, 3
}

func newQConvInteger(b *Build) (any, error) {
	if q8NotInt8(b, 0) || q8NotInt8(b, 1) {
		return nil, ErrDecline
	}
	ref, err := newConvInteger(b)
	if err != nil {
		return nil, err
	}
	return newQConv(b, false, ref.(Kernel))
}

func newQLinearConvFast(b *Build) (any, error) {
	if q8NotInt8(b, 0) || q8NotInt8(b, 3) {
		return nil, ErrDecline
	}
	ref, err := newQLinearConv(b)
	if err != nil {
		return nil, err
	}
	return newQConv(b, true, ref.(Kernel))
}

func newQConv(b *Build, linear bool, ref Kernel) (any, error) {
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
	k := &qConv{linear: linear, ref: ref, ca: ca}
	if ca.group < 1 {
		return k, nil // the reference reports it
	}
	_, _, wi, wzi := k.slots()
	w := b.Const(wi)
	var wz *tensor.Tensor
	if wzi < len(b.Node.Inputs) && b.Node.Inputs[wzi] != "" {
		if wz = b.Const(wzi); wz == nil {
			return k, nil
		}
	}
	if w == nil || len(w.Shape) < 3 || len(w.Shape) > 4 || w.Shape[0]%ca.group != 0 {
		return k, nil
	}
	if p := k.pack(w, wz); p != nil {
		k.constW, k.constWZ, k.packed = w, wz, p
	}
	if linear {
		xst, wst, yst := b.Const(1), b.Const(4), b.Const(6)
		if xst != nil && wst != nil && yst != nil {
			if scale, ok := qLinearConvScales(xst, wst, yst, w.Shape[0]); ok {
				k.constS, k.constScale = [3]*tensor.Tensor{xst, wst, yst}, scale
			}
		}
	}
	return k, nil
}

// pack packs filter w (with zero point wz) per group, or returns nil when
// they do not fit the fast path.
func (k *qConv) pack(w, wz *tensor.Tensor) []*gemm.PackedA8 {
	data, signed, ok := q8Bytes(w)
	m := w.Shape[0]
	zw, zok := q8Zeros(wz, w.DType, m)
	if !ok || !zok {
		return nil
	}
	g := k.ca.group
	mpg, kk := m/g, w.Len()/max(m, 1)
	out := make([]*gemm.PackedA8, g)
	for gr := range out {
		z := zw
		if len(zw) > 1 {
			z = zw[gr*mpg : (gr+1)*mpg]
		}
		out[gr] = gemm.PackA8(mpg, kk, gemm.Matrix8{Data: data[gr*mpg*kk:], Signed: signed, Stride: max(kk, 1)}, z)
	}
	return out
}

func (k *qConv) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if y := k.fast(c, in); y != nil {
		return c.Outs(y), nil
	}
	out, err := k.ref.Run(c, in)
	if err == nil && k.act.kind != gemm.ActNone {
		ys, zy, _ := qOutParams(in[6], in[7])
		k.act.clampCodes(out[0], ys, zy)
	}
	return out, err
}

func (k *qConv) fast(c *Context, in []*tensor.Tensor) *tensor.Tensor {
	xi, xzi, wi, wzi := k.slots()
	x, w := q8Input(in, xi), q8Input(in, wi)
	if x == nil || w == nil || len(x.Shape) < 3 || len(x.Shape) > 4 || len(w.Shape) != len(x.Shape) {
		return nil
	}
	xd, xs, ok1 := q8Bytes(x)
	_, _, ok2 := q8Bytes(w)
	if !ok1 || !ok2 {
		return nil
	}
	plan, err := k.plans.get(x.Shape, w.Shape, func() (*qConvPlan, error) { return newQConvPlan(k.ca, x.Shape, w.Shape) })
	if err != nil {
		return nil
	}
	g := plan.g
	xzt, wzt := q8Input(in, xzi), q8Input(in, wzi)
	zx, ok1 := q8Zeros(xzt, x.DType, 1)
	if !ok1 || len(zx) > 1 {
		return nil
	}
	packed := k.packed
	if packed == nil || w != k.constW || wzt != k.constWZ {
		if packed = k.pack(w, wzt); packed == nil {
			return nil
		}
	}

	e := gemm.QEpilogue{PerRow: true}
	var scale []float32
	var bias []int32
	var yd []byte
	outSp := tensor.NumElements(g.out)
	shape := append([]int{g.n, g.cout}, g.out...)
	var y *tensor.Tensor
	if k.linear {
		xst, wst, yst, yz := q8Input(in, 1), q8Input(in, 4), q8Input(in, 6), q8Input(in, 7)
		if yz == nil || yz.Len() != 1 || (yz.DType != tensor.Uint8 && yz.DType != tensor.Int8) {
			return nil
		}
		sy, ok := q8Scales(yst, 1)
		if !ok {
			return nil
		}
		if [3]*tensor.Tensor{xst, wst, yst} == k.constS && len(k.constScale) == g.cout {
			scale = k.constScale
		} else if scale, ok = qLinearConvScales(xst, wst, yst, g.cout); !ok {
			return nil
		}
		if bt := q8Input(in, 8); bt != nil {
			b32, ok := bt.Data.([]int32)
			if !ok || len(b32) != g.cout {
				return nil
			}
			bias = b32
		}
		zy, _ := q8Zeros(yz, yz.DType, 1)
		e.ZeroPoint = zy[0]
		k.act.epilogue(&e, sy[0])
		y = c.AllocRaw(yz.DType, shape...)
		yd, _, _ = q8Bytes(y)
	} else {
		y = c.AllocRaw(tensor.Int32, shape...)
	}
	if outSp == 0 || g.n == 0 || g.cout == 0 {
		return y
	}

	inSp := tensor.NumElements(g.in)
	cpg, mpg := g.cin/g.group, g.cout/g.group
	var pad byte
	if len(zx) == 1 {
		pad = byte(zx[0])
	}
	geo, direct, ph, offs := plan.geo, plan.direct, &plan.ph, plan.offs
	var buf, out []byte
	if !direct {
		esize := 1
		if !k.linear {
			esize = 4
		}
		buf = qBuffer(cpg*ph.chanBytes() + ph.wq)
		out = qBuffer(esize * mpg * ph.cols())
		defer qRelease(buf)
		defer qRelease(out)
	}
	o := q8Options(c)
	for n := 0; n < g.n; n++ {
		for gr := 0; gr < g.group; gr++ {
			xg := xd[(n*g.cin+gr*cpg)*inSp : (n*g.cin+(gr+1)*cpg)*inSp]
			b := gemm.Matrix8{Data: xg, Signed: xs, Stride: inSp}
			if !direct {
				c.Parallel(cpg, func(lo, hi int) { ph.fill(buf, xg, lo, hi, pad) })
				b = gemm.Matrix8{Data: buf, Signed: xs, Rows: offs}
			}
			lo, hi := gr*mpg, (gr+1)*mpg
			ge := e
			ge.Ldc = outSp
			if scale != nil {
				ge.Scale = scale[lo:hi]
			}
			if bias != nil {
				ge.Bias32 = bias[lo:hi]
			}
			off := (n*g.cout + lo) * outSp
			dst, es := yd, 1
			if !k.linear {
				dst, es = q8BytesOf(y.Data.([]int32)), 4
			}
			cols, target := outSp, dst[off*es:]
			if !direct {
				// Into the wide grid (oh rows of wq), then the ow
				// columns of each row into y.
				cols = ph.cols()
				ge.Ldc, target = cols, out
			}
			switch {
			case !k.linear:
				ge.Int32 = unsafe.Slice((*int32)(unsafe.Pointer(&target[0])), len(target)/4)
			case y.DType == tensor.Uint8:
				ge.Uint8 = target
			default:
				ge.Int8 = unsafe.Slice((*int8)(unsafe.Pointer(&target[0])), len(target))
			}
			gemm.Gemm8PackedA(cols, packed[gr], b, zx, &ge, o)
			if !direct {
				// Row oy of channel m is row m·oh + oy of both grids.
				q8.Compact(dst[off*es:], out, mpg*geo.oh, geo.ow*es, ph.wq*es)
			}
		}
	}
	return y
}

// qPhases lays out the input of a convolution so that every filter tap is
// a row of bytes at some offset: the padded input is split into its
// stride phases, plane (ry, rx) holding the padded positions
// (a·sh + ry, b·sw + rx), so that tap (ky, kx) of output (oy, ox), at
// padded position (oy·sh + ky·dh, ox·sw + kx·dw), is element
// (oy + qy, ox + qx) of plane (ry, rx), where ky·dh = qy·sh + ry and
// kx·dw = qx·sw + rx. Over a "wide" grid of oh rows of wq columns (ow plus
// the largest qx), the tap's values for every output are then
// consecutive bytes of its plane, and the GEMM reads them in place; the
// extra columns are computed and dropped (they may read into the next
// plane, or the wq bytes of slack after the last). Only phases some tap
// uses are made: one for stride 1, and for a 1×1 filter of any stride.
type qPhases struct {
	g      q2d
	hq, wq int
	slot   []int // phase ry·sw+rx → its plane among a channel's, or -1
	np     int   // planes per channel
}

func newQPhases(g q2d) qPhases {
	p := qPhases{g: g, hq: g.oh + (g.kh-1)*g.dh/g.sh, wq: g.ow + (g.kw-1)*g.dw/g.sw, slot: make([]int, g.sh*g.sw)}
	for i := range p.slot {
		p.slot[i] = -1
	}
	for ky := 0; ky < g.kh; ky++ {
		for kx := 0; kx < g.kw; kx++ {
			if ph := (ky*g.dh%g.sh)*g.sw + kx*g.dw%g.sw; p.slot[ph] < 0 {
				p.slot[ph] = p.np
				p.np++
			}
		}
	}
	return p
}

// chanBytes is the size of one channel's planes.
func (p *qPhases) chanBytes() int { return p.np * p.hq * p.wq }

// cols is the number of columns of the wide output grid.
func (p *qPhases) cols() int { return p.g.oh * p.wq }

// offsets returns the offset of each filter tap's row, channel-major as
// the filter's k.
func (p *qPhases) offsets(channels int) []int {
	g := p.g
	offs := make([]int, 0, channels*g.kh*g.kw)
	for ch := 0; ch < channels; ch++ {
		for ky := 0; ky < g.kh; ky++ {
			for kx := 0; kx < g.kw; kx++ {
				qy, ry := ky*g.dh/g.sh, ky*g.dh%g.sh
				qx, rx := kx*g.dw/g.sw, kx*g.dw%g.sw
				plane := ch*p.np + p.slot[ry*g.sw+rx]
				offs = append(offs, plane*p.hq*p.wq+qy*p.wq+qx)
			}
		}
	}
	return offs
}

// fill writes the planes of channels [lo, hi) of x (one image and group)
// into dst, pad outside the input: each channel's planes set to pad at
// once, then the input's part of each row written.
func (p *qPhases) fill(dst, x []byte, lo, hi int, pad byte) {
	g := p.g
	size := p.hq * p.wq
	for ch := lo; ch < hi; ch++ {
		src := x[ch*g.ih*g.iw : (ch+1)*g.ih*g.iw]
		fillBytes(dst[ch*p.np*size:(ch+1)*p.np*size], pad)
		for ph, slot := range p.slot {
			if slot < 0 {
				continue
			}
			ry, rx := ph/g.sw, ph%g.sw
			plane := dst[(ch*p.np+slot)*size:][:size]
			// Columns [b0, b1) of a plane row lie inside the input:
			// 0 ≤ b·sw + rx - pw < iw; rows [a0, a1) likewise.
			b0 := min(p.wq, max(0, ceilDivInt(g.pw-rx, g.sw)))
			b1 := max(b0, min(p.wq, ceilDivInt(g.iw+g.pw-rx, g.sw)))
			a0 := min(p.hq, max(0, ceilDivInt(g.ph-ry, g.sh)))
			a1 := max(a0, min(p.hq, ceilDivInt(g.ih+g.ph-ry, g.sh)))
			if b0 == b1 {
				continue
			}
			ix := b0*g.sw + rx - g.pw
			for a := a0; a < a1; a++ {
				row := plane[a*p.wq+b0 : a*p.wq+b1]
				iy := a*g.sh + ry - g.ph
				in := src[iy*g.iw+ix : (iy+1)*g.iw]
				switch g.sw {
				case 1:
					copy(row, in)
				case 2:
					q8.Evens(row, in)
				default:
					for b := range row {
						row[b] = in[b*g.sw]
					}
				}
			}
		}
	}
}

// q2d is a 1-D or 2-D convolution's geometry, a 1-D one as 2-D of height
// 1.
type q2d struct {
	ih, iw, kh, kw, oh, ow int
	sh, sw, dh, dw, ph, pw int
}

func q2dOf(g *linalgConvGeom) q2d {
	if len(g.in) == 1 {
		return q2d{ih: 1, iw: g.in[0], kh: 1, kw: g.k[0], oh: 1, ow: g.out[0],
			sh: 1, sw: g.stride[0], dh: 1, dw: g.dil[0], pw: g.padB[0]}
	}
	return q2d{g.in[0], g.in[1], g.k[0], g.k[1], g.out[0], g.out[1],
		g.stride[0], g.stride[1], g.dil[0], g.dil[1], g.padB[0], g.padB[1]}
}

// qBuffers holds the byte buffers of the convolutions.
var qBuffers sync.Pool

// qBuffer returns a pooled buffer of n bytes.
func qBuffer(n int) []byte {
	p, _ := qBuffers.Get().(*[]byte)
	if p == nil || cap(*p) < n {
		b := make([]byte, n)
		return b
	}
	return (*p)[:n]
}

// qRelease returns a buffer to the pool.
func qRelease(b []byte) { qBuffers.Put(&b) }

// q8BytesOf returns the bytes of s.
func q8BytesOf(s []int32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 4*len(s))
}

// ceilDivInt is ⌈a/b⌉ for b > 0 and any a.
func ceilDivInt(a, b int) int {
	if a <= 0 {
		return -((-a) / b)
	}
	return (a + b - 1) / b
}

func fillBytes(d []byte, v byte) {
	if v == 0 || len(d) == 0 {
		clear(d)
		return
	}
	d[0] = v
	for n := 1; n < len(d); n *= 2 {
		copy(d[n:], d[:n])
	}
}
