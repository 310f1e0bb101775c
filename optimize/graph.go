package optimize

import (
	"fmt"
	"strings"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Graph is the view of one ir.Graph that passes read and rewrite: the graph,
// its model's opsets, indexes from value names to their producer and
// readers, and the types inferred for its values.
//
// Every rewrite goes through Graph's methods (AddNode, RemoveNode, SetInput,
// Forward, AddInitializer) so the indexes stay current. Removed nodes leave
// G.Nodes when the pass that removed them returns; nodes added with AddNode
// take the place in G.Nodes of the node they are added before.
//
// Inferred types may be stale within a pass, but never wrong: a rewrite
// keeps the meaning of every value name it leaves in the graph, so the type
// of an old name still holds, and a new name has no type until the next pass
// (or until its creator records one with SetType).
type Graph struct {
	G      *ir.Graph
	st     *state
	parent *Graph

	prod    map[string]*ir.Node
	cons    map[string][]*ir.Node
	inits   map[string]*ir.Initializer
	inputs  map[string]bool
	outputs map[string]bool

	dead   map[*ir.Node]bool
	before map[*ir.Node][]*ir.Node // nodes to insert before a node
	tail   []*ir.Node              // nodes to append

	facts map[string]*facts
}

// state is what the graphs of one model share while it is optimized.
type state struct {
	model *ir.Model
	opts  *Options
	names map[string]bool // every value and node name in the model
	seq   int
	// addedInferd is set when a pass imported DomainInferd.
	addedInferd bool
	// values is what ir.InferShapes found for each graph of the model;
	// nil once a graph changed, until a pass asks again.
	values map[*ir.Graph]map[string]ir.Value
}

func newState(m *ir.Model, opts *Options) *state {
	st := &state{model: m, opts: opts, names: map[string]bool{}}
	var walk func(g *ir.Graph)
	walk = func(g *ir.Graph) {
		for _, v := range g.Inputs {
			st.names[v.Name] = true
		}
		for _, in := range g.Initializers {
			st.names[in.Name] = true
		}
		for _, n := range g.Nodes {
			st.names[n.Name] = true
			for _, o := range n.Outputs {
				st.names[o] = true
			}
			for _, sg := range n.Subgraphs() {
				walk(sg)
			}
		}
	}
	walk(m.Graph)
	return st
}

// newGraph builds the view of g; parent is the view of the enclosing graph
// for a subgraph, nil for the main graph.
func newGraph(g *ir.Graph, st *state, parent *Graph) *Graph {
	v := &Graph{G: g, st: st, parent: parent}
	v.reindex()
	return v
}

func (g *Graph) reindex() {
	g.prod = map[string]*ir.Node{}
	g.cons = map[string][]*ir.Node{}
	g.inits = map[string]*ir.Initializer{}
	g.inputs = map[string]bool{}
	g.outputs = map[string]bool{}
	g.dead = map[*ir.Node]bool{}
	g.before = map[*ir.Node][]*ir.Node{}
	g.tail = nil
	for _, in := range g.G.Initializers {
		g.inits[in.Name] = in
	}
	for _, in := range g.G.Inputs {
		g.inputs[in.Name] = true
	}
	for _, o := range g.G.Outputs {
		g.outputs[o.Name] = true
	}
	for _, n := range g.G.Nodes {
		g.index(n)
	}
}

// reads returns the names n reads: its inputs and the free variables of its
// subgraphs, each once.
func reads(n *ir.Node) []string {
	var out []string
	seen := map[string]bool{"": true}
	for _, in := range n.Inputs {
		if !seen[in] {
			seen[in] = true
			out = append(out, in)
		}
	}
	for _, sg := range n.Subgraphs() {
		for _, fv := range ir.FreeVars(sg) {
			if !seen[fv] {
				seen[fv] = true
				out = append(out, fv)
			}
		}
	}
	return out
}

func (g *Graph) index(n *ir.Node) {
	for _, o := range n.Outputs {
		if o != "" {
			g.prod[o] = n
		}
	}
	for _, in := range reads(n) {
		g.cons[in] = append(g.cons[in], n)
	}
}

func (g *Graph) unindex(n *ir.Node) {
	for _, o := range n.Outputs {
		if o != "" && g.prod[o] == n {
			delete(g.prod, o)
		}
	}
	for _, in := range reads(n) {
		g.dropConsumer(in, n)
	}
}

func (g *Graph) dropConsumer(name string, n *ir.Node) {
	list := g.cons[name]
	for i, c := range list {
		if c == n {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(g.cons, name)
	} else {
		g.cons[name] = list
	}
}

// Model returns the model being optimized.
func (g *Graph) Model() *ir.Model { return g.st.model }

// Opset returns the model's version of an operator domain (0 if the model
// does not import it).
func (g *Graph) Opset(domain string) int64 { return g.st.model.OpsetVersion(domain) }

// Options returns the options of the run.
func (g *Graph) Options() *Options { return g.st.opts }

// Nodes returns the graph's live nodes in order, those added during the
// current pass included.
func (g *Graph) Nodes() []*ir.Node {
	out := make([]*ir.Node, 0, len(g.G.Nodes)+len(g.tail))
	for _, n := range g.G.Nodes {
		out = append(out, g.before[n]...)
		if !g.dead[n] {
			out = append(out, n)
		}
	}
	return append(out, g.tail...)
}

// Producer returns the node that computes name in this graph, or nil.
func (g *Graph) Producer(name string) *ir.Node {
	if name == "" {
		return nil
	}
	return g.prod[name]
}

// Consumers returns the nodes of this graph that read name, each once (a
// node whose subgraph captures name counts as a reader).
func (g *Graph) Consumers(name string) []*ir.Node { return g.cons[name] }

// IsOutput reports whether name is an output of this graph.
func (g *Graph) IsOutput(name string) bool { return g.outputs[name] }

// IsInput reports whether name is an input of this graph.
func (g *Graph) IsInput(name string) bool { return g.inputs[name] }

// SingleUse reports whether name has exactly one reader, n, and is not a
// graph output: the condition for folding the node computing name into n.
func (g *Graph) SingleUse(name string, n *ir.Node) bool {
	c := g.cons[name]
	return len(c) == 1 && c[0] == n && !g.outputs[name] && count(n.Inputs, name) == 1 && len(n.Subgraphs()) == 0
}

// SoleConsumer returns the only reader of name if it has exactly one and
// name is not a graph output, else nil.
func (g *Graph) SoleConsumer(name string) *ir.Node {
	c := g.cons[name]
	if len(c) != 1 || g.outputs[name] {
		return nil
	}
	return c[0]
}

func count(s []string, x string) int {
	k := 0
	for _, v := range s {
		if v == x {
			k++
		}
	}
	return k
}

// Const returns the value of name if it is a constant: an initializer of
// this graph or an enclosing one that no graph input overrides. It returns
// nil otherwise.
func (g *Graph) Const(name string) *tensor.Tensor {
	if name == "" {
		return nil
	}
	for v := g; v != nil; v = v.parent {
		if in := v.inits[name]; in != nil {
			if v.inputs[name] {
				return nil
			}
			return in.Tensor
		}
		if v.inputs[name] || v.prod[name] != nil {
			return nil
		}
	}
	return nil
}

// IsConst reports whether name is a constant (see Const).
func (g *Graph) IsConst(name string) bool { return g.Const(name) != nil }

// NewName returns a value or node name unused anywhere in the model, made
// from base.
func (g *Graph) NewName(base string) string {
	if base == "" {
		base = "v"
	}
	if !g.st.names[base] {
		g.st.names[base] = true
		return base
	}
	for {
		g.st.seq++
		name := fmt.Sprintf("%s__%d", base, g.st.seq)
		if !g.st.names[name] {
			g.st.names[name] = true
			return name
		}
	}
}

// AddInitializer adds a constant to this graph under a new name made from
// base and returns the name.
func (g *Graph) AddInitializer(base string, t *tensor.Tensor) string {
	name := g.NewName(base)
	in := &ir.Initializer{Name: name, Tensor: t}
	g.G.Initializers = append(g.G.Initializers, in)
	g.inits[name] = in
	if g.st.model.IRVersion > 0 && g.st.model.IRVersion < 4 {
		// IR versions before 4 require every initializer to be a graph
		// input; version 4 lifted that and changed nothing else.
		g.st.model.IRVersion = 4
	}
	g.SetType(name, ir.TensorType(t.DType, ir.ShapeOf(t.Shape...)))
	g.setFacts(name, constFacts(t))
	return name
}

// AddNode adds n to the graph just before the node at (or at the end if at
// is nil), naming it and recording its readers. Its inputs must be
// computed before at.
func (g *Graph) AddNode(n *ir.Node, at *ir.Node) *ir.Node {
	if n.Name == "" {
		n.Name = g.NewName(n.OpType)
	} else {
		g.st.names[n.Name] = true
	}
	if ir.CanonicalDomain(n.Domain) == ir.DomainInferd && g.st.model.OpsetVersion(ir.DomainInferd) == 0 {
		g.st.model.Opsets = append(g.st.model.Opsets, ir.OpsetImport{Domain: ir.DomainInferd, Version: 1})
		g.st.addedInferd = true
	}
	for _, o := range n.Outputs {
		g.st.names[o] = true
	}
	if at == nil {
		g.tail = append(g.tail, n)
	} else {
		g.before[at] = append(g.before[at], n)
	}
	g.index(n)
	return n
}

// Add is AddNode for a new node built from its parts: it creates one new
// output named after base (or the op type) and returns the node.
func (g *Graph) Add(at *ir.Node, domain, op string, inputs []string, base string, attrs ...*ir.Attribute) *ir.Node {
	if base == "" {
		base = op
	}
	n := &ir.Node{OpType: op, Domain: domain, Inputs: inputs, Outputs: []string{g.NewName(base)}, Attrs: attrs}
	return g.AddNode(n, at)
}

// RemoveNode removes n from the graph. Its outputs must no longer be read.
func (g *Graph) RemoveNode(n *ir.Node) {
	if g.dead[n] {
		return
	}
	g.unindex(n)
	g.dead[n] = true
	for k, list := range g.before {
		for i, m := range list {
			if m == n {
				g.before[k] = append(list[:i:i], list[i+1:]...)
				delete(g.dead, n)
				return
			}
		}
	}
	for i, m := range g.tail {
		if m == n {
			g.tail = append(g.tail[:i:i], g.tail[i+1:]...)
			delete(g.dead, n)
			return
		}
	}
}

// Removed reports whether n was removed during the current pass.
func (g *Graph) Removed(n *ir.Node) bool { return g.dead[n] }

// SetInput makes n's i-th input read name.
func (g *Graph) SetInput(n *ir.Node, i int, name string) {
	g.unindex(n)
	for len(n.Inputs) <= i {
		n.Inputs = append(n.Inputs, "")
	}
	n.Inputs[i] = name
	g.index(n)
}

// Forward makes every reader of from read to instead, so that the node
// computing from can be removed. If from is a graph output, to is renamed
// from instead, when to is computed by a node of this graph and is neither
// a graph input nor output; if that is impossible Forward changes nothing and
// returns false.
func (g *Graph) Forward(from, to string) bool {
	if from == to {
		return true
	}
	if g.outputs[from] {
		p := g.prod[to]
		if p == nil || g.outputs[to] || g.inputs[to] {
			return false
		}
		// The producer of from is about to go; rename to → from.
		if old := g.prod[from]; old != nil {
			g.unindex(old)
			for i, o := range old.Outputs {
				if o == from {
					old.Outputs[i] = ""
				}
			}
			g.index(old)
		}
		// Readers of from other than the node being replaced keep
		// reading it: the name keeps its value.
		g.renameOutput(p, to, from)
		return true
	}
	for _, c := range append([]*ir.Node(nil), g.cons[from]...) {
		g.unindex(c)
		for i, in := range c.Inputs {
			if in == from {
				c.Inputs[i] = to
			}
		}
		for _, sg := range c.Subgraphs() {
			renameFree(sg, from, to)
		}
		g.index(c)
	}
	if f := g.facts[from]; f != nil && g.facts != nil && g.facts[to] == nil {
		g.facts[to] = f
	}
	return true
}

// renameOutput renames p's output old to new everywhere in this graph.
func (g *Graph) renameOutput(p *ir.Node, old, new string) {
	g.unindex(p)
	for i, o := range p.Outputs {
		if o == old {
			p.Outputs[i] = new
		}
	}
	g.index(p)
	for _, c := range append([]*ir.Node(nil), g.cons[old]...) {
		g.unindex(c)
		for i, in := range c.Inputs {
			if in == old {
				c.Inputs[i] = new
			}
		}
		for _, sg := range c.Subgraphs() {
			renameFree(sg, old, new)
		}
		g.index(c)
	}
	if g.facts != nil {
		if f := g.facts[old]; f != nil {
			g.facts[new] = f
		}
	}
	for _, vi := range g.G.ValueInfo {
		if vi.Name == old {
			vi.Name = new
		}
	}
}

// renameFree renames the free variable old of subgraph sg (and of its own
// subgraphs) to new. Names sg defines itself are left alone.
func renameFree(sg *ir.Graph, old, new string) {
	for _, v := range sg.Inputs {
		if v.Name == old {
			return
		}
	}
	for _, in := range sg.Initializers {
		if in.Name == old {
			return
		}
	}
	for _, n := range sg.Nodes {
		for _, o := range n.Outputs {
			if o == old {
				return
			}
		}
	}
	for _, n := range sg.Nodes {
		for i, in := range n.Inputs {
			if in == old {
				n.Inputs[i] = new
			}
		}
		for _, s := range n.Subgraphs() {
			renameFree(s, old, new)
		}
	}
	for _, o := range sg.Outputs {
		if o.Name == old {
			// A subgraph output that passes an outer value through:
			// keep the output's name (the body's interface) by reading
			// the new value through an Identity.
			sg.Nodes = append(sg.Nodes, &ir.Node{OpType: "Identity", Inputs: []string{new}, Outputs: []string{old}})
		}
	}
}

// commit applies the pass's removals and insertions to G.Nodes.
func (g *Graph) commit() {
	if len(g.dead) == 0 && len(g.before) == 0 && len(g.tail) == 0 {
		return
	}
	g.G.Nodes = g.Nodes()
	g.dead = map[*ir.Node]bool{}
	g.before = map[*ir.Node][]*ir.Node{}
	g.tail = nil
}

// valueName makes a readable base for a new value derived from name.
func valueName(name, suffix string) string {
	name = strings.TrimSuffix(name, "_output_0")
	return name + "_" + suffix
}
