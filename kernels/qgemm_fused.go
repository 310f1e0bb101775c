package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/kernels/q8"
	"github.com/inferd/inferd/tensor"
)

// Kernels for the integer ops optimize's QDQ rules write (domain
// ai.inferd, optimize/FUSED_OPS.md): QLinearConv and QLinearMatMul with a
// fused activation (and QLinearMatMul with an int32 bias) on the 8-bit
// GEMM of qgemm.go, QLinearAdd through a table of all 256×256 results,
// QLinearGlobalAveragePool; and fast per-tensor QuantizeLinear,
// DequantizeLinear and DynamicQuantizeLinear for float32, the conversions
// left at a quantized model's edges.
//
// Each computes what the standard ops it replaces compute
// (DequantizeLinear → op → activation → QuantizeLinear), up to the
// rounding of the float intermediate: the GEMM kernels requantize the
// exact integer sum once; QLinearAdd's table holds, for every pair of
// codes, exactly the float32 result of DequantizeLinear, Add, the
// activation and QuantizeLinear as the reference kernels compute them.

func init() {
	reg := func(op string, f Factory) { Default.Register(Spec{Domain: ir.DomainInferd, Op: op, New: f}) }
	reg("QLinearConv", newQFusedConv)
	reg("QLinearMatMul", newQFusedMatMul)
	reg("QLinearAdd", newQLinearAdd)
	reg("QLinearGlobalAveragePool", newQLinearGlobalAveragePool)
	Default.Register(Spec{Op: "QuantizeLinear", Priority: qgemmPriority, New: newQQuantizeFast})
	Default.Register(Spec{Op: "DequantizeLinear", Priority: qgemmPriority, New: newQDequantizeFast})
	Default.Register(Spec{Op: "DynamicQuantizeLinear", Priority: qgemmPriority, New: newQDynamicQuantizeFast})
	Default.Register(Spec{Op: "MaxPool", Since: 12, Priority: qgemmPriority, New: newQMaxPool8})
}

// ---- fused activation ----

// qAct is the activation of an ai.inferd QLinear op, applied to the real
// value before it is quantized: none, Relu, or Clip to [lo, hi].
type qAct struct {
	kind   gemm.Activation
	lo, hi float32
}

func newQAct(b *Build) (qAct, error) {
	a := b.Attrs()
	name, params := a.String("activation", ""), a.Floats("activation_params", nil)
	if err := a.Err(); err != nil {
		return qAct{}, err
	}
	switch name {
	case "":
		return qAct{kind: gemm.ActNone}, nil
	case "Relu":
		return qAct{kind: gemm.ActRelu}, nil
	case "Clip":
		if len(params) != 2 || !(params[0] <= params[1]) {
			return qAct{}, fmt.Errorf("activation Clip needs activation_params [min, max], got %v", params)
		}
		return qAct{kind: gemm.ActClip, lo: params[0], hi: params[1]}, nil
	}
	return qAct{}, fmt.Errorf("activation %q of a quantized op: %w", name, ErrUnsupported)
}

// epilogue sets e to apply the activation in the output's units (real
// values divided by the output scale ys).
func (a qAct) epilogue(e *gemm.QEpilogue, ys float32) {
	e.Act = a.kind
	if a.kind == gemm.ActClip {
		e.Min, e.Max = a.lo/ys, a.hi/ys
	}
}

// clampCodes applies the activation to quantized codes y (scale ys, zero
// point zy): quantizing is monotone, so Q(act(v)) is Q(v) clamped to
// [Q(lo), Q(hi)].
func (a qAct) clampCodes(y *tensor.Tensor, ys float32, zy int32) {
	if a.kind == gemm.ActNone {
		return
	}
	qlo, qhi, _ := linalgQRange(y.DType)
	q := func(v float32) float64 {
		return min(qhi, max(qlo, math.RoundToEven(float64(v/ys))+float64(zy)))
	}
	lo, hi := float64(zy), qhi
	if a.kind == gemm.ActClip {
		lo, hi = q(a.lo), q(a.hi)
	}
	switch d := y.Data.(type) {
	case []int8:
		for i, v := range d {
			d[i] = int8(min(hi, max(lo, float64(v))))
		}
	case []uint8:
		for i, v := range d {
			d[i] = uint8(min(hi, max(lo, float64(v))))
		}
	}
}

