package gemm

import (
	"fmt"
	"math"
	"unsafe"
)

// # 8-bit integer GEMM
//
// Gemm8, Gemm8PackedB and Gemm8PackedA compute the exact integer sums
//
//	s[i][j] = Σ_kk (A[i][kk] - za[i]) · (B[kk][j] - zb[j])
//
// of 8-bit operands (uint8 or int8, either side) with int32 accumulation,
// and hand each s[i][j] to a QEpilogue that stores it as int32
// (MatMulInteger, ConvInteger), as float32 after scaling (dynamic
// quantization: y = sx·sw[j]·s + bias[j]) or requantized to uint8 or int8
// (QLinearMatMul, QLinearConv: y = sat(roundEven(s·scale) + zy)).
//
// The kernels multiply unsigned by signed bytes (VPDPBUSD's u8×s8), four
// steps of k at a time. One operand is therefore held as uint8 and the
// other as int8: the packed weight is int8, the activation it meets uint8.
// An operand of the other type is flipped on packing (x ^ 0x80, which is
// x ∓ 128) with its zero point moved by the same amount, which leaves
// every difference x - z, and so s, unchanged. Zero points are applied
// after the product, from row sums of A and column sums of B:
//
//	s = Σ A·B - zb[j]·ΣA[i][·] - za[i]·ΣB[·][j] + k·za[i]·zb[j]
//
// so the inner loop is a plain u8×s8 product and a symmetric weight
// (zb = 0) costs nothing extra.
//
// Packed formats, shared by every implementation: A in panels of MR rows,
// element (i, kk) at data[p·kg·4MR + (kk/4)·4MR + (i%MR)·4 + kk%4]; B in
// panels of NR columns, element (kk, j) at data[p·kg·4NR + (kk/4)·4NR +
// (j%NR)·4 + kk%4], where kg = ⌈k/4⌉ and the padding (k up to 4·kg, rows
// or columns up to the panel) is zero.

// Matrix8 is a row-major 8-bit operand: uint8 values, or int8 values when
// Signed, stored as bytes. Element (i, j) of the stored matrix is
// Data[i*Stride+j]; with Trans the operand is its transpose.
//
// Rows, if set, replaces Stride: row i starts at Data[Rows[i]], so that
// the rows of an operand may lie anywhere (overlapping, too). A
// convolution passes its filter taps this way, each a shifted view of the
// padded input, instead of copying them into an im2col matrix. Rows
// cannot be combined with Trans.
type Matrix8 struct {
	Data   []byte
	Signed bool
	Stride int
	Trans  bool
	Rows   []int
}

// row returns the offset in Data of stored row i.
func (m Matrix8) row(i int) int {
	if m.Rows != nil {
		return m.Rows[i]
	}
	return i * m.Stride
}

// U8 returns a Matrix8 over uint8 data with row stride stride.
func U8(data []uint8, stride int) Matrix8 { return Matrix8{Data: data, Stride: stride} }

// S8 returns a Matrix8 over int8 data with row stride stride; the bytes
// are shared, not copied.
func S8(data []int8, stride int) Matrix8 {
	return Matrix8{Data: unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), len(data)), Signed: true, Stride: stride}
}

// at returns element (i, j) of op(m) as an integer in its own domain.
func (m Matrix8) at(i, j int) int32 {
	var v byte
	if m.Trans {
		v = m.Data[m.row(j)+i]
	} else {
		v = m.Data[m.row(i)+j]
	}
	if m.Signed {
		return int32(int8(v))
	}
	return int32(v)
}

// check panics unless op(m) can be rows×cols.
func (m Matrix8) check(name string, rows, cols int) {
	if m.Rows == nil {
		checkDims(name, rows, cols, m.Stride, m.Trans, len(m.Data))
		return
	}
	if m.Trans {
		panic(fmt.Sprintf("gemm: %s: Rows with Trans", name))
	}
	if len(m.Rows) < rows {
		panic(fmt.Sprintf("gemm: %s: %d row offsets, need %d", name, len(m.Rows), rows))
	}
	for i, r := range m.Rows[:rows] {
		if r < 0 || r+cols > len(m.Data) {
			panic(fmt.Sprintf("gemm: %s: row %d at %d, %d columns, past %d elements", name, i, r, cols, len(m.Data)))
		}
	}
}

