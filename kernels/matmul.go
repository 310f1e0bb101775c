package kernels

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/kernels/vec"
	"github.com/inferd/inferd/tensor"
)

// MatMul and Gemm, and the cache-blocked GEMM they (and Einsum, the
// quantized matmuls and QLinearConv) run on.

func init() {
	register("MatMul", newMatMul)
	register("Gemm", newGemm)
	// Fast forms of the fused operators (optimize/FUSED_OPS.md) for
	// float32, ahead of the reference kernels of fused.go, which they
	// hand other types to.
	Default.Register(Spec{Domain: ir.DomainInferd, Op: "FusedMatMul", Priority: fusedPriority, New: newFusedMatMulF32})
	Default.Register(Spec{Domain: ir.DomainInferd, Op: "FusedGemm", Priority: fusedPriority, New: newFusedGemmF32})
}

// fusedPriority ranks the fast fused kernels of matmul.go and conv.go
// above the reference ones.
const fusedPriority = 10

// linalgFusedAct is a fused node's activation (attributes activation and
// activation_params, FUSED_OPS.md) in the GEMM epilogue's terms: a kernel
// clamp (Relu, Clip), LeakyRelu, or fn, run on each finished row segment
// while it is in L1.
type linalgFusedAct struct {
	act      gemm.Activation
	min, max float32
	alpha    float32
	fn       func(row []float32, i, j0 int)
}

// linalgReadFusedAct reads the activation of fused node b. Its functions
// are those of the standard kernels (vec's for float32).
func linalgReadFusedAct(b *Build) (linalgFusedAct, error) {
	a := b.Attrs()
	name := a.String("activation", "")
	params := a.Floats("activation_params", nil)
	if err := a.Err(); err != nil {
		return linalgFusedAct{}, err
	}
	param := func(i int, def float32) float32 {
		if i < len(params) {
			return params[i]
		}
		return def
	}
	var fa linalgFusedAct
	switch name {
	case "":
	case "Relu":
		fa.act = gemm.ActRelu
	case "Clip":
		fa.act, fa.min, fa.max = gemm.ActClip, param(0, -math.MaxFloat32), param(1, math.MaxFloat32)
	case "LeakyRelu":
		fa.act, fa.alpha = gemm.ActLeakyRelu, param(0, 0.01)
	case "Sigmoid":
		fa.fn = func(row []float32, _, _ int) { vec.Sigmoid(row, row) }
	case "Tanh":
		fa.fn = func(row []float32, _, _ int) { vec.Tanh(row, row) }
	case "Silu":
		fa.fn = func(row []float32, _, _ int) { vec.Silu(row, row) }
	case "Gelu":
		fa.fn = func(row []float32, _, _ int) { vec.Gelu(row, row) }
	case "GeluTanh":
		fa.fn = func(row []float32, _, _ int) { vec.GeluTanh(row, row) }
	case "HardSigmoid", "HardSwish":
		f := ewHardSigmoidFn(param(0, 0.2), param(1, 0.5), false).f32
		if name == "HardSwish" {
			f = ewHardSigmoidFn(1.0/6, 0.5, true).f32
		}
		fa.fn = func(row []float32, _, _ int) { f(row, row) }
	default:
		return fa, fmt.Errorf("activation %q: %w", name, ErrUnsupported)
	}
	return fa, nil
}

// epilogue returns the gemm epilogue of the activation.
func (fa *linalgFusedAct) epilogue() gemm.Epilogue {
	return gemm.Epilogue{Act: fa.act, Min: fa.min, Max: fa.max, Alpha: fa.alpha, Func: fa.fn}
}

// newFusedMatMulF32 builds FusedMatMul(A, B, [bias]) = act(MatMul(A, B) +
// bias) with the bias and activation in the GEMM's epilogue, for float32;
// other types, and a bias that is not a vector over the last dimension,
// go to the reference kernel.
func newFusedMatMulF32(b *Build) (any, error) {
	act, err := linalgReadFusedAct(b)
	if err != nil {
		return nil, ErrDecline
	}
	ref, err := fusedRef(linalgHideHalfB(b), newFusedMatMul)
	if err != nil {
		return nil, err
	}
	mm, err := newMatMul(b)
	if err != nil {
		return nil, err
	}
	return &linalgFusedMatMul{mm: mm.(*linalgMatMulKernel), act: act, ref: ref}, nil
}

// fusedRef builds the reference kernel of a fused node for the types the
// fast kernels leave to it, unless the node's first input is known to be
// float32 (the reference would hold a second copy of packed weights).
func fusedRef(b *Build, f Factory) (Kernel, error) {
	if len(b.InputTypes) > 0 && b.InputTypes[0].Kind == ir.TensorKind && b.InputTypes[0].DType == tensor.Float32 {
		return nil, nil
	}
	k, err := f(b)
	if err != nil {
		return nil, err
	}
	return k.(Kernel), nil
}

// fusedFallback runs ref, or reports that a fused node got a type its
// build did not expect.
func fusedFallback(c *Context, ref Kernel, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if ref == nil {
		return nil, fmt.Errorf("fused operator: inputs of %v, the node was built for float32: %w", in[0], ErrUnsupported)
	}
	return ref.Run(c, in)
}

type linalgFusedMatMul struct {
	mm    *linalgMatMulKernel
	act   linalgFusedAct
	ref   Kernel
	fused bool
}

