package kernels

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels/dwconv"
	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/kernels/im2col"
	"github.com/inferd/inferd/kernels/vec"
	"github.com/inferd/inferd/tensor"
)

// Conv: N-D convolution with groups, dilations, strides, pads, auto_pad and
// an optional bias, computed as im2col followed by a blocked GEMM.
//
// This file also holds the helpers the other nn kernels share: window
// attributes and geometry (nnWindow, nnGeom), im2col/col2im and the GEMM.

func init() {
	register("Conv", newConv)
	Default.Register(Spec{Domain: ir.DomainInferd, Op: "FusedConv", Priority: fusedPriority, New: newFusedConvF32})
}

// nnFloat is the set of storage types the float kernels compute in.
type nnFloat interface{ ~float32 | ~float64 }

// nnNum adds int32 for ConvInteger's GEMM.
type nnNum interface{ ~float32 | ~float64 | ~int32 }

// nnWindow is the window attributes shared by Conv, ConvTranspose and the
// pooling ops. Nil slices mean "default for the input's rank".
type nnWindow struct {
	autoPad   string
	kernel    []int
	strides   []int
	dilations []int
	pads      []int
	ceil      bool
}

// nnReadWindow reads auto_pad, kernel_shape, strides, dilations, pads (and
// ceil_mode when withCeil) and validates them as far as is possible without
// knowing the input's rank.
func nnReadWindow(a *ir.AttrReader, withCeil bool) nnWindow {
	w := nnWindow{
		autoPad:   a.String("auto_pad", "NOTSET"),
		kernel:    nnInts(a.Ints("kernel_shape", nil)),
		strides:   nnInts(a.Ints("strides", nil)),
		dilations: nnInts(a.Ints("dilations", nil)),
		pads:      nnInts(a.Ints("pads", nil)),
	}
	if withCeil {
		w.ceil = a.Int("ceil_mode", 0) != 0
	}
	switch w.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	case "":
		w.autoPad = "NOTSET"
	default:
		a.Fail(fmt.Errorf("auto_pad %q is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", w.autoPad))
	}
	for _, v := range w.kernel {
		if v <= 0 {
			a.Fail(fmt.Errorf("kernel_shape %v has a non-positive value", w.kernel))
		}
	}
	for _, v := range w.strides {
		if v <= 0 {
			a.Fail(fmt.Errorf("strides %v has a non-positive value", w.strides))
		}
	}
	for _, v := range w.dilations {
		if v <= 0 {
			a.Fail(fmt.Errorf("dilations %v has a non-positive value", w.dilations))
		}
	}
	if len(w.pads)%2 != 0 {
		a.Fail(fmt.Errorf("pads %v has an odd length", w.pads))
	}
	return w
}

