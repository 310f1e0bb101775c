package optimize

import (
	"math"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// fuseConvBN folds an inference-mode BatchNormalization into the Conv
// before it:
//
//	BatchNormalization(Conv(x, W, b), scale, B, mean, var)
//	  -> Conv(x, W * s, (b - mean) * s + B)      s = scale / sqrt(var + epsilon), per output channel
//
// The Conv's output must have no other reader (nor be a graph output), W,
// b and the BatchNormalization parameters must be float constants, and the
// BatchNormalization must not be in training mode.
type fuseConvBN struct{}

func (fuseConvBN) Name() string      { return "fuse-conv-bn" }
func (fuseConvBN) OpTypes() []string { return []string{"BatchNormalization"} }

func (fuseConvBN) Match(g *Graph, n *ir.Node) bool {
	c := g.Producer(n.Input(0))
	return isOnnx(c, "Conv") && g.SingleUse(n.Input(0), n)
}

func (fuseConvBN) Apply(g *Graph, n *ir.Node) (bool, error) {
	conv := g.Producer(n.Input(0))
	s, shift, ok := bnAffine(g, n)
	if !ok {
		return false, nil
	}
	w := g.Const(conv.Input(1))
	if w == nil || !isFloat(w.DType) || w.Rank() < 3 || w.Shape[0] != len(s) {
		return false, nil
	}
	bias, ok := convBias(g, conv, len(s))
	if !ok {
		return false, nil
	}
	nw, ok := scaleAxis(w, 0, s)
	if !ok {
		return false, nil
	}
	for i := range bias {
		bias[i] = bias[i]*s[i] + shift[i]
	}
	nb, ok := fromFloats(w.DType, []int{len(s)}, bias)
	if !ok {
		return false, nil
	}
	return replaceConv(g, conv, n, nw, nb), nil
}

// bnAffine returns BatchNormalization n as y = x*s + shift per channel, if
// it is in inference mode with constant float parameters.
func bnAffine(g *Graph, n *ir.Node) (s, shift []float64, ok bool) {
	a := ir.Attrs(n)
	if a.Int("training_mode", 0) != 0 || a.Int("spatial", 1) != 1 || (g.Opset("") < 6 && a.Int("is_test", 0) == 0 && a.Has("is_test")) {
		return nil, nil, false
	}
	for _, o := range n.Outputs[1:] {
		if o != "" && (len(g.Consumers(o)) > 0 || g.IsOutput(o)) {
			return nil, nil, false
		}
	}
	eps := float64(a.Float("epsilon", 1e-5))
	var p [4][]float64
	for i := range p {
		t := g.Const(n.Input(1 + i))
		if t == nil || t.Rank() != 1 {
			return nil, nil, false
		}
		if p[i], ok = floatsOf(t); !ok {
			return nil, nil, false
		}
		if i > 0 && len(p[i]) != len(p[0]) {
			return nil, nil, false
		}
	}
	scale, b, mean, variance := p[0], p[1], p[2], p[3]
	s = make([]float64, len(scale))
	shift = make([]float64, len(scale))
	for c := range s {
		s[c] = scale[c] / math.Sqrt(variance[c]+eps)
		shift[c] = b[c] - mean[c]*s[c]
	}
	return s, shift, true
}

// convBias returns conv's bias as float64s (zeros if it has none), or
// false if it is not a constant of c channels.
func convBias(g *Graph, conv *ir.Node, c int) ([]float64, bool) {
	if conv.Input(2) == "" {
		return make([]float64, c), true
	}
	t := g.Const(conv.Input(2))
	if t == nil || t.Len() != c {
		return nil, false
	}
	return floatsOf(t)
}

// replaceConv replaces the pair conv → last by one Conv with conv's
// attributes and input, weight w and bias b, computing last's output.
func replaceConv(g *Graph, conv, last *ir.Node, w, b *tensor.Tensor) bool {
	wn := g.AddInitializer(valueName(conv.Input(1), "folded"), w)
	bn := g.AddInitializer(valueName(conv.Outputs[0], "bias"), b)
	nc := &ir.Node{OpType: conv.OpType, Domain: conv.Domain, Name: g.NewName(conv.Name),
		Inputs: []string{conv.Input(0), wn, bn}, Outputs: []string{g.NewName(valueName(last.Outputs[0], "conv"))},
		Attrs: conv.Attrs}
	g.AddNode(nc, last)
	g.SetType(nc.Outputs[0], g.Type(last.Outputs[0]))
	if !g.Forward(last.Outputs[0], nc.Outputs[0]) {
		g.RemoveNode(nc)
		return false
	}
	g.RemoveNode(last)
	g.RemoveNode(conv)
	return true
}

// scaleAxis returns t with every slice along axis k multiplied by s[k].
func scaleAxis(t *tensor.Tensor, axis int, s []float64) (*tensor.Tensor, bool) {
	v, ok := floatsOf(t)
	if !ok || axis >= t.Rank() || t.Shape[axis] != len(s) {
		return nil, false
	}
	inner := 1
	for _, d := range t.Shape[axis+1:] {
		inner *= d
	}
	for i := range v {
		v[i] *= s[(i/inner)%len(s)]
	}
	return fromFloats(t.DType, t.Shape, v)
}
