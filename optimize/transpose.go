package optimize

import (
	"github.com/inferd/inferd/ir"
)

// cancelTranspose merges a Transpose of a Transpose into one (or none):
//
//	Transpose(Transpose(x, p), q) -> Transpose(x, p∘q)   (x when p∘q is the identity)
//
// The outer node reads x directly; the inner one dies if nothing else
// reads it.
type cancelTranspose struct{}

func (cancelTranspose) Name() string      { return "cancel-transpose" }
func (cancelTranspose) OpTypes() []string { return []string{"Transpose"} }

func (cancelTranspose) Match(g *Graph, n *ir.Node) bool {
	return isOnnx(g.Producer(n.Input(0)), "Transpose")
}

func (cancelTranspose) Apply(g *Graph, n *ir.Node) (bool, error) {
	p := g.Producer(n.Input(0))
	p1, ok1 := transposePerm(g, p)
	p2, ok2 := transposePerm(g, n)
	if !ok1 || !ok2 || len(p1) != len(p2) {
		return false, nil
	}
	perm := make([]int64, len(p2))
	identity := true
	for i, k := range p2 {
		perm[i] = p1[k]
		identity = identity && perm[i] == int64(i)
	}
	x := p.Input(0)
	if identity {
		if !g.Forward(n.Outputs[0], x) {
			// A graph output equal to a graph input: keep a copy.
			g.unindex(n)
			n.OpType, n.Attrs, n.Inputs = "Identity", nil, []string{x}
			g.index(n)
			return true, nil
		}
		g.RemoveNode(n)
		return true, nil
	}
	t := g.Add(n, "", "Transpose", []string{x}, valueName(n.Outputs[0], "t"), attrInts("perm", perm...))
	if !g.Forward(n.Outputs[0], t.Outputs[0]) {
		g.RemoveNode(t)
		return false, nil
	}
	g.RemoveNode(n)
	return true, nil
}

// transposePerm returns n's permutation, filling in the default (reverse)
// when the input rank is known.
func transposePerm(g *Graph, n *ir.Node) ([]int64, bool) {
	perm := ir.Attrs(n).Ints("perm", nil)
	if perm != nil {
		seen := make([]bool, len(perm))
		for _, p := range perm {
			if p < 0 || p >= int64(len(perm)) || seen[p] {
				return nil, false
			}
			seen[p] = true
		}
		return perm, true
	}
	r := g.Rank(n.Input(0))
	if r < 0 {
		return nil, false
	}
	perm = make([]int64, r)
	for i := range perm {
		perm[i] = int64(r - 1 - i)
	}
	return perm, true
}

// pushTranspose moves a Transpose below an elementwise op when a chain of
// such ops, each the only reader of the one before, leads to another
// Transpose, so the two meet and cancel:
//
//	Transpose(Relu(Transpose(x, p)), q) -> Transpose(Transpose(Relu(x), p), q) -> Relu(x) when p∘q = id
//
// Elementwise ops with one input (and binary ones with a scalar constant)
// commute with any transpose.
type pushTranspose struct{}

func (pushTranspose) Name() string { return "push-transpose" }

func (pushTranspose) OpTypes() []string {
	var ops []string
	for op := range elementwiseOps {
		ops = append(ops, op)
	}
	return append(ops, "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min")
}

func (pushTranspose) Match(g *Graph, n *ir.Node) bool {
	return isOnnx(g.Producer(n.Input(0)), "Transpose") && g.SingleUse(n.Input(0), n) && reachesTranspose(g, n)
}

// commutesWithTranspose reports whether n applies elementwise to its first
// input: a unary elementwise op (with constant extra inputs, like Clip's
// bounds) or a binary op with a scalar constant second operand.
func commutesWithTranspose(g *Graph, n *ir.Node) bool {
	if len(n.Outputs) != 1 || ir.CanonicalDomain(n.Domain) != "" {
		return false
	}
	if elementwiseOps[n.OpType] {
		for _, in := range n.Inputs[1:] {
			if in != "" && !g.IsConst(in) {
				return false
			}
		}
		return true
	}
	if !broadcastOps[n.OpType] || len(n.Inputs) != 2 {
		return false
	}
	c := g.Const(n.Input(1))
	return c != nil && c.Len() == 1 && c.Rank() == 0
}

// reachesTranspose reports whether n commutes with a transpose and a chain
// of such nodes, each the only reader of the last, ends in a Transpose.
func reachesTranspose(g *Graph, n *ir.Node) bool {
	for i := 0; i < 8 && commutesWithTranspose(g, n); i++ {
		c := g.SoleConsumer(n.Outputs[0])
		if c == nil || c.Input(0) != n.Outputs[0] {
			return false
		}
		if isOnnx(c, "Transpose") {
			return true
		}
		n = c
	}
	return false
}

func (pushTranspose) Apply(g *Graph, n *ir.Node) (bool, error) {
	t := g.Producer(n.Input(0))
	if _, ok := transposePerm(g, t); !ok {
		return false, nil
	}
	// n now reads x; a copy of t transposes n's result.
	x := t.Input(0)
	out := n.Outputs[0]
	inner := g.NewName(valueName(out, "pre"))
	g.unindex(n)
	n.Inputs[0] = x
	n.Outputs[0] = inner
	g.index(n)
	nt := &ir.Node{OpType: "Transpose", Inputs: []string{inner}, Outputs: []string{out}, Attrs: t.Attrs}
	g.AddNode(nt, g.SoleConsumer(out))
	g.RemoveNode(t)
	return true, nil
}
