// Command _asm generates kernels/dwconv's amd64 kernels with avo.
//
// Run go generate in this directory; it rewrites ../dwconv_amd64.s. The Go
// declarations are in ../dwconv_amd64.go.
package main

//go:generate go run . -out ../dwconv_amd64.s -pkg dwconv

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const signature = "func(y *float32, ystep int, x *float32, xstep int, rows int, cols int, offs *int, w *float32, ntaps int, bias float32, lo float32, hi float32, perm *int32)"

func main() {
	ConstraintExpr("amd64,!purego")
	rowsS1()
	rowsS2()
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

// rowsS1 writes rowsS1AVX512, stride 1: rows of at most 16 columns four
// rows at a time (four independent sums), wider rows 64 columns at a time
// (four vectors) then 16 under a mask.
func rowsS1() {
	TEXT("rowsS1AVX512", NOSPLIT, signature)
	Doc("rowsS1AVX512 computes Rows for stride 1 (perm is unused).")
	a := loadArgs()
	acc := []VecPhysical{Z0, Z1, Z2, Z3}

	// Narrow rows: four at a time.
	CMPQ(a.cols, U8(16))
	JG(LabelRef("s1rows"))
	mask := GP64()
	MOVQ(I32(-1), mask)
	BZHIQ(a.cols, mask, mask)
	KMOVW(mask.As32(), K1)
	Label("s1quad")
	CMPQ(a.rows, U8(4))
	JL(LabelRef("s1rows"))
	for _, z := range acc {
		VMOVAPS(Z28, z)
	}
	x1, x2, x3 := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: a.x, Index: a.xstep, Scale: 1}, x1)
	LEAQ(Mem{Base: x1, Index: a.xstep, Scale: 1}, x2)
	LEAQ(Mem{Base: x2, Index: a.xstep, Scale: 1}, x3)
	tapLoop(a, "s1quadtap", func(off, t Register) {
		VBROADCASTSS(Mem{Base: a.w, Index: t, Scale: 4}, Z4)
		for i, xr := range []Register{a.x, x1, x2, x3} {
			v := []VecPhysical{Z5, Z6, Z7, Z8}[i]
			VMOVUPS_Z(Mem{Base: xr, Index: off, Scale: 4}, K1, v)
			VFMADD231PS(v, Z4, acc[i])
		}
	})
	yr := GP64()
	MOVQ(a.y, yr)
	for i, z := range acc {
		if i > 0 {
			ADDQ(a.ystep, yr)
		}
		clampStore(z, Mem{Base: yr}, K1)
	}
	LEAQ(Mem{Base: x3, Index: a.xstep, Scale: 1}, a.x)
	LEAQ(Mem{Base: yr, Index: a.ystep, Scale: 1}, a.y)
	SUBQ(U8(4), a.rows)
	JMP(LabelRef("s1quad"))

	// One row at a time.
	Label("s1rows")
	TESTQ(a.rows, a.rows)
	JLE(LabelRef("s1done"))
	c := GP64()
	XORQ(c, c)
	Label("s1block")
	n := GP64()
	MOVQ(a.cols, n)
	SUBQ(c, n)
	CMPQ(n, U8(64))
	JL(LabelRef("s1vec"))
	for _, z := range acc {
		VMOVAPS(Z28, z)
	}
	tapLoop(a, "s1blocktap", func(off, t Register) {
		VBROADCASTSS(Mem{Base: a.w, Index: t, Scale: 4}, Z4)
		ADDQ(c, off)
		for i, z := range acc {
			VFMADD231PS(Mem{Base: a.x, Index: off, Scale: 4, Disp: 64 * i}, Z4, z)
		}
	})
	for i, z := range acc {
		clampStore(z, Mem{Base: a.y, Index: c, Scale: 4, Disp: 64 * i}, nil)
	}
	ADDQ(U8(64), c)
	JMP(LabelRef("s1block"))

	Label("s1vec")
	CMPQ(c, a.cols)
	JGE(LabelRef("s1next"))
	MOVQ(a.cols, n)
	SUBQ(c, n)
	sixteen := GP64()
	MOVQ(U32(16), sixteen)
	CMPQ(n, sixteen)
	CMOVQGT(sixteen, n)
	MOVQ(I32(-1), mask)
	BZHIQ(n, mask, mask)
	KMOVW(mask.As32(), K1)
	VMOVAPS(Z28, Z0)
	tapLoop(a, "s1vectap", func(off, t Register) {
		ADDQ(c, off)
		VMOVUPS_Z(Mem{Base: a.x, Index: off, Scale: 4}, K1, Z5)
		VFMADD231PS_BCST(Mem{Base: a.w, Index: t, Scale: 4}, Z5, Z0)
	})
	clampStore(Z0, Mem{Base: a.y, Index: c, Scale: 4}, K1)
	ADDQ(U8(16), c)
	JMP(LabelRef("s1vec"))

	Label("s1next")
	ADDQ(a.xstep, a.x)
	ADDQ(a.ystep, a.y)
	DECQ(a.rows)
	JMP(LabelRef("s1rows"))

	Label("s1done")
	VZEROUPPER()
	RET()
}

