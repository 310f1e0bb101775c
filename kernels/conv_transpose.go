package kernels

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// ConvTranspose: the adjoint of Conv, computed per (batch, group) as a GEMM
// of the transposed weight with the input followed by col2im.

func init() {
	register("ConvTranspose", newConvTranspose)
}

func newConvTranspose(b *Build) (any, error) {
	a := b.Attrs()
	w := nnReadWindow(a, false)
	group := int(a.Int("group", 1))
	outPad := nnInts(a.Ints("output_padding", nil))
	outShape := nnInts(a.Ints("output_shape", nil))
	if group <= 0 {
		a.Fail(fmt.Errorf("group %d is not positive", group))
	}
	for _, v := range outPad {
		if v < 0 {
			a.Fail(fmt.Errorf("output_padding %v has a negative value", outPad))
		}
	}
	for _, v := range w.pads {
		if v < 0 {
			a.Fail(fmt.Errorf("pads %v has a negative value", w.pads))
		}
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("ConvTranspose needs inputs X and W")
		}
		x, wt := in[0], in[1]
		var bias *tensor.Tensor
		if len(in) > 2 {
			bias = in[2]
		}
		if wt.DType != x.DType || (bias != nil && bias.DType != x.DType) {
			return nil, fmt.Errorf("inputs have types %v, %v, want one float type", x, wt)
		}
		p, err := nnConvTransposeSetup(&w, group, outPad, outShape, x.Shape, wt.Shape)
		if err != nil {
			return nil, err
		}
		if bias != nil && bias.Len() != p.m {
			return nil, fmt.Errorf("bias B has shape %v, want [%d]", bias.Shape, p.m)
		}
		y := c.Alloc(x.DType, p.outShape...)
		switch x.DType {
		case tensor.Float32:
			nnConvTransposeRun(c, p, x.Data.([]float32), wt.Data.([]float32), nnBias[float32](bias), y.Data.([]float32))
		case tensor.Float64:
			nnConvTransposeRun(c, p, x.Data.([]float64), wt.Data.([]float64), nnBias[float64](bias), y.Data.([]float64))
		case tensor.Float16, tensor.BFloat16:
			xf, _ := Float32s(x)
			wf, _ := Float32s(wt)
			var bf []float32
			if bias != nil {
				bf, _ = Float32s(bias)
			}
			yf := make([]float32, y.Len())
			nnConvTransposeRun(c, p, xf, wf, bf, yf)
			nnStoreF32(y, yf)
		default:
			return nil, fmt.Errorf("ConvTranspose of %v: %w", x.DType, ErrUnsupported)
		}
		return c.Outs(y), nil
	}), nil
}

