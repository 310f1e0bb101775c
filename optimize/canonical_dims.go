package optimize

import (
	"context"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// canonicalDims rewrites every computation of a dynamic dimension as a read
// of the graph input that declares it. Exporters compute a dimension such as
// the batch size again and again, from a different tensor each time
// (Gather(Shape(layer_k_output), 1)); shape inference knows each is the
// symbol "batch" of input_ids' declared shape, so each becomes
// Gather(Shape(input_ids), 0), and common-subexpression elimination then
// keeps one. The rewrite relies on ONNX's rule that dimensions with the same
// dim_param have the same value (as ONNX Runtime's shape inference does);
// for a model whose inputs reuse one name for sizes that differ, disable
// it (--disable canonical-dims). It runs on the main graph only, for values
// of one element (a scalar or a 1-element vector) of type int64.
type canonicalDims struct{}

func (canonicalDims) Name() string { return "canonical-dims" }

type dimSource struct {
	input string
	index int
	rank  int
}

func (canonicalDims) Run(ctx context.Context, g *Graph) (bool, error) {
	if g.parent != nil || len(g.G.Nodes) == 0 {
		return false, nil
	}
	sources := map[string]dimSource{}
	for _, in := range g.G.Inputs {
		if g.inits[in.Name] != nil || in.Type.Kind != ir.TensorKind {
			continue
		}
		for i, d := range in.Type.Shape {
			if d.Param != "" && !d.Known() {
				if _, ok := sources[d.Param]; !ok {
					sources[d.Param] = dimSource{in.Name, i, len(in.Type.Shape)}
				}
			}
		}
	}
	if len(sources) == 0 {
		return false, nil
	}
	first := g.G.Nodes[0]
	shapes := map[string]string{}   // input -> Shape output
	canon := map[[2]string]string{} // (symbol, rank) -> value
	changed := false
	for _, n := range g.Nodes() {
		if g.Removed(n) || len(n.Outputs) != 1 || ir.CanonicalDomain(n.Domain) != "" {
			continue
		}
		out := n.Outputs[0]
		f := g.lookup(out)
		if f == nil || len(f.vals) != 1 || f.t.DType != tensor.Int64 || f.t.Shape == nil || len(f.t.Shape) > 1 {
			continue
		}
		sym := f.vals[0].Param
		src, ok := sources[sym]
		if sym == "" || f.vals[0].Known || !ok || g.IsOutput(out) {
			continue
		}
		rank := len(f.t.Shape)
		if isCanonicalDim(g, n, src, rank) {
			continue
		}
		key := [2]string{sym, string(rune('0' + rank))}
		v, ok := canon[key]
		if !ok {
			sh, ok := shapes[src.input]
			if !ok {
				sn := g.Add(first, "", "Shape", []string{src.input}, src.input+"_shape")
				sh = sn.Outputs[0]
				shapes[src.input] = sh
				g.setFacts(sh, &facts{t: ir.TensorType(tensor.Int64, ir.ShapeOf(src.rank))})
			}
			idx := tensor.Scalar(int64(src.index))
			if rank == 1 {
				idx = int64s(int64(src.index))
			}
			iname := g.AddInitializer(sym+"_index", idx)
			gn := g.Add(first, "", "Gather", []string{sh, iname}, sym, attrInt("axis", 0))
			v = gn.Outputs[0]
			canon[key] = v
			g.setFacts(v, &facts{t: f.t, vals: []ir.Elem{f.vals[0]}})
		}
		if !g.Forward(out, v) {
			continue
		}
		g.RemoveNode(n)
		changed = true
	}
	return changed, nil
}

// isCanonicalDim reports whether n already is Gather(Shape(src.input),
// src.index).
func isCanonicalDim(g *Graph, n *ir.Node, src dimSource, rank int) bool {
	if !isOnnx(n, "Gather") || ir.Attrs(n).Int("axis", 0) != 0 {
		return false
	}
	sh := g.Producer(n.Input(0))
	if !isOnnx(sh, "Shape") || sh.Input(0) != src.input || len(sh.Attrs) > 0 {
		return false
	}
	idx, ok := g.ConstInts(n.Input(1))
	t := g.Const(n.Input(1))
	return ok && len(idx) == 1 && idx[0] == int64(src.index) && t.Rank() == rank
}