func nnInts(v []int64) []int {
	if v == nil {
		return nil
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func nnProd(v []int) int {
	p := 1
	for _, x := range v {
		p *= x
	}
	return p
}

// nnGeom is the geometry of a sliding window over nd spatial dimensions:
// input extent, output (window count) extent, kernel, strides, dilations and
// the padding at the beginning and end of each dimension. Output position o
// along dimension i covers inputs o*s[i] - pb[i] + j*d[i] for j < k[i].
type nnGeom struct {
	in, out, k, s, d, pb, pe []int
}

func (g *nnGeom) nd() int { return len(g.in) }

// nnResolve fills strides, dilations and pads of w for nd spatial
// dimensions with kernel k, checking lengths. It returns the begin/end pads
// before auto_pad is applied.
func (w *nnWindow) resolve(nd int, k []int) (s, d, pb, pe []int, err error) {
	if len(k) != nd {
		return nil, nil, nil, nil, fmt.Errorf("kernel_shape %v does not match %d spatial dimensions", k, nd)
	}
	s, d = w.strides, w.dilations
	if s == nil {
		s = nnOnes(nd)
	} else if len(s) != nd {
		return nil, nil, nil, nil, fmt.Errorf("strides %v does not match %d spatial dimensions", s, nd)
	}
	if d == nil {
		d = nnOnes(nd)
	} else if len(d) != nd {
		return nil, nil, nil, nil, fmt.Errorf("dilations %v does not match %d spatial dimensions", d, nd)
	}
	pb, pe = make([]int, nd), make([]int, nd)
	if w.pads != nil && w.autoPad == "NOTSET" {
		if len(w.pads) != 2*nd {
			return nil, nil, nil, nil, fmt.Errorf("pads %v does not match %d spatial dimensions", w.pads, nd)
		}
		copy(pb, w.pads[:nd])
		copy(pe, w.pads[nd:])
	}
	return s, d, pb, pe, nil
}

func nnOnes(n int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// geom computes the forward (Conv/pooling) geometry of w over input spatial
// extent in with kernel k.
func (w *nnWindow) geom(in, k []int) (*nnGeom, error) {
	nd := len(in)
	s, d, pb, pe, err := w.resolve(nd, k)
	if err != nil {
		return nil, err
	}
	g := &nnGeom{in: slices.Clone(in), k: slices.Clone(k), s: s, d: d, pb: pb, pe: pe, out: make([]int, nd)}
	for i := range nd {
		ek := (k[i]-1)*d[i] + 1
		switch w.autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			g.out[i] = (in[i] + s[i] - 1) / s[i]
			total := max(0, (g.out[i]-1)*s[i]+ek-in[i])
			if w.autoPad == "SAME_UPPER" {
				pb[i] = total / 2
			} else {
				pb[i] = total - total/2
			}
			pe[i] = total - pb[i]
		default: // NOTSET or VALID (pads are zero for VALID)
			span := in[i] + pb[i] + pe[i] - ek
			if span < 0 {
				return nil, fmt.Errorf("kernel extent %d is larger than padded input extent %d in spatial dimension %d", ek, in[i]+pb[i]+pe[i], i)
			}
			if w.ceil {
				g.out[i] = (span+s[i]-1)/s[i] + 1
				// The last window must start inside the input or the
				// beginning padding.
				if (g.out[i]-1)*s[i] >= in[i]+pb[i] {
					g.out[i]--
				}
			} else {
				g.out[i] = span/s[i] + 1
			}
		}
	}
	return g, nil
}

// nnValidRange returns the output positions [lo, hi) along one dimension
// whose input coordinate o*s + off lies in [0, n).
func nnValidRange(out, n, s, off int) (lo, hi int) {
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

// nnIm2col writes rows [r0, r1) of the column matrix for one group: row
// r = c*K + j (channel c, kernel offset j in row-major order) holds, for
// every output position, the input value the kernel tap reads (zero in the
// padding). x holds the group's channels, each of prod(g.in) elements; col
// has prod(g.out) columns.
func nnIm2col[T nnNum](x []T, g *nnGeom, col []T, r0, r1 int) {
	nd := g.nd()
	K, P, inP := nnProd(g.k), nnProd(g.out), nnProd(g.in)
	last := nd - 1
	outL, inL := g.out[last], g.in[last]
	outer := P / max(outL, 1)
	kk := make([]int, nd)
	o := make([]int, nd)
	inStr := tensor.Strides(g.in)
	for r := r0; r < r1; r++ {
		ch, rem := r/K, r%K
		for i := last; i >= 0; i-- {
			kk[i] = rem % g.k[i]
			rem /= g.k[i]
		}
		xs := x[ch*inP : (ch+1)*inP]
		dst := col[r*P : (r+1)*P]
		sl := g.s[last]
		off := kk[last]*g.d[last] - g.pb[last]
		lo, hi := nnValidRange(outL, inL, sl, off)
		clear(o)
		for q := 0; q < outer; q++ {
			row := dst[q*outL : (q+1)*outL]
			base, ok := 0, true
			for i := 0; i < last; i++ {
				id := o[i]*g.s[i] - g.pb[i] + kk[i]*g.d[i]
				if id < 0 || id >= g.in[i] {
					ok = false
					break
				}
				base += id * inStr[i]
			}
			for i := last - 1; i >= 0; i-- {
				o[i]++
				if o[i] < g.out[i] {
					break
				}
				o[i] = 0
			}
			if !ok || lo >= hi {
				clear(row)
				continue
			}
			clear(row[:lo])
			clear(row[hi:])
			if sl == 1 {
				copy(row[lo:hi], xs[base+lo+off:base+hi+off])
			} else {
				src := base + lo*sl + off
				for j := lo; j < hi; j++ {
					row[j] = xs[src]
					src += sl
				}
			}
		}
	}
}

// nnConvDirect adds the convolution of one input plane x with the kernel
// taps w (prod(g.k) values) to the output plane y.
func nnConvDirect[T nnNum](x []T, g *nnGeom, w []T, y []T) {
	nd := g.nd()
	K := nnProd(g.k)
	last := nd - 1
	outL, inL := g.out[last], g.in[last]
	outer := nnProd(g.out) / max(outL, 1)
	kk := make([]int, nd)
	o := make([]int, nd)
	inStr := tensor.Strides(g.in)
	sl := g.s[last]
	for r := 0; r < K; r++ {
		wv := w[r]
		if wv == 0 {
			continue
		}
		rem := r
		for i := last; i >= 0; i-- {
			kk[i] = rem % g.k[i]
			rem /= g.k[i]
		}
		off := kk[last]*g.d[last] - g.pb[last]
		lo, hi := nnValidRange(outL, inL, sl, off)
		if lo >= hi {
			continue
		}
		clear(o)
		for q := 0; q < outer; q++ {
			base, ok := 0, true
			for i := 0; i < last; i++ {
				id := o[i]*g.s[i] - g.pb[i] + kk[i]*g.d[i]
				if id < 0 || id >= g.in[i] {
					ok = false
					break
				}
				base += id * inStr[i]
			}
			for i := last - 1; i >= 0; i-- {
				o[i]++
				if o[i] < g.out[i] {
					break
				}
				o[i] = 0
			}
			if !ok {
				continue
			}
			row := y[q*outL+lo : q*outL+hi]
			if sl == 1 {
				src := x[base+lo+off:][:len(row)]
				for j := range row {
					row[j] += wv * src[j]
				}
			} else {
				src := base + lo*sl + off
				for j := range row {
					row[j] += wv * x[src]
					src += sl
				}
			}
		}
	}
}

// nnCol2im adds the column matrix back into an image: for channels
// [c0, c1), every entry of row c*K + j is added at the input position its
// kernel tap reads (entries falling in the padding are dropped). It is the
// adjoint of nnIm2col; y holds channels of prod(g.in) elements.
func nnCol2im[T nnNum](col []T, g *nnGeom, y []T, c0, c1 int) {
	nd := g.nd()
	K, P, inP := nnProd(g.k), nnProd(g.out), nnProd(g.in)
	last := nd - 1
	outL, inL := g.out[last], g.in[last]
	outer := P / max(outL, 1)
	kk := make([]int, nd)
	o := make([]int, nd)
	inStr := tensor.Strides(g.in)
	for ch := c0; ch < c1; ch++ {
		ys := y[ch*inP : (ch+1)*inP]
		for j := 0; j < K; j++ {
			rem := j
			for i := last; i >= 0; i-- {
				kk[i] = rem % g.k[i]
				rem /= g.k[i]
			}
			src := col[(ch*K+j)*P : (ch*K+j+1)*P]
			sl := g.s[last]
			off := kk[last]*g.d[last] - g.pb[last]
			lo, hi := nnValidRange(outL, inL, sl, off)
			clear(o)
			for q := 0; q < outer; q++ {
				row := src[q*outL : (q+1)*outL]
				base, ok := 0, true
				for i := 0; i < last; i++ {
					id := o[i]*g.s[i] - g.pb[i] + kk[i]*g.d[i]
					if id < 0 || id >= g.in[i] {
						ok = false
						break
					}
					base += id * inStr[i]
				}
				for i := last - 1; i >= 0; i-- {
					o[i]++
					if o[i] < g.out[i] {
						break
					}
					o[i] = 0
				}
				if !ok || lo >= hi {
					continue
				}
				if sl == 1 {
					dst := ys[base+lo+off : base+hi+off]
					for t, v := range row[lo:hi] {
						dst[t] += v
					}
				} else {
					p := base + lo*sl + off
					for _, v := range row[lo:hi] {
						ys[p] += v
						p += sl
					}
				}
			}
		}
	}
}

// GEMM blocking: a parallel tile is nnGemmMB rows by nnGemmNB columns of C;
// within a tile the K dimension is walked in blocks of nnGemmKB so the slab
// of B in use (KB x NB) stays in L2 while each row segment of C stays in L1.
const (
	nnGemmMB = 32
	nnGemmNB = 256
	nnGemmKB = 256
)

// nnGemm computes C += A·B serially, with A m×k (row stride lda), B k×n
// (ldb) and C m×n (ldc), all row-major.
func nnGemm[T nnNum](m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	for j0 := 0; j0 < n; j0 += nnGemmNB {
		nnGemmTile(a, lda, b, ldb, c, ldc, k, 0, m, j0, min(j0+nnGemmNB, n))
	}
}

// nnGemmPar computes C += A·B like nnGemm, splitting C into tiles run in
// parallel.
func nnGemmPar[T nnNum](cx *Context, m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	tm := (m + nnGemmMB - 1) / nnGemmMB
	tn := (n + nnGemmNB - 1) / nnGemmNB
	if tm*tn == 1 || m*n*k < 1<<15 {
		nnGemm(m, n, k, a, lda, b, ldb, c, ldc)
		return
	}
	// Consecutive tiles share a column block, so a thread's chunk reuses
	// the same slab of B.
	cx.Parallel(tm*tn, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			i0, j0 := (t%tm)*nnGemmMB, (t/tm)*nnGemmNB
			nnGemmTile(a, lda, b, ldb, c, ldc, k, i0, min(i0+nnGemmMB, m), j0, min(j0+nnGemmNB, n))
		}
	})
}

// nnGemmTile computes C[i0:i1, j0:j1] += A[i0:i1, :k] · B[:k, j0:j1].
func nnGemmTile[T nnNum](a []T, lda int, b []T, ldb int, c []T, ldc int, k, i0, i1, j0, j1 int) {
	for p0 := 0; p0 < k; p0 += nnGemmKB {
		p1 := min(p0+nnGemmKB, k)
		bb := b[p0*ldb+j0:]
		i := i0
		for ; i+2 <= i1; i += 2 {
			nnGemmRow2(c[i*ldc+j0:i*ldc+j1], c[(i+1)*ldc+j0:(i+1)*ldc+j1],
				a[i*lda+p0:i*lda+p1], a[(i+1)*lda+p0:(i+1)*lda+p1], bb, ldb)
		}
		if i < i1 {
			nnGemmRow(c[i*ldc+j0:i*ldc+j1], a[i*lda+p0:i*lda+p1], bb, ldb)
		}
	}
}

// nnGemmRow2 adds ar·B to cr and as·B to cs (two rows of C), where B's
// rows start at b with stride ldb. Four rows of B are folded per pass, and
// each B element loaded serves both rows of C.
func nnGemmRow2[T nnNum](cr, cs, ar, as, b []T, ldb int) {
	n := len(cr)
	cs = cs[:n]
	as = as[:len(ar)]
	p := 0
	for ; p+4 <= len(ar); p += 4 {
		a0, a1, a2, a3 := ar[p], ar[p+1], ar[p+2], ar[p+3]
		e0, e1, e2, e3 := as[p], as[p+1], as[p+2], as[p+3]
		b0 := b[p*ldb:][:n]
		b1 := b[(p+1)*ldb:][:n]
		b2 := b[(p+2)*ldb:][:n]
		b3 := b[(p+3)*ldb:][:n]
		for j := range cr {
			x0, x1, x2, x3 := b0[j], b1[j], b2[j], b3[j]
			cr[j] += a0*x0 + a1*x1 + a2*x2 + a3*x3
			cs[j] += e0*x0 + e1*x1 + e2*x2 + e3*x3
		}
	}
	for ; p < len(ar); p++ {
		av, ev := ar[p], as[p]
		br := b[p*ldb:][:n]
		for j := range cr {
			x := br[j]
			cr[j] += av * x
			cs[j] += ev * x
		}
	}
}

// nnGemmRow adds ar·B to the row segment cr, where B's rows start at b
// with stride ldb. Four rows of B are folded per pass so each element of
// cr is loaded and stored once per four multiply-adds.
func nnGemmRow[T nnNum](cr, ar, b []T, ldb int) {
	n := len(cr)
	p := 0
	for ; p+4 <= len(ar); p += 4 {
		a0, a1, a2, a3 := ar[p], ar[p+1], ar[p+2], ar[p+3]
		b0 := b[p*ldb:][:n]
		b1 := b[(p+1)*ldb:][:n]
		b2 := b[(p+2)*ldb:][:n]
		b3 := b[(p+3)*ldb:][:n]
		for j := range cr {
			cr[j] += a0*b0[j] + a1*b1[j] + a2*b2[j] + a3*b3[j]
		}
	}
	for ; p < len(ar); p++ {
		av := ar[p]
		br := b[p*ldb:][:n]
		for j := range cr {
			cr[j] += av * br[j]
		}
	}
}

// nnConvParams is the resolved shape of one Conv (or ConvInteger) run.
type nnConvParams struct {
	g         *nnGeom
	n, c, m   int // batch, input channels, output channels
	group     int
	cg, mg    int // channels per group
	K, P, inP int // kernel taps, output positions, input positions
	pointwise bool
	outShape  []int
	dw        *dwconv.Plan // depthwise 2-D plan, or nil
	flat      *im2col.Flat // 2-D unit strides and OW = W: implicit GEMM, or nil
	// split: a strided 2-D convolution's input is split into phase planes
	// first (per image and group); then flat reads them, or, when splitPW,
	// they are the column matrix itself (1×1 without padding).
	split   *im2col.Split
	splitPW bool
	// nhwc: small output planes run in the other orientation, Yᵀ[P][Cout]
	// = colᵀ·Wᵀ with Wᵀ packed as B, then transposed into Y: the GEMM's
	// columns are then the output channels, which fill its panels and
	// share out evenly across threads.
	nhwc bool
	// wino: a 3×3 stride-1 convolution that runs as Winograd F(2×2, 3×3)
	// when its filter is constant (conv_winograd.go).
	wino bool
}

// nnUseNHWC reports whether a single-group 2-D convolution with P output
// positions and m output channels runs in the NHWC orientation: 7×7
// planes (P ≤ 64), and 1×1 convolutions on 14×14 ones to at least 512
// channels. The pure GEMMs, best-of (GFLOP/s, NCHW → NHWC, 1 and 2
// threads): 2048×49×512 177 → 216, 262 → 288; 512×49×4608 166 → 190,
// 273 → 306; 1024×196×256 201 → 224, 278 → 290; but 256×196×2304 315 →
// 287 at 2 threads and 64×196×384 191 → 157.
func nnUseNHWC(P, m int, pointwise bool) bool {
	return m >= 32 && (P <= 64 || pointwise && P <= 196 && m >= 512)
}

// nnDWSetup returns the dwconv plan of p, or nil when the fast path does
// not apply (not 2-D, more than one input channel per group, or a
// geometry dwconv does not take).
func nnDWSetup(p *nnConvParams) *dwconv.Plan {
	g := p.g
	if p.cg != 1 || p.group == 1 || g.nd() != 2 {
		return nil
	}
	return dwconv.NewPlan(dwconv.Geom{H: g.in[0], W: g.in[1], OH: g.out[0], OW: g.out[1],
		KH: g.k[0], KW: g.k[1], SH: g.s[0], SW: g.s[1], DH: g.d[0], DW: g.d[1], PT: g.pb[0], PL: g.pb[1]})
}

// nnConvSetup validates X and W shapes against the attributes and computes
// the geometry.
func nnConvSetup(w *nnWindow, group int, xs, ws []int) (*nnConvParams, error) {
	if len(xs) < 3 {
		return nil, fmt.Errorf("input X has shape %v, want rank ≥ 3 (N, C, spatial...)", xs)
	}
	if len(ws) != len(xs) {
		return nil, fmt.Errorf("weight W has shape %v, want rank %d like X %v", ws, len(xs), xs)
	}
	nd := len(xs) - 2
	p := &nnConvParams{n: xs[0], c: xs[1], m: ws[0], group: group}
	if p.c%group != 0 || p.m%group != 0 {
		return nil, fmt.Errorf("group %d does not divide input channels %d and output channels %d", group, p.c, p.m)
	}
	p.cg, p.mg = p.c/group, p.m/group
	if ws[1] != p.cg {
		return nil, fmt.Errorf("weight W has shape %v, want %d input channels per group (X %v, group %d)", ws, p.cg, xs, group)
	}
	k := ws[2:]
	if w.kernel != nil && !tensor.EqualShapes(w.kernel, k) {
		return nil, fmt.Errorf("kernel_shape %v does not match weight W shape %v", w.kernel, ws)
	}
	g, err := w.geom(xs[2:], k)
	if err != nil {
		return nil, err
	}
	p.g = g
	p.K, p.P, p.inP = nnProd(k), nnProd(g.out), nnProd(g.in)
	p.pointwise = p.K == 1
	for i := range nd {
		if g.s[i] != 1 || g.pb[i] != 0 || g.pe[i] != 0 {
			p.pointwise = false
		}
	}
	p.outShape = append([]int{p.n, p.m}, g.out...)
	p.dw = nnDWSetup(p)
	if g.nd() == 2 && !p.pointwise && g.s[0] == 1 && g.s[1] == 1 && g.out[1] == g.in[1] && g.pb[0] >= 0 && g.pb[1] >= 0 {
		p.flat = im2col.NewFlat(p.cg, g.in[0], g.in[1], g.out[0], g.k[0], g.k[1], g.d[0], g.d[1], g.pb[0], g.pb[1])
	}
	if g.nd() == 2 && p.dw == nil && (p.cg > 1 || p.group == 1) && g.s[0] == g.s[1] && g.s[0] > 1 && g.pb[0] >= 0 && g.pb[1] >= 0 {
		sp, f := im2col.NewStrided(p.cg, g.in[0], g.in[1], g.out[0], g.out[1], g.k[0], g.k[1], g.s[0], g.d[0], g.d[1], g.pb[0], g.pb[1])
		if f != nil {
			p.split, p.flat, p.splitPW = sp, f, f.Pointwise()
		}
	}
	p.nhwc = g.nd() == 2 && p.group == 1 && nnUseNHWC(p.P, p.m, p.pointwise || p.splitPW)
	p.wino = winoApplies(p)
	return p, nil
}

func newConv(b *Build) (any, error) {
	a := b.Attrs()
	w := nnReadWindow(a, false)
	group := int(a.Int("group", 1))
	if group <= 0 {
		a.Fail(fmt.Errorf("group %d is not positive", group))
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	k := &nnConvKernel{w: w, group: group}
	// A constant float32 filter is packed once here, per group, as the A
	// operand of Y[Cout/group][H·W] = W[Cout/group][Cin/group·kh·kw]·col.
	if cw := b.Const(1); cw != nil && cw.DType == tensor.Float32 && cw.Rank() >= 3 {
		k.constW = cw
		k.packed = nnPackFilter(cw.Data.([]float32), cw.Shape, group)
	}
	k.half = nnPrepHalfW(b.Const(1), group)
	return k, nil
}

// nnConvKernel is Conv. The geometry for the last input shapes is cached,
// so that runs on static shapes allocate nothing.
type nnConvKernel struct {
	w      nnWindow
	group  int
	constW *tensor.Tensor  // the constant W input, if any
	packed []*gemm.PackedA // constW packed per group (nil if not float32 or depthwise)
	half   *nnConvHalfW    // a constant float16/bfloat16 W, widened and packed (conv_bf16.go)
	// packedT is constW's Wᵀ packed as B for the NHWC orientation, on the
	// first run that takes it.
	packedT atomic.Pointer[gemm.PackedB]
	params  nnShapeCache[*nnConvParams]
	wino    winoState

	// FusedConv: its epilogue (less the residual, input 3) and the
	// reference kernel that takes other types than float32 (nil when X
	// is known float32).
	fused bool
	ep    nnConvEpilogue
	ref   Kernel
}

// nnShapeCache keeps what a kernel works out from its input shapes (xs,
// and ws when there is a second) for the last shapes it saw: a model with
// static shapes works it out once, not every run. Values are shared
// between concurrent runs and must not be modified.
type nnShapeCache[V any] struct {
	last atomic.Pointer[nnShapeEntry[V]]
}

type nnShapeEntry[V any] struct {
	xs, ws []int
	v      V
}

// get returns the value for xs and ws, from the cache or from compute.
func (c *nnShapeCache[V]) get(xs, ws []int, compute func() (V, error)) (V, error) {
	if e := c.last.Load(); e != nil && tensor.EqualShapes(e.xs, xs) && tensor.EqualShapes(e.ws, ws) {
		return e.v, nil
	}
	v, err := compute()
	if err != nil {
		return v, err
	}
	c.last.Store(&nnShapeEntry[V]{xs: slices.Clone(xs), ws: slices.Clone(ws), v: v})
	return v, nil
}

// nnPackFilter packs a float32 filter of shape ws (Cout, Cin/group, k...)
// per group, or returns nil for a depthwise filter (one input channel per
// group), which runs without a GEMM.
func nnPackFilter(w []float32, ws []int, group int) []*gemm.PackedA {
	if ws[0]%group != 0 || ws[1] == 1 && group > 1 || len(w) == 0 {
		return nil
	}
	mg := ws[0] / group
	kd := len(w) / ws[0]
	packed := make([]*gemm.PackedA, group)
	for g := range packed {
		packed[g] = gemm.PackA(mg, kd, gemm.Matrix{Data: w[g*mg*kd:], Stride: kd})
	}
	return packed
}

// nnPackFilterT packs a float32 filter (one group) transposed, Wᵀ (Cin·kh·kw
// × Cout), as the B operand of the NHWC orientation.
func nnPackFilterT(w []float32, p *nnConvParams) *gemm.PackedB {
	kd := p.cg * p.K
	return gemm.PackB(kd, p.m, gemm.Matrix{Data: w, Stride: kd, Trans: true})
}

func (k *nnConvKernel) setup(xs, ws []int) (*nnConvParams, error) {
	return k.params.get(xs, ws, func() (*nnConvParams, error) { return nnConvSetup(&k.w, k.group, xs, ws) })
}

func (k *nnConvKernel) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("Conv needs inputs X and W")
	}
	x, wt := in[0], in[1]
	if k.fused && x.DType != tensor.Float32 && !k.halfW(x, wt) {
		return fusedFallback(c, k.ref, in)
	}
	var bias *tensor.Tensor
	if len(in) > 2 {
		bias = in[2]
	}
	if wt.DType != x.DType || (bias != nil && bias.DType != x.DType) {
		return nil, fmt.Errorf("inputs have types %v, %v, want one float type", x, wt)
	}
	p, err := k.setup(x.Shape, wt.Shape)
	if err != nil {
		return nil, err
	}
	if bias != nil && bias.Len() != p.m {
		return nil, fmt.Errorf("bias B has shape %v, want [%d]", bias.Shape, p.m)
	}
	if x.DType == tensor.Float32 {
		var ep *nnConvEpilogue
		if k.fused {
			e := k.ep
			if z := input(in, 3); z != nil {
				if z.DType != tensor.Float32 || !tensor.EqualShapes(z.Shape, p.outShape) {
					return nil, fmt.Errorf("FusedConv: Z is %v, the convolution %v", z, tensor.ShapeString(p.outShape))
				}
				e.residual = z.Data.([]float32)
			}
			ep = &e
		}
		y := c.AllocRaw(tensor.Float32, p.outShape...)
		if p.wino && wt == k.constW {
			if err := k.winoRun(c, p, x, wt, nnBias[float32](bias), y.Data.([]float32), ep); err != nil {
				return nil, err
			}
			return c.Outs(y), nil
		}
		packed := k.packed
		var packedT *gemm.PackedB
		if wt != k.constW || packed == nil {
			packed = nnPackFilter(wt.Data.([]float32), wt.Shape, k.group)
		} else if p.nhwc {
			if packedT = k.packedT.Load(); packedT == nil {
				packedT = nnPackFilterT(wt.Data.([]float32), p)
				k.packedT.Store(packedT)
			}
		}
		nnConvF32(c, p, x.Data.([]float32), wt.Data.([]float32), packed, packedT, nnBias[float32](bias), y.Data.([]float32), ep)
		return c.Outs(y), nil
	}
	y := c.Alloc(x.DType, p.outShape...)
	switch x.DType {
	case tensor.Float64:
		nnConvRun(c, p, x.Data.([]float64), wt.Data.([]float64), nnBias[float64](bias), y.Data.([]float64))
	case tensor.Float16, tensor.BFloat16:
		if k.halfW(x, wt) {
			var ep *nnConvEpilogue
			var z *tensor.Tensor
			if k.fused {
				e := k.ep
				if z = input(in, 3); z != nil && (z.DType != x.DType || !tensor.EqualShapes(z.Shape, p.outShape)) {
					return nil, fmt.Errorf("FusedConv: Z is %v, the convolution %v of %v", z, tensor.ShapeString(p.outShape), x.DType)
				}
				ep = &e
			}
			k.half.runHalf(c, p, x, bias, z, y, ep)
			break
		}
		xf, _ := Float32s(x)
		wf, _ := Float32s(wt)
		var bf []float32
		if bias != nil {
			bf, _ = Float32s(bias)
		}
		yf := make([]float32, y.Len())
		nnConvF32(c, p, xf, wf, nnPackFilter(wf, wt.Shape, k.group), nil, bf, yf, nil)
		nnStoreF32(y, yf)
	default:
		return nil, fmt.Errorf("Conv of %v: %w", x.DType, ErrUnsupported)
	}
	return c.Outs(y), nil
}

