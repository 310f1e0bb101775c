package optimize

import (
	"errors"
	"fmt"

	"github.com/inferd/inferd/ir"
)

// Verify checks the structural rules every model a pass returns must keep,
// and reports every violation found (joined): each value is defined once
// (graph input, initializer or node output); nodes come in topological
// order and read only values defined before them or in an enclosing graph;
// graph outputs are defined; every node's domain is imported; nodes of
// ai.inferd are ops FUSED_OPS.md defines.
func Verify(m *ir.Model) error {
	if m == nil || m.Graph == nil {
		return errors.New("model has no graph")
	}
	v := &verifier{m: m}
	v.graph(m.Graph, nil)
	return errors.Join(v.errs...)
}

// FusedOps lists the operators of domain ai.inferd (FUSED_OPS.md).
var FusedOps = []string{"FusedConv", "FusedGemm", "FusedMatMul", "Attention", "SkipLayerNormalization",
	"BiasGelu", "Gelu", "LayerNormalization", "QLinearConv", "QLinearMatMul", "QLinearAdd", "QLinearGlobalAveragePool"}

type verifier struct {
	m    *ir.Model
	errs []error
}

func (v *verifier) errorf(format string, args ...any) {
	if len(v.errs) < 50 {
		v.errs = append(v.errs, fmt.Errorf(format, args...))
	}
}

func (v *verifier) graph(g *ir.Graph, outer map[string]bool) {
	defined := map[string]bool{}
	visible := func(name string) bool { return defined[name] || outer[name] }
	define := func(name, what string) {
		if name == "" {
			return
		}
		if defined[name] {
			v.errorf("graph %q: %s %q is defined twice", g.Name, what, name)
		}
		defined[name] = true
	}
	for _, in := range g.Inputs {
		define(in.Name, "input")
	}
	inputs := map[string]bool{}
	for _, in := range g.Inputs {
		inputs[in.Name] = true
	}
	for _, in := range g.Initializers {
		if inputs[in.Name] {
			continue // an overridable initializer: declared as an input too
		}
		define(in.Name, "initializer")
		if in.Tensor == nil {
			v.errorf("graph %q: initializer %q has no data", g.Name, in.Name)
		}
	}
	for _, n := range g.Nodes {
		if n.OpType == "" {
			v.errorf("graph %q: node %q has no op type", g.Name, n.Name)
		}
		d := ir.CanonicalDomain(n.Domain)
		if v.m.OpsetVersion(d) == 0 && !(d == "" && len(v.m.Opsets) == 0) {
			v.errorf("graph %q: node %s: domain %q is not imported", g.Name, n, n.Domain)
		}
		if d == ir.DomainInferd && !isFusedOp(n.OpType) {
			v.errorf("graph %q: node %s: %s is no operator of %s", g.Name, n, n.OpType, ir.DomainInferd)
		}
		for _, in := range n.Inputs {
			if in != "" && !visible(in) {
				v.errorf("graph %q: node %s reads %q before it is defined", g.Name, n, in)
			}
		}
		inner := map[string]bool{}
		for k := range outer {
			inner[k] = true
		}
		for k := range defined {
			inner[k] = true
		}
		for _, sg := range n.Subgraphs() {
			v.graph(sg, inner)
		}
		for _, o := range n.Outputs {
			define(o, "node output")
		}
	}
	for _, o := range g.Outputs {
		if !visible(o.Name) {
			v.errorf("graph %q: output %q is not defined", g.Name, o.Name)
		}
	}
}

func isFusedOp(op string) bool {
	for _, f := range FusedOps {
		if f == op {
			return true
		}
	}
	return false
}
