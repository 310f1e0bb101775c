package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/tensor"
)

// RoiAlign (opsets 10 and 16): bilinear sampling of regularly spaced points
// in each bin of each region of interest, averaged (avg) or maxed (max).
// As in the ONNX reference and onnxruntime, max mode takes the largest of
// the four weighted corner values of each sample point.

func init() {
	register("RoiAlign", newRoiAlign)
}

func newRoiAlign(b *Build) (any, error) {
	a := b.Attrs()
	defCoord := "half_pixel"
	if b.Opset < 16 {
		defCoord = "output_half_pixel"
	}
	coord := a.String("coordinate_transformation_mode", defCoord)
	mode := a.String("mode", "avg")
	oh := int(a.Int("output_height", 1))
	ow := int(a.Int("output_width", 1))
	ratio := int(a.Int("sampling_ratio", 0))
	scale := float64(a.Float("spatial_scale", 1))
	if coord != "half_pixel" && coord != "output_half_pixel" {
		a.Fail(fmt.Errorf("coordinate_transformation_mode %q is not half_pixel or output_half_pixel", coord))
	}
	if mode != "avg" && mode != "max" {
		a.Fail(fmt.Errorf("mode %q is not avg or max", mode))
	}
	if oh <= 0 || ow <= 0 {
		a.Fail(fmt.Errorf("output_height %d and output_width %d must be positive", oh, ow))
	}
	if ratio < 0 {
		a.Fail(fmt.Errorf("sampling_ratio %d is negative", ratio))
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	halfPixel := coord == "half_pixel"
	isMax := mode == "max"
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
			return nil, fmt.Errorf("RoiAlign needs inputs X, rois and batch_indices")
		}
		x, rois, bidx := in[0], in[1], in[2]
		if x.Rank() != 4 {
			return nil, fmt.Errorf("input X has shape %v, want rank 4", x.Shape)
		}
		if !x.DType.IsFloat() {
			return nil, fmt.Errorf("RoiAlign of %v: %w", x.DType, ErrUnsupported)
		}
		if rois.Rank() != 2 || rois.Shape[1] != 4 {
			return nil, fmt.Errorf("rois has shape %v, want [num_rois, 4]", rois.Shape)
		}
		R := rois.Shape[0]
		if bidx.Rank() != 1 || bidx.Shape[0] != R {
			return nil, fmt.Errorf("batch_indices has shape %v, want [%d]", bidx.Shape, R)
		}
		xv, err := Float64s(x)
		if err != nil {
			return nil, err
		}
		rv, err := Float64s(rois)
		if err != nil {
			return nil, fmt.Errorf("rois: %w", err)
		}
		bv, err := Int64s(bidx)
		if err != nil {
			return nil, fmt.Errorf("batch_indices: %w", err)
		}
		N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		for r, b := range bv {
			if b < 0 || b >= int64(N) {
				return nil, fmt.Errorf("batch_indices[%d] = %d, want [0, %d)", r, b, N)
			}
		}
		out := make([]float64, R*C*oh*ow)
		c.Parallel(R, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				nnRoiAlignOne(xv[int(bv[r])*C*H*W:(int(bv[r])+1)*C*H*W], C, H, W, rv[r*4:r*4+4], scale, halfPixel,
					isMax, ratio, oh, ow, out[r*C*oh*ow:(r+1)*C*oh*ow])
			}
		})
		y := c.Alloc(x.DType, R, C, oh, ow)
		nnStoreRounded(y, out)
		return c.Outs(y), nil
	}), nil
}

// nnRoiSample is one bilinear sample point: four input offsets and weights.
type nnRoiSample struct {
	p [4]int
	w [4]float64
}

func nnRoiAlignOne(x []float64, C, H, W int, roi []float64, scale float64, halfPixel, isMax bool, ratio, oh, ow int, out []float64) {
	off := 0.0
	if halfPixel {
		off = 0.5
	}
	sw, sh := roi[0]*scale-off, roi[1]*scale-off
	ew, eh := roi[2]*scale-off, roi[3]*scale-off
	rw, rh := ew-sw, eh-sh
	if !halfPixel {
		rw, rh = max(rw, 1), max(rh, 1)
	}
	bh, bw := rh/float64(oh), rw/float64(ow)
	gh, gw := ratio, ratio
	if ratio <= 0 {
		gh, gw = int(math.Ceil(rh/float64(oh))), int(math.Ceil(rw/float64(ow)))
	}
	gh, gw = max(gh, 0), max(gw, 0)
	count := float64(max(gh*gw, 1))
	samples := make([]nnRoiSample, oh*ow*gh*gw)
	k := 0
	for ph := 0; ph < oh; ph++ {
		for pw := 0; pw < ow; pw++ {
			for iy := 0; iy < gh; iy++ {
				y := sh + float64(ph)*bh + (float64(iy)+0.5)*bh/float64(gh)
				for ix := 0; ix < gw; ix++ {
					xx := sw + float64(pw)*bw + (float64(ix)+0.5)*bw/float64(gw)
					s := &samples[k]
					k++
					if y < -1 || y > float64(H) || xx < -1 || xx > float64(W) {
						continue // all weights zero
					}
					yy, xc := max(y, 0), max(xx, 0)
					yl, xl := int(yy), int(xc)
					var yh, xh int
					if yl >= H-1 {
						yl, yh, yy = H-1, H-1, float64(H-1)
					} else {
						yh = yl + 1
					}
					if xl >= W-1 {
						xl, xh, xc = W-1, W-1, float64(W-1)
					} else {
						xh = xl + 1
					}
					ly, lx := yy-float64(yl), xc-float64(xl)
					hy, hx := 1-ly, 1-lx
					s.p = [4]int{yl*W + xl, yl*W + xh, yh*W + xl, yh*W + xh}
					s.w = [4]float64{hy * hx, hy * lx, ly * hx, ly * lx}
				}
			}
		}
	}
	per := gh * gw
	for ch := 0; ch < C; ch++ {
		plane := x[ch*H*W : (ch+1)*H*W]
		for b := 0; b < oh*ow; b++ {
			ss := samples[b*per : (b+1)*per]
			v := 0.0
			if isMax {
				for i, s := range ss {
					m := max(s.w[0]*plane[s.p[0]], s.w[1]*plane[s.p[1]], s.w[2]*plane[s.p[2]], s.w[3]*plane[s.p[3]])
					if i == 0 || m > v {
						v = m
					}
				}
			} else {
				for _, s := range ss {
					v += s.w[0]*plane[s.p[0]] + s.w[1]*plane[s.p[1]] + s.w[2]*plane[s.p[2]] + s.w[3]*plane[s.p[3]]
				}
				v /= count
			}
			out[ch*oh*ow+b] = v
		}
	}
}