// newFusedConvF32 builds FusedConv(X, W, [B], [Z]) = act(Conv(X, W, B) +
// Z) with the residual Z and the activation in the convolution's
// epilogue, for float32; other types go to the reference kernel.
func newFusedConvF32(b *Build) (any, error) {
	act, err := linalgReadFusedAct(b)
	if err != nil {
		return nil, ErrDecline
	}
	conv, err := newConv(b)
	if err != nil {
		return nil, err
	}
	k := conv.(*nnConvKernel)
	// Other types than float32 run in ref, except a float16/bfloat16 X
	// with the constant filter k.half prepared: that runs here, in
	// float32 with the epilogue, rounded once, and needs no ref (which
	// would hold a second widened copy of the filter).
	if k.half == nil {
		if k.ref, err = fusedRef(b, newFusedConv); err != nil {
			return nil, err
		}
	}
	k.fused = true
	k.ep = nnConvEpilogue{act: act.act, min: act.min, max: act.max, alpha: act.alpha, fn: act.fn}
	return k, nil
}

func nnBias[T nnFloat](b *tensor.Tensor) []T {
	if b == nil {
		return nil
	}
	return b.Data.([]T)
}

// nnStoreF32 writes float32 values into a float16 or bfloat16 tensor.
func nnStoreF32(t *tensor.Tensor, v []float32) {
	switch d := t.Data.(type) {
	case []tensor.F16:
		for i, x := range v {
			d[i] = tensor.F16FromFloat32(x)
		}
	case []tensor.BF16:
		for i, x := range v {
			d[i] = tensor.BF16FromFloat32(x)
		}
	case []float32:
		copy(d, v)
	}
}

