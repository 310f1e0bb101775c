package kernels

import (
	"sync"
	"unsafe"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/tensor"
)

// Fast integer kernels for MatMulInteger, QLinearMatMul, ConvInteger and
// QLinearConv on kernels/gemm's 8-bit GEMM (VPDPBUSD where the CPU has
// it). They register above the reference kernels of quant.go and
// conv_integer.go. A constant weight (with a constant zero point) is packed
// once when the plan is built; any other 8-bit weight is packed per call.
//
// What they cover: 8-bit operands of either type; MatMul with a 2-D B
// (A's batch dimensions fold into its rows); 1-D and 2-D convolutions with
// any stride, dilation, padding and group; zero points per tensor, per row
// of A or output channel, or per column of B (not per row and per column
// at once). Anything else (a batched B, 3-D convolutions, both zero points
// varying) runs the reference kernel, which the fast kernel keeps for the
// purpose: shapes and zero points are often known only at run time, so
// the choice is made per call. They decline at build time only a node
// whose operand types are known not to be 8-bit.
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
	linear bool // QLinearMatMul
	ref    Kernel
	// The weight packed at build, for inputs that are the constants seen
	// then.
	constB, constBZ *tensor.Tensor
	packed          *gemm.PackedB8
}

// Input positions of the two ops.
func (k *qMatMul) slots() (a, az, b, bz int) {
	if k.linear {
		return 0, 2, 3, 5
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
	return newQMatMul(b, false, ref.(Kernel)), nil
}

func newQLinearMatMulFast(b *Build) (any, error) {
	if q8NotInt8(b, 0) || q8NotInt8(b, 3) {
		return nil, ErrDecline
	}
	ref, err := newQLinearMatMul(b)
	if err != nil {
		return nil, err
	}
	return newQMatMul(b, true, ref.(Kernel)), nil
}

func newQMatMul(b *Build, linear bool, ref Kernel) *qMatMul {
	k := &qMatMul{linear: linear, ref: ref}
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
	return k.ref.Run(c, in)
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
		y = c.AllocRaw(yz.DType, outShape...)
		if yz.DType == tensor.Uint8 {
			e.Uint8 = y.Data.([]uint8)
		} else {
			e.Int8 = y.Data.([]int8)
		}
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
// group, Y = W·im2col(X) on the 8-bit GEMM: ConvInteger (int32 out) or
// QLinearConv (requantized out, with an int32 bias).
type qConv struct {
	linear bool
	ref    Kernel
	ca     *linalgConvAttrs
	// The filter packed at build, one per group.
	constW, constWZ *tensor.Tensor
	packed          []*gemm.PackedA8
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
	return k.ref.Run(c, in)
}

// im2colPool holds im2col buffers.
var im2colPool sync.Pool

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
	g, err := linalgConvResolve(k.ca, x.Shape, w.Shape)
	if err != nil {
		return nil
	}
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
		sx, ok1 := q8Scales(xst, 1)
		sw, ok2 := q8Scales(wst, g.cout)
		sy, ok3 := q8Scales(yst, 1)
		if !ok1 || !ok2 || !ok3 {
			return nil
		}
		scale = make([]float32, g.cout)
		for m := range scale {
			scale[m] = sx[0] * sw[min(m, len(sw)-1)] / sy[0]
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
		y = c.AllocRaw(yz.DType, shape...)
		yd, _, _ = q8Bytes(y)
	} else {
		y = c.AllocRaw(tensor.Int32, shape...)
	}
	if outSp == 0 || g.n == 0 || g.cout == 0 {
		return y
	}

	r := len(g.in)
	inSp := tensor.NumElements(g.in)
	cpg, mpg := g.cin/g.group, g.cout/g.group
	kvol := tensor.NumElements(g.k)
	rows := cpg * kvol
	var pad byte
	if len(zx) == 1 {
		pad = byte(zx[0])
	}
	// A 1×1 stride-1 unpadded convolution reads x as it is.
	direct := kvol == 1
	for d := 0; d < r; d++ {
		direct = direct && g.stride[d] == 1 && g.padB[d] == 0 && g.out[d] == g.in[d]
	}
	var col []byte
	var colBuf *[]byte
	if !direct {
		colBuf, _ = im2colPool.Get().(*[]byte)
		if colBuf == nil {
			colBuf = new([]byte)
		}
		if cap(*colBuf) < rows*outSp {
			*colBuf = make([]byte, rows*outSp)
		}
		col = (*colBuf)[:rows*outSp]
		defer im2colPool.Put(colBuf)
	}
	o := q8Options(c)
	for n := 0; n < g.n; n++ {
		for gr := 0; gr < g.group; gr++ {
			xg := xd[(n*g.cin+gr*cpg)*inSp : (n*g.cin+(gr+1)*cpg)*inSp]
			b := gemm.Matrix8{Data: xg, Signed: xs, Stride: inSp}
			if !direct {
				c.Parallel(rows, func(lo, hi int) { im2col8(col, xg, g, lo, hi, pad) })
				b = gemm.Matrix8{Data: col, Signed: xs, Stride: outSp}
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
			if k.linear {
				if x := yd[off:]; y.DType == tensor.Uint8 {
					ge.Uint8 = x
				} else {
					ge.Int8 = unsafe.Slice((*int8)(unsafe.Pointer(&x[0])), len(x))
				}
			} else {
				ge.Int32 = y.Data.([]int32)[off:]
			}
			gemm.Gemm8PackedA(outSp, packed[gr], b, zx, &ge, o)
		}
	}
	return y
}

// im2col8 writes rows [lo, hi) of the column matrix of one image and group
// of a 1-D or 2-D convolution: row (ch, ky, kx) holds, for every output
// position, the input under that filter tap, or pad outside the input.
func im2col8(col, x []byte, g *linalgConvGeom, lo, hi int, pad byte) {
	// A 1-D convolution is a 2-D one of height 1.
	ih, iw, kh, kw, oh, ow := 1, g.in[0], 1, g.k[0], 1, g.out[0]
	sh, sw, dh, dw, ph, pw := 1, g.stride[0], 1, g.dil[0], 0, g.padB[0]
	if len(g.in) == 2 {
		ih, iw, kh, kw, oh, ow = g.in[0], g.in[1], g.k[0], g.k[1], g.out[0], g.out[1]
		sh, sw, dh, dw, ph, pw = g.stride[0], g.stride[1], g.dil[0], g.dil[1], g.padB[0], g.padB[1]
	}
	for row := lo; row < hi; row++ {
		ch, tap := row/(kh*kw), row%(kh*kw)
		ky, kx := tap/kw, tap%kw
		dst := col[row*oh*ow : (row+1)*oh*ow]
		src := x[ch*ih*iw : (ch+1)*ih*iw]
		// Output columns [x0, x1) read inside the input row.
		x0 := max(0, ceilDivInt(pw-kx*dw, sw))
		x1 := min(ow, max(x0, ceilDivInt(iw+pw-kx*dw, sw)))
		for oy := 0; oy < oh; oy++ {
			d := dst[oy*ow : (oy+1)*ow]
			iy := oy*sh - ph + ky*dh
			if iy < 0 || iy >= ih {
				fillBytes(d, pad)
				continue
			}
			fillBytes(d[:x0], pad)
			fillBytes(d[x1:], pad)
			s := src[iy*iw:]
			ix := x0*sw - pw + kx*dw
			if sw == 1 {
				copy(d[x0:x1], s[ix:ix+x1-x0])
				continue
			}
			for ox := x0; ox < x1; ox, ix = ox+1, ix+sw {
				d[ox] = s[ix]
			}
		}
	}
}

// ceilDivInt is ⌈a/b⌉ for b > 0 and any a.
func ceilDivInt(a, b int) int {
	if a <= 0 {
		return -((-a) / b)
	}
	return (a + b - 1) / b
}

func fillBytes(d []byte, v byte) {
	if v == 0 {
		clear(d)
		return
	}
	for i := range d {
		d[i] = v
	}
}
