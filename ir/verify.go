package ir

import (
	"errors"
	"fmt"
	"strings"
)

// Verify checks that m's graphs are well formed, and returns every problem
// found (each an *Error, joined with errors.Join), or nil:
//
//   - every node input is produced by an earlier node, or is a graph
//     input, an initializer or, in a subgraph, a value of an enclosing
//     graph defined before the node that holds the subgraph;
//   - no value is produced twice (by two nodes, or by a node and a graph
//     input or initializer), and no subgraph redefines a value it can see;
//   - every graph output is produced;
//   - the nodes have no cycle;
//   - every initializer has data;
//   - every node's domain is imported (a model that imports no opset at
//     all may use the default domain), and a node of domain ai.inferd is
//     one of inferd's fused operators;
//   - model-local functions obey the same rules over their own inputs,
//     with their own opset imports added to the model's.
//
// Verify does not check operators' input and output counts or types;
// InferShapes does what can be done there.
func Verify(m *Model) error {
	if m == nil || m.Graph == nil {
		return &Error{Msg: "model has no graph"}
	}
	v := &verifier{imported: func(d string) bool {
		return m.OpsetVersion(d) != 0 || d == DomainONNX && len(m.Opsets) == 0
	}}
	v.graph(m.Graph, nil, 0)
	for _, f := range m.Functions {
		v.imported = func(d string) bool {
			for _, o := range f.Opsets {
				if CanonicalDomain(o.Domain) == d {
					return true
				}
			}
			return m.OpsetVersion(d) != 0 || d == DomainONNX && len(m.Opsets) == 0
		}
		g := &Graph{Name: f.Name, Nodes: f.Nodes}
		for _, in := range f.Inputs {
			g.Inputs = append(g.Inputs, &ValueInfo{Name: in})
		}
		for _, o := range f.Outputs {
			g.Outputs = append(g.Outputs, &ValueInfo{Name: o})
		}
		v.graph(g, nil, 0)
	}
	return errors.Join(v.errs...)
}

type verifier struct {
	errs []error
	// imported reports whether nodes may use a (canonical) domain.
	imported func(domain string) bool
}

func (v *verifier) errorf(g *Graph, n *Node, format string, args ...any) {
	v.errs = append(v.errs, &Error{Graph: g.Name, Node: n, Msg: fmt.Sprintf(format, args...)})
}

// verifyScope is the names visible in one graph: defined maps each to
// where it came from ("graph input", `node "x" (Op)` ...).
type verifyScope struct {
	parent  *verifyScope
	defined map[string]string
}

func (s *verifyScope) lookup(name string) (string, bool) {
	for ; s != nil; s = s.parent {
		if d, ok := s.defined[name]; ok {
			return d, true
		}
	}
	return "", false
}