// qOutParams reads a scalar output scale and 8-bit zero point.
func qOutParams(ys, yz *tensor.Tensor) (float32, int32, bool) {
	if ys == nil || yz == nil || ys.DType != tensor.Float32 || ys.Len() != 1 || yz.Len() != 1 {
		return 0, 0, false
	}
	z, ok := q8Zeros(yz, yz.DType, 1)
	if !ok || (yz.DType != tensor.Int8 && yz.DType != tensor.Uint8) {
		return 0, 0, false
	}
	return ys.Data.([]float32)[0], z[0], true
}

// ---- QLinearConv and QLinearMatMul with an activation ----

func newQFusedConv(b *Build) (any, error) {
	act, err := newQAct(b)
	if err != nil {
		return nil, err
	}
	ref, err := newQLinearConv(b)
	if err != nil {
		return nil, err
	}
	k, err := newQConv(b, true, ref.(Kernel))
	if err != nil {
		return nil, err
	}
	k.(*qConv).act = act
	return k, nil
}

func newQFusedMatMul(b *Build) (any, error) {
	act, err := newQAct(b)
	if err != nil {
		return nil, err
	}
	return newQMatMul(&qMatMul{linear: true, ref: KernelFunc(qLinearMatMulBiasRef), act: act, bias: true}, b), nil
}

// qLinearMatMulBiasRef is the reference of ai.inferd.QLinearMatMul before
// its activation: QLinearMatMul with an int32 bias over B's columns added
// to the integer product before requantizing (B 2-D).
func qLinearMatMulBiasRef(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 8 {
		return nil, fmt.Errorf("QLinearMatMul needs at least 8 inputs, got %d", len(in))
	}
	for i, t := range in[:8] {
		if t == nil {
			return nil, fmt.Errorf("QLinearMatMul input %d is missing", i)
		}
	}
	a, as, az, bt, bs, bz := in[0], in[1], in[2], in[3], in[4], in[5]
	ys, zy, ok := qOutParams(in[6], in[7])
	if !ok {
		return nil, fmt.Errorf("QLinearMatMul y_scale %v and y_zero_point %v: want a float32 and an 8-bit scalar", in[6], in[7])
	}
	if len(bt.Shape) != 2 || len(a.Shape) < 1 || a.Shape[len(a.Shape)-1] != bt.Shape[0] {
		return nil, fmt.Errorf("ai.inferd.QLinearMatMul of %v and %v: B must be 2-D with A's last dimension as rows", a.Shape, bt.Shape)
	}
	k, n := bt.Shape[0], bt.Shape[1]
	m := a.Len() / max(k, 1)
	if as.Len() != 1 || az.Len() != 1 {
		return nil, fmt.Errorf("ai.inferd.QLinearMatMul a_scale and a_zero_point must be scalars")
	}
	a32, err := linalgQSubZP("QLinearMatMul", a, az, true)
	if err != nil {
		return nil, err
	}
	b32, err := linalgQSubZP("QLinearMatMul", bt, bz, false)
	if err != nil {
		return nil, err
	}
	asv, _ := linalgQInput(as)
	bsv, err := linalgQInput(bs)
	if err != nil || (len(bsv) != 1 && len(bsv) != n) {
		return nil, fmt.Errorf("QLinearMatMul b_scale %v: want 1 or %d values", bs, n)
	}
	var bias []int32
	if len(in) > 8 && in[8] != nil {
		bv, ok := in[8].Data.([]int32)
		if !ok || len(bv) != n {
			return nil, fmt.Errorf("QLinearMatMul bias %v: want %d int32 values", in[8], n)
		}
		bias = bv
	}
	lo, hi, _ := linalgQRange(in[7].DType)
	y := c.Alloc(in[7].DType, append(append([]int{}, a.Shape[:len(a.Shape)-1]...), n)...)
	q := make([]int32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int32
			for kk := 0; kk < k; kk++ {
				s += a32[i*k+kk] * b32[kk*n+j]
			}
			if bias != nil {
				s += bias[j]
			}
			mul := float64(asv[0] * bsv[min(j, len(bsv)-1)] / ys)
			q[i*n+j] = int32(min(hi, max(lo, math.RoundToEven(float64(s)*mul)+float64(zy))))
		}
	}
	linalgQStoreInts(y, q)
	return c.Outs(y), nil
}

