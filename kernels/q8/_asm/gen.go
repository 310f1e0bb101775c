// Command _asm generates kernels/q8's amd64 kernels with avo.
//
// Run go generate in this directory; it rewrites ../q8_amd64.s. The Go
// declarations, each with the loop it computes, are written by hand in
// ../q8_amd64.go. Every routine exists for AVX-512 (zmm, BW) and for
// AVX2 (ymm), from the same emitter code, and takes whole blocks only
// (the Go side runs the rest).
package main

//go:generate go run . -out ../q8_amd64.s -pkg q8

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// isa is one instruction set; the emitters branch on z where the two
// differ (widening and narrowing, register count).
type isa struct {
	name string // function name suffix
	w    int    // int32 lanes in a vector
	z    bool   // AVX-512
}

var (
	avx512 = isa{"AVX512", 16, true}
	avx2   = isa{"AVX2", 8, false}
)

func (s isa) vec() VecVirtual {
	if s.z {
		return ZMM()
	}
	return YMM()
}

func main() {
	ConstraintExpr("amd64,!purego")
	packPerm()
	for _, s := range []isa{avx512, avx2} {
		for _, as := range []bool{true, false} {
			for _, bs := range []bool{true, false} {
				addKernel(s, as, bs)
			}
		}
		quantizeKernel(s)
		evensKernel(s)
		if s.z {
			compactKernel()
		}
		minMaxKernel(s)
		for _, signed := range []bool{true, false} {
			maxIntoKernel(s, signed)
			hmax3s2Kernel(s, signed)
		}
	}
	Generate()
}

func sgn(signed bool) string {
	if signed {
		return "S"
	}
	return "U"
}

var perm Mem

// packPerm is the VPERMD index that gathers the dwords {0, 4, 1, 5} after
// AVX2's in-lane packs.
func packPerm() {
	perm = GLOBL("q8packperm", RODATA|NOPTR)
	for i, v := range []uint32{0, 4, 1, 5, 2, 6, 3, 7} {
		DATA(4*i, U32(v))
	}
}

