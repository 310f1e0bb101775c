package main

// The integer and reduced-precision kernels (-set q): 8-bit GEMM with
// VPDPBUSD, written to ../qgemm_amd64.s with their Go declarations in
// ../int8_amd64.go.

//go:generate go run . -set q -out ../qgemm_amd64.s -pkg gemm

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	"github.com/mmcloughlin/avo/ir"
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
	interleave4RowsAVX2()
	interleave4MaskAVX512()
	interleave4RowsMaskAVX512()
	peakVNNI512()
	checkVEXEncodings()
	for _, signedA := range []bool{false, true} {
		for rows := 1; rows <= 6; rows++ {
			dot8VNNI256(rows, signedA)
		}
		for rows := 1; rows <= 6; rows++ {
			dot8AVX2(rows, signedA)
		}
	}
	peakVNNI256()

	checkEncodings()
	for mr := 1; mr <= mr512; mr++ {
		tileBF16(mr)
	}
	packBF16x12()
	peakBF16()

	dequantInt4()
	gemvInt4()
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
	// With one or two rows, k is split into phases (the step of each k
	// group modulo phases) with accumulators of their own, so that eight
	// VPDPBUSD chains are in flight; they are added before the epilogue.
	phases := max(1, 4/mr)
	acc := make([][][]VecPhysical, phases)
	for p := range acc {
		acc[p] = make([][]VecPhysical, mr)
		for i := range acc[p] {
			r := 2 * (p*mr + i)
			acc[p][i] = []VecPhysical{zmm(r), zmm(r + 1)}
			VPXORD(zmm(r), zmm(r), zmm(r))
			VPXORD(zmm(r+1), zmm(r+1), zmm(r+1))
		}
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
				a := acc[u%phases][i][v]
				if signedA {
					VPDPBUSD(x, b[v], a)
				} else {
					VPDPBUSD(b[v], x, a)
				}
			}
		}
	}
	loop2(n, ap, bp, step, 4, a8Step, b8Step)
	for p := 1; p < phases; p++ {
		for i := range acc[0] {
			for v := range acc[0][i] {
				VPADDD(acc[p][i][v], acc[0][i][v], acc[0][i][v])
			}
		}
	}
	epilogue8(t, acc[0])
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
// Z24–Z31 are free.
func epilogue8(t gotypes.Component, acc [][]VecPhysical) {
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
	ld3 := GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	interleaveLoop(xb, dst, n, []Mem{{Base: src}, {Base: src, Index: ld, Scale: 1}, {Base: src, Index: ld, Scale: 2}, {Base: src, Index: ld3, Scale: 1}},
		func() { LEAQ(Mem{Base: src, Index: ld, Scale: 4}, src) })
}

// interleave4RowsAVX2 writes the packer of a 32-column B panel whose rows
// lie at offsets (Matrix8.Rows).
func interleave4RowsAVX2() {
	TEXT("interleave4RowsAVX2", NOSPLIT, "func(base *byte, rows *int, dst *byte, kg int, x byte)")
	Doc("interleave4RowsAVX2 sets dst[g*128 + c*4 + s] = base[rows[4g+s] + c] ^ x for g < kg, c < 32, s < 4.")
	base := Load(Param("base"), GP64())
	rows := Load(Param("rows"), GP64())
	dst := Load(Param("dst"), GP64())
	n := Load(Param("kg"), GP64())
	xb := Load(Param("x"), GP32())
	off := []Register{GP64(), GP64(), GP64(), GP64()}
	var srcs []Mem
	for _, o := range off {
		srcs = append(srcs, Mem{Base: base, Index: o, Scale: 1})
	}
	interleaveLoop(xb, dst, n, srcs, func() { ADDQ(U8(32), rows) }, func() {
		for s, o := range off {
			MOVQ(Mem{Base: rows, Disp: 8 * s}, o)
		}
	})
}