// ---- QLinearAdd ----

// qAdd runs ai.inferd.QLinearAdd: C = Q(act(DQ(A) + DQ(B))), per-tensor
// parameters, numpy broadcasting. Every output is an entry of a table of
// the 65536 pairs of codes, built once at build time when the parameters
// are constants (per call otherwise).
type qAdd struct {
	act    qAct
	consts [6]*tensor.Tensor // the parameter tensors the table is for
	lut    *[1 << 16]byte
}

func newQLinearAdd(b *Build) (any, error) {
	act, err := newQAct(b)
	if err != nil {
		return nil, err
	}
	k := &qAdd{act: act}
	for i, slot := range []int{1, 2, 4, 5, 6, 7} {
		if k.consts[i] = b.Const(slot); k.consts[i] == nil {
			return k, nil
		}
	}
	if lut, err := k.table(k.consts[:], q8NotSigned(b, 0), q8NotSigned(b, 3)); err == nil {
		k.lut = lut
	}
	return k, nil
}

// q8NotSigned reports whether input i is declared uint8 (the table's rows
// and columns are read as int8 otherwise; a mismatch is caught per call).
func q8NotSigned(b *Build, i int) bool {
	return i < len(b.InputTypes) && b.InputTypes[i].Kind == ir.TensorKind && b.InputTypes[i].DType == tensor.Uint8
}

// table builds the result of every pair of codes (a, b), a's byte in the
// high half of the index, for parameters p = a_scale, a_zero_point,
// b_scale, b_zero_point, c_scale, c_zero_point.
func (k *qAdd) table(p []*tensor.Tensor, aUnsigned, bUnsigned bool) (*[1 << 16]byte, error) {
	sa, za, ok1 := qScalarParams(p[0], p[1])
	sb, zb, ok2 := qScalarParams(p[2], p[3])
	sc, zc, ok3 := qScalarParams(p[4], p[5])
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("QLinearAdd scales and zero points must be float32 and 8-bit scalars")
	}
	if (p[1].DType == tensor.Uint8) != aUnsigned || (p[3].DType == tensor.Uint8) != bUnsigned {
		return nil, fmt.Errorf("QLinearAdd zero points differ in type from their operands")
	}
	lo, hi, _ := linalgQRange(p[5].DType)
	val := func(code int, unsigned bool) float32 {
		if unsigned {
			return float32(code)
		}
		return float32(int8(code))
	}
	var fa, fb [256]float32
	for i := range 256 {
		// As DequantizeLinear computes: (x - zero) · scale in float32.
		fa[i] = (val(i, aUnsigned) - za) * sa
		fb[i] = (val(i, bUnsigned) - zb) * sb
	}
	lut := new([1 << 16]byte)
	for i := range 256 {
		for j := range 256 {
			v := fa[i] + fb[j]
			switch k.act.kind {
			case gemm.ActRelu:
				v = max(v, 0)
			case gemm.ActClip:
				v = min(max(v, k.act.lo), k.act.hi)
			}
			r := min(hi, max(lo, math.RoundToEven(float64(v/sc))+float64(zc)))
			lut[i<<8|j] = byte(int32(r)) // the low byte: int8 or uint8 alike
		}
	}
	return lut, nil
}

// qScalarParams reads a float32 scalar scale and an 8-bit scalar zero
// point (as a float32, as DequantizeLinear reads it).
func qScalarParams(s, z *tensor.Tensor) (float32, float32, bool) {
	if s == nil || z == nil || s.DType != tensor.Float32 || s.Len() != 1 || z.Len() != 1 {
		return 0, 0, false
	}
	switch v := z.Data.(type) {
	case []int8:
		return s.Data.([]float32)[0], float32(v[0]), true
	case []uint8:
		return s.Data.([]float32)[0], float32(v[0]), true
	}
	return 0, 0, false
}

