package kernels

import (
	"fmt"
	"sync"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Conv: N-D convolution with groups, dilations, strides, pads, auto_pad and
// an optional bias, computed as im2col followed by a blocked GEMM.
//
// This file also holds the helpers the other nn kernels share: window
// attributes and geometry (nnWindow, nnGeom), im2col/col2im and the GEMM.

func init() {
	register("Conv", newConv)
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
	g := &nnGeom{in: in, k: k, s: s, d: d, pb: pb, pe: pe, out: make([]int, nd)}
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
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("Conv needs inputs X and W")
		}
		x, wt := in[0], in[1]
		var bias *tensor.Tensor
		if len(in) > 2 {
			bias = in[2]
		}
		if wt.DType != x.DType || (bias != nil && bias.DType != x.DType) {
			return nil, fmt.Errorf("inputs have types %v, %v, want one float type", x, wt)
		}
		p, err := nnConvSetup(&w, group, x.Shape, wt.Shape)
		if err != nil {
			return nil, err
		}
		if bias != nil && bias.Len() != p.m {
			return nil, fmt.Errorf("bias B has shape %v, want [%d]", bias.Shape, p.m)
		}
		y := c.Alloc(x.DType, p.outShape...)
		switch x.DType {
		case tensor.Float32:
			nnConvRun(c, p, x.Data.([]float32), wt.Data.([]float32), nnBias[float32](bias), y.Data.([]float32))
		case tensor.Float64:
			nnConvRun(c, p, x.Data.([]float64), wt.Data.([]float64), nnBias[float64](bias), y.Data.([]float64))
		case tensor.Float16, tensor.BFloat16:
			xf, _ := Float32s(x)
			wf, _ := Float32s(wt)
			var bf []float32
			if bias != nil {
				bf, _ = Float32s(bias)
			}
			yf := make([]float32, y.Len())
			nnConvRun(c, p, xf, wf, bf, yf)
			nnStoreF32(y, yf)
		default:
			return nil, fmt.Errorf("Conv of %v: %w", x.DType, ErrUnsupported)
		}
		return c.Outs(y), nil
	}), nil
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
