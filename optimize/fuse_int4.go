package optimize

import (
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// fuseInt4 compiles a product with a weight that a blocked DequantizeLinear
// reads from 4-bit constants (what `inferd quantize --mode int4` writes)
// into ai.inferd.MatMulInt4 (FUSED_OPS.md), whose kernel keeps the weight
// 4-bit and dequantizes it inside the GEMM:
//
//	MatMul(x, DequantizeLinear(w, s, [z], axis=0, block_size))
//	    -> MatMulInt4(x, w, s, [z], block_size, trans_b=0)
//	Gemm(x, DequantizeLinear(w, s, [z], axis=1, block_size), c, transB=1)
//	    -> MatMulInt4(x, w, s, [z], c, block_size, trans_b=1)
//
// and the same for FusedMatMul (with its bias) and FusedGemm, keeping
// their activation. It runs after the float fusions so that the bias and
// activation they gathered come along. It matches only exactly: w an int4
// or uint4 constant matrix blocked along the reduction axis, s a float32
// constant of the blocked shape, z (if any) a constant of w's type and
// shape of s, x float32, the DequantizeLinear read by this product alone,
// Gemm with alpha 1, transA 0 and a C that is a vector over the columns
// added with beta 1.
type fuseInt4 struct{}

func (fuseInt4) Name() string { return "fuse-int4-matmul" }
func (fuseInt4) OpTypes() []string {
	return []string{"MatMul", "Gemm", "ai.inferd.FusedMatMul", "ai.inferd.FusedGemm"}
}

func (fuseInt4) Match(g *Graph, n *ir.Node) bool {
	return len(n.Outputs) == 1 && isOnnx(g.Producer(n.Input(1)), "DequantizeLinear")
}

func (fuseInt4) Apply(g *Graph, n *ir.Node) (bool, error) {
	dq := g.Producer(n.Input(1))
	if !g.SingleUse(n.Input(1), n) || len(dq.Outputs) != 1 || g.DType(n.Input(0)) != tensor.Float32 {
		return false, nil
	}
	w, s := g.Const(dq.Input(0)), g.Const(dq.Input(1))
	if w == nil || s == nil || (w.DType != tensor.Int4 && w.DType != tensor.Uint4) || w.Rank() != 2 ||
		s.DType != tensor.Float32 || s.Rank() != 2 {
		return false, nil
	}
	da := ir.Attrs(dq)
	axis, bs := da.Int("axis", 1), da.Int("block_size", 0)
	if dt := da.Int("output_dtype", 0); dt != 0 && dt != int64(tensor.Float32) || da.Err() != nil || bs <= 0 {
		return false, nil
	}
	if axis < 0 {
		axis += 2
	}
	transB := int64(0)
	at := ir.Attrs(n)
	var bias string
	isGemm := n.OpType == "Gemm" || n.OpType == "FusedGemm"
	if isGemm {
		transB = at.Int("transB", 0)
		if at.Int("transA", 0) != 0 || at.Float("alpha", 1) != 1 || at.Err() != nil {
			return false, nil
		}
		bias = n.Input(2)
		if bias != "" && at.Float("beta", 1) != 1 {
			return false, nil
		}
	} else if n.OpType == "FusedMatMul" {
		bias = n.Input(2)
	}
	if axis != transB {
		return false, nil
	}
	k, cols := w.Shape[0], w.Shape[1]
	if transB != 0 {
		k, cols = cols, k
	}
	nb := (k + int(bs) - 1) / int(bs)
	want := [2]int{nb, cols}
	if transB != 0 {
		want = [2]int{cols, nb}
	}
	if s.Shape[0] != want[0] || s.Shape[1] != want[1] {
		return false, nil
	}
	zp := dq.Input(2)
	if zp != "" {
		z := g.Const(zp)
		if z == nil || z.DType != w.DType || !tensor.EqualShapes(z.Shape, s.Shape) {
			return false, nil
		}
	}
	if bias != "" && !int4BiasVector(g, bias, cols) {
		return false, nil
	}
	attrs := []*ir.Attribute{attrInt("block_size", bs), attrInt("trans_b", transB)}
	for _, name := range []string{"activation", "activation_params"} {
		if a := n.Attr(name); a != nil {
			attrs = append(attrs, a)
		}
	}
	inputs := []string{n.Input(0), dq.Input(0), dq.Input(1), zp, bias}
	return replaceFused(g, n, n, []*ir.Node{dq}, "MatMulInt4", inputs, attrs), nil
}

// int4BiasVector reports whether bias is a float32 vector of n values over
// the last dimension, shape [n] or [1, n], which adds to every row of a
// product the same way whatever its rank.
func int4BiasVector(g *Graph, bias string, n int) bool {
	s, ok := g.Shape(bias)
	if !ok || g.DType(bias) != tensor.Float32 || len(s) == 0 || len(s) > 2 {
		return false
	}
	for i, d := range s {
		want := 1
		if i == len(s)-1 {
			want = n
		}
		if !d.Known() || d.Value != int64(want) {
			return false
		}
	}
	return true
}