func (k *qAdd) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 8 {
		return nil, fmt.Errorf("QLinearAdd needs 8 inputs, got %d", len(in))
	}
	for i, t := range in[:8] {
		if t == nil {
			return nil, fmt.Errorf("QLinearAdd input %d is missing", i)
		}
	}
	a, b := in[0], in[3]
	ad, _, ok1 := q8Bytes(a)
	bd, _, ok2 := q8Bytes(b)
	if !ok1 || !ok2 || a.DType != in[2].DType || b.DType != in[5].DType {
		return nil, fmt.Errorf("QLinearAdd of %v and %v with zero points %v and %v: want 8-bit operands of their zero points' types",
			a.DType, b.DType, in[2].DType, in[5].DType)
	}
	p := [6]*tensor.Tensor{in[1], in[2], in[4], in[5], in[6], in[7]}
	shape, err := BroadcastShapes(a.Shape, b.Shape)
	if err != nil {
		return nil, fmt.Errorf("QLinearAdd: %w", err)
	}
	if tensor.EqualShapes(a.Shape, b.Shape) {
		if vp, ok := k.vecParams(p, a.DType == tensor.Int8, b.DType == tensor.Int8); ok {
			y := c.AllocRaw(in[7].DType, shape...)
			yd, _, _ := q8Bytes(y)
			const grain = 1 << 14
			c.Parallel((len(yd)+grain-1)/grain, func(lo, hi int) {
				lo, hi = lo*grain, min(len(yd), hi*grain)
				_ = q8.Add(yd[lo:hi], ad[lo:hi], bd[lo:hi], &vp) // vecParams checked what Add checks
			})
			return c.Outs(y), nil
		}
	}
	lut := k.lut
	for i := range p {
		if p[i] != k.consts[i] {
			lut = nil
		}
	}
	if lut == nil {
		var err error
		if lut, err = k.table(p[:], a.DType == tensor.Uint8, b.DType == tensor.Uint8); err != nil {
			return nil, err
		}
	}
	y := c.AllocRaw(in[7].DType, shape...)
	yd, _, _ := q8Bytes(y)
	if tensor.EqualShapes(a.Shape, b.Shape) {
		const grain = 1 << 14
		c.Parallel((len(yd)+grain-1)/grain, func(lo, hi int) {
			qAddBytes(lut, yd[lo*grain:min(len(yd), hi*grain)], ad[lo*grain:], bd[lo*grain:])
		})
		return c.Outs(y), nil
	}
	Binary(ad, a.Shape, bd, b.Shape, yd, shape, func(x, z byte) byte { return lut[uint16(x)<<8|uint16(z)] })
	return c.Outs(y), nil
}

// vecParams returns the parameters p (as for table) for q8.Add, which
// computes what the table holds without it; ok is false where q8.Add
// declines them (the table then serves) or they are malformed (table
// reports it).
func (k *qAdd) vecParams(p [6]*tensor.Tensor, aSigned, bSigned bool) (q8.AddParams, bool) {
	sa, za, ok1 := qScalarParams(p[0], p[1])
	sb, zb, ok2 := qScalarParams(p[2], p[3])
	sc, zc, ok3 := qScalarParams(p[4], p[5])
	if !ok1 || !ok2 || !ok3 || (p[1].DType == tensor.Int8) != aSigned || (p[3].DType == tensor.Int8) != bSigned {
		return q8.AddParams{}, false
	}
	vp := q8.AddParams{AScale: sa, BScale: sb, CScale: sc, AZero: int32(za), BZero: int32(zb), CZero: int32(zc),
		ASigned: aSigned, BSigned: bSigned, CSigned: p[5].DType == tensor.Int8,
		Lo: float32(math.Inf(-1)), Hi: float32(math.Inf(1))}
	switch k.act.kind {
	case gemm.ActRelu:
		vp.Lo = 0
	case gemm.ActClip:
		vp.Lo, vp.Hi = k.act.lo, k.act.hi
	}
	return vp, vp.Check() == nil
}

// qAddBytes sets y[i] = lut[a[i], b[i]].
func qAddBytes(lut *[1 << 16]byte, y, a, b []byte) {
	a, b = a[:len(y)], b[:len(y)]
	for i := range y {
		y[i] = lut[uint16(a[i])<<8|uint16(b[i])]
	}
}

// ---- QLinearGlobalAveragePool ----

