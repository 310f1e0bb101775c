package dwconv

// The 3×3 kernels (stride 1 or 2 in both dimensions, no dilation, one
// input plane per channel) are what MobileNet-style networks spend their
// depthwise time in. Each call runs many channels: per channel, the input
// plane is copied into a zeroed scratch plane with the padding around it
// (for stride 2 split into its even and odd columns, so that every tap
// reads 16 consecutive floats), and the output is computed from it in
// blocks of R rows × V vectors with the nine weights held in registers.

// The fields of k3.g, read by the assembly (_asm/k3.go lists the same).
const (
	k3H     = iota // input rows
	k3Full         // whole 16-float (stride 1) or 32-float (stride 2) chunks per input row
	k3InRow        // input row, bytes
	k3InP          // input plane, bytes
	k3OutP         // output plane, bytes
	k3Dst          // scratch offset of input row 0's first float (stride 2: its even floats), bytes
	k3DstO         // stride 2: offset of the odd floats' destination from the even ones', bytes
	k3L            // scratch row, bytes
	k3RMax         // last row block's first row: OH - R
	k3CMax         // last column block's first column: max(OW - 16·V, 0)
	k3YStep        // output row, bytes
	k3D            // stride 2: offset of the odd-column plane from the even one, bytes
	k3K1           // store mask of a block's last vector
	k3K23          // load masks of a row's last chunk: K2 | K3<<16
	k3K45          // stride 2: store masks of the last chunk's even and odd floats: K4 | K5<<16
	k3OH
	k3OW
	k3Buf // offset of the second scratch plane from the first, bytes
	k3Fields
)

// k3Plan is the 3×3 fast path of a Plan.
type k3Plan struct {
	g       [k3Fields]int
	scratch int // floats
	kern    k3Func
}

// k3Func is the signature of the generated kernels: nch channels, planes
// contiguous in x and y, nine weights each in w, bias advancing biasStep
// bytes per channel.
type k3Func func(y, x, w, bias *float32, biasStep, nch int, scr *float32, geom *[k3Fields]int, lo, hi float32, perm *int32)

// k3Rows lists, per vectors per block V (index V-1), the block heights
// generated, tallest first. Seven divides MobileNet's planes (7, 14, 28
// rows), which eight would cover with a block moved back.
var k3Rows = [4][]int{{8, 7, 4, 2, 1}, {8, 7, 4, 2, 1}, {4, 2, 1}, {4, 2, 1}}

// newK3 returns the 3×3 plan of g, or nil when g is not a 3×3 geometry
// the kernels take or there are no kernels.
func newK3(g Geom) *k3Plan {
	if g.KH != 3 || g.KW != 3 || g.DH != 1 || g.DW != 1 || g.SH != g.SW || g.SH > 2 || g.OH < 1 || g.OW < 1 || g.PT > 2 || g.PL > 2 {
		return nil
	}
	s := g.SH
	v := min(4, (g.OW+15)/16)
	// The height that computes the fewest rows, the tallest of those.
	r, rows := 0, 0
	for _, rr := range k3Rows[v-1] {
		if n := (g.OH + rr - 1) / rr * rr; rr <= g.OH && (r == 0 || n < rows) {
			r, rows = rr, n
		}
	}
	kern := k3Kernel(s, v, r)
	if kern == nil {
		return nil
	}
	p := &k3Plan{kern: kern}
	span := max(g.OW, 16*v) // columns computed, counting a block's last vector whole
	k1 := 0xffff
	if g.OW <= 16*v {
		k1 = 1<<(g.OW-16*(v-1)) - 1
	}
	var lcols, rowsRead int
	if s == 1 {
		lcols = max(g.PL+g.W, span+2)
		rowsRead = g.OH + 2
	} else {
		lcols = max((g.PL+g.W-1)/2+1, span+1)
		rowsRead = 2*g.OH + 1
	}
	l := (lcols + 15) &^ 15
	hp := max(g.PT+g.H, rowsRead)
	// Two scratch planes (see k3Kernel in _asm).
	p.scratch = 2 * hp * l * s
	gg := &p.g
	gg[k3Buf] = 4 * hp * l * s
	d := hp * l * 4
	gg[k3H] = g.H
	gg[k3InRow] = 4 * g.W
	gg[k3InP] = 4 * g.H * g.W
	gg[k3OutP] = 4 * g.OH * g.OW
	gg[k3L] = 4 * l
	gg[k3RMax] = g.OH - r
	gg[k3CMax] = max(g.OW-16*v, 0)
	gg[k3YStep] = 4 * g.OW
	gg[k3D] = d
	gg[k3K1] = k1
	gg[k3OH] = g.OH
	gg[k3OW] = g.OW
	lanes := func(n int) int { return 1<<max(0, min(n, 16)) - 1 }
	if s == 1 {
		gg[k3Full] = g.W / 16
		gg[k3Dst] = 4 * (g.PT*l + g.PL)
		gg[k3K23] = lanes(g.W % 16)
	} else {
		rem := g.W % 32
		gg[k3Full] = g.W / 32
		gg[k3K23] = lanes(rem) | lanes(rem-16)<<16
		gg[k3K45] = lanes((rem+1)/2) | lanes(rem/2)<<16
		// Padded column q = iw + PL goes to column q/2 of the even plane
		// (q even) or of the odd plane.
		if g.PL%2 == 0 {
			gg[k3Dst] = 4 * (g.PT*l + g.PL/2)
			gg[k3DstO] = d
		} else {
			gg[k3Dst] = d + 4*(g.PT*l+(g.PL-1)/2)
			gg[k3DstO] = 4*(g.PT*l+(g.PL+1)/2) - gg[k3Dst]
		}
	}
	return p
}

// k3Zero is the bias of a convolution without one.
var k3Zero float32

// k3Perm holds the VPERMT2PS indices of the even and the odd floats of
// two vectors.
var k3Perm = [32]int32{
	0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30,
	1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
}

// run computes ch channels (one input plane each) into y; the caller has
// checked the lengths. scratch holds at least p.scratch floats.
func (p *k3Plan) run(y, x, w, bias []float32, ch int, lo, hi float32, scratch []float32) {
	scr := scratch[:p.scratch]
	clear(scr)
	b, bstep := &k3Zero, 0
	if bias != nil {
		b, bstep = &bias[0], 4
	}
	p.kern(&y[0], &x[0], &w[0], b, bstep, ch, &scr[0], &p.g, lo, hi, &k3Perm[0])
}
