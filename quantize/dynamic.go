package quantize

import (
	"fmt"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// linearWeight is the [K, N] weight of a MatMul or Gemm, read out of the
// node: y = alpha·(x·W) + beta·C.
type linearWeight struct {
	name        string    // the initializer
	w           []float32 // [K, N], row-major (transposed from Gemm's transB)
	k, n        int
	alpha, beta float32
	bias        string // Gemm's C, or ""
}

// readLinear returns n's weight if n is a MatMul with a constant 2-D
// float32 B, or a Gemm without transA and with a constant B; otherwise
// the reason it is not.
func readLinear(x *graphIndex, types map[string]ir.Type, n *ir.Node) (*linearWeight, string) {
	if !isFloat32(types, n.Input(0)) || x.constant(n.Input(0)) != nil {
		return nil, fmt.Sprintf("input %q is not a float32 activation", n.Input(0))
	}
	w := x.constant(n.Input(1))
	if w == nil || w.DType != tensor.Float32 || w.Rank() != 2 {
		return nil, fmt.Sprintf("weight %q is not a constant 2-D float32 tensor", n.Input(1))
	}
	lw := &linearWeight{name: n.Input(1), w: w.Data.([]float32), k: w.Shape[0], n: w.Shape[1], alpha: 1, beta: 1}
	if n.OpType == "Gemm" {
		a := ir.Attrs(n)
		transA, transB := a.Int("transA", 0), a.Int("transB", 0)
		lw.alpha, lw.beta = a.Float("alpha", 1), a.Float("beta", 1)
		if err := a.Err(); err != nil {
			return nil, err.Error()
		}
		if transA != 0 {
			return nil, "Gemm with transA is left in float"
		}
		if transB != 0 {
			lw.k, lw.n = w.Shape[1], w.Shape[0]
			lw.w = transpose2D(lw.w, w.Shape[0], w.Shape[1])
		}
		lw.bias = n.Input(2)
		if lw.bias != "" && lw.beta != 1 && x.constant(lw.bias) == nil {
			return nil, "Gemm with beta ≠ 1 and a non-constant C is left in float"
		}
	}
	return lw, ""
}

// transpose2D returns the transpose of the r×c matrix v.
func transpose2D(v []float32, r, c int) []float32 {
	out := make([]float32, len(v))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = v[i*c+j]
		}
	}
	return out
}

// biasInput returns the name of Gemm's C scaled by beta: C itself when
// beta is 1, else a new initializer.
func (lw *linearWeight) biasInput(x *graphIndex) (string, error) {
	if lw.bias == "" || lw.beta == 1 {
		return lw.bias, nil
	}
	c := x.constant(lw.bias)
	v, ok := float32Data(c)
	if !ok {
		return "", fmt.Errorf("Gemm C %q is %v, want float32", lw.bias, c)
	}
	s := make([]float32, len(v))
	for i, f := range v {
		s[i] = f * lw.beta
	}
	return x.addInit(lw.bias+"_beta", &tensor.Tensor{DType: tensor.Float32, Shape: slices.Clone(c.Shape), Data: s}), nil
}

func quantizeDynamic(m *ir.Model, opts *Options, rep *Report) error {
	g := m.Graph
	rep.Activations, rep.Weights = tensor.Uint8, tensor.Int8
	types := valueTypes(m)
	x := newGraphIndex(g)
	order, err := topoNodes(g)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	qmax := 127
	if opts.ReduceRange {
		qmax = 63
	}
	type dql struct{ q, scale, zp string }
	quantized := map[string]dql{} // activation → its DynamicQuantizeLinear outputs
	replaced := map[string]bool{}
	var nodes []*ir.Node
	count := 0
	for _, n := range order {
		sel, why := opts.selects(n, []string{"MatMul", "Gemm"})
		if !sel {
			if why != "" {
				rep.Nodes = append(rep.Nodes, NodeResult{Name: n.Name, OpType: n.OpType, Detail: why})
			}
			nodes = append(nodes, n)
			continue
		}
		lw, why := readLinear(x, types, n)
		if lw == nil {
			rep.Nodes = append(rep.Nodes, NodeResult{Name: n.Name, OpType: n.OpType, Detail: why})
			nodes = append(nodes, n)
			continue
		}
		bias, err := lw.biasInput(x)
		if err != nil {
			return fmt.Errorf("quantize: node %s: %w", n, err)
		}
		a := n.Input(0)
		d, ok := quantized[a]
		if !ok {
			d = dql{q: x.unique(a + "_quantized"), scale: x.unique(a + "_scale"), zp: x.unique(a + "_zero_point")}
			nodes = append(nodes, x.newNode("DynamicQuantizeLinear", a+"_DynamicQuantizeLinear", []string{a}, []string{d.q, d.scale, d.zp}))
			quantized[a] = d
		}
		q, s := quantizeSymmetric(lw.w, []int{lw.k, lw.n}, 1, qmax)
		if lw.alpha != 1 {
			for i := range s {
				s[i] *= lw.alpha
			}
		}
		wq := x.addInit(lw.name+"_quantized", &tensor.Tensor{DType: tensor.Int8, Shape: []int{lw.k, lw.n}, Data: q})
		ws := x.addInit(lw.name+"_scale", tensor.FromSlice(s, len(s)))
		replaced[lw.name] = true
		out := n.Outputs[0]
		base := n.Name
		if base == "" {
			base = out
		}
		yi := x.unique(out + "_int32")
		yf := x.unique(out + "_int32_float")
		sc := x.unique(out + "_scale")
		nodes = append(nodes,
			x.newNode("MatMulInteger", base+"_MatMulInteger", []string{d.q, wq, d.zp}, []string{yi}),
			x.newNode("Cast", base+"_Cast", []string{yi}, []string{yf}, intAttr("to", int64(tensor.Float32))),
			x.newNode("Mul", base+"_scale_Mul", []string{d.scale, ws}, []string{sc}))
		if bias == "" {
			nodes = append(nodes, x.newNode("Mul", base+"_Mul", []string{yf, sc}, []string{out}))
		} else {
			scaled := x.unique(out + "_unbiased")
			nodes = append(nodes,
				x.newNode("Mul", base+"_Mul", []string{yf, sc}, []string{scaled}),
				x.newNode("Add", base+"_Add", []string{scaled, bias}, []string{out}))
			if bias != lw.bias {
				replaced[lw.bias] = true
			}
		}
		count++
		rep.Nodes = append(rep.Nodes, NodeResult{Name: n.Name, OpType: n.OpType, Quantized: true,
			Detail: fmt.Sprintf("int8 per-column weight %dx%d, uint8 activation at run time", lw.k, lw.n)})
	}
	if count == 0 {
		return fmt.Errorf("quantize: no MatMul or Gemm with a constant 2-D weight to quantize")
	}
	g.Nodes = nodes
	x.removeUnusedInits(replaced)
	return nil
}