func (k *linalgFusedMatMul) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) >= 2 && in[0] != nil && k.mm.half != nil && in[1] == k.mm.constB && in[0].DType == in[1].DType {
		bt := input(in, 2)
		if bt == nil || (bt.DType == in[0].DType && bt.Rank() > 0 && bt.Shape[bt.Rank()-1] == bt.Len() &&
			bt.Len() == in[1].Shape[in[1].Rank()-1] && bt.Rank() <= max(in[0].Rank(), in[1].Rank())) {
			ep := k.act.epilogue()
			return k.mm.runHalf(c, in[0], bt, &ep)
		}
	}
	if len(in) < 2 || in[0] == nil || in[1] == nil || in[0].DType != tensor.Float32 || in[1].DType != tensor.Float32 {
		return fusedFallback(c, k.ref, in)
	}
	var bias []float32
	if bt := input(in, 2); bt != nil {
		// A vector over the product's last dimension ([N] or [1, …, 1,
		// N]) that does not raise its rank.
		if bt.DType != tensor.Float32 || bt.Rank() == 0 || bt.Shape[bt.Rank()-1] != bt.Len() || in[1].Rank() < 2 ||
			bt.Len() != in[1].Shape[in[1].Rank()-1] || bt.Rank() > max(in[0].Rank(), in[1].Rank()) {
			return fusedFallback(c, k.ref, in)
		}
		bias = bt.Data.([]float32)
	}
	ep := k.act.epilogue()
	ep.Bias = bias
	return k.mm.runF32(c, in[0], in[1], &ep)
}

// newFusedGemmF32 builds FusedGemm(A, B, [C]) = act(Gemm(A, B, C)) with
// the activation in the GEMM's epilogue, for float32; other types go to
// the reference kernel.
func newFusedGemmF32(b *Build) (any, error) {
	act, err := linalgReadFusedAct(b)
	if err != nil {
		return nil, ErrDecline
	}
	ref, err := fusedRef(linalgHideHalfB(b), newFusedGemm)
	if err != nil {
		return nil, err
	}
	g, err := newGemm(b)
	if err != nil {
		return nil, err
	}
	gk := g.(*linalgGemmKernel)
	gk.act, gk.ref, gk.fused = act, ref, true
	return gk, nil
}

// Blocking of the GEMM: a task owns a block of C columns (at most
// linalgNC wide) and a range of rows; it walks K in steps of linalgKC,
// packing the B block when B is not row-major, and feeds the kernel
// linalgMC rows of A at a time.
const (
	linalgKC = 256
	linalgNC = 256
	linalgMC = 96
)

// linalgGemm describes a batch of products C_b += alpha · A_b · B_b where
// A_b is M×K with element (i, p) at A[aOff[b] + i*aRS + p*aCS], B_b is K×N
// with element (p, j) at B[bOff[b] + p*bRS + j*bCS] and C_b is M×N
// row-major with row stride ldc starting at C[cOff[b]]. Nil offsets mean
// a single product at offset 0. The strides express transposes.
type linalgGemm[T tensor.Numeric] struct {
	M, N, K          int
	A, B, C          []T
	aRS, aCS         int
	bRS, bCS         int
	ldc              int
	aOff, bOff, cOff []int
	alpha            T
	scaled           bool // alpha != 1
}

func (g *linalgGemm[T]) batch() int {
	if g.aOff == nil {
		return 1
	}
	return len(g.aOff)
}

func (g *linalgGemm[T]) offsets(b int) (int, int, int) {
	if g.aOff == nil {
		return 0, 0, 0
	}
	return g.aOff[b], g.bOff[b], g.cOff[b]
}

func linalgCeil(a, b int) int { return (a + b - 1) / b }

// linalgRun computes g, splitting it into tasks run with c.Parallel.
func linalgRun[T tensor.Numeric](c *Context, g *linalgGemm[T]) {
	nb := g.batch()
	if g.M == 0 || g.N == 0 || g.K == 0 || nb == 0 {
		return
	}
	if g32, ok := any(g).(*linalgGemm[float32]); ok && linalgRunF32(c, g32) {
		return
	}
	work := nb * g.M * g.N * g.K
	want := 1
	if work >= 1<<16 {
		want = 4 * runtime.GOMAXPROCS(0)
	}
	// Few rows against a transposed (N×K row-major) B: dot products read
	// both operands contiguously and need no packing.
	if g.M <= 4 && g.aCS == 1 && g.bRS == 1 && g.bCS != 1 {
		linalgRunDots(c, g, want)
		return
	}
	// Split the columns into blocks of at most linalgNC (at least 64 wide
	// while there are too few tasks), then the rows (at least 12), then the
	// columns again down to 16.
	nBlk := linalgCeil(g.N, linalgNC)
	if nb*nBlk < want {
		nBlk = max(nBlk, min(linalgCeil(want, nb), linalgCeil(g.N, 64)))
	}
	mSpl := 1
	if nb*nBlk < want {
		mSpl = max(1, min(linalgCeil(want, nb*nBlk), linalgCeil(g.M, 12)))
	}
	mw := linalgCeil(linalgCeil(g.M, mSpl), 3) * 3
	mSpl = linalgCeil(g.M, mw)
	if nb*nBlk*mSpl < want {
		nBlk = max(nBlk, min(linalgCeil(want, nb*mSpl), linalgCeil(g.N, 16)))
	}
	nw := linalgCeil(linalgCeil(g.N, nBlk), 16) * 16
	nBlk = linalgCeil(g.N, nw)
	per := nBlk * mSpl
	c.Parallel(nb*per, func(lo, hi int) {
		var ap, bp []T
		for t := lo; t < hi; t++ {
			b, r := t/per, t%per
			j0, i0 := (r/mSpl)*nw, (r%mSpl)*mw
			g.tile(b, i0, min(g.M, i0+mw), j0, min(g.N, j0+nw), &ap, &bp)
		}
		linalgPut(ap)
		linalgPut(bp)
	})
}

