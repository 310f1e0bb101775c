package ir

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// InferConfig configures InferShapes. The zero value is ready to use: it
// stops at the first problem.
type InferConfig struct {
	// Error, if set, is called with every problem found (each an
	// *Error), and inference goes on past it; values a bad node
	// should have produced get whatever type could still be inferred,
	// unknown at worst. If Error is nil, inference stops at the first
	// problem.
	Error func(error)
}

// InferInfo receives the results of InferShapes. Only the maps that are
// non-nil are filled, so a caller pays only for what it asks for.
type InferInfo struct {
	// Types maps every value name of the main graph and of its subgraphs
	// (graph inputs, initializers and node outputs) to its type: the
	// inferred type merged with any declared one (value_info, graph
	// outputs). A type the inference could not work out at all has Kind
	// UnknownKind; an unknown dimension is Dim{Value: -1}.
	Types map[string]Type
	// Values, if not nil, maps each graph inference reached (the main
	// graph and its subgraphs) to what is known of the values defined in
	// it: its inputs, initializers and node outputs. Unlike Types, it
	// keeps apart values of different graphs that share a name (each
	// branch of an If may define its own "y"); a value of an enclosing
	// graph is found in that graph's map.
	Values map[*Graph]map[string]Value
}

// Value is what InferShapes learned of one value.
type Value struct {
	// Type is the value's type, as InferInfo.Types gives it.
	Type Type
	// Elems holds the elements of an integer tensor of rank 0 or 1 (a
	// shape, an axis list) that inference followed: a constant, or the
	// result of shape arithmetic (Shape, Gather, Concat, Add ...) over
	// known and symbolic dimensions. It is nil when the elements were not
	// followed; at most 1024 are.
	Elems []Elem
}

// Elem is one element of an integer tensor that inference followed.
type Elem struct {
	// Known reports whether the element is the number V, which may be
	// negative.
	Known bool
	V     int64
	// Param, for an element that is not known, names the symbolic
	// dimension it equals, or is "" if nothing is known of it.
	Param string
}

// InferShapes infers the element type and shape of every value of m's main
// graph and its subgraphs (If branches, Loop and Scan bodies, with the
// values of enclosing graphs visible), in the manner of go/types.Check:
// cfg says what to do with problems (nil means the zero InferConfig), and
// info, if not nil, receives the results. m is not modified.
//
// Symbolic dimensions (Dim.Param) flow through ops that keep them
// (elementwise and broadcasting ops, MatMul, the batch dimension of Conv
// and pools, Reshape with 0 and derivable -1, Concat along another axis,
// Transpose ...); a dimension that cannot be derived becomes
// Dim{Value: -1}. Shape arguments given by constants (initializers,
// Constant nodes, and Shape→Gather→Unsqueeze→Concat chains over known or
// symbolic dimensions) are read. Nodes of unknown operators produce values
// of unknown type without error.
//
// InferShapes returns the first problem found, or nil.
func InferShapes(m *Model, cfg *InferConfig, info *InferInfo) (err error) {
	if cfg == nil {
		cfg = &InferConfig{}
	}
	r := &inferer{m: m, cfg: cfg}
	if info != nil {
		r.types = info.Types
		r.values = info.Values
	}
	if m == nil || m.Graph == nil {
		return &Error{Msg: "model has no graph"}
	}
	r.funcs = map[[2]string]*Function{}
	for _, f := range m.Functions {
		r.funcs[[2]string{CanonicalDomain(f.Domain), f.Name}] = f
	}
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(bailout); !ok {
				panic(p)
			}
			err = r.first
		}
	}()
	top := &scope{opset: m.OpsetVersion}
	r.graph(m.Graph, top, nil)
	return r.first
}

// bailout is panicked to unwind InferShapes at the first error when no
// InferConfig.Error is set.
type bailout struct{}

// inferer holds the state of one InferShapes call.
type inferer struct {
	m     *Model
	cfg   *InferConfig
	funcs map[[2]string]*Function
	first error
	// types receives every value's type; nil if not asked for.
	types map[string]Type
	// values receives each graph's values; nil if not asked for.
	values map[*Graph]map[string]Value
	// held, when not nil, collects errors instead of reporting them
	// (see hold).
	held  *[]error
	depth int
}

func (r *inferer) report(err error) {
	if r.held != nil {
		*r.held = append(*r.held, err)
		return
	}
	if r.first == nil {
		r.first = err
	}
	if r.cfg.Error == nil {
		panic(bailout{})
	}
	r.cfg.Error(err)
}

