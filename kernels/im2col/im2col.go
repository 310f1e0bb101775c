// Package im2col writes panels of a convolution's column matrix straight
// into a GEMM's packing buffer (kernels/gemm's PanelFunc layout), so that
// a convolution runs as an implicit GEMM without a column matrix.
//
// Flat handles the common 2-D case, unit strides with as many output
// columns as input columns ("same" padding across, any dilation): a tap
// then reads output position j at input position j + δ, so a panel row is
// one 32-float window of the input plane under a mask that zeroes the
// padding. On amd64 with AVX-512 each row is two masked loads and two
// stores; elsewhere Go does the same.
package im2col

import "fmt"

// NR is the number of columns in a panel (kernels/gemm.NR).
const NR = 32

// MaxTaps bounds KH·KW.
const MaxTaps = 64

// Flat is the geometry of a 2-D convolution with unit strides and OW = W,
// over C input channels, or of a strided one over its input split into
// phase planes (see Split). It is immutable and safe for concurrent use.
type Flat struct {
	c, w, oh int // channels, output columns (the planes' width), output rows
	plane    int // distance between channels in the input
	kh, kw   int
	// Per tap: the input offset δ of output position 0, and the output
	// rows [rlo, rhi) and columns [lo, hi) that read inside the image.
	delta, rlo, rhi, lo, hi []int
}

// NewFlat returns the geometry of a convolution of C channels of H×W
// planes with a KH×KW kernel, dilations DH and DW, unit strides, PT rows
// of padding above and PL columns on the left, and OH output rows of W
// columns; nil if it is out of range (more than MaxTaps taps, say).
func NewFlat(c, h, w, oh, kh, kw, dh, dw, pt, pl int) *Flat {
	if c < 1 || h < 1 || w < 1 || oh < 1 || kh < 1 || kw < 1 || kh*kw > MaxTaps || dh < 1 || dw < 1 {
		return nil
	}
	f := &Flat{c: c, w: w, oh: oh, plane: h * w, kh: kh, kw: kw}
	for t := 0; t < kh*kw; t++ {
		offH, offW := (t/kw)*dh-pt, (t%kw)*dw-pl
		rlo, rhi := validRange(oh, h, offH)
		lo, hi := validRange(w, w, offW)
		f.delta = append(f.delta, offH*w+offW)
		f.rlo, f.rhi = append(f.rlo, rlo), append(f.rhi, rhi)
		f.lo, f.hi = append(f.lo, lo), append(f.hi, hi)
	}
	return f
}