// newQLinearGlobalAveragePool builds ai.inferd.QLinearGlobalAveragePool(X,
// x_scale, x_zero_point, y_scale, y_zero_point): the mean of each
// channel's plane of NCHW… X, requantized. The sum of codes is exact; the
// mean is scaled in float64.
func newQLinearGlobalAveragePool(b *Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 5 || in[0] == nil || in[1] == nil || in[2] == nil || in[3] == nil || in[4] == nil {
			return nil, fmt.Errorf("QLinearGlobalAveragePool needs 5 inputs")
		}
		x := in[0]
		sx, zx, ok1 := qScalarParams(in[1], in[2])
		sy, zy, ok2 := qOutParams(in[3], in[4])
		xd, signed, ok3 := q8Bytes(x)
		if !ok1 || !ok2 || !ok3 || x.DType != in[2].DType || len(x.Shape) < 2 {
			return nil, fmt.Errorf("QLinearGlobalAveragePool of %v: want 8-bit NC… input with scalar float32 scales and zero points of its type", x)
		}
		planes := x.Shape[0] * x.Shape[1]
		sp := x.Len() / max(planes, 1)
		shape := append([]int{}, x.Shape...)
		for i := 2; i < len(shape); i++ {
			shape[i] = 1
		}
		y := c.AllocRaw(in[4].DType, shape...)
		yd, _, _ := q8Bytes(y)
		lo, hi, _ := linalgQRange(in[4].DType)
		for p := 0; p < planes; p++ {
			var s int64
			if signed {
				for _, v := range xd[p*sp : (p+1)*sp] {
					s += int64(int8(v))
				}
			} else {
				for _, v := range xd[p*sp : (p+1)*sp] {
					s += int64(v)
				}
			}
			mean := (float64(s) - float64(zx)*float64(sp)) * float64(sx) / float64(max(sp, 1))
			r := min(hi, max(lo, math.RoundToEven(float64(float32(mean)/sy))+float64(zy)))
			yd[p] = byte(int32(r))
		}
		return c.Outs(y), nil
	}), nil
}

// ---- QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear ----

// qQuantize sets y[i] = saturate(roundEven(x[i]/s) + z), y int8 when
// signed (else uint8), with the true float32 division of QuantizeLinear.
func qQuantize(y []byte, x []float32, s float32, z int32, signed bool) {
	q8.Quantize(y, x, s, z, signed)
}

// newQQuantizeFast runs QuantizeLinear of float32 to 8 bits with one
// scale and zero point; anything else goes to the reference.
func newQQuantizeFast(b *Build) (any, error) {
	ref, err := newQuantizeLinear(b)
	if err != nil {
		return nil, err
	}
	a := b.Attrs()
	block, outDT := a.Int("block_size", 0), a.Int("output_dtype", 0)
	if a.Err() != nil || block != 0 {
		return ref, nil
	}
	refK := ref.(Kernel)
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 3 || in[0] == nil || in[0].DType != tensor.Float32 {
			return refK.Run(c, in)
		}
		s, z, ok := qOutParams(in[1], in[2])
		if !ok || (outDT != 0 && tensor.DType(outDT) != in[2].DType) || !(s > 0) {
			return refK.Run(c, in)
		}
		x := in[0].Data.([]float32)
		y := c.AllocRaw(in[2].DType, in[0].Shape...)
		yd, _, _ := q8Bytes(y)
		signed := y.DType == tensor.Int8
		const grain = 1 << 14
		c.Parallel((len(x)+grain-1)/grain, func(lo, hi int) {
			qQuantize(yd[lo*grain:min(len(x), hi*grain)], x[lo*grain:], s, z, signed)
		})
		return c.Outs(y), nil
	}), nil
}

