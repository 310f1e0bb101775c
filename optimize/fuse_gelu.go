package optimize

import (
	"math"

	"github.com/inferd/inferd/ir"
)

// fuseGelu recovers Gelu from the two decompositions exporters write:
//
//	0.5 * x * (1 + Erf(x / sqrt(2)))                              -> Gelu(x)
//	0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))      -> Gelu(x, approximate="tanh")
//
// in any grouping of the products (x*a*0.5, x*(a*0.5), (x*0.5)*a), with
// x/sqrt(2) also written x*(1/sqrt(2)) and x^3 as Pow(x, 3) or x*x*x.
// Constants must match to a relative 1e-4. At opset 20 and later it writes
// ONNX's Gelu (basic level); the inferd variant, at earlier opsets, writes
// ai.inferd's Gelu, which has the same semantics.
type fuseGelu struct{ inferd bool }

func (f fuseGelu) Name() string {
	if f.inferd {
		return "fuse-gelu-inferd"
	}
	return "fuse-gelu"
}

func (fuseGelu) OpTypes() []string { return []string{"Erf", "Tanh"} }

func (f fuseGelu) Match(g *Graph, n *ir.Node) bool {
	return f.inferd == (g.Opset("") < 20) && len(n.Outputs) == 1
}

func (f fuseGelu) Apply(g *Graph, n *ir.Node) (bool, error) {
	var x, approx string
	var nodes []*ir.Node
	var ok bool
	if n.OpType == "Erf" {
		x, nodes, ok = erfArgument(g, n)
		approx = "none"
	} else {
		x, nodes, ok = tanhArgument(g, n)
		approx = "tanh"
	}
	if !ok || !isFloat(g.DType(x)) {
		return false, nil
	}
	// a = 1 + f(...)
	add := g.SoleConsumer(n.Outputs[0])
	if !isOnnx(add, "Add") {
		return false, nil
	}
	if one, _, ok := constOperand(g, add); !ok || one != 1 || !g.SingleUse(n.Outputs[0], add) {
		return false, nil
	}
	nodes = append(nodes, n, add)
	tail, last, ok := geluTail(g, x, add.Outputs[0])
	if !ok {
		return false, nil
	}
	nodes = append(nodes, tail...)
	domain := ""
	if f.inferd {
		domain = ir.DomainInferd
	}
	var attrs []*ir.Attribute
	if approx != "none" {
		attrs = append(attrs, attrString("approximate", approx))
	}
	gelu := g.Add(last, domain, "Gelu", []string{x}, valueName(last.Outputs[0], "gelu"), attrs...)
	g.SetType(gelu.Outputs[0], g.Type(last.Outputs[0]))
	if !g.Forward(last.Outputs[0], gelu.Outputs[0]) {
		g.RemoveNode(gelu)
		return false, nil
	}
	for _, m := range nodes {
		g.RemoveNode(m)
	}
	return true, nil
}

// mulConst returns the other operand of n if n multiplies by a constant
// near want (or divides by one near 1/want, when div is set).
func mulConst(g *Graph, n *ir.Node, want float64) (string, bool) {
	if n == nil || len(n.Inputs) != 2 {
		return "", false
	}
	switch {
	case isOnnx(n, "Mul"):
		for side := 0; side < 2; side++ {
			if v, ok := g.ConstScalar(n.Inputs[side]); ok && near(v, want) && scalarLike(g, n.Inputs[side]) {
				return n.Inputs[1-side], true
			}
		}
	case isOnnx(n, "Div"):
		if v, ok := g.ConstScalar(n.Inputs[1]); ok && near(1/v, want) && scalarLike(g, n.Inputs[1]) {
			return n.Inputs[0], true
		}
	}
	return "", false
}

// scalarLike reports whether the constant k broadcasts without changing
// any shape: a scalar or all-ones shape of rank at most 1.
func scalarLike(g *Graph, k string) bool {
	t := g.Const(k)
	return t != nil && t.Len() == 1 && t.Rank() <= 1
}

