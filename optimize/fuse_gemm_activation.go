package optimize

import "github.com/inferd/inferd/ir"

// fuseGemmActivation fuses the activation after a Gemm or MatMul into
// ai.inferd.FusedGemm or ai.inferd.FusedMatMul (FUSED_OPS.md):
//
//	Relu(Gemm(a, b, c))           -> FusedGemm(a, b, c, activation="Relu")
//	Gelu(MatMul(a, b))            -> FusedMatMul(a, b, activation="Gelu")
//	Gelu(FusedMatMul(a, b, bias)) -> FusedMatMul(a, b, bias, activation="Gelu")
//
// with the activations fuse-conv-activation knows. The product must have no
// other reader.
type fuseGemmActivation struct{}

func (fuseGemmActivation) Name() string { return "fuse-gemm-activation" }
func (fuseGemmActivation) OpTypes() []string {
	return []string{"Gemm", "MatMul", "ai.inferd.FusedMatMul"}
}

func (fuseGemmActivation) Match(g *Graph, n *ir.Node) bool {
	return len(n.Outputs) == 1 && (g.SoleConsumer(n.Outputs[0]) != nil || isSiluInput(g, n)) &&
		ir.Attrs(n).String("activation", "") == ""
}

func (fuseGemmActivation) Apply(g *Graph, n *ir.Node) (bool, error) {
	if !isFloat(g.DType(n.Input(0))) {
		return false, nil
	}
	a, ok := activationOf(g, n)
	if !ok {
		return false, nil
	}
	op := "FusedMatMul"
	var attrs []*ir.Attribute
	if n.OpType == "Gemm" {
		op = "FusedGemm"
		attrs = append(attrs, n.Attrs...)
	}
	attrs = append(attrs, a.attrs()...)
	return replaceFused(g, n, a.last, a.nodes, op, append([]string(nil), n.Inputs...), attrs), nil
}