// interleave4MaskAVX512 writes interleave4AVX2 for a partial panel: only
// the columns set in mask are read (with AVX-512's fault-suppressing
// masked loads); the others are packed as 0.
func interleave4MaskAVX512() {
	TEXT("interleave4MaskAVX512", NOSPLIT, "func(src *byte, ld int, dst *byte, kg int, x byte, mask uint32)")
	Doc("interleave4MaskAVX512 sets dst[g*128 + c*4 + s] = src[(4g+s)*ld + c] ^ x for g < kg, s < 4 and the c < 32 set in mask (0 for the others).")
	src := Load(Param("src"), GP64())
	ld := Load(Param("ld"), GP64())
	dst := Load(Param("dst"), GP64())
	n := Load(Param("kg"), GP64())
	xb := Load(Param("x"), GP32())
	KMOVD(Load(Param("mask"), GP32()), K1)
	ld3 := GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	interleaveLoopK(K1, xb, dst, n, []Mem{{Base: src}, {Base: src, Index: ld, Scale: 1}, {Base: src, Index: ld, Scale: 2}, {Base: src, Index: ld3, Scale: 1}},
		func() { LEAQ(Mem{Base: src, Index: ld, Scale: 4}, src) })
}

// interleave4RowsMaskAVX512 is interleave4RowsAVX2 for a partial panel,
// as interleave4MaskAVX512.
func interleave4RowsMaskAVX512() {
	TEXT("interleave4RowsMaskAVX512", NOSPLIT, "func(base *byte, rows *int, dst *byte, kg int, x byte, mask uint32)")
	Doc("interleave4RowsMaskAVX512 sets dst[g*128 + c*4 + s] = base[rows[4g+s] + c] ^ x for g < kg, s < 4 and the c < 32 set in mask (0 for the others).")
	base := Load(Param("base"), GP64())
	rows := Load(Param("rows"), GP64())
	dst := Load(Param("dst"), GP64())
	n := Load(Param("kg"), GP64())
	xb := Load(Param("x"), GP32())
	KMOVD(Load(Param("mask"), GP32()), K1)
	off := []Register{GP64(), GP64(), GP64(), GP64()}
	var srcs []Mem
	for _, o := range off {
		srcs = append(srcs, Mem{Base: base, Index: o, Scale: 1})
	}
	interleaveLoopK(K1, xb, dst, n, srcs, func() { ADDQ(U8(32), rows) }, func() {
		for s, o := range off {
			MOVQ(Mem{Base: rows, Disp: 8 * s}, o)
		}
	})
}

// interleaveLoop emits the loop of the B packers: before(), if given,
// runs first in each group; the four rows are loaded from srcs, flipped
// by x, interleaved and stored; then next() advances the sources.
func interleaveLoop(xb, dst, n Register, srcs []Mem, next func(), before ...func()) {
	interleaveLoopK(nil, xb, dst, n, srcs, next, before...)
}

