package optimize

import "github.com/inferd/inferd/ir"

// rule is a Rule made of functions, so that small rewrites read as a table.
type rule struct {
	name  string
	ops   []string
	match func(g *Graph, n *ir.Node) bool // nil: always
	apply func(g *Graph, n *ir.Node) bool
}

func (r *rule) Name() string      { return r.name }
func (r *rule) OpTypes() []string { return r.ops }

func (r *rule) Match(g *Graph, n *ir.Node) bool { return r.match == nil || r.match(g, n) }

func (r *rule) Apply(g *Graph, n *ir.Node) (bool, error) { return r.apply(g, n), nil }

// bypass removes n, whose output 0 equals its input in, making readers of
// the output read in. It declines (false) when the output is a graph
// output that cannot be renamed.
func bypass(g *Graph, n *ir.Node, in string) bool {
	if in == "" || len(n.Outputs) == 0 {
		return false
	}
	for _, o := range n.Outputs[1:] {
		if o != "" && (len(g.Consumers(o)) > 0 || g.IsOutput(o)) {
			return false
		}
	}
	if !g.Forward(n.Outputs[0], in) {
		return false
	}
	g.RemoveNode(n)
	return true
}

// sameShape reports whether two shapes are provably equal: same rank and
// every dimension the same known size or the same symbol.
func sameShape(a, b ir.Shape) bool {
	if a == nil || b == nil || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] || !a[i].Known() && a[i].Param == "" {
			return false
		}
	}
	return true
}
