package optimize

import (
	"context"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// foldConstants replaces computations whose result is known before the
// model runs by initializers:
//
//   - Constant nodes become initializers;
//   - integer values that shape inference knows element by element (a Shape
//     of a value whose dimensions are known, Gather/Unsqueeze/Concat/Slice
//     and integer arithmetic over them) become initializers, while values
//     over dynamic dimensions stay symbolic;
//   - any other node whose inputs are all constant is run once through
//     Options.Evaluator, unless it draws random numbers, is a quantization
//     op (QDQ models keep their form), or its result would be larger than
//     both the fold limit (DefaultFoldLimit) and its constant inputs.
//
// Values that are graph outputs stay computed by their node.
type foldConstants struct{}

func (foldConstants) Name() string { return "fold-constants" }

func (foldConstants) Run(ctx context.Context, g *Graph) (bool, error) {
	changed := false
	for _, n := range g.Nodes() {
		if err := ctx.Err(); err != nil {
			return changed, err
		}
		if g.Removed(n) || len(n.Subgraphs()) > 0 || anyOutput(g, n) {
			continue
		}
		if isOnnx(n, "Constant") {
			if t := constantValue(n); t != nil && len(n.Outputs) == 1 {
				g.replaceByConstants(n, []*tensor.Tensor{t})
				changed = true
			}
			continue
		}
		if randomOps[n.OpType] || noFoldOps[n.OpType] || ir.CanonicalDomain(n.Domain) == ir.DomainInferd {
			continue
		}
		if outs := knownOutputs(g, n); outs != nil {
			g.replaceByConstants(n, outs)
			changed = true
			continue
		}
		if ok, err := foldByEvaluation(ctx, g, n); err != nil {
			return changed, err
		} else if ok {
			changed = true
		}
	}
	return changed, nil
}

// anyOutput reports whether a node output is a graph output.
func anyOutput(g *Graph, n *ir.Node) bool {
	for _, o := range n.Outputs {
		if g.IsOutput(o) {
			return true
		}
	}
	return false
}

// knownOutputs returns n's outputs if inference knows every element of
// each, as integer tensors of rank 0 or 1.
func knownOutputs(g *Graph, n *ir.Node) []*tensor.Tensor {
	if len(n.Outputs) == 0 {
		return nil
	}
	var outs []*tensor.Tensor
	for _, o := range n.Outputs {
		f := g.lookup(o)
		if o == "" || f == nil || f.vals == nil || f.t.Kind != ir.TensorKind || f.t.Shape == nil || len(f.t.Shape) > 1 {
			return nil
		}
		if len(f.t.Shape) == 1 && (!f.t.Shape[0].Known() || f.t.Shape[0].Value != int64(len(f.vals))) {
			return nil
		}
		if len(f.t.Shape) == 0 && len(f.vals) != 1 {
			return nil
		}
		v := make([]int64, len(f.vals))
		for i, d := range f.vals {
			if !d.Known {
				return nil
			}
			v[i] = d.V
		}
		var t *tensor.Tensor
		switch f.t.DType {
		case tensor.Int64:
			t = tensor.FromSlice(v, len(v))
		case tensor.Int32:
			w := make([]int32, len(v))
			for i, x := range v {
				w[i] = int32(x)
			}
			t = tensor.FromSlice(w, len(w))
		default:
			return nil
		}
		if len(f.t.Shape) == 0 {
			t.Shape = []int{}
		}
		outs = append(outs, t)
	}
	return outs
}

func foldByEvaluation(ctx context.Context, g *Graph, n *ir.Node) (bool, error) {
	ev := g.Options().Evaluator
	if ev == nil || len(n.Inputs) == 0 {
		return false, nil
	}
	in := make([]*tensor.Tensor, len(n.Inputs))
	var inBytes int64
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		t := g.Const(name)
		if t == nil {
			return false, nil
		}
		in[i] = t
		inBytes += tensorBytes(t)
	}
	limit := max(g.Options().foldLimit(), inBytes)
	for _, o := range n.Outputs {
		if s, ok := g.StaticShape(o); ok && isFixedSize(g.DType(o)) {
			if int64(tensor.NumElements(s)*g.DType(o).Size()) > limit {
				return false, nil
			}
		}
	}
	outs, err := ev.Evaluate(ctx, n, g.Model().Opsets, in)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil // the engine will report it, if it is a real problem
	}
	if len(outs) < len(n.Outputs) {
		return false, nil
	}
	for i, o := range n.Outputs {
		if o == "" {
			continue
		}
		if outs[i] == nil || tensorBytes(outs[i]) > limit {
			return false, nil
		}
	}
	g.replaceByConstants(n, outs)
	return true, nil
}

func isFixedSize(dt tensor.DType) bool {
	return dt != tensor.Undefined && dt != tensor.String && dt.Size() > 0
}

// replaceByConstants removes n and makes each of its outputs an
// initializer of the same name.
func (g *Graph) replaceByConstants(n *ir.Node, vals []*tensor.Tensor) {
	g.RemoveNode(n)
	// Drop the constants only n read now, not at the end of the round:
	// folding every weight of a big model (a transposed copy each) must not
	// hold the old and new weights at once.
	for _, in := range n.Inputs {
		if init := g.inits[in]; init != nil && len(g.Consumers(in)) == 0 && !g.IsOutput(in) && !g.IsInput(in) {
			delete(g.inits, in)
			g.G.Initializers = slices.DeleteFunc(g.G.Initializers, func(x *ir.Initializer) bool { return x == init })
		}
	}
	for i, o := range n.Outputs {
		if o == "" || i >= len(vals) {
			continue
		}
		in := &ir.Initializer{Name: o, Tensor: vals[i]}
		g.G.Initializers = append(g.G.Initializers, in)
		g.inits[o] = in
		if g.st.model.IRVersion > 0 && g.st.model.IRVersion < 4 {
			g.st.model.IRVersion = 4
		}
		g.setFacts(o, constFacts(vals[i]))
	}
}
