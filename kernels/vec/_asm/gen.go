// Command _asm generates kernels/vec's amd64 assembly with avo.
//
// Run go generate in this directory: it refits the polynomial
// coefficients (./fit, into ../internal/coef) and rewrites
// ../vec_amd64.s and its Go declarations ../stubs_amd64.go. Every routine
// exists twice, for AVX-512 (16 lanes, zmm) and for AVX2+FMA (8 lanes,
// ymm), from the same emitter code; the per-lane algorithms are those of
// ../generic.go.
package main

//go:generate go run ./fit -out ../internal/coef/coef.go
//go:generate go run . -out ../vec_amd64.s -stubs ../stubs_amd64.go -pkg vec

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/kernels/vec/internal/coef"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Mirrors of ../generic.go's constants.
const (
	log2e     = 1.44269504088896340736
	ln2hi     = 0.693145751953125
	ln2lo     = 1.42860682030941723212e-6
	expLo     = -104
	expHi     = 89
	tanhHi    = 10
	erfHi     = 4
	sqrt1_2   = 0.70710678118654752440
	geluTanhA = 1.5957691216057307
	geluTanhB = 0.071354816272138239
)

// isa is one instruction set: the emitters below branch on it where the
// two differ (masks, blends, rounding, scaling).
type isa struct {
	name string // function name suffix
	w    int    // float32 lanes in a vector
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
	for _, s := range []isa{avx512, avx2} {
		unaryFuncs(s)
		arithFuncs(s)
		reduceFuncs(s)
	}
	emitPool()
	Generate()
}

// ---- constant pool ----
//
// Every constant is 64 bytes: a float32 repeated in all 16 lanes, or an
// 8-entry permute table repeated twice. AVX2 code reads the first 32
// bytes. Constants are memory operands where an instruction takes one and
// are loaded into a register (load) where it does not.

var (
	pool     [][16]uint32
	poolKeys = map[[16]uint32]int{}
)

func constant(v [16]uint32) Mem {
	i, ok := poolKeys[v]
	if !ok {
		i = len(pool)
		pool = append(pool, v)
		poolKeys[v] = i
	}
	return NewDataAddr(NewStaticSymbol("vconst"), 64*i)
}

// kf is the float32 v in every lane; ku the bits u.
func kf(v float64) Mem { return ku(math.Float32bits(float32(v))) }

func ku(u uint32) Mem {
	var c [16]uint32
	for i := range c {
		c[i] = u
	}
	return constant(c)
}

// ktab is an 8-entry permute table.
func ktab(t [8]float32) Mem {
	var c [16]uint32
	for i := range c {
		c[i] = math.Float32bits(t[i%8])
	}
	return constant(c)
}

func emitPool() {
	GLOBL("vmasks", RODATA|NOPTR) // vmasks[n]: the low n lanes, for tails
	for n := range 16 {
		DATA(2*n, U16(1<<n-1))
	}
	GLOBL("vconst", RODATA|NOPTR)
	for i, c := range pool {
		for j, u := range c {
			DATA(64*i+4*j, U32(u))
		}
	}
}

// Hoisting: in AVX-512 functions (32 registers) the first maxHoist
// constants a function uses live in registers for its whole run. The
// function starts with a jump to a setup block, emitted at its end
// (hoistEnd) once the constants are known, which loads them and jumps
// back; avo's register allocator sees the loads dominate the loop.
const maxHoist = 20

var (
	hoisting bool
	hoisted  map[Mem]VecVirtual
	hoistSeq []Mem
	hoistFn  string
)

func (s isa) hoistBegin(fn string) {
	if !s.z {
		return
	}
	hoisting, hoisted, hoistSeq, hoistFn = true, map[Mem]VecVirtual{}, nil, fn
	JMP(LabelRef(fn + "_setup"))
	Label(fn + "_body")
}