// interleaveLoopK is interleaveLoop with the rows loaded under mask k
// (zeroing the other bytes) when k is not nil.
func interleaveLoopK(k Register, xb, dst, n Register, srcs []Mem, next func(), before ...func()) {
	VMOVD(xb, X15)
	VPBROADCASTB(X15, Y15)
	if k != nil {
		VMOVDQU8_Z(Y15, k, Y15) // the columns left out stay 0
	}
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	for _, f := range before {
		f()
	}
	r := []VecPhysical{Y0, Y1, Y2, Y3}
	for i, m := range srcs {
		if k != nil {
			VMOVDQU8_Z(m, k, r[i])
		} else {
			VMOVDQU(m, r[i])
		}
	}
	for _, y := range r {
		VPXOR(Y15, y, y)
	}
	next()
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

// evex512 returns the EVEX encoding of a 512-bit register-only
// instruction of map 0F38, W0: op dst, src1, src2 in Intel's order, pp
// the implied prefix (1: 66, 2: F3, 3: F2). The Go assembler has no
// AVX512_BF16 instructions, so they are written as bytes.
func evex512(pp, opcode byte, dst, src1, src2 int) []byte {
	inv := func(r, bit int) byte { return byte(^(r >> bit) & 1) }
	p0 := inv(dst, 3)<<7 | inv(src2, 4)<<6 | inv(src2, 3)<<5 | inv(dst, 4)<<4 | 0b010
	p1 := byte(^src1&0xf)<<3 | 1<<2 | pp
	p2 := byte(0b10)<<5 | inv(src1, 4)<<3
	modrm := 0xc0 | byte(dst&7)<<3 | byte(src2&7)
	return []byte{0x62, p0, p1, p2, opcode, modrm}
}

// rawInst emits an instruction as bytes, after a comment naming it.
func rawInst(text string, b []byte) {
	Comment(text)
	for _, x := range b {
		Instruction(&ir.Instruction{Opcode: "BYTE", Operands: []Op{U8(x)}})
	}
}

// vdpbf16ps emits VDPBF16PS dst, src1, src2 (Intel order; zmm numbers):
// dst.fp32[i] += src1.bf16[2i+1]·src2.bf16[2i+1] + src1.bf16[2i]·src2.bf16[2i].
func vdpbf16ps(dst, src1, src2 int) {
	rawInst(fmt.Sprintf("VDPBF16PS Z%d, Z%d, Z%d (Intel order)", dst, src1, src2), evex512(2, 0x52, dst, src1, src2))
}

// vcvtne2ps2bf16 emits VCVTNE2PS2BF16 dst, src1, src2 (Intel order): the
// 32 bf16 of dst are src2's 16 floats rounded (low half), then src1's.
func vcvtne2ps2bf16(dst, src1, src2 int) {
	rawInst(fmt.Sprintf("VCVTNE2PS2BF16 Z%d, Z%d, Z%d (Intel order)", dst, src1, src2), evex512(3, 0x72, dst, src1, src2))
}

// checkEncodings holds evex512 to encodings taken from llvm-mc.
func checkEncodings() {
	for _, c := range []struct {
		got  []byte
		want string
	}{
		{evex512(2, 0x52, 1, 2, 3), "62f26e4852cb"},
		{evex512(2, 0x52, 17, 26, 9), "62c22e4052c9"},
		{evex512(2, 0x52, 23, 28, 31), "62821e4052ff"},
		{evex512(3, 0x72, 1, 2, 3), "62f26f4872cb"},
		{evex512(3, 0x72, 20, 12, 27), "62821f4872e3"},
	} {
		if got := fmt.Sprintf("%x", c.got); got != c.want {
			panic(fmt.Sprintf("EVEX encoding %s, want %s", got, c.want))
		}
	}
}

// tileBF16 writes the mr×32 AVX512_BF16 kernel: as tileAVX512, with A and
// B in bf16 pairs (t.k pairs; B rows NR words apart) and VDPBF16PS for the
// FMAs, then the float32 epilogue.
func tileBF16(mr int) {
	name := fmt.Sprintf("tileBF16x%d", mr)
	TEXT(name, NOSPLIT, "func(t *tileArgs)")
	Doc(fmt.Sprintf("%s computes an %d×32 tile from bf16 pair panels as tileBF16Generic documents.", name, mr))
	t := Dereference(Param("t"))
	// Phases of k as in tileVNNI512, for one or two rows.
	phases := max(1, 4/mr)
	acc := make([][][]VecPhysical, phases)
	for p := range acc {
		acc[p] = make([][]VecPhysical, mr)
		for i := range acc[p] {
			r := 2 * (p*mr + i)
			acc[p][i] = []VecPhysical{zmm(r), zmm(r + 1)}
			VPXORD(zmm(r), zmm(r), zmm(r))
			VPXORD(zmm(r+1), zmm(r+1), zmm(r+1))
		}
	}
	ap := Load(t.Field("a").Base(), GP64())
	bp := Load(t.Field("b").Base(), GP64())
	n := Load(t.Field("k"), GP64())
	bvec := [][2]int{{24, 25}, {30, 31}}
	bc := []int{26, 27, 28, 29}
	nb := 0
	step := func(u int) {
		b := bvec[u%2]
		VMOVUPS(Mem{Base: bp, Disp: 128 * u}, zmm(b[0]))
		VMOVUPS(Mem{Base: bp, Disp: 128*u + 64}, zmm(b[1]))
		for i := 0; i < mr; i++ {
			x := bc[nb%len(bc)]
			nb++
			VPBROADCASTD(Mem{Base: ap, Disp: 4 * (u*aStep + i)}, zmm(x))
			r := 2 * ((u%phases)*mr + i)
			vdpbf16ps(r, x, b[0])
			vdpbf16ps(r+1, x, b[1])
		}
	}
	loop2(n, ap, bp, step, 4, 4*aStep, 128)
	for p := 1; p < phases; p++ {
		for i := range acc[0] {
			for v := range acc[0][i] {
				VADDPS(acc[p][i][v], acc[0][i][v], acc[0][i][v])
			}
		}
	}
	epilogue512(t, acc[0], true)
}

// packBF16x12 writes the A packer of the bfloat16 GEMM: 12 rows of
// float32, ld floats apart, rounded to bf16 32 at a time and transposed
// so that the pair (2j, 2j+1) of row r becomes word j·12 + r.
func packBF16x12() {
	TEXT("packBF16x12AVX512", NOSPLIT, "func(src *float32, ld int, dst *float32, nblk int)")
	Doc("packBF16x12AVX512 writes dst[j*12+r] = bf16 pair (src[r*ld+2j], src[r*ld+2j+1]) for r < 12, j < 16·nblk.")
	src := Load(Param("src"), GP64())
	ld := Load(Param("ld"), GP64())
	SHLQ(U8(2), ld)
	dst := Load(Param("dst"), GP64())
	n := Load(Param("nblk"), GP64())
	var bases []Register
	for r := 0; r < 12; r += 3 {
		b := GP64()
		if r == 0 {
			MOVQ(src, b)
		} else {
			LEAQ(Mem{Base: bases[len(bases)-1], Index: ld, Scale: 2}, b)
			ADDQ(ld, b)
		}
		bases = append(bases, b)
	}
	m := GP32()
	MOVL(U32(0xfff), m)
	KMOVW(m, K1)
	Label("loop")
	for r := 0; r < 16; r++ {
		if r >= 12 {
			VPXORD(zmm(r), zmm(r), zmm(r))
			continue
		}
		mm := Mem{Base: bases[r/3]}
		if r%3 > 0 {
			mm = Mem{Base: bases[r/3], Index: ld, Scale: uint8(r % 3)}
		}
		VMOVUPS(mm, Z28)
		VMOVUPS(mm.Offset(64), Z29)
		vcvtne2ps2bf16(r, 29, 28)
	}
	for _, b := range bases {
		ADDQ(U8(128), b)
	}
	transpose16(func(j int, x VecPhysical) { VMOVUPS(x, K1, Mem{Base: dst, Disp: j * 4 * aStep}) })
	ADDQ(U32(16*4*aStep), dst)
	DECQ(n)
	JNZ(LabelRef("loop"))
	VZEROUPPER()
	RET()
}

// transpose16 transposes the 16×16 words in Z0–Z15 (row r in Z r), using
// Z16–Z31, and calls store(j, x) with column j.
func transpose16(store func(j int, x VecPhysical)) {
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
		store(j, r(j))
	}
}

