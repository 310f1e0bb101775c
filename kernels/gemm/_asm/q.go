package main

// The integer and reduced-precision kernels (-set q): 8-bit GEMM with
// VPDPBUSD, written to ../qgemm_amd64.s with their Go declarations in
// ../int8_amd64.go.

//go:generate go run . -set q -out ../qgemm_amd64.s -pkg gemm

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Mirrors of kernels/gemm's 8-bit constants.
const (
	a8Step = 4 * mr512 // bytes per k group of a packed A panel (4·MR)
	b8Step = 4 * 32    // bytes per k group of a packed B panel (4·NR)

	q8RowOff   = 1
	q8ColOff   = 2
	q8Rank1    = 4
	q8ScaleRow = 8
	q8ScaleCol = 16
	q8BiasRow  = 32
	q8BiasCol  = 64
	q8Lo       = 128
	q8Hi       = 256
	q8OutFloat = 512
	q8OutQuant = 1024
)

func genQ() {
	for _, signedA := range []bool{false, true} {
		for mr := 1; mr <= mr512; mr++ {
			tileVNNI512(mr, signedA)
		}
	}
	interleave4AVX2()
	peakVNNI512()
}

// signName names a kernel's operand types: "u" for uint8 A × int8 B, "s"
// for int8 A × uint8 B.
func signName(signedA bool) string {
	if signedA {
		return "s"
	}
	return "u"
}

// tileVNNI512 writes the mr×32 AVX-512 VNNI kernel: 2·mr zmm accumulators
// of int32, per k group two 64-byte B loads and one 4-byte broadcast of
// each A row, then the epilogue on the registers.
func tileVNNI512(mr int, signedA bool) {
	name := fmt.Sprintf("tile8VNNI%sx%d", signName(signedA), mr)
	TEXT(name, NOSPLIT, "func(t *qtileArgs)")
	types := "uint8 A × int8 B"
	if signedA {
		types = "int8 A × uint8 B"
	}
	Doc(fmt.Sprintf("%s computes an %d×32 tile, %s, as tile8Generic documents.", name, mr, types))
	t := Dereference(Param("t"))
	acc := make([][]VecPhysical, mr)
	for i := range acc {
		acc[i] = []VecPhysical{zmm(2 * i), zmm(2*i + 1)}
		VPXORD(acc[i][0], acc[i][0], acc[i][0])
		VPXORD(acc[i][1], acc[i][1], acc[i][1])
	}
	ap := Load(t.Field("a").Base(), GP64())
	bp := Load(t.Field("b").Base(), GP64())
	n := Load(t.Field("kg"), GP64())

	bvec := [][2]VecPhysical{{Z24, Z25}, {Z30, Z31}}
	bc := []VecPhysical{Z26, Z27, Z28, Z29}
	nb := 0
	step := func(u int) {
		b := bvec[u%2]
		VMOVDQU32(Mem{Base: bp, Disp: b8Step * u}, b[0])
		VMOVDQU32(Mem{Base: bp, Disp: b8Step*u + 64}, b[1])
		for i := 0; i < mr; i++ {
			x := bc[nb%len(bc)]
			nb++
			VPBROADCASTD(Mem{Base: ap, Disp: a8Step*u + 4*i}, x)
			for v := 0; v < 2; v++ {
				// Go operand order: the int8 source, the uint8
				// source, the accumulator.
				if signedA {
					VPDPBUSD(x, b[v], acc[i][v])
				} else {
					VPDPBUSD(b[v], x, acc[i][v])
				}
			}
		}
	}
	loop2(n, ap, bp, step, 4, a8Step, b8Step)
	epilogue8(t, acc, false)
}

// loop2 emits a loop over n steps, unrolled unroll times, where step(u)
// reads A at ap + u·aBytes and B at bp + u·bBytes; both pointers advance
// after each round.
func loop2(n, ap, bp Register, step func(u int), unroll, aBytes, bBytes int) {
	CMPQ(n, U8(unroll))
	JL(LabelRef("tail"))
	Label("loop")
	for u := 0; u < unroll; u++ {
		step(u)
	}
	ADDQ(U32(unroll*aBytes), ap)
	ADDQ(U32(unroll*bBytes), bp)
	SUBQ(U8(unroll), n)
	CMPQ(n, U8(unroll))
	JGE(LabelRef("loop"))
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("tailloop")
	step(0)
	ADDQ(U32(aBytes), ap)
	ADDQ(U32(bBytes), bp)
	DECQ(n)
	JNZ(LabelRef("tailloop"))
	Label("done")
}