// hoistEnd ends the function's body: what follows runs after the loop.
func (s isa) hoistEnd() {
	if !hoisting {
		return
	}
	fn := hoistFn
	JMP(LabelRef(fn + "_exit"))
	Label(fn + "_setup")
	for _, m := range hoistSeq {
		VMOVUPS(m, hoisted[m])
	}
	JMP(LabelRef(fn + "_body"))
	Label(fn + "_exit")
	hoisting = false
}

// k returns the constant m as an operand: a register if hoisted.
func (s isa) k(m Mem) Op {
	if !hoisting {
		return m
	}
	if r, ok := hoisted[m]; ok {
		return r
	}
	if len(hoistSeq) >= maxHoist {
		return m
	}
	r := ZMM()
	hoisted[m] = r
	hoistSeq = append(hoistSeq, m)
	return r
}

// reg returns a register holding c for reading only: c itself if it is
// one.
func (s isa) reg(c Op) VecVirtual {
	if r, ok := c.(VecVirtual); ok {
		return r
	}
	return s.load(c)
}

// load returns a new register holding m.
func (s isa) load(m Op) VecVirtual {
	r := s.vec()
	VMOVUPS(m, r)
	return r
}

func (s isa) copy(x VecVirtual) VecVirtual {
	r := s.vec()
	VMOVAPS(x, r)
	return r
}

// bcast returns a register with the float32 at m in every lane.
func (s isa) bcast(m Mem) VecVirtual {
	r := s.vec()
	VBROADCASTSS(m, r)
	return r
}

// ---- per-lane math (the algorithms of ../generic.go) ----

// exp returns e^x; x is clobbered.
func (s isa) exp(x VecVirtual) VecVirtual {
	// Clamp with x as the operand that MAXPS/MINPS return for NaN.
	VMAXPS(x, s.reg(s.k(kf(expLo))), x)
	VMINPS(x, s.reg(s.k(kf(expHi))), x)
	n := s.vec()
	VMULPS(s.k(kf(log2e)), x, n)
	if s.z {
		VRNDSCALEPS(U8(0), n, n)
	} else {
		VROUNDPS(U8(0), n, n)
	}
	VFNMADD231PS(s.k(kf(ln2hi)), n, x) // x -= n·ln2hi (exact)
	VFNMADD231PS(s.k(kf(ln2lo)), n, x) // x = r
	p := s.load(s.k(kf(float64(coef.Exp[len(coef.Exp)-1]))))
	for k := len(coef.Exp) - 2; k >= 0; k-- {
		VFMADD213PS(s.k(kf(float64(coef.Exp[k]))), x, p) // p = p·r + c
	}
	VFMADD213PS(s.k(kf(1)), x, p) // 1 + r·P(r)
	if s.z {
		VSCALEFPS(n, p, p)
		return p
	}
	// p·2^n as p·2^n1·2^n2, n1 = n>>1, n2 = n - n1: both factors are
	// normal floats for n in [-150, 128], and only the last product rounds.
	ni := s.vec()
	VCVTPS2DQ(n, ni)
	n1 := s.vec()
	VPSRAD(U8(1), ni, n1)
	VPSUBD(n1, ni, ni)
	bias := s.k(ku(127))
	VPADDD(bias, n1, n1)
	VPADDD(bias, ni, ni)
	VPSLLD(U8(23), n1, n1)
	VPSLLD(U8(23), ni, ni)
	VMULPS(n1, p, p)
	VMULPS(ni, p, p)
	return p
}

// recip returns 1/(d+lo) to within about half an ulp: an approximate
// reciprocal, one Newton step, and one step that also corrects for lo.
func (s isa) recip(d, lo, one VecVirtual) VecVirtual {
	y := s.vec()
	if s.z {
		VRCP14PS(d, y)
	} else {
		VRCPPS(d, y)
	}
	t := s.copy(one)
	VFNMADD231PS(d, y, t) // t = 1 - y·d
	VFMADD231PS(t, y, y)  // y += y·t
	t = s.copy(one)
	VFNMADD231PS(d, y, t)
	VFNMADD231PS(lo, y, t) // t = 1 - y·(d + lo)
	VFMADD231PS(t, y, y)
	return y
}

