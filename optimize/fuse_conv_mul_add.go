package optimize

import (
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// fuseConvMulAdd folds a per-channel (or scalar) constant multiplication or
// addition after a Conv into the Conv's weight and bias:
//
//	Mul(Conv(x, W, b), m) -> Conv(x, W * m, b * m)
//	Add(Conv(x, W, b), a) -> Conv(x, W, b + a)
//
// m and a must be float constants that broadcast only along the output
// channel axis (shape [C,1,1], [1,C,1,1], [1] or a scalar), so the
// result's shape is the Conv's; the Conv's output must have no other
// reader, and W and b must be constants.
type fuseConvMulAdd struct{}

func (fuseConvMulAdd) Name() string      { return "fuse-conv-mul-add" }
func (fuseConvMulAdd) OpTypes() []string { return []string{"Mul", "Add"} }

func (fuseConvMulAdd) Match(g *Graph, n *ir.Node) bool {
	for i := 0; i < 2 && i < len(n.Inputs); i++ {
		if isOnnx(g.Producer(n.Input(i)), "Conv") && g.IsConst(n.Input(1-i)) {
			return true
		}
	}
	return false
}

func (fuseConvMulAdd) Apply(g *Graph, n *ir.Node) (bool, error) {
	if len(n.Inputs) != 2 {
		return false, nil
	}
	side := 0
	if !isOnnx(g.Producer(n.Input(0)), "Conv") {
		side = 1
	}
	convOut, cname := n.Input(side), n.Input(1-side)
	conv := g.Producer(convOut)
	if !g.SingleUse(convOut, n) {
		return false, nil
	}
	w := g.Const(conv.Input(1))
	k := g.Const(cname)
	if w == nil || k == nil || !isFloat(w.DType) || k.DType != w.DType || w.Rank() < 3 {
		return false, nil
	}
	ch := w.Shape[0]
	vals, ok := channelValues(k, w.Rank(), ch)
	if !ok {
		return false, nil
	}
	bias, ok := convBias(g, conv, ch)
	if !ok {
		return false, nil
	}
	nw := w
	if n.OpType == "Mul" {
		if nw, ok = scaleAxis(w, 0, vals); !ok {
			return false, nil
		}
		for i := range bias {
			bias[i] *= vals[i]
		}
	} else {
		for i := range bias {
			bias[i] += vals[i]
		}
	}
	nb, ok := fromFloats(w.DType, []int{ch}, bias)
	if !ok {
		return false, nil
	}
	if n.OpType == "Add" {
		// The weight is unchanged: keep reading it.
		bn := g.AddInitializer(valueName(convOut, "bias"), nb)
		nc := &ir.Node{OpType: "Conv", Name: g.NewName(conv.Name), Inputs: []string{conv.Input(0), conv.Input(1), bn},
			Outputs: []string{g.NewName(valueName(n.Outputs[0], "conv"))}, Attrs: conv.Attrs}
		g.AddNode(nc, n)
		g.SetType(nc.Outputs[0], g.Type(n.Outputs[0]))
		if !g.Forward(n.Outputs[0], nc.Outputs[0]) {
			g.RemoveNode(nc)
			return false, nil
		}
		g.RemoveNode(n)
		g.RemoveNode(conv)
		return true, nil
	}
	return replaceConv(g, conv, n, nw, nb), nil
}

// channelValues returns, for a constant k broadcast against a rank-r
// tensor with c channels on axis 1, the value for each channel, if k
// varies along no other axis and does not grow the tensor's rank.
func channelValues(k *tensor.Tensor, r, c int) ([]float64, bool) {
	if k.Rank() > r {
		return nil, false
	}
	v, ok := floatsOf(k)
	if !ok {
		return nil, false
	}
	out := make([]float64, c)
	if k.Len() == 1 {
		for i := range out {
			out[i] = v[0]
		}
		return out, true
	}
	for i, d := range k.Shape {
		axis := r - k.Rank() + i
		switch {
		case d == 1:
		case axis == 1 && d == c:
		default:
			return nil, false
		}
	}
	if len(v) != c {
		return nil, false
	}
	copy(out, v)
	return out, true
}