// checkDims panics unless a stored matrix of n elements with row stride
// stride (transposed when trans) can hold an operand of rows×cols.
func checkDims(name string, rows, cols, stride int, trans bool, n int) {
	sr, sc := rows, cols
	if trans {
		sr, sc = cols, rows
	}
	if sr == 0 || sc == 0 {
		return
	}
	if stride < sc {
		panic(fmt.Sprintf("gemm: %s: stride %d < %d columns", name, stride, sc))
	}
	if need := (sr-1)*stride + sc; n < need {
		panic(fmt.Sprintf("gemm: %s: %d elements, need %d for %d×%d (stride %d)", name, n, need, sr, sc, stride))
	}
}

// zeroPoints are the zero points of an operand's rows (A) or columns
// (B) in the kernel's domain (after any flip).
type zeroPoints struct {
	n     int     // 0: all zero; 1: all equal to s; 2: they differ, see v
	s     int32   // the common value (n = 1)
	v     []int32 // the values in the operand's own domain (n = 2)
	shift int32   // added to v's values
}

// at returns the zero point of row or column i.
func (z zeroPoints) at(i int) int32 {
	if z.n == 2 {
		return z.v[i] + z.shift
	}
	return z.s
}

// newZeroPoints validates zero points given in the operand's own domain
// (nil, one, or n values) and moves them into the kernel's by shift
// (±128 for a flipped operand).
func newZeroPoints(name string, z []int32, n int, signed bool, shift int32) zeroPoints {
	if len(z) != 0 && len(z) != 1 && len(z) != n {
		panic(fmt.Sprintf("gemm: %s: %d zero points, want 1 or %d", name, len(z), n))
	}
	lo, hi := int32(0), int32(255)
	if signed {
		lo, hi = -128, 127
	}
	for _, v := range z {
		if v < lo || v > hi {
			panic(fmt.Sprintf("gemm: %s: zero point %d out of range", name, v))
		}
	}
	switch {
	case len(z) == 0:
		if shift == 0 {
			return zeroPoints{}
		}
		return zeroPoints{n: 1, s: shift}
	case distinct(z) == 1:
		if z[0]+shift == 0 {
			return zeroPoints{}
		}
		return zeroPoints{n: 1, s: z[0] + shift}
	}
	return zeroPoints{n: 2, v: z, shift: shift}
}

// flipShift is what a flip adds to an operand's values (and zero point):
// -128 for uint8 held as int8, +128 for int8 held as uint8, 0 when the
// operand already has the kernel's type.
func flipShift(signed, wantSigned bool) int32 {
	switch {
	case signed == wantSigned:
		return 0
	case wantSigned:
		return -128
	}
	return 128
}

// PackedA8 is an m×k 8-bit left operand (a convolution's weight) packed
// as int8 in panels of MR rows, with its row sums and zero points. It is
// immutable and safe for concurrent use.
type PackedA8 struct {
	m, k int
	data []byte
	sums []int32 // Σ_kk A[i][kk], kernel domain
	zero zeroPoints
}

// PackedB8 is a k×n 8-bit right operand (a MatMul's weight) packed as int8
// in panels of NR columns, with its column sums and zero points. It is
// immutable and safe for concurrent use.
type PackedB8 struct {
	k, n int
	data []byte
	sums []int32 // Σ_kk B[kk][j], kernel domain
	zero zeroPoints
}

// Dims returns the operand's rows and columns.
func (p *PackedA8) Dims() (m, k int) { return p.m, p.k }

// Dims returns the operand's rows and columns.
func (p *PackedB8) Dims() (k, n int) { return p.k, p.n }

// Bytes returns the size of the packed data.
func (p *PackedA8) Bytes() int { return len(p.data) }

// Bytes returns the size of the packed data.
func (p *PackedB8) Bytes() int { return len(p.data) }

