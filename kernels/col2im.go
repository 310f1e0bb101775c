package kernels

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// Col2Im (opset 18): the inverse rearrangement of im2col, summing
// overlapping block entries into the image (PyTorch's fold).

func init() {
	register("Col2Im", newCol2Im)
}

func newCol2Im(b *Build) (any, error) {
	a := b.Attrs()
	w := nnReadWindow(a, false)
	for _, v := range w.pads {
		if v < 0 {
			a.Fail(fmt.Errorf("pads %v has a negative value", w.pads))
		}
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
			return nil, fmt.Errorf("Col2Im needs inputs input, image_shape and block_shape")
		}
		x := in[0]
		img, err := Int64s(in[1])
		if err != nil {
			return nil, fmt.Errorf("image_shape: %w", err)
		}
		blk, err := Int64s(in[2])
		if err != nil {
			return nil, fmt.Errorf("block_shape: %w", err)
		}
		nd := len(img)
		if nd == 0 || len(blk) != nd {
			return nil, fmt.Errorf("image_shape %v and block_shape %v must be non-empty and of equal length", img, blk)
		}
		if x.Rank() != 3 {
			return nil, fmt.Errorf("input has shape %v, want [N, C*prod(block_shape), L]", x.Shape)
		}
		is, ks := nnInts(img), nnInts(blk)
		for i := range nd {
			if is[i] <= 0 || ks[i] <= 0 {
				return nil, fmt.Errorf("image_shape %v and block_shape %v must be positive", img, blk)
			}
		}
		K := nnProd(ks)
		if x.Shape[1]%K != 0 {
			return nil, fmt.Errorf("input has shape %v: dimension 1 is not a multiple of the block size %d", x.Shape, K)
		}
		g, err := w.geom(is, ks)
		if err != nil {
			return nil, err
		}
		L := nnProd(g.out)
		if x.Shape[2] != L {
			return nil, fmt.Errorf("input has %d blocks, want %d for image %v, block %v", x.Shape[2], L, img, blk)
		}
		N, C := x.Shape[0], x.Shape[1]/K
		y := c.Alloc(x.DType, append([]int{N, C}, is...)...)
		inP, colN := nnProd(is), K*L
		run := func(col, out any) bool {
			switch cv := col.(type) {
			case []float32:
				nnCol2imBatch(c, cv, out.([]float32), g, N, C, colN, inP)
			case []float64:
				nnCol2imBatch(c, cv, out.([]float64), g, N, C, colN, inP)
			case []int32:
				nnCol2imBatch(c, cv, out.([]int32), g, N, C, colN, inP)
			default:
				return false
			}
			return true
		}
		switch x.DType {
		case tensor.Float32, tensor.Float64, tensor.Int32:
			run(x.Data, y.Data)
		case tensor.Float16, tensor.BFloat16:
			xf, _ := Float32s(x)
			yf := make([]float32, y.Len())
			run(xf, yf)
			nnStoreF32(y, yf)
		default:
			if !x.DType.IsInt() {
				return nil, fmt.Errorf("Col2Im of %v: %w", x.DType, ErrUnsupported)
			}
			xf, _ := Float64s(x)
			yf := make([]float64, y.Len())
			run(xf, yf)
			nnStoreRounded(y, yf)
		}
		return c.Outs(y), nil
	}), nil
}

func nnCol2imBatch[T nnNum](c *Context, x, y []T, g *nnGeom, N, C, colN, inP int) {
	c.Parallel(N*C, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			nnCol2im(x[u*colN:(u+1)*colN], g, y[u*inP:(u+1)*inP], 0, 1)
		}
	})
}
