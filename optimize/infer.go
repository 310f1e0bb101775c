package optimize

import (
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// facts is what inference knows of one value: its type (Kind UnknownKind
// if nothing), and for a small integer tensor of rank 0 or 1 (a shape, an
// axis list) the values of its elements, each a known number, a symbol or
// unknown. Those element values are how Shape→Gather→Concat chains over
// known dimensions become constants while dynamic ones stay symbolic.
type facts struct {
	t    ir.Type
	vals []ir.Elem // nil: not tracked
}

// maxTrackedVals bounds the integer tensors whose elements passes use: a
// longer one is not worth folding into a constant.
const maxTrackedVals = 64

func constFacts(t *tensor.Tensor) *facts {
	f := &facts{t: ir.TensorType(t.DType, ir.ShapeOf(t.Shape...))}
	if t.Rank() <= 1 && t.Len() <= maxTrackedVals {
		if v, ok := intsOf(t); ok {
			f.vals = make([]ir.Elem, len(v))
			for i, x := range v {
				f.vals[i] = ir.Elem{Known: true, V: x}
			}
		}
	}
	return f
}

// Type returns the inferred (or declared) type of name; Kind is
// ir.UnknownKind when nothing is known.
func (g *Graph) Type(name string) ir.Type {
	if f := g.lookup(name); f != nil {
		return f.t
	}
	return ir.Type{}
}

// Shape returns the shape of a tensor value and whether its rank is known.
func (g *Graph) Shape(name string) (ir.Shape, bool) {
	t := g.Type(name)
	if t.Kind != ir.TensorKind || t.Shape == nil {
		return nil, false
	}
	return t.Shape, true
}

// StaticShape returns the shape of name if every dimension is known.
func (g *Graph) StaticShape(name string) ([]int, bool) {
	s, ok := g.Shape(name)
	if !ok {
		return nil, false
	}
	return s.Static()
}

// Rank returns the rank of name, or -1 if unknown.
func (g *Graph) Rank(name string) int {
	if s, ok := g.Shape(name); ok {
		return len(s)
	}
	return -1
}

// DType returns the element type of a tensor value, or tensor.Undefined.
func (g *Graph) DType(name string) tensor.DType {
	t := g.Type(name)
	if t.Kind != ir.TensorKind {
		return tensor.Undefined
	}
	return t.DType
}

// SetType records the type of a value a pass creates.
func (g *Graph) SetType(name string, t ir.Type) {
	if g.facts == nil {
		return
	}
	if f := g.facts[name]; f != nil {
		f.t = t
		return
	}
	g.facts[name] = &facts{t: t}
}

func (g *Graph) setFacts(name string, f *facts) {
	if g.facts != nil {
		g.facts[name] = f
	}
}

func (g *Graph) lookup(name string) *facts {
	if name == "" {
		return nil
	}
	if g.facts == nil {
		g.infer()
	}
	if f := g.facts[name]; f != nil {
		return f
	}
	if g.parent != nil && g.prod[name] == nil && !g.inputs[name] && g.inits[name] == nil {
		return g.parent.lookup(name)
	}
	return nil
}

// invalidate drops inferred facts, the graph's and the model's; they are
// recomputed on demand.
func (g *Graph) invalidate() {
	g.facts = nil
	g.st.values = nil
}

// infer takes the facts of the graph's values from ir.InferShapes, run
// over the whole model (subgraphs see the types of enclosing graphs'
// values) once for all of its graphs until one changes.
func (g *Graph) infer() {
	st := g.st
	if st.values == nil {
		st.values = map[*ir.Graph]map[string]ir.Value{}
		// Inference is best effort: a malformed node leaves what it
		// should have produced unknown, and the engine reports the
		// problem.
		_ = ir.InferShapes(st.model, &ir.InferConfig{Error: func(error) {}}, &ir.InferInfo{Values: st.values})
	}
	vals := st.values[g.G]
	g.facts = make(map[string]*facts, len(vals))
	for name, v := range vals {
		f := &facts{t: v.Type}
		if len(v.Elems) <= maxTrackedVals {
			f.vals = v.Elems
		}
		g.facts[name] = f
	}
}