// validRange returns the output positions [lo, hi) along one dimension,
// of out, whose input coordinate o + off lies in [0, n).
func validRange(out, n, off int) (lo, hi int) {
	lo, hi = max(0, -off), min(out, n-off)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// Rows returns the column matrix's rows, C·KH·KW.
func (f *Flat) Rows() int { return f.c * f.kh * f.kw }

// Cols returns the column matrix's columns, OH·W.
func (f *Flat) Cols() int { return f.oh * f.w }

// Fill writes rows [p0, p1) of columns [j0, j0+NR) of the column matrix
// of input x (C planes of H·W, or Split's output) into dst in panel order: element (p, j) at
// dst[(p-p0)·NR + j-j0], zero in the padding and past the last column. It
// is a kernels/gemm PanelFunc once x is bound.
func (f *Flat) Fill(dst, x []float32, p0, p1, j0 int) {
	K := f.kh * f.kw
	if p0 < 0 || p1 > f.Rows() || p0 > p1 || j0 < 0 || j0 >= f.Cols() || len(dst) < (p1-p0)*NR || len(x) < f.c*f.plane {
		panic(fmt.Sprintf("im2col: Fill rows [%d, %d) at column %d of a %d×%d matrix into %d floats from %d", p0, p1, j0, f.Rows(), f.Cols(), len(dst), len(x)))
	}
	// The panel's columns by output row: segment i covers lanes
	// [l0[i], l0[i]+ln[i]) of output row oy[i] from column ox[i].
	var l0, ln, oy, ox [NR]int
	nseg := 0
	n := f.Cols()
	for j := j0; j < min(j0+NR, n); {
		r, c := j/f.w, j%f.w
		l := min(f.w-c, j0+NR-j, n-j)
		l0[nseg], ln[nseg], oy[nseg], ox[nseg] = j-j0, l, r, c
		nseg++
		j += l
	}
	// Per tap, the mask of columns j0+i that read inside the image and
	// the input offset of column j0 in channel 0.
	var masks [MaxTaps]uint32
	var base [MaxTaps]int
	for t := 0; t < K; t++ {
		base[t] = j0 + f.delta[t]
		var m uint32
		for i := 0; i < nseg; i++ {
			if oy[i] < f.rlo[t] || oy[i] >= f.rhi[t] {
				continue
			}
			a, b := max(f.lo[t], ox[i]), min(f.hi[t], ox[i]+ln[i])
			if a < b {
				m |= uint32(uint64(1)<<(b-a)-1) << (l0[i] + a - ox[i])
			}
		}
		masks[t] = m
	}
	fill(dst, x, p1-p0, p0%K, p0/K, K, f.plane, base[:K], masks[:K])
}

// fillGeneric is fill in Go: rows rows starting at tap t of channel ch.
func fillGeneric(dst, x []float32, rows, t, ch, K, plane int, base []int, masks []uint32) {
	for r := 0; r < rows; r++ {
		d := dst[r*NR : r*NR+NR]
		m, off := masks[t], ch*plane+base[t]
		for i := range d {
			if m&(1<<i) != 0 {
				d[i] = x[off+i]
			} else {
				d[i] = 0
			}
		}
		if t++; t == K {
			t, ch = 0, ch+1
		}
	}
}

// Gather2Rows sets dst[r·ldd + i] = src[r·lds + 2i] for r < rows, i < n:
// Gather2 over a block of rows in one call.
func Gather2Rows(dst []float32, ldd int, src []float32, lds int, rows, n int) {
	if rows <= 0 || n <= 0 {
		return
	}
	if ldd < n || len(dst) < (rows-1)*ldd+n || len(src) < (rows-1)*lds+2*n-1 {
		panic(fmt.Sprintf("im2col: Gather2Rows of %d×%d from %d floats (stride %d) into %d (stride %d)", rows, n, len(src), lds, len(dst), ldd))
	}
	gather2Rows(dst, ldd, src, lds, rows, n)
}

func gather2RowsGeneric(dst []float32, ldd int, src []float32, lds int, rows, n int) {
	for r := 0; r < rows; r++ {
		gather2Generic(dst[r*ldd:r*ldd+n], src[r*lds:])
	}
}

func gather2Generic(dst, src []float32) {
	for i := range dst {
		dst[i] = src[2*i]
	}
}

// Transpose sets dst[j·ldd + i] = src[i·lds + j] for i < rows, j < cols:
// a rows×cols matrix (row stride lds) into its transpose (row stride
// ldd), 16×16 blocks at a time.
func Transpose(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if lds < cols || ldd < rows || len(src) < (rows-1)*lds+cols || len(dst) < (cols-1)*ldd+rows {
		panic(fmt.Sprintf("im2col: Transpose of %d×%d (stride %d, %d elements) into stride %d, %d elements", rows, cols, lds, len(src), ldd, len(dst)))
	}
	for i := 0; i < rows; i += 16 {
		r := min(16, rows-i)
		for j := 0; j < cols; j += 16 {
			transposeBlock(dst[j*ldd+i:], ldd, src[i*lds+j:], lds, r, min(16, cols-j))
		}
	}
}

// transposeGeneric is one block of Transpose in Go.
func transposeGeneric(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			dst[j*ldd+i] = src[i*lds+j]
		}
	}
}

// MaxRows sets dst[r·ldd + c] = max(dst[r·ldd + c], src[r·lds + c]) for r
// < rows, c < cols, NaN where either is NaN: the running maximum of a
// pooling window over a block of rows.
func MaxRows(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if ldd < cols || lds < cols || len(dst) < (rows-1)*ldd+cols || len(src) < (rows-1)*lds+cols {
		panic(fmt.Sprintf("im2col: MaxRows of %d×%d from %d floats (stride %d) into %d (stride %d)", rows, cols, len(src), lds, len(dst), ldd))
	}
	maxRows(dst, ldd, src, lds, rows, cols)
}

// CopyRows sets dst[r·ldd + c] = src[r·lds + c] for r < rows, c < cols:
// a block of rows copied in one call.
func CopyRows(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if ldd < cols || lds < cols || len(dst) < (rows-1)*ldd+cols || len(src) < (rows-1)*lds+cols {
		panic(fmt.Sprintf("im2col: CopyRows of %d×%d from %d floats (stride %d) into %d (stride %d)", rows, cols, len(src), lds, len(dst), ldd))
	}
	copyRows(dst, ldd, src, lds, rows, cols)
}

func copyRowsGeneric(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	for r := 0; r < rows; r++ {
		copy(dst[r*ldd:r*ldd+cols], src[r*lds:r*lds+cols])
	}
}

func maxRowsGeneric(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	for r := 0; r < rows; r++ {
		d := dst[r*ldd : r*ldd+cols]
		for c, v := range src[r*lds : r*lds+cols] {
			if v > d[c] || v != v {
				d[c] = v
			}
		}
	}
}
