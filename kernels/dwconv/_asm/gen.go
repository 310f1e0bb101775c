// Command _asm generates kernels/dwconv's amd64 kernels with avo.
//
// Run go generate in this directory; it rewrites ../dwconv_amd64.s. The Go
// declarations are in ../dwconv_amd64.go.
package main

//go:generate go run . -out ../dwconv_amd64.s -pkg dwconv

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const signature = "func(y *float32, ystep int, x *float32, xstep int, rows int, cols int, offs *int, w *float32, ntaps int, bias float32, lo float32, hi float32, perm *int32)"

func main() {
	ConstraintExpr("amd64,!purego")
	rowsKernel(1)
	rowsKernel(2)
	copyRows()
	for _, stride := range []int{1, 2} {
		for _, vr := range k3Variants {
			k3Kernel(stride, vr[0], vr[1])
		}
	}
	Generate()
}

// args are the kernels' parameters loaded into registers: byte strides,
// running row pointers and the broadcast bias and clamp bounds.
type args struct {
	y, x, ystep, xstep, rows, cols, offs, w, ntaps Register
}

func loadArgs() args {
	var a args
	a.y = Load(Param("y"), GP64())
	a.x = Load(Param("x"), GP64())
	a.ystep = Load(Param("ystep"), GP64())
	SHLQ(U8(2), a.ystep)
	a.xstep = Load(Param("xstep"), GP64())
	SHLQ(U8(2), a.xstep)
	a.rows = Load(Param("rows"), GP64())
	a.cols = Load(Param("cols"), GP64())
	a.offs = Load(Param("offs"), GP64())
	a.w = Load(Param("w"), GP64())
	a.ntaps = Load(Param("ntaps"), GP64())
	VBROADCASTSS(Load(Param("bias"), XMM()), Z28)
	VBROADCASTSS(Load(Param("lo"), XMM()), Z29)
	VBROADCASTSS(Load(Param("hi"), XMM()), Z30)
	return a
}

// clampStore clamps acc to [lo, hi] (a NaN stays: VMAXPS and VMINPS return
// their Go-order first operand when either is NaN) and stores it, under
// mask k when k is not nil.
func clampStore(acc VecPhysical, m Mem, k Register) {
	VMAXPS(acc, Z29, acc)
	VMINPS(acc, Z30, acc)
	if k != nil {
		VMOVUPS(acc, k, m)
	} else {
		VMOVUPS(acc, m)
	}
}

// tapLoop emits a loop over the taps: body(off) gets the tap's offset in
// a register (elements) and may use the weight at Mem{Base: w, Index: t,
// Scale: 4}.
func tapLoop(a args, name string, body func(off, t Register)) {
	t := GP64()
	XORQ(t, t)
	Label(name)
	off := GP64()
	MOVQ(Mem{Base: a.offs, Index: t, Scale: 8}, off)
	body(off, t)
	INCQ(t)
	CMPQ(t, a.ntaps)
	JL(LabelRef(name))
}

// A kernel keeps several independent sums in flight (FMA latency 4, one
// tap after another on each sum): rows of at most 16 columns eight rows at
// a time, of at most 32 four rows at a time, wider rows 64 columns (four
// vectors) at a time and then the last 1 to 4 vectors together. Only the
// last vector of a row is partial; it loads and stores under masks, the
// others unmasked. With stride 2 a vector of 16 outputs reads 31 inputs,
// loaded as two vectors whose even elements VPERMT2PS (index in Z31)
// gathers: the 32nd input is read only where a later vector of the row
// needs it.

// block is a group of sums computed in one pass over the taps: rows rows
// (input rows xstep bytes apart from a.x, output rows ystep apart from
// a.y) of nvec vectors each, starting at column c (nil: 0), the last
// vector of each row masked when masked. xs3 holds 3·xstep when rows > 3.
type block struct {
	rows   int
	c      Register
	nvec   int
	masked bool
	xs3    Register
}

