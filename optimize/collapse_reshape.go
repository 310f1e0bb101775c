package optimize

import (
	"github.com/inferd/inferd/ir"
)

// reshapeOps only change a tensor's shape, never its data order.
var reshapeOps = set("Reshape", "Squeeze", "Unsqueeze", "Flatten")

// collapseReshape merges a chain of Reshape, Squeeze, Unsqueeze and Flatten
// into one Reshape of the chain's input:
//
//	Reshape(Unsqueeze(x, a), s) -> Reshape(x, s)   (s without 0 entries)
//	Squeeze(Reshape(x, s), a)   -> Reshape(x, s')  (s' from the known result shape)
//
// The inner node must have no other reader. A result shape with more than
// one dimension that is neither known nor a dimension of x at the same
// position cannot be written as a Reshape target, and the chain stays.
type collapseReshape struct{}

func (collapseReshape) Name() string { return "collapse-reshape" }
func (collapseReshape) OpTypes() []string {
	return []string{"Reshape", "Squeeze", "Unsqueeze", "Flatten"}
}

func (collapseReshape) Match(g *Graph, n *ir.Node) bool {
	p := g.Producer(n.Input(0))
	return p != nil && ir.CanonicalDomain(p.Domain) == "" && reshapeOps[p.OpType] && g.SingleUse(n.Input(0), n)
}

func (collapseReshape) Apply(g *Graph, n *ir.Node) (bool, error) {
	p := g.Producer(n.Input(0))
	x := p.Input(0)
	if n.OpType == "Reshape" {
		// A target without 0 entries does not depend on the input's shape,
		// only on its size, which the chain keeps.
		if s, ok := g.ConstInts(n.Input(1)); ok && !hasZero(s) {
			g.SetInput(n, 0, x)
			g.RemoveNode(p)
			return true, nil
		}
	}
	in, ok := g.Shape(x)
	out, ok2 := g.Shape(n.Outputs[0])
	if !ok || !ok2 {
		return false, nil
	}
	target, ok := reshapeTarget(in, out)
	if !ok {
		return false, nil
	}
	shape := g.AddInitializer(valueName(n.Outputs[0], "shape"), int64s(target...))
	r := g.Add(n, "", "Reshape", []string{x, shape}, valueName(n.Outputs[0], "reshaped"))
	g.SetType(r.Outputs[0], g.Type(n.Outputs[0]))
	if !g.Forward(n.Outputs[0], r.Outputs[0]) {
		g.RemoveNode(r)
		return false, nil
	}
	g.RemoveNode(n)
	g.RemoveNode(p)
	return true, nil
}

func hasZero(s []int64) bool {
	for _, v := range s {
		if v == 0 {
			return true
		}
	}
	return false
}

// reshapeTarget writes out as a Reshape target for an input of shape in:
// known sizes as themselves, a dimension equal to in's at the same position
// as 0 (copy), and at most one other as -1.
func reshapeTarget(in, out ir.Shape) ([]int64, bool) {
	t := make([]int64, len(out))
	neg := false
	for i, d := range out {
		switch {
		case d.Known():
			if d.Value == 0 {
				return nil, false // 0 would mean "copy"
			}
			t[i] = d.Value
		case i < len(in) && d.Param != "" && in[i] == d:
			t[i] = 0
		case !neg:
			neg = true
			t[i] = -1
		default:
			return nil, false
		}
	}
	return t, true
}
