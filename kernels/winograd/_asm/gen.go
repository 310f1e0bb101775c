// Command _asm generates kernels/winograd's AVX-512 transforms with avo.
//
// Run go generate in this directory; it rewrites ../transform_amd64.s. The
// Go declarations are in ../transform_amd64.go, and the loops each kernel
// computes are the generic versions in ../transform.go.
package main

//go:generate go run . -out ../transform_amd64.s -pkg winograd

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")
	// VPERMT2PS indexes into the 32 lanes of two vectors: the even and
	// odd lanes, and the two halves of two vectors interleaved.
	evens := table("wino_evens", func(i int) int { return 2 * i })
	odds := table("wino_odds", func(i int) int { return 2*i + 1 })
	zipLo := table("wino_zip_lo", func(i int) int { return i/2 + 16*(i%2) })
	zipHi := table("wino_zip_hi", func(i int) int { return 8 + i/2 + 16*(i%2) })
	split(evens, odds)
	input()
	output(zipLo, zipHi)
	Generate()
}

// table declares 16 read-only int32 lanes f(0), …, f(15).
func table(name string, f func(i int) int) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(f(i)))
	}
	return m
}

// ld loads an integer or pointer parameter.
func ld(name string) GPVirtual {
	r := GP64()
	Load(Param(name), r)
	return r
}

// bytes loads an int parameter that counts floats, as bytes.
func bytes(name string) GPVirtual {
	r := ld(name)
	SHLQ(U8(2), r)
	return r
}

// kmask sets k to bits [shift, shift+16) of the mask in m.
func kmask(m GPVirtual, shift int, k Op) {
	t := GP64()
	MOVQ(m, t)
	if shift > 0 {
		SHRQ(U8(shift), t)
	}
	KMOVW(t.As32(), k)
}

// split writes splitAVX512 (splitGeneric for one channel): rows of n
// floats deinterleaved into their even and odd elements, 32 at a time, the
// last n mod 32 under the masks in tail.
func split(evens, odds Mem) {
	TEXT("splitAVX512", NOSPLIT, "func(dstA *float32, dstB *float32, src *float32, n int, rows int, srs int, drs int, tail uint64)")
	Doc("splitAVX512 is splitGeneric's loop for one channel with the offsets applied and the strides in floats; tail holds the masks of the last n mod 32 floats: the loads' (bits 0-31), the even ones' stores (32-47) and the odd ones' (48-63).")
	ap := ld("dstA")
	bp := ld("dstB")
	sp := ld("src")
	end := ld("n")
	SHRQ(U8(5), end)
	SHLQ(U8(6), end) // bytes of each half that full vectors write
	rows := ld("rows")
	srs, drs := bytes("srs"), bytes("drs")
	tail := ld("tail")
	kmask(tail, 0, K1)
	kmask(tail, 16, K2)
	kmask(tail, 32, K3)
	kmask(tail, 48, K4)
	ie, io := ZMM(), ZMM()
	VMOVDQU32(evens, ie)
	VMOVDQU32(odds, io)

	Label("split_row")
	off := GP64()
	XORQ(off, off)
	lo, hi, e := ZMM(), ZMM(), ZMM()
	Label("split_vec")
	CMPQ(off, end)
	JAE(LabelRef("split_tail"))
	VMOVUPS(Mem{Base: sp, Index: off, Scale: 2}, lo)
	VMOVUPS(Mem{Base: sp, Index: off, Scale: 2, Disp: 64}, hi)
	VMOVAPS(lo, e)
	VPERMT2PS(hi, ie, e)
	VPERMT2PS(hi, io, lo)
	VMOVUPS(e, Mem{Base: ap, Index: off, Scale: 1})
	VMOVUPS(lo, Mem{Base: bp, Index: off, Scale: 1})
	ADDQ(U8(64), off)
	JMP(LabelRef("split_vec"))
	Label("split_tail")
	VMOVUPS_Z(Mem{Base: sp, Index: off, Scale: 2}, K1, lo)
	VMOVUPS_Z(Mem{Base: sp, Index: off, Scale: 2, Disp: 64}, K2, hi)
	VMOVAPS(lo, e)
	VPERMT2PS(hi, ie, e)
	VPERMT2PS(hi, io, lo)
	VMOVUPS(e, K3, Mem{Base: ap, Index: off, Scale: 1})
	VMOVUPS(lo, K4, Mem{Base: bp, Index: off, Scale: 1})
	ADDQ(srs, sp)
	ADDQ(drs, ap)
	ADDQ(drs, bp)
	DECQ(rows)
	JNZ(LabelRef("split_row"))
	VZEROUPPER()
	RET()
}

