package optimize

import "github.com/inferd/inferd/ir"

// fuseSkipLayerNorm fuses a residual addition with the LayerNormalization
// after it into ai.inferd.SkipLayerNormalization (FUSED_OPS.md):
//
//	LayerNormalization(Add(x, skip), scale, bias) -> SkipLayerNormalization(x, skip, scale, bias)
//
// x and skip must have the same shape, the normalization must be over the
// last axis with only its first output read. When the sum has other
// readers, the fused node also outputs it.
type fuseSkipLayerNorm struct{}

func (fuseSkipLayerNorm) Name() string { return "fuse-skip-layernorm" }
func (fuseSkipLayerNorm) OpTypes() []string {
	return []string{"LayerNormalization", "ai.inferd.LayerNormalization"}
}

func (fuseSkipLayerNorm) Match(g *Graph, n *ir.Node) bool {
	return isOnnx(g.Producer(n.Input(0)), "Add")
}

func (fuseSkipLayerNorm) Apply(g *Graph, n *ir.Node) (bool, error) {
	for _, o := range n.Outputs[1:] {
		if o != "" && (len(g.Consumers(o)) > 0 || g.IsOutput(o)) {
			return false, nil
		}
	}
	a := ir.Attrs(n)
	axis, eps := a.Int("axis", -1), a.Float("epsilon", 1e-5)
	if a.Int("stash_type", 1) != 1 || a.Err() != nil {
		return false, nil
	}
	sum := n.Input(0)
	s, ok := g.Shape(sum)
	if !ok || len(s) == 0 || axis != -1 && axis != int64(len(s)-1) {
		return false, nil
	}
	add := g.Producer(sum)
	if len(add.Inputs) != 2 || add.Inputs[0] == add.Inputs[1] {
		return false, nil
	}
	x, skip := add.Inputs[0], add.Inputs[1]
	xs, ok1 := g.Shape(x)
	ks, ok2 := g.Shape(skip)
	if !ok1 || !ok2 || !sameShape(xs, ks) || !isFloat(g.DType(x)) || g.DType(x) != g.DType(skip) {
		return false, nil
	}
	inputs := []string{x, skip, n.Input(1)}
	if n.Input(2) != "" {
		inputs = append(inputs, n.Input(2))
	}
	outputs := []string{g.NewName(valueName(n.Outputs[0], "skipln"))}
	keepSum := len(g.Consumers(sum)) > 1 || g.IsOutput(sum)
	g.RemoveNode(add)
	if keepSum {
		outputs = append(outputs, sum)
	}
	f := &ir.Node{Name: g.NewName(n.Name + "_SkipLayerNormalization"), OpType: "SkipLayerNormalization", Domain: ir.DomainInferd,
		Inputs: inputs, Outputs: outputs, Attrs: []*ir.Attribute{attrFloat("epsilon", eps)}}
	g.AddNode(f, n)
	g.SetType(outputs[0], g.Type(n.Outputs[0]))
	if !g.Forward(n.Outputs[0], outputs[0]) {
		// Cannot happen: outputs[0] is new. Put the Add back regardless.
		g.RemoveNode(f)
		g.AddNode(add, n)
		return false, nil
	}
	g.RemoveNode(n)
	return true, nil
}