// tile computes rows [i0, i1) and columns [j0, j1) of product b.
func (g *linalgGemm[T]) tile(b, i0, i1, j0, j1 int, ap, bp *[]T) {
	aBase, bBase, cBase := g.offsets(b)
	nw := j1 - j0
	for p0 := 0; p0 < g.K; p0 += linalgKC {
		kc := min(linalgKC, g.K-p0)
		var bm []T
		ldb := g.bRS
		if g.bCS == 1 && i1-i0 <= 16 {
			// Few rows: packing would cost as much as the products.
			bm = g.B[bBase+p0*g.bRS+j0:]
		} else {
			buf := linalgGrow(bp, kc*nw)
			src := g.B[bBase+p0*g.bRS+j0*g.bCS:]
			if g.bCS == 1 {
				for p := 0; p < kc; p++ {
					copy(buf[p*nw:p*nw+nw], src[p*g.bRS:])
				}
			} else {
				for j := 0; j < nw; j++ {
					s := src[j*g.bCS:]
					for p := 0; p < kc; p++ {
						buf[p*nw+j] = s[p*g.bRS]
					}
				}
			}
			bm, ldb = buf, nw
		}
		for ii := i0; ii < i1; ii += linalgMC {
			mc := min(linalgMC, i1-ii)
			var am []T
			lda := g.aRS
			if g.aCS == 1 && !g.scaled {
				am = g.A[aBase+ii*g.aRS+p0:]
			} else {
				buf := linalgGrow(ap, mc*kc)
				src := g.A[aBase+ii*g.aRS+p0*g.aCS:]
				for i := 0; i < mc; i++ {
					row := buf[i*kc : i*kc+kc]
					s := src[i*g.aRS:]
					if g.scaled {
						for p := range row {
							row[p] = g.alpha * s[p*g.aCS]
						}
					} else {
						for p := range row {
							row[p] = s[p*g.aCS]
						}
					}
				}
				am, lda = buf, kc
			}
			linalgKernel(mc, nw, kc, am, lda, bm, ldb, g.C[cBase+ii*g.ldc+j0:], g.ldc)
		}
	}
}

// linalgKernel computes C[m×n] += A[m×k] · B[k×n] for row-major A, B, C
// with the given row strides. It updates three rows of C at a time from
// four rows of B, so each loaded B element feeds three products.
func linalgKernel[T tensor.Numeric](m, n, k int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	i := 0
	for ; i+3 <= m; i += 3 {
		c0 := c[i*ldc : i*ldc+n]
		c1 := c[(i+1)*ldc : (i+1)*ldc+n]
		c2 := c[(i+2)*ldc : (i+2)*ldc+n]
		c1 = c1[:len(c0)]
		c2 = c2[:len(c0)]
		r0 := a[i*lda : i*lda+k]
		r1 := a[(i+1)*lda : (i+1)*lda+k]
		r2 := a[(i+2)*lda : (i+2)*lda+k]
		r1 = r1[:len(r0)]
		r2 = r2[:len(r0)]
		p := 0
		for ; p+4 <= k; p += 4 {
			a00, a01, a02, a03 := r0[p], r0[p+1], r0[p+2], r0[p+3]
			a10, a11, a12, a13 := r1[p], r1[p+1], r1[p+2], r1[p+3]
			a20, a21, a22, a23 := r2[p], r2[p+1], r2[p+2], r2[p+3]
			b0 := b[p*ldb : p*ldb+n]
			b1 := b[(p+1)*ldb : (p+1)*ldb+n]
			b2 := b[(p+2)*ldb : (p+2)*ldb+n]
			b3 := b[(p+3)*ldb : (p+3)*ldb+n]
			b0 = b0[:len(c0)]
			b1 = b1[:len(c0)]
			b2 = b2[:len(c0)]
			b3 = b3[:len(c0)]
			for j := range c0 {
				x0, x1, x2, x3 := b0[j], b1[j], b2[j], b3[j]
				c0[j] += a00*x0 + a01*x1 + a02*x2 + a03*x3
				c1[j] += a10*x0 + a11*x1 + a12*x2 + a13*x3
				c2[j] += a20*x0 + a21*x1 + a22*x2 + a23*x3
			}
		}
		for ; p < k; p++ {
			a0, a1, a2 := r0[p], r1[p], r2[p]
			bp := b[p*ldb : p*ldb+n]
			bp = bp[:len(c0)]
			for j, x := range bp {
				c0[j] += a0 * x
				c1[j] += a1 * x
				c2[j] += a2 * x
			}
		}
	}
	for ; i < m; i++ {
		c0 := c[i*ldc : i*ldc+n]
		r0 := a[i*lda : i*lda+k]
		p := 0
		for ; p+4 <= k; p += 4 {
			a0, a1, a2, a3 := r0[p], r0[p+1], r0[p+2], r0[p+3]
			b0 := b[p*ldb : p*ldb+n]
			b1 := b[(p+1)*ldb : (p+1)*ldb+n]
			b2 := b[(p+2)*ldb : (p+2)*ldb+n]
			b3 := b[(p+3)*ldb : (p+3)*ldb+n]
			b0 = b0[:len(c0)]
			b1 = b1[:len(c0)]
			b2 = b2[:len(c0)]
			b3 = b3[:len(c0)]
			for j := range c0 {
				c0[j] += a0*b0[j] + a1*b1[j] + a2*b2[j] + a3*b3[j]
			}
		}
		for ; p < k; p++ {
			a0 := r0[p]
			bp := b[p*ldb : p*ldb+n]
			bp = bp[:len(c0)]
			for j, x := range bp {
				c0[j] += a0 * x
			}
		}
	}
}