// nnConvRun computes y = conv(x, w) + bias. Work is split across (batch,
// group) units when there are many of them (grouped and depthwise
// convolutions, large batches); otherwise each unit's im2col and GEMM are
// parallelised internally.
func nnConvRun[T nnNum](c *Context, p *nnConvParams, x, w, bias, y []T) {
	units := p.n * p.group
	kd := p.cg * p.K
	if bias != nil {
		for n := 0; n < p.n; n++ {
			for m := 0; m < p.m; m++ {
				row := y[(n*p.m+m)*p.P : (n*p.m+m+1)*p.P]
				bv := bias[m]
				for i := range row {
					row[i] = bv
				}
			}
		}
	}
	if p.cg == 1 && !p.pointwise {
		// Depthwise (one input channel per group): accumulate each output
		// plane directly from its input plane, without a column matrix.
		c.Parallel(p.n*p.m, func(lo, hi int) {
			for u := lo; u < hi; u++ {
				n, m := u/p.m, u%p.m
				ci := n*p.c + m/p.mg
				nnConvDirect(x[ci*p.inP:(ci+1)*p.inP], p.g, w[m*p.K:(m+1)*p.K], y[u*p.P:(u+1)*p.P])
			}
		})
		return
	}
	unit := func(u int, col []T, par bool) {
		n, g := u/p.group, u%p.group
		xg := x[(n*p.c+g*p.cg)*p.inP : (n*p.c+(g+1)*p.cg)*p.inP]
		yg := y[(n*p.m+g*p.mg)*p.P : (n*p.m+(g+1)*p.mg)*p.P]
		wg := w[g*p.mg*kd : (g+1)*p.mg*kd]
		bm := xg
		if !p.pointwise {
			if par {
				c.Parallel(kd, func(lo, hi int) { nnIm2col(xg, p.g, col, lo, hi) })
			} else {
				nnIm2col(xg, p.g, col, 0, kd)
			}
			bm = col
		}
		if par {
			nnGemmPar(c, p.mg, p.P, kd, wg, kd, bm, p.P, yg, p.P)
		} else {
			nnGemm(p.mg, p.P, kd, wg, kd, bm, p.P, yg, p.P)
		}
	}
	colLen := 0
	if !p.pointwise {
		colLen = kd * p.P
	}
	// Big units (ResNet-style layers, even in large batches) parallelise
	// inside each GEMM; many small ones (grouped convolutions) across units.
	if units > 1 && p.mg*kd*p.P < 1<<21 {
		c.Parallel(units, func(lo, hi int) {
			col := nnGetBuf[T](colLen)
			for u := lo; u < hi; u++ {
				unit(u, col, false)
			}
			nnPutBuf(col)
		})
		return
	}
	col := nnGetBuf[T](colLen)
	for u := range units {
		unit(u, col, true)
	}
	nnPutBuf(col)
}