// emit writes the block's tap loop and stores.
func (b block) emit(a args, stride int, name string) {
	acc := make([][]VecPhysical, b.rows)
	for r := range acc {
		for v := 0; v < b.nvec; v++ {
			z := zmm(r*b.nvec + v)
			VMOVAPS(Z28, z)
			acc[r] = append(acc[r], z)
		}
	}
	tapLoop(a, name, func(off, t Register) {
		if b.c != nil {
			LEAQ(Mem{Base: off, Index: b.c, Scale: byte(stride)}, off)
		}
		// off becomes the address of the tap's input in row 0; rows
		// 5 and 7 are addressed from p5.
		LEAQ(Mem{Base: a.x, Index: off, Scale: 4}, off)
		var p5 Register
		if b.rows > 5 {
			p5 = GP64()
			LEAQ(Mem{Base: off, Index: a.xstep, Scale: 4}, p5)
			ADDQ(a.xstep, p5)
		}
		row := func(r int) Mem {
			switch r {
			case 0:
				return Mem{Base: off}
			case 1, 2, 4:
				return Mem{Base: off, Index: a.xstep, Scale: byte(r)}
			case 3:
				return Mem{Base: off, Index: b.xs3, Scale: 1}
			case 5:
				return Mem{Base: p5}
			case 6:
				return Mem{Base: off, Index: b.xs3, Scale: 2}
			}
			return Mem{Base: p5, Index: a.xstep, Scale: 2}
		}
		VBROADCASTSS(Mem{Base: a.w, Index: t, Scale: 4}, Z16)
		for r := 0; r < b.rows; r++ {
			for v := 0; v < b.nvec; v++ {
				i := r*b.nvec + v
				tmp, tmp2 := zmm(8+i), Z17
				m := row(r)
				m.Disp += 64 * stride * v
				last := b.masked && v == b.nvec-1
				switch {
				case stride == 1 && last:
					VMOVUPS_Z(m, K1, tmp)
					VFMADD231PS(tmp, Z16, acc[r][v])
				case stride == 1:
					VFMADD231PS(m, Z16, acc[r][v])
				case last:
					VMOVUPS_Z(m, K2, tmp)
					m.Disp += 64
					VMOVUPS_Z(m, K3, tmp2)
					VPERMT2PS(tmp2, Z31, tmp)
					VFMADD231PS(tmp, Z16, acc[r][v])
				default:
					VMOVUPS(m, tmp)
					m.Disp += 64
					VPERMT2PS(m, Z31, tmp)
					VFMADD231PS(tmp, Z16, acc[r][v])
				}
			}
		}
	})
	yr := a.y
	if b.rows > 1 {
		yr = GP64()
		MOVQ(a.y, yr)
	}
	for r := range acc {
		if r > 0 {
			ADDQ(a.ystep, yr)
		}
		for v := 0; v < b.nvec; v++ {
			m := Mem{Base: yr, Disp: 64 * v}
			if b.c != nil {
				m = Mem{Base: yr, Index: b.c, Scale: 4, Disp: 64 * v}
			}
			var k Register
			if b.masked && v == b.nvec-1 {
				k = K1
			}
			clampStore(acc[r][v], m, k)
		}
	}
}

func zmm(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17}[i]
}

// setMasks sets K1 to the first n lanes (1 ≤ n ≤ 16) and, for stride 2,
// K2 and K3 to the 2n-1 inputs they read.
func setMasks(n Register, stride int) {
	mask := GP64()
	MOVQ(I32(-1), mask)
	BZHIQ(n, mask, mask)
	KMOVW(mask.As32(), K1)
	if stride == 2 {
		e := GP64()
		LEAQ(Mem{Base: n, Index: n, Scale: 1, Disp: -1}, e)
		MOVQ(I32(-1), mask)
		BZHIQ(e, mask, mask)
		KMOVW(mask.As32(), K2)
		SHRQ(U8(16), mask)
		KMOVW(mask.As32(), K3)
	}
}