// linalgRunDots handles few rows of A against a B stored N×K row-major:
// every output is a contiguous dot product.
func linalgRunDots[T tensor.Numeric](c *Context, g *linalgGemm[T], want int) {
	nb := g.batch()
	nBlk := 1
	if nb < want {
		nBlk = max(1, min(linalgCeil(want, nb), linalgCeil(g.N, 16)))
	}
	nw := linalgCeil(g.N, nBlk)
	nBlk = linalgCeil(g.N, nw)
	c.Parallel(nb*nBlk, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			b := t / nBlk
			j0 := (t % nBlk) * nw
			j1 := min(g.N, j0+nw)
			aBase, bBase, cBase := g.offsets(b)
			for i := 0; i < g.M; i++ {
				ar := g.A[aBase+i*g.aRS : aBase+i*g.aRS+g.K]
				cr := g.C[cBase+i*g.ldc:]
				for j := j0; j < j1; j++ {
					s := linalgDot(ar, g.B[bBase+j*g.bCS:bBase+j*g.bCS+g.K])
					if g.scaled {
						s *= g.alpha
					}
					cr[j] += s
				}
			}
		}
	})
}

// linalgDot returns the dot product of a and b (len(b) ≥ len(a)), summed
// in four interleaved partial sums.
func linalgDot[T tensor.Numeric](a, b []T) T {
	b = b[:len(a)]
	var s0, s1, s2, s3 T
	p := 0
	for ; p+4 <= len(a); p += 4 {
		s0 += a[p] * b[p]
		s1 += a[p+1] * b[p+1]
		s2 += a[p+2] * b[p+2]
		s3 += a[p+3] * b[p+3]
	}
	for ; p < len(a); p++ {
		s0 += a[p] * b[p]
	}
	return (s0 + s1) + (s2 + s3)
}

// Scratch buffers for packing, reused across calls.
var linalgPoolF32, linalgPoolF64 sync.Pool

func linalgGrow[T tensor.Numeric](buf *[]T, n int) []T {
	if cap(*buf) >= n {
		return (*buf)[:n]
	}
	linalgPut(*buf)
	var got any
	var z T
	switch any(z).(type) {
	case float32:
		got = linalgPoolF32.Get()
	case float64:
		got = linalgPoolF64.Get()
	}
	if p, ok := got.(*[]T); ok && cap(*p) >= n {
		*buf = (*p)[:n]
	} else {
		*buf = make([]T, max(n, linalgKC*linalgNC))
		*buf = (*buf)[:n]
	}
	return *buf
}

func linalgPut[T tensor.Numeric](buf []T) {
	if cap(buf) == 0 {
		return
	}
	var z T
	switch any(z).(type) {
	case float32:
		linalgPoolF32.Put(&buf)
	case float64:
		linalgPoolF64.Put(&buf)
	}
}

// linalgMatMulShape works out numpy.matmul's output for operands of the
// given shapes: the broadcast batch shape, the matrix sizes, the output
// shape and each batch item's element offsets into A, B and the output.
type linalgMatMulShape struct {
	M, K, N    int
	out        []int
	aOff, bOff []int // nil when the batch folds into M (B has no batch)
	cOff       []int
	aIdx, bIdx []int // per output batch item, the A and B batch items
	foldM      int   // rows of the single product when folded
}

func linalgPlanMatMul(as, bs []int) (*linalgMatMulShape, error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("MatMul operands must have rank ≥ 1, got shapes %v and %v", as, bs)
	}
	a1, b1 := len(as) == 1, len(bs) == 1
	if a1 {
		as = []int{1, as[0]}
	}
	if b1 {
		bs = []int{bs[0], 1}
	}
	p := &linalgMatMulShape{M: as[len(as)-2], K: as[len(as)-1], N: bs[len(bs)-1]}
	if bs[len(bs)-2] != p.K {
		return nil, fmt.Errorf("MatMul inner dimensions differ: A is %v and B is %v", as, bs)
	}
	aBatch, bBatch := as[:len(as)-2], bs[:len(bs)-2]
	batch, err := BroadcastShapes(aBatch, bBatch)
	if err != nil {
		return nil, fmt.Errorf("MatMul batch dimensions: %w", err)
	}
	p.out = append(p.out, batch...)
	if !a1 {
		p.out = append(p.out, p.M)
	}
	if !b1 {
		p.out = append(p.out, p.N)
	}
	nb := tensor.NumElements(batch)
	if tensor.NumElements(bBatch) == 1 {
		p.foldM = nb * p.M
		return p, nil
	}
	p.aOff, p.bOff, p.cOff = make([]int, nb), make([]int, nb), make([]int, nb)
	p.aIdx, p.bIdx = make([]int, nb), make([]int, nb)
	it := NewIndexer(batch, aBatch, bBatch)
	for i := 0; i < nb; i++ {
		p.aIdx[i], p.bIdx[i] = it.Off[0], it.Off[1]
		p.aOff[i] = it.Off[0] * p.M * p.K
		p.bOff[i] = it.Off[1] * p.K * p.N
		p.cOff[i] = i * p.M * p.N
		it.Next()
	}
	return p, nil
}

