package kernels

// Optimizer ops of the ai.onnx.preview.training domain: Adagrad, Adam and
// Momentum (standard and Nesterov). Each updates n tensors at once; the
// inputs are R, T, then n tensors of each kind (X…, G…, then the state
// tensors), the outputs the new X… then the new state tensors. State
// tensors must have X's shape. Arithmetic is in float64, rounded once to
// each output's type.

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func init() {
	Default.Register(Spec{Domain: ir.DomainTraining, Op: "Adagrad", New: newAdagrad})
	Default.Register(Spec{Domain: ir.DomainTraining, Op: "Adam", New: newAdam})
	Default.Register(Spec{Domain: ir.DomainTraining, Op: "Momentum", New: newMomentum})
}

// miscOptimizer is the shared frame of the three ops: per is the number
// of tensors per optimized variable (X, G and the states), states the
// number of state outputs per variable, step the elementwise update,
// which reads one value of each input kind and writes X_new and the new
// states.
type miscOptimizer struct {
	per, nvars, nout int
	step             func(r float64, t int64, in []float64, out []float64)
}

func miscNewOptimizer(b *Build, per int, step func(r float64, t int64, in, out []float64)) (any, error) {
	nin := len(b.Node.Inputs)
	if nin < 2+per || (nin-2)%per != 0 {
		return nil, fmt.Errorf("got %d inputs, want R, T and %d tensors per optimized variable", nin, per)
	}
	k := &miscOptimizer{per: per, nvars: (nin - 2) / per, nout: len(b.Node.Outputs), step: step}
	if k.nout > k.nvars*(per-1) {
		return nil, fmt.Errorf("got %d outputs, at most %d for %d optimized variables", k.nout, k.nvars*(per-1), k.nvars)
	}
	return KernelFunc(k.run), nil
}

func (k *miscOptimizer) run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 2+k.per*k.nvars {
		return nil, fmt.Errorf("got %d inputs, want %d", len(in), 2+k.per*k.nvars)
	}
	if in[0] == nil || (in[0].DType != tensor.Float32 && in[0].DType != tensor.Float64) {
		return nil, fmt.Errorf("input R must be a float or double scalar")
	}
	r, err := miscScalarFloat(in[0], "R")
	if err != nil {
		return nil, err
	}
	if in[1] == nil || in[1].DType != tensor.Int64 {
		return nil, fmt.Errorf("input T must be an int64 scalar")
	}
	t, err := miscScalarInt(in[1], "T")
	if err != nil {
		return nil, err
	}
	outs := make([]*tensor.Tensor, k.nout)
	vals := make([][]float64, k.per)
	res := make([][]float64, k.per-1)
	for v := 0; v < k.nvars; v++ {
		x := in[2+v]
		for j := 0; j < k.per; j++ {
			tj := in[2+j*k.nvars+v]
			if tj == nil {
				return nil, fmt.Errorf("input %d is missing", 2+j*k.nvars+v)
			}
			if tj.DType != tensor.Float32 && tj.DType != tensor.Float64 {
				return nil, fmt.Errorf("input %d has type %v, want float or double", 2+j*k.nvars+v, tj.DType)
			}
			if !tensor.EqualShapes(tj.Shape, x.Shape) {
				return nil, fmt.Errorf("input %d has shape %v, want the shape %v of the variable it belongs to", 2+j*k.nvars+v, tj.Shape, x.Shape)
			}
			if vals[j], err = Float64s(tj); err != nil {
				return nil, err
			}
		}
		n := x.Len()
		for j := range res {
			res[j] = make([]float64, n)
		}
		iv := make([]float64, k.per)
		ov := make([]float64, k.per-1)
		for e := 0; e < n; e++ {
			for j := range iv {
				iv[j] = vals[j][e]
			}
			k.step(r, t, iv, ov)
			for j := range ov {
				res[j][e] = ov[j]
			}
		}
		// Output j*nvars+v is X_new (j = 0) or the state whose input is
		// 2+(j+1)*nvars+v.
		for j := range res {
			oi := j*k.nvars + v
			if oi >= k.nout {
				continue
			}
			src := x
			if j > 0 {
				src = in[2+(j+1)*k.nvars+v]
			}
			o := c.Alloc(src.DType, x.Shape...)
			if err := miscWriteF64(o, res[j]); err != nil {
				return nil, err
			}
			outs[oi] = o
		}
	}
	return outs, nil
}

func newAdagrad(b *Build) (any, error) {
	a := b.Attrs()
	decay := float64(a.Float("decay_factor", 0))
	eps := float64(a.Float("epsilon", 0))
	norm := float64(a.Float("norm_coefficient", 0))
	if err := a.Err(); err != nil {
		return nil, err
	}
	// in: X, G, H; out: X_new, H_new.
	return miscNewOptimizer(b, 3, func(r float64, t int64, in, out []float64) {
		x, g, h := in[0], in[1], in[2]
		rr := r / (1 + float64(t)*decay)
		gr := norm*x + g
		hn := h + gr*gr
		out[0] = x - rr*gr/(math.Sqrt(hn)+eps)
		out[1] = hn
	})
}

func newAdam(b *Build) (any, error) {
	a := b.Attrs()
	alpha := float64(a.Float("alpha", 0.9))
	beta := float64(a.Float("beta", 0.999))
	eps := float64(a.Float("epsilon", 0))
	norm := float64(a.Float("norm_coefficient", 0))
	post := float64(a.Float("norm_coefficient_post", 0))
	if err := a.Err(); err != nil {
		return nil, err
	}
	// in: X, G, V, H; out: X_new, V_new, H_new.
	return miscNewOptimizer(b, 4, func(r float64, t int64, in, out []float64) {
		x, g, v, h := in[0], in[1], in[2], in[3]
		gr := norm*x + g
		vn := alpha*v + (1-alpha)*gr
		hn := beta*h + (1-beta)*gr*gr
		ra := r
		if t > 0 {
			ra = r * math.Sqrt(1-math.Pow(beta, float64(t))) / (1 - math.Pow(alpha, float64(t)))
		}
		xn := x - ra*vn/(math.Sqrt(hn)+eps)
		out[0] = (1 - post) * xn
		out[1] = vn
		out[2] = hn
	})
}

func newMomentum(b *Build) (any, error) {
	a := b.Attrs()
	for _, name := range []string{"alpha", "beta", "mode", "norm_coefficient"} {
		if !a.Has(name) {
			a.Fail(fmt.Errorf("required attribute %q is missing", name))
		}
	}
	alpha := float64(a.Float("alpha", 0))
	beta := float64(a.Float("beta", 0))
	norm := float64(a.Float("norm_coefficient", 0))
	mode := a.String("mode", "")
	if err := a.Err(); err != nil {
		return nil, err
	}
	var nesterov bool
	switch mode {
	case "standard":
	case "nesterov":
		nesterov = true
	default:
		return nil, fmt.Errorf("mode %q is invalid, want \"standard\" or \"nesterov\"", mode)
	}
	// in: X, G, V; out: X_new, V_new.
	return miscNewOptimizer(b, 3, func(r float64, t int64, in, out []float64) {
		x, g, v := in[0], in[1], in[2]
		gr := norm*x + g
		ba := beta
		if t <= 0 {
			ba = 1
		}
		vn := alpha*v + ba*gr
		if nesterov {
			out[0] = x - r*(gr+alpha*vn)
		} else {
			out[0] = x - r*vn
		}
		out[1] = vn
	})
}
