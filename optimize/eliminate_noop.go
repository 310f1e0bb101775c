package optimize

import (
	"math"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// No-op elimination: nodes whose output equals an input are bypassed (their
// readers read the input). Each rule's comment gives the rewrite.

// Identity(x) -> x
var eliminateIdentity = &rule{name: "eliminate-identity", ops: []string{"Identity"},
	apply: func(g *Graph, n *ir.Node) bool { return bypass(g, n, n.Input(0)) }}

// Dropout(x) -> x when not training (no training_mode, or a constant
// false one) and the mask is not read.
var eliminateDropout = &rule{name: "eliminate-dropout", ops: []string{"Dropout"},
	apply: func(g *Graph, n *ir.Node) bool {
		if tm := n.Input(2); tm != "" {
			v, ok := g.ConstScalar(tm)
			if !ok || v != 0 {
				return false
			}
		}
		return bypass(g, n, n.Input(0))
	}}

// Cast(x, to=T) -> x when x is already of type T
var eliminateCast = &rule{name: "eliminate-cast", ops: []string{"Cast"},
	apply: func(g *Graph, n *ir.Node) bool {
		to := tensor.DType(ir.Attrs(n).Int("to", 0))
		if dt := g.DType(n.Input(0)); dt == tensor.Undefined || dt != to {
			return false
		}
		return bypass(g, n, n.Input(0))
	}}

// Reshape(x, s) -> x when the result has x's shape
var eliminateReshape = &rule{name: "eliminate-reshape", ops: []string{"Reshape"},
	apply: func(g *Graph, n *ir.Node) bool { return bypassSameShape(g, n) }}

// Expand(x, s) -> x when the result has x's shape
var eliminateExpand = &rule{name: "eliminate-expand", ops: []string{"Expand"},
	apply: func(g *Graph, n *ir.Node) bool { return bypassSameShape(g, n) }}

// Slice(x, ...) -> x when every step is 1 and the result has x's shape
var eliminateSlice = &rule{name: "eliminate-slice", ops: []string{"Slice"},
	apply: func(g *Graph, n *ir.Node) bool {
		if g.Opset("") >= 10 && n.Input(4) != "" {
			steps, ok := g.ConstInts(n.Input(4))
			if !ok {
				return false
			}
			for _, s := range steps {
				if s != 1 {
					return false
				}
			}
		}
		return bypassSameShape(g, n)
	}}

// Transpose(x, perm=[0,1,...]) -> x
var eliminateTranspose = &rule{name: "eliminate-transpose", ops: []string{"Transpose"},
	apply: func(g *Graph, n *ir.Node) bool {
		perm := ir.Attrs(n).Ints("perm", nil)
		if perm == nil {
			if r := g.Rank(n.Input(0)); r < 0 || r > 1 {
				return false
			}
		}
		for i, p := range perm {
			if p != int64(i) {
				return false
			}
		}
		return bypass(g, n, n.Input(0))
	}}

// Pad(x, pads=0...) -> x
var eliminatePad = &rule{name: "eliminate-pad", ops: []string{"Pad"},
	apply: func(g *Graph, n *ir.Node) bool {
		var pads []int64
		if g.Opset("") < 11 {
			pads = ir.Attrs(n).Ints("pads", nil)
		} else {
			var ok bool
			if pads, ok = g.ConstInts(n.Input(1)); !ok {
				return false
			}
		}
		if len(pads) == 0 {
			return false
		}
		for _, p := range pads {
			if p != 0 {
				return false
			}
		}
		return bypass(g, n, n.Input(0))
	}}

// Add(x, 0), Add(0, x), Sub(x, 0), Mul(x, 1), Mul(1, x), Div(x, 1), Pow(x, 1)
// -> x, when the constant does not broadcast x to a bigger shape or change
// its type.
var eliminateNeutral = &rule{name: "eliminate-neutral", ops: []string{"Add", "Sub", "Mul", "Div", "Pow"},
	apply: func(g *Graph, n *ir.Node) bool {
		if len(n.Inputs) != 2 {
			return false
		}
		neutral := 0.0
		if n.OpType == "Mul" || n.OpType == "Div" || n.OpType == "Pow" {
			neutral = 1
		}
		for side := 0; side < 2; side++ {
			if side == 0 && !commutativeOps[n.OpType] {
				continue
			}
			x, c := n.Inputs[1-side], n.Inputs[side]
			v, ok := uniformValue(g.Const(c))
			if !ok || v != neutral || math.Signbit(v) {
				continue
			}
			if !keepsShape(g, x, c) || g.DType(x) != g.DType(c) || g.DType(x) == tensor.Undefined {
				continue
			}
			return bypass(g, n, x)
		}
		return false
	}}

// keepsShape reports whether broadcasting x with the constant c leaves x's
// shape unchanged: c has no more dimensions than x, all of size 1.
func keepsShape(g *Graph, x, c string) bool {
	ct := g.Const(c)
	if ct == nil {
		return false
	}
	for _, d := range ct.Shape {
		if d != 1 {
			return false
		}
	}
	if ct.Rank() == 0 {
		return true
	}
	r := g.Rank(x)
	return r >= ct.Rank()
}

func bypassSameShape(g *Graph, n *ir.Node) bool {
	in, ok := g.Shape(n.Input(0))
	if !ok {
		return false
	}
	out, ok := g.Shape(n.Outputs[0])
	if !ok || !sameShape(in, out) {
		return false
	}
	return bypass(g, n, n.Input(0))
}