// linalgMatMulInto computes out = a·b per plan p; a, b, out are row-major.
func linalgMatMulInto[T tensor.Numeric](c *Context, p *linalgMatMulShape, a, b, out []T) {
	g := &linalgGemm[T]{M: p.M, N: p.N, K: p.K, A: a, B: b, C: out,
		aRS: p.K, aCS: 1, bRS: p.N, bCS: 1, ldc: p.N, alpha: 1,
		aOff: p.aOff, bOff: p.bOff, cOff: p.cOff}
	if p.aOff == nil {
		g.M = p.foldM
	}
	linalgRun(c, g)
}

func newMatMul(b *Build) (any, error) {
	k := &linalgMatMulKernel{}
	// A constant float32 B (a Linear layer's weight) is packed once here;
	// runs multiply against the packed panels.
	if cb := b.Const(1); cb != nil && cb.DType == tensor.Float32 && cb.Rank() >= 2 {
		K, N := cb.Shape[cb.Rank()-2], cb.Shape[cb.Rank()-1]
		if K > 0 && N > 0 {
			src := cb.Data.([]float32)
			nb := cb.Len() / (K * N)
			k.constB = cb
			k.packed = make([]*gemm.PackedB, nb)
			for i := range k.packed {
				k.packed[i] = gemm.PackB(K, N, gemm.Matrix{Data: src[i*K*N:], Stride: N})
			}
		}
	}
	// A constant bfloat16 or float16 B is prepared once for the
	// half-precision path (matmul_bf16.go).
	if cb := b.Const(1); cb != nil && cb.Rank() >= 2 {
		if h := linalgPrepHalfB(cb, cb.Shape[cb.Rank()-2], cb.Shape[cb.Rank()-1], false); h != nil {
			k.constB, k.half = cb, h
		}
	}
	return k, nil
}

// linalgMatMulKernel is MatMul. Its plan for the last operand shapes is
// cached so that runs on static shapes allocate nothing.
type linalgMatMulKernel struct {
	constB *tensor.Tensor  // the constant B input, if any
	packed []*gemm.PackedB // constB's matrices packed, one per batch item
	half   *linalgHalfB    // a bfloat16 or float16 constB, prepared
	plan   atomic.Pointer[linalgMatMulPlan]
}

// linalgMatMulPlan is a linalgMatMulShape for the operand shapes it was
// made for.
type linalgMatMulPlan struct {
	as, bs []int
	p      *linalgMatMulShape
}

// shapePlan returns the plan for operand shapes as and bs.
func (k *linalgMatMulKernel) shapePlan(as, bs []int) (*linalgMatMulShape, error) {
	if pl := k.plan.Load(); pl != nil && tensor.EqualShapes(pl.as, as) && tensor.EqualShapes(pl.bs, bs) {
		return pl.p, nil
	}
	p, err := linalgPlanMatMul(as, bs)
	if err != nil {
		return nil, err
	}
	k.plan.Store(&linalgMatMulPlan{as: slices.Clone(as), bs: slices.Clone(bs), p: p})
	return p, nil
}

func (k *linalgMatMulKernel) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("MatMul needs inputs A and B")
	}
	a, b := in[0], in[1]
	if a.DType != b.DType {
		return nil, fmt.Errorf("MatMul inputs have types %v and %v, want equal", a.DType, b.DType)
	}
	if a.DType != tensor.Float32 {
		if k.half != nil && b == k.constB {
			return k.runHalf(c, a, nil, nil)
		}
		return linalgMatMul(c, a, b)
	}
	return k.runF32(c, a, b, nil)
}

