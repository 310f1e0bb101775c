// Command _asm generates kernels/im2col's amd64 kernel with avo.
//
// Run go generate in this directory; it rewrites ../fill_amd64.s. The Go
// declaration is in ../fill_amd64.go.
package main

//go:generate go run . -out ../fill_amd64.s -pkg im2col

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")
	fillAVX512()
	gather2AVX512()
	gather2RowsAVX512()
	transposeAVX512()
	rowsAVX512(true)
	rowsAVX512(false)
	Generate()
}

// fillAVX512 writes the panel filler: for each row, the tap's mask in K1
// (low 16 columns) and K2 (high 16), two zeroing masked loads from the
// input at channel·plane + base[tap], two stores; the tap advances and
// wraps to the next channel.
func fillAVX512() {
	TEXT("fillAVX512", NOSPLIT, "func(dst *float32, x *float32, rows int, t int, ch int, ntaps int, plane int, base *int, masks *uint32)")
	Doc("fillAVX512 is fillGeneric for rows ≥ 1: each row two loads under the",
		"halves of its tap's mask (lanes outside it are neither read nor kept)",
		"and two stores.")
	dst := Load(Param("dst"), GP64())
	x := Load(Param("x"), GP64())
	rows := Load(Param("rows"), GP64())
	t := Load(Param("t"), GP64())
	ch := Load(Param("ch"), GP64())
	ntaps := Load(Param("ntaps"), GP64())
	plane := Load(Param("plane"), GP64())
	base := Load(Param("base"), GP64())
	masks := Load(Param("masks"), GP64())
	// chOff is the current channel's offset in elements.
	chOff := GP64()
	MOVQ(ch, chOff)
	IMULQ(plane, chOff)
	off, m := GP64(), GP32()
	Label("row")
	MOVL(Mem{Base: masks, Index: t, Scale: 4}, m)
	KMOVW(m, K1)
	SHRL(U8(16), m)
	KMOVW(m, K2)
	MOVQ(Mem{Base: base, Index: t, Scale: 8}, off)
	ADDQ(chOff, off)
	VMOVUPS_Z(Mem{Base: x, Index: off, Scale: 4}, K1, Z0)
	VMOVUPS_Z(Mem{Base: x, Index: off, Scale: 4, Disp: 64}, K2, Z1)
	VMOVUPS(Z0, Mem{Base: dst})
	VMOVUPS(Z1, Mem{Base: dst, Disp: 64})
	ADDQ(U32(128), dst)
	INCQ(t)
	CMPQ(t, ntaps)
	JL(LabelRef("same"))
	XORQ(t, t)
	ADDQ(plane, chOff)
	Label("same")
	DECQ(rows)
	JNZ(LabelRef("row"))
	VZEROUPPER()
	RET()
}