// xi returns the address of element ξ of a 16-element group whose ξ = 0,
// 4, 8, 12 elements are at q[0..3] and whose stride is x1 (x3 = 3·x1).
func xi(q [4]GPVirtual, x1, x3 GPVirtual, x int) Mem {
	m := Mem{Base: q[x/4]}
	switch x % 4 {
	case 1:
		m.Index, m.Scale = x1, 1
	case 2:
		m.Index, m.Scale = x1, 2
	case 3:
		m.Index, m.Scale = x3, 1
	}
	return m
}

// input writes inputAVX512 (inputGeneric).
func input() {
	TEXT("inputAVX512", NOSPLIT, "func(v *float32, vxs int, vcs int, s *float32, lh int, scs int, nch int, mask uint64)")
	Doc("inputAVX512 is inputGeneric.")
	v := ld("v")
	x1 := bytes("vxs")
	x3 := GP64()
	LEAQ(Mem{Base: x1, Index: x1, Scale: 2}, x3)
	vcs := bytes("vcs")
	s := ld("s")
	lh := bytes("lh")
	scs := bytes("scs")
	nch := ld("nch")
	m := ld("mask")
	kmask(m, 0, K1)
	q := [4]GPVirtual{v, GP64(), GP64(), GP64()}

	Label("input_ch")
	var d [4][4]VecVirtual
	p := GP64()
	MOVQ(s, p)
	for r := 0; r < 4; r++ {
		if r > 0 {
			ADDQ(lh, p)
			ADDQ(lh, p)
		}
		e1, o0 := ZMM(), ZMM()
		VMOVUPS(Mem{Base: p, Disp: 4}, e1)
		VMOVUPS(Mem{Base: p, Index: lh, Scale: 1}, o0)
		for j := range d[r] {
			d[r][j] = ZMM()
		}
		// Bᵀ's rows on the columns: (d0-d2, d1+d2, d2-d1, d1-d3).
		VMOVUPS(Mem{Base: p}, d[r][0])
		VSUBPS(e1, d[r][0], d[r][0])
		VADDPS(e1, o0, d[r][1])
		VSUBPS(o0, e1, d[r][2])
		VSUBPS(Mem{Base: p, Index: lh, Scale: 1, Disp: 4}, o0, d[r][3])
	}
	LEAQ(Mem{Base: v, Index: x1, Scale: 4}, q[1])
	LEAQ(Mem{Base: v, Index: x1, Scale: 8}, q[2])
	LEAQ(Mem{Base: q[1], Index: x1, Scale: 8}, q[3])
	for j := 0; j < 4; j++ {
		t := ZMM()
		VSUBPS(d[2][j], d[0][j], t)
		VMOVUPS(t, K1, xi(q, x1, x3, 0+j))
		VADDPS(d[2][j], d[1][j], t)
		VMOVUPS(t, K1, xi(q, x1, x3, 4+j))
		VSUBPS(d[1][j], d[2][j], t)
		VMOVUPS(t, K1, xi(q, x1, x3, 8+j))
		VSUBPS(d[3][j], d[1][j], t)
		VMOVUPS(t, K1, xi(q, x1, x3, 12+j))
	}
	ADDQ(vcs, v)
	ADDQ(scs, s)
	DECQ(nch)
	JNZ(LabelRef("input_ch"))
	VZEROUPPER()
	RET()
}

