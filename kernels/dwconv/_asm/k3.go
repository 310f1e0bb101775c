package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The fields of the geometry array the 3×3 kernels read (see k3Geom in
// ../k3.go, which must agree).
const (
	gH     = iota // input rows
	gFull         // whole 16-float (stride 1) or 32-float (stride 2) chunks per input row
	gInRow        // input row, bytes
	gInP          // input plane, bytes
	gOutP         // output plane, bytes
	gDst          // scratch offset of input row 0's first float (stride 2: its even floats), bytes
	gDstO         // stride 2: offset of the odd floats' destination from the even ones', bytes
	gL            // scratch row, bytes
	gRMax         // last row block's first row: OH - R
	gCMax         // last column block's first column: max(OW - 16·V, 0)
	gYStep        // output row, bytes
	gD            // stride 2: offset of the odd-column plane from the even one, bytes
	gK1           // store mask of a block's last vector
	gK23          // load masks of a row's last chunk: K2 | K3<<16
	gK45          // stride 2: store masks of the last chunk's even and odd floats: K4 | K5<<16
	gOH
	gOW
	gBuf // offset of the second scratch plane from the first, bytes
)

const k3Signature = "func(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[18]int, lo float32, hi float32, perm *int32)"

// k3Variants lists the blocks (rows R × vectors V) a kernel is generated for.
var k3Variants = [][2]int{
	{1, 8}, {1, 7}, {1, 4}, {1, 2}, {1, 1},
	{2, 8}, {2, 7}, {2, 4}, {2, 2}, {2, 1},
	{3, 4}, {3, 2}, {3, 1},
	{4, 4}, {4, 2}, {4, 1},
}

// k3Kernel writes k3S<stride>V<v>R<r>: for each of nch channels, copy the
// input plane into the zeroed scratch (stride 2: split into its even and odd
// columns), then compute the output plane in blocks of r rows × v vectors of
// 16 columns with the nine weights in registers; the last row and column
// blocks are moved back to end at the plane's edge, recomputing a few
// outputs rather than masking them.
func k3Kernel(stride, v, r int) {
	name := fmt.Sprintf("k3S%dV%dR%d", stride, v, r)
	TEXT(name, NOSPLIT, k3Signature)
	Doc(fmt.Sprintf("%s computes 3×3 depthwise convolutions of stride %d in blocks of %d rows × %d vectors.", name, stride, r, v))
	y := Load(Param("y"), GP64())
	x := Load(Param("x"), GP64())
	w := Load(Param("w"), GP64())
	bias := Load(Param("bias"), GP64())
	nch := Load(Param("nch"), GP64())
	g := Load(Param("geom"), GP64())
	VBROADCASTSS(Load(Param("lo"), XMM()), Z26)
	VBROADCASTSS(Load(Param("hi"), XMM()), Z27)
	gm := func(i int) Mem { return Mem{Base: g, Disp: 8 * i} }
	kmask := func(i, shift int, k Register) {
		t := GP64()
		MOVQ(gm(i), t)
		if shift > 0 {
			SHRQ(U8(shift), t)
		}
		KMOVW(t.As32(), k)
	}
	kmask(gK1, 0, K1)
	kmask(gK23, 0, K2)
	kmask(gK23, 16, K3)
	if stride == 2 {
		kmask(gK45, 0, K4)
		kmask(gK45, 16, K5)
		perm := Load(Param("perm"), GP64())
		VMOVDQU32(Mem{Base: perm}, Z28)
		VMOVDQU32(Mem{Base: perm, Disp: 64}, Z29)
	}
	TESTQ(nch, nch)
	JLE(LabelRef(name + "done"))

	// Each channel's plane is copied into one scratch buffer while the
	// other is read, so that the copy's stores have left the store
	// buffer before the loads that span them.
	cur := GP64()
	Load(Param("scr"), cur)
	k3Prep(stride, name+"first", x, cur, gm)
	Label(name + "ch")
	other := GP64()
	Load(Param("scr"), other)
	SHLQ(U8(1), other)
	ADDQ(gm(gBuf), other)
	SUBQ(cur, other)
	CMPQ(nch, U8(1))
	JE(LabelRef(name + "last"))
	{
		nx := GP64()
		MOVQ(x, nx)
		ADDQ(gm(gInP), nx)
		k3Prep(stride, name+"next", nx, other, gm)
	}
	Label(name + "last")
	// The channel's weights and bias.
	wz := []VecPhysical{Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24}
	for t := range wz {
		VBROADCASTSS(Mem{Base: w, Disp: 4 * t}, wz[t])
	}
	VBROADCASTSS(Mem{Base: bias}, Z25)

	// The blocks.
	{
		r0, c0 := GP64(), GP64()
		XORQ(r0, r0)
		Label(name + "rblk")
		CMPQ(r0, gm(gRMax))
		CMOVQGT(gm(gRMax), r0)
		XORQ(c0, c0)
		Label(name + "cblk")
		CMPQ(c0, gm(gCMax))
		CMOVQGT(gm(gCMax), c0)
		k3Block(stride, v, r, y, cur, r0, c0, gm)
		ADDQ(U8(16*v), c0)
		CMPQ(c0, gm(gOW))
		JL(LabelRef(name + "cblk"))
		ADDQ(U8(r), r0)
		CMPQ(r0, gm(gOH))
		JL(LabelRef(name + "rblk"))
	}

	MOVQ(other, cur)
	ADDQ(gm(gInP), x)
	ADDQ(gm(gOutP), y)
	ADDQ(U8(36), w)
	ADDQ(Load(Param("biasStep"), GP64()), bias)
	DECQ(nch)
	JNZ(LabelRef(name + "ch"))
	Label(name + "done")
	VZEROUPPER()
	RET()
}

// k3Block computes the block of r rows × v vectors whose first output is
// at row r0, column c0.
func k3Block(stride, v, r int, y, scr, r0, c0 Register, gm func(int) Mem) {
	acc := make([][]VecPhysical, r)
	for i := range acc {
		for j := 0; j < v; j++ {
			z := zmm(i*v + j)
			VMOVAPS(Z25, z)
			acc[i] = append(acc[i], z)
		}
	}
	// rowp: the block's first input, scr + r0·stride·L + 4·c0.
	rowp := GP64()
	MOVQ(r0, rowp)
	IMULQ(gm(gL), rowp)
	if stride == 2 {
		SHLQ(U8(1), rowp)
	}
	ADDQ(scr, rowp)
	LEAQ(Mem{Base: rowp, Index: c0, Scale: 4}, rowp)
	var d Register
	if stride == 2 {
		d = GP64()
		MOVQ(gm(gD), d)
	}
	tap := func(kw, j int) Mem {
		if stride == 1 {
			return Mem{Base: rowp, Disp: 64*j + 4*kw}
		}
		switch kw {
		case 0:
			return Mem{Base: rowp, Disp: 64 * j}
		case 1:
			return Mem{Base: rowp, Index: d, Scale: 1, Disp: 64 * j}
		}
		return Mem{Base: rowp, Disp: 64*j + 4}
	}
	nin := (r-1)*stride + 3
	for k := 0; k < nin; k++ {
		if k > 0 {
			ADDQ(gm(gL), rowp)
		}
		// Each input vector is loaded once for the (up to 3) output rows
		// that use it.
		var users []int
		for i := 0; i < r; i++ {
			if kh := k - i*stride; kh >= 0 && kh <= 2 {
				users = append(users, i)
			}
		}
		for kw := 0; kw < 3; kw++ {
			for j := 0; j < v; j++ {
				if len(users) == 1 {
					i := users[0]
					VFMADD231PS(tap(kw, j), zmm16((k-i*stride)*3+kw), acc[i][j])
					continue
				}
				tmp := []VecPhysical{Z30, Z31}[(kw*v+j)%2]
				VMOVUPS(tap(kw, j), tmp)
				for _, i := range users {
					VFMADD231PS(tmp, zmm16((k-i*stride)*3+kw), acc[i][j])
				}
			}
		}
	}
	out := GP64()
	MOVQ(r0, out)
	IMULQ(gm(gYStep), out)
	ADDQ(y, out)
	LEAQ(Mem{Base: out, Index: c0, Scale: 4}, out)
	for i := 0; i < r; i++ {
		if i > 0 {
			ADDQ(gm(gYStep), out)
		}
		for j := 0; j < v; j++ {
			a := acc[i][j]
			VMAXPS(a, Z26, a)
			VMINPS(a, Z27, a)
			if j == v-1 {
				VMOVUPS(a, K1, Mem{Base: out, Disp: 64 * j})
			} else {
				VMOVUPS(a, Mem{Base: out, Disp: 64 * j})
			}
		}
	}
}

func zmm16(t int) VecPhysical {
	return []VecPhysical{Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24}[t]
}

// k3Prep copies the input plane at x into the scratch plane at scr.
func k3Prep(stride int, name string, x, scr Register, gm func(int) Mem) {
	{
		src, dst, rows, c, n := GP64(), GP64(), GP64(), GP64(), GP64()
		MOVQ(x, src)
		MOVQ(scr, dst)
		ADDQ(gm(gDst), dst)
		MOVQ(gm(gH), rows)
		var dO Register
		if stride == 2 {
			dO = GP64()
			MOVQ(gm(gDstO), dO)
		}
		Label(name + "prow")
		XORQ(c, c)
		MOVQ(gm(gFull), n)
		TESTQ(n, n)
		JE(LabelRef(name + "ptail"))
		Label(name + "pchunk")
		if stride == 1 {
			VMOVUPS(Mem{Base: src, Index: c, Scale: 1}, Z0)
			VMOVUPS(Z0, Mem{Base: dst, Index: c, Scale: 1})
			ADDQ(U8(64), c)
		} else {
			// c counts output bytes: the chunk's input is at 2c.
			VMOVUPS(Mem{Base: src, Index: c, Scale: 2}, Z0)
			VMOVUPS(Mem{Base: src, Index: c, Scale: 2, Disp: 64}, Z1)
			VMOVAPS(Z0, Z2)
			VPERMT2PS(Z1, Z28, Z2)
			VPERMT2PS(Z1, Z29, Z0)
			VMOVUPS(Z2, Mem{Base: dst, Index: c, Scale: 1})
			t := GP64()
			LEAQ(Mem{Base: dst, Index: dO, Scale: 1}, t)
			VMOVUPS(Z0, Mem{Base: t, Index: c, Scale: 1})
			ADDQ(U8(64), c)
		}
		DECQ(n)
		JNZ(LabelRef(name + "pchunk"))
		Label(name + "ptail")
		if stride == 1 {
			VMOVUPS_Z(Mem{Base: src, Index: c, Scale: 1}, K2, Z0)
			VMOVUPS(Z0, K2, Mem{Base: dst, Index: c, Scale: 1})
		} else {
			VMOVUPS_Z(Mem{Base: src, Index: c, Scale: 2}, K2, Z0)
			VMOVUPS_Z(Mem{Base: src, Index: c, Scale: 2, Disp: 64}, K3, Z1)
			VMOVAPS(Z0, Z2)
			VPERMT2PS(Z1, Z28, Z2)
			VPERMT2PS(Z1, Z29, Z0)
			VMOVUPS(Z2, K4, Mem{Base: dst, Index: c, Scale: 1})
			t := GP64()
			LEAQ(Mem{Base: dst, Index: dO, Scale: 1}, t)
			VMOVUPS(Z0, K5, Mem{Base: t, Index: c, Scale: 1})
		}
		ADDQ(gm(gInRow), src)
		ADDQ(gm(gL), dst)
		DECQ(rows)
		JNZ(LabelRef(name + "prow"))
	}

}
