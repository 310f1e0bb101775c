package optimize

import "github.com/inferd/inferd/ir"

// fuseBiasGelu fuses a bias addition with the Gelu after it into
// ai.inferd.BiasGelu (FUSED_OPS.md), where no MatMul before it took the bias:
//
//	Gelu(Add(x, bias)) -> BiasGelu(x, bias)
//
// bias must be a constant vector over x's last dimension and the sum must
// have no other reader.
type fuseBiasGelu struct{}

func (fuseBiasGelu) Name() string      { return "fuse-bias-gelu" }
func (fuseBiasGelu) OpTypes() []string { return []string{"Gelu", "ai.inferd.Gelu"} }

func (fuseBiasGelu) Match(g *Graph, n *ir.Node) bool {
	return isOnnx(g.Producer(n.Input(0)), "Add") && g.SingleUse(n.Input(0), n)
}

func (fuseBiasGelu) Apply(g *Graph, n *ir.Node) (bool, error) {
	add := g.Producer(n.Input(0))
	bias, x, ok := constOperandName(g, add)
	if !ok {
		return false, nil
	}
	bt := g.Const(bias)
	xs, ok := g.Shape(x)
	if !ok || len(xs) == 0 || bt.Rank() != 1 || !xs[len(xs)-1].Known() || int64(bt.Len()) != xs[len(xs)-1].Value ||
		bt.DType != g.DType(x) || !isFloat(bt.DType) {
		return false, nil
	}
	var attrs []*ir.Attribute
	if a := n.Attr("approximate"); a != nil {
		attrs = append(attrs, a)
	}
	return replaceFused(g, add, n, []*ir.Node{n}, "BiasGelu", []string{x, bias}, attrs), nil
}
