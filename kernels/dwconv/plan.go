package dwconv

import "fmt"

// Geom is the geometry of a 2-D depthwise convolution over one plane.
type Geom struct {
	H, W   int // input plane
	OH, OW int // output plane
	KH, KW int // kernel
	SH, SW int // strides; SW is 1 or 2
	DH, DW int // dilations
	PT, PL int // padding before the first row and column
}

// MaxTaps bounds KH·KW.
const MaxTaps = 64

// padCols is the widest output a Plan computes from a zero-padded copy of
// the input plane, in one block: narrower planes would spend more on
// their borders (several calls, and Go for the corners) than on the copy.
const padCols = 32

// A Plan computes depthwise convolutions of one geometry. It is immutable
// and safe for concurrent use.
type Plan struct {
	g Geom
	// The outputs whose taps all fall inside the input: rows [rowLo,
	// rowHi), columns [colLo, colHi), and the taps' offsets from the
	// block's first input.
	rowLo, rowHi, colLo, colHi int
	offs                       []int

	// Narrow planes: a zero-padded copy hp×wp with the input at (PT, PL),
	// and the taps' offsets in it.
	padded  bool
	hp, wp  int
	padOffs []int

	k3 *k3Plan // the 3×3 kernels' plan, or nil
}

// NewPlan returns a Plan for g, or nil if g is outside what the kernels
// handle: a column stride other than 1 or 2, more than MaxTaps taps, or
// negative padding.
func NewPlan(g Geom) *Plan {
	if g.SW < 1 || g.SW > 2 || g.SH < 1 || g.DH < 1 || g.DW < 1 || g.KH < 1 || g.KW < 1 ||
		g.KH*g.KW > MaxTaps || g.PT < 0 || g.PL < 0 || g.H < 1 || g.W < 1 || g.OH < 0 || g.OW < 0 {
		return nil
	}
	p := &Plan{g: g, rowHi: g.OH, colHi: g.OW, k3: newK3(g)}
	for kh := 0; kh < g.KH; kh++ {
		lo, hi := validRange(g.OH, g.H, g.SH, kh*g.DH-g.PT)
		p.rowLo, p.rowHi = max(p.rowLo, lo), min(p.rowHi, hi)
	}
	for kw := 0; kw < g.KW; kw++ {
		lo, hi := validRange(g.OW, g.W, g.SW, kw*g.DW-g.PL)
		p.colLo, p.colHi = max(p.colLo, lo), min(p.colHi, hi)
	}
	if p.rowLo >= p.rowHi || p.colLo >= p.colHi {
		p.rowLo, p.rowHi, p.colLo, p.colHi = 0, 0, 0, 0
	}
	p.offs = make([]int, g.KH*g.KW)
	for t := range p.offs {
		kh, kw := t/g.KW, t%g.KW
		p.offs[t] = (p.rowLo*g.SH-g.PT+kh*g.DH)*g.W + p.colLo*g.SW - g.PL + kw*g.DW
	}
	if g.OW <= padCols {
		p.padded = true
		p.hp = max(g.H+g.PT, (g.OH-1)*g.SH+(g.KH-1)*g.DH+1)
		p.wp = max(g.W+g.PL, (g.OW-1)*g.SW+(g.KW-1)*g.DW+1)
		p.padOffs = make([]int, len(p.offs))
		for t := range p.padOffs {
			kh, kw := t/g.KW, t%g.KW
			p.padOffs[t] = kh*g.DH*p.wp + kw*g.DW
		}
	}
	return p
}

// validRange returns the output positions [lo, hi) along one dimension
// whose input coordinate o·s + off lies in [0, n).
func validRange(out, n, s, off int) (lo, hi int) {
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	if n-off > 0 {
		hi = (n - off + s - 1) / s
	}
	hi = min(hi, out)
	lo = min(lo, hi)
	return lo, hi
}

// ScratchLen is the length of the scratch buffer Run needs.
func (p *Plan) ScratchLen() int {
	n := 0
	if p.padded {
		n = p.hp * p.wp
	}
	if p.k3 != nil {
		n = max(n, p.k3.scratch)
	}
	return n
}