// gather2AVX512 writes the stride-2 gather: 16 outputs per step from two
// loads whose even elements VPERMT2PS (index at perm) collects; the last
// step loads and stores under masks, so nothing past src[2(n-1)] is read.
func gather2AVX512() {
	TEXT("gather2AVX512", NOSPLIT, "func(dst *float32, src *float32, n int, perm *int32)")
	Doc("gather2AVX512 sets dst[i] = src[2i] for i < n (n ≥ 1); perm holds 0, 2, …, 30.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	perm := Load(Param("perm"), GP64())
	VMOVDQU32(Mem{Base: perm}, Z31)
	// Full steps while more than 16 outputs remain: the 32nd input read
	// is one the next step needs.
	Label("full")
	CMPQ(n, U8(16))
	JLE(LabelRef("last"))
	VMOVUPS(Mem{Base: src}, Z0)
	VPERMT2PS(Mem{Base: src, Disp: 64}, Z31, Z0)
	VMOVUPS(Z0, Mem{Base: dst})
	ADDQ(U8(64), dst)
	ADDQ(U32(128), src)
	SUBQ(U8(16), n)
	JMP(LabelRef("full"))
	// The last 1 to 16 outputs read 2n-1 inputs.
	Label("last")
	mask, e := GP64(), GP64()
	MOVQ(I32(-1), mask)
	BZHIQ(n, mask, mask)
	KMOVW(mask.As32(), K1)
	LEAQ(Mem{Base: n, Index: n, Scale: 1, Disp: -1}, e)
	MOVQ(I32(-1), mask)
	BZHIQ(e, mask, mask)
	KMOVW(mask.As32(), K2)
	SHRQ(U8(16), mask)
	KMOVW(mask.As32(), K3)
	VMOVUPS_Z(Mem{Base: src}, K2, Z0)
	VMOVUPS_Z(Mem{Base: src, Disp: 64}, K3, Z1)
	VPERMT2PS(Z1, Z31, Z0)
	VMOVUPS(Z0, K1, Mem{Base: dst})
	VZEROUPPER()
	RET()
}

// rowsAVX512 writes maxRowsAVX512 (max) or copyRowsAVX512: per row, 16
// columns at a time, the last step under a mask. The maximum is d =
// VMAXPS(s, d), which is s when either is NaN, then d's own lanes back
// where d is NaN, so that a NaN on either side is kept.
func rowsAVX512(max bool) {
	if max {
		TEXT("maxRowsAVX512", NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, rows int, cols int)")
		Doc("maxRowsAVX512 sets dst[r*ldd+c] = max(dst[r*ldd+c], src[r*lds+c]), NaN if either is,",
			"for r < rows, c < cols (rows, cols ≥ 1).")
	} else {
		TEXT("copyRowsAVX512", NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, rows int, cols int)")
		Doc("copyRowsAVX512 sets dst[r*ldd+c] = src[r*lds+c] for r < rows, c < cols (rows, cols ≥ 1).")
	}
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	SHLQ(U8(2), ldd)
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	SHLQ(U8(2), lds)
	rows := Load(Param("rows"), GP64())
	cols := Load(Param("cols"), GP64())
	// K1: the lanes of the last step, 1 to 16 of them.
	tail, mask := GP64(), GP64()
	LEAQ(Mem{Base: cols, Disp: -1}, tail)
	ANDQ(U8(15), tail)
	INCQ(tail)
	MOVQ(I32(-1), mask)
	BZHIQ(tail, mask, mask)
	KMOVW(mask.As32(), K1)
	full := GP64()
	MOVQ(cols, full)
	SUBQ(tail, full) // columns before the last step
	SHLQ(U8(2), full)
	d, s, i := GP64(), GP64(), GP64()
	Label("row")
	MOVQ(dst, d)
	MOVQ(src, s)
	XORQ(i, i)
	Label("step")
	CMPQ(i, full)
	JGE(LabelRef("last"))
	if max {
		VMOVUPS(Mem{Base: d, Index: i, Scale: 1}, Z0)
		VMAXPS(Mem{Base: s, Index: i, Scale: 1}, Z0, Z1)
		VCMPPS(U8(3), Z0, Z0, K2)
		VMOVAPS(Z0, K2, Z1)
	} else {
		VMOVUPS(Mem{Base: s, Index: i, Scale: 1}, Z1)
	}
	VMOVUPS(Z1, Mem{Base: d, Index: i, Scale: 1})
	ADDQ(U8(64), i)
	JMP(LabelRef("step"))
	Label("last")
	if max {
		VMOVUPS_Z(Mem{Base: d, Index: i, Scale: 1}, K1, Z0)
		VMOVUPS_Z(Mem{Base: s, Index: i, Scale: 1}, K1, Z2)
		VMAXPS(Z2, Z0, Z1)
		VCMPPS(U8(3), Z0, Z0, K2)
		VMOVAPS(Z0, K2, Z1)
	} else {
		VMOVUPS_Z(Mem{Base: s, Index: i, Scale: 1}, K1, Z1)
	}
	VMOVUPS(Z1, K1, Mem{Base: d, Index: i, Scale: 1})
	ADDQ(ldd, dst)
	ADDQ(lds, src)
	DECQ(rows)
	JNZ(LabelRef("row"))
	VZEROUPPER()
	RET()
}

// gather2RowsAVX512 writes gather2AVX512 over rows: per row the same
// steps, full ones while more than 16 outputs remain and a masked last
// one, then both pointers move by their row strides.
func gather2RowsAVX512() {
	TEXT("gather2RowsAVX512", NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, rows int, n int, perm *int32)")
	Doc("gather2RowsAVX512 sets dst[r*ldd+i] = src[r*lds+2i] for r < rows, i < n (rows, n ≥ 1);",
		"perm holds 0, 2, …, 30.")
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	SHLQ(U8(2), ldd)
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	SHLQ(U8(2), lds)
	rows := Load(Param("rows"), GP64())
	n := Load(Param("n"), GP64())
	perm := Load(Param("perm"), GP64())
	VMOVDQU32(Mem{Base: perm}, Z31)
	// The last step's 1 to 16 outputs (K1) read 2·t-1 inputs (K2, K3).
	t, mask, e := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: n, Disp: -1}, t)
	ANDQ(U8(15), t)
	INCQ(t)
	MOVQ(I32(-1), mask)
	BZHIQ(t, mask, mask)
	KMOVW(mask.As32(), K1)
	LEAQ(Mem{Base: t, Index: t, Scale: 1, Disp: -1}, e)
	MOVQ(I32(-1), mask)
	BZHIQ(e, mask, mask)
	KMOVW(mask.As32(), K2)
	SHRQ(U8(16), mask)
	KMOVW(mask.As32(), K3)
	full := GP64()
	MOVQ(n, full)
	SUBQ(t, full) // outputs before the last step, a multiple of 16
	d, s, i := GP64(), GP64(), GP64()
	Label("row")
	MOVQ(dst, d)
	MOVQ(src, s)
	MOVQ(full, i)
	Label("step")
	TESTQ(i, i)
	JZ(LabelRef("last"))
	VMOVUPS(Mem{Base: s}, Z0)
	VPERMT2PS(Mem{Base: s, Disp: 64}, Z31, Z0)
	VMOVUPS(Z0, Mem{Base: d})
	ADDQ(U8(64), d)
	ADDQ(U32(128), s)
	SUBQ(U8(16), i)
	JMP(LabelRef("step"))
	Label("last")
	VMOVUPS_Z(Mem{Base: s}, K2, Z0)
	VMOVUPS_Z(Mem{Base: s, Disp: 64}, K3, Z1)
	VPERMT2PS(Z1, Z31, Z0)
	VMOVUPS(Z0, K1, Mem{Base: d})
	ADDQ(ldd, dst)
	ADDQ(lds, src)
	DECQ(rows)
	JNZ(LabelRef("row"))
	VZEROUPPER()
	RET()
}