// hold runs fn holding back the errors it reports and the types it
// records, and returns them (types is nil if none are collected).
func (r *inferer) hold(fn func()) (errs []error, types map[string]Type) {
	savedHeld, savedTypes := r.held, r.types
	defer func() { r.held, r.types = savedHeld, savedTypes }()
	r.held = &errs
	if r.types != nil {
		types = map[string]Type{}
		r.types = types
	}
	fn()
	return errs, types
}

// release reports and records what hold held back.
func (r *inferer) release(errs []error, types map[string]Type) {
	for k, v := range types {
		r.types[k] = v
	}
	for _, err := range errs {
		r.report(err)
	}
}

func (r *inferer) record(name string, t Type) {
	if r.types != nil && name != "" {
		r.types[name] = t
	}
}

// value is what inference knows of one value.
type value struct {
	typ Type
	// t is the value itself when it is a constant (an initializer that is
	// not also a graph input, a Constant node's output), else nil.
	t *tensor.Tensor
	// data, when not nil, holds the elements of an integer tensor of rank
	// 0 or 1 whose elements are known or symbolic (shape arithmetic:
	// Shape, Gather, Concat ...). An element may be unknown. It holds at
	// most maxDataLen elements.
	data []elt
}

// maxDataLen bounds the element lists kept for shape values.
const maxDataLen = 1024

// scope is the values visible in one graph, its enclosing graphs' through
// parent.
type scope struct {
	parent *scope
	vals   map[string]*value
	// opset gives the version of an operator domain for nodes here.
	opset func(domain string) int64
	// graph names the graph, for errors.
	graph string
}

func (s *scope) lookup(name string) (*value, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vals[name]; ok {
			return v, true
		}
	}
	return nil, false
}

// graph infers the types of g's values in a new scope under parent.
// inputs, when not nil, are the types the enclosing operator passes to g's
// formal inputs; declared input types refine them. graph returns the
// types of g's outputs.
func (r *inferer) graph(g *Graph, parent *scope, inputs []Type) []Type {
	r.depth++
	defer func() { r.depth-- }()
	sc := &scope{parent: parent, vals: map[string]*value{}, opset: parent.opset, graph: g.Name}
	if r.depth > maxDepth {
		r.report(&Error{Graph: g.Name, Msg: "subgraphs nest too deep"})
		return make([]Type, len(g.Outputs))
	}
	declared := map[string]Type{}
	for _, vi := range g.ValueInfo {
		declared[vi.Name] = vi.Type
	}
	for _, vi := range g.Outputs {
		if d, ok := declared[vi.Name]; ok {
			if m, err := mergeTypes(vi.Type, d); err == nil {
				declared[vi.Name] = m
			}
			continue
		}
		declared[vi.Name] = vi.Type
	}
	for _, in := range g.Initializers {
		v := &value{t: in.Tensor}
		if in.Tensor != nil {
			v.typ = TensorType(in.Tensor.DType, ShapeOf(in.Tensor.Shape...))
			if tensor.SliceLen(in.Tensor.Data) != in.Tensor.Len() {
				v.t = nil // no usable data
			}
		}
		sc.vals[in.Name] = v
	}
	for i, in := range g.Inputs {
		t := in.Type
		if i < len(inputs) {
			t = refineType(inputs[i], in.Type)
		}
		if v, ok := sc.vals[in.Name]; ok {
			// An initializer that is also an input is only a default: the
			// caller may override it, so it is no constant.
			t = refineType(v.typ, t)
		}
		sc.vals[in.Name] = &value{typ: t}
	}
	for _, in := range g.Initializers {
		r.record(in.Name, sc.vals[in.Name].typ)
	}
	for _, in := range g.Inputs {
		r.record(in.Name, sc.vals[in.Name].typ)
	}
	outer := func(name string) bool { _, ok := parent.lookup(name); return ok }
	order, err := TopoSort(g, outer)
	if err != nil {
		r.report(&Error{Graph: g.Name, Msg: err.Error()})
		order = g.Nodes
	}
	for _, n := range order {
		r.node(n, sc, declared)
	}
	if r.values != nil {
		r.recordValues(g, sc)
	}
	out := make([]Type, len(g.Outputs))
	for i, o := range g.Outputs {
		if v, ok := sc.lookup(o.Name); ok {
			out[i] = v.typ
			if _, mine := sc.vals[o.Name]; !mine || isInputOrInit(g, o.Name) {
				// A graph output that passes an input or outer value
				// through: check it against the declaration too.
				if m, err := mergeTypes(v.typ, o.Type); err != nil {
					r.report(&Error{Graph: g.Name, Msg: fmt.Sprintf("output %q: %v, declared %v", o.Name, v.typ, o.Type)})
				} else {
					out[i] = m
				}
			}
		} else {
			out[i] = o.Type
		}
	}
	return out
}