func (v *verifier) graph(g *Graph, parent *verifyScope, depth int) {
	if depth > maxDepth {
		v.errorf(g, nil, "subgraphs nest more than %d deep", maxDepth)
		return
	}
	sc := &verifyScope{parent: parent, defined: map[string]string{}}
	define := func(n *Node, name, what string) {
		if name == "" {
			return
		}
		if prev, ok := sc.defined[name]; ok {
			v.errorf(g, n, "value %q is produced twice: by %s and by %s", name, prev, what)
			return
		}
		if prev, ok := parent.lookup(name); ok {
			v.errorf(g, n, "value %q redefines the enclosing graph's value (from %s)", name, prev)
			return
		}
		sc.defined[name] = what
	}
	inits := map[string]bool{}
	for _, in := range g.Initializers {
		if in == nil {
			v.errorf(g, nil, "nil initializer")
			continue
		}
		if in.Name == "" {
			v.errorf(g, nil, "initializer with no name")
			continue
		}
		define(nil, in.Name, "an initializer")
		inits[in.Name] = true
		if in.Tensor == nil {
			v.errorf(g, nil, "initializer %q has no data", in.Name)
		}
	}
	for _, in := range g.Inputs {
		if in == nil || in.Name == "" {
			v.errorf(g, nil, "graph input with no name")
			continue
		}
		if inits[in.Name] {
			continue // an input with a default value
		}
		define(nil, in.Name, "a graph input")
	}

	// Where each value is produced, to tell "later" from "never".
	producer := map[string]int{}
	for i, n := range g.Nodes {
		if n == nil {
			continue
		}
		for _, o := range n.Outputs {
			if _, dup := producer[o]; !dup && o != "" {
				producer[o] = i
			}
		}
	}
	later := false
	for i, n := range g.Nodes {
		if n == nil {
			v.errorf(g, nil, "node %d is nil", i)
			continue
		}
		if n.OpType == "" {
			v.errorf(g, n, "no op type")
		}
		switch d := CanonicalDomain(n.Domain); {
		case !v.imported(d):
			v.errorf(g, n, "domain %q is not imported", n.Domain)
		case d == DomainInferd && !IsInferdOp(n.OpType):
			v.errorf(g, n, "%s is no operator of %s", n.OpType, DomainInferd)
		}
		for _, in := range n.Inputs {
			if in == "" {
				continue
			}
			if _, ok := sc.lookup(in); ok {
				continue
			}
			if j, ok := producer[in]; ok && j >= i {
				if j == i {
					v.errorf(g, n, "input %q is the node's own output", in)
				} else {
					v.errorf(g, n, "input %q is produced by a later node %s", in, g.Nodes[j])
					later = true
				}
				continue
			}
			v.errorf(g, n, "input %q is not produced by any node, graph input, initializer or enclosing graph", in)
		}
		for _, a := range n.Attrs {
			if a == nil {
				v.errorf(g, n, "nil attribute")
				continue
			}
			if a.Type == AttrGraph && a.G == nil {
				v.errorf(g, n, "graph attribute %q has no graph", a.Name)
			}
		}
		for _, sg := range n.Subgraphs() {
			v.graph(sg, sc, depth+1)
		}
		for _, o := range n.Outputs {
			define(n, o, "node "+n.String())
		}
	}
	for _, o := range g.Outputs {
		if o == nil || o.Name == "" {
			v.errorf(g, nil, "graph output with no name")
			continue
		}
		if _, ok := sc.lookup(o.Name); !ok {
			v.errorf(g, nil, "output %q is not produced", o.Name)
		}
	}
	if later {
		v.cycles(g, parent)
	}
}

// cycles reports the nodes of g that no order can run: those on a cycle
// or fed by one.
func (v *verifier) cycles(g *Graph, parent *verifyScope) {
	outer := func(name string) bool { _, ok := parent.lookup(name); return ok }
	if _, err := TopoSort(g, outer); err == nil {
		return
	}
	produced := map[string]bool{}
	for _, n := range g.Nodes {
		if n != nil {
			for _, o := range n.Outputs {
				produced[o] = true
			}
		}
	}
	avail := map[string]bool{"": true}
	for _, in := range g.Inputs {
		if in != nil {
			avail[in.Name] = true
		}
	}
	for _, in := range g.Initializers {
		if in != nil {
			avail[in.Name] = true
		}
	}
	// Values produced by no node count as available here: they are
	// already reported, and must not pass for cycles.
	ready := func(n *Node) bool {
		for _, in := range n.Inputs {
			if !avail[in] && produced[in] && !outer(in) {
				return false
			}
		}
		return true
	}
	done := make([]bool, len(g.Nodes))
	for progress := true; progress; {
		progress = false
		for i, n := range g.Nodes {
			if done[i] || n == nil || !ready(n) {
				continue
			}
			done[i], progress = true, true
			for _, o := range n.Outputs {
				avail[o] = true
			}
		}
	}
	var stuck []string
	var first *Node
	for i, n := range g.Nodes {
		if !done[i] && n != nil {
			if first == nil {
				first = n
			}
			stuck = append(stuck, n.String())
		}
	}
	if first != nil {
		v.errorf(g, first, "is on or after a cycle: no order can run nodes %s", strings.Join(stuck, ", "))
	}
}
