package engine

import (
	"fmt"

	"github.com/inferd/inferd/ir"
)

// inlineFunctions returns m with every call of a model-local function
// replaced by the function's body, so the engine only sees operators. m is
// not modified; graphs without calls are shared.
func inlineFunctions(m *ir.Model) (*ir.Model, error) {
	if len(m.Functions) == 0 {
		return m, nil
	}
	funcs := map[[2]string]*ir.Function{}
	for _, f := range m.Functions {
		funcs[[2]string{ir.CanonicalDomain(f.Domain), f.Name}] = f
	}
	out := *m
	counter := 0
	g, err := inlineGraph(m.Graph, funcs, &counter, 0)
	if err != nil {
		return nil, err
	}
	out.Graph = g
	return &out, nil
}

func inlineGraph(g *ir.Graph, funcs map[[2]string]*ir.Function, counter *int, depth int) (*ir.Graph, error) {
	if depth > 32 {
		return nil, fmt.Errorf("functions nest more than 32 deep (recursive function?)")
	}
	ng := *g
	ng.Nodes = nil
	for _, n := range g.Nodes {
		f := funcs[[2]string{ir.CanonicalDomain(n.Domain), n.OpType}]
		if f == nil {
			nn := *n
			nn.Attrs = nil
			for _, a := range n.Attrs {
				a2 := *a
				if a.G != nil {
					sg, err := inlineGraph(a.G, funcs, counter, depth)
					if err != nil {
						return nil, err
					}
					a2.G = sg
				}
				nn.Attrs = append(nn.Attrs, &a2)
			}
			ng.Nodes = append(ng.Nodes, &nn)
			continue
		}
		*counter++
		body, err := expandCall(n, f, *counter)
		if err != nil {
			return nil, fmt.Errorf("node %s: inlining function %s: %w", n, f.Name, err)
		}
		sub := &ir.Graph{Name: g.Name, Nodes: body}
		sub, err = inlineGraph(sub, funcs, counter, depth+1)
		if err != nil {
			return nil, err
		}
		ng.Nodes = append(ng.Nodes, sub.Nodes...)
	}
	return &ng, nil
}

func expandCall(call *ir.Node, f *ir.Function, id int) ([]*ir.Node, error) {
	rename := map[string]string{"": ""}
	for i, name := range f.Inputs {
		rename[name] = call.Input(i)
	}
	for i, name := range f.Outputs {
		if i < len(call.Outputs) {
			rename[name] = call.Outputs[i]
		} else {
			rename[name] = ""
		}
	}
	prefix := fmt.Sprintf("%s__%d__", f.Name, id)
	mapName := func(s string) string {
		if r, ok := rename[s]; ok {
			return r
		}
		r := prefix + s
		rename[s] = r
		return r
	}
	callAttr := func(name string) *ir.Attribute {
		if a := call.Attr(name); a != nil {
			return a
		}
		for _, a := range f.AttrProtos {
			if a.Name == name {
				return a
			}
		}
		return nil
	}
	var out []*ir.Node
	for _, n := range f.Nodes {
		nn := &ir.Node{Name: prefix + n.Name, OpType: n.OpType, Domain: n.Domain, DocString: n.DocString}
		for _, in := range n.Inputs {
			nn.Inputs = append(nn.Inputs, mapName(in))
		}
		for _, o := range n.Outputs {
			nn.Outputs = append(nn.Outputs, mapName(o))
		}
		for _, a := range n.Attrs {
			if a.RefAttrName != "" {
				src := callAttr(a.RefAttrName)
				if src == nil {
					continue
				}
				a2 := *src
				a2.Name = a.Name
				a2.RefAttrName = ""
				nn.Attrs = append(nn.Attrs, &a2)
				continue
			}
			nn.Attrs = append(nn.Attrs, a)
		}
		out = append(out, nn)
	}
	return out, nil
}
