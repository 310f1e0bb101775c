package ir

import (
	"errors"
	"fmt"
)

// Initializer returns the graph's initializer of the given name, or nil.
func (g *Graph) Initializer(name string) *Initializer {
	for _, in := range g.Initializers {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// Subgraphs returns the graphs held in n's attributes (If branches, Loop
// and Scan bodies), in attribute order.
func (n *Node) Subgraphs() []*Graph {
	var out []*Graph
	for _, a := range n.Attrs {
		switch a.Type {
		case AttrGraph:
			if a.G != nil {
				out = append(out, a.G)
			}
		case AttrGraphs:
			out = append(out, a.Graphs...)
		}
	}
	return out
}

// ErrCycle is returned by TopoSort when the nodes cannot be ordered.
var ErrCycle = errors.New("graph has a cycle or a value with no producer")

// TopoSort returns g's nodes in an order where every node follows the
// producers of its inputs. Names in outer are available from the start
// (graph inputs, initializers and, for subgraphs, outer-scope values). Nodes
// already in order keep it. A value nobody produces is reported by name.
func TopoSort(g *Graph, outer func(name string) bool) ([]*Node, error) {
	avail := map[string]bool{"": true}
	for _, in := range g.Inputs {
		avail[in.Name] = true
	}
	for _, in := range g.Initializers {
		avail[in.Name] = true
	}
	ready := func(n *Node) bool {
		for _, in := range n.Inputs {
			if !avail[in] && (outer == nil || !outer(in)) {
				return false
			}
		}
		for _, sg := range n.Subgraphs() {
			for _, fv := range FreeVars(sg) {
				if !avail[fv] && (outer == nil || !outer(fv)) {
					return false
				}
			}
		}
		return true
	}
	order := make([]*Node, 0, len(g.Nodes))
	done := make([]bool, len(g.Nodes))
	for progress := true; progress && len(order) < len(g.Nodes); {
		progress = false
		for i, n := range g.Nodes {
			if done[i] || !ready(n) {
				continue
			}
			done[i] = true
			order = append(order, n)
			for _, o := range n.Outputs {
				avail[o] = true
			}
			progress = true
		}
	}
	if len(order) < len(g.Nodes) {
		produced := map[string]bool{}
		for _, n := range g.Nodes {
			for _, o := range n.Outputs {
				produced[o] = true
			}
		}
		missing := func(name string) bool { return !produced[name] && !avail[name] && (outer == nil || !outer(name)) }
		// A value nobody produces explains the failure better than the
		// nodes waiting behind it.
		for i, n := range g.Nodes {
			if done[i] {
				continue
			}
			for _, in := range n.Inputs {
				if missing(in) {
					return nil, fmt.Errorf("node %s: input %q is not produced by any node: %w", n, in, ErrCycle)
				}
			}
			for _, sg := range n.Subgraphs() {
				for _, fv := range FreeVars(sg) {
					if missing(fv) {
						return nil, fmt.Errorf("node %s: subgraph %q reads %q, which nothing defines: %w", n, sg.Name, fv, ErrCycle)
					}
				}
			}
		}
		for i, n := range g.Nodes {
			if !done[i] {
				return nil, fmt.Errorf("node %s is part of a cycle: %w", n, ErrCycle)
			}
		}
	}
	return order, nil
}

// FreeVars returns the names g reads but neither defines (inputs,
// initializers, node outputs) nor receives: the outer-scope values a
// subgraph captures, its own subgraphs' captures included.
func FreeVars(g *Graph) []string {
	defined := map[string]bool{"": true}
	for _, in := range g.Inputs {
		defined[in.Name] = true
	}
	for _, in := range g.Initializers {
		defined[in.Name] = true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			defined[o] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if !defined[name] && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			add(in)
		}
		for _, sg := range n.Subgraphs() {
			for _, fv := range FreeVars(sg) {
				add(fv)
			}
		}
	}
	for _, o := range g.Outputs {
		add(o.Name)
	}
	return out
}
