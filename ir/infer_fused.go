package ir

import (
	"fmt"
	"slices"

	"github.com/inferd/inferd/tensor"
)

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
	registerInfer(DomainInferd, inferMatMulInt4, "MatMulInt4")
	registerInfer(DomainMicrosoft, inferMatMul, "MatMulIntegerToFloat")
}

// IsInferdOp reports whether op is an operator of domain ai.inferd.
func IsInferdOp(op string) bool {
	_, ok := inferFuncs[opKey{DomainInferd, op}]
	return ok
}

// inferAttention: Y = MatMul(Softmax(MatMul(Q, KT) ...), V), so Y is
// [..., Sq, Dv] with the leading dimensions of Q, KT, V and the mask
// broadcast. q_perm, kt_perm and v_perm say that Q, KT and V are their
// inputs transposed, y_perm that the output is Y transposed.
func inferAttention(c *nodeCtx) {
	dt := c.sameElemTypes(0, 1, 2)
	var ops [3]Shape
	for i, name := range [3]string{"q_perm", "kt_perm", "v_perm"} {
		s, err := permuteShape(c.shape(i), c.attrs.Ints(name, nil))
		if err != nil {
			c.errorf("%s: %s %v", c.desc(i), name, err)
			return
		}
		ops[i] = s
	}
	q, kt, v := ops[0], ops[1], ops[2]
	if q == nil || kt == nil || v == nil {
		c.setTensor(0, dt, nil)
		return
	}
	if len(q) < 2 || len(kt) < 2 || len(v) < 2 {
		c.errorf("Q %v, KT %v or V %v is not a stack of matrices", q, kt, v)
		return
	}
	if d1, d2 := q[len(q)-1], kt[len(kt)-2]; conflict(d1, d2) {
		c.errorf("inner dimensions differ: Q %v has %v columns but KT %v has %v rows", q, d1, kt, d2)
		return
	}
	if sk := kt[len(kt)-1]; conflict(sk, v[len(v)-2]) {
		c.errorf("V %v has %v rows for %v keys", v, v[len(v)-2], sk)
		return
	}
	leads := []Shape{q[:len(q)-2], kt[:len(kt)-2], v[:len(v)-2]}
	if m := c.shape(3); len(m) > 2 {
		leads = append(leads, m[:len(m)-2])
	}
	batch, err := broadcastShapes(leads...)
	if err != nil {
		c.errorf("batch dimensions of Q %v, KT %v, V %v and the mask do not broadcast: %v", q, kt, v, err)
		return
	}
	y, err := permuteShape(append(batch, q[len(q)-2], v[len(v)-1]), c.attrs.Ints("y_perm", nil))
	if err != nil {
		c.errorf("y_perm %v", err)
		return
	}
	c.setTensor(0, dt, y)
}

// permuteShape returns s transposed by perm (output axis i is axis perm[i]
// of s); s itself when perm is nil, nil when s is.
func permuteShape(s Shape, perm []int64) (Shape, error) {
	if perm == nil || s == nil {
		return s, nil
	}
	if len(perm) != len(s) {
		return nil, fmt.Errorf("%v does not fit shape %v", perm, s)
	}
	out := make(Shape, len(s))
	seen := make([]bool, len(s))
	for i, p := range perm {
		if p < 0 || p >= int64(len(s)) || seen[p] {
			return nil, fmt.Errorf("%v is not a permutation of %d axes", perm, len(s))
		}
		seen[p] = true
		out[i] = s[p]
	}
	return out, nil
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

// inferMatMulInt4: Y = act(MatMul(A, DequantizeLinear(B, ...)) + bias) has
// A's leading dimensions and B's columns (its rows when trans_b is set),
// in the scale's type.
func inferMatMulInt4(c *nodeCtx) {
	dt := c.dtype(2)
	if dt == tensor.Undefined {
		dt = tensor.Float32
	}
	a, b := c.shape(0), c.shape(1)
	if a == nil || b == nil {
		c.setTensor(0, dt, nil)
		return
	}
	if len(a) < 1 || len(b) != 2 {
		c.errorf("%s must have rank 1 or more and %s rank 2", c.desc(0), c.desc(1))
		return
	}
	k, n := b[0], b[1]
	if c.attrs.Int("trans_b", 0) != 0 {
		k, n = n, k
	}
	if conflict(a[len(a)-1], k) {
		c.errorf("inner dimensions differ: %s, %s", c.desc(0), c.desc(1))
		return
	}
	out := append(slices.Clone(a[:len(a)-1]), n)
	c.setTensor(0, dt, out)
}