// sigmoid returns 1/(1+e^-v): e = e^-|v|, 1/(1+e) for v ≥ 0 and
// e/(1+e) for v < 0 (sign bit set).
func (s isa) sigmoid(v VecVirtual) VecVirtual {
	a := s.vec()
	VANDPS(s.k(ku(0x7fffffff)), v, a)
	VORPS(s.k(ku(0x80000000)), a, a) // -|v|
	e := s.exp(a)
	one := s.reg(s.k(kf(1)))
	d := s.vec()
	VADDPS(one, e, d)
	lo := s.vec()
	VSUBPS(d, one, lo)
	VADDPS(e, lo, lo) // (1 - d) + e: the rounding error of d
	y := s.recip(d, lo, one)
	if s.z {
		k := K()
		VPMOVD2M(v, k)
		VMULPS(e, y, k, y)
		return y
	}
	num := s.vec()
	VBLENDVPS(v, e, one, num)
	VMULPS(num, y, y)
	return y
}

// tanh returns tanh x: the odd polynomial for |x| < coef.TanhSmall,
// 1 - 2/(e^2|x| + 1) with x's sign beyond.
func (s isa) tanh(x VecVirtual) VecVirtual {
	a := s.vec()
	VANDPS(s.k(ku(0x7fffffff)), x, a)

	sq := s.vec()
	VMULPS(x, x, sq)
	p := s.load(s.k(kf(float64(coef.Tanh[len(coef.Tanh)-1]))))
	for k := len(coef.Tanh) - 2; k >= 0; k-- {
		VFMADD213PS(s.k(kf(float64(coef.Tanh[k]))), sq, p)
	}
	VMULPS(sq, p, p)
	VFMADD213PS(x, x, p) // small: x + x·s·P(s)

	t := s.vec()
	VADDPS(a, a, t)
	VMINPS(t, s.reg(s.k(kf(2*tanhHi))), t)
	e := s.exp(t)
	one := s.load(s.k(kf(1)))
	d := s.vec()
	VADDPS(one, e, d)
	lo := s.vec()
	VSUBPS(d, e, lo)
	VADDPS(one, lo, lo) // (e - d) + 1
	r := s.recip(d, lo, one)
	VFNMADD231PS(s.k(kf(2)), r, one) // large: 1 - 2/(1+e)
	sg := s.vec()
	VANDPS(s.k(ku(0x80000000)), x, sg)
	VORPS(sg, one, one)

	out := s.vec()
	if s.z {
		k := K()
		VCMPPS(U8(1), s.k(kf(coef.TanhSmall)), a, k) // |x| < TanhSmall
		VBLENDMPS(p, one, k, out)
		return out
	}
	m := s.vec()
	VCMPPS(U8(1), s.k(kf(coef.TanhSmall)), a, m)
	VBLENDVPS(m, p, one, out)
	return out
}

// erf returns erf x from the piecewise polynomials of coef.Erf.
func (s isa) erf(x VecVirtual) VecVirtual {
	a := s.vec()
	VANDPS(s.k(ku(0x7fffffff)), x, a)
	VMINPS(a, s.reg(s.k(kf(erfHi))), a)
	i := s.vec()
	VADDPS(a, a, i)
	VCVTTPS2DQ(i, i)
	VPMINSD(s.k(ku(7)), i, i) // interval index

	var mids [8]float32
	for j := 1; j < 8; j++ {
		mids[j] = float32(j)/2 + 0.25
	}
	t := s.vec()
	VPERMPS(s.k(ktab(mids)), i, t)
	VSUBPS(t, a, t) // t = a - mid
	v := s.vec()
	VPERMPS(s.k(ktab(coef.Erf[0])), i, v)
	u := s.copy(t)
	// Interval 0 (a < 1/2): t = a², u = v = a.
	if s.z {
		k := K()
		VCMPPS(U8(1), s.k(kf(0.5)), a, k)
		VMULPS(a, a, k, t)
		VMOVAPS(a, k, u)
		VMOVAPS(a, k, v)
	} else {
		m := s.vec()
		VCMPPS(U8(1), s.k(kf(0.5)), a, m)
		sq := s.vec()
		VMULPS(a, a, sq)
		VBLENDVPS(m, sq, t, t)
		VBLENDVPS(m, a, u, u)
		VBLENDVPS(m, a, v, v)
	}
	p := s.vec()
	VPERMPS(s.k(ktab(coef.Erf[coef.ErfDegree+1])), i, p)
	for k := coef.ErfDegree; k >= 1; k-- {
		q := s.vec()
		VPERMPS(s.k(ktab(coef.Erf[k])), i, q)
		VFMADD213PS(q, t, p)
	}
	VFMADD213PS(v, u, p) // v + u·Q
	VMINPS(p, s.reg(s.k(kf(1))), p)
	sg := s.vec()
	VANDPS(s.k(ku(0x80000000)), x, sg)
	VORPS(sg, p, p)
	return p
}