// runF32 computes the float32 product with epilogue ep (nil for none),
// whose Bias, if set, is per column.
func (k *linalgMatMulKernel) runF32(c *Context, a, b *tensor.Tensor, ep *gemm.Epilogue) ([]*tensor.Tensor, error) {
	p, err := k.shapePlan(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	y := c.AllocRaw(tensor.Float32, p.out...)
	av, bv, yv := a.Data.([]float32), b.Data.([]float32), y.Data.([]float32)
	g := sgemmBatch{m: p.M, n: p.N, k: p.K, alpha: 1, a: av, lda: p.K, b: bv, ldb: p.N,
		c: yv, ldc: p.N, aOff: p.aOff, bOff: p.bOff, cOff: p.cOff, bIdx: p.bIdx}
	if p.aOff == nil {
		g.m = p.foldM
	}
	if b == k.constB && k.packed != nil {
		g.packed = k.packed
	}
	if ep != nil {
		g.ep = *ep
	}
	sgemmRunBatch(c, g)
	return c.Outs(y), nil
}

func linalgMatMul(c *Context, a, b *tensor.Tensor) ([]*tensor.Tensor, error) {
	p, err := linalgPlanMatMul(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	y := c.Alloc(a.DType, p.out...)
	switch av := a.Data.(type) {
	case []float32:
		linalgMatMulInto(c, p, av, b.Data.([]float32), y.Data.([]float32))
	case []float64:
		linalgMatMulInto(c, p, av, b.Data.([]float64), y.Data.([]float64))
	case []int32:
		linalgMatMulInto(c, p, av, b.Data.([]int32), y.Data.([]int32))
	case []int64:
		linalgMatMulInto(c, p, av, b.Data.([]int64), y.Data.([]int64))
	case []uint32:
		linalgMatMulInto(c, p, av, b.Data.([]uint32), y.Data.([]uint32))
	case []uint64:
		linalgMatMulInto(c, p, av, b.Data.([]uint64), y.Data.([]uint64))
	case []int8:
		linalgMatMulInto(c, p, av, b.Data.([]int8), y.Data.([]int8))
	case []int16:
		linalgMatMulInto(c, p, av, b.Data.([]int16), y.Data.([]int16))
	case []uint8:
		linalgMatMulInto(c, p, av, b.Data.([]uint8), y.Data.([]uint8))
	case []uint16:
		linalgMatMulInto(c, p, av, b.Data.([]uint16), y.Data.([]uint16))
	case []tensor.F16, []tensor.BF16:
		af, _ := Float32s(a)
		bf, _ := Float32s(b)
		yf := make([]float32, y.Len())
		linalgMatMulInto(c, p, af, bf, yf)
		linalgStoreF32(y, yf)
	default:
		return nil, fmt.Errorf("MatMul of %v: %w", a.DType, ErrUnsupported)
	}
	return c.Outs(y), nil
}

// linalgStoreF32 writes float32 values into t (a float tensor), rounding
// to t's type.
func linalgStoreF32(t *tensor.Tensor, v []float32) {
	switch d := t.Data.(type) {
	case []float32:
		copy(d, v)
	case []float64:
		for i, x := range v {
			d[i] = float64(x)
		}
	case []tensor.F16:
		for i, x := range v {
			d[i] = tensor.F16FromFloat32(x)
		}
	case []tensor.BF16:
		for i, x := range v {
			d[i] = tensor.BF16FromFloat32(x)
		}
	default:
		panic(fmt.Sprintf("linalgStoreF32 into %v", t.DType))
	}
}

func newGemm(b *Build) (any, error) {
	a := b.Attrs()
	alpha := a.Float("alpha", 1)
	beta := a.Float("beta", 1)
	transA := a.Int("transA", 0) != 0
	transB := a.Int("transB", 0) != 0
	if err := a.Err(); err != nil {
		return nil, err
	}
	k := &linalgGemmKernel{alpha: alpha, beta: beta, transA: transA, transB: transB}
	// A constant float32 B (a Linear layer's weight, usually transposed)
	// is packed once here.
	if cb := b.Const(1); cb != nil && cb.DType == tensor.Float32 && cb.Rank() == 2 && cb.Len() > 0 {
		K, N := cb.Shape[0], cb.Shape[1]
		if transB {
			K, N = N, K
		}
		k.constB = cb
		k.packed = gemm.PackB(K, N, gemm.Matrix{Data: cb.Data.([]float32), Stride: cb.Shape[1], Trans: transB})
	}
	// A constant bfloat16 or float16 B is prepared once for the
	// half-precision path (matmul_bf16.go).
	if cb := b.Const(1); cb != nil && cb.Rank() == 2 {
		K, N := cb.Shape[0], cb.Shape[1]
		if transB {
			K, N = N, K
		}
		if h := linalgPrepHalfB(cb, K, N, transB); h != nil {
			k.constB, k.half = cb, h
		}
	}
	return k, nil
}

type linalgGemmKernel struct {
	alpha, beta    float32
	transA, transB bool
	constB         *tensor.Tensor // the constant B input, if any
	packed         *gemm.PackedB  // constB packed as op(B)
	half           *linalgHalfB   // a bfloat16 or float16 constB, prepared

	// FusedGemm: the activation, and the reference kernel that takes
	// other types than float32 (nil when the input is known float32).
	act   linalgFusedAct
	ref   Kernel
	fused bool
}

func (k *linalgGemmKernel) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("Gemm needs inputs A and B")
	}
	a, b := in[0], in[1]
	halfB := k.half != nil && b == k.constB && a.DType == b.DType
	if k.fused && a.DType != tensor.Float32 && !halfB {
		return fusedFallback(c, k.ref, in)
	}
	var cin *tensor.Tensor
	if len(in) > 2 {
		cin = in[2]
	}
	if a.Rank() != 2 || b.Rank() != 2 {
		return nil, fmt.Errorf("Gemm inputs A %v and B %v must be 2-D", a, b)
	}
	if a.DType != b.DType || (cin != nil && cin.DType != a.DType) {
		return nil, fmt.Errorf("Gemm inputs have mixed types (A %v, B %v)", a, b)
	}
	M, K := a.Shape[0], a.Shape[1]
	if k.transA {
		M, K = K, M
	}
	K2, N := b.Shape[0], b.Shape[1]
	if k.transB {
		K2, N = N, K2
	}
	if K != K2 {
		return nil, fmt.Errorf("Gemm inner dimensions differ: A %v (transA=%v), B %v (transB=%v)", a, b, k.transA, k.transB)
	}
	if cin != nil {
		if cin.Rank() > 2 {
			return nil, fmt.Errorf("Gemm input C %v has rank > 2", cin)
		}
		off := 2 - cin.Rank()
		for i, d := range cin.Shape {
			want := N
			if off+i == 0 {
				want = M
			}
			if d != 1 && d != want {
				return nil, fmt.Errorf("Gemm input C %v does not broadcast to [%d,%d]", cin, M, N)
			}
		}
		if k.beta == 0 {
			cin = nil
		}
	}
	if a.DType == tensor.Float32 {
		y := c.AllocRaw(tensor.Float32, M, N)
		k.runF32(c, M, N, K, a, b, cin, y.Data.([]float32))
		return c.Outs(y), nil
	}
	if halfB {
		return k.runHalf(c, M, N, a, cin)
	}
	y := c.Alloc(a.DType, M, N)
	switch av := a.Data.(type) {
	case []float64:
		linalgGemmRun(c, k, M, N, K, av, b.Data.([]float64), k.transB, cin, y.Data.([]float64))
	case []int32:
		linalgGemmRun(c, k, M, N, K, av, b.Data.([]int32), k.transB, cin, y.Data.([]int32))
	case []int64:
		linalgGemmRun(c, k, M, N, K, av, b.Data.([]int64), k.transB, cin, y.Data.([]int64))
	case []uint32:
		linalgGemmRun(c, k, M, N, K, av, b.Data.([]uint32), k.transB, cin, y.Data.([]uint32))
	case []uint64:
		linalgGemmRun(c, k, M, N, K, av, b.Data.([]uint64), k.transB, cin, y.Data.([]uint64))
	case []tensor.F16, []tensor.BF16:
		af, _ := Float32s(a)
		bf, _ := Float32s(b)
		var cf *tensor.Tensor
		if cin != nil {
			v, _ := Float32s(cin)
			cf = tensor.FromSlice(v, cin.Shape...)
		}
		yf := make([]float32, M*N)
		linalgGemmRun(c, k, M, N, K, af, bf, k.transB, cf, yf)
		linalgStoreF32(y, yf)
	default:
		return nil, fmt.Errorf("Gemm of %v: %w", a.DType, ErrUnsupported)
	}
	return c.Outs(y), nil
}

