package im2col

import "fmt"

// MaxStride bounds the stride NewStrided takes.
const MaxStride = 4

// Split is the phase decomposition of a 2-D convolution's input for a
// stride S in both dimensions: phase (a, b) of channel c is the plane
// p[r][q] = x[c][a + S·r][b + S·q] for r < HP, q < WP, zero past the
// input's edge. Every tap of the convolution reads one phase plane at unit
// stride, so that a strided convolution runs as an implicit GEMM with Flat
// like a unit-stride one, at the cost of one gathering pass over its
// input. Only the phases some tap reads are kept, channel-major. A Split
// is immutable and safe for concurrent use.
type Split struct {
	c, h, w, s int
	hp, wp     int
	phases     []int // kept phases a·S + b, in their order in each channel
}

// Len returns the number of floats Run writes: C · phases · HP · WP.
func (sp *Split) Len() int { return sp.c * sp.ChannelLen() }

// ChannelLen returns the floats of one channel's phase planes.
func (sp *Split) ChannelLen() int { return len(sp.phases) * sp.hp * sp.wp }

// Run writes the phase planes of channels [c0, c1) of x (C planes of H·W)
// into dst, which holds Len floats.
func (sp *Split) Run(dst, x []float32, c0, c1 int) {
	if c0 < 0 || c1 > sp.c || c0 > c1 || len(dst) < sp.Len() || len(x) < sp.c*sp.h*sp.w {
		panic(fmt.Sprintf("im2col: Split of channels [%d, %d) of %d from %d floats into %d", c0, c1, sp.c, len(x), len(dst)))
	}
	h, w, s, wp := sp.h, sp.w, sp.s, sp.wp
	for ch := c0; ch < c1; ch++ {
		xs := x[ch*h*w : (ch+1)*h*w]
		d := dst[ch*sp.ChannelLen():]
		for _, ph := range sp.phases {
			a, b := ph/s, ph%s
			// Columns of the phase that lie inside the input.
			n := min(wp, max(0, (w-b+s-1)/s))
			if s == 2 && n == wp {
				// Rows inside the input in one call, the rest zero.
				rows := min(sp.hp, max(0, (h-a+1)/2))
				if rows > 0 && n > 0 {
					Gather2Rows(d, wp, xs[a*w+b:], 2*w, rows, n)
				}
				clear(d[rows*wp : sp.hp*wp])
				d = d[sp.hp*wp:]
				continue
			}
			for r := 0; r < sp.hp; r++ {
				row := d[r*wp : (r+1)*wp]
				ir := a + s*r
				if ir >= h || n == 0 {
					clear(row)
					continue
				}
				src := xs[ir*w+b:]
				switch s {
				case 1:
					copy(row[:n], src)
				case 2:
					Gather2(row[:n], src)
				default:
					for q := range row[:n] {
						row[q] = src[s*q]
					}
				}
				clear(row[n:])
			}
			d = d[sp.hp*wp:]
		}
	}
}

// NewStrided returns the geometry of a 2-D convolution of C channels of
// H×W planes with a KH×KW kernel, stride S in both dimensions, dilations DH
// and DW, PT rows of padding above and PL columns on the left, and OH×OW
// outputs, as a Split of its input and the Flat that reads the Split's
// output; nil, nil if it is out of range (S > MaxStride, more than MaxTaps
// taps), or if some tap's reads would run past the end of a phase plane's
// row (the planes are OW wide so that a tap reads output position j at
// j + δ; this happens only for windows narrower than the stride).
func NewStrided(c, h, w, oh, ow, kh, kw, s, dh, dw, pt, pl int) (*Split, *Flat) {
	if c < 1 || h < 1 || w < 1 || oh < 1 || ow < 1 || kh < 1 || kw < 1 || kh*kw > MaxTaps ||
		s < 1 || s > MaxStride || dh < 1 || dw < 1 {
		return nil, nil
	}
	K := kh * kw
	f := &Flat{c: c, w: ow, oh: oh, kh: kh, kw: kw}
	sp := &Split{c: c, h: h, w: w, s: s, hp: (h + s - 1) / s, wp: ow}
	var slot [MaxStride * MaxStride]int
	for i := range slot {
		slot[i] = -1
	}
	phase := make([]int, K)
	dys, dxs := make([]int, K), make([]int, K)
	for t := 0; t < K; t++ {
		offH, offW := (t/kw)*dh-pt, (t%kw)*dw-pl
		a, dy := floorMod(offH, s)
		b, dx := floorMod(offW, s)
		rlo, rhi := stridedRange(oh, h, s, offH)
		lo, hi := stridedRange(ow, w, s, offW)
		if rlo >= rhi || lo >= hi {
			// The tap reads only padding: an empty mask, any plane.
			rlo, rhi, lo, hi = 0, 0, 0, 0
			a, b, dy, dx = 0, 0, 0, 0
		} else if hi-1+dx >= ow {
			return nil, nil
		}
		ph := a*s + b
		if rlo < rhi && slot[ph] < 0 {
			slot[ph] = len(sp.phases)
			sp.phases = append(sp.phases, ph)
		}
		phase[t], dys[t], dxs[t] = ph, dy, dx
		f.rlo, f.rhi = append(f.rlo, rlo), append(f.rhi, rhi)
		f.lo, f.hi = append(f.lo, lo), append(f.hi, hi)
	}
	if len(sp.phases) == 0 {
		sp.phases = append(sp.phases, 0)
		slot[0] = 0
	}
	pp := sp.hp * sp.wp
	for t := 0; t < K; t++ {
		sl := max(slot[phase[t]], 0)
		f.delta = append(f.delta, sl*pp+dys[t]*sp.wp+dxs[t])
	}
	f.plane = sp.ChannelLen()
	return sp, f
}