// nnConvEpilogue is what a fused convolution does to its output after the
// bias: add a residual tensor of the output's shape, then an activation:
//
//	y = act(conv(x, w) + bias + residual)
//
// The zero value does nothing.
type nnConvEpilogue struct {
	act      gemm.Activation
	min, max float32   // ActClip's bounds (±Inf for none)
	alpha    float32   // ActLeakyRelu's slope
	residual []float32 // nil for none
	// fn, if set, is an activation with no kernel form, run on finished
	// stretches of y (i and j0 unused).
	fn func(row []float32, i, j0 int)
}

// nnConvF32 computes y = act(conv(x, w) + bias + residual) in float32 (ep
// nil: conv(x, w) + bias), every element of y written. Each (image, group)
// unit is a GEMM against the filter packed per group, Y[Cout/group][P] =
// W·col, with the bias, residual and activation in its epilogue: a 1×1
// stride-1 convolution reads X in place as col; others im2col a block of
// output columns at a time into a scratch matrix small enough to stay in
// L2, which the GEMM then reads in place, except that a 2-D convolution
// with unit strides whose output is as wide as its input runs as an
// implicit GEMM, im2col writing each panel into the GEMM's packing buffer,
// and so does one with equal strides (up to im2col.MaxStride) once its
// input is split into phase planes (a strided 1×1 then reads the
// subsampled input in place). Small output planes run in the NHWC
// orientation (p.nhwc). Depthwise filters (packed nil) run directly,
// through dwconv in two dimensions.
//
// packedT is the filter packed for the NHWC orientation (p.nhwc); nil
// packs it here.
func nnConvF32(c *Context, p *nnConvParams, x, w []float32, packed []*gemm.PackedA, packedT *gemm.PackedB, bias, y []float32, ep *nnConvEpilogue) {
	if p.nhwc && packedT == nil && len(w) > 0 {
		packedT = nnPackFilterT(w, p)
	}
	j := nnConvJobPool.Get().(*nnConvJob)
	j.p, j.x, j.w, j.bias, j.y, j.packed, j.packedT = p, x, w, bias, y, packed, packedT
	j.setEpilogue(ep)
	defer j.release()
	if packed == nil {
		c.Parallel(p.n*p.m, j.depthwiseRun)
		return
	}
	j.chunk = p.P
	if !p.pointwise && p.flat == nil && !p.nhwc && !p.splitPW {
		// Columns per block: the block's column matrix within
		// nnColBytes, a whole number of GEMM panels.
		kd := p.cg * p.K
		j.chunk = min(p.P, max(gemm.NR, nnColBytes/(4*max(kd, 1))/gemm.NR*gemm.NR))
	}
	j.nchunks = (p.P + j.chunk - 1) / j.chunk
	items := p.n * p.group * j.nchunks
	if threads := c.gemmThreads(); threads > 1 && items >= 2*threads {
		// Enough blocks to share out: each thread takes whole blocks,
		// each a serial GEMM.
		c.Parallel(items, j.itemsRun)
		return
	}
	for i := 0; i < items; i++ {
		j.item(c, i)
	}
}