// output writes outputAVX512 (outputGeneric).
func output(zipLo, zipHi Mem) {
	TEXT("outputAVX512", NOSPLIT, "func(y *float32, m *float32, bias *float32, res *float32, nch int, mxs int, mcs int, ys int, ycs int, mask uint64, lo float32, hi float32)")
	Doc("outputAVX512 is outputGeneric with the bias always added (zeros for none), the residual read from res (nil for none), and the column masks of output row 0 in bits 0-31 of mask and of row 1 in bits 32-63.")
	y := ld("y")
	mp := ld("m")
	bias := ld("bias")
	res := ld("res")
	nch := ld("nch")
	x1 := bytes("mxs")
	x3 := GP64()
	LEAQ(Mem{Base: x1, Index: x1, Scale: 2}, x3)
	mcs, ys, ycs := bytes("mcs"), bytes("ys"), bytes("ycs")
	mask := ld("mask")
	kmask(mask, 0, K1)
	kmask(mask, 16, K2)
	kmask(mask, 32, K3)
	kmask(mask, 48, K4)
	lo, hi := ZMM(), ZMM()
	VBROADCASTSS(Load(Param("lo"), XMM()), lo)
	VBROADCASTSS(Load(Param("hi"), XMM()), hi)
	zl, zh := ZMM(), ZMM()
	VMOVDQU32(zipLo, zl)
	VMOVDQU32(zipHi, zh)
	q := [4]GPVirtual{mp, GP64(), GP64(), GP64()}

	Label("output_ch")
	LEAQ(Mem{Base: mp, Index: x1, Scale: 4}, q[1])
	LEAQ(Mem{Base: mp, Index: x1, Scale: 8}, q[2])
	LEAQ(Mem{Base: q[1], Index: x1, Scale: 8}, q[3])
	var s [2][4]VecVirtual
	for j := 0; j < 4; j++ {
		m1, m2 := ZMM(), ZMM()
		VMOVUPS(xi(q, x1, x3, 4+j), m1)
		VMOVUPS(xi(q, x1, x3, 8+j), m2)
		s[0][j], s[1][j] = ZMM(), ZMM()
		VADDPS(xi(q, x1, x3, j), m1, s[0][j])
		VADDPS(m2, s[0][j], s[0][j])
		VSUBPS(m2, m1, s[1][j])
		VSUBPS(xi(q, x1, x3, 12+j), s[1][j], s[1][j])
	}
	b := ZMM()
	VBROADCASTSS(Mem{Base: bias}, b)
	for r := 0; r < 2; r++ {
		ka, kb := K1, K2
		ym := Mem{Base: y}
		rm := Mem{Base: res}
		if r == 1 {
			ka, kb = K3, K4
			ym.Index, ym.Scale = ys, 1
			rm.Index, rm.Scale = ys, 1
		}
		y0, y1, t := ZMM(), ZMM(), ZMM()
		VADDPS(s[r][1], s[r][0], y0)
		VADDPS(s[r][2], y0, y0)
		VSUBPS(s[r][2], s[r][1], y1)
		VSUBPS(s[r][3], y1, y1)
		VADDPS(b, y0, y0)
		VADDPS(b, y1, y1)
		VMOVAPS(y0, t)
		VPERMT2PS(y1, zl, t)
		VPERMT2PS(y1, zh, y0)
		lbl := "output_nores" + string(rune('0'+r))
		TESTQ(res, res)
		JZ(LabelRef(lbl))
		u := ZMM()
		VMOVUPS_Z(rm, ka, u)
		VADDPS(u, t, t)
		rm.Disp = 64
		VMOVUPS_Z(rm, kb, u)
		VADDPS(u, y0, y0)
		Label(lbl)
		// VMAXPS/VMINPS return their second source (Go order: the
		// first operand) when either is NaN, so a NaN survives.
		VMAXPS(t, lo, t)
		VMINPS(t, hi, t)
		VMAXPS(y0, lo, y0)
		VMINPS(y0, hi, y0)
		VMOVUPS(t, ka, ym)
		ym.Disp = 64
		VMOVUPS(y0, kb, ym)
	}
	ADDQ(mcs, mp)
	ADDQ(ycs, y)
	TESTQ(res, res)
	JZ(LabelRef("output_res_done"))
	ADDQ(ycs, res)
	Label("output_res_done")
	ADDQ(U8(4), bias)
	DECQ(nch)
	JNZ(LabelRef("output_ch"))
	VZEROUPPER()
	RET()
}