// peakBF16 writes a loop of independent VDPBF16PSs.
func peakBF16() {
	TEXT("peakBF16", NOSPLIT, "func(n int)")
	Doc("peakBF16 runs n rounds of 24 independent VDPBF16PSs (1536 flops a round).")
	n := Load(Param("n"), GP64())
	for i := 0; i < 26; i++ {
		VPXORD(zmm(i), zmm(i), zmm(i))
	}
	Label("loop")
	for i := 0; i < 24; i++ {
		vdpbf16ps(i, 24, 25)
	}
	DECQ(n)
	JNZ(LabelRef("loop"))
	VZEROUPPER()
	RET()
}

// dequantInt4 writes the 4-bit dequantizer of one block's rows of a
// packed panel: per row, 16 bytes become 32 floats (u - z)·s.
func dequantInt4() {
	TEXT("dequantInt4AVX512", NOSPLIT, "func(src *byte, scale, zero, dst *float32, rows int, tab *[16]float32)")
	Doc("dequantInt4AVX512 sets dst[r*32+c] = (u(r, c) - zero[c])·scale[c] for r < rows, c < 32,",
		"u(r, c) the low (c < 16) or high nibble of src[r*16 + c%16], through the value table tab.")
	src := Load(Param("src"), GP64())
	sc := Load(Param("scale"), GP64())
	zp := Load(Param("zero"), GP64())
	dst := Load(Param("dst"), GP64())
	n := Load(Param("rows"), GP64())
	tab := Load(Param("tab"), GP64())
	VMOVUPS(Mem{Base: tab}, Z31)
	VMOVUPS(Mem{Base: sc}, Z28)
	VMOVUPS(Mem{Base: sc, Disp: 64}, Z29)
	VMOVUPS(Mem{Base: zp}, Z26)
	VMOVUPS(Mem{Base: zp, Disp: 64}, Z27)
	Label("loop")
	VPMOVZXBD(Mem{Base: src}, Z0)
	VPSRLD(U8(4), Z0, Z1)
	VPERMPS(Z31, Z0, Z2) // the table entry of each dword's low four bits
	VPERMPS(Z31, Z1, Z3)
	VSUBPS(Z26, Z2, Z2)
	VSUBPS(Z27, Z3, Z3)
	VMULPS(Z28, Z2, Z2)
	VMULPS(Z29, Z3, Z3)
	VMOVUPS(Z2, Mem{Base: dst})
	VMOVUPS(Z3, Mem{Base: dst, Disp: 64})
	ADDQ(U8(16), src)
	ADDQ(U8(128), dst)
	DECQ(n)
	JNZ(LabelRef("loop"))
	VZEROUPPER()
	RET()
}