// nnColBytes bounds the column-matrix block a Conv GEMM reads: it stays in
// L2 (1 MiB on Zen 5) beside the packed filter panel.
var nnColBytes = 384 << 10

// nnConvJob is one float32 Conv run, pooled with its methods bound once so
// that handing them to Parallel allocates nothing.
type nnConvJob struct {
	p              *nnConvParams
	x, w, bias, y  []float32
	packed         []*gemm.PackedA
	packedT        *gemm.PackedB
	ep             nnConvJobEpilogue
	chunk, nchunks int // output columns per block, blocks per unit

	itemsRun     func(lo, hi int)
	depthwiseRun func(lo, hi int)
}

// nnConvJobEpilogue is an nnConvEpilogue prepared for the kernels: the
// GEMM's epilogue less bias and residual, and for the direct paths the
// activation as a clamp [lo, hi] (when clamp) and a leaky slope.
type nnConvJobEpilogue struct {
	gemm     gemm.Epilogue
	residual []float32
	clamp    bool
	lo, hi   float32
	leaky    bool
	alpha    float32
	fn       func(row []float32, i, j0 int)
}

var nnConvJobPool = sync.Pool{New: func() any {
	j := new(nnConvJob)
	j.itemsRun = j.items
	j.depthwiseRun = j.depthwise
	return j
}}

func (j *nnConvJob) setEpilogue(ep *nnConvEpilogue) {
	inf := float32(math.Inf(1))
	j.ep = nnConvJobEpilogue{lo: -inf, hi: inf}
	if ep == nil {
		return
	}
	j.ep.gemm = gemm.Epilogue{Act: ep.act, Min: ep.min, Max: ep.max, Alpha: ep.alpha, Func: ep.fn}
	j.ep.fn = ep.fn
	j.ep.residual = ep.residual
	switch ep.act {
	case gemm.ActRelu:
		j.ep.clamp, j.ep.lo = true, 0
	case gemm.ActClip:
		j.ep.clamp, j.ep.lo, j.ep.hi = true, ep.min, ep.max
	case gemm.ActLeakyRelu:
		j.ep.leaky, j.ep.alpha = true, ep.alpha
	}
}

func (j *nnConvJob) release() {
	j.p, j.x, j.w, j.bias, j.y, j.packed, j.packedT = nil, nil, nil, nil, nil, nil, nil
	j.ep = nnConvJobEpilogue{}
	nnConvJobPool.Put(j)
}

// items computes blocks [lo, hi), each GEMM serially.
func (j *nnConvJob) items(lo, hi int) {
	for i := lo; i < hi; i++ {
		j.item(nil, i)
	}
}

// item computes block i: output columns [q·chunk, (q+1)·chunk) of image
// n, group g, where i = (n·group + g)·nchunks + q. Its GEMM is split
// across c's threads (serial for a nil c).
func (j *nnConvJob) item(c *Context, i int) {
	p := j.p
	u, q := i/j.nchunks, i%j.nchunks
	n, g := u/p.group, u%p.group
	kd := p.cg * p.K
	xg := j.x[(n*p.c+g*p.cg)*p.inP : (n*p.c+(g+1)*p.cg)*p.inP]
	yg := j.y[(n*p.m+g*p.mg)*p.P : (n*p.m+(g+1)*p.mg)*p.P]
	if p.nhwc {
		j.itemNHWC(c, n, xg, yg)
		return
	}
	j0 := q * j.chunk
	j1 := min(p.P, j0+j.chunk)
	ep := j.ep.gemm
	if j.bias != nil {
		ep.Bias, ep.BiasPerRow = j.bias[g*p.mg:(g+1)*p.mg], true
	}
	var beta float32
	if j.ep.residual != nil {
		ep.Residual, ep.ResidualStride, beta = j.ep.residual[(n*p.m+g*p.mg)*p.P+j0:], p.P, 1
	}
	o := c.gemmOptions(&ep)
	if p.split != nil {
		sx := nnSplitInput(c, p, xg)
		defer nnSplitScratch.put(sx)
		xg = sx.buf
	}
	if p.pointwise || p.splitPW {
		gemm.GemmPackedA(p.P, 1, j.packed[g], gemm.Matrix{Data: xg, Stride: p.P}, beta, yg, p.P, &o)
		return
	}
	if p.flat != nil {
		// Implicit GEMM: the column matrix's panels are written straight
		// into the GEMM's packing buffer.
		f := nnFillPool.Get().(*nnFill)
		f.flat, f.x = p.flat, xg
		gemm.GemmPackedAFunc(p.P, 1, j.packed[g], f.fillFn, beta, yg, p.P, &o)
		f.flat, f.x = nil, nil
		nnFillPool.Put(f)
		return
	}
	sc := nnColScratch.get(kd * (j1 - j0))
	col := sc.buf
	if p.g.nd() == 2 {
		nnIm2col2D(xg, p, col, j1-j0, j0, j1)
	} else {
		nnIm2col(xg, p.g, col, 0, kd)
	}
	gemm.GemmPackedA(j1-j0, 1, j.packed[g], gemm.Matrix{Data: col, Stride: j1 - j0}, beta, yg[j0:], p.P, &o)
	nnColScratch.put(sc)
}

// itemNHWC computes image n (one group) in the NHWC orientation: Yᵀ =
// colᵀ·Wᵀ into scratch with the bias per column (and the activation when
// there is no residual), transposed into yg; then the residual and the
// activation. The im2col and the transpose are split across c's threads
// by channels.
func (j *nnConvJob) itemNHWC(c *Context, n int, xg, yg []float32) {
	p := j.p
	kd := p.cg * p.K
	st := nnNHWCPool.Get().(*nnNHWCStage)
	st.j, st.xg, st.yg = j, xg, yg
	if r := j.ep.residual; r != nil {
		st.res = r[n*p.m*p.P : (n+1)*p.m*p.P]
	}
	ep := j.ep.gemm
	ep.Bias = j.bias
	if st.res != nil {
		ep.Act, ep.Func = gemm.ActNone, nil
	}
	o := c.gemmOptions(&ep)
	a := gemm.Matrix{Data: xg, Stride: p.P, Trans: true}
	if p.split != nil {
		st.sx = nnSplitInput(c, p, xg)
		st.xg, a.Data = st.sx.buf, st.sx.buf
	}
	if p.flat != nil || p.pointwise || p.splitPW {
		// colᵀ packed once here, by c's threads in blocks of rows, and
		// shared by the GEMM's tasks (which would each pack all of it).
		st.col = nnColScratch.get(im2col.PackedTLen(kd, p.P))
		c.Parallel((kd+nnPackTRows-1)/nnPackTRows, st.packRun)
		st.pa = gemm.PackedAOf(p.P, kd, st.col.buf)
		st.ct = nnRowScratch.get(p.P * p.m)
		gemm.GemmPackedAB(1, &st.pa, j.packedT, 0, st.ct.buf, p.m, &o)
	} else {
		j.nhwcIm2col(c, st, &o, a)
	}
	c.Parallel((p.m+15)/16, st.postRun)
	nnRowScratch.put(st.ct)
	if st.col != nil {
		nnColScratch.put(st.col)
	}
	if st.sx != nil {
		nnSplitScratch.put(st.sx)
	}
	st.pa = gemm.PackedA{}
	st.j, st.xg, st.yg, st.res, st.col, st.ct, st.sx = nil, nil, nil, nil, nil, nil, nil
	nnNHWCPool.Put(st)
}

