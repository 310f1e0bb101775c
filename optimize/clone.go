package optimize

import "github.com/inferd/inferd/ir"

// Clone returns a copy of m that Run may rewrite without touching m:
// graphs, nodes, attributes and value infos are copied, tensors (which no
// pass modifies in place) are shared.
func Clone(m *ir.Model) *ir.Model {
	c := *m
	c.Opsets = append([]ir.OpsetImport(nil), m.Opsets...)
	c.Metadata = append([]ir.StringEntry(nil), m.Metadata...)
	c.Graph = cloneGraph(m.Graph)
	c.Functions = nil
	for _, f := range m.Functions {
		fc := *f
		fc.Nodes = cloneNodes(f.Nodes)
		c.Functions = append(c.Functions, &fc)
	}
	return &c
}

func cloneGraph(g *ir.Graph) *ir.Graph {
	if g == nil {
		return nil
	}
	c := *g
	c.Nodes = cloneNodes(g.Nodes)
	c.Inputs = cloneValueInfos(g.Inputs)
	c.Outputs = cloneValueInfos(g.Outputs)
	c.ValueInfo = cloneValueInfos(g.ValueInfo)
	c.Initializers = make([]*ir.Initializer, len(g.Initializers))
	for i, in := range g.Initializers {
		x := *in
		c.Initializers[i] = &x
	}
	return &c
}

func cloneValueInfos(vs []*ir.ValueInfo) []*ir.ValueInfo {
	if vs == nil {
		return nil
	}
	out := make([]*ir.ValueInfo, len(vs))
	for i, v := range vs {
		x := *v
		out[i] = &x
	}
	return out
}

func cloneNodes(ns []*ir.Node) []*ir.Node {
	out := make([]*ir.Node, len(ns))
	for i, n := range ns {
		c := *n
		c.Inputs = append([]string(nil), n.Inputs...)
		c.Outputs = append([]string(nil), n.Outputs...)
		c.Attrs = make([]*ir.Attribute, len(n.Attrs))
		for k, a := range n.Attrs {
			x := *a
			if a.G != nil {
				x.G = cloneGraph(a.G)
			}
			if a.Graphs != nil {
				x.Graphs = make([]*ir.Graph, len(a.Graphs))
				for j, sg := range a.Graphs {
					x.Graphs[j] = cloneGraph(sg)
				}
			}
			c.Attrs[k] = &x
		}
		out[i] = &c
	}
	return out
}
