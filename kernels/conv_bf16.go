package kernels

import (
	"sync/atomic"

	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/tensor"
)

// nnConvHalfW is a constant float16 or bfloat16 Conv filter widened to
// float32 and packed once at Build, so that runs convert only X.
type nnConvHalfW struct {
	w      *tensor.Tensor  // the constant filter
	wf     []float32       // w widened
	packed []*gemm.PackedA // wf packed per group (nil when depthwise)
	// packedT is wf's transpose packed for the NHWC orientation, on the
	// first run that takes it.
	packedT atomic.Pointer[gemm.PackedB]
}

// nnPrepHalfW prepares cw if it is a float16 or bfloat16 filter.
func nnPrepHalfW(cw *tensor.Tensor, group int) *nnConvHalfW {
	if cw == nil || (cw.DType != tensor.Float16 && cw.DType != tensor.BFloat16) || cw.Rank() < 3 || cw.Len() == 0 {
		return nil
	}
	wf := make([]float32, cw.Len())
	linalgWiden(wf, cw)
	return &nnConvHalfW{w: cw, wf: wf, packed: nnPackFilter(wf, cw.Shape, group)}
}

// runHalf computes the convolution of x (of the filter's type) with the
// prepared filter in float32, in pooled scratch, then FusedConv's
// epilogue ep (nil for Conv) with the residual z (nil for none), rounding
// the result once into y.
func (h *nnConvHalfW) runHalf(c *Context, p *nnConvParams, x, bias, z, y *tensor.Tensor, ep *nnConvEpilogue) {
	nx, ny, nb, nz := x.Len(), y.Len(), 0, 0
	if bias != nil {
		nb = bias.Len()
	}
	if z != nil {
		nz = z.Len()
	}
	buf := linalgHalfGet(nx + ny + nb + nz)
	x32, y32 := (*buf)[:nx], (*buf)[nx:nx+ny]
	linalgWiden(x32, x)
	clear(y32)
	var b32 []float32
	if bias != nil {
		b32 = (*buf)[nx+ny : nx+ny+nb]
		linalgWiden(b32, bias)
	}
	if z != nil {
		z32 := (*buf)[nx+ny+nb:]
		linalgWiden(z32, z)
		ep.residual = z32
	}
	var packedT *gemm.PackedB
	if p.nhwc {
		if packedT = h.packedT.Load(); packedT == nil {
			packedT = nnPackFilterT(h.wf, p)
			h.packedT.Store(packedT)
		}
	}
	nnConvF32(c, p, x32, h.wf, h.packed, packedT, b32, y32, ep)
	nnStoreF32(y, y32)
	linalgHalfPool.Put(buf)
}

// halfW reports whether a float16/bfloat16 X runs against the constant
// filter prepared at Build.
func (k *nnConvKernel) halfW(x, wt *tensor.Tensor) bool {
	return k.half != nil && wt == k.half.w && (x.DType == tensor.Float16 || x.DType == tensor.BFloat16)
}
