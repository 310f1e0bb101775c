package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/tensor"
)

// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12 on).
// Inputs are (N, C) or (N, C, d1, ..., dk) with targets (N) or
// (N, d1, ..., dk); the loss is computed in float64 and returned in the
// input's type.

func init() {
	register("NegativeLogLikelihoodLoss", newNLLLoss)
	register("SoftmaxCrossEntropyLoss", newSCELoss)
}

type lossReduction int

const (
	lossNone lossReduction = iota
	lossSum
	lossMean
)

type lossAttrs struct {
	reduction lossReduction
	hasIgnore bool
	ignore    int64
}

func lossReadAttrs(b *Build) (lossAttrs, error) {
	a := b.Attrs()
	red := a.String("reduction", "mean")
	la := lossAttrs{hasIgnore: a.Has("ignore_index"), ignore: a.Int("ignore_index", 0)}
	if err := a.Err(); err != nil {
		return la, err
	}
	switch red {
	case "none":
		la.reduction = lossNone
	case "sum":
		la.reduction = lossSum
	case "mean":
		la.reduction = lossMean
	default:
		return la, fmt.Errorf("attribute reduction is %q, want none, sum or mean", red)
	}
	return la, nil
}

func newNLLLoss(b *Build) (any, error) {
	la, err := lossReadAttrs(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("inputs input and target are required")
		}
		x, err := lossFloats(in[0], "input")
		if err != nil {
			return nil, err
		}
		out, err := la.nll(in[0].DType, in[0].Shape, x, in[1], lossOptional(in, 2))
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

func newSCELoss(b *Build) (any, error) {
	la, err := lossReadAttrs(b)
	if err != nil {
		return nil, err
	}
	wantLogProb := len(b.Node.Outputs) > 1 && b.Node.Outputs[1] != ""
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("inputs scores and labels are required")
		}
		sc := in[0]
		if sc.Rank() < 2 {
			return nil, fmt.Errorf("input scores has shape %v, want rank ≥ 2 (N, C, ...)", sc.Shape)
		}
		x, err := lossFloats(sc, "scores")
		if err != nil {
			return nil, err
		}
		// Log-softmax over axis 1.
		n, cls := sc.Shape[0], sc.Shape[1]
		d := 1
		for _, v := range sc.Shape[2:] {
			d *= v
		}
		lp := make([]float64, len(x))
		for i := 0; i < n; i++ {
			for j := 0; j < d; j++ {
				base := i*cls*d + j
				m := math.Inf(-1)
				for k := 0; k < cls; k++ {
					m = math.Max(m, x[base+k*d])
				}
				if math.IsInf(m, 0) {
					m = 0
				}
				s := 0.0
				for k := 0; k < cls; k++ {
					s += math.Exp(x[base+k*d] - m)
				}
				ls := m + math.Log(s)
				for k := 0; k < cls; k++ {
					lp[base+k*d] = x[base+k*d] - ls
				}
			}
		}
		out, err := la.nll(sc.DType, sc.Shape, lp, in[1], lossOptional(in, 2))
		if err != nil {
			return nil, err
		}
		res := []*tensor.Tensor{out}
		if wantLogProb {
			t, err := FromFloat64s(sc.DType, sc.Shape, lp)
			if err != nil {
				return nil, err
			}
			res = append(res, t)
		}
		return res, nil
	}), nil
}

func lossOptional(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

func lossFloats(t *tensor.Tensor, name string) ([]float64, error) {
	if !t.DType.IsFloat() {
		return nil, fmt.Errorf("input %s is %v, want a float type", name, t.DType)
	}
	v, err := Float64s(t)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", name, err)
	}
	return v, nil
}

// nll computes the negative log-likelihood loss of log-probabilities x
// (shape: N, C, d1..dk) against target.
func (la lossAttrs) nll(dt tensor.DType, shape []int, x []float64, target, weight *tensor.Tensor) (*tensor.Tensor, error) {
	if len(shape) < 2 {
		return nil, fmt.Errorf("input has shape %v, want rank ≥ 2 (N, C, ...)", shape)
	}
	n, cls := shape[0], shape[1]
	tshape := append([]int{n}, shape[2:]...)
	if !tensor.EqualShapes(target.Shape, tshape) {
		return nil, fmt.Errorf("target has shape %v, want %v for input shape %v", target.Shape, tshape, shape)
	}
	if target.DType != tensor.Int32 && target.DType != tensor.Int64 {
		return nil, fmt.Errorf("target is %v, want int32 or int64", target.DType)
	}
	tg, _ := Int64s(target)
	var w []float64
	if weight != nil {
		if !tensor.EqualShapes(weight.Shape, []int{cls}) {
			return nil, fmt.Errorf("weight has shape %v, want [%d]", weight.Shape, cls)
		}
		var err error
		if w, err = lossFloats(weight, "weight"); err != nil {
			return nil, err
		}
	}
	d := 1
	for _, v := range shape[2:] {
		d *= v
	}
	loss := make([]float64, n*d)
	wsum, lsum := 0.0, 0.0
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			t := tg[i*d+j]
			if la.hasIgnore && t == la.ignore {
				continue
			}
			if t < 0 || t >= int64(cls) {
				return nil, fmt.Errorf("target value %d at position %d is out of range [0, %d)", t, i*d+j, cls)
			}
			wt := 1.0
			if w != nil {
				wt = w[t]
			}
			l := -x[(i*cls+int(t))*d+j] * wt
			loss[i*d+j] = l
			lsum += l
			wsum += wt
		}
	}
	switch la.reduction {
	case lossNone:
		return FromFloat64s(dt, tshape, loss)
	case lossSum:
		return FromFloat64s(dt, nil, []float64{lsum})
	}
	return FromFloat64s(dt, nil, []float64{lsum / wsum})
}