// addKernel emits add<A><B><isa>(y, a, b *byte, n int, k *uint32): per
// element, the operands widened to int32 (sign- or zero-extended as A and
// B say), minus their zero points k[0], k[1], converted to float32 and
// multiplied by their scales k[3], k[4], added, divided by the output
// scale k[5], clamped to [k[6], k[7]] (floats holding the activation and
// the code range, both in output units), rounded to nearest even, plus
// the output zero point k[2], low byte stored. n is a multiple of 4 vectors
// (64 elements) for AVX-512 and of 2 vectors (16) for AVX2.
func addKernel(s isa, as, bs bool) {
	name := fmt.Sprintf("add%s%s%s", sgn(as), sgn(bs), s.name)
	TEXT(name, NOSPLIT, "func(y *byte, a *byte, b *byte, n int, k *uint32)")
	y := Load(Param("y"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	n := Load(Param("n"), GP64())
	k := Load(Param("k"), GP64())
	var c [8]VecVirtual
	for i := range c {
		c[i] = s.vec()
		if i < 3 {
			VPBROADCASTD(Mem{Base: k, Disp: 4 * i}, c[i])
		} else {
			VBROADCASTSS(Mem{Base: k, Disp: 4 * i}, c[i])
		}
	}
	za, zb, zc, sa, sb, sc, lo, hi := c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
	nv, step := 4, 64
	var mask, pm VecVirtual
	if !s.z {
		nv, step = 2, 16
		mask, pm = s.vec(), s.vec()
		VPCMPEQD(mask, mask, mask)
		VPSRLD(U8(24), mask, mask)
		VMOVDQU(perm, pm)
	}
	bytes := s.w // bytes of input per vector
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	widen := func(signed bool, m Mem, dst VecVirtual) {
		if signed {
			VPMOVSXBD(m, dst)
		} else {
			VPMOVZXBD(m, dst)
		}
	}
	out := make([]VecVirtual, nv)
	for v := range nv {
		ta, tb := s.vec(), s.vec()
		widen(as, Mem{Base: a, Disp: v * bytes}, ta)
		widen(bs, Mem{Base: b, Disp: v * bytes}, tb)
		VPSUBD(za, ta, ta)
		VPSUBD(zb, tb, tb)
		VCVTDQ2PS(ta, ta)
		VCVTDQ2PS(tb, tb)
		VMULPS(sa, ta, ta)
		VMULPS(sb, tb, tb)
		VADDPS(tb, ta, ta)
		VDIVPS(sc, ta, ta)
		VMAXPS(lo, ta, ta)
		VMINPS(hi, ta, ta)
		if s.z {
			VCVTPS2DQ_RN_SAE(ta, ta)
		} else {
			VCVTPS2DQ(ta, ta)
		}
		VPADDD(zc, ta, ta)
		if s.z {
			VPMOVDB(ta, Mem{Base: y, Disp: v * bytes})
		} else {
			VPAND(mask, ta, ta)
		}
		out[v] = ta
	}
	if !s.z {
		VPACKUSDW(out[1], out[0], out[0])
		VPACKUSWB(out[0], out[0], out[0])
		VPERMD(out[0], pm, out[0])
		VMOVDQU(out[0].AsX(), Mem{Base: y})
	}
	ADDQ(U32(step), a)
	ADDQ(U32(step), b)
	ADDQ(U32(step), y)
	SUBQ(U32(step), n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

func pmax(signed bool, src Op, x, dst VecVirtual) {
	if signed {
		VPMAXSB(src, x, dst)
	} else {
		VPMAXUB(src, x, dst)
	}
}

func vload(s isa, m Mem, dst VecVirtual) {
	if s.z {
		VMOVDQU64(m, dst)
	} else {
		VMOVDQU(m, dst)
	}
}

func vstore(s isa, src VecVirtual, m Mem) {
	if s.z {
		VMOVDQU64(src, m)
	} else {
		VMOVDQU(src, m)
	}
}

// maxIntoKernel emits maxInto<S|U><isa>(dst, src *byte, n int): dst[i] =
// max(dst[i], src[i]) as int8 (S) or uint8 (U); n a multiple of one
// vector (64 or 32 bytes).
func maxIntoKernel(s isa, signed bool) {
	name := fmt.Sprintf("maxInto%s%s", sgn(signed), s.name)
	TEXT(name, NOSPLIT, "func(dst *byte, src *byte, n int)")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	step := 4 * s.w
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	t := s.vec()
	vload(s, Mem{Base: src}, t)
	pmax(signed, Mem{Base: dst}, t, t)
	vstore(s, t, Mem{Base: dst})
	ADDQ(U32(step), src)
	ADDQ(U32(step), dst)
	SUBQ(U32(step), n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// hmax3s2Kernel emits hmax3s2<S|U><isa>(dst, m *byte, n int): dst[j] =
// max(m[2j], m[2j+1], m[2j+2]); n a multiple of half a vector (32 or 16)
// and m readable up to m[2n+1]. The window maxima are taken at every
// byte, and the even ones kept: VPMOVWB (AVX-512) truncates each 16-bit
// lane to its low byte; AVX2 masks the odd bytes and packs.
func hmax3s2Kernel(s isa, signed bool) {
	name := fmt.Sprintf("hmax3s2%s%s", sgn(signed), s.name)
	TEXT(name, NOSPLIT, "func(dst *byte, m *byte, n int)")
	dst := Load(Param("dst"), GP64())
	m := Load(Param("m"), GP64())
	n := Load(Param("n"), GP64())
	in := 4 * s.w
	var mask VecVirtual
	if !s.z {
		mask = s.vec()
		VPCMPEQW(mask, mask, mask)
		VPSRLW(U8(8), mask, mask)
	}
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	t := s.vec()
	vload(s, Mem{Base: m}, t)
	pmax(signed, Mem{Base: m, Disp: 1}, t, t)
	pmax(signed, Mem{Base: m, Disp: 2}, t, t)
	if s.z {
		VPMOVWB(t, Mem{Base: dst})
	} else {
		VPAND(mask, t, t)
		VPACKUSWB(t, t, t)
		VPERMQ(U8(0x08), t, t)
		VMOVDQU(t.AsX(), Mem{Base: dst})
	}
	ADDQ(U32(in), m)
	ADDQ(U32(in/2), dst)
	SUBQ(U32(in/2), n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// narrowStore stores the low bytes of the int32 lanes of out (AVX-512:
// one vector per 16 bytes at m+16v; AVX2: two vectors into 16 bytes at m,
// mask holding 0xFF per lane and pm the packing permutation).
func narrowStore(s isa, out []VecVirtual, m Mem, mask, pm VecVirtual) {
	if s.z {
		for v, o := range out {
			VPMOVDB(o, m.Offset(16*v))
		}
		return
	}
	for _, o := range out {
		VPAND(mask, o, o)
	}
	VPACKUSDW(out[1], out[0], out[0])
	VPACKUSWB(out[0], out[0], out[0])
	VPERMD(out[0], pm, out[0])
	VMOVDQU(out[0].AsX(), m)
}

// quantizeKernel emits quantize<isa>(y *byte, x *float32, n int, k
// *uint32): y[i] = low byte of roundHalfEven(min(max(x[i]/k[0], k[1]),
// k[2])) + k[3] (k[0:3] float32, k[3] int32): QuantizeLinear with the
// code range folded into the clamp. n is a multiple of 64 (AVX-512) or
// 16 (AVX2).
func quantizeKernel(s isa) {
	name := "quantize" + s.name
	TEXT(name, NOSPLIT, "func(y *byte, x *float32, n int, k *uint32)")
	y := Load(Param("y"), GP64())
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	k := Load(Param("k"), GP64())
	sc, lo, hi, zc := s.vec(), s.vec(), s.vec(), s.vec()
	VBROADCASTSS(Mem{Base: k}, sc)
	VBROADCASTSS(Mem{Base: k, Disp: 4}, lo)
	VBROADCASTSS(Mem{Base: k, Disp: 8}, hi)
	VPBROADCASTD(Mem{Base: k, Disp: 12}, zc)
	nv, step := 4, 64
	var mask, pm VecVirtual
	if !s.z {
		nv, step = 2, 16
		mask, pm = s.vec(), s.vec()
		VPCMPEQD(mask, mask, mask)
		VPSRLD(U8(24), mask, mask)
		VMOVDQU(perm, pm)
	}
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	out := make([]VecVirtual, nv)
	for v := range nv {
		t := s.vec()
		VMOVUPS(Mem{Base: x, Disp: 4 * s.w * v}, t)
		VDIVPS(sc, t, t)
		VMAXPS(lo, t, t)
		VMINPS(hi, t, t)
		if s.z {
			VCVTPS2DQ_RN_SAE(t, t)
		} else {
			VCVTPS2DQ(t, t)
		}
		VPADDD(zc, t, t)
		out[v] = t
	}
	narrowStore(s, out, Mem{Base: y}, mask, pm)
	ADDQ(U32(4*step), x)
	ADDQ(U32(step), y)
	SUBQ(U32(step), n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// minMaxKernel emits minMax<isa>(x *float32, n int, out *float32): out
// gets three vectors, the lanewise minimum of 0 and the x[i] in the
// lane, the maximum likewise, and the lanewise sum of x (NaN or Inf when
// x holds a NaN or an Inf; the caller checks it). n is a multiple of 4
// vectors (64 or 32 floats).
func minMaxKernel(s isa) {
	name := "minMax" + s.name
	TEXT(name, NOSPLIT, "func(x *float32, n int, out *float32)")
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	out := Load(Param("out"), GP64())
	var mn, mx, sm [4]VecVirtual
	for i := range 4 {
		mn[i], mx[i], sm[i] = s.vec(), s.vec(), s.vec()
		VXORPS(mn[i], mn[i], mn[i])
		VXORPS(mx[i], mx[i], mx[i])
		VXORPS(sm[i], sm[i], sm[i])
	}
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	for i := range 4 {
		t := s.vec()
		VMOVUPS(Mem{Base: x, Disp: 4 * s.w * i}, t)
		VMINPS(t, mn[i], mn[i])
		VMAXPS(t, mx[i], mx[i])
		VADDPS(t, sm[i], sm[i])
	}
	ADDQ(U32(16*s.w), x)
	SUBQ(U32(4*s.w), n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VMINPS(mn[1], mn[0], mn[0])
	VMINPS(mn[3], mn[2], mn[2])
	VMINPS(mn[2], mn[0], mn[0])
	VMAXPS(mx[1], mx[0], mx[0])
	VMAXPS(mx[3], mx[2], mx[2])
	VMAXPS(mx[2], mx[0], mx[0])
	VADDPS(sm[1], sm[0], sm[0])
	VADDPS(sm[3], sm[2], sm[2])
	VADDPS(sm[2], sm[0], sm[0])
	VMOVUPS(mn[0], Mem{Base: out})
	VMOVUPS(mx[0], Mem{Base: out, Disp: 4 * s.w})
	VMOVUPS(sm[0], Mem{Base: out, Disp: 8 * s.w})
	VZEROUPPER()
	RET()
}

// evensKernel emits evens<isa>(dst, src *byte, n int): dst[j] = src[2j]
// for j < n, reading src[0] to src[2n−2]: the column gather of a
// stride-2 convolution's input. AVX-512 takes any n (the last vector
// under masks); AVX2 a multiple of 16, reading up to src[2n−1].
func evensKernel(s isa) {
	name := "evens" + s.name
	TEXT(name, NOSPLIT, "func(dst *byte, src *byte, n int)")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	in := 4 * s.w
	t := s.vec()
	if s.z {
		// Whole vectors while more than one remains (a whole last vector
		// would read src[2n−1]).
		Label(name + "_loop")
		CMPQ(n, U8(32))
		JLE(LabelRef(name + "_tail"))
		VMOVDQU64(Mem{Base: src}, t)
		VPMOVWB(t, Mem{Base: dst})
		ADDQ(U32(in), src)
		ADDQ(U32(in/2), dst)
		SUBQ(U32(in/2), n)
		JMP(LabelRef(name + "_loop"))
		Label(name + "_tail")
		TESTQ(n, n)
		JZ(LabelRef(name + "_done"))
		ones, bits := GP64(), GP64()
		MOVQ(I64(-1), ones)
		BZHIQ(n, ones, bits)
		kout := K()
		KMOVQ(bits, kout)
		LEAQ(Mem{Base: n, Index: n, Scale: 1, Disp: -1}, n)
		BZHIQ(n, ones, bits)
		kin := K()
		KMOVQ(bits, kin)
		VMOVDQU8_Z(Mem{Base: src}, kin, t)
		VPMOVWB(t, kout, Mem{Base: dst})
		Label(name + "_done")
		VZEROUPPER()
		RET()
		return
	}
	mask := s.vec()
	VPCMPEQW(mask, mask, mask)
	VPSRLW(U8(8), mask, mask)
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	VPAND(Mem{Base: src}, mask, t)
	VPACKUSWB(t, t, t)
	VPERMQ(U8(0x08), t, t)
	VMOVDQU(t.AsX(), Mem{Base: dst})
	ADDQ(U32(in), src)
	ADDQ(U32(in/2), dst)
	SUBQ(U32(in/2), n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// compactKernel emits compactAVX512(dst, src *byte, rows, w, stride int):
// dst[r·w + c] = src[r·stride + c] for r < rows, c < w (w ≥ 1): rows of a
// wide grid packed together, a row's last partial vector under masks.
func compactKernel() {
	name := "compactAVX512"
	TEXT(name, NOSPLIT, "func(dst *byte, src *byte, rows int, w int, stride int)")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	rows := Load(Param("rows"), GP64())
	w := Load(Param("w"), GP64())
	stride := Load(Param("stride"), GP64())
	// The tail mask is the same for every row: w mod 64 bytes (a whole
	// vector when 0).
	full, tail, bits := GP64(), GP64(), GP64()
	MOVQ(w, tail)
	ANDQ(U8(63), tail)
	MOVQ(w, full)
	SUBQ(tail, full)
	MOVQ(I64(-1), bits)
	BZHIQ(tail, bits, bits)
	k := K()
	KMOVQ(bits, k)
	t := ZMM()
	TESTQ(rows, rows)
	JZ(LabelRef(name + "_done"))
	Label(name + "_row")
	c := GP64()
	XORQ(c, c)
	Label(name + "_vec")
	CMPQ(c, full)
	JGE(LabelRef(name + "_tail"))
	VMOVDQU64(Mem{Base: src, Index: c, Scale: 1}, t)
	VMOVDQU64(t, Mem{Base: dst, Index: c, Scale: 1})
	ADDQ(U8(64), c)
	JMP(LabelRef(name + "_vec"))
	Label(name + "_tail")
	TESTQ(tail, tail)
	JZ(LabelRef(name + "_next"))
	VMOVDQU8_Z(Mem{Base: src, Index: c, Scale: 1}, k, t)
	VMOVDQU8(t, k, Mem{Base: dst, Index: c, Scale: 1})
	Label(name + "_next")
	ADDQ(stride, src)
	ADDQ(w, dst)
	DECQ(rows)
	JNZ(LabelRef(name + "_row"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
