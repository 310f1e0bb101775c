package optimize

import "github.com/inferd/inferd/ir"

// fuseMatMulBias fuses a MatMul with the bias added after it into
// ai.inferd.FusedMatMul, for products of any rank (fuse-matmul-add makes a
// standard Gemm of the 2-D ones):
//
//	Add(MatMul(a, b), bias) -> FusedMatMul(a, b, bias)
//
// bias must be a vector over the product's last dimension (shape [N] or
// [1, ..., 1, N]) so that the addition does not change the product's shape,
// and the product must have no other reader.
type fuseMatMulBias struct{}

func (fuseMatMulBias) Name() string      { return "fuse-matmul-bias" }
func (fuseMatMulBias) OpTypes() []string { return []string{"MatMul"} }

func (fuseMatMulBias) Match(g *Graph, n *ir.Node) bool {
	return len(n.Outputs) == 1 && isOnnx(g.SoleConsumer(n.Outputs[0]), "Add")
}

func (fuseMatMulBias) Apply(g *Graph, n *ir.Node) (bool, error) {
	out := n.Outputs[0]
	add := g.SoleConsumer(out)
	if !g.SingleUse(out, add) || !isFloat(g.DType(out)) {
		return false, nil
	}
	bias := otherInput(add, out)
	bs, ok1 := g.Shape(bias)
	os, ok2 := g.Shape(out)
	if bias == "" || !ok1 || !ok2 || len(bs) == 0 || len(os) < 1 || g.DType(bias) != g.DType(out) {
		return false, nil
	}
	for _, d := range bs[:len(bs)-1] {
		if !d.Known() || d.Value != 1 {
			return false, nil
		}
	}
	if !broadcastsInto(bs, os) {
		return false, nil
	}
	return replaceFused(g, n, add, []*ir.Node{add}, "FusedMatMul", []string{n.Input(0), n.Input(1), bias}, nil), nil
}