// runF32 computes y = alpha·op(a)·op(b) + beta·cin for float32, with cin
// fused into the GEMM's epilogue: a per-column C (a Linear layer's bias)
// as the bias, a full one as the residual term.
func (k *linalgGemmKernel) runF32(c *Context, M, N, K int, a, b, cin *tensor.Tensor, y []float32) {
	am := gemm.Matrix{Data: a.Data.([]float32), Stride: a.Shape[1], Trans: k.transA}
	ep := k.act.epilogue()
	beta := float32(0)
	if cin != nil {
		beta = k.epilogueC(M, N, cin.Data.([]float32), cin.Shape, y, &ep)
	}
	if k.packed != nil && b == k.constB {
		sgemmPackedB(c, M, k.alpha, am, k.packed, beta, y, N, &ep)
		return
	}
	bm := gemm.Matrix{Data: b.Data.([]float32), Stride: b.Shape[1], Trans: k.transB}
	sgemm(c, M, N, K, k.alpha, am, bm, beta, y, N, &ep)
}

// epilogueC fuses Gemm's beta·C (values cv, shape cshape, broadcastable
// to M×N) into ep: a per-column C (a Linear layer's bias) as the bias, a
// full one as the residual term; otherwise it writes beta·C into y. It
// returns the beta to pass the GEMM.
func (k *linalgGemmKernel) epilogueC(M, N int, cv []float32, cshape []int, y []float32, ep *gemm.Epilogue) float32 {
	cm, cn := 1, 1
	switch len(cshape) {
	case 1:
		cn = cshape[0]
	case 2:
		cm, cn = cshape[0], cshape[1]
	}
	switch {
	case cm == M && cn == N:
		ep.Residual, ep.ResidualStride = cv, N
		return k.beta
	case cm == 1 && cn == N && k.beta == 1:
		ep.Bias = cv
	case cm == M && cn == 1 && k.beta == 1:
		ep.Bias, ep.BiasPerRow = cv, true
	default:
		// Broadcast beta·C into y and add the product to it.
		for i := 0; i < M; i++ {
			row := y[i*N : i*N+N]
			src := cv[(i%cm)*cn:]
			for j := range row {
				row[j] = k.beta * src[j%cn]
			}
		}
		return 1
	}
	return 0
}

// linalgGemmRun computes y = alpha·op(a)·op(b) + beta·c for Gemm; b is
// transposed (N×K) when transB.
func linalgGemmRun[T tensor.Numeric](ctx *Context, k *linalgGemmKernel, M, N, K int, a, b []T, transB bool, c *tensor.Tensor, y []T) {
	if c != nil {
		cv := c.Data.([]T)
		beta := T(k.beta)
		st := BroadcastStrides(c.Shape, []int{M, N})
		for i := 0; i < M; i++ {
			row := y[i*N : i*N+N]
			base := i * st[0]
			if beta == 1 {
				for j := range row {
					row[j] = cv[base+j*st[1]]
				}
			} else {
				for j := range row {
					row[j] = beta * cv[base+j*st[1]]
				}
			}
		}
	}
	g := &linalgGemm[T]{M: M, N: N, K: K, A: a, B: b, C: y, ldc: N, alpha: T(k.alpha), scaled: T(k.alpha) != 1}
	if k.transA {
		g.aRS, g.aCS = 1, M
	} else {
		g.aRS, g.aCS = K, 1
	}
	if transB {
		g.bRS, g.bCS = 1, K
	} else {
		g.bRS, g.bCS = N, 1
	}
	linalgRun(ctx, g)
}

// The float32 GEMM entry points for kernels: gemm calls split across the
// Context's threads (serial when it has none).

