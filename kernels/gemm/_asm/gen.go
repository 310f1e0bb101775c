// Command _asm generates kernels/gemm's amd64 micro-kernels with avo.
//
// Run go generate in this directory; it rewrites ../gemm_amd64.s, and
// with -set q (q.go's go:generate line) ../qgemm_amd64.s. The Go
// declarations are written by hand in ../kernels_amd64.go, each with the
// loop it computes (avo's stub writer would truncate that file before
// loading the package whose types the generator reads).
package main

//go:generate go run . -out ../gemm_amd64.s -pkg gemm

import (
	"flag"
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Mirrors of kernels/gemm's constants (the generator cannot import the
// package it generates).
const (
	mr512 = 12 // AVX-512 tile rows
	mr256 = 6  // AVX2 tile rows
	aStep = 12 // floats per k in a packed A panel (gemm.MR)

	flagLoadC   = 1
	flagBiasRow = 2
	flagBiasCol = 4
	flagLo      = 8
	flagHi      = 16
)

// set picks the kernels to generate: the fp32 ones, or with -set q the
// integer and reduced-precision ones of q.go.
var set = flag.String("set", "fp32", "kernel set: fp32 or q")

func main() {
	flag.Parse()
	Package("github.com/inferd/inferd/kernels/gemm")
	ConstraintExpr("amd64,!purego")
	if *set == "q" {
		genQ()
		Generate()
		return
	}

	for mr := 1; mr <= mr512; mr++ {
		tileAVX512(mr)
	}
	gemv1AVX512()
	gemv4AVX512()
	dot4AVX512()
	transposeAVX512("transpose12x16AVX512", 12, 4*aStep)
	transposeAVX512("transpose16x16AVX512", 16, 4*32)
	for mr := 1; mr <= mr256; mr++ {
		tileAVX2(mr)
	}
	peak512()
	peak256()
	Generate()
}

// mem returns the memory operand of a struct field.
func mem(c gotypes.Component) Mem {
	b, err := c.Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

func zmm(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[i]
}
func ymm(i int) VecPhysical {
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}[i]
}

const tileDoc = "computes an %d×%d tile of C as tileGeneric documents, with B rows t.ldb floats apart%s."

// tileAVX512 writes the mr×32 AVX-512 kernel: 2·mr zmm accumulators, the
// two B vectors of each k loaded once, each A element broadcast once.
func tileAVX512(mr int) {
	TEXT(fmt.Sprintf("tileAVX512x%d", mr), NOSPLIT, "func(t *tileArgs)")
	Doc(fmt.Sprintf("tileAVX512x%d "+tileDoc, mr, mr, 32, " and columns stored under t.mask"))
	t := Dereference(Param("t"))
	acc := make([][]VecPhysical, mr)
	for i := range acc {
		acc[i] = []VecPhysical{zmm(2 * i), zmm(2*i + 1)}
		VPXORD(acc[i][0], acc[i][0], acc[i][0])
		VPXORD(acc[i][1], acc[i][1], acc[i][1])
	}
	ap := Load(t.Field("a").Base(), GP64())
	bp := Load(t.Field("b").Base(), GP64())
	ldb := Load(t.Field("ldb"), GP64())
	SHLQ(U8(2), ldb)
	n := Load(t.Field("k"), GP64())

	bvec := [][2]VecPhysical{{Z24, Z25}, {Z30, Z31}}
	bc := []VecPhysical{Z26, Z27, Z28, Z29}
	nb := 0
	step := func(u int) {
		b := bvec[u%2]
		VMOVUPS(Mem{Base: bp}, b[0])
		VMOVUPS(Mem{Base: bp, Disp: 64}, b[1])
		ADDQ(ldb, bp)
		for i := 0; i < mr; i++ {
			x := bc[nb%len(bc)]
			nb++
			VBROADCASTSS(Mem{Base: ap, Disp: 4 * (u*aStep + i)}, x)
			VFMADD231PS(b[0], x, acc[i][0])
			VFMADD231PS(b[1], x, acc[i][1])
		}
	}
	kLoop(n, ap, step, 4, 4*aStep)

	epilogue512(t, acc, true)
}

// kLoop emits a loop over n steps of k, unrolled u times; step(u) emits
// one step reading A at offset u·aBytes, and ap advances after each round.
func kLoop(n, ap Register, step func(u int), unroll, aBytes int) {
	CMPQ(n, U8(unroll))
	JL(LabelRef("tail"))
	Label("loop")
	for u := 0; u < unroll; u++ {
		step(u)
	}
	ADDQ(U32(unroll*aBytes), ap)
	SUBQ(U8(unroll), n)
	CMPQ(n, U8(unroll))
	JGE(LabelRef("loop"))
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("tailloop")
	step(0)
	ADDQ(U32(aBytes), ap)
	DECQ(n)
	JNZ(LabelRef("tailloop"))
	Label("done")
}

// epilogue512 scales the accumulators by alpha, adds beta·C and the bias,
// clamps and stores them to C: acc[i][v] is row i, columns [16v, 16v+16).
// With masked, vector v of each row uses mask register K1+v (from t.mask).
func epilogue512(t gotypes.Component, acc [][]VecPhysical, masked bool) {
	each := func(f func(i, v int, x VecPhysical)) {
		for i, row := range acc {
			for v, x := range row {
				f(i, v, x)
			}
		}
	}
	kmask := func(v int) Register { return []Register{K1, K2}[v] }
	if masked {
		m := Load(t.Field("mask"), GP32())
		KMOVW(m, K1)
		SHRL(U8(16), m)
		KMOVW(m, K2)
	}
	VBROADCASTSS(mem(t.Field("alpha")), Z26)
	each(func(_, _ int, x VecPhysical) { VMULPS(Z26, x, x) })

	flags := Load(t.Field("flags"), GP32())
	cp := Load(t.Field("c").Base(), GP64())
	ldc := Load(t.Field("ldc"), GP64())
	SHLQ(U8(2), ldc)
	load := func(m Mem, v int, dst VecPhysical) {
		if masked {
			VMOVUPS_Z(m, kmask(v), dst)
		} else {
			VMOVUPS(m, dst)
		}
	}

	TESTL(U32(flagLoadC), flags)
	JZ(LabelRef("nobeta"))
	VBROADCASTSS(mem(t.Field("beta")), Z27)
	p := Load(t.Field("r").Base(), GP64())
	ldr := Load(t.Field("ldr"), GP64())
	SHLQ(U8(2), ldr)
	for i, row := range acc {
		if i > 0 {
			ADDQ(ldr, p)
		}
		for v, x := range row {
			load(Mem{Base: p, Disp: 64 * v}, v, Z28)
			VFMADD231PS(Z27, Z28, x)
		}
	}
	Label("nobeta")

	TESTL(U32(flagBiasRow), flags)
	JZ(LabelRef("nobiasrow"))
	br := Load(t.Field("bias").Base(), GP64())
	each(func(i, _ int, x VecPhysical) { VADDPS_BCST(Mem{Base: br, Disp: 4 * i}, x, x) })
	Label("nobiasrow")

	TESTL(U32(flagBiasCol), flags)
	JZ(LabelRef("nobiascol"))
	bcol := Load(t.Field("bias").Base(), GP64())
	for v := range acc[0] {
		load(Mem{Base: bcol, Disp: 64 * v}, v, Z28)
		for i := range acc {
			VADDPS(Z28, acc[i][v], acc[i][v])
		}
	}
	Label("nobiascol")

	// VMAXPS/VMINPS return their second source (Go order: the first
	// operand) when either is NaN, so a NaN sum survives the clamp.
	TESTL(U32(flagLo), flags)
	JZ(LabelRef("nolo"))
	VBROADCASTSS(mem(t.Field("lo")), Z28)
	each(func(_, _ int, x VecPhysical) { VMAXPS(x, Z28, x) })
	Label("nolo")

	TESTL(U32(flagHi), flags)
	JZ(LabelRef("nohi"))
	VBROADCASTSS(mem(t.Field("hi")), Z29)
	each(func(_, _ int, x VecPhysical) { VMINPS(x, Z29, x) })
	Label("nohi")

	for i, row := range acc {
		if i > 0 {
			ADDQ(ldc, cp)
		}
		for v, x := range row {
			if masked {
				VMOVUPS(x, kmask(v), Mem{Base: cp, Disp: 64 * v})
			} else {
				VMOVUPS(x, Mem{Base: cp, Disp: 64 * v})
			}
		}
	}
	VZEROUPPER()
	RET()
}

// gemv1AVX512 writes the one-row, one-panel kernel: a is read
// contiguously, B under the column mask, and k is split four ways so
// that eight accumulators hide the FMA latency.
func gemv1AVX512() {
	TEXT("gemv1AVX512", NOSPLIT, "func(t *tileArgs)")
	Doc("gemv1AVX512 computes one row of 32 columns (a 1×32 tile) with t.a read",
		"contiguously (t.a[kk] instead of t.a[kk*MR]), loading B and storing C under t.mask.")
	t := Dereference(Param("t"))
	for i := 0; i < 8; i++ {
		VPXORD(zmm(i), zmm(i), zmm(i))
	}
	m := Load(t.Field("mask"), GP32())
	KMOVW(m, K1)
	SHRL(U8(16), m)
	KMOVW(m, K2)
	ap := Load(t.Field("a").Base(), GP64())
	bp := Load(t.Field("b").Base(), GP64())
	ldb := Load(t.Field("ldb"), GP64())
	SHLQ(U8(2), ldb)
	n := Load(t.Field("k"), GP64())
	step := func(u int) {
		b0, b1 := zmm(24+2*u), zmm(25+2*u)
		VMOVUPS_Z(Mem{Base: bp}, K1, b0)
		VMOVUPS_Z(Mem{Base: bp, Disp: 64}, K2, b1)
		ADDQ(ldb, bp)
		VFMADD231PS_BCST(Mem{Base: ap, Disp: 4 * u}, b0, zmm(2*u))
		VFMADD231PS_BCST(Mem{Base: ap, Disp: 4 * u}, b1, zmm(2*u+1))
	}
	kLoop(n, ap, step, 4, 4)
	for u := 1; u < 4; u++ {
		VADDPS(zmm(2*u), Z0, Z0)
		VADDPS(zmm(2*u+1), Z1, Z1)
	}
	epilogue512(t, [][]VecPhysical{{Z0, Z1}}, true)
}

// gemv4AVX512 writes the one-row kernel over four full panels (128
// columns) t.bps floats apart: eight accumulators, eight loads per k.
func gemv4AVX512() {
	TEXT("gemv4AVX512", NOSPLIT, "func(t *tileArgs)")
	Doc("gemv4AVX512 computes one row of 128 columns, four full B panels t.bps floats",
		"apart, with t.a read contiguously; C's columns are consecutive.")
	t := Dereference(Param("t"))
	for i := 0; i < 8; i++ {
		VPXORD(zmm(i), zmm(i), zmm(i))
	}
	ap := Load(t.Field("a").Base(), GP64())
	bp := Load(t.Field("b").Base(), GP64())
	ps := Load(t.Field("bps"), GP64())
	SHLQ(U8(2), ps)
	bp2 := GP64()
	LEAQ(Mem{Base: bp, Index: ps, Scale: 2}, bp2)
	ldb := Load(t.Field("ldb"), GP64())
	SHLQ(U8(2), ldb)
	n := Load(t.Field("k"), GP64())
	step := func(u int) {
		x := zmm(31 - u)
		VBROADCASTSS(Mem{Base: ap, Disp: 4 * u}, x)
		srcs := []Mem{{Base: bp}, {Base: bp, Index: ps, Scale: 1}, {Base: bp2}, {Base: bp2, Index: ps, Scale: 1}}
		for p, s := range srcs {
			for h := 0; h < 2; h++ {
				b := zmm(8 + (2*p+h+8*u)%16)
				VMOVUPS(s.Offset(64*h), b)
				VFMADD231PS(b, x, zmm(2*p+h))
			}
		}
		ADDQ(ldb, bp)
		ADDQ(ldb, bp2)
	}
	kLoop(n, ap, step, 2, 4)
	epilogue512(t, [][]VecPhysical{{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7}}, false)
}

// dot4AVX512 writes four dot products of a with rows of B that are ldb
// floats apart, over k a multiple of 32: eight accumulators, a loaded once
// for the four rows.
func dot4AVX512() {
	TEXT("dot4AVX512", NOSPLIT, "func(a, b *float32, ldb, k int, out *[4]float32)")
	Doc("dot4AVX512 sets out[r] = Σ_{kk<k} a[kk]·b[r*ldb+kk] for r < 4; k is a multiple of 32.")
	for i := 0; i < 8; i++ {
		VPXORD(zmm(i), zmm(i), zmm(i))
	}
	ap := Load(Param("a"), GP64())
	b0 := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(2), ldb)
	b2 := GP64()
	LEAQ(Mem{Base: b0, Index: ldb, Scale: 2}, b2)
	n := Load(Param("k"), GP64())
	SHRQ(U8(5), n)
	JZ(LabelRef("reduce"))
	Label("loop")
	VMOVUPS(Mem{Base: ap}, Z30)
	VMOVUPS(Mem{Base: ap, Disp: 64}, Z31)
	rows := []Mem{{Base: b0}, {Base: b0, Index: ldb, Scale: 1}, {Base: b2}, {Base: b2, Index: ldb, Scale: 1}}
	for r, m := range rows {
		VFMADD231PS(m, Z30, zmm(2*r))
		VFMADD231PS(m.Offset(64), Z31, zmm(2*r+1))
	}
	ADDQ(U8(128), ap)
	ADDQ(U8(128), b0)
	ADDQ(U8(128), b2)
	DECQ(n)
	JNZ(LabelRef("loop"))
	Label("reduce")
	for r := 0; r < 4; r++ {
		z, y, x := zmm(2*r), ymm(2*r), []VecPhysical{X0, X2, X4, X6}[r]
		VADDPS(zmm(2*r+1), z, z)
		VEXTRACTF64X4(U8(1), z, Y8)
		VADDPS(Y8, y, y)
		VEXTRACTF128(U8(1), y, X8)
		VADDPS(X8, x, x)
	}
	VHADDPS(X2, X0, X0)
	VHADDPS(X6, X4, X4)
	VHADDPS(X4, X0, X0)
	out := Load(Param("out"), GP64())
	VMOVUPS(X0, Mem{Base: out})
	VZEROUPPER()
	RET()
}