// PackA8 packs op(a), m×k, as the int8 left operand of Gemm8PackedA, with
// zero points zero (nil, one, or one per row, in a's own domain).
func PackA8(m, k int, a Matrix8, zero []int32) *PackedA8 {
	a.check("A", m, k)
	shift := flipShift(a.Signed, true)
	kg := ceilDiv(k, 4)
	p := &PackedA8{m: m, k: k, data: make([]byte, ceilDiv(m, MR)*MR*kg*4),
		zero: newZeroPoints("A", zero, m, a.Signed, shift)}
	packA8(p.data, a, 0, m, k, shift != 0)
	p.sums = make([]int32, m)
	rowSums8(p.sums, a, 0, m, k, shift)
	return p
}

// PackB8 packs op(b), k×n, as the int8 right operand of Gemm8PackedB, with
// zero points zero (nil, one, or one per column, in b's own domain).
func PackB8(k, n int, b Matrix8, zero []int32) *PackedB8 {
	b.check("B", k, n)
	shift := flipShift(b.Signed, true)
	kg := ceilDiv(k, 4)
	p := &PackedB8{k: k, n: n, data: make([]byte, ceilDiv(n, NR)*NR*kg*4),
		zero: newZeroPoints("B", zero, n, b.Signed, shift)}
	packB8(p.data, b, k, 0, n, shift != 0)
	p.sums = make([]int32, n)
	colSums8(p.sums, b, k, 0, n, shift)
	return p
}

// packA8 packs rows [i0, i1) of op(a) (k columns) into dst as MR-row
// panels of 4-byte k groups, flipping the sign bit when flip is set.
func packA8(dst []byte, a Matrix8, i0, i1, k int, flip bool) {
	kg := ceilDiv(k, 4)
	if kg == 0 {
		return
	}
	var x byte
	if flip {
		x = 0x80
	}
	for p, i := 0, i0; i < i1; p, i = p+1, i+MR {
		panel := dst[p*kg*4*MR : (p+1)*kg*4*MR]
		rows := min(MR, i1-i)
		if a.Trans || a.Rows != nil {
			clear(panel)
			for r := 0; r < rows; r++ {
				for kk := 0; kk < k; kk++ {
					panel[(kk>>2)*4*MR+r*4+kk&3] = byte(a.at(i+r, kk)) ^ x
				}
			}
			continue
		}
		src := a.Data[i*a.Stride:]
		g0 := 0
		if rows == MR {
			if g0 = packA8Fast(panel, src, a.Stride, k); g0 > 0 && flip {
				flipAll(panel[:g0*4*MR])
			}
		}
		packA8Rows(panel, src, a.Stride, rows, k, g0, x)
	}
}

// packA8Rows packs k groups [g0, ⌈k/4⌉) of rows rows of a row-major A
// (rows ld bytes apart) into an A panel, XORing each byte with x; rows
// past rows and steps past k are zeroed.
func packA8Rows(panel, src []byte, ld, rows, k, g0 int, x byte) {
	kg := ceilDiv(k, 4)
	x4 := uint32(x) * 0x01010101
	full := k / 4
	for r := 0; r < MR; r++ {
		if r >= rows {
			for g := g0; g < kg; g++ {
				*(*uint32)(unsafe.Pointer(&panel[g*4*MR+r*4])) = 0
			}
			continue
		}
		row := src[r*ld : r*ld+k]
		for g := g0; g < full; g++ {
			w := *(*uint32)(unsafe.Pointer(&row[4*g]))
			*(*uint32)(unsafe.Pointer(&panel[g*4*MR+r*4])) = w ^ x4
		}
		if full < kg && g0 <= full {
			var w [4]byte
			for s, v := range row[4*full:] {
				w[s] = v ^ x
			}
			copy(panel[full*4*MR+r*4:], w[:])
		}
	}
}

// flipAll flips the sign bit of every byte of b.
func flipAll(b []byte) {
	n := len(b) &^ 7
	for i := 0; i < n; i += 8 {
		*(*uint64)(unsafe.Pointer(&b[i])) ^= 0x8080808080808080
	}
	for i := n; i < len(b); i++ {
		b[i] ^= 0x80
	}
}

// packB8 packs columns [j0, j1) of op(b) (k rows) into dst as NR-column
// panels of 4-byte k groups, flipping the sign bit when flip is set.
func packB8(dst []byte, b Matrix8, k, j0, j1 int, flip bool) {
	kg := ceilDiv(k, 4)
	if kg == 0 {
		return
	}
	for p, j := 0, j0; j < j1; p, j = p+1, j+NR {
		packB8Panel(dst[p*kg*4*NR:(p+1)*kg*4*NR], b, k, j, min(NR, j1-j), flip)
	}
}

