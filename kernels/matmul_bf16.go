package kernels

import (
	"fmt"
	"sync"

	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/tensor"
)

// Half-precision MatMul and Gemm against a constant weight: a bfloat16 B
// is packed once at Build for the bfloat16 GEMM (VDPBF16PS where the CPU
// has it), a float16 B is widened to float32 and packed once for the
// float32 GEMM. At run time A (and a Gemm's C, a fused bias) is widened
// into pooled float32 scratch — exact for both types — and the float32
// result rounded once to the output type, to nearest even.

// linalgHalfB is a constant bfloat16 or float16 B prepared at Build: one
// packed matrix per batch item.
type linalgHalfB struct {
	bf  []*gemm.PackedBF16 // bfloat16 B
	f32 []*gemm.PackedB    // float16 B, widened
}

// linalgPrepHalfB prepares cb, a constant whose trailing matrices are
// op(B) k×n (stored n×k when trans), or returns nil when cb is not a
// non-empty bfloat16 or float16 tensor.
func linalgPrepHalfB(cb *tensor.Tensor, k, n int, trans bool) *linalgHalfB {
	if cb == nil || k <= 0 || n <= 0 || cb.Len() == 0 {
		return nil
	}
	nb := cb.Len() / (k * n)
	stride := n
	if trans {
		stride = k
	}
	h := &linalgHalfB{}
	switch d := cb.Data.(type) {
	case []tensor.BF16:
		bits := make([]uint16, k*n)
		for i := 0; i < nb; i++ {
			for j := range bits {
				bits[j] = uint16(d[i*k*n+j])
			}
			h.bf = append(h.bf, gemm.PackBF16Bits(k, n, bits, stride, trans))
		}
	case []tensor.F16:
		w := make([]float32, k*n)
		for i := 0; i < nb; i++ {
			for j := range w {
				w[j] = d[i*k*n+j].Float32()
			}
			h.f32 = append(h.f32, gemm.PackB(k, n, gemm.Matrix{Data: w, Stride: stride, Trans: trans}))
		}
	default:
		return nil
	}
	return h
}

// gemm computes y = alpha·op(a)·B_i + beta·y followed by ep, split across
// c's threads.
func (h *linalgHalfB) gemm(c *Context, m int, alpha float32, a gemm.Matrix, i int, beta float32, y []float32, ldc int, ep *gemm.Epilogue) {
	o := c.gemmOptions(ep)
	if h.bf != nil {
		gemm.GemmBF16PackedB(m, alpha, a, h.bf[i], beta, y, ldc, &o)
		return
	}
	gemm.GemmPackedB(m, alpha, a, h.f32[i], beta, y, ldc, &o)
}

// linalgHalfPool holds float32 scratch (*[]float32) for the widened
// operands and the float32 result.
var linalgHalfPool sync.Pool

func linalgHalfGet(n int) *[]float32 {
	p, _ := linalgHalfPool.Get().(*[]float32)
	if p == nil {
		p = new([]float32)
	}
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// linalgWiden writes t's bfloat16 or float16 values into dst as float32.
func linalgWiden(dst []float32, t *tensor.Tensor) {
	switch d := t.Data.(type) {
	case []tensor.BF16:
		dst = dst[:len(d)]
		for i, v := range d {
			dst[i] = v.Float32()
		}
	case []tensor.F16:
		dst = dst[:len(d)]
		for i, v := range d {
			dst[i] = v.Float32()
		}
	default:
		panic(fmt.Sprintf("linalgWiden of %v", t.DType))
	}
}

// runHalf computes the MatMul of a (the type of the constant B) with the
// prepared B, plus bias (nil, or a vector over the last dimension, of a's
// type) and ep's activation.
func (k *linalgMatMulKernel) runHalf(c *Context, a, bias *tensor.Tensor, ep *gemm.Epilogue) ([]*tensor.Tensor, error) {
	p, err := k.shapePlan(a.Shape, k.constB.Shape)
	if err != nil {
		return nil, err
	}
	y := c.AllocRaw(a.DType, p.out...)
	na, ny, nbias := a.Len(), y.Len(), 0
	if bias != nil {
		nbias = bias.Len()
	}
	buf := linalgHalfGet(na + ny + nbias)
	a32, y32, b32 := (*buf)[:na], (*buf)[na:na+ny], (*buf)[na+ny:]
	linalgWiden(a32, a)
	var e gemm.Epilogue
	if ep != nil {
		e = *ep
	}
	if bias != nil {
		linalgWiden(b32, bias)
		e.Bias = b32
	}
	if p.aOff == nil {
		k.half.gemm(c, p.foldM, 1, gemm.Matrix{Data: a32, Stride: p.K}, 0, 0, y32, p.N, &e)
	} else {
		for i, co := range p.cOff {
			k.half.gemm(c, p.M, 1, gemm.Matrix{Data: a32[p.aOff[i]:], Stride: p.K}, p.bIdx[i], 0, y32[co:], p.N, &e)
		}
	}
	linalgStoreF32(y, y32)
	linalgHalfPool.Put(buf)
	return c.Outs(y), nil
}

// runHalf computes Gemm for a (M×K after transA) of the constant B's type
// against the prepared B, with cin (nil or of a's type, checked to
// broadcast to M×N) and the fused activation in the epilogue.
func (k *linalgGemmKernel) runHalf(c *Context, M, N int, a, cin *tensor.Tensor) ([]*tensor.Tensor, error) {
	y := c.AllocRaw(a.DType, M, N)
	na, ny, nc := a.Len(), M*N, 0
	if cin != nil {
		nc = cin.Len()
	}
	buf := linalgHalfGet(na + ny + nc)
	a32, y32, c32 := (*buf)[:na], (*buf)[na:na+ny], (*buf)[na+ny:]
	linalgWiden(a32, a)
	ep := k.act.epilogue()
	beta := float32(0)
	if cin != nil {
		linalgWiden(c32, cin)
		beta = k.epilogueC(M, N, c32, cin.Shape, y32, &ep)
	}
	am := gemm.Matrix{Data: a32, Stride: a.Shape[1], Trans: k.transA}
	k.half.gemm(c, M, k.alpha, am, 0, beta, y32, N, &ep)
	linalgStoreF32(y, y32)
	linalgHalfPool.Put(buf)
	return c.Outs(y), nil
}

// linalgHideHalfB returns b with a constant half-precision B (input 1)
// hidden, for the reference kernel of a fused node whose fast kernel
// already holds B prepared: the reference, which only sees unusual
// shapes, then keeps no second packed copy.
func linalgHideHalfB(b *Build) *Build {
	if b.Const == nil {
		return b
	}
	cb := b.Const(1)
	if cb == nil || (cb.DType != tensor.BFloat16 && cb.DType != tensor.Float16) {
		return b
	}
	hb := *b
	hb.Const = func(i int) *tensor.Tensor {
		if i == 1 {
			return nil
		}
		return b.Const(i)
	}
	return &hb
}