// ---- loops ----

// loop runs body over n floats in blocks of unroll vectors, then one
// vector at a time; AVX-512 code takes any n and runs the last n%16 under
// a mask, AVX2 code needs n a multiple of 8. body(off, k) emits the work
// for the vector at byte offset off from each pointer, under mask k (nil:
// all lanes); ptrs advance together.
func (s isa) loop(name string, n Register, ptrs []Register, unroll int, body func(off int, k Op)) {
	big, one, done := name+"_big", name+"_one", name+"_done"
	if unroll > 1 {
		Label(big)
		CMPQ(n, U32(unroll*s.w))
		JL(LabelRef(one))
		for u := range unroll {
			body(u*s.w*4, nil)
		}
		for _, p := range ptrs {
			ADDQ(U32(unroll*s.w*4), p)
		}
		SUBQ(U32(unroll*s.w), n)
		JMP(LabelRef(big))
	}
	Label(one)
	if s.z {
		CMPQ(n, U32(s.w))
		JL(LabelRef(name + "_tail"))
	} else {
		TESTQ(n, n)
		JZ(LabelRef(done))
	}
	body(0, nil)
	for _, p := range ptrs {
		ADDQ(U32(s.w*4), p)
	}
	SUBQ(U32(s.w), n)
	JMP(LabelRef(one))
	if s.z {
		// The last n < 16 floats under a mask: loads of the lanes past n
		// read nothing (and cannot fault), stores to them write nothing.
		Label(name + "_tail")
		TESTQ(n, n)
		JZ(LabelRef(done))
		t := GP64()
		LEAQ(NewDataAddr(NewStaticSymbol("vmasks"), 0), t)
		k := K()
		KMOVW(Mem{Base: t, Index: n, Scale: 2}, k)
		body(0, k)
	}
	Label(done)
}

// text starts function fn with signature sig; its Go declaration gets
// doc as its comment and go:noescape (no routine keeps a pointer).
func (s isa) text(fn, sig, doc string) {
	TEXT(fn, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc)
	s.hoistBegin(fn)
}

