package optimize

import (
	"math"

	"github.com/inferd/inferd/ir"
)

// fuseConvActivation fuses a Conv with the residual addition and the
// activation after it into ai.inferd.FusedConv (FUSED_OPS.md):
//
//	Relu(Add(Conv(x, W, b), z)) -> FusedConv(x, W, b, z, activation="Relu")
//	Clip(Conv(x, W, b), 0, 6)   -> FusedConv(x, W, b, activation="Clip", activation_params=[0, 6])
//	Add(Conv(x, W, b), z)       -> FusedConv(x, W, b, z)
//
// It applies one step at a time (Conv absorbs the Add, then the FusedConv
// absorbs the activation). z must have exactly the Conv output's shape, and
// each absorbed value must have no other reader.
type fuseConvActivation struct{}

func (fuseConvActivation) Name() string      { return "fuse-conv-activation" }
func (fuseConvActivation) OpTypes() []string { return []string{"Conv", "ai.inferd.FusedConv"} }

func (fuseConvActivation) Match(g *Graph, n *ir.Node) bool {
	return len(n.Outputs) == 1 && g.SoleConsumer(n.Outputs[0]) != nil || isSiluInput(g, n)
}

func (fuseConvActivation) Apply(g *Graph, n *ir.Node) (bool, error) {
	out := n.Outputs[0]
	if !isFloat(g.DType(out)) && !isFloat(g.DType(n.Input(0))) {
		return false, nil
	}
	act, hasZ := "", false
	if n.OpType == "FusedConv" {
		act = ir.Attrs(n).String("activation", "")
		hasZ = n.Input(3) != ""
	}
	if act != "" {
		return false, nil
	}
	inputs := []string{n.Input(0), n.Input(1), n.Input(2)}
	if hasZ {
		inputs = append(inputs, n.Input(3))
	}
	attrs := convAttrs(n)
	var last *ir.Node
	var absorbed []*ir.Node
	if a, ok := activationOf(g, n); ok {
		attrs = append(attrs, a.attrs()...)
		last, absorbed = a.last, a.nodes
	} else {
		c := g.SoleConsumer(out)
		if hasZ || !isOnnx(c, "Add") || !g.SingleUse(out, c) {
			return false, nil
		}
		z := otherInput(c, out)
		zs, ok1 := g.Shape(z)
		os, ok2 := g.Shape(out)
		if z == "" || !ok1 || !ok2 || !sameShape(zs, os) || g.DType(z) != g.DType(out) {
			return false, nil
		}
		inputs = append(inputs, z)
		last, absorbed = c, []*ir.Node{c}
	}
	return replaceFused(g, n, last, absorbed, "FusedConv", inputs, attrs), nil
}

// convAttrs returns the Conv attributes of a Conv or FusedConv node.
func convAttrs(n *ir.Node) []*ir.Attribute {
	var out []*ir.Attribute
	for _, a := range n.Attrs {
		switch a.Name {
		case "activation", "activation_params":
		default:
			out = append(out, a)
		}
	}
	return out
}

// replaceFused replaces first and the nodes after it (absorbed, ending
// with last) by one DomainInferd node op computing last's output.
func replaceFused(g *Graph, first, last *ir.Node, absorbed []*ir.Node, op string, inputs []string, attrs []*ir.Attribute) bool {
	for len(inputs) > 0 && inputs[len(inputs)-1] == "" {
		inputs = inputs[:len(inputs)-1]
	}
	f := g.Add(last, ir.DomainInferd, op, inputs, valueName(last.Outputs[0], op), attrs...)
	f.Name = g.NewName(first.Name + "_" + op)
	g.SetType(f.Outputs[0], g.Type(last.Outputs[0]))
	if !g.Forward(last.Outputs[0], f.Outputs[0]) {
		g.RemoveNode(f)
		return false
	}
	g.RemoveNode(first)
	for _, m := range absorbed {
		g.RemoveNode(m)
	}
	return true
}

// activation is an activation found after a node: its name and parameters
// as FUSED_OPS.md lists them, the nodes that compute it and the last one.
type activation struct {
	name   string
	params []float32
	nodes  []*ir.Node
	last   *ir.Node
}

func (a activation) attrs() []*ir.Attribute {
	out := []*ir.Attribute{attrString("activation", a.name)}
	if len(a.params) > 0 {
		out = append(out, attrFloats("activation_params", a.params...))
	}
	return out
}

// activationOf returns the activation applied to n's only output, if its
// only reader (or, for SiLU, its two readers) is one.
func activationOf(g *Graph, n *ir.Node) (activation, bool) {
	out := n.Outputs[0]
	if a, ok := siluOf(g, out); ok {
		return a, true
	}
	c := g.SoleConsumer(out)
	if c == nil || !g.SingleUse(out, c) || c.Input(0) != out || len(c.Outputs) != 1 {
		return activation{}, false
	}
	a := activation{nodes: []*ir.Node{c}, last: c}
	at := ir.Attrs(c)
	switch opKey(c) {
	case "Relu", "Sigmoid", "Tanh", "HardSwish":
		a.name = c.OpType
	case "LeakyRelu":
		a.name, a.params = "LeakyRelu", []float32{at.Float("alpha", 0.01)}
	case "HardSigmoid":
		a.name, a.params = "HardSigmoid", []float32{at.Float("alpha", 0.2), at.Float("beta", 0.5)}
	case "Clip":
		lo, hi := float32(-math.MaxFloat32), float32(math.MaxFloat32)
		if g.Opset("") < 11 {
			lo, hi = at.Float("min", lo), at.Float("max", hi)
		} else {
			for i, p := range []*float32{&lo, &hi} {
				name := c.Input(1 + i)
				if name == "" {
					continue
				}
				v, ok := g.ConstScalar(name)
				if !ok {
					return activation{}, false
				}
				*p = float32(v)
			}
		}
		a.name, a.params = "Clip", []float32{lo, hi}
	case "Gelu", "ai.inferd.Gelu":
		switch at.String("approximate", "none") {
		case "none":
			a.name = "Gelu"
		case "tanh":
			a.name = "GeluTanh"
		default:
			return activation{}, false
		}
	default:
		return activation{}, false
	}
	if at.Err() != nil {
		return activation{}, false
	}
	return a, true
}

// siluOf matches Mul(x, Sigmoid(x)), x's only two readers.
func siluOf(g *Graph, x string) (activation, bool) {
	cs := g.Consumers(x)
	if len(cs) != 2 || g.IsOutput(x) {
		return activation{}, false
	}
	for i := 0; i < 2; i++ {
		s, m := cs[i], cs[1-i]
		if isOnnx(s, "Sigmoid") && isOnnx(m, "Mul") && s.Input(0) == x && len(m.Inputs) == 2 &&
			otherInput(m, x) == s.Outputs[0] && g.SingleUse(s.Outputs[0], m) {
			return activation{name: "Silu", nodes: []*ir.Node{s, m}, last: m}, true
		}
	}
	return activation{}, false
}

func isSiluInput(g *Graph, n *ir.Node) bool {
	if len(n.Outputs) != 1 {
		return false
	}
	_, ok := siluOf(g, n.Outputs[0])
	return ok
}