// newQDequantizeFast runs DequantizeLinear of 8 bits to float32 with one
// scale and zero point; anything else goes to the reference.
func newQDequantizeFast(b *Build) (any, error) {
	ref, err := newDequantizeLinear(b)
	if err != nil {
		return nil, err
	}
	a := b.Attrs()
	if block := a.Int("block_size", 0); a.Err() != nil || block != 0 {
		return ref, nil
	}
	refK := ref.(Kernel)
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 3 || in[0] == nil || in[2] == nil || in[2].DType != in[0].DType {
			return refK.Run(c, in)
		}
		s, z, ok := qScalarParams(in[1], in[2])
		xd, signed, ok2 := q8Bytes(in[0])
		if !ok || !ok2 {
			return refK.Run(c, in)
		}
		y := c.AllocRaw(tensor.Float32, in[0].Shape...)
		yd := y.Data.([]float32)
		const grain = 1 << 14
		c.Parallel((len(yd)+grain-1)/grain, func(lo, hi int) {
			d, x := yd[lo*grain:min(len(yd), hi*grain)], xd[lo*grain:]
			x = x[:len(d)]
			if signed {
				xs := unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
				for i, v := range xs {
					d[i] = (float32(v) - z) * s
				}
				return
			}
			for i, v := range x {
				d[i] = (float32(v) - z) * s
			}
		})
		return c.Outs(y), nil
	}), nil
}

// newQDynamicQuantizeFast runs DynamicQuantizeLinear of float32 with the
// reference's arithmetic: the range [min(x, 0), max(x, 0)] over 255 codes.
func newQDynamicQuantizeFast(b *Build) (any, error) {
	ref, err := newDynamicQuantizeLinear(b)
	if err != nil {
		return nil, err
	}
	refK := ref.(Kernel)
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil || in[0].DType != tensor.Float32 {
			return refK.Run(c, in)
		}
		x := in[0].Data.([]float32)
		mn, mx, finite := q8.MinMax(x)
		if !finite {
			return refK.Run(c, in)
		}
		scale := float32(1) / 255
		if mx != mn {
			scale = (mx - mn) / 255
		}
		zp := math.RoundToEven(float64(min(255, max(0, 0-mn/scale))))
		y := c.AllocRaw(tensor.Uint8, in[0].Shape...)
		yd := y.Data.([]uint8)
		const grain = 1 << 14
		c.Parallel((len(x)+grain-1)/grain, func(lo, hi int) {
			qQuantize(yd[lo*grain:min(len(x), hi*grain)], x[lo*grain:], scale, int32(zp), false)
		})
		return c.Outs(y, tensor.Scalar(scale), tensor.Scalar(uint8(zp))), nil
	}), nil
}

// ---- MaxPool on 8-bit values ----

// newQMaxPool8 runs MaxPool over two spatial dimensions of int8 or uint8
// values without dilation or indices (a quantized model's pooling, which
// qdq-move runs on the integers): per output row, the elementwise maximum
// of the window's input rows, then each window's maximum of that row.
// Anything else goes to the standard kernel.
func newQMaxPool8(b *Build) (any, error) {
	if q8NotInt8(b, 0) {
		return nil, ErrDecline
	}
	ref, err := newMaxPool(b)
	if err != nil {
		return nil, err
	}
	refK := ref.(Kernel)
	a := b.Attrs()
	w := nnPoolAttrs(a)
	if a.Err() != nil || len(b.Node.Outputs) > 1 && b.Node.Outputs[1] != "" {
		return ref, nil
	}
	cache := new(nnPoolCache)
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil || len(in[0].Shape) != 4 {
			return refK.Run(c, in)
		}
		x := in[0]
		xd, signed, ok := q8Bytes(x)
		if !ok {
			return refK.Run(c, in)
		}
		g, p, err := cache.setup(&w, x.Shape)
		if err != nil || p.in[0] != 1 || p.tab[1].d != 1 || p.tab[2].d != 1 {
			return refK.Run(c, in)
		}
		y := c.AllocRaw(x.DType, x.Shape[0], x.Shape[1], p.out[1], p.out[2])
		yd, _, _ := q8Bytes(y)
		var flip byte
		if signed {
			flip = 0x80 // int8 x as uint8 x+128: the same order
		}
		planes := x.Shape[0] * x.Shape[1]
		if g.k[1] == 3 && g.s[1] == 2 {
			c.Parallel(planes, func(lo, hi int) { q8MaxPlanes3S2(p, g.pb[1], xd, yd, lo, hi, signed) })
			return c.Outs(y), nil
		}
		c.Parallel(planes, func(lo, hi int) { qMaxPlanes(p, xd, yd, lo, hi, flip) })
		return c.Outs(y), nil
	}), nil
}

