// Package dwconv computes depthwise convolutions (one input channel per
// output channel, as in MobileNet) a block of output rows at a time, with
// AVX-512 assembly on amd64 and portable Go elsewhere.
//
// A block is rows×cols outputs of one channel whose taps all fall inside
// the input: the caller computes the rows and columns that touch the
// padding separately (they are few), so that the kernels need no bounds
// logic and read only memory that the convolution reads.
package dwconv

import "fmt"

// Rows computes, for r < rows and c < cols,
//
//	y[r·ystep + c] = min(max(bias + Σₜ w[t]·x[r·xstep + offs[t] + stride·c], lo), hi)
//
// summing the taps in order. stride is 1 or 2. lo and hi may be ±Inf (no
// clamp); a NaN sum stays NaN. Rows panics if an index falls outside x or
// y, or if offs and w differ in length.
func Rows(y []float32, ystep int, x []float32, xstep int, rows, cols, stride int, offs []int, w []float32, bias, lo, hi float32) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if stride != 1 && stride != 2 {
		panic(fmt.Sprintf("dwconv: stride %d, want 1 or 2", stride))
	}
	if len(offs) != len(w) {
		panic(fmt.Sprintf("dwconv: %d offsets and %d weights", len(offs), len(w)))
	}
	if ystep < cols || (rows-1)*ystep+cols > len(y) {
		panic(fmt.Sprintf("dwconv: y has %d elements, want %d rows of %d with step %d", len(y), rows, cols, ystep))
	}
	if len(offs) > 0 {
		omin, omax := offs[0], offs[0]
		for _, o := range offs {
			omin, omax = min(omin, o), max(omax, o)
		}
		if omin < 0 || xstep < 0 || (rows-1)*xstep+omax+stride*(cols-1) >= len(x) {
			panic(fmt.Sprintf("dwconv: x has %d elements, the taps read up to %d", len(x), (rows-1)*xstep+omax+stride*(cols-1)))
		}
	}
	rows2(y, ystep, x, xstep, rows, cols, stride, offs, w, bias, lo, hi)
}

// rowsGeneric is Rows without the checks, in Go.
func rowsGeneric(y []float32, ystep int, x []float32, xstep int, rows, cols, stride int, offs []int, w []float32, bias, lo, hi float32) {
	for r := 0; r < rows; r++ {
		out := y[r*ystep : r*ystep+cols]
		for c := range out {
			out[c] = bias
		}
		base := r * xstep
		for t, o := range offs {
			wt := w[t]
			if stride == 1 {
				src := x[base+o : base+o+cols]
				for c, v := range src {
					out[c] += wt * v
				}
				continue
			}
			src := x[base+o:]
			for c := range out {
				out[c] += wt * src[stride*c]
			}
		}
		for c, v := range out {
			out[c] = clamp(v, lo, hi)
		}
	}
}

// clamp returns min(max(v, lo), hi), keeping a NaN v.
func clamp(v, lo, hi float32) float32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