// gemvInt4 writes the one-row 4-bit kernel over one panel: per block,
// Σ a·u in eight accumulators (four steps of k in flight, two halves of
// the panel), then the block's scale and zero-point term.
func gemvInt4() {
	TEXT("gemvInt4AVX512", NOSPLIT, "func(a, sums *float32, src *byte, scale, zs *float32, k, block int, out *[32]float32, tab *[16]float32)")
	Doc("gemvInt4AVX512 computes one panel of a one-row 4-bit product as gemvInt4Generic documents.")
	ap := Load(Param("a"), GP64())
	sp := Load(Param("sums"), GP64())
	src := Load(Param("src"), GP64())
	sc := Load(Param("scale"), GP64())
	zs := Load(Param("zs"), GP64())
	left := Load(Param("k"), GP64())
	bs := Load(Param("block"), GP64())
	tab := Load(Param("tab"), GP64())
	VMOVUPS(Mem{Base: tab}, Z31)
	VPXORD(Z8, Z8, Z8)
	VPXORD(Z9, Z9, Z9)
	n := GP64()
	Label("block")
	MOVQ(bs, n)
	CMPQ(left, bs)
	CMOVQLT(left, n)
	SUBQ(n, left)
	for i := 0; i < 8; i++ {
		VPXORD(zmm(i), zmm(i), zmm(i))
	}
	step := func(u, acc int) {
		b, h, lo, hi := zmm(16+u), zmm(20+u), zmm(24+u), zmm(28+u%3)
		if u == 3 {
			hi = Z10
		}
		VPMOVZXBD(Mem{Base: src, Disp: 16 * u}, b)
		VPSRLD(U8(4), b, h)
		VPERMPS(Z31, b, lo)
		VPERMPS(Z31, h, hi)
		VFMADD231PS_BCST(Mem{Base: ap, Disp: 4 * u}, lo, zmm(2*acc))
		VFMADD231PS_BCST(Mem{Base: ap, Disp: 4 * u}, hi, zmm(2*acc+1))
	}
	CMPQ(n, U8(4))
	JL(LabelRef("tail"))
	Label("loop")
	for u := 0; u < 4; u++ {
		step(u, u)
	}
	ADDQ(U8(64), src)
	ADDQ(U8(16), ap)
	SUBQ(U8(4), n)
	CMPQ(n, U8(4))
	JGE(LabelRef("loop"))
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	Label("tailloop")
	step(0, 0)
	ADDQ(U8(16), src)
	ADDQ(U8(4), ap)
	DECQ(n)
	JNZ(LabelRef("tailloop"))
	Label("reduce")
	for u := 1; u < 4; u++ {
		VADDPS(zmm(2*u), Z0, Z0)
		VADDPS(zmm(2*u+1), Z1, Z1)
	}
	VFMADD231PS(Mem{Base: sc}, Z0, Z8)
	VFMADD231PS(Mem{Base: sc, Disp: 64}, Z1, Z9)
	VBROADCASTSS(Mem{Base: sp}, Z11)
	VFMADD231PS(Mem{Base: zs}, Z11, Z8)
	VFMADD231PS(Mem{Base: zs, Disp: 64}, Z11, Z9)
	ADDQ(U32(128), sc)
	ADDQ(U32(128), zs)
	ADDQ(U8(4), sp)
	TESTQ(left, left)
	JNZ(LabelRef("block"))
	out := Load(Param("out"), GP64())
	VMOVUPS(Z8, Mem{Base: out})
	VMOVUPS(Z9, Mem{Base: out, Disp: 64})
	VZEROUPPER()
	RET()
}