// epilogue8 finishes an 8-bit tile whose int32 sums are in acc (acc[i][v]:
// row i, columns [16v, 16v+16)) as tile8Generic documents, and returns.
// Columns are loaded and stored under the masks K1 and K2 (from t.mask).
// Z24–Z31 are free. With ymm, the accumulators are 256-bit halves and
// masks K1, K2 cover 8 columns each (not used yet).
func epilogue8(t gotypes.Component, acc [][]VecPhysical, _ bool) {
	each := func(f func(i, v int, x VecPhysical)) {
		for i, row := range acc {
			for v, x := range row {
				f(i, v, x)
			}
		}
	}
	kmask := func(v int) Register { return []Register{K1, K2}[v] }
	m := Load(t.Field("mask"), GP32())
	KMOVW(m, K1)
	SHRL(U8(16), m)
	KMOVW(m, K2)
	flags := Load(t.Field("flags"), GP32())
	// colVecs loads a per-column vector under the masks into Z28, Z29.
	colVecs := func(field string, float bool) {
		p := Load(t.Field(field).Base(), GP64())
		for v := range acc[0] {
			if float {
				VMOVUPS_Z(Mem{Base: p, Disp: 64 * v}, kmask(v), []VecPhysical{Z28, Z29}[v])
			} else {
				VMOVDQU32_Z(Mem{Base: p, Disp: 64 * v}, kmask(v), []VecPhysical{Z28, Z29}[v])
			}
		}
	}
	skip := func(bit int, label string) {
		TESTL(U32(bit), flags)
		JZ(LabelRef(label))
	}

	skip(q8RowOff, "norowoff")
	ro := Load(t.Field("rowOff").Base(), GP64())
	each(func(i, _ int, x VecPhysical) { VPADDD_BCST(Mem{Base: ro, Disp: 4 * i}, x, x) })
	Label("norowoff")

	skip(q8ColOff, "nocoloff")
	colVecs("colOff", false)
	each(func(_, v int, x VecPhysical) { VPADDD([]VecPhysical{Z28, Z29}[v], x, x) })
	Label("nocoloff")

	skip(q8Rank1, "norank1")
	colVecs("colR", false)
	rr := Load(t.Field("rowR").Base(), GP64())
	each(func(i, v int, x VecPhysical) {
		VPMULLD_BCST(Mem{Base: rr, Disp: 4 * i}, []VecPhysical{Z28, Z29}[v], Z30)
		VPADDD(Z30, x, x)
	})
	Label("norank1")

	cp := Load(t.Field("c").Base(), GP64())
	ldc := Load(t.Field("ldc"), GP64())
	store := func(f func(v int, x VecPhysical)) {
		for i, row := range acc {
			if i > 0 {
				ADDQ(ldc, cp)
			}
			for v, x := range row {
				f(v, x)
			}
		}
		VZEROUPPER()
		RET()
	}
	TESTL(U32(q8OutFloat|q8OutQuant), flags)
	JNZ(LabelRef("float"))
	store(func(v int, x VecPhysical) { VMOVDQU32(x, kmask(v), Mem{Base: cp, Disp: 64 * v}) })

	Label("float")
	each(func(_, _ int, x VecPhysical) { VCVTDQ2PS(x, x) })

	skip(q8ScaleRow, "noscalerow")
	sr := Load(t.Field("scaleR").Base(), GP64())
	each(func(i, _ int, x VecPhysical) { VMULPS_BCST(Mem{Base: sr, Disp: 4 * i}, x, x) })
	Label("noscalerow")

	skip(q8ScaleCol, "noscalecol")
	colVecs("scaleC", true)
	each(func(_, v int, x VecPhysical) { VMULPS([]VecPhysical{Z28, Z29}[v], x, x) })
	Label("noscalecol")

	skip(q8BiasRow, "nobiasrow")
	br := Load(t.Field("bias").Base(), GP64())
	each(func(i, _ int, x VecPhysical) { VADDPS_BCST(Mem{Base: br, Disp: 4 * i}, x, x) })
	Label("nobiasrow")

	skip(q8BiasCol, "nobiascol")
	colVecs("bias", true)
	each(func(_, v int, x VecPhysical) { VADDPS([]VecPhysical{Z28, Z29}[v], x, x) })
	Label("nobiascol")

	skip(q8Lo, "nolo")
	VBROADCASTSS(mem(t.Field("lo")), Z28)
	each(func(_, _ int, x VecPhysical) { VMAXPS(Z28, x, x) })
	Label("nolo")

	skip(q8Hi, "nohi")
	VBROADCASTSS(mem(t.Field("hi")), Z29)
	each(func(_, _ int, x VecPhysical) { VMINPS(Z29, x, x) })
	Label("nohi")

	TESTL(U32(q8OutQuant), flags)
	JNZ(LabelRef("quant"))
	store(func(v int, x VecPhysical) { VMOVUPS(x, kmask(v), Mem{Base: cp, Disp: 64 * v}) })

	// VCVTPS2DQ rounds by MXCSR, which Go leaves at round to nearest
	// even; the clamps above keep every value inside the int32 range.
	Label("quant")
	VPBROADCASTD(mem(t.Field("zero")), Z28)
	each(func(_, _ int, x VecPhysical) {
		VCVTPS2DQ(x, x)
		VPADDD(Z28, x, x)
	})
	store(func(v int, x VecPhysical) { VPMOVDB(x, kmask(v), Mem{Base: cp, Disp: 16 * v}) })
}