// ret0 is the address of the first result.
func ret0() Mem {
	b, err := ReturnIndex(0).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// param is the address of a parameter.
func param(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

func at(p Register, off int) Mem { return Mem{Base: p, Disp: off} }

// multiple is the doc's condition on n.
func (s isa) multiple() string {
	if s.z {
		return ""
	}
	return fmt.Sprintf(", n a multiple of %d", s.w)
}

// ld loads m, under mask k (nil: all lanes) with the other lanes zeroed.
func (s isa) ld(m Mem, k Op) VecVirtual {
	r := s.vec()
	if k == nil {
		VMOVUPS(m, r)
	} else {
		VMOVUPS_Z(m, k, r)
	}
	return r
}

// st stores v to m, under mask k (nil: all lanes).
func (s isa) st(v VecVirtual, m Mem, k Op) {
	if k == nil {
		VMOVUPS(v, m)
	} else {
		VMOVUPS(v, k, m)
	}
}

// mem returns m as an operand: itself for a full vector, loaded under
// mask k otherwise (a memory operand would read past the end).
func (s isa) mem(m Mem, k Op) Op {
	if k == nil {
		return m
	}
	return s.ld(m, k)
}

const unaryDoc = "%s sets dst[i] = %s for i in [0, n)%s: the loop of %s in generic.go%s."

// unary emits func(dst, x *float32, n int) applying f to each vector.
func (s isa) unary(name, what, ref string, unroll int, f func(x VecVirtual) VecVirtual) {
	fn := name + s.name
	s.text(fn, "func(dst, x *float32, n int)", fmt.Sprintf(unaryDoc, fn, what, s.multiple(), ref, ", in float32 with fused multiply-adds"))
	d := Load(Param("dst"), GP64())
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	s.loop(fn, n, []Register{d, x}, unroll, func(off int, k Op) {
		v := s.ld(at(x, off), k)
		s.st(f(v), at(d, off), k)
	})
	s.hoistEnd()
	VZEROUPPER()
	RET()
}

func unaryFuncs(s isa) {
	tu := 1 // transcendental unroll: AVX2 has only 16 registers
	if s.z {
		tu = 2
	}
	s.unary("exp", "e^x[i]", "expGeneric", tu, s.exp)
	s.unary("tanh", "tanh x[i]", "tanhGeneric", tu, s.tanh)
	s.unary("sigmoid", "1/(1+e^-x[i])", "sigmoidGeneric", tu, s.sigmoid)
	s.unary("erf", "erf x[i]", "erfGeneric", tu, s.erf)
	s.unary("gelu", "x[i]/2·(1+erf(x[i]/√2))", "geluGeneric", tu, func(x VecVirtual) VecVirtual {
		h := s.vec()
		VMULPS(s.k(kf(0.5)), x, h)
		VMULPS(s.k(kf(sqrt1_2)), x, x)
		e := s.erf(x)
		VFMADD213PS(h, h, e) // h + h·erf
		return e
	})
	s.unary("geluTanh", "x[i]·sigmoid(x[i]·(a + b·x[i]²))", "geluTanhGeneric", tu, func(x VecVirtual) VecVirtual {
		sq := s.vec()
		VMULPS(x, x, sq)
		t := s.load(s.k(kf(geluTanhB)))
		VFMADD213PS(s.k(kf(geluTanhA)), sq, t)
		VMULPS(x, t, t)
		y := s.sigmoid(t)
		VMULPS(x, y, y)
		return y
	})
	s.unary("silu", "x[i]·sigmoid(x[i])", "siluGeneric", tu, func(x VecVirtual) VecVirtual {
		y := s.sigmoid(x)
		VMULPS(x, y, y)
		return y
	})
	fn := "clip" + s.name
	s.text(fn, "func(dst, x *float32, n int, lo, hi float32)", fmt.Sprintf(unaryDoc, fn, "min(max(x[i], lo), hi), NaN kept", s.multiple(), "clipGeneric", ""))
	{
		d := Load(Param("dst"), GP64())
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		lo := s.bcast(param("lo"))
		hi := s.bcast(param("hi"))
		s.loop(fn, n, []Register{d, x}, 4, func(off int, k Op) {
			v := s.ld(at(x, off), k)
			VMAXPS(v, lo, v) // v is returned for NaN
			VMINPS(v, hi, v)
			s.st(v, at(d, off), k)
		})
		s.hoistEnd()
		VZEROUPPER()
		RET()
	}
	fn = "relu" + s.name
	s.text(fn, "func(dst, x *float32, n int)", fmt.Sprintf(unaryDoc, fn, "max(x[i], 0), NaN and -0 kept", s.multiple(), "reluGeneric", ""))
	{
		d := Load(Param("dst"), GP64())
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		z := s.vec()
		VXORPS(z, z, z)
		s.loop(fn, n, []Register{d, x}, 4, func(off int, k Op) {
			v := s.ld(at(x, off), k)
			VMAXPS(v, z, v) // v is returned for NaN and ±0
			s.st(v, at(d, off), k)
		})
		s.hoistEnd()
		VZEROUPPER()
		RET()
	}
}

func arithFuncs(s isa) {
	type binop struct {
		name, sym, ref string
		emit           func(y Op, x, dst VecVirtual)
	}
	ops := []binop{
		{"add", "+", "addGeneric", func(y Op, x, dst VecVirtual) { VADDPS(y, x, dst) }},
		{"sub", "-", "subGeneric", func(y Op, x, dst VecVirtual) { VSUBPS(y, x, dst) }},
		{"mul", "·", "mulGeneric", func(y Op, x, dst VecVirtual) { VMULPS(y, x, dst) }},
		{"div", "/", "divGeneric", func(y Op, x, dst VecVirtual) { VDIVPS(y, x, dst) }},
	}
	for _, op := range ops {
		fn := op.name + s.name
		s.text(fn, "func(dst, x, y *float32, n int)", fmt.Sprintf(unaryDoc, fn, "x[i] "+op.sym+" y[i]", s.multiple(), op.ref, ""))
		d := Load(Param("dst"), GP64())
		x := Load(Param("x"), GP64())
		y := Load(Param("y"), GP64())
		n := Load(Param("n"), GP64())
		s.loop(fn, n, []Register{d, x, y}, 4, func(off int, k Op) {
			v := s.ld(at(x, off), k)
			op.emit(s.mem(at(y, off), k), v, v)
			s.st(v, at(d, off), k)
		})
		s.hoistEnd()
		VZEROUPPER()
		RET()
	}
	for _, op := range ops {
		fn := op.name + "Scalar" + s.name
		s.text(fn, "func(dst, x *float32, n int, s float32)", fmt.Sprintf(unaryDoc, fn, "x[i] "+op.sym+" s", s.multiple(), op.name+"ScalarGeneric", ""))
		d := Load(Param("dst"), GP64())
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		c := s.bcast(param("s"))
		s.loop(fn, n, []Register{d, x}, 4, func(off int, k Op) {
			v := s.ld(at(x, off), k)
			op.emit(c, v, v)
			s.st(v, at(d, off), k)
		})
		s.hoistEnd()
		VZEROUPPER()
		RET()
	}
	for _, op := range ops[1:4:4] {
		if op.name == "mul" {
			continue
		}
		name := "scalarSub"
		if op.name == "div" {
			name = "scalarDiv"
		}
		fn := name + s.name
		s.text(fn, "func(dst, x *float32, n int, s float32)", fmt.Sprintf(unaryDoc, fn, "s "+op.sym+" x[i]", s.multiple(), name+"Generic", ""))
		d := Load(Param("dst"), GP64())
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		c := s.bcast(param("s"))
		s.loop(fn, n, []Register{d, x}, 4, func(off int, k Op) {
			v := s.ld(at(x, off), k)
			op.emit(v, c, v)
			s.st(v, at(d, off), k)
		})
		s.hoistEnd()
		VZEROUPPER()
		RET()
	}

	fn := "mulAdd" + s.name
	s.text(fn, "func(dst, x, y, z *float32, n int)", fmt.Sprintf(unaryDoc, fn, "x[i]·y[i] + z[i] (one rounding)", s.multiple(), "mulAddGeneric", ""))
	d := Load(Param("dst"), GP64())
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	z := Load(Param("z"), GP64())
	n := Load(Param("n"), GP64())
	s.loop(fn, n, []Register{d, x, y, z}, 4, func(off int, k Op) {
		v := s.ld(at(x, off), k)
		w := s.ld(at(y, off), k)
		VFMADD213PS(s.mem(at(z, off), k), w, v)
		s.st(v, at(d, off), k)
	})
	s.hoistEnd()
	VZEROUPPER()
	RET()
}

// hreduce folds the lanes of v into lane 0 of its low xmm with op.
func (s isa) hreduce(v VecVirtual, op func(a, b, dst Op)) VecVirtual {
	y, x := v.AsY(), v.AsX()
	if s.z {
		hi := YMM()
		VEXTRACTF32X8(U8(1), v, hi)
		op(hi, y, y)
	}
	hx := XMM()
	VEXTRACTF128(U8(1), y, hx)
	op(hx, x, x)
	t := XMM()
	VPERMILPS(U8(0x4e), x, t)
	op(t, x, x)
	VPERMILPS(U8(0xb1), x, t)
	op(t, x, x)
	return v
}

func reduceFuncs(s isa) {
	vadd := func(a, b, d Op) { VADDPS(a, b, d) }
	vmax := func(a, b, d Op) { VMAXPS(a, b, d) }

	// max: four accumulators, NaN tracked apart.
	fn := "max" + s.name
	s.text(fn, "func(x *float32, n int) float32", fn+fmt.Sprintf(" returns the largest of x[0:n], NaN if one is NaN%s (maxGeneric).", s.multiple()))
	{
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		var acc [4]VecVirtual
		for i := range acc {
			acc[i] = s.load(s.k(kf(math.Inf(-1))))
		}
		var knan OpmaskVirtual
		var vnan VecVirtual
		if s.z {
			knan = K()
			KXORW(knan, knan, knan)
		} else {
			vnan = s.vec()
			VXORPS(vnan, vnan, vnan)
		}
		u := 0
		s.loop(fn, n, []Register{x}, 4, func(off int, k Op) {
			a := acc[u%4]
			u++
			var v VecVirtual
			if k == nil {
				v = s.load(at(x, off))
			} else {
				v = s.load(s.k(kf(math.Inf(-1)))) // -Inf in the lanes past n
				VMOVUPS(at(x, off), k, v)
			}
			VMAXPS(v, a, a)
			if s.z {
				kn := K()
				VCMPPS(U8(3), v, v, kn) // unordered: NaN
				KORW(kn, knan, knan)
			} else {
				m := s.vec()
				VCMPPS(U8(3), v, v, m)
				VORPS(m, vnan, vnan)
			}
		})
		VMAXPS(acc[1], acc[0], acc[0])
		VMAXPS(acc[3], acc[2], acc[2])
		VMAXPS(acc[2], acc[0], acc[0])
		r := s.hreduce(acc[0], vmax)
		if s.z {
			KORTESTW(knan, knan)
		} else {
			VTESTPS(vnan, vnan)
		}
		JZ(LabelRef(fn + "_ret"))
		VMOVUPS(s.k(kf(math.NaN())), r)
		Label(fn + "_ret")
		VMOVSS(r.AsX(), ret0()) // VEX-encoded: no SSE instruction after AVX code
		s.hoistEnd()
		VZEROUPPER()
		RET()
	}

	fn = "sum" + s.name
	s.text(fn, "func(x *float32, n int) float32", fn+fmt.Sprintf(" returns the sum of x[0:n] in float32 lanes%s (sumGeneric).", s.multiple()))
	{
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		var acc [4]VecVirtual
		for i := range acc {
			acc[i] = s.vec()
			VXORPS(acc[i], acc[i], acc[i])
		}
		u := 0
		s.loop(fn, n, []Register{x}, 4, func(off int, k Op) {
			a := acc[u%4]
			u++
			VADDPS(s.mem(at(x, off), k), a, a) // zeros past n
		})
		VADDPS(acc[1], acc[0], acc[0])
		VADDPS(acc[3], acc[2], acc[2])
		VADDPS(acc[2], acc[0], acc[0])
		r := s.hreduce(acc[0], vadd)
		VMOVSS(r.AsX(), ret0()) // VEX-encoded: no SSE instruction after AVX code
		s.hoistEnd()
		VZEROUPPER()
		RET()
	}

	fn = "expSubSum" + s.name
	s.text(fn, "func(dst, x *float32, n int, m float32) float32", fn+fmt.Sprintf(" sets dst[i] = e^(x[i]-m) for i in [0, n) and returns their sum in float32 lanes%s (expSubSumGeneric).", s.multiple()))
	{
		d := Load(Param("dst"), GP64())
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		m := s.bcast(param("m"))
		var acc [2]VecVirtual
		for i := range acc {
			acc[i] = s.vec()
			VXORPS(acc[i], acc[i], acc[i])
		}
		tu := 1
		if s.z {
			tu = 2
		}
		u := 0
		s.loop(fn, n, []Register{d, x}, tu, func(off int, k Op) {
			a := acc[u%2]
			u++
			v := s.ld(at(x, off), k)
			VSUBPS(m, v, v)
			e := s.exp(v)
			s.st(e, at(d, off), k)
			if k == nil {
				VADDPS(e, a, a)
			} else {
				VADDPS(e, a, k, a) // lanes past n add nothing
			}
		})
		VADDPS(acc[1], acc[0], acc[0])
		r := s.hreduce(acc[0], vadd)
		VMOVSS(r.AsX(), ret0()) // VEX-encoded: no SSE instruction after AVX code
		s.hoistEnd()
		VZEROUPPER()
		RET()
	}

	fn = "sumShift" + s.name
	s.text(fn, "func(x *float32, n int, s float32, r *[2]float32)", fn+fmt.Sprintf(" sets r to the sums of x[i]-s and of (x[i]-s)² for i in [0, n) in float32 lanes%s (sumShiftGeneric).", s.multiple()))
	{
		x := Load(Param("x"), GP64())
		n := Load(Param("n"), GP64())
		sh := s.bcast(param("s"))
		var a1, a2 [2]VecVirtual
		for i := range a1 {
			a1[i], a2[i] = s.vec(), s.vec()
			VXORPS(a1[i], a1[i], a1[i])
			VXORPS(a2[i], a2[i], a2[i])
		}
		u := 0
		s.loop(fn, n, []Register{x}, 4, func(off int, k Op) {
			i := u % 2
			u++
			v := s.ld(at(x, off), k)
			VSUBPS(sh, v, v)
			if k == nil {
				VADDPS(v, a1[i], a1[i])
				VFMADD231PS(v, v, a2[i])
			} else { // lanes past n add nothing
				VADDPS(v, a1[i], k, a1[i])
				VFMADD231PS(v, v, k, a2[i])
			}
		})
		VADDPS(a1[1], a1[0], a1[0])
		VADDPS(a2[1], a2[0], a2[0])
		r1 := s.hreduce(a1[0], vadd)
		r2 := s.hreduce(a2[0], vadd)
		r := Load(Param("r"), GP64())
		VMOVSS(r1.AsX(), Mem{Base: r})
		VMOVSS(r2.AsX(), Mem{Base: r, Disp: 4})
		s.hoistEnd()
		VZEROUPPER()
		RET()
	}

	for _, bias := range []bool{false, true} {
		fn := "norm" + s.name
		sig := "func(dst, x, scale *float32, n int, mh, ml, inv float32)"
		what := "((x[i]-mh)-ml)·inv·scale[i]"
		if bias {
			fn = "normBias" + s.name
			sig = "func(dst, x, scale, bias *float32, n int, mh, ml, inv float32)"
			what += " + bias[i]"
		}
		s.text(fn, sig, fmt.Sprintf(unaryDoc, fn, what, s.multiple(), "normGeneric", ""))
		d := Load(Param("dst"), GP64())
		x := Load(Param("x"), GP64())
		sc := Load(Param("scale"), GP64())
		ptrs := []Register{d, x, sc}
		var b Register
		if bias {
			b = Load(Param("bias"), GP64())
			ptrs = append(ptrs, b)
		}
		n := Load(Param("n"), GP64())
		mh := s.bcast(param("mh"))
		ml := s.bcast(param("ml"))
		inv := s.bcast(param("inv"))
		s.loop(fn, n, ptrs, 4, func(off int, k Op) {
			v := s.ld(at(x, off), k)
			VSUBPS(mh, v, v)
			VSUBPS(ml, v, v)
			VMULPS(inv, v, v)
			if bias {
				w := s.ld(at(sc, off), k)
				VFMADD213PS(s.mem(at(b, off), k), w, v)
			} else {
				VMULPS(s.mem(at(sc, off), k), v, v)
			}
			s.st(v, at(d, off), k)
		})
		s.hoistEnd()
		VZEROUPPER()
		RET()
	}
}
