package quantize

import (
	"fmt"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// CloneModel returns a copy of m that a rewrite may change freely: the
// model, its main graph, the graph's node, input, output, value-info and
// initializer lists and every node are new; tensors, attributes and
// subgraphs are shared, so a rewrite must replace them rather than modify
// them in place.
func CloneModel(m *ir.Model) *ir.Model {
	c := *m
	c.Opsets = slices.Clone(m.Opsets)
	c.Metadata = slices.Clone(m.Metadata)
	g := *m.Graph
	g.Nodes = make([]*ir.Node, len(m.Graph.Nodes))
	for i, n := range m.Graph.Nodes {
		nn := *n
		nn.Inputs = slices.Clone(n.Inputs)
		nn.Outputs = slices.Clone(n.Outputs)
		nn.Attrs = slices.Clone(n.Attrs)
		g.Nodes[i] = &nn
	}
	g.Inputs = cloneVIs(m.Graph.Inputs)
	g.Outputs = cloneVIs(m.Graph.Outputs)
	g.ValueInfo = cloneVIs(m.Graph.ValueInfo)
	g.Initializers = make([]*ir.Initializer, len(m.Graph.Initializers))
	for i, in := range m.Graph.Initializers {
		v := *in
		g.Initializers[i] = &v
	}
	c.Graph = &g
	return &c
}

func cloneVIs(vs []*ir.ValueInfo) []*ir.ValueInfo {
	out := make([]*ir.ValueInfo, len(vs))
	for i, v := range vs {
		c := *v
		out[i] = &c
	}
	return out
}

// graphIndex answers the questions the rewrites ask about one graph:
// which node produces a value, which nodes read it, which initializer
// holds it, and which names are taken. It is built once and kept current
// by the helpers that add nodes and initializers.
type graphIndex struct {
	g         *ir.Graph
	producer  map[string]*ir.Node
	consumers map[string][]*ir.Node
	inits     map[string]*ir.Initializer
	names     map[string]bool
	outputs   map[string]bool
}

func newGraphIndex(g *ir.Graph) *graphIndex {
	x := &graphIndex{g: g, producer: map[string]*ir.Node{}, consumers: map[string][]*ir.Node{},
		inits: map[string]*ir.Initializer{}, names: map[string]bool{"": true}, outputs: map[string]bool{}}
	for _, in := range g.Inputs {
		x.names[in.Name] = true
	}
	for _, in := range g.Initializers {
		x.inits[in.Name] = in
		x.names[in.Name] = true
	}
	for _, o := range g.Outputs {
		x.outputs[o.Name] = true
	}
	for _, n := range g.Nodes {
		x.indexNode(n)
	}
	for _, vi := range g.ValueInfo {
		x.names[vi.Name] = true
	}
	return x
}

func (x *graphIndex) indexNode(n *ir.Node) {
	if n.Name != "" {
		x.names[n.Name] = true
	}
	for _, o := range n.Outputs {
		if o != "" {
			x.producer[o] = n
			x.names[o] = true
		}
	}
	seen := map[string]bool{}
	for _, in := range n.Inputs {
		if in != "" && !seen[in] {
			seen[in] = true
			x.consumers[in] = append(x.consumers[in], n)
		}
	}
	// Values a subgraph captures are read by the node that holds it.
	for _, sg := range n.Subgraphs() {
		for _, fv := range ir.FreeVars(sg) {
			if !seen[fv] {
				seen[fv] = true
				x.consumers[fv] = append(x.consumers[fv], n)
			}
		}
	}
}

// unique returns base if no value, node or initializer has that name yet,
// or base with the smallest numeric suffix that makes it new, and reserves
// the name.
func (x *graphIndex) unique(base string) string {
	name := base
	for i := 1; x.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	x.names[name] = true
	return name
}

// constant returns the initializer named name, or nil if the value is not
// a constant initializer (a graph input of that name makes it overridable,
// so not constant).
func (x *graphIndex) constant(name string) *tensor.Tensor {
	in := x.inits[name]
	if in == nil {
		return nil
	}
	for _, gi := range x.g.Inputs {
		if gi.Name == name {
			return nil
		}
	}
	return in.Tensor
}

// addInit adds an initializer under a fresh name derived from base and
// returns that name.
func (x *graphIndex) addInit(base string, t *tensor.Tensor) string {
	name := x.unique(base)
	in := &ir.Initializer{Name: name, Tensor: t}
	x.g.Initializers = append(x.g.Initializers, in)
	x.inits[name] = in
	return name
}

// newNode makes a node with a fresh name derived from base (its outputs
// must already be reserved names) and indexes it; the caller places it in
// the node list.
func (x *graphIndex) newNode(op, base string, inputs, outputs []string, attrs ...*ir.Attribute) *ir.Node {
	n := &ir.Node{Name: x.unique(base), OpType: op, Inputs: inputs, Outputs: outputs, Attrs: attrs}
	x.indexNode(n)
	return n
}

// removeUnusedInits drops initializers in names that no node reads and no
// graph output names, and their graph-input entries (models of IR version
// < 4 list initializers as inputs).
func (x *graphIndex) removeUnusedInits(names map[string]bool) {
	used := map[string]bool{}
	for _, n := range x.g.Nodes {
		for _, in := range n.Inputs {
			used[in] = true
		}
		for _, sg := range n.Subgraphs() {
			for _, fv := range ir.FreeVars(sg) {
				used[fv] = true
			}
		}
	}
	for _, o := range x.g.Outputs {
		used[o.Name] = true
	}
	drop := func(name string) bool { return names[name] && !used[name] }
	x.g.Initializers = slices.DeleteFunc(x.g.Initializers, func(in *ir.Initializer) bool { return drop(in.Name) })
	x.g.Inputs = slices.DeleteFunc(x.g.Inputs, func(vi *ir.ValueInfo) bool { return drop(vi.Name) })
	for name := range names {
		if drop(name) {
			delete(x.inits, name)
		}
	}
}

// intAttr and friends build attributes.
func intAttr(name string, v int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v}
}

// setOpset makes m import at least version v of the default domain.
func setOpset(m *ir.Model, v int64) {
	for i, o := range m.Opsets {
		if ir.CanonicalDomain(o.Domain) == "" {
			if o.Version < v {
				m.Opsets[i].Version = v
			}
			return
		}
	}
	m.Opsets = append(m.Opsets, ir.OpsetImport{Domain: "", Version: v})
}

// float32Data returns t's values as float32s if t is a float32 tensor.
func float32Data(t *tensor.Tensor) ([]float32, bool) {
	if t == nil || t.DType != tensor.Float32 {
		return nil, false
	}
	v, ok := t.Data.([]float32)
	return v, ok
}

// tensorBytes is the storage t takes in a model file (4-bit types pack two
// to a byte).
func tensorBytes(t *tensor.Tensor) int64 {
	n := int64(t.Len())
	switch t.DType {
	case tensor.Int4, tensor.Uint4, tensor.Float4E2M1:
		return (n + 1) / 2
	case tensor.String:
		var b int64
		for _, s := range t.Data.([]string) {
			b += int64(len(s))
		}
		return b
	}
	return n * int64(t.DType.Size())
}

// ParamBytes returns the bytes m's initializers take.
func ParamBytes(m *ir.Model) int64 {
	var b int64
	for _, in := range m.Graph.Initializers {
		b += tensorBytes(in.Tensor)
	}
	return b
}

// topoNodes returns g's nodes in topological order.
func topoNodes(g *ir.Graph) ([]*ir.Node, error) {
	return ir.TopoSort(g, nil)
}