// Run computes ch output planes: output plane c (OH·OW elements, planes
// contiguous in y) is
//
//	min(max(bias[c] + Σ w[c][kh][kw]·x[c/mult][ih][iw], lo), hi)
//
// over the taps inside input plane c/mult (H·W elements, planes contiguous
// in x), each channel's KH·KW taps contiguous in w. bias may be nil (0).
// scratch must hold ScratchLen elements; its contents are overwritten.
func (p *Plan) Run(y, x, w, bias []float32, ch, mult int, lo, hi float32, scratch []float32) {
	g := p.g
	inP, outP, K := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	if ch <= 0 {
		return
	}
	if mult < 1 || len(y) < ch*outP || len(x) < (ch-1)/mult*inP+inP || len(w) < ch*K || (bias != nil && len(bias) < ch) {
		panic(fmt.Sprintf("dwconv: Run of %d channels (multiplier %d): y %d, x %d, w %d, bias %d elements", ch, mult, len(y), len(x), len(w), len(bias)))
	}
	if p.k3 != nil && mult == 1 {
		p.k3.run(y, x, w, bias, ch, lo, hi, scratch)
		return
	}
	if p.padded {
		pad := scratch[:p.hp*p.wp]
		clear(pad)
		for c := 0; c < ch; c++ {
			var b float32
			if bias != nil {
				b = bias[c]
			}
			if c%mult == 0 {
				copyRows(pad[g.PT*p.wp+g.PL:], p.wp, x[c/mult*inP:], g.W, g.H, g.W)
			}
			rows2(y[c*outP:], g.OW, pad, g.SH*p.wp, g.OH, g.OW, g.SW, p.padOffs, w[c*K:c*K+K], b, lo, hi)
		}
		return
	}
	for c := 0; c < ch; c++ {
		var b float32
		if bias != nil {
			b = bias[c]
		}
		p.plane(y[c*outP:(c+1)*outP], x[c/mult*inP:c/mult*inP+inP], w[c*K:c*K+K], b, lo, hi)
	}
}

// plane computes one output plane without padding the input: the
// interior block, then each row above and below it and each column left
// and right of it with the taps that read inside x, then the corners in
// Go.
func (p *Plan) plane(y, x, w []float32, b, lo, hi float32) {
	g := p.g
	H, W, OH, OW := g.H, g.W, g.OH, g.OW
	rowLo, rowHi, colLo, colHi := p.rowLo, p.rowHi, p.colLo, p.colHi
	if rowHi > rowLo {
		rows2(y[rowLo*OW+colLo:], OW, x, g.SH*W, rowHi-rowLo, colHi-colLo, g.SW, p.offs, w, b, lo, hi)
	}
	var offs [MaxTaps]int
	var ws [MaxTaps]float32
	// taps gathers the taps of output (oh, ow) that read inside x, with
	// their offsets in x.
	taps := func(oh, ow int) int {
		n := 0
		for t := range w {
			kh, kw := t/g.KW, t%g.KW
			ih, iw := oh*g.SH-g.PT+kh*g.DH, ow*g.SW-g.PL+kw*g.DW
			if ih >= 0 && ih < H && iw >= 0 && iw < W {
				offs[n], ws[n] = ih*W+iw, w[t]
				n++
			}
		}
		return n
	}
	fill := func(dst []float32, ystep, rows, cols int) {
		v := clamp(b, lo, hi)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				dst[r*ystep+c] = v
			}
		}
	}
	// Rows above and below, at the interior columns.
	for oh := 0; oh < OH && colHi > colLo; oh++ {
		if oh == rowLo && rowHi > rowLo {
			oh = rowHi - 1
			continue
		}
		dst := y[oh*OW+colLo : oh*OW+colHi]
		if n := taps(oh, colLo); n > 0 {
			rows2(dst, len(dst), x, 0, 1, len(dst), g.SW, offs[:n], ws[:n], b, lo, hi)
		} else {
			fill(dst, len(dst), 1, len(dst))
		}
	}
	// Columns left and right, at the interior rows, each a block one
	// column wide.
	for ow := 0; ow < OW && rowHi > rowLo; ow++ {
		if ow == colLo && colHi > colLo {
			ow = colHi - 1
			continue
		}
		dst := y[rowLo*OW+ow:]
		if n := taps(rowLo, ow); n > 0 {
			rows2(dst, OW, x, g.SH*W, rowHi-rowLo, 1, g.SW, offs[:n], ws[:n], b, lo, hi)
		} else {
			fill(dst, OW, rowHi-rowLo, 1)
		}
	}
	// Corners (everything when there is no interior).
	for oh := 0; oh < OH; oh++ {
		if oh == rowLo && rowHi > rowLo {
			oh = rowHi - 1
			continue
		}
		for ow := 0; ow < OW; ow++ {
			if ow == colLo && colHi > colLo {
				ow = colHi - 1
				continue
			}
			s := b
			for t := range taps(oh, ow) {
				s += ws[t] * x[offs[t]]
			}
			y[oh*OW+ow] = clamp(s, lo, hi)
		}
	}
}

// copyRowsGeneric is copyRows in Go.
func copyRowsGeneric(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	for r := 0; r < rows; r++ {
		copy(dst[r*dstStride:r*dstStride+cols], src[r*srcStride:r*srcStride+cols])
	}
}