// rowsS2 writes rowsS2AVX512, stride 2: a vector of 16 outputs reads 31
// inputs, loaded as two vectors whose even elements VPERMT2PS gathers.
// Rows of at most 16 columns go four at a time; wider rows 32 columns at a
// time while more columns follow (so that the one input read past the
// last needed is still one the row needs), then 16 under masks.
func rowsS2() {
	TEXT("rowsS2AVX512", NOSPLIT, signature)
	Doc("rowsS2AVX512 computes Rows for stride 2; perm holds 0, 2, …, 30.")
	a := loadArgs()
	perm := Load(Param("perm"), GP64())
	VMOVDQU32(Mem{Base: perm}, Z31)
	acc := []VecPhysical{Z0, Z1, Z2, Z3}

	// masks sets K2 and K3 to the inputs that n outputs need (2n-1).
	mask := GP64()
	masks := func(n Register) {
		e := GP64()
		LEAQ(Mem{Base: n, Index: n, Scale: 1, Disp: -1}, e)
		MOVQ(I32(-1), mask)
		BZHIQ(e, mask, mask)
		KMOVW(mask.As32(), K2)
		SHRQ(U8(16), mask)
		KMOVW(mask.As32(), K3)
	}
	// gather loads the 16 outputs' inputs at m into dst, under K2 and K3.
	gather := func(m Mem, dst, tmp VecPhysical) {
		VMOVUPS_Z(m, K2, dst)
		m.Disp += 64
		VMOVUPS_Z(m, K3, tmp)
		VPERMT2PS(tmp, Z31, dst)
	}

	// Narrow rows: four at a time.
	CMPQ(a.cols, U8(16))
	JG(LabelRef("s2rows"))
	masks(a.cols)
	MOVQ(I32(-1), mask)
	BZHIQ(a.cols, mask, mask)
	KMOVW(mask.As32(), K1)
	Label("s2quad")
	CMPQ(a.rows, U8(4))
	JL(LabelRef("s2rows"))
	for _, z := range acc {
		VMOVAPS(Z28, z)
	}
	x1, x2, x3 := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: a.x, Index: a.xstep, Scale: 1}, x1)
	LEAQ(Mem{Base: x1, Index: a.xstep, Scale: 1}, x2)
	LEAQ(Mem{Base: x2, Index: a.xstep, Scale: 1}, x3)
	tapLoop(a, "s2quadtap", func(off, t Register) {
		VBROADCASTSS(Mem{Base: a.w, Index: t, Scale: 4}, Z4)
		for i, xr := range []Register{a.x, x1, x2, x3} {
			v := []VecPhysical{Z5, Z6, Z7, Z8}[i]
			tmp := []VecPhysical{Z9, Z10, Z11, Z12}[i]
			gather(Mem{Base: xr, Index: off, Scale: 4}, v, tmp)
			VFMADD231PS(v, Z4, acc[i])
		}
	})
	yr := GP64()
	MOVQ(a.y, yr)
	for i, z := range acc {
		if i > 0 {
			ADDQ(a.ystep, yr)
		}
		clampStore(z, Mem{Base: yr}, K1)
	}
	LEAQ(Mem{Base: x3, Index: a.xstep, Scale: 1}, a.x)
	LEAQ(Mem{Base: yr, Index: a.ystep, Scale: 1}, a.y)
	SUBQ(U8(4), a.rows)
	JMP(LabelRef("s2quad"))

	// One row at a time.
	Label("s2rows")
	TESTQ(a.rows, a.rows)
	JLE(LabelRef("s2done"))
	c := GP64()
	XORQ(c, c)
	Label("s2block")
	n := GP64()
	MOVQ(a.cols, n)
	SUBQ(c, n)
	CMPQ(n, U8(32))
	JLE(LabelRef("s2vec"))
	VMOVAPS(Z28, Z0)
	VMOVAPS(Z28, Z1)
	tapLoop(a, "s2blocktap", func(off, t Register) {
		VBROADCASTSS(Mem{Base: a.w, Index: t, Scale: 4}, Z4)
		LEAQ(Mem{Base: off, Index: c, Scale: 2}, off)
		for i := 0; i < 2; i++ {
			v := []VecPhysical{Z5, Z6}[i]
			VMOVUPS(Mem{Base: a.x, Index: off, Scale: 4, Disp: 128 * i}, v)
			VPERMT2PS(Mem{Base: a.x, Index: off, Scale: 4, Disp: 128*i + 64}, Z31, v)
			VFMADD231PS(v, Z4, acc[i])
		}
	})
	for i := 0; i < 2; i++ {
		clampStore(acc[i], Mem{Base: a.y, Index: c, Scale: 4, Disp: 64 * i}, nil)
	}
	ADDQ(U8(32), c)
	JMP(LabelRef("s2block"))

	Label("s2vec")
	CMPQ(c, a.cols)
	JGE(LabelRef("s2next"))
	MOVQ(a.cols, n)
	SUBQ(c, n)
	sixteen := GP64()
	MOVQ(U32(16), sixteen)
	CMPQ(n, sixteen)
	CMOVQGT(sixteen, n)
	masks(n)
	MOVQ(I32(-1), mask)
	BZHIQ(n, mask, mask)
	KMOVW(mask.As32(), K1)
	VMOVAPS(Z28, Z0)
	tapLoop(a, "s2vectap", func(off, t Register) {
		LEAQ(Mem{Base: off, Index: c, Scale: 2}, off)
		gather(Mem{Base: a.x, Index: off, Scale: 4}, Z5, Z6)
		VFMADD231PS_BCST(Mem{Base: a.w, Index: t, Scale: 4}, Z5, Z0)
	})
	clampStore(Z0, Mem{Base: a.y, Index: c, Scale: 4}, K1)
	ADDQ(U8(16), c)
	JMP(LabelRef("s2vec"))

	Label("s2next")
	ADDQ(a.xstep, a.x)
	ADDQ(a.ystep, a.y)
	DECQ(a.rows)
	JMP(LabelRef("s2rows"))

	Label("s2done")
	VZEROUPPER()
	RET()
}