// erfArgument matches Erf(x / sqrt 2) and returns x.
func erfArgument(g *Graph, erf *ir.Node) (string, []*ir.Node, bool) {
	p := g.Producer(erf.Input(0))
	x, ok := mulConst(g, p, 1/math.Sqrt2)
	if !ok || !g.SingleUse(erf.Input(0), erf) {
		return "", nil, false
	}
	return x, []*ir.Node{p}, true
}

// tanhArgument matches Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)) and
// returns x.
func tanhArgument(g *Graph, th *ir.Node) (string, []*ir.Node, bool) {
	m := g.Producer(th.Input(0))
	inner, ok := mulConst(g, m, math.Sqrt(2/math.Pi))
	if !ok || !g.SingleUse(th.Input(0), th) {
		return "", nil, false
	}
	add := g.Producer(inner)
	if !isOnnx(add, "Add") || !g.SingleUse(inner, m) || len(add.Inputs) != 2 {
		return "", nil, false
	}
	for side := 0; side < 2; side++ {
		x, t1 := add.Inputs[side], add.Inputs[1-side]
		mc := g.Producer(t1)
		cube, ok := mulConst(g, mc, 0.044715)
		if !ok || !g.SingleUse(t1, add) {
			continue
		}
		cn := g.Producer(cube)
		cubeNodes, ok := isCube(g, cn, x)
		if !ok || !g.SingleUse(cube, mc) {
			continue
		}
		return x, append([]*ir.Node{m, add, mc}, cubeNodes...), true
	}
	return "", nil, false
}

// isCube reports whether n computes x^3: Pow(x, 3), Mul(x, Mul(x, x)) or
// Mul(Mul(x, x), x).
func isCube(g *Graph, n *ir.Node, x string) ([]*ir.Node, bool) {
	switch {
	case isOnnx(n, "Pow"):
		v, ok := g.ConstScalar(n.Input(1))
		return []*ir.Node{n}, ok && v == 3 && n.Input(0) == x
	case isOnnx(n, "Mul") && len(n.Inputs) == 2:
		for side := 0; side < 2; side++ {
			if n.Inputs[side] != x {
				continue
			}
			sq := g.Producer(n.Inputs[1-side])
			if isOnnx(sq, "Mul") && sq.Input(0) == x && sq.Input(1) == x && g.SingleUse(n.Inputs[1-side], n) {
				return []*ir.Node{n, sq}, true
			}
		}
	}
	return nil, false
}

// geluTail matches the products 0.5 * x * a and returns their nodes and the
// last one.
func geluTail(g *Graph, x, a string) ([]*ir.Node, *ir.Node, bool) {
	c := g.SoleConsumer(a)
	if !isOnnx(c, "Mul") || !g.SingleUse(a, c) {
		return nil, nil, false
	}
	// (ii) x * (a * 0.5)
	if other, ok := mulConst(g, c, 0.5); ok && other == a {
		y := g.SoleConsumer(c.Outputs[0])
		if isOnnx(y, "Mul") && g.SingleUse(c.Outputs[0], y) && otherInput(y, c.Outputs[0]) == x {
			return []*ir.Node{c, y}, y, true
		}
		return nil, nil, false
	}
	o := otherInput(c, a)
	// (i) (x * a) * 0.5
	if o == x {
		y := g.SoleConsumer(c.Outputs[0])
		if other, ok := mulConst(g, y, 0.5); ok && other == c.Outputs[0] && g.SingleUse(c.Outputs[0], y) {
			return []*ir.Node{c, y}, y, true
		}
		return nil, nil, false
	}
	// (iii) (x * 0.5) * a
	h := g.Producer(o)
	if other, ok := mulConst(g, h, 0.5); ok && other == x && g.SingleUse(o, c) {
		return []*ir.Node{h, c}, c, true
	}
	return nil, nil, false
}

// otherInput returns the input of binary n that is not v ("" if neither
// or both are).
func otherInput(n *ir.Node, v string) string {
	if len(n.Inputs) != 2 {
		return ""
	}
	switch {
	case n.Inputs[0] == v && n.Inputs[1] != v:
		return n.Inputs[1]
	case n.Inputs[1] == v && n.Inputs[0] != v:
		return n.Inputs[0]
	}
	return ""
}
