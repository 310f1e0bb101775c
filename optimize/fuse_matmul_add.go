package optimize

import (
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// fuseMatMulAdd turns a 2-D MatMul followed by an addition into a Gemm:
//
//	Add(MatMul(A, B), C) -> Gemm(A, B, C)
//
// A and B must be of rank 2 and C must broadcast to the product's shape
// [M, N] without growing it (C of shape [N], [1, N], [M, 1], [M, N] or one
// element), in a float type Gemm takes. The MatMul's output must have no
// other reader.
type fuseMatMulAdd struct{}

func (fuseMatMulAdd) Name() string      { return "fuse-matmul-add" }
func (fuseMatMulAdd) OpTypes() []string { return []string{"Add"} }

func (fuseMatMulAdd) Match(g *Graph, n *ir.Node) bool {
	return len(n.Inputs) == 2 && g.Opset("") >= 11 &&
		(isOnnx(g.Producer(n.Input(0)), "MatMul") || isOnnx(g.Producer(n.Input(1)), "MatMul"))
}

func (fuseMatMulAdd) Apply(g *Graph, n *ir.Node) (bool, error) {
	for side := 0; side < 2; side++ {
		mm := g.Producer(n.Input(side))
		if !isOnnx(mm, "MatMul") || !g.SingleUse(n.Input(side), n) {
			continue
		}
		c := n.Input(1 - side)
		a, aok := g.Shape(mm.Input(0))
		b, bok := g.Shape(mm.Input(1))
		cs, cok := g.Shape(c)
		dt := g.DType(c)
		if !aok || !bok || !cok || len(a) != 2 || len(b) != 2 || !gemmType(dt) || g.DType(mm.Input(0)) != dt {
			continue
		}
		if !broadcastsInto(cs, ir.Shape{a[0], b[1]}) {
			continue
		}
		gemm := g.Add(n, "", "Gemm", []string{mm.Input(0), mm.Input(1), c}, valueName(n.Outputs[0], "gemm"))
		g.SetType(gemm.Outputs[0], g.Type(n.Outputs[0]))
		if !g.Forward(n.Outputs[0], gemm.Outputs[0]) {
			g.RemoveNode(gemm)
			return false, nil
		}
		g.RemoveNode(n)
		g.RemoveNode(mm)
		return true, nil
	}
	return false, nil
}

func gemmType(dt tensor.DType) bool {
	return dt == tensor.Float32 || dt == tensor.Float64 || dt == tensor.Float16
}

// broadcastsInto reports whether c broadcasts to out without changing it:
// c has no more dimensions than out, each 1 or provably equal to out's.
func broadcastsInto(c, out ir.Shape) bool {
	if c == nil || len(c) > len(out) {
		return false
	}
	for i, d := range c {
		o := out[len(out)-len(c)+i]
		if d.Known() && d.Value == 1 {
			continue
		}
		if d != o || !d.Known() && d.Param == "" {
			return false
		}
	}
	return true
}

// fuseBNGemm folds an inference-mode BatchNormalization of a 2-D product
// into a Gemm's weight and bias:
//
//	BatchNormalization(Gemm(A, B, C), scale, bias, mean, var) -> Gemm(A, B*s, beta*C*s + bias - mean*s)
//	BatchNormalization(MatMul(A, B), ...)                      -> Gemm(A, B*s, bias - mean*s)
//
// with s = scale / sqrt(var + epsilon) per output column. B (and C) must be
// float constants and the product must have no other reader.
type fuseBNGemm struct{}

func (fuseBNGemm) Name() string      { return "fuse-bn-gemm" }
func (fuseBNGemm) OpTypes() []string { return []string{"BatchNormalization"} }

func (fuseBNGemm) Match(g *Graph, n *ir.Node) bool {
	p := g.Producer(n.Input(0))
	return (isOnnx(p, "Gemm") || isOnnx(p, "MatMul")) && g.SingleUse(n.Input(0), n) && g.Opset("") >= 11
}

func (fuseBNGemm) Apply(g *Graph, n *ir.Node) (bool, error) {
	p := g.Producer(n.Input(0))
	s, shift, ok := bnAffine(g, n)
	if !ok {
		return false, nil
	}
	a := ir.Attrs(p)
	alpha, beta := a.Float("alpha", 1), a.Float("beta", 1)
	transA, transB := a.Int("transA", 0), a.Int("transB", 0)
	if p.OpType == "MatMul" {
		if g.Rank(p.Input(0)) != 2 {
			return false, nil
		}
		alpha, beta, transA, transB = 1, 1, 0, 0
	}
	b := g.Const(p.Input(1))
	if b == nil || b.Rank() != 2 || !gemmType(b.DType) {
		return false, nil
	}
	col := 1
	if transB != 0 {
		col = 0
	}
	if b.Shape[col] != len(s) {
		return false, nil
	}
	nb, ok := scaleAxis(b, col, s)
	if !ok {
		return false, nil
	}
	// New bias: beta*C*s + shift, broadcast along the output columns.
	cshape := []int{len(s)}
	cv := make([]float64, len(s))
	if c := p.Input(2); c != "" && p.OpType == "Gemm" {
		ct := g.Const(c)
		if ct == nil || ct.Rank() > 2 {
			return false, nil
		}
		v, ok := floatsOf(ct)
		if !ok {
			return false, nil
		}
		switch {
		case ct.Len() == 1:
			for i := range cv {
				cv[i] = v[0]
			}
		case ct.Shape[ct.Rank()-1] == len(s) && ct.Rank() == 1 || ct.Rank() == 2 && ct.Shape[1] == len(s):
			cshape = ct.Shape
			cv = v
		default:
			return false, nil
		}
	}
	nc := make([]float64, len(cv))
	for i := range cv {
		k := i % len(s)
		nc[i] = float64(beta)*cv[i]*s[k] + shift[k]
	}
	ct, ok := fromFloats(b.DType, cshape, nc)
	if !ok {
		return false, nil
	}
	bn := g.AddInitializer(valueName(p.Input(1), "folded"), nb)
	cn := g.AddInitializer(valueName(p.Outputs[0], "bias"), ct)
	attrs := []*ir.Attribute{attrFloat("alpha", alpha), attrFloat("beta", 1)}
	if transA != 0 {
		attrs = append(attrs, attrInt("transA", transA))
	}
	if transB != 0 {
		attrs = append(attrs, attrInt("transB", transB))
	}
	gemm := g.Add(n, "", "Gemm", []string{p.Input(0), bn, cn}, valueName(n.Outputs[0], "gemm"), attrs...)
	g.SetType(gemm.Outputs[0], g.Type(n.Outputs[0]))
	if !g.Forward(n.Outputs[0], gemm.Outputs[0]) {
		g.RemoveNode(gemm)
		return false, nil
	}
	g.RemoveNode(n)
	g.RemoveNode(p)
	return true, nil
}