// transposeAVX512 writes a packer: rows (12 or 16) rows of src, ld floats
// apart, are transposed in blocks of 16 columns, so that column j of the
// source becomes rows consecutive floats at dst + j·stride bytes.
func transposeAVX512(name string, rows, stride int) {
	TEXT(name, NOSPLIT, "func(src *float32, ld int, dst *float32, nblk int)")
	Doc(fmt.Sprintf("%s writes dst[j*%d+r] = src[r*ld+j] for r < %d, j < 16·nblk.", name, stride/4, rows))
	src := Load(Param("src"), GP64())
	ld := Load(Param("ld"), GP64())
	SHLQ(U8(2), ld)
	dst := Load(Param("dst"), GP64())
	n := Load(Param("nblk"), GP64())
	// Row r is at base[r/3] + (r%3)·ld.
	var bases []Register
	for r := 0; r < rows; r += 3 {
		b := GP64()
		if r == 0 {
			MOVQ(src, b)
		} else {
			LEAQ(Mem{Base: bases[len(bases)-1], Index: ld, Scale: 2}, b)
			ADDQ(ld, b)
		}
		bases = append(bases, b)
	}
	if rows == 12 {
		m := GP32()
		MOVL(U32(0xfff), m)
		KMOVW(m, K1)
	}
	Label("loop")
	for r := 0; r < 16; r++ {
		if r >= rows {
			VPXORD(zmm(r), zmm(r), zmm(r))
			continue
		}
		m := Mem{Base: bases[r/3]}
		if r%3 > 0 {
			m = Mem{Base: bases[r/3], Index: ld, Scale: uint8(r % 3)}
		}
		VMOVUPS(m, zmm(r))
	}
	for _, b := range bases {
		ADDQ(U8(64), b)
	}
	r := func(i int) VecPhysical { return zmm(i) }
	t := func(i int) VecPhysical { return zmm(16 + i) }
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
		if rows == 12 {
			VMOVUPS(r(j), K1, Mem{Base: dst, Disp: j * stride})
		} else {
			VMOVUPS(r(j), Mem{Base: dst, Disp: j * stride})
		}
	}
	ADDQ(U32(16*stride), dst)
	DECQ(n)
	JNZ(LabelRef("loop"))
	VZEROUPPER()
	RET()
}