// nnPackTRows is the block of column-matrix rows a thread packs at a time
// in the NHWC orientation.
const nnPackTRows = 64

// nhwcIm2col is the NHWC orientation's GEMM for geometries im2col.Flat
// does not take: the column matrix written whole, read transposed.
func (j *nnConvJob) nhwcIm2col(c *Context, st *nnNHWCStage, o *gemm.Options, a gemm.Matrix) {
	p := j.p
	kd := p.cg * p.K
	st.col = nnColScratch.get(kd * p.P)
	if p.g.nd() == 2 {
		c.Parallel(p.cg, st.im2colRun)
	} else {
		nnIm2col(st.xg, p.g, st.col.buf, 0, kd)
	}
	a.Data = st.col.buf
	st.ct = nnRowScratch.get(p.P * p.m)
	gemm.GemmPackedB(p.P, 1, a, j.packedT, 0, st.ct.buf, p.m, o)
}

// nnNHWCStage is the state of one NHWC-orientation unit for the parts
// split across threads, pooled with its methods bound once.
type nnNHWCStage struct {
	j           *nnConvJob
	xg, yg, res []float32
	col, ct, sx *nnScratch
	pa          gemm.PackedA // colᵀ packed, over col

	im2colRun, postRun, packRun func(lo, hi int)
}

var nnNHWCPool = sync.Pool{New: func() any {
	st := new(nnNHWCStage)
	st.im2colRun = st.im2col
	st.postRun = st.post
	st.packRun = st.pack
	return st
}}

// pack writes blocks [lo, hi) of nnPackTRows rows of colᵀ, packed.
func (st *nnNHWCStage) pack(lo, hi int) {
	p := st.j.p
	kd := p.cg * p.K
	r0, r1 := lo*nnPackTRows, min(kd, hi*nnPackTRows)
	if p.flat == nil {
		// 1×1: the column matrix is the input (or its subsampled phase).
		im2col.PackT(st.col.buf, st.xg, p.P, kd, p.P, r0, r1)
		return
	}
	tmp := nnPackScratch.get(p.P)
	p.flat.WritePackedT(st.col.buf, st.xg, tmp.buf, r0, r1)
	nnPackScratch.put(tmp)
}

// im2col writes the column-matrix rows of input channels [lo, hi).
func (st *nnNHWCStage) im2col(lo, hi int) {
	p := st.j.p
	nnIm2col2DCh(st.xg, p, st.col.buf[lo*p.K*p.P:], p.P, 0, p.P, lo, hi)
}

// post transposes output channels [16·lo, 16·hi) of Yᵀ into Y and adds
// the residual and activation to them.
func (st *nnNHWCStage) post(lo, hi int) {
	j, p := st.j, st.j.p
	c0, c1 := lo*16, min(p.m, hi*16)
	im2col.Transpose(st.yg[c0*p.P:], p.P, st.ct.buf[c0:], p.m, p.P, c1-c0)
	if st.res == nil {
		return
	}
	y := st.yg[c0*p.P : c1*p.P]
	vec.Add(y, y, st.res[c0*p.P:c1*p.P])
	switch {
	case j.ep.clamp:
		vec.Clip(y, y, j.ep.lo, j.ep.hi)
	case j.ep.leaky:
		for i, v := range y {
			if v < 0 {
				y[i] = v * j.ep.alpha
			}
		}
	}
	if j.ep.fn != nil {
		j.ep.fn(y, 0, 0)
	}
}

// nnSplitInput returns the phase planes of p.split for xg, one image's
// group of input channels, in scratch from nnSplitScratch, written by c's
// threads in blocks of channels.
func nnSplitInput(c *Context, p *nnConvParams, xg []float32) *nnScratch {
	sc := nnSplitScratch.get(p.split.Len())
	s := nnSplitterPool.Get().(*nnSplitter)
	s.sp, s.dst, s.x = p.split, sc.buf, xg
	c.Parallel(p.cg, s.run)
	s.sp, s.dst, s.x = nil, nil, nil
	nnSplitterPool.Put(s)
	return sc
}

// nnSplitter runs an im2col.Split over ranges of channels, pooled with
// its method bound once.
type nnSplitter struct {
	sp     *im2col.Split
	dst, x []float32
	run    func(lo, hi int)
}

var nnSplitterPool = sync.Pool{New: func() any {
	s := new(nnSplitter)
	s.run = s.split
	return s
}}

func (s *nnSplitter) split(lo, hi int) { s.sp.Run(s.dst, s.x, lo, hi) }

// nnFill binds an im2col.Flat to one input as a gemm.PanelFunc, pooled
// with its method value so that a call allocates nothing.
type nnFill struct {
	flat   *im2col.Flat
	x      []float32
	fillFn gemm.PanelFunc
}

var nnFillPool = sync.Pool{New: func() any {
	f := new(nnFill)
	f.fillFn = f.fill
	return f
}}

func (f *nnFill) fill(dst []float32, p0, p1, j0 int) { f.flat.Fill(dst, f.x, p0, p1, j0) }

// depthwise computes output planes [lo, hi) (image-major) of a
// convolution with one input channel per group.
func (j *nnConvJob) depthwise(lo, hi int) {
	p := j.p
	// The clamp runs in the kernel unless a residual must be added before
	// it.
	clo, chi := j.ep.lo, j.ep.hi
	late := j.ep.residual != nil || p.dw == nil
	if late {
		clo, chi = float32(math.Inf(-1)), float32(math.Inf(1))
	}
	if p.dw != nil {
		sc := nnRowScratch.get(p.dw.ScratchLen())
		// Whole images' runs of channels at a time.
		for u := lo; u < hi; {
			n, m := u/p.m, u%p.m
			cnt := min(hi-u, p.m-m)
			var bias []float32
			if j.bias != nil {
				bias = j.bias[m : m+cnt]
			}
			ci := n*p.c + m/p.mg
			// Channels from m share input planes mg at a time; start on
			// a boundary so that Run's multiplier lines up.
			first := min(cnt, (p.mg-m%p.mg)%p.mg)
			if first > 0 {
				p.dw.Run(j.y[u*p.P:], j.x[ci*p.inP:], j.w[m*p.K:], nnSub(bias, 0, first), first, first, clo, chi, sc.buf)
				ci++
			}
			if cnt > first {
				p.dw.Run(j.y[(u+first)*p.P:], j.x[ci*p.inP:], j.w[(m+first)*p.K:], nnSub(bias, first, cnt), cnt-first, p.mg, clo, chi, sc.buf)
			}
			u += cnt
		}
		nnRowScratch.put(sc)
	} else {
		for u := lo; u < hi; u++ {
			n, m := u/p.m, u%p.m
			ci := n*p.c + m/p.mg
			y := j.y[u*p.P : (u+1)*p.P]
			var b float32
			if j.bias != nil {
				b = j.bias[m]
			}
			for i := range y {
				y[i] = b
			}
			nnConvDirect(j.x[ci*p.inP:(ci+1)*p.inP], p.g, j.w[m*p.K:(m+1)*p.K], y)
		}
	}
	y := j.y[lo*p.P : hi*p.P]
	if r := j.ep.residual; r != nil {
		r = r[lo*p.P : hi*p.P]
		for i := range y {
			y[i] += r[i]
		}
	}
	if late && j.ep.clamp {
		for i, v := range y {
			y[i] = nnClamp(v, j.ep.lo, j.ep.hi)
		}
	}
	if j.ep.leaky {
		for i, v := range y {
			if v < 0 {
				y[i] = v * j.ep.alpha
			}
		}
	}
	if j.ep.fn != nil {
		j.ep.fn(y, 0, 0)
	}
}