// vex256 returns the three-byte VEX encoding of a 256-bit register-only
// instruction of map 0F38, W0, prefix 66: op dst, src1, src2 (Intel
// order, ymm numbers below 16).
func vex256(opcode byte, dst, src1, src2 int) []byte {
	inv := func(r, bit int) byte { return byte(^(r >> bit) & 1) }
	b1 := inv(dst, 3)<<7 | 1<<6 | inv(src2, 3)<<5 | 0b00010
	b2 := byte(^src1&0xf)<<3 | 1<<2 | 0b01
	return []byte{0xc4, b1, b2, opcode, 0xc0 | byte(dst&7)<<3 | byte(src2&7)}
}

// vpdpbusdVEX emits AVX-VNNI's VPDPBUSD dst, src1, src2 (Intel order):
// dst.int32[i] += Σ_q src1.uint8[4i+q]·src2.int8[4i+q]. The Go assembler
// encodes VPDPBUSD only as the EVEX (AVX512_VNNI) instruction.
func vpdpbusdVEX(dst, src1, src2 int) {
	rawInst(fmt.Sprintf("VPDPBUSD Y%d, Y%d, Y%d (VEX, Intel order)", dst, src1, src2), vex256(0x50, dst, src1, src2))
}

func checkVEXEncodings() {
	for _, c := range []struct {
		got  []byte
		want string
	}{
		{vex256(0x50, 1, 2, 3), "c4e26d50cb"},
		{vex256(0x50, 9, 14, 3), "c4620d50cb"},
		{vex256(0x50, 2, 12, 13), "c4c21d50d5"},
		{vex256(0x50, 15, 0, 8), "c4427d50f8"},
	} {
		if got := fmt.Sprintf("%x", c.got); got != c.want {
			panic(fmt.Sprintf("VEX encoding %s, want %s", got, c.want))
		}
	}
}

// dot8VNNI256 writes the AVX-VNNI kernel of rows×16 int32 sums (rows ≤ 6):
// A and B panels as the 8-bit GEMM packs them, sums stored to c with rows
// NR int32 apart.
func dot8VNNI256(rows int, signedA bool) {
	name := fmt.Sprintf("dot8VNNI256%sx%d", signName(signedA), rows)
	TEXT(name, NOSPLIT, "func(a, b *byte, kg int, c *int32)")
	Doc(fmt.Sprintf("%s sets c[i*32+j] = Σ_g,q A(a[g*48+i*4+q])·B(b[g*128+j*4+q]) for i < %d, j < 16.", name, rows))
	for i := 0; i < 2*rows; i++ {
		VPXOR(ymm(i), ymm(i), ymm(i))
	}
	ap := Load(Param("a"), GP64())
	bp := Load(Param("b"), GP64())
	n := Load(Param("kg"), GP64())
	step := func(u int) {
		VMOVDQU(Mem{Base: bp, Disp: b8Step * u}, Y12)
		VMOVDQU(Mem{Base: bp, Disp: b8Step*u + 32}, Y13)
		for i := 0; i < rows; i++ {
			x := 14 + i%2
			VPBROADCASTD(Mem{Base: ap, Disp: a8Step*u + 4*i}, ymm(x))
			for v := 0; v < 2; v++ {
				if signedA {
					vpdpbusdVEX(2*i+v, 12+v, x)
				} else {
					vpdpbusdVEX(2*i+v, x, 12+v)
				}
			}
		}
	}
	loop2(n, ap, bp, step, 2, a8Step, b8Step)
	cp := Load(Param("c"), GP64())
	for i := 0; i < rows; i++ {
		VMOVDQU(ymm(2*i), Mem{Base: cp, Disp: 128 * i})
		VMOVDQU(ymm(2*i+1), Mem{Base: cp, Disp: 128*i + 32})
	}
	VZEROUPPER()
	RET()
}

