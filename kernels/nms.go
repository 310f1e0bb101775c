package kernels

// NonMaxSuppression: greedy per-batch, per-class selection of the highest
// scoring boxes, dropping those that overlap an already selected box by
// an IoU strictly above the threshold.

import (
	"fmt"
	"sort"

	"github.com/inferd/inferd/tensor"
)

func init() {
	register("NonMaxSuppression", newNonMaxSuppression)
}

func newNonMaxSuppression(b *Build) (any, error) {
	a := b.Attrs()
	cpb := a.Int("center_point_box", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if cpb != 0 && cpb != 1 {
		return nil, fmt.Errorf("center_point_box is %d, want 0 or 1", cpb)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return miscNMS(c, in, cpb == 1)
	}), nil
}

// miscBox is a box as [ymin, xmin, ymax, xmax] with min <= max.
type miscBox struct{ y1, x1, y2, x2 float64 }

func (b miscBox) area() float64 { return (b.y2 - b.y1) * (b.x2 - b.x1) }

// miscIoUAbove reports whether the IoU of p and q is strictly greater than
// thr; degenerate (zero-area) boxes never suppress.
func miscIoUAbove(p, q miscBox, thr float64) bool {
	iy1, ix1 := max(p.y1, q.y1), max(p.x1, q.x1)
	iy2, ix2 := min(p.y2, q.y2), min(p.x2, q.x2)
	if iy2 <= iy1 || ix2 <= ix1 {
		return false
	}
	inter := (iy2 - iy1) * (ix2 - ix1)
	ap, aq := p.area(), q.area()
	if ap <= 0 || aq <= 0 {
		return false
	}
	union := ap + aq - inter
	if union <= 0 {
		return false
	}
	return inter/union > thr
}

func miscNMS(c *Context, in []*tensor.Tensor, centerPoint bool) ([]*tensor.Tensor, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("inputs boxes and scores are required")
	}
	boxes, scores := in[0], in[1]
	if boxes.Rank() != 3 || boxes.Shape[2] != 4 {
		return nil, fmt.Errorf("boxes has shape %v, want [num_batches, spatial_dimension, 4]", boxes.Shape)
	}
	if scores.Rank() != 3 {
		return nil, fmt.Errorf("scores has shape %v, want [num_batches, num_classes, spatial_dimension]", scores.Shape)
	}
	nb, nbox := boxes.Shape[0], boxes.Shape[1]
	if scores.Shape[0] != nb || scores.Shape[2] != nbox {
		return nil, fmt.Errorf("scores has shape %v, want [%d, num_classes, %d] to match boxes %v", scores.Shape, nb, nbox, boxes.Shape)
	}
	ncls := scores.Shape[1]
	var maxOut int64
	if len(in) > 2 && in[2] != nil && in[2].Len() > 0 {
		v, err := miscScalarInt(in[2], "max_output_boxes_per_class")
		if err != nil {
			return nil, err
		}
		maxOut = max(v, 0)
	}
	iouThr := 0.0
	if len(in) > 3 && in[3] != nil && in[3].Len() > 0 {
		v, err := miscScalarFloat(in[3], "iou_threshold")
		if err != nil {
			return nil, err
		}
		if v < 0 || v > 1 {
			return nil, fmt.Errorf("iou_threshold is %g, want a value in [0, 1]", v)
		}
		iouThr = v
	}
	useScoreThr, scoreThr := false, 0.0
	if len(in) > 4 && in[4] != nil && in[4].Len() > 0 {
		v, err := miscScalarFloat(in[4], "score_threshold")
		if err != nil {
			return nil, err
		}
		useScoreThr, scoreThr = true, v
	}
	bx, err := Float64s(boxes)
	if err != nil {
		return nil, fmt.Errorf("boxes: %w", err)
	}
	sc, err := Float64s(scores)
	if err != nil {
		return nil, fmt.Errorf("scores: %w", err)
	}
	// Normalise every box to corner form once.
	norm := make([]miscBox, nb*nbox)
	for i := range norm {
		v := bx[4*i : 4*i+4]
		var bb miscBox
		if centerPoint {
			// [x_center, y_center, width, height]
			hw, hh := v[2]/2, v[3]/2
			bb = miscBox{y1: v[1] - hh, x1: v[0] - hw, y2: v[1] + hh, x2: v[0] + hw}
		} else {
			// [y1, x1, y2, x2], any diagonal pair of corners.
			bb = miscBox{y1: min(v[0], v[2]), x1: min(v[1], v[3]), y2: max(v[0], v[2]), x2: max(v[1], v[3])}
		}
		if bb.y1 > bb.y2 { // negative height or width in center form
			bb.y1, bb.y2 = bb.y2, bb.y1
		}
		if bb.x1 > bb.x2 {
			bb.x1, bb.x2 = bb.x2, bb.x1
		}
		norm[i] = bb
	}
	// Each (batch, class) pair is independent: run them in parallel and
	// concatenate the selections in batch, class order.
	sel := make([][]int, nb*ncls)
	if maxOut > 0 {
		c.Parallel(nb*ncls, func(lo, hi int) {
			cand := make([]int, 0, nbox)
			for bc := lo; bc < hi; bc++ {
				bi := bc / ncls
				s := sc[bc*nbox : (bc+1)*nbox]
				bbs := norm[bi*nbox : (bi+1)*nbox]
				cand = cand[:0]
				for i, v := range s {
					if !useScoreThr || v > scoreThr {
						cand = append(cand, i)
					}
				}
				// Highest score first; ties keep the lower box index first.
				sort.SliceStable(cand, func(p, q int) bool { return s[cand[p]] > s[cand[q]] })
				var picked []int
				for _, i := range cand {
					if int64(len(picked)) >= maxOut {
						break
					}
					keep := true
					for _, j := range picked {
						if miscIoUAbove(bbs[i], bbs[j], iouThr) {
							keep = false
							break
						}
					}
					if keep {
						picked = append(picked, i)
					}
				}
				sel[bc] = picked
			}
		})
	}
	total := 0
	for _, p := range sel {
		total += len(p)
	}
	out := c.Alloc(tensor.Int64, total, 3)
	ys := out.Data.([]int64)
	k := 0
	for bc, p := range sel {
		for _, i := range p {
			ys[k], ys[k+1], ys[k+2] = int64(bc/ncls), int64(bc%ncls), int64(i)
			k += 3
		}
	}
	return c.Outs(out), nil
}