// tileAVX2 writes the mr×16 AVX2+FMA kernel: 2·mr ymm accumulators, B rows
// t.ldb floats apart, all 16 columns stored.
func tileAVX2(mr int) {
	TEXT(fmt.Sprintf("tileAVX2x%d", mr), NOSPLIT, "func(t *tileArgs)")
	Doc(fmt.Sprintf("tileAVX2x%d "+tileDoc, mr, mr, 16, "; t.mask is ignored"))
	t := Dereference(Param("t"))
	acc := make([][2]VecPhysical, mr)
	for i := range acc {
		acc[i] = [2]VecPhysical{ymm(2 * i), ymm(2*i + 1)}
		VXORPS(acc[i][0], acc[i][0], acc[i][0])
		VXORPS(acc[i][1], acc[i][1], acc[i][1])
	}
	ap := Load(t.Field("a").Base(), GP64())
	bp := Load(t.Field("b").Base(), GP64())
	ldb := Load(t.Field("ldb"), GP64())
	SHLQ(U8(2), ldb)
	n := Load(t.Field("k"), GP64())
	nb := 0
	step := func(u int) {
		VMOVUPS(Mem{Base: bp}, Y12)
		VMOVUPS(Mem{Base: bp, Disp: 32}, Y13)
		ADDQ(ldb, bp)
		for i := 0; i < mr; i++ {
			x := ymm(14 + nb%2)
			nb++
			VBROADCASTSS(Mem{Base: ap, Disp: 4 * (u*aStep + i)}, x)
			VFMADD231PS(Y12, x, acc[i][0])
			VFMADD231PS(Y13, x, acc[i][1])
		}
	}
	kLoop(n, ap, step, 4, 4*aStep)

	each := func(f func(i int, x VecPhysical)) {
		for i := range acc {
			f(i, acc[i][0])
			f(i, acc[i][1])
		}
	}
	VBROADCASTSS(mem(t.Field("alpha")), Y14)
	each(func(_ int, x VecPhysical) { VMULPS(Y14, x, x) })
	flags := Load(t.Field("flags"), GP32())
	cp := Load(t.Field("c").Base(), GP64())
	ldc := Load(t.Field("ldc"), GP64())
	SHLQ(U8(2), ldc)

	TESTL(U32(flagLoadC), flags)
	JZ(LabelRef("nobeta"))
	VBROADCASTSS(mem(t.Field("beta")), Y15)
	p := Load(t.Field("r").Base(), GP64())
	ldr := Load(t.Field("ldr"), GP64())
	SHLQ(U8(2), ldr)
	for i := range acc {
		if i > 0 {
			ADDQ(ldr, p)
		}
		for v := 0; v < 2; v++ {
			VMOVUPS(Mem{Base: p, Disp: 32 * v}, Y12)
			VFMADD231PS(Y15, Y12, acc[i][v])
		}
	}
	Label("nobeta")

	TESTL(U32(flagBiasRow), flags)
	JZ(LabelRef("nobiasrow"))
	br := Load(t.Field("bias").Base(), GP64())
	for i := range acc {
		VBROADCASTSS(Mem{Base: br, Disp: 4 * i}, Y14)
		VADDPS(Y14, acc[i][0], acc[i][0])
		VADDPS(Y14, acc[i][1], acc[i][1])
	}
	Label("nobiasrow")

	TESTL(U32(flagBiasCol), flags)
	JZ(LabelRef("nobiascol"))
	bcol := Load(t.Field("bias").Base(), GP64())
	VMOVUPS(Mem{Base: bcol}, Y14)
	VMOVUPS(Mem{Base: bcol, Disp: 32}, Y15)
	for i := range acc {
		VADDPS(Y14, acc[i][0], acc[i][0])
		VADDPS(Y15, acc[i][1], acc[i][1])
	}
	Label("nobiascol")

	TESTL(U32(flagLo), flags)
	JZ(LabelRef("nolo"))
	VBROADCASTSS(mem(t.Field("lo")), Y14)
	each(func(_ int, x VecPhysical) { VMAXPS(x, Y14, x) })
	Label("nolo")

	TESTL(U32(flagHi), flags)
	JZ(LabelRef("nohi"))
	VBROADCASTSS(mem(t.Field("hi")), Y15)
	each(func(_ int, x VecPhysical) { VMINPS(x, Y15, x) })
	Label("nohi")

	for i := range acc {
		if i > 0 {
			ADDQ(ldc, cp)
		}
		VMOVUPS(acc[i][0], Mem{Base: cp})
		VMOVUPS(acc[i][1], Mem{Base: cp, Disp: 32})
	}
	VZEROUPPER()
	RET()
}