// dot8AVX2 writes the AVX2 kernel of rows×8 int32 sums (rows ≤ 6) without
// VNNI. It widens both operands to int16 and multiplies pairs with
// VPMADDWD, which is exact: VPMADDUBSW, the usual u8×s8 instruction,
// saturates its int16 pair sums (255·127·2 > 32767), so that results
// would depend on the data. Each accumulator holds two partial sums per
// column (k steps 0-1 and 2-3 of each group), added at the end.
func dot8AVX2(rows int, signedA bool) {
	name := fmt.Sprintf("dot8AVX2%sx%d", signName(signedA), rows)
	TEXT(name, NOSPLIT, "func(a, b *byte, kg int, c *int32)")
	Doc(fmt.Sprintf("%s sets c[i*32+j] = Σ_g,q A(a[g*48+i*4+q])·B(b[g*128+j*4+q]) for i < %d, j < 8.", name, rows))
	for i := 0; i < 2*rows; i++ {
		VPXOR(ymm(i), ymm(i), ymm(i))
	}
	ap := Load(Param("a"), GP64())
	bp := Load(Param("b"), GP64())
	n := Load(Param("kg"), GP64())
	widenA, widenB := VPMOVZXBW, VPMOVSXBW
	if signedA {
		widenA, widenB = VPMOVSXBW, VPMOVZXBW
	}
	step := func(u int) {
		// Columns 0-3 and 4-7 of the group, as int16.
		widenB(Mem{Base: bp, Disp: b8Step * u}, Y12)
		widenB(Mem{Base: bp, Disp: b8Step*u + 16}, Y13)
		for i := 0; i < rows; i++ {
			VPBROADCASTD(Mem{Base: ap, Disp: a8Step*u + 4*i}, X14)
			widenA(X14, Y14) // the row's four values, four times
			VPMADDWD(Y12, Y14, Y15)
			VPADDD(Y15, ymm(2*i), ymm(2*i))
			VPMADDWD(Y13, Y14, Y15)
			VPADDD(Y15, ymm(2*i+1), ymm(2*i+1))
		}
	}
	loop2(n, ap, bp, step, 2, a8Step, b8Step)
	cp := Load(Param("c"), GP64())
	for i := 0; i < rows; i++ {
		// Pairwise sums give columns 0 1 4 5 | 2 3 6 7; VPERMQ orders them.
		VPHADDD(ymm(2*i+1), ymm(2*i), ymm(2*i))
		VPERMQ(U8(0xd8), ymm(2*i), ymm(2*i))
		VMOVDQU(ymm(2*i), Mem{Base: cp, Disp: 128 * i})
	}
	VZEROUPPER()
	RET()
}

// peakVNNI256 writes a loop of independent 256-bit AVX-VNNI VPDPBUSDs.
func peakVNNI256() {
	TEXT("peakVNNI256", NOSPLIT, "func(n int)")
	Doc("peakVNNI256 runs n rounds of 12 independent 256-bit VPDPBUSDs (768 int8 ops a round).")
	n := Load(Param("n"), GP64())
	for i := 0; i < 14; i++ {
		VPXOR(ymm(i), ymm(i), ymm(i))
	}
	Label("loop")
	for i := 0; i < 12; i++ {
		vpdpbusdVEX(i, 12, 13)
	}
	DECQ(n)
	JNZ(LabelRef("loop"))
	VZEROUPPER()
	RET()
}