// q8MaxPlanes3S2 pools planes [lo, hi) of x into y for windows 3 wide at
// column stride 2 (pb columns of padding before the first), in the
// vector kernels of q8: per output row, the maximum of the window's rows
// into a row buffer padded with the lowest code (the column window of
// output j is then buffer bytes 2j to 2j+2), then the windows' maxima.
func q8MaxPlanes3S2(p *nnPool3, pb int, x, y []byte, lo, hi int, signed bool) {
	W, OW := p.in[2], p.out[2]
	th := &p.tab[1]
	var lowest byte
	if signed {
		lowest = 0x80
	}
	var buf [1024]byte
	n := max(2*OW+2, pb+W)
	m := buf[:0]
	if n <= len(buf) {
		m = buf[:n]
	} else {
		m = make([]byte, n)
	}
	fillBytes(m[:pb], lowest)
	fillBytes(m[pb+W:], lowest)
	row := m[pb : pb+W]
	for pl := lo; pl < hi; pl++ {
		xs := x[pl*p.inP : (pl+1)*p.inP]
		ys := y[pl*p.outP : (pl+1)*p.outP]
		for oh := 0; oh < p.out[1]; oh++ {
			out := ys[oh*OW : (oh+1)*OW]
			r0, r1 := th.base[oh]+th.lo[oh], th.base[oh]+th.hi[oh]
			if r0 >= r1 {
				fillBytes(out, lowest) // every window in padding
				continue
			}
			copy(row, xs[r0*W:(r0+1)*W])
			for r := r0 + 1; r < r1; r++ {
				q8.MaxInto(row, xs[r*W:(r+1)*W], signed)
			}
			q8.HMax3S2(out, m, signed)
		}
	}
}

// qMaxPlanes pools planes [lo, hi) of x into y, comparing bytes XORed
// with flip as uint8 (0x80 for int8 values).
func qMaxPlanes(p *nnPool3, x, y []byte, lo, hi int, flip byte) {
	W := p.in[2]
	th, tw := &p.tab[1], &p.tab[2]
	var buf [1024]byte
	row := buf[:0]
	if W <= len(buf) {
		row = buf[:W]
	} else {
		row = make([]byte, W)
	}
	f64 := uint64(flip) * 0x0101010101010101
	for pl := lo; pl < hi; pl++ {
		xs := x[pl*p.inP : (pl+1)*p.inP]
		ys := y[pl*p.outP : (pl+1)*p.outP]
		for oh := 0; oh < p.out[1]; oh++ {
			out := ys[oh*p.out[2] : (oh+1)*p.out[2]]
			r0, r1 := th.base[oh]+th.lo[oh], th.base[oh]+th.hi[oh]
			if r0 >= r1 {
				fillBytes(out, flip) // every window in padding: the lowest value
				continue
			}
			qMaxRow(row, xs[r0*W:(r0+1)*W], f64, true)
			for r := r0 + 1; r < r1; r++ {
				qMaxRow(row, xs[r*W:(r+1)*W], f64, false)
			}
			for ow := range out {
				m := int32(0)
				for _, v := range row[tw.base[ow]+tw.lo[ow] : tw.base[ow]+tw.hi[ow]] {
					d := int32(v) - m
					m += d &^ (d >> 31) // max(m, v), branch-free
				}
				out[ow] = byte(m) ^ flip
			}
		}
	}
}

// qMaxRow sets dst to the bytewise unsigned maximum of dst and src^flip
// (to src^flip when first), eight bytes a step.
func qMaxRow(dst, src []byte, flip uint64, first bool) {
	const hi = 0x8080808080808080
	src = src[:len(dst)]
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		b := binary.LittleEndian.Uint64(src[i:]) ^ flip
		if !first {
			a := binary.LittleEndian.Uint64(dst[i:])
			// a ≥ b per byte: the high bits decide unless equal, then the
			// low seven bits, compared by a subtraction that cannot
			// borrow across bytes.
			d := (a | hi) - (b &^ hi)
			ge := ((a &^ b) | (^(a ^ b) & d)) & hi
			mask := (ge >> 7) * 0xff
			b = a&mask | b&^mask
		}
		binary.LittleEndian.PutUint64(dst[i:], b)
	}
	f := byte(flip)
	for ; i < len(dst); i++ {
		v := src[i] ^ f
		if first || v > dst[i] {
			dst[i] = v
		}
	}
}
