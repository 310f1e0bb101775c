package optimize

import (
	"context"

	"github.com/inferd/inferd/ir"
)

// eliminateDead removes nodes whose outputs nothing reads (neither a node,
// nor a subgraph, nor the graph's outputs) and initializers nothing reads.
// Graph inputs stay: they are the model's interface, even when unused.
type eliminateDead struct{}

func (eliminateDead) Name() string { return "eliminate-dead" }

func (eliminateDead) Run(ctx context.Context, g *Graph) (bool, error) {
	changed := false
	nodes := g.Nodes()
	// Backwards, so a chain of dead nodes goes in one pass.
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		if g.Removed(n) || isUsed(g, n) {
			continue
		}
		g.RemoveNode(n)
		changed = true
	}
	var keep []*ir.Initializer
	for _, in := range g.G.Initializers {
		if len(g.Consumers(in.Name)) > 0 || g.IsOutput(in.Name) || g.IsInput(in.Name) {
			keep = append(keep, in)
			continue
		}
		delete(g.inits, in.Name)
		changed = true
	}
	g.G.Initializers = keep
	return changed, nil
}

func isUsed(g *Graph, n *ir.Node) bool {
	for _, o := range n.Outputs {
		if o != "" && (len(g.Consumers(o)) > 0 || g.IsOutput(o)) {
			return true
		}
	}
	return false
}