// nnSub returns s[i:j], or nil for a nil s.
func nnSub(s []float32, i, j int) []float32 {
	if s == nil {
		return nil
	}
	return s[i:j]
}

// nnClamp returns min(max(v, lo), hi), keeping a NaN v.
func nnClamp(v, lo, hi float32) float32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// nnIm2col2D writes columns [j0, j1) (output positions) of a 2-D
// convolution's column matrix into col, row stride ld: row r = c·kh·kw +
// tap holds the input value each output position's tap reads, zero in the
// padding. x holds the group's input channels.
func nnIm2col2D(x []float32, p *nnConvParams, col []float32, ld, j0, j1 int) {
	nnIm2col2DCh(x, p, col, ld, j0, j1, 0, p.cg)
}

// nnIm2col2DCh is nnIm2col2D for input channels [ch0, ch1): col starts at
// row ch0·kh·kw.
func nnIm2col2DCh(x []float32, p *nnConvParams, col []float32, ld, j0, j1, ch0, ch1 int) {
	g := p.g
	h, w, oh, ow := g.in[0], g.in[1], g.out[0], g.out[1]
	kwid := g.k[1]
	sh, sw := g.s[0], g.s[1]
	// Per tap: the input offsets, and the output rows and columns whose
	// input falls inside the image.
	type tap struct{ offH, offW, rlo, rhi, lo, hi int }
	var buf [64]tap
	taps := buf[:0]
	if p.K > len(buf) {
		taps = make([]tap, 0, p.K)
	}
	for t := 0; t < p.K; t++ {
		kh, kw := t/kwid, t%kwid
		var tp tap
		tp.offH, tp.offW = kh*g.d[0]-g.pb[0], kw*g.d[1]-g.pb[1]
		tp.rlo, tp.rhi = nnValidRange(oh, h, sh, tp.offH)
		tp.lo, tp.hi = nnValidRange(ow, w, sw, tp.offW)
		taps = append(taps, tp)
	}
	// With unit strides and as many output columns as input columns
	// ("same" padding across), a tap reads output position j at input
	// position j + offH·w + offW: one copy per row of col, then the
	// columns that fall in the left or right padding are zeroed.
	flat := sh == 1 && sw == 1 && ow == w
	n := j1 - j0
	r := 0
	for ch := ch0; ch < ch1; ch++ {
		xs := x[ch*h*w : (ch+1)*h*w]
		for ti := range taps {
			tp := &taps[ti]
			d := col[r*ld : r*ld+n]
			r++
			a, b := max(j0, tp.rlo*ow), min(j1, tp.rhi*ow)
			if tp.lo >= tp.hi || a >= b {
				clear(d)
				continue
			}
			if !flat {
				nnIm2colRow(d, xs, w, ow, sh, sw, tp.offH, tp.offW, tp.lo, tp.hi, j0, a, b)
				continue
			}
			clear(d[:a-j0])
			clear(d[b-j0:])
			// The copy's ends may run past the plane by the padding
			// columns; those elements are zeroed below.
			delta := tp.offH*w + tp.offW
			sa, sb := a+delta, min(b+delta, len(xs))
			da := a - j0
			if sa < 0 {
				da -= sa
				sa = 0
			}
			if sa < sb {
				copy(d[da:da+sb-sa], xs[sa:sb])
			}
			if tp.lo == 0 && tp.hi == ow {
				continue
			}
			// Zero the padding columns of the output rows in [a, b).
			for rs := a - a%ow; rs < b; rs += ow {
				for c := rs; c < rs+tp.lo; c++ {
					if c >= a && c < b {
						d[c-j0] = 0
					}
				}
				for c := rs + tp.hi; c < rs+ow; c++ {
					if c >= a && c < b {
						d[c-j0] = 0
					}
				}
			}
		}
	}
}

// nnIm2colRow writes one row of the column matrix, output positions [j0,
// j0+len(d)), of which [a, b) read input rows inside the plane xs (w
// wide): output (oy, ox) reads xs[oy·sh+offH][ox·sw+offW], inside for ox
// in [lo, hi).
func nnIm2colRow(d, xs []float32, w, ow, sh, sw, offH, offW, lo, hi, j0, a, b int) {
	clear(d[:a-j0])
	clear(d[b-j0:])
	for j := a; j < b; {
		oy, ox := j/ow, j%ow
		seg := min(b-j, ow-ox) // this output row's part
		row := d[j-j0 : j-j0+seg]
		va, vb := max(ox, lo), min(ox+seg, hi)
		if va >= vb {
			clear(row)
		} else {
			clear(row[:va-ox])
			clear(row[vb-ox:])
			src := xs[(oy*sh+offH)*w:]
			out := row[va-ox : vb-ox]
			switch sw {
			case 1:
				copy(out, src[va+offW:vb+offW])
			case 2:
				im2col.Gather2(out, src[va*2+offW:])
			default:
				s := va*sw + offW
				for q := range out {
					out[q] = src[s]
					s += sw
				}
			}
		}
		j += seg
	}
}

// nnScratchPool recycles float32 scratch buffers of one use (so that
// their sizes stay alike) without allocating once warm: a buffer too small
// for a request grows in place.
type nnScratchPool struct{ p sync.Pool }

// nnScratch is a buffer from an nnScratchPool.
type nnScratch struct{ buf []float32 }

// get returns a buffer of n elements with arbitrary contents.
func (sp *nnScratchPool) get(n int) *nnScratch {
	s, _ := sp.p.Get().(*nnScratch)
	if s == nil {
		s = new(nnScratch)
	}
	if cap(s.buf) < n {
		s.buf = make([]float32, n)
	}
	s.buf = s.buf[:n]
	return s
}

func (sp *nnScratchPool) put(s *nnScratch) { sp.p.Put(s) }

var (
	nnColScratch   nnScratchPool // Conv column matrices
	nnSplitScratch nnScratchPool // strided Conv inputs split into phases
	nnPackScratch  nnScratchPool // a row of the NHWC column matrix
	nnRowScratch   nnScratchPool // rows of pooling and the like
)

// nnBufPool recycles float32 scratch (column matrices), which are large
// and needed on every run.
var nnBufPool sync.Pool

// nnGetBuf returns a scratch slice of n elements with arbitrary contents.
func nnGetBuf[T nnNum](n int) []T {
	var z T
	if _, ok := any(z).(float32); ok && n > 0 {
		if v, ok := nnBufPool.Get().(*[]float32); ok {
			if cap(*v) >= n {
				return any((*v)[:n]).([]T)
			}
			nnBufPool.Put(v)
		}
	}
	return make([]T, n)
}

// nnPutBuf hands a slice from nnGetBuf back for reuse.
func nnPutBuf[T nnNum](b []T) {
	if f, ok := any(b).([]float32); ok && cap(f) > 0 {
		nnBufPool.Put(&f)
	}
}