// packB8Panel packs the cols columns of op(b) that start at column j.
func packB8Panel(panel []byte, b Matrix8, k, j, cols int, flip bool) {
	kg := ceilDiv(k, 4)
	var x byte
	if flip {
		x = 0x80
	}
	if b.Trans {
		// B stored n×k: column j+c of op(B) is row j+c of the storage.
		clear(panel)
		for c := 0; c < cols; c++ {
			row := b.Data[b.row(j+c) : b.row(j+c)+k]
			for kk, v := range row {
				panel[(kk>>2)*4*NR+c*4+kk&3] = v ^ x
			}
		}
		return
	}
	g0 := 0
	switch {
	case cols < NR && b.Rows != nil:
		g0 = packB8PartialRows(panel, b.Data, b.Rows, j, k, cols, x)
	case cols < NR:
		g0 = packB8Partial(panel, b.Data[j:], b.Stride, k, cols, x)
	case b.Rows != nil:
		g0 = packB8FastRows(panel, b.Data, b.Rows, j, k, x)
	default:
		g0 = packB8Fast(panel, b.Data[j:], b.Stride, k, x)
	}
	for g := g0; g < kg; g++ {
		d := panel[g*4*NR : (g+1)*4*NR]
		steps := min(4, k-4*g)
		if steps < 4 || cols < NR {
			clear(d)
		}
		for s := 0; s < steps; s++ {
			row := b.Data[b.row(4*g+s)+j : b.row(4*g+s)+j+cols]
			for c, v := range row {
				d[c*4+s] = v ^ x
			}
		}
	}
}

// rowSums8 sets sums[i-i0] to the sum of row i of op(a) for i in [i0, i1),
// in the kernel domain (each value moved by shift).
func rowSums8(sums []int32, a Matrix8, i0, i1, k int, shift int32) {
	if k == 0 {
		clear(sums[:i1-i0])
		return
	}
	for i := i0; i < i1; i++ {
		var s int32
		if !a.Trans {
			s = sumBytes(a.Data[a.row(i):a.row(i)+k], a.Signed)
		} else {
			for kk := 0; kk < k; kk++ {
				s += a.at(i, kk)
			}
		}
		sums[i-i0] = s + int32(k)*shift
	}
}

// colSums8 sets sums[j-j0] to the sum of column j of op(b) for j in
// [j0, j1), in the kernel domain.
func colSums8(sums []int32, b Matrix8, k, j0, j1 int, shift int32) {
	s := sums[:j1-j0]
	if k == 0 {
		clear(s)
		return
	}
	if b.Trans {
		for j := j0; j < j1; j++ {
			s[j-j0] = sumBytes(b.Data[b.row(j):b.row(j)+k], b.Signed) + int32(k)*shift
		}
		return
	}
	for j := range s {
		s[j] = int32(k) * shift
	}
	for kk := 0; kk < k; kk++ {
		row := b.Data[b.row(kk)+j0 : b.row(kk)+j1]
		if b.Signed {
			for j, v := range row {
				s[j] += int32(int8(v))
			}
		} else {
			for j, v := range row {
				s[j] += int32(v)
			}
		}
	}
}

// sumBytes sums uint8 (or, when signed, int8) values.
func sumBytes(b []byte, signed bool) int32 {
	var s int32
	if signed {
		for _, v := range b {
			s += int32(int8(v))
		}
		return s
	}
	for _, v := range b {
		s += int32(v)
	}
	return s
}

