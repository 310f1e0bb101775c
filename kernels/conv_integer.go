package kernels

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// ConvInteger: Conv over uint8/int8 inputs with zero points, accumulating
// in int32. Zero points are subtracted up front (so padding contributes
// zero) and the int32 im2col+GEMM path of Conv does the rest.

func init() {
	register("ConvInteger", newConvInteger)
}

func newConvInteger(b *Build) (any, error) {
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
			return nil, fmt.Errorf("ConvInteger needs inputs x and w")
		}
		x, wt := in[0], in[1]
		p, err := nnConvSetup(&w, group, x.Shape, wt.Shape)
		if err != nil {
			return nil, err
		}
		var xzp, wzp *tensor.Tensor
		if len(in) > 2 {
			xzp = in[2]
		}
		if len(in) > 3 {
			wzp = in[3]
		}
		xi, err := nnInt32Shifted(x, xzp, 1, "x")
		if err != nil {
			return nil, err
		}
		wi, err := nnInt32Shifted(wt, wzp, p.m, "w")
		if err != nil {
			return nil, err
		}
		y := c.Alloc(tensor.Int32, p.outShape...)
		nnConvRun(c, p, xi, wi, nil, y.Data.([]int32))
		return c.Outs(y), nil
	}), nil
}

// nnInt32Shifted widens a uint8/int8 tensor to int32 and subtracts its zero
// point, a scalar or (when perRow > 1) one value per leading-axis row.
func nnInt32Shifted(t, zp *tensor.Tensor, perRow int, name string) ([]int32, error) {
	if t.DType != tensor.Uint8 && t.DType != tensor.Int8 {
		return nil, fmt.Errorf("ConvInteger input %s of %v: %w", name, t.DType, ErrUnsupported)
	}
	v, _ := Int64s(t)
	out := make([]int32, len(v))
	zs := []int64{0}
	if zp != nil {
		if zp.DType != t.DType {
			return nil, fmt.Errorf("%s_zero_point is %v, want %v like %s", name, zp.DType, t.DType, name)
		}
		zs, _ = Int64s(zp)
		if len(zs) != 1 && len(zs) != perRow {
			return nil, fmt.Errorf("%s_zero_point has shape %v, want a scalar or %d values", name, zp.Shape, perRow)
		}
	}
	row := len(v) / max(perRow, 1)
	for i, x := range v {
		z := zs[0]
		if len(zs) > 1 {
			z = zs[i/row]
		}
		out[i] = int32(x - z)
	}
	return out, nil
}