// gemmThreads returns the number of threads c's Parallel spreads work over.
func (c *Context) gemmThreads() int {
	if c == nil || c.Par == nil {
		return 1
	}
	if c.Threads > 0 {
		return c.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// gemmOptions returns gemm options with epilogue ep (nil: none) that split
// the call across c's threads.
func (c *Context) gemmOptions(ep *gemm.Epilogue) gemm.Options {
	var o gemm.Options
	if ep != nil {
		o.Epilogue = *ep
	}
	if c != nil && c.Par != nil {
		o.Parallel, o.Threads = c.Par, c.gemmThreads()
	}
	return o
}

// sgemm computes y = alpha·op(A)·op(B) + beta·y followed by ep (see
// gemm.Gemm), split across c's threads.
func sgemm(c *Context, m, n, k int, alpha float32, a, b gemm.Matrix, beta float32, y []float32, ldc int, ep *gemm.Epilogue) {
	o := c.gemmOptions(ep)
	gemm.Gemm(m, n, k, alpha, a, b, beta, y, ldc, &o)
}

// sgemmPackedB is sgemm with a B packed ahead of time.
func sgemmPackedB(c *Context, m int, alpha float32, a gemm.Matrix, b *gemm.PackedB, beta float32, y []float32, ldc int, ep *gemm.Epilogue) {
	o := c.gemmOptions(ep)
	gemm.GemmPackedB(m, alpha, a, b, beta, y, ldc, &o)
}

// sgemmPackedA is sgemm with an A packed ahead of time.
func sgemmPackedA(c *Context, n int, alpha float32, a *gemm.PackedA, b gemm.Matrix, beta float32, y []float32, ldc int, ep *gemm.Epilogue) {
	o := c.gemmOptions(ep)
	gemm.GemmPackedA(n, alpha, a, b, beta, y, ldc, &o)
}

// sgemmBatch is a batch of float32 products
//
//	C_i = alpha·op(A_i)·op(B_i) + beta·C_i, then the epilogue,
//
// with op(A_i) m×k at a[aOff[i]:] (row stride lda), op(B_i) k×n at
// b[bOff[i]:] or packed[bIdx[i]], and C_i m×n at c[cOff[i]:] (row stride
// ldc). Nil offsets mean one product at offset 0 (and packed[0]).
type sgemmBatch struct {
	m, n, k          int
	alpha, beta      float32
	a                []float32
	lda              int
	transA           bool
	b                []float32
	ldb              int
	transB           bool
	packed           []*gemm.PackedB
	c                []float32
	ldc              int
	aOff, bOff, cOff []int
	bIdx             []int
	ep               gemm.Epilogue

	run func(lo, hi int) // items, bound once (pooled)
}

var sgemmBatchPool = sync.Pool{New: func() any {
	g := new(sgemmBatch)
	g.run = g.items
	return g
}}

// item computes product i with options o.
func (g *sgemmBatch) item(i int, o *gemm.Options) {
	var ao, bo, co, bi int
	if g.cOff != nil {
		ao, co = g.aOff[i], g.cOff[i]
		if g.packed != nil {
			bi = g.bIdx[i]
		} else {
			bo = g.bOff[i]
		}
	}
	a := gemm.Matrix{Data: g.a[ao:], Stride: g.lda, Trans: g.transA}
	if g.packed != nil {
		gemm.GemmPackedB(g.m, g.alpha, a, g.packed[bi], g.beta, g.c[co:], g.ldc, o)
		return
	}
	b := gemm.Matrix{Data: g.b[bo:], Stride: g.ldb, Trans: g.transB}
	gemm.Gemm(g.m, g.n, g.k, g.alpha, a, b, g.beta, g.c[co:], g.ldc, o)
}

// items computes products [lo, hi), each serially.
func (g *sgemmBatch) items(lo, hi int) {
	o := gemm.Options{Epilogue: g.ep}
	for i := lo; i < hi; i++ {
		g.item(i, &o)
	}
}

// sgemmRunBatch computes g: with enough products to share out, each
// thread takes whole products; otherwise each product is split across the
// threads.
func sgemmRunBatch(c *Context, g sgemmBatch) {
	nb := 1
	if g.cOff != nil {
		nb = len(g.cOff)
	}
	if nb == 0 || g.m == 0 || g.n == 0 {
		return
	}
	threads := c.gemmThreads()
	if nb == 1 || threads == 1 || (nb < 2*threads && nb%threads != 0) {
		o := c.gemmOptions(&g.ep)
		for i := 0; i < nb; i++ {
			g.item(i, &o)
		}
		return
	}
	p := sgemmBatchPool.Get().(*sgemmBatch)
	run := p.run
	*p = g
	p.run = run
	c.Parallel(nb, p.run)
	*p = sgemmBatch{run: run}
	sgemmBatchPool.Put(p)
}

// gemmMatrix expresses a rows×cols operand with element (i, j) at
// data[i*rs+j*cs] as a gemm.Matrix, if its layout is row-major or
// transposed.
func gemmMatrix(data []float32, rows, cols, rs, cs int) (gemm.Matrix, bool) {
	if cs == 1 && (rs >= cols || rows <= 1) {
		return gemm.Matrix{Data: data, Stride: max(rs, cols)}, true
	}
	if rs == 1 && (cs >= rows || cols <= 1) {
		return gemm.Matrix{Data: data, Stride: max(cs, rows), Trans: true}, true
	}
	return gemm.Matrix{}, false
}

// linalgRunF32 runs a float32 linalgGemm (C += alpha·A·B) through gemm,
// or reports false when its strides are not a row-major or transposed
// layout.
func linalgRunF32(c *Context, g *linalgGemm[float32]) bool {
	a, ok := gemmMatrix(g.A, g.M, g.K, g.aRS, g.aCS)
	if !ok {
		return false
	}
	b, ok := gemmMatrix(g.B, g.K, g.N, g.bRS, g.bCS)
	if !ok {
		return false
	}
	sgemmRunBatch(c, sgemmBatch{m: g.M, n: g.N, k: g.K, alpha: g.alpha, beta: 1,
		a: g.A, lda: a.Stride, transA: a.Trans, b: g.B, ldb: b.Stride, transB: b.Trans,
		c: g.C, ldc: g.ldc, aOff: g.aOff, bOff: g.bOff, cOff: g.cOff})
	return true
}