// peak512 writes a loop of independent 512-bit FMAs: the single-core peak
// against which the benchmarks measure the kernels.
func peak512() {
	TEXT("peakFMA512", NOSPLIT, "func(n int)")
	Doc("peakFMA512 runs n rounds of 24 independent 512-bit FMAs (768 flops a round).")
	n := Load(Param("n"), GP64())
	for i := 0; i < 26; i++ {
		VPXORD(zmm(i), zmm(i), zmm(i))
	}
	Label("loop")
	for i := 0; i < 24; i++ {
		VFMADD231PS(Z24, Z25, zmm(i))
	}
	DECQ(n)
	JNZ(LabelRef("loop"))
	VZEROUPPER()
	RET()
}

// peak256 is peak512 with 256-bit FMAs, the AVX2 kernel's peak.
func peak256() {
	TEXT("peakFMA256", NOSPLIT, "func(n int)")
	Doc("peakFMA256 runs n rounds of 12 independent 256-bit FMAs (192 flops a round).")
	n := Load(Param("n"), GP64())
	for i := 0; i < 14; i++ {
		VXORPS(ymm(i), ymm(i), ymm(i))
	}
	Label("loop")
	for i := 0; i < 12; i++ {
		VFMADD231PS(Y12, Y13, ymm(i))
	}
	DECQ(n)
	JNZ(LabelRef("loop"))
	VZEROUPPER()
	RET()
}