// recordValues fills r.values[g] from g's scope. A graph inferred more
// than once (a loop body whose types change) keeps the last, final, pass.
func (r *inferer) recordValues(g *Graph, sc *scope) {
	m := make(map[string]Value, len(sc.vals))
	for name, v := range sc.vals {
		out := Value{Type: v.typ}
		if d, ok := valueElts(v); ok {
			out.Elems = make([]Elem, len(d))
			for i, e := range d {
				out.Elems[i] = Elem{Known: e.known, V: e.v, Param: e.param}
			}
		}
		m[name] = out
	}
	r.values[g] = m
}

func isInputOrInit(g *Graph, name string) bool {
	for _, in := range g.Inputs {
		if in.Name == name {
			return true
		}
	}
	return g.Initializer(name) != nil
}

// node infers the types of n's outputs and adds them to sc.
func (r *inferer) node(n *Node, sc *scope, declared map[string]Type) {
	c := &nodeCtx{r: r, n: n, sc: sc, opset: sc.opset(n.Domain), attrs: Attrs(n)}
	c.in = make([]*value, len(n.Inputs))
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		v, ok := sc.lookup(name)
		if !ok {
			v = &value{}
		}
		c.in[i] = v
	}
	c.out = make([]*value, len(n.Outputs))
	domain := CanonicalDomain(n.Domain)
	if fn := inferFuncs[opKey{domain, n.OpType}]; fn != nil {
		fn(c)
	} else if f := r.funcs[[2]string{domain, n.OpType}]; f != nil {
		r.call(c, f)
	}
	if err := c.attrs.Err(); err != nil {
		c.errorf("%v", err)
	}
	for i, name := range n.Outputs {
		if name == "" {
			continue
		}
		v := c.out[i]
		if v == nil {
			v = &value{}
		}
		if d, ok := declared[name]; ok {
			m, err := mergeTypes(v.typ, d)
			if err != nil {
				c.errorf("output %q: inferred %v, declared %v", name, v.typ, d)
				m = refineType(d, v.typ)
			}
			if !sameType(m, v.typ) {
				v = &value{typ: m, t: v.t, data: v.data}
			}
		}
		sc.vals[name] = v
		r.record(name, v.typ)
	}
}

// call infers the outputs of a call of the model-local function f by
// inferring its body with the caller's input types. The body's own values
// are not recorded: they do not exist in the model's graphs.
func (r *inferer) call(c *nodeCtx, f *Function) {
	if r.depth >= maxDepth {
		c.errorf("function %s nests too deep (recursive?)", f.Name)
		return
	}
	r.depth++
	defer func() { r.depth-- }()
	opsets := func(domain string) int64 {
		domain = CanonicalDomain(domain)
		for _, o := range f.Opsets {
			if CanonicalDomain(o.Domain) == domain {
				return o.Version
			}
		}
		return r.m.OpsetVersion(domain)
	}
	sc := &scope{vals: map[string]*value{}, opset: opsets, graph: f.Name}
	for i, name := range f.Inputs {
		if i < len(c.in) && c.in[i] != nil {
			sc.vals[name] = c.in[i]
		}
	}
	declared := map[string]Type{}
	for _, vi := range f.ValueInfo {
		declared[vi.Name] = vi.Type
	}
	errs, _ := r.hold(func() {
		for _, fn := range f.Nodes {
			r.node(bindAttrs(fn, c.n, f), sc, declared)
		}
	})
	for _, err := range errs {
		c.errorf("in function %s: %v", f.Name, err)
	}
	for i, name := range f.Outputs {
		if i < len(c.out) {
			if v, ok := sc.vals[name]; ok {
				c.out[i] = v
			}
		}
	}
}

