package optimize

import "github.com/inferd/inferd/ir"

// fuseAttention fuses scaled dot-product attention into one
// ai.inferd.Attention (FUSED_OPS.md):
//
//	MatMul(Softmax(Add(Mul(MatMul(q, kt), s), mask), axis=-1), v) -> Attention(q, kt, v, mask, scale=s)
//
// The scale may be a multiplication or division by a one-element constant,
// of the product or of q (or absent); the mask addition is optional. kt is
// the keys already transposed (shape [..., D, Sk]), as exporters write them.
// Every intermediate value must have no other reader.
type fuseAttention struct{}

func (fuseAttention) Name() string      { return "fuse-attention" }
func (fuseAttention) OpTypes() []string { return []string{"Softmax"} }

func (fuseAttention) Match(g *Graph, n *ir.Node) bool {
	return isOnnx(g.SoleConsumer(n.Outputs[0]), "MatMul")
}

func (fuseAttention) Apply(g *Graph, n *ir.Node) (bool, error) {
	probs := n.Outputs[0]
	mm2 := g.SoleConsumer(probs)
	if mm2.Input(0) != probs || !g.SingleUse(probs, mm2) || !isFloat(g.DType(probs)) {
		return false, nil
	}
	// The softmax must be over the last axis.
	axis := ir.Attrs(n).Int("axis", -1)
	if g.Opset("") < 13 {
		axis = ir.Attrs(n).Int("axis", 1)
	}
	if axis != -1 {
		r := g.Rank(n.Input(0))
		if r < 0 || axis != int64(r-1) {
			return false, nil
		}
	}
	nodes := []*ir.Node{n, mm2}
	scores, mask := n.Input(0), ""
	if p := g.Producer(scores); isOnnx(p, "Add") && g.SingleUse(scores, n) && len(p.Inputs) == 2 {
		for side := 0; side < 2; side++ {
			if _, _, ok := scaledProduct(g, p.Inputs[side], p); ok {
				scores, mask = p.Inputs[side], p.Inputs[1-side]
				nodes = append(nodes, p)
				break
			}
		}
		if mask == "" {
			return false, nil
		}
	}
	user := n
	if mask != "" {
		user = g.Producer(n.Input(0))
	}
	mm1, scale, ok := scaledProduct(g, scores, user)
	if !ok {
		return false, nil
	}
	nodes = append(nodes, mm1.nodes...)
	q := mm1.q
	// A scale applied to q beforehand.
	if p := g.Producer(q); p != nil && g.SingleUse(q, mm1.mm) {
		if s, other, ok := scalarScale(g, p); ok {
			scale *= s
			q = other
			nodes = append(nodes, p)
		}
	}
	inputs := []string{q, mm1.mm.Input(1), mm2.Input(1)}
	if mask != "" {
		inputs = append(inputs, mask)
	}
	return replaceFused(g, nodes[len(nodes)-1], mm2, nodes, "Attention", inputs,
		[]*ir.Attribute{attrFloat("scale", float32(scale))}), nil
}

type scoreProduct struct {
	mm    *ir.Node   // MatMul(q, kt)
	q     string     // its first input
	nodes []*ir.Node // the MatMul and the scaling nodes
}

// scaledProduct matches v = MatMul(q, kt) scaled by constants, read only
// by user, and returns the product and the total scale.
func scaledProduct(g *Graph, v string, user *ir.Node) (scoreProduct, float64, bool) {
	scale := 1.0
	var nodes []*ir.Node
	for {
		p := g.Producer(v)
		if p == nil || !g.SingleUse(v, user) {
			return scoreProduct{}, 0, false
		}
		if isOnnx(p, "MatMul") {
			return scoreProduct{mm: p, q: p.Input(0), nodes: append(nodes, p)}, scale, true
		}
		s, other, ok := scalarScale(g, p)
		if !ok {
			return scoreProduct{}, 0, false
		}
		scale *= s
		nodes = append(nodes, p)
		v, user = other, p
	}
}

// scalarScale matches Mul(x, c), Mul(c, x) or Div(x, c) with c a
// one-element constant that does not change x's shape, and returns the
// factor and x.
func scalarScale(g *Graph, n *ir.Node) (float64, string, bool) {
	if len(n.Inputs) != 2 {
		return 0, "", false
	}
	switch {
	case isOnnx(n, "Mul"):
		for side := 0; side < 2; side++ {
			if v, ok := g.ConstScalar(n.Inputs[side]); ok && scalarLike(g, n.Inputs[side]) {
				return v, n.Inputs[1-side], true
			}
		}
	case isOnnx(n, "Div"):
		if v, ok := g.ConstScalar(n.Inputs[1]); ok && v != 0 && scalarLike(g, n.Inputs[1]) {
			return 1 / v, n.Inputs[0], true
		}
	}
	return 0, "", false
}