// rowsKernel writes rowsS1AVX512 or rowsS2AVX512.
func rowsKernel(stride int) {
	p := fmt.Sprintf("s%d", stride)
	TEXT(fmt.Sprintf("rowsS%dAVX512", stride), NOSPLIT, signature)
	if stride == 1 {
		Doc("rowsS1AVX512 computes Rows for stride 1 (perm is unused).")
	} else {
		Doc("rowsS2AVX512 computes Rows for stride 2; perm holds 0, 2, …, 30.")
	}
	a := loadArgs()
	if stride == 2 {
		perm := Load(Param("perm"), GP64())
		VMOVDQU32(Mem{Base: perm}, Z31)
	}
	// step advances the row pointers by k rows.
	step := func(k int) {
		for i := 0; i < k; i++ {
			ADDQ(a.xstep, a.x)
			ADDQ(a.ystep, a.y)
		}
	}
	// narrow emits the rows of nvec vectors (the last masked), maxk rows
	// at a time and then the 1 to maxk-1 rows left in one block.
	narrow := func(nvec, maxk int, label string) {
		xs3 := GP64()
		LEAQ(Mem{Base: a.xstep, Index: a.xstep, Scale: 2}, xs3)
		Label(label)
		CMPQ(a.rows, U8(maxk))
		JL(LabelRef(label + "left"))
		block{rows: maxk, nvec: nvec, masked: true, xs3: xs3}.emit(a, stride, fmt.Sprintf("%s%dtap", label, maxk))
		step(maxk)
		SUBQ(U8(maxk), a.rows)
		JMP(LabelRef(label))
		Label(label + "left")
		for k := maxk - 1; k >= 1; k-- {
			CMPQ(a.rows, U8(k))
			JNE(LabelRef(fmt.Sprintf("%s%d", label, k-1)))
			block{rows: k, nvec: nvec, masked: true, xs3: xs3}.emit(a, stride, fmt.Sprintf("%s%dtap", label, k))
			JMP(LabelRef(p + "done"))
			Label(fmt.Sprintf("%s%d", label, k-1))
		}
		JMP(LabelRef(p + "done"))
	}

	n := GP64()
	CMPQ(a.cols, U8(32))
	JG(LabelRef(p + "rows"))
	CMPQ(a.cols, U8(16))
	JG(LabelRef(p + "pairs"))
	setMasks(a.cols, stride)
	narrow(1, 8, p+"one")
	Label(p + "pairs")
	MOVQ(a.cols, n)
	SUBQ(U8(16), n)
	setMasks(n, stride)
	narrow(2, 4, p+"two")

	// One row at a time.
	Label(p + "rows")
	TESTQ(a.rows, a.rows)
	JLE(LabelRef(p + "done"))
	c := GP64()
	XORQ(c, c)
	Label(p + "block")
	MOVQ(a.cols, n)
	SUBQ(c, n)
	CMPQ(n, U8(64))
	if stride == 1 {
		JL(LabelRef(p + "tail"))
	} else {
		JLE(LabelRef(p + "tail"))
	}
	block{rows: 1, c: c, nvec: 4}.emit(a, stride, p+"blocktap")
	ADDQ(U8(64), c)
	JMP(LabelRef(p + "block"))

	// The last 1 to 64 columns: 1 to 4 vectors, the last masked.
	Label(p + "tail")
	TESTQ(n, n)
	JLE(LabelRef(p + "next"))
	last := GP64()
	for nv := 4; nv >= 1; nv-- {
		lbl := fmt.Sprintf("%stail%d", p, nv)
		Label(lbl)
		if nv > 1 {
			CMPQ(n, U8(16*(nv-1)))
			JLE(LabelRef(fmt.Sprintf("%stail%d", p, nv-1)))
		}
		MOVQ(n, last)
		SUBQ(U8(16*(nv-1)), last)
		setMasks(last, stride)
		block{rows: 1, c: c, nvec: nv, masked: true}.emit(a, stride, lbl+"tap")
		JMP(LabelRef(p + "next"))
	}

	Label(p + "next")
	step(1)
	DECQ(a.rows)
	JMP(LabelRef(p + "rows"))

	Label(p + "done")
	VZEROUPPER()
	RET()
}

// copyRows writes copyRowsAVX512: rows rows of cols floats, 64 at a time
// then 16 under a mask.
func copyRows() {
	TEXT("copyRowsAVX512", NOSPLIT, "func(dst *float32, dstStride int, src *float32, srcStride int, rows int, cols int)")
	Doc("copyRowsAVX512 copies rows rows of cols floats from src to dst, rows srcStride and dstStride floats apart.")
	dst := Load(Param("dst"), GP64())
	ds := Load(Param("dstStride"), GP64())
	SHLQ(U8(2), ds)
	src := Load(Param("src"), GP64())
	ss := Load(Param("srcStride"), GP64())
	SHLQ(U8(2), ss)
	rows := Load(Param("rows"), GP64())
	cols := Load(Param("cols"), GP64())
	c, n, mask := GP64(), GP64(), GP64()
	sixteen := GP64()
	MOVQ(U32(16), sixteen)
	Label("row")
	TESTQ(rows, rows)
	JLE(LabelRef("done"))
	XORQ(c, c)
	Label("block")
	MOVQ(cols, n)
	SUBQ(c, n)
	CMPQ(n, U8(64))
	JL(LabelRef("tail"))
	for v := 0; v < 4; v++ {
		VMOVUPS(Mem{Base: src, Index: c, Scale: 4, Disp: 64 * v}, zmm(v))
	}
	for v := 0; v < 4; v++ {
		VMOVUPS(zmm(v), Mem{Base: dst, Index: c, Scale: 4, Disp: 64 * v})
	}
	ADDQ(U8(64), c)
	JMP(LabelRef("block"))
	Label("tail")
	TESTQ(n, n)
	JLE(LabelRef("next"))
	CMPQ(n, sixteen)
	CMOVQGT(sixteen, n)
	MOVQ(I32(-1), mask)
	BZHIQ(n, mask, mask)
	KMOVW(mask.As32(), K1)
	VMOVUPS_Z(Mem{Base: src, Index: c, Scale: 4}, K1, Z0)
	VMOVUPS(Z0, K1, Mem{Base: dst, Index: c, Scale: 4})
	ADDQ(U8(16), c)
	MOVQ(cols, n)
	SUBQ(c, n)
	JMP(LabelRef("tail"))
	Label("next")
	ADDQ(ds, dst)
	ADDQ(ss, src)
	DECQ(rows)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}
