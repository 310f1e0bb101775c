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
//
// It then folds the head split and merge into the Attention it made (or
// found): a Transpose that only Attention reads and that leaves the
// innermost axis of its input among the last two becomes q_perm, kt_perm
// or v_perm, and a Transpose that is the only reader of Y and keeps its last
// axis in place becomes y_perm, so that the kernel reads and writes those
// layouts through strides instead of copying them.
type fuseAttention struct{}

func (fuseAttention) Name() string      { return "fuse-attention" }
func (fuseAttention) OpTypes() []string { return []string{"Softmax", ir.DomainInferd + ".Attention"} }

func (fuseAttention) Match(g *Graph, n *ir.Node) bool {
	if n.OpType == "Attention" {
		return len(attentionFolds(g, n)) > 0
	}
	return isOnnx(g.SoleConsumer(n.Outputs[0]), "MatMul")
}

func (fuseAttention) Apply(g *Graph, n *ir.Node) (bool, error) {
	if n.OpType == "Attention" {
		return foldAttentionLayout(g, n), nil
	}
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

// attentionPerms are Attention's layout attributes: of inputs 0, 1 and 2,
// then of the output.
var attentionPerms = [4]string{"q_perm", "kt_perm", "v_perm", "y_perm"}

// attentionFolds returns the Transposes around Attention node n that can
// become its layout attributes, by attentionPerms index.
func attentionFolds(g *Graph, n *ir.Node) map[int]*ir.Node {
	at := ir.Attrs(n)
	out := map[int]*ir.Node{}
	for i := 0; i < 3 && i < len(n.Inputs); i++ {
		p := g.Producer(n.Inputs[i])
		if at.Has(attentionPerms[i]) || !isOnnx(p, "Transpose") || len(p.Inputs) != 1 || !g.SingleUse(n.Inputs[i], n) {
			continue
		}
		// The kernel needs a unit-stride axis among the operand's last
		// two: the last axis of the Transpose's input must land there.
		if perm, ok := transposePerm(g, p); ok && len(perm) >= 2 {
			r := int64(len(perm) - 1)
			if perm[r-1] == r || perm[r] == r {
				out[i] = p
			}
		}
	}
	if c := g.SoleConsumer(n.Outputs[0]); isOnnx(c, "Transpose") && !at.Has("y_perm") && g.SingleUse(n.Outputs[0], c) && len(c.Outputs) == 1 {
		// Y's rows must stay contiguous: its last axis stays last.
		if perm, ok := transposePerm(g, c); ok && len(perm) >= 2 && perm[len(perm)-1] == int64(len(perm)-1) {
			out[3] = c
		}
	}
	return out
}

// foldAttentionLayout replaces Attention node n and the Transposes
// attentionFolds finds by one Attention with layout attributes.
func foldAttentionLayout(g *Graph, n *ir.Node) bool {
	folds := attentionFolds(g, n)
	if len(folds) == 0 {
		return false
	}
	inputs := append([]string(nil), n.Inputs...)
	attrs := append([]*ir.Attribute(nil), n.Attrs...)
	var absorbed []*ir.Node
	last := n
	for i, name := range attentionPerms {
		t := folds[i]
		if t == nil {
			continue
		}
		perm, _ := transposePerm(g, t)
		attrs = append(attrs, attrInts(name, perm...))
		absorbed = append(absorbed, t)
		if i < 3 {
			inputs[i] = t.Input(0)
		} else {
			last = t
		}
	}
	return replaceFused(g, n, last, absorbed, "Attention", inputs, attrs)
}
