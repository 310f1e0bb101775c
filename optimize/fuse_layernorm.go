package optimize

import (
	"math"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// fuseLayerNorm recovers LayerNormalization from the decomposition
// exporters write before opset 17:
//
//	m = ReduceMean(x, axes)            axes: the last k axes
//	d = Sub(x, m)
//	v = ReduceMean(Pow(d, 2), axes)    or Mul(d, d)
//	y = Div(d, Sqrt(Add(v, epsilon)))
//	[y = Mul(y, scale)] [y = Add(y, bias)]
//	  -> LayerNormalization(x, scale, bias, axis=-k, epsilon)
//
// At opset 17 and later it writes ONNX's LayerNormalization (basic level);
// the inferd variant, at earlier opsets, writes ai.inferd's
// LayerNormalization, which has ONNX's opset-17 semantics. scale and bias
// must be float constants of the normalized shape's last dimension (scale
// defaults to ones, which needs that dimension known).
type fuseLayerNorm struct{ inferd bool }

func (f fuseLayerNorm) Name() string {
	if f.inferd {
		return "fuse-layernorm-inferd"
	}
	return "fuse-layernorm"
}

func (fuseLayerNorm) OpTypes() []string { return []string{"Div"} }

func (f fuseLayerNorm) Match(g *Graph, n *ir.Node) bool {
	if f.inferd != (g.Opset("") < 17) {
		return false
	}
	return isOnnx(g.Producer(n.Input(0)), "Sub") && isOnnx(g.Producer(n.Input(1)), "Sqrt")
}

func (f fuseLayerNorm) Apply(g *Graph, n *ir.Node) (bool, error) {
	d, sq := n.Input(0), g.Producer(n.Input(1))
	sub := g.Producer(d)
	x := sub.Input(0)
	mean := g.Producer(sub.Input(1))
	if !isOnnx(mean, "ReduceMean") || mean.Input(0) != x || !g.SingleUse(sub.Input(1), sub) {
		return false, nil
	}
	add := g.Producer(sq.Input(0))
	if !isOnnx(add, "Add") || !g.SingleUse(sq.Input(0), sq) || !g.SingleUse(n.Input(1), n) {
		return false, nil
	}
	eps, varOut, ok := constOperand(g, add)
	if !ok || !g.SingleUse(varOut, add) {
		return false, nil
	}
	rm := g.Producer(varOut)
	if !isOnnx(rm, "ReduceMean") || !sameReduction(g, mean, rm) {
		return false, nil
	}
	sqr := g.Producer(rm.Input(0))
	if !g.SingleUse(rm.Input(0), rm) || !isSquareOf(g, sqr, d) {
		return false, nil
	}
	// d feeds the square and the Div, nothing else.
	if len(g.Consumers(d)) != 2 || g.IsOutput(d) {
		return false, nil
	}
	axis, ok := layerNormAxis(g, mean, x)
	if !ok || axis != -1 {
		// Scale and bias below are checked against the last axis only.
		return false, nil
	}
	dt := g.DType(x)
	if !isFloat(dt) {
		return false, nil
	}
	nodes := []*ir.Node{mean, sub, sqr, rm, add, sq, n}
	last := n
	var scale, bias string
	if c := g.SoleConsumer(last.Outputs[0]); isOnnx(c, "Mul") {
		if k, _, ok := constOperandName(g, c); ok && lastAxisParam(g, k, x) {
			scale, last = k, c
			nodes = append(nodes, c)
		}
	}
	if c := g.SoleConsumer(last.Outputs[0]); isOnnx(c, "Add") {
		if k, _, ok := constOperandName(g, c); ok && lastAxisParam(g, k, x) {
			bias, last = k, c
			nodes = append(nodes, c)
		}
	}
	if scale == "" {
		s, ok := g.Shape(x)
		if !ok || len(s) == 0 || !s[len(s)-1].Known() {
			return false, nil
		}
		ones, ok := fromFloats(dt, []int{int(s[len(s)-1].Value)}, slices.Repeat([]float64{1}, int(s[len(s)-1].Value)))
		if !ok {
			return false, nil
		}
		scale = g.AddInitializer(valueName(n.Outputs[0], "scale"), ones)
	}
	scale, ok1 := vectorParam(g, scale, x)
	ok2 := true
	if bias != "" {
		bias, ok2 = vectorParam(g, bias, x)
	}
	if !ok1 || !ok2 {
		return false, nil
	}
	domain := ""
	if f.inferd {
		domain = ir.DomainInferd
	}
	inputs := []string{x, scale}
	if bias != "" {
		inputs = append(inputs, bias)
	}
	ln := g.Add(last, domain, "LayerNormalization", inputs, valueName(last.Outputs[0], "ln"),
		attrInt("axis", -1), attrFloat("epsilon", float32(eps)))
	g.SetType(ln.Outputs[0], g.Type(last.Outputs[0]))
	if !g.Forward(last.Outputs[0], ln.Outputs[0]) {
		g.RemoveNode(ln)
		return false, nil
	}
	for _, m := range nodes {
		g.RemoveNode(m)
	}
	return true, nil
}

// constOperand returns the scalar-or-tensor constant operand of a binary
// node n and its other operand. The float value is the constant's single
// value when it has one element.
func constOperand(g *Graph, n *ir.Node) (float64, string, bool) {
	if len(n.Inputs) != 2 {
		return 0, "", false
	}
	for side := 0; side < 2; side++ {
		if t := g.Const(n.Inputs[side]); t != nil {
			v, _ := scalarValue(t)
			return v, n.Inputs[1-side], true
		}
	}
	return 0, "", false
}

// constOperandName is constOperand returning the constant's name.
func constOperandName(g *Graph, n *ir.Node) (c, other string, ok bool) {
	if len(n.Inputs) != 2 {
		return "", "", false
	}
	for side := 0; side < 2; side++ {
		if g.IsConst(n.Inputs[side]) {
			return n.Inputs[side], n.Inputs[1-side], true
		}
	}
	return "", "", false
}

// isSquareOf reports whether n computes d*d: Pow(d, 2) or Mul(d, d).
func isSquareOf(g *Graph, n *ir.Node, d string) bool {
	switch {
	case isOnnx(n, "Pow"):
		v, ok := g.ConstScalar(n.Input(1))
		return ok && v == 2 && n.Input(0) == d
	case isOnnx(n, "Mul"):
		return n.Input(0) == d && n.Input(1) == d
	}
	return false
}

// reduceAxes returns a Reduce node's axes and keepdims.
func reduceAxes(g *Graph, n *ir.Node) ([]int64, bool) {
	a := ir.Attrs(n)
	if a.Int("keepdims", 1) == 0 {
		return nil, false
	}
	if g.Opset("") < 18 {
		return a.Ints("axes", nil), a.Has("axes")
	}
	return g.ConstInts(n.Input(1))
}

func sameReduction(g *Graph, a, b *ir.Node) bool {
	x, ok1 := reduceAxes(g, a)
	y, ok2 := reduceAxes(g, b)
	return ok1 && ok2 && slices.Equal(x, y)
}

// layerNormAxis returns the LayerNormalization axis (negative) that a
// reduction over the trailing axes of x amounts to.
func layerNormAxis(g *Graph, red *ir.Node, x string) (int64, bool) {
	axes, ok := reduceAxes(g, red)
	if !ok || len(axes) == 0 {
		return 0, false
	}
	r := g.Rank(x)
	norm := make([]int64, len(axes))
	for i, a := range axes {
		if a >= 0 {
			if r < 0 {
				return 0, false
			}
			a -= int64(r)
		}
		norm[i] = a
	}
	slices.Sort(norm)
	for i, a := range norm {
		if a != int64(i-len(norm)) {
			return 0, false
		}
	}
	return norm[0], true
}

// lastAxisParam reports whether constant k is a per-feature parameter over
// x's last axis: one element, or shape [..., D] with only ones before D.
func lastAxisParam(g *Graph, k, x string) bool {
	t := g.Const(k)
	if t == nil || !isFloat(t.DType) || t.DType != g.DType(x) {
		return false
	}
	if t.Len() == 1 {
		return t.Rank() <= max(g.Rank(x), 0)
	}
	s, ok := g.Shape(x)
	if !ok || len(s) == 0 || t.Rank() > len(s) {
		return false
	}
	for _, d := range t.Shape[:t.Rank()-1] {
		if d != 1 {
			return false
		}
	}
	last := s[len(s)-1]
	return last.Known() && int64(t.Shape[t.Rank()-1]) == last.Value
}

// vectorParam returns the name of k as a vector of x's last dimension D,
// adding a reshaped (or, for one element, repeated) copy if k has another
// shape.
func vectorParam(g *Graph, k, x string) (string, bool) {
	t := g.Const(k)
	s, ok := g.Shape(x)
	if t == nil || !ok || len(s) == 0 || !s[len(s)-1].Known() {
		return "", false
	}
	d := int(s[len(s)-1].Value)
	if t.Rank() == 1 && t.Len() == d {
		return k, true
	}
	if t.Len() == d {
		v := &tensor.Tensor{DType: t.DType, Shape: []int{d}, Data: t.Data}
		return g.AddInitializer(valueName(k, "vec"), v), true
	}
	x0, ok := scalarValue(t)
	if !ok {
		return "", false
	}
	v, ok := fromFloats(t.DType, []int{d}, slices.Repeat([]float64{x0}, d))
	if !ok {
		return "", false
	}
	return g.AddInitializer(valueName(k, "vec"), v), true
}

// near reports whether x is within a relative 1e-4 of want.
func near(x, want float64) bool { return math.Abs(x-want) <= 1e-4*math.Abs(want) }