// nnFloorDiv divides rounding toward negative infinity.
func nnFloorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// nnConvTransposeSetup resolves shapes. In the returned params, n/c/m are
// batch, input channels and output channels, inP the input's spatial size
// and P the output's; g is the geometry of the equivalent forward Conv
// (its "in" is the ConvTranspose output, its "out" the ConvTranspose input).
func nnConvTransposeSetup(w *nnWindow, group int, outPad, outShape, xs, ws []int) (*nnConvParams, error) {
	if len(xs) < 3 {
		return nil, fmt.Errorf("input X has shape %v, want rank ≥ 3 (N, C, spatial...)", xs)
	}
	if len(ws) != len(xs) {
		return nil, fmt.Errorf("weight W has shape %v, want rank %d like X %v", ws, len(xs), xs)
	}
	nd := len(xs) - 2
	if ws[0] != xs[1] {
		return nil, fmt.Errorf("weight W has shape %v, want %d input channels first like X %v", ws, xs[1], xs)
	}
	if xs[1]%group != 0 {
		return nil, fmt.Errorf("group %d does not divide input channels %d", group, xs[1])
	}
	p := &nnConvParams{n: xs[0], c: xs[1], m: ws[1] * group, group: group, cg: xs[1] / group, mg: ws[1]}
	k := ws[2:]
	if w.kernel != nil && !tensor.EqualShapes(w.kernel, k) {
		return nil, fmt.Errorf("kernel_shape %v does not match weight W shape %v", w.kernel, ws)
	}
	s, d, pb, pe, err := w.resolve(nd, k)
	if err != nil {
		return nil, err
	}
	op := outPad
	if op == nil {
		op = make([]int, nd)
	} else if len(op) != nd {
		return nil, fmt.Errorf("output_padding %v does not match %d spatial dimensions", op, nd)
	}
	if len(outShape) == nd+2 {
		outShape = outShape[2:]
	}
	if outShape != nil && len(outShape) != nd {
		return nil, fmt.Errorf("output_shape %v does not match %d spatial dimensions", outShape, nd)
	}
	in := xs[2:]
	out := make([]int, nd)
	for i := range nd {
		ek := (k[i]-1)*d[i] + 1
		natural := s[i]*(in[i]-1) + op[i] + ek
		switch {
		case outShape != nil || w.autoPad == "SAME_UPPER" || w.autoPad == "SAME_LOWER":
			var total int
			if outShape != nil {
				out[i] = outShape[i]
				total = natural - out[i]
			} else {
				out[i] = in[i] * s[i]
				total = max(0, natural-out[i])
			}
			if w.autoPad == "SAME_UPPER" {
				pb[i] = nnFloorDiv(total, 2)
			} else {
				pb[i] = total - nnFloorDiv(total, 2)
			}
			pe[i] = total - pb[i]
		default:
			out[i] = natural - pb[i] - pe[i]
		}
		if out[i] < 0 {
			return nil, fmt.Errorf("output spatial dimension %d would be %d", i, out[i])
		}
	}
	p.g = &nnGeom{in: out, out: in, k: k, s: s, d: d, pb: pb, pe: pe}
	p.K, p.P, p.inP = nnProd(k), nnProd(out), nnProd(in)
	p.outShape = append([]int{p.n, p.m}, out...)
	return p, nil
}

// nnConvTransposeRun computes y = convtranspose(x, w) + bias.
func nnConvTransposeRun[T nnFloat](c *Context, p *nnConvParams, x, w, bias, y []T) {
	units := p.n * p.group
	rows := p.mg * p.K // rows of the column matrix per group
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
	// wt holds each group's weight transposed to (Mg*K) x Cg.
	wt := make([]T, len(w))
	for g := 0; g < p.group; g++ {
		src := w[g*p.cg*rows : (g+1)*p.cg*rows]
		dst := wt[g*p.cg*rows : (g+1)*p.cg*rows]
		for ci := 0; ci < p.cg; ci++ {
			for r := 0; r < rows; r++ {
				dst[r*p.cg+ci] = src[ci*rows+r]
			}
		}
	}
	unit := func(u int, col []T, par bool) {
		n, g := u/p.group, u%p.group
		xg := x[(n*p.c+g*p.cg)*p.inP : (n*p.c+(g+1)*p.cg)*p.inP]
		yg := y[(n*p.m+g*p.mg)*p.P : (n*p.m+(g+1)*p.mg)*p.P]
		wg := wt[g*p.cg*rows : (g+1)*p.cg*rows]
		clear(col)
		if par {
			nnGemmPar(c, rows, p.inP, p.cg, wg, p.cg, xg, p.inP, col, p.inP)
			c.Parallel(p.mg, func(lo, hi int) { nnCol2im(col, p.g, yg, lo, hi) })
		} else {
			nnGemm(rows, p.inP, p.cg, wg, p.cg, xg, p.inP, col, p.inP)
			nnCol2im(col, p.g, yg, 0, p.mg)
		}
	}
	if units > 1 && rows*p.cg*p.inP < 1<<21 {
		c.Parallel(units, func(lo, hi int) {
			col := nnGetBuf[T](rows * p.inP)
			for u := lo; u < hi; u++ {
				unit(u, col, false)
			}
			nnPutBuf(col)
		})
		return
	}
	col := nnGetBuf[T](rows * p.inP)
	for u := range units {
		unit(u, col, true)
	}
	nnPutBuf(col)
}
