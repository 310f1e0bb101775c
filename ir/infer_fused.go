package ir

// Shape functions of the operators outside the ONNX standard that inferd
// writes: its fused operators (domain ai.inferd, defined in
// optimize/FUSED_OPS.md) and the ONNX Runtime contrib operator it borrows.

// DomainMicrosoft is ONNX Runtime's contrib operator domain; inferd writes
// its MatMulIntegerToFloat.
const DomainMicrosoft = "com.microsoft"

func init() {
	registerInfer(DomainInferd, inferConv, "FusedConv", "QLinearConv")
	registerInfer(DomainInferd, inferGemm, "FusedGemm")
	registerInfer(DomainInferd, inferMatMul, "FusedMatMul", "QLinearMatMul")
	registerInfer(DomainInferd, inferAttention, "Attention")
	registerInfer(DomainInferd, inferSkipLayerNorm, "SkipLayerNormalization")
	registerInfer(DomainInferd, inferUnary, "BiasGelu", "Gelu")
	registerInfer(DomainInferd, inferLayerNorm, "LayerNormalization")
	registerInfer(DomainInferd, inferQLinearAdd, "QLinearAdd")
	registerInfer(DomainInferd, inferQLinearGlobalAveragePool, "QLinearGlobalAveragePool")
	registerInfer(DomainMicrosoft, inferMatMul, "MatMulIntegerToFloat")
}

// IsInferdOp reports whether op is an operator of domain ai.inferd.
func IsInferdOp(op string) bool {
	_, ok := inferFuncs[opKey{DomainInferd, op}]
	return ok
}

// inferAttention: Y = MatMul(Softmax(MatMul(Q, KT) ...), V), so Y is
// [..., Sq, Dv] with the leading dimensions of Q, KT and V broadcast.
func inferAttention(c *nodeCtx) {
	dt := c.sameElemTypes(0, 1, 2)
	scores, ok := matmulShape(c, 0, 1)
	v := c.shape(2)
	if !ok {
		return
	}
	if scores == nil || v == nil {
		c.setTensor(0, dt, nil)
		return
	}
	if len(scores) < 2 || len(v) < 2 {
		c.errorf("%s, %s or %s is not a stack of matrices", c.desc(0), c.desc(1), c.desc(2))
		return
	}
	if sk := scores[len(scores)-1]; conflict(sk, v[len(v)-2]) {
		c.errorf("%s has %v rows for %v keys", c.desc(2), v[len(v)-2], sk)
		return
	}
	out, err := broadcastShapes(scores[:len(scores)-2], v[:len(v)-2])
	if err != nil {
		c.errorf("batch dimensions of the scores %v and %s do not broadcast: %v", scores, c.desc(2), err)
		return
	}
	c.setTensor(0, dt, append(out, scores[len(scores)-2], v[len(v)-1]))
}

// inferSkipLayerNorm: Y and Sum have the shape of X, which Skip shares.
func inferSkipLayerNorm(c *nodeCtx) {
	dt := c.sameElemTypes(0, 1)
	s, err := mergeShapes(c.shape(0), c.shape(1))
	if err != nil {
		c.errorf("%s and %s differ in shape: %v", c.desc(0), c.desc(1), err)
		return
	}
	for i := range c.out {
		c.setTensor(i, dt, copyShape(s))
	}
}

// inferQLinearAdd: A (input 0) and B (input 3) broadcast; C has the type
// of C_zero_point (input 7).
func inferQLinearAdd(c *nodeCtx) {
	c.setTensor(0, c.dtype(7), c.broadcastInputs(0, 3))
}

// inferQLinearGlobalAveragePool: Y is (N, C, 1, ...) of the type of
// y_zero_point (input 4).
func inferQLinearGlobalAveragePool(c *nodeCtx) { globalPool(c, c.dtype(4)) }