func zmm(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[i]
}

// transposeAVX512 writes the block transposer: the rows×cols (≤ 16×16)
// block at src (rows lds floats apart) loaded under a column mask (rows
// past the block as zeros), transposed in registers by unpacks and
// 128-bit shuffles, and its cols rows stored at dst (ldd apart) under a
// mask of rows lanes.
func transposeAVX512() {
	TEXT("transposeAVX512", NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, rows int, cols int)")
	Doc("transposeAVX512 sets dst[j*ldd+i] = src[i*lds+j] for i < rows ≤ 16, j < cols ≤ 16 (rows, cols ≥ 1).")
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	SHLQ(U8(2), ldd)
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	SHLQ(U8(2), lds)
	rows := Load(Param("rows"), GP64())
	cols := Load(Param("cols"), GP64())
	mask := GP64()
	MOVQ(I32(-1), mask)
	BZHIQ(cols, mask, mask)
	KMOVW(mask.As32(), K1)
	MOVQ(I32(-1), mask)
	BZHIQ(rows, mask, mask)
	KMOVW(mask.As32(), K2)
	r := func(i int) VecPhysical { return zmm(i) }
	t := func(i int) VecPhysical { return zmm(16 + i) }
	for i := 0; i < 16; i++ {
		VPXORD(r(i), r(i), r(i))
	}
	p := GP64()
	MOVQ(src, p)
	for i := 0; i < 16; i++ {
		CMPQ(rows, U8(i))
		JLE(LabelRef("loaded"))
		VMOVUPS_Z(Mem{Base: p}, K1, r(i))
		if i < 15 {
			ADDQ(lds, p)
		}
	}
	Label("loaded")
	for i := 0; i < 16; i += 2 {
		VUNPCKLPS(r(i+1), r(i), t(i))
		VUNPCKHPS(r(i+1), r(i), t(i+1))
	}
	for i := 0; i < 16; i += 4 {
		VUNPCKLPD(t(i+2), t(i), r(i))
		VUNPCKHPD(t(i+2), t(i), r(i+1))
		VUNPCKLPD(t(i+3), t(i+1), r(i+2))
		VUNPCKHPD(t(i+3), t(i+1), r(i+3))
	}
	for h := 0; h < 16; h += 8 {
		for i := 0; i < 4; i++ {
			VSHUFF32X4(U8(0x88), r(h+i+4), r(h+i), t(h+i))
			VSHUFF32X4(U8(0xdd), r(h+i+4), r(h+i), t(h+i+4))
		}
	}
	for i := 0; i < 8; i++ {
		VSHUFF32X4(U8(0x88), t(i+8), t(i), r(i))
		VSHUFF32X4(U8(0xdd), t(i+8), t(i), r(i+8))
	}
	for j := 0; j < 16; j++ {
		CMPQ(cols, U8(j))
		JLE(LabelRef("done"))
		VMOVUPS(r(j), K2, Mem{Base: dst})
		if j < 15 {
			ADDQ(ldd, dst)
		}
	}
	Label("done")
	VZEROUPPER()
	RET()
}