// QEpilogue says what becomes of each exact sum s[i][j] of an 8-bit GEMM.
// First an int32 bias is added, v = s + Bias32[·]; then, by output:
//
//	Int32:   C[i][j] = v
//	Float32: C[i][j] = act(float32(v)·scale + Bias[·])
//	Uint8, Int8: C[i][j] = saturate(roundEven(act(float32(v)·scale)) + ZeroPoint)
//
// where scale = RowScale[i]·Scale[·] (each factor 1 when its slice is
// nil) and [·] is the column j, or the row i with PerRow. The float
// arithmetic is float32, rounding to nearest even (as ONNX Runtime's
// requantization); a float32 cannot hold every int32 above 2²⁴ exactly, so
// sums that large are rounded before they are scaled.
type QEpilogue struct {
	// Exactly one output is set; Ldc is its row stride in elements.
	Int32   []int32
	Float32 []float32
	Uint8   []uint8
	Int8    []int8
	Ldc     int

	// PerRow makes Bias32, Scale and Bias one value per row instead of
	// per column.
	PerRow bool
	// Bias32, if set, is added to s (a QLinearConv's int32 bias).
	Bias32 []int32
	// Scale multiplies v for float and 8-bit outputs: one value, or one
	// per column (per row with PerRow). Nil means 1.
	Scale []float32
	// RowScale, if set, is a further factor per row (a QLinearMatMul's
	// per-row a_scale). The scaled value is float32(v)·r[i]·c[j], in that
	// order, where r is RowScale (times Scale with PerRow) and c is Scale
	// (1 with PerRow).
	RowScale []float32
	// Bias is added after scaling, for float output.
	Bias []float32
	// Act is applied to the scaled value: ActNone, ActRelu or ActClip
	// (Min, Max); for 8-bit output it is in the output's units before the
	// zero point is added, and saturation follows.
	Act      Activation
	Min, Max float32
	// ZeroPoint is the 8-bit output's zero point.
	ZeroPoint int32
}

// Options8 are the optional parts of an 8-bit GEMM call: Parallel and
// Threads as in Options. A nil *Options8 runs serially.
type Options8 struct {
	Parallel func(n int, fn func(lo, hi int))
	Threads  int
}

// Gemm8 computes s = (op(A) - za)·(op(B) - zb), op(A) m×k and op(B) k×n,
// and stores it through e. za holds nil, one or m zero points (per row)
// and zb nil, one or n (per column), each in its operand's own domain;
// they may not both vary. Both operands are packed during the call.
// Gemm8 panics if a slice is too short or a zero point out of range.
// Distinct calls may run concurrently.
func Gemm8(m, n, k int, a Matrix8, za []int32, b Matrix8, zb []int32, e *QEpilogue, o *Options8) {
	a.check("A", m, k)
	b.check("B", k, n)
	run8(&job8{m: m, n: n, k: k, a: a, b: b,
		za: newZeroPoints("A", za, m, a.Signed, flipShift(a.Signed, false)),
		zb: newZeroPoints("B", zb, n, b.Signed, flipShift(b.Signed, true))}, e, o)
}

// Gemm8PackedB is Gemm8 with B packed ahead of time by PackB8, which also
// holds zb: the MatMul form with a constant weight.
func Gemm8PackedB(m int, a Matrix8, za []int32, b *PackedB8, e *QEpilogue, o *Options8) {
	a.check("A", m, b.k)
	run8(&job8{m: m, n: b.n, k: b.k, a: a, pb: b,
		za: newZeroPoints("A", za, m, a.Signed, flipShift(a.Signed, false)), zb: b.zero}, e, o)
}

// Gemm8PackedA is Gemm8 with A packed ahead of time by PackA8, which also
// holds za: the NCHW convolution form, Y = W·im2col(X), with a constant
// filter W.
func Gemm8PackedA(n int, a *PackedA8, b Matrix8, zb []int32, e *QEpilogue, o *Options8) {
	b.check("B", a.k, n)
	run8(&job8{m: a.m, n: n, k: a.k, pa: a, b: b, signedA: true,
		za: a.zero, zb: newZeroPoints("B", zb, n, b.Signed, flipShift(b.Signed, false))}, e, o)
}

// Supports8 reports whether Gemm8 and its packed forms take these zero
// points: those of A's rows and of B's columns may not both vary. Kernels
// that must not panic ask it first.
func Supports8(za, zb []int32) bool {
	return distinct(za) <= 1 || distinct(zb) <= 1
}

func distinct(z []int32) int {
	for _, v := range z {
		if v != z[0] {
			return 2
		}
	}
	return min(len(z), 1)
}

// roundEven32 rounds a float32 holding at most the int32 range to the
// nearest integer, ties to even, as VCVTPS2DQ does.
func roundEven32(f float32) int32 { return int32(math.RoundToEven(float64(f))) }