// peakVNNI512 writes a loop of independent 512-bit VPDPBUSDs: the
// single-core int8 peak against which the benchmarks measure the kernels.
func peakVNNI512() {
	TEXT("peakVNNI512", NOSPLIT, "func(n int)")
	Doc("peakVNNI512 runs n rounds of 24 independent 512-bit VPDPBUSDs (3072 int8 ops a round).")
	n := Load(Param("n"), GP64())
	for i := 0; i < 26; i++ {
		VPXORD(zmm(i), zmm(i), zmm(i))
	}
	Label("loop")
	for i := 0; i < 24; i++ {
		VPDPBUSD(Z24, Z25, zmm(i))
	}
	DECQ(n)
	JNZ(LabelRef("loop"))
	VZEROUPPER()
	RET()
}

// interleave4AVX2 writes the packer of a 32-column B panel: for each k
// group, four rows of 32 bytes (ld bytes apart) become 32 columns of four
// bytes, each byte XORed with x (the sign flip, or 0).
func interleave4AVX2() {
	TEXT("interleave4AVX2", NOSPLIT, "func(src *byte, ld int, dst *byte, kg int, x byte)")
	Doc("interleave4AVX2 sets dst[g*128 + c*4 + s] = src[(4g+s)*ld + c] ^ x for g < kg, c < 32, s < 4.")
	src := Load(Param("src"), GP64())
	ld := Load(Param("ld"), GP64())
	dst := Load(Param("dst"), GP64())
	n := Load(Param("kg"), GP64())
	xb := Load(Param("x"), GP32())
	VMOVD(xb, X15)
	VPBROADCASTB(X15, Y15)
	ld3 := GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	r := []VecPhysical{Y0, Y1, Y2, Y3}
	VMOVDQU(Mem{Base: src}, r[0])
	VMOVDQU(Mem{Base: src, Index: ld, Scale: 1}, r[1])
	VMOVDQU(Mem{Base: src, Index: ld, Scale: 2}, r[2])
	VMOVDQU(Mem{Base: src, Index: ld3, Scale: 1}, r[3])
	for _, y := range r {
		VPXOR(Y15, y, y)
	}
	LEAQ(Mem{Base: src, Index: ld, Scale: 4}, src)
	// Bytes of rows 0,1 and 2,3 interleaved (per 128-bit lane), then
	// their 16-bit pairs: u[q] holds columns 4q..4q+3 in its low lane and
	// 16+4q.. in its high lane.
	VPUNPCKLBW(Y1, Y0, Y4)
	VPUNPCKHBW(Y1, Y0, Y5)
	VPUNPCKLBW(Y3, Y2, Y6)
	VPUNPCKHBW(Y3, Y2, Y7)
	VPUNPCKLWD(Y6, Y4, Y8)
	VPUNPCKHWD(Y6, Y4, Y9)
	VPUNPCKLWD(Y7, Y5, Y10)
	VPUNPCKHWD(Y7, Y5, Y11)
	VPERM2I128(U8(0x20), Y9, Y8, Y0)
	VPERM2I128(U8(0x20), Y11, Y10, Y1)
	VPERM2I128(U8(0x31), Y9, Y8, Y2)
	VPERM2I128(U8(0x31), Y11, Y10, Y3)
	for i, y := range r {
		VMOVDQU(y, Mem{Base: dst, Disp: 32 * i})
	}
	ADDQ(U8(128), dst)
	DECQ(n)
	JNZ(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}