// floorMod returns v mod s in [0, s) and the floored quotient.
func floorMod(v, s int) (mod, quo int) {
	quo = v / s
	if v%s < 0 {
		quo--
	}
	return v - quo*s, quo
}

// stridedRange returns the output positions [lo, hi), of out, whose input
// coordinate o·s + off lies in [0, n).
func stridedRange(out, n, s, off int) (lo, hi int) {
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

// Pointwise reports whether the column matrix is the input itself: one
// tap at offset zero that reads every output position, channels one
// output plane apart (a 1×1 convolution without padding; from NewStrided,
// the Split's output, its input subsampled).
func (f *Flat) Pointwise() bool {
	return f.kh*f.kw == 1 && f.plane == f.oh*f.w && f.delta[0] == 0 && f.rlo[0] == 0 && f.rhi[0] == f.oh && f.lo[0] == 0 && f.hi[0] == f.w
}

// WriteRows writes rows [p0, p1) of the column matrix of input x, every
// column, into dst with row stride ld: the row-major column matrix that
// Fill writes a panel at a time.
func (f *Flat) WriteRows(dst []float32, ld int, x []float32, p0, p1 int) {
	K, n := f.kh*f.kw, f.Cols()
	if p0 < 0 || p1 > f.Rows() || p0 > p1 || ld < n || p1 > p0 && len(dst) < (p1-p0-1)*ld+n || len(x) < f.c*f.plane {
		panic(fmt.Sprintf("im2col: WriteRows [%d, %d) of a %d×%d matrix into %d floats (stride %d) from %d", p0, p1, f.Rows(), n, len(dst), ld, len(x)))
	}
	for p := p0; p < p1; p++ {
		ch, t := p/K, p%K
		d := dst[(p-p0)*ld : (p-p0)*ld+n]
		a, b := f.rlo[t]*f.w, f.rhi[t]*f.w
		lo, hi := f.lo[t], f.hi[t]
		if a >= b || lo >= hi {
			clear(d)
			continue
		}
		clear(d[:a])
		clear(d[b:])
		// The copy's ends may fall outside x by the padding columns;
		// those elements are zeroed below.
		xs := x[ch*f.plane:]
		sa, sb := a+f.delta[t], min(b+f.delta[t], len(xs))
		da := a
		if sa < 0 {
			da -= sa
			sa = 0
		}
		if sa < sb {
			copy(d[da:da+sb-sa], xs[sa:sb])
		}
		if lo == 0 && hi == f.w {
			continue
		}
		for r := a; r < b; r += f.w {
			clear(d[r : r+lo])
			clear(d[r+hi : r+f.w])
		}
	}
}

// MR is the number of rows in a panel of a packed left operand
// (kernels/gemm.MR).
const MR = 12

// PackedTLen returns the floats PackT and WritePackedT write for a
// column matrix of rows rows and cols columns: its transpose packed in
// panels of MR columns.
func PackedTLen(rows, cols int) int { return (cols + MR - 1) / MR * MR * rows }

// PackT writes rows [r0, r1) of the rows×cols matrix src (row stride lds)
// transposed, as the left operand of a GEMM packed in panels of MR rows
// (kernels/gemm.PackedA's layout): element (r, j) goes to
// dst[(j/MR)·rows·MR + r·MR + j%MR], and the last panel's columns past
// cols are zero. Distinct row ranges write distinct elements, so that
// threads can share the rows out.
func PackT(dst []float32, src []float32, lds, rows, cols, r0, r1 int) {
	if r0 < 0 || r1 > rows || r0 > r1 || lds < cols || len(dst) < PackedTLen(rows, cols) || r1 > r0 && len(src) < (r1-1)*lds+cols {
		panic(fmt.Sprintf("im2col: PackT rows [%d, %d) of %d×%d (stride %d, %d floats) into %d", r0, r1, rows, cols, lds, len(src), len(dst)))
	}
	for r := r0; r < r1; r++ {
		packTRow(dst, src[r*lds:r*lds+cols], rows, r)
	}
}

// packTRow writes row r of the matrix, row, into the packed transpose.
func packTRow(dst, row []float32, rows, r int) {
	cols := len(row)
	j := 0
	for ; j+MR <= cols; j += MR {
		*(*[MR]float32)(dst[(j/MR)*rows*MR+r*MR:]) = *(*[MR]float32)(row[j:])
	}
	if j < cols {
		d := (*[MR]float32)(dst[(j/MR)*rows*MR+r*MR:])
		n := copy(d[:], row[j:])
		clear(d[n:])
	}
}

// WritePackedT writes rows [p0, p1) of the column matrix of input x
// transposed and packed as PackT does, through tmp, which holds at least
// Cols floats: the left operand of the GEMM of a convolution computed as
// Yᵀ = colᵀ·Wᵀ.
func (f *Flat) WritePackedT(dst, x, tmp []float32, p0, p1 int) {
	rows, n := f.Rows(), f.Cols()
	if len(tmp) < n || len(dst) < PackedTLen(rows, n) {
		panic(fmt.Sprintf("im2col: WritePackedT of a %d×%d matrix into %d floats, scratch %d", rows, n, len(dst), len(tmp)))
	}
	for p := p0; p < p1; p++ {
		f.WriteRows(tmp, n, x, p, p+1)
		packTRow(dst, tmp[:n], rows, p)
	}
}