// bindAttrs returns fn with attributes that refer to the caller's
// attributes (RefAttrName) replaced by the caller's values or the
// function's defaults, and dropped when neither exists.
func bindAttrs(fn, caller *Node, f *Function) *Node {
	refs := false
	for _, a := range fn.Attrs {
		if a.RefAttrName != "" {
			refs = true
		}
	}
	if !refs {
		return fn
	}
	out := *fn
	out.Attrs = nil
	for _, a := range fn.Attrs {
		if a.RefAttrName == "" {
			out.Attrs = append(out.Attrs, a)
			continue
		}
		src := caller.Attr(a.RefAttrName)
		if src == nil {
			for _, d := range f.AttrProtos {
				if d.Name == a.RefAttrName {
					src = d
				}
			}
		}
		if src != nil {
			b := *src
			b.Name = a.Name
			out.Attrs = append(out.Attrs, &b)
		}
	}
	return &out
}

// inferFunc infers one operator's output types from a nodeCtx, writing
// c.out and reporting problems with c.errorf.
type inferFunc func(c *nodeCtx)

type opKey struct{ domain, op string }

// inferFuncs maps (domain, op type) to its inference function. It is
// filled at init by the infer_*.go files and read-only after.
var inferFuncs = map[opKey]inferFunc{}

func registerInfer(domain string, fn inferFunc, ops ...string) {
	for _, op := range ops {
		k := opKey{domain, op}
		if _, dup := inferFuncs[k]; dup {
			panic("ir: two shape functions for " + op)
		}
		inferFuncs[k] = fn
	}
}

// mergeTypes combines an inferred type with a declared one, keeping what
// each knows. It fails if they contradict: different kinds or element
// types, different ranks, or two different known sizes of a dimension.
func mergeTypes(inferred, declared Type) (Type, error) {
	if inferred.Kind == UnknownKind {
		return declared, nil
	}
	if declared.Kind == UnknownKind {
		return inferred, nil
	}
	if inferred.Kind != declared.Kind {
		return Type{}, fmt.Errorf("kinds differ")
	}
	out := inferred
	switch inferred.Kind {
	case TensorKind, SparseTensorKind:
		switch {
		case inferred.DType == tensor.Undefined:
			out.DType = declared.DType
		case declared.DType != tensor.Undefined && declared.DType != inferred.DType:
			return Type{}, fmt.Errorf("element types differ")
		}
		s, err := mergeShapes(inferred.Shape, declared.Shape)
		if err != nil {
			return Type{}, err
		}
		out.Shape = s
	case SequenceKind, OptionalKind, MapKind:
		if inferred.Kind == MapKind && inferred.KeyType != declared.KeyType {
			if inferred.KeyType == tensor.Undefined {
				out.KeyType = declared.KeyType
			} else if declared.KeyType != tensor.Undefined {
				return Type{}, fmt.Errorf("key types differ")
			}
		}
		switch {
		case inferred.Elem == nil:
			out.Elem = declared.Elem
		case declared.Elem != nil:
			e, err := mergeTypes(*inferred.Elem, *declared.Elem)
			if err != nil {
				return Type{}, err
			}
			out.Elem = &e
		}
	}
	return out, nil
}

func mergeShapes(inferred, declared Shape) (Shape, error) {
	if inferred == nil {
		return declared, nil
	}
	if declared == nil {
		return inferred, nil
	}
	if len(inferred) != len(declared) {
		return nil, fmt.Errorf("ranks differ")
	}
	out := make(Shape, len(inferred))
	for i, a := range inferred {
		b := declared[i]
		switch {
		case a.Known() && b.Known() && a.Value != b.Value:
			return nil, fmt.Errorf("dimension %d differs", i)
		case a.Known():
			out[i] = a
		case b.Known() || b.Param != "":
			out[i] = b
		default:
			out[i] = a
		}
	}
	return out, nil
}

// refineType is mergeTypes where a contradiction is settled in favour of
// prefer.
func refineType(prefer, other Type) Type {
	if m, err := mergeTypes(prefer, other); err == nil {
		// mergeTypes keeps the first argument's known sizes; a declared
		// symbol is kept over an unknown dimension.
		return m
	}
	return prefer
}

func sameType(a, b Type) bool {
	if a.Kind != b.Kind || a.DType != b.DType || a.KeyType != b.KeyType || !sameShape(a.Shape, b.Shape) {
		return false
	}
	if (a.Elem == nil) != (b.Elem == nil) {
		return false
	}
	return a.Elem == nil || sameType(*a.Elem, *b.Elem)
}

func sameShape(a, b Shape) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for i := range a {
		if !identicalDim(a[i], b[i]) {
			return false
		}
	}
	return true
}
