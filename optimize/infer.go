package optimize

import (
	"math"

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
	vals []elem // nil: not tracked
}

// elem is the value of one element of a tracked integer tensor: a known
// number, a symbol (for a size: a dim_param) or unknown.
type elem struct {
	known bool
	v     int64
	sym   string
}

func num(v int64) elem { return elem{known: true, v: v} }

var unknownElem = elem{}

// elemOf returns the element value a dimension has.
func elemOf(d ir.Dim) elem {
	if d.Known() {
		return num(d.Value)
	}
	return elem{sym: d.Param}
}

// dim returns the dimension an element value denotes as a size.
func (e elem) dim() ir.Dim {
	switch {
	case e.known && e.v >= 0:
		return known(e.v)
	case !e.known && e.sym != "":
		return ir.Dim{Value: -1, Param: e.sym}
	}
	return unknownDim
}

func elemsOf(s ir.Shape) []elem {
	out := make([]elem, len(s))
	for i, d := range s {
		out[i] = elemOf(d)
	}
	return out
}

// maxTrackedVals bounds the integer tensors whose elements are tracked.
const maxTrackedVals = 64

var unknownDim = ir.Dim{Value: -1}

func known(v int64) ir.Dim { return ir.Dim{Value: v} }

func constFacts(t *tensor.Tensor) *facts {
	f := &facts{t: ir.TensorType(t.DType, ir.ShapeOf(t.Shape...))}
	if t.Rank() <= 1 && t.Len() <= maxTrackedVals {
		if v, ok := intsOf(t); ok {
			f.vals = make([]elem, len(v))
			for i, x := range v {
				f.vals[i] = num(x)
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

// invalidate drops inferred facts; they are recomputed on demand.
func (g *Graph) invalidate() { g.facts = nil }

// infer computes facts for every value of the graph.
func (g *Graph) infer() {
	g.facts = map[string]*facts{}
	declared := map[string]ir.Type{}
	for _, vi := range g.G.ValueInfo {
		declared[vi.Name] = vi.Type
	}
	for _, vi := range g.G.Outputs {
		declared[vi.Name] = vi.Type
	}
	for _, in := range g.G.Initializers {
		g.facts[in.Name] = constFacts(in.Tensor)
	}
	for _, v := range g.G.Inputs {
		if in := g.inits[v.Name]; in != nil {
			// An overridable initializer: its type is fixed, its value not.
			g.facts[v.Name] = &facts{t: mergeType(v.Type, g.facts[v.Name].t)}
			continue
		}
		g.facts[v.Name] = &facts{t: v.Type}
	}
	order, err := ir.TopoSort(g.G, func(name string) bool { return g.parent != nil && g.prod[name] == nil })
	if err != nil {
		order = g.G.Nodes
	}
	for _, n := range order {
		c := &inferCtx{g: g, n: n, opset: g.Opset(n.Domain)}
		func() {
			defer func() {
				// Inference is best effort: a malformed node leaves its
				// outputs unknown and the engine reports the problem.
				if recover() != nil {
					c.out = nil
				}
			}()
			c.run()
		}()
		for i, o := range n.Outputs {
			if o == "" {
				continue
			}
			var f *facts
			if i < len(c.out) && c.out[i] != nil {
				f = c.out[i]
			} else {
				f = &facts{}
			}
			if d, ok := declared[o]; ok {
				f.t = mergeType(f.t, d)
			}
			g.facts[o] = f
		}
	}
}

// mergeType combines an inferred type with a declared one, keeping what
// each knows.
func mergeType(a, b ir.Type) ir.Type {
	if a.Kind == ir.UnknownKind {
		return b
	}
	if b.Kind != a.Kind || a.Kind != ir.TensorKind {
		return a
	}
	if a.DType == tensor.Undefined {
		a.DType = b.DType
	}
	if a.Shape == nil {
		a.Shape = b.Shape
	} else if b.Shape != nil && len(a.Shape) == len(b.Shape) {
		s := make(ir.Shape, len(a.Shape))
		for i := range s {
			s[i] = a.Shape[i]
			if !s[i].Known() && (b.Shape[i].Known() || s[i].Param == "" && b.Shape[i].Param != "") {
				s[i] = b.Shape[i]
			}
		}
		a.Shape = s
	}
	return a
}

type inferCtx struct {
	g     *Graph
	n     *ir.Node
	opset int64
	out   []*facts
}

func (c *inferCtx) in(i int) *facts {
	if i < len(c.n.Inputs) {
		if f := c.g.lookup(c.n.Inputs[i]); f != nil {
			return f
		}
	}
	return &facts{}
}

func (c *inferCtx) has(i int) bool { return i < len(c.n.Inputs) && c.n.Inputs[i] != "" }

func (c *inferCtx) shape(i int) (ir.Shape, bool) {
	t := c.in(i).t
	if t.Kind != ir.TensorKind || t.Shape == nil {
		return nil, false
	}
	return t.Shape, true
}

func (c *inferCtx) dtype(i int) tensor.DType {
	t := c.in(i).t
	if t.Kind != ir.TensorKind {
		return tensor.Undefined
	}
	return t.DType
}

func (c *inferCtx) constInts(i int) ([]int64, bool) {
	if !c.has(i) {
		return nil, false
	}
	if t := c.g.Const(c.n.Inputs[i]); t != nil {
		return intsOf(t)
	}
	if v := c.in(i).vals; v != nil {
		out := make([]int64, len(v))
		for k, d := range v {
			if !d.known {
				return nil, false
			}
			out[k] = d.v
		}
		return out, true
	}
	return nil, false
}

func (c *inferCtx) set(i int, dt tensor.DType, s ir.Shape) *facts {
	for len(c.out) <= i {
		c.out = append(c.out, nil)
	}
	f := &facts{t: ir.TensorType(dt, s)}
	c.out[i] = f
	return f
}

// unknownRank returns an unknown-rank tensor type of dt.
func (c *inferCtx) setRankOnly(i int, dt tensor.DType) { c.set(i, dt, nil) }

func (c *inferCtx) attrs() *ir.AttrReader { return ir.Attrs(c.n) }

func unknownShape(rank int) ir.Shape {
	s := make(ir.Shape, rank)
	for i := range s {
		s[i] = unknownDim
	}
	return s
}

func normAxis(a int64, rank int) (int, bool) {
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, false
	}
	return int(a), true
}

func (c *inferCtx) run() {
	n := c.n
	op := n.OpType
	switch ir.CanonicalDomain(n.Domain) {
	case ir.DomainONNX:
	case ir.DomainInferd:
		c.runInferd()
		return
	default:
		c.inferQLinear()
		return
	}
	switch {
	case unaryOps[op]:
		s, _ := c.shape(0)
		c.set(0, c.dtype(0), s)
		switch op {
		case "Dropout":
			if len(n.Outputs) > 1 {
				c.set(1, tensor.Bool, s)
			}
		case "LayerNormalization":
			c.layerNormStats(s)
		}
		return
	case boolUnaryOps[op]:
		s, _ := c.shape(0)
		c.set(0, tensor.Bool, s)
		return
	case broadcastOps[op]:
		c.broadcast(c.dtype(0))
		if op == "Add" || op == "Sub" || op == "Mul" || op == "Div" {
			c.arith(op)
		}
		return
	case compareOps[op]:
		c.broadcast(tensor.Bool)
		return
	}
	switch op {
	case "Constant":
		if t := constantValue(n); t != nil {
			for len(c.out) < 1 {
				c.out = append(c.out, nil)
			}
			c.out[0] = constFacts(t)
		}
	case "Cast":
		s, _ := c.shape(0)
		to := tensor.DType(c.attrs().Int("to", 0))
		f := c.set(0, to, s)
		if to == tensor.Int64 || to == tensor.Int32 {
			f.vals = c.in(0).vals
		}
	case "DynamicQuantizeLinear":
		c.inferQLinear()
	case "CastLike":
		s, _ := c.shape(0)
		c.set(0, c.dtype(1), s)
	case "Where":
		c.broadcast(c.dtype(1))
	case "Shape":
		s, ok := c.shape(0)
		if !ok {
			c.set(0, tensor.Int64, unknownShape(1))
			return
		}
		a := c.attrs()
		lo, hi := 0, len(s)
		if c.opset >= 15 {
			lo = clampAxis(a.Int("start", 0), len(s))
			hi = clampAxis(a.Int("end", int64(len(s))), len(s))
		}
		if hi < lo {
			hi = lo
		}
		f := c.set(0, tensor.Int64, ir.ShapeOf(hi-lo))
		f.vals = elemsOf(s[lo:hi])
	case "Size":
		f := c.set(0, tensor.Int64, ir.Shape{})
		if s, ok := c.shape(0); ok {
			if st, ok := s.Static(); ok {
				f.vals = []elem{num(int64(tensor.NumElements(st)))}
			}
		}
	case "Identity":
		c.out = []*facts{c.in(0)}
	case "Reshape":
		c.reshape()
	case "Flatten":
		c.flatten()
	case "Transpose":
		c.transpose()
	case "Squeeze":
		c.squeeze()
	case "Unsqueeze":
		c.unsqueeze()
	case "Concat":
		c.concat()
	case "Gather":
		c.gather()
	case "Slice":
		c.slice()
	case "MatMul":
		c.matmul(c.dtype(0))
	case "MatMulInteger":
		c.matmul(tensor.Int32)
	case "Gemm":
		c.gemm()
	case "Conv", "ConvInteger", "QLinearConv":
		c.conv(op)
	case "MaxPool", "AveragePool", "LpPool":
		c.pool()
	case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool":
		if s, ok := c.shape(0); ok && len(s) >= 2 {
			out := append(ir.Shape{s[0], s[1]}, ir.ShapeOf(make([]int, len(s)-2)...)...)
			for i := 2; i < len(out); i++ {
				out[i] = known(1)
			}
			c.set(0, c.dtype(0), out)
		} else {
			c.setRankOnly(0, c.dtype(0))
		}
	case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
		"ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare":
		c.reduce()
	case "ArgMax", "ArgMin":
		c.argReduce()
	case "Expand":
		c.expand()
	case "ConstantOfShape":
		dt := tensor.Float32
		if t := c.attrs().Tensor("value"); t != nil {
			dt = t.DType
		}
		if v := c.in(0).vals; v != nil {
			c.set(0, dt, shapeOfElems(v))
		} else if s, ok := c.shape(0); ok && len(s) == 1 && s[0].Known() {
			c.set(0, dt, unknownShape(int(s[0].Value)))
		} else {
			c.setRankOnly(0, dt)
		}
	case "Range":
		c.set(0, c.dtype(0), ir.Shape{c.rangeLength()})
	case "Split":
		c.split()
	case "Tile":
		c.tile()
	case "Pad":
		c.pad()
	case "LSTM", "GRU", "RNN":
		c.rnn()
	case "NonZero":
		s, ok := c.shape(0)
		if ok {
			c.set(0, tensor.Int64, ir.Shape{known(int64(len(s))), unknownDim})
		} else {
			c.set(0, tensor.Int64, unknownShape(2))
		}
	case "TopK":
		if s, ok := c.shape(0); ok {
			ax, ok := normAxis(c.attrs().Int("axis", -1), len(s))
			if ok {
				out := append(ir.Shape{}, s...)
				out[ax] = unknownDim
				if k, ok := c.constInts(1); ok && len(k) == 1 {
					out[ax] = known(k[0])
				}
				c.set(0, c.dtype(0), out)
				c.set(1, tensor.Int64, out)
				return
			}
		}
		c.setRankOnly(0, c.dtype(0))
		c.setRankOnly(1, tensor.Int64)
	case "OneHot", "Resize", "Upsample", "ConvTranspose", "DepthToSpace", "SpaceToDepth", "GatherElements",
		"GatherND", "ScatterElements", "ScatterND", "Einsum", "Compress", "Unique", "CumProd", "EyeLike",
		"DequantizeLinear", "QuantizeLinear", "QLinearMatMul":
		dt := c.dtype(0)
		switch op {
		case "OneHot":
			dt = c.dtype(2)
		case "DequantizeLinear":
			dt = c.dtype(1)
		case "QuantizeLinear":
			dt = tensor.Uint8
			if c.has(2) {
				dt = c.dtype(2)
			}
		case "QLinearMatMul":
			dt = c.dtype(7)
		}
		rank := -1
		if s, ok := c.shape(0); ok {
			switch op {
			case "Resize", "Upsample", "ConvTranspose", "DepthToSpace", "SpaceToDepth", "ScatterElements",
				"ScatterND", "DequantizeLinear", "QuantizeLinear", "EyeLike", "CumProd":
				rank = len(s)
			case "GatherElements":
				if s1, ok := c.shape(1); ok {
					c.set(0, dt, s1)
					return
				}
			}
			if op == "DequantizeLinear" || op == "QuantizeLinear" || op == "ScatterElements" || op == "ScatterND" || op == "CumProd" {
				c.set(0, dt, s)
				return
			}
		}
		if rank >= 0 {
			c.set(0, dt, unknownShape(rank))
		} else {
			c.setRankOnly(0, dt)
		}
	}
}

// rangeLength returns the length of a Range: known when its inputs are,
// the limit's symbol for Range(0, limit, 1).
func (c *inferCtx) rangeLength() ir.Dim {
	var v [3]elem
	for i := range v {
		vals := c.in(i).vals
		if len(vals) != 1 {
			return unknownDim
		}
		v[i] = vals[0]
	}
	start, limit, delta := v[0], v[1], v[2]
	if start.known && limit.known && delta.known && delta.v != 0 {
		n := (limit.v - start.v + delta.v - 1) / delta.v
		if delta.v < 0 {
			n = (limit.v - start.v + delta.v + 1) / delta.v
		}
		return known(max(n, 0))
	}
	if start == num(0) && delta == num(1) && limit.sym != "" {
		return limit.dim()
	}
	return unknownDim
}

// layerNormStats types LayerNormalization's optional Mean and InvStdDev.
func (c *inferCtx) layerNormStats(s ir.Shape) {
	if len(c.n.Outputs) < 2 {
		return
	}
	dt := tensor.DType(c.attrs().Int("stash_type", 1))
	var st ir.Shape
	if s != nil {
		if ax, ok := normAxis(c.attrs().Int("axis", -1), len(s)); ok {
			st = append(ir.Shape{}, s...)
			for i := ax; i < len(st); i++ {
				st[i] = known(1)
			}
		}
	}
	c.set(1, dt, st)
	if len(c.n.Outputs) > 2 {
		c.set(2, dt, st)
	}
}

func clampAxis(a int64, rank int) int {
	if a < 0 {
		a += int64(rank)
	}
	return int(max(0, min(a, int64(rank))))
}

// broadcastShapes returns the numpy broadcast of shapes, with symbolic and
// unknown dimensions where the sizes are not known.
func broadcastShapes(shapes ...ir.Shape) (ir.Shape, bool) {
	rank := 0
	for _, s := range shapes {
		if s == nil {
			return nil, false
		}
		rank = max(rank, len(s))
	}
	out := make(ir.Shape, rank)
	for i := range out {
		var d ir.Dim
		first := true
		for _, s := range shapes {
			k := i - (rank - len(s))
			if k < 0 {
				continue
			}
			e := s[k]
			switch {
			case first:
				d, first = e, false
			case e.Known() && e.Value == 1:
			case d.Known() && d.Value == 1:
				d = e
			case e == d:
			case e.Known():
				// A known size other than 1 wins: the other is that size
				// or 1, or the model is invalid.
				d = e
			case d.Known():
			default:
				d = unknownDim
			}
		}
		out[i] = d
	}
	return out, true
}

func (c *inferCtx) broadcast(dt tensor.DType) {
	var shapes []ir.Shape
	for i := range c.n.Inputs {
		if !c.has(i) {
			continue
		}
		s, ok := c.shape(i)
		if !ok {
			c.setRankOnly(0, dt)
			return
		}
		shapes = append(shapes, s)
	}
	out, _ := broadcastShapes(shapes...)
	c.set(0, dt, out)
}

// arith tracks element values through integer Add/Sub/Mul/Div, the
// arithmetic exporters emit on shapes.
func (c *inferCtx) arith(op string) {
	a, b := c.in(0).vals, c.in(1).vals
	if a == nil || b == nil || c.out == nil || !c.dtype(0).IsInt() {
		return
	}
	n := max(len(a), len(b))
	if len(a) != n && len(a) != 1 || len(b) != n && len(b) != 1 {
		return
	}
	vals := make([]elem, n)
	for i := range vals {
		x, y := a[min(i, len(a)-1)], b[min(i, len(b)-1)]
		vals[i] = dimArith(op, x, y)
	}
	c.out[0].vals = vals
}

func dimArith(op string, x, y elem) elem {
	if x.known && y.known {
		switch op {
		case "Add":
			return num(x.v + y.v)
		case "Sub":
			return num(x.v - y.v)
		case "Mul":
			return num(x.v * y.v)
		case "Div":
			if y.v == 0 {
				return unknownElem
			}
			return num(x.v / y.v)
		}
	}
	switch {
	case (op == "Add" || op == "Sub") && y == num(0):
		return x
	case op == "Add" && x == num(0):
		return y
	case (op == "Mul" || op == "Div") && y == num(1):
		return x
	case op == "Mul" && x == num(1):
		return y
	case op == "Div" && x == y && x.sym != "":
		return num(1)
	}
	return unknownElem
}

func (c *inferCtx) reshape() {
	dt := c.dtype(0)
	target := c.in(1).vals
	if target == nil {
		if s, ok := c.shape(1); ok && len(s) == 1 && s[0].Known() {
			c.set(0, dt, unknownShape(int(s[0].Value)))
		} else {
			c.setRankOnly(0, dt)
		}
		return
	}
	in, inOK := c.shape(0)
	allowZero := c.attrs().Int("allowzero", 0) != 0
	out := make(ir.Shape, len(target))
	neg := -1
	for i, d := range target {
		switch {
		case d == num(0) && !allowZero:
			if inOK && i < len(in) {
				out[i] = in[i]
			} else {
				out[i] = unknownDim
			}
		case d == num(-1):
			neg = i
			out[i] = unknownDim
		default:
			out[i] = d.dim()
		}
	}
	if neg >= 0 && inOK {
		out[neg] = solveDim(in, out, neg)
	}
	c.set(0, dt, out)
}

// solveDim finds dimension k of out (a reshape of in) from the element
// count, cancelling symbols that appear on both sides.
func solveDim(in, out ir.Shape, k int) ir.Dim {
	num, den := int64(1), int64(1)
	syms := map[string]int{}
	for _, d := range in {
		switch {
		case d.Known():
			num *= d.Value
		case d.Param != "":
			syms[d.Param]++
		default:
			return unknownDim
		}
	}
	for i, d := range out {
		if i == k {
			continue
		}
		switch {
		case d.Known():
			den *= d.Value
		case d.Param != "":
			if syms[d.Param] == 0 {
				return unknownDim
			}
			syms[d.Param]--
		default:
			return unknownDim
		}
	}
	var rest []string
	for p, k := range syms {
		for ; k > 0; k-- {
			rest = append(rest, p)
		}
	}
	if den == 0 || num%den != 0 {
		return unknownDim
	}
	q := num / den
	switch {
	case len(rest) == 0:
		return known(q)
	case len(rest) == 1 && q == 1:
		return ir.Dim{Value: -1, Param: rest[0]}
	}
	return unknownDim
}

func prodDims(s ir.Shape) ir.Dim {
	p := int64(1)
	var sym ir.Dim
	for _, d := range s {
		switch {
		case d.Known():
			p *= d.Value
		case d.Param != "" && sym.Param == "":
			sym = d
		default:
			return unknownDim
		}
	}
	if sym.Param != "" {
		if p == 1 {
			return sym
		}
		return unknownDim
	}
	return known(p)
}

func (c *inferCtx) flatten() {
	s, ok := c.shape(0)
	if !ok {
		c.set(0, c.dtype(0), unknownShape(2))
		return
	}
	ax := c.attrs().Int("axis", 1)
	if ax < 0 {
		ax += int64(len(s))
	}
	if ax < 0 || ax > int64(len(s)) {
		return
	}
	c.set(0, c.dtype(0), ir.Shape{prodDims(s[:ax]), prodDims(s[ax:])})
}

func (c *inferCtx) transpose() {
	s, ok := c.shape(0)
	if !ok {
		c.setRankOnly(0, c.dtype(0))
		return
	}
	perm := c.attrs().Ints("perm", nil)
	out := make(ir.Shape, len(s))
	for i := range out {
		if perm == nil {
			out[i] = s[len(s)-1-i]
			continue
		}
		if i >= len(perm) || perm[i] < 0 || int(perm[i]) >= len(s) {
			return
		}
		out[i] = s[perm[i]]
	}
	c.set(0, c.dtype(0), out)
}

// axesOf returns a node's axes, from attribute "axes" before opset
// sinceInput and from input i at or after it.
func (c *inferCtx) axesOf(sinceInput int64, i int) ([]int64, bool) {
	if c.opset < sinceInput {
		a := c.attrs()
		if !a.Has("axes") {
			return nil, true
		}
		return a.Ints("axes", nil), true
	}
	if !c.has(i) {
		return nil, true
	}
	return c.constInts(i)
}

func (c *inferCtx) squeeze() {
	s, ok := c.shape(0)
	axes, aok := c.axesOf(13, 1)
	if !ok || !aok {
		c.setRankOnly(0, c.dtype(0))
		return
	}
	drop := map[int]bool{}
	if axes == nil {
		for i, d := range s {
			if !d.Known() {
				c.setRankOnly(0, c.dtype(0))
				return
			}
			if d.Value == 1 {
				drop[i] = true
			}
		}
	}
	for _, a := range axes {
		ax, ok := normAxis(a, len(s))
		if !ok {
			return
		}
		drop[ax] = true
	}
	var out ir.Shape = ir.Shape{}
	for i, d := range s {
		if !drop[i] {
			out = append(out, d)
		}
	}
	f := c.set(0, c.dtype(0), out)
	if v := c.in(0).vals; v != nil && len(v) == 1 && len(out) == 0 {
		f.vals = v
	}
}

func (c *inferCtx) unsqueeze() {
	s, ok := c.shape(0)
	axes, aok := c.axesOf(13, 1)
	if !ok || !aok || axes == nil {
		c.setRankOnly(0, c.dtype(0))
		return
	}
	rank := len(s) + len(axes)
	ins := map[int]bool{}
	for _, a := range axes {
		ax, ok := normAxis(a, rank)
		if !ok {
			return
		}
		ins[ax] = true
	}
	out := make(ir.Shape, 0, rank)
	k := 0
	for i := 0; i < rank; i++ {
		if ins[i] {
			out = append(out, known(1))
		} else if k < len(s) {
			out = append(out, s[k])
			k++
		}
	}
	f := c.set(0, c.dtype(0), out)
	if v := c.in(0).vals; v != nil && len(out) <= 1 {
		f.vals = v
	}
}

func (c *inferCtx) concat() {
	dt := c.dtype(0)
	ax := c.attrs().Int("axis", 0)
	var out ir.Shape
	var vals []elem
	trackVals := true
	for i := range c.n.Inputs {
		s, ok := c.shape(i)
		if !ok {
			c.setRankOnly(0, dt)
			return
		}
		v := c.in(i).vals
		if v == nil || len(s) != 1 {
			trackVals = false
		}
		vals = append(vals, v...)
		a, ok := normAxis(ax, len(s))
		if !ok {
			return
		}
		if out == nil {
			out = append(ir.Shape{}, s...)
			continue
		}
		if len(s) != len(out) {
			return
		}
		if out[a].Known() && s[a].Known() {
			out[a] = known(out[a].Value + s[a].Value)
		} else {
			out[a] = unknownDim
		}
		for k := range out {
			if k != a && !out[k].Known() && s[k].Known() {
				out[k] = s[k]
			}
		}
	}
	f := c.set(0, dt, out)
	if trackVals && len(vals) <= maxTrackedVals {
		f.vals = vals
	}
}

func (c *inferCtx) gather() {
	dt := c.dtype(0)
	s, ok := c.shape(0)
	is, iok := c.shape(1)
	if !ok || !iok {
		c.setRankOnly(0, dt)
		return
	}
	ax, ok := normAxis(c.attrs().Int("axis", 0), len(s))
	if !ok {
		return
	}
	out := append(append(append(ir.Shape{}, s[:ax]...), is...), s[ax+1:]...)
	f := c.set(0, dt, out)
	v := c.in(0).vals
	idx, iok := c.constInts(1)
	if v != nil && iok && len(s) == 1 {
		vals := make([]elem, len(idx))
		for i, k := range idx {
			if k < 0 {
				k += int64(len(v))
			}
			if k < 0 || k >= int64(len(v)) {
				return
			}
			vals[i] = v[k]
		}
		f.vals = vals
	}
}

func (c *inferCtx) sliceParams() (starts, ends, axes, steps []int64, ok bool) {
	if c.opset < 10 {
		a := c.attrs()
		starts, ends, axes = a.Ints("starts", nil), a.Ints("ends", nil), a.Ints("axes", nil)
		return starts, ends, axes, nil, a.Err() == nil
	}
	if starts, ok = c.constInts(1); !ok {
		return
	}
	if ends, ok = c.constInts(2); !ok {
		return
	}
	if c.has(3) {
		if axes, ok = c.constInts(3); !ok {
			return
		}
	}
	if c.has(4) {
		if steps, ok = c.constInts(4); !ok {
			return
		}
	}
	return starts, ends, axes, steps, len(starts) == len(ends)
}

// sliceRange clamps a Slice's start and end for a dimension of size dim
// and returns the element count.
func sliceRange(start, end, step, dim int64) (lo, hi, n int64) {
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		start = max(0, min(start, dim))
		end = max(0, min(end, dim))
		if end <= start {
			return start, end, 0
		}
		return start, end, (end - start + step - 1) / step
	}
	start = max(-1, min(start, dim-1))
	end = max(-1, min(end, dim-1))
	if start <= end {
		return start, end, 0
	}
	return start, end, (start - end + (-step) - 1) / (-step)
}

func (c *inferCtx) slice() {
	dt := c.dtype(0)
	s, ok := c.shape(0)
	if !ok {
		c.setRankOnly(0, dt)
		return
	}
	starts, ends, axes, steps, pok := c.sliceParams()
	if !pok {
		c.set(0, dt, unknownShape(len(s)))
		return
	}
	out := append(ir.Shape{}, s...)
	var sel [][3]int64 // for vals: start, end, step of axis 0
	for i := range starts {
		a := int64(i)
		if axes != nil {
			a = axes[i]
		}
		ax, ok := normAxis(a, len(s))
		if !ok {
			return
		}
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return
		}
		d := s[ax]
		if !d.Known() {
			if step == 1 && starts[i] == 0 && ends[i] >= math.MaxInt32 {
				continue // the whole of a symbolic dimension
			}
			out[ax] = unknownDim
			continue
		}
		lo, _, cnt := sliceRange(starts[i], ends[i], step, d.Value)
		out[ax] = known(cnt)
		if ax == 0 {
			sel = append(sel, [3]int64{lo, cnt, step})
		}
	}
	f := c.set(0, dt, out)
	if v := c.in(0).vals; v != nil && len(s) == 1 {
		if len(sel) == 0 {
			f.vals = v
			return
		}
		lo, cnt, step := sel[0][0], sel[0][1], sel[0][2]
		vals := make([]elem, 0, cnt)
		for k := int64(0); k < cnt; k++ {
			vals = append(vals, v[lo+k*step])
		}
		f.vals = vals
	}
}

func (c *inferCtx) matmul(dt tensor.DType) {
	a, aok := c.shape(0)
	b, bok := c.shape(1)
	if !aok || !bok || len(a) == 0 || len(b) == 0 {
		c.setRankOnly(0, dt)
		return
	}
	var out ir.Shape
	switch {
	case len(a) == 1 && len(b) == 1:
		out = ir.Shape{}
	case len(a) == 1:
		out = append(append(ir.Shape{}, b[:len(b)-2]...), b[len(b)-1])
	case len(b) == 1:
		out = append(ir.Shape{}, a[:len(a)-1]...)
	default:
		batch, _ := broadcastShapes(a[:len(a)-2], b[:len(b)-2])
		out = append(append(batch, a[len(a)-2]), b[len(b)-1])
	}
	c.set(0, dt, out)
}

func (c *inferCtx) gemm() {
	dt := c.dtype(0)
	a, aok := c.shape(0)
	b, bok := c.shape(1)
	if !aok || !bok || len(a) != 2 || len(b) != 2 {
		c.set(0, dt, unknownShape(2))
		return
	}
	at := c.attrs()
	m, n := a[0], b[1]
	if at.Int("transA", 0) != 0 {
		m = a[1]
	}
	if at.Int("transB", 0) != 0 {
		n = b[0]
	}
	c.set(0, dt, ir.Shape{m, n})
}

// convSpatial computes pooled or convolved spatial sizes.
func convSpatial(in ir.Shape, kernel, strides, pads, dil []int64, autoPad string, ceil bool) ir.Shape {
	nsp := len(in)
	out := make(ir.Shape, nsp)
	for i := 0; i < nsp; i++ {
		d := in[i]
		if !d.Known() || i >= len(kernel) {
			out[i] = unknownDim
			continue
		}
		s, dl := int64(1), int64(1)
		if i < len(strides) {
			s = strides[i]
		}
		if i < len(dil) {
			dl = dil[i]
		}
		if s <= 0 {
			out[i] = unknownDim
			continue
		}
		switch autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			out[i] = known((d.Value + s - 1) / s)
			continue
		case "VALID":
			out[i] = known((d.Value-dl*(kernel[i]-1)-1)/s + 1)
			continue
		}
		p, p0 := int64(0), int64(0)
		if len(pads) == 2*nsp {
			p, p0 = pads[i]+pads[i+nsp], pads[i]
		}
		num := d.Value + p - dl*(kernel[i]-1) - 1
		if ceil {
			o := (num+s-1)/s + 1
			// The last window must start inside the input or left pad.
			if (o-1)*s >= d.Value+p0 {
				o--
			}
			out[i] = known(o)
		} else {
			out[i] = known(num/s + 1)
		}
	}
	return out
}

func (c *inferCtx) conv(op string) {
	xi, wi := 0, 1
	dt := c.dtype(0)
	switch op {
	case "QLinearConv":
		xi, wi = 0, 3
		dt = c.dtype(7)
	case "ConvInteger":
		dt = tensor.Int32
	}
	x, xok := c.shape(xi)
	w, wok := c.shape(wi)
	if !xok || len(x) < 3 {
		c.setRankOnly(0, dt)
		return
	}
	a := c.attrs()
	kernel := a.Ints("kernel_shape", nil)
	if kernel == nil && wok && len(w) == len(x) {
		if ks, ok := w[2:].Static(); ok {
			for _, k := range ks {
				kernel = append(kernel, int64(k))
			}
		}
	}
	out := ir.Shape{x[0], unknownDim}
	if wok && len(w) > 0 {
		out[1] = w[0]
	}
	out = append(out, convSpatial(x[2:], kernel, a.Ints("strides", nil), a.Ints("pads", nil),
		a.Ints("dilations", nil), a.String("auto_pad", "NOTSET"), false)...)
	c.set(0, dt, out)
}

func (c *inferCtx) pool() {
	x, ok := c.shape(0)
	dt := c.dtype(0)
	if !ok || len(x) < 3 {
		c.setRankOnly(0, dt)
		return
	}
	a := c.attrs()
	out := ir.Shape{x[0], x[1]}
	out = append(out, convSpatial(x[2:], a.Ints("kernel_shape", nil), a.Ints("strides", nil), a.Ints("pads", nil),
		a.Ints("dilations", nil), a.String("auto_pad", "NOTSET"), a.Int("ceil_mode", 0) != 0)...)
	c.set(0, dt, out)
	if len(c.n.Outputs) > 1 {
		c.set(1, tensor.Int64, out)
	}
}

func (c *inferCtx) reduce() {
	dt := c.dtype(0)
	s, ok := c.shape(0)
	since := int64(18)
	if c.n.OpType == "ReduceSum" {
		since = 13
	}
	axes, aok := c.axesOf(since, 1)
	if !ok || !aok {
		c.setRankOnly(0, dt)
		return
	}
	a := c.attrs()
	keep := a.Int("keepdims", 1) != 0
	if axes == nil {
		if a.Int("noop_with_empty_axes", 0) != 0 {
			c.set(0, dt, s)
			return
		}
		for i := range s {
			axes = append(axes, int64(i))
		}
	}
	red := map[int]bool{}
	for _, x := range axes {
		ax, ok := normAxis(x, len(s))
		if !ok {
			return
		}
		red[ax] = true
	}
	out := ir.Shape{}
	for i, d := range s {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, known(1))
		}
	}
	c.set(0, dt, out)
}

func (c *inferCtx) argReduce() {
	s, ok := c.shape(0)
	if !ok {
		c.setRankOnly(0, tensor.Int64)
		return
	}
	a := c.attrs()
	ax, ok := normAxis(a.Int("axis", 0), len(s))
	if !ok {
		return
	}
	out := ir.Shape{}
	for i, d := range s {
		switch {
		case i != ax:
			out = append(out, d)
		case a.Int("keepdims", 1) != 0:
			out = append(out, known(1))
		}
	}
	c.set(0, tensor.Int64, out)
}

func (c *inferCtx) expand() {
	dt := c.dtype(0)
	s, ok := c.shape(0)
	v := c.in(1).vals
	if !ok || v == nil {
		if ts, ok := c.shape(1); ok && len(ts) == 1 && ts[0].Known() && s != nil {
			c.set(0, dt, unknownShape(max(len(s), int(ts[0].Value))))
			return
		}
		c.setRankOnly(0, dt)
		return
	}
	out, _ := broadcastShapes(s, shapeOfElems(v))
	c.set(0, dt, out)
}

func (c *inferCtx) split() {
	dt := c.dtype(0)
	s, ok := c.shape(0)
	nout := len(c.n.Outputs)
	if !ok {
		for i := 0; i < nout; i++ {
			c.setRankOnly(i, dt)
		}
		return
	}
	a := c.attrs()
	ax, ok := normAxis(a.Int("axis", 0), len(s))
	if !ok {
		return
	}
	var sizes []int64
	if c.opset >= 13 {
		if c.has(1) {
			sizes, _ = c.constInts(1)
		}
	} else {
		sizes = a.Ints("split", nil)
	}
	for i := 0; i < nout; i++ {
		out := append(ir.Shape{}, s...)
		switch {
		case sizes != nil && i < len(sizes):
			out[ax] = known(sizes[i])
		case sizes == nil && s[ax].Known() && nout > 0:
			per := (s[ax].Value + int64(nout) - 1) / int64(nout)
			last := s[ax].Value - per*int64(nout-1)
			if i == nout-1 {
				out[ax] = known(last)
			} else {
				out[ax] = known(per)
			}
		default:
			out[ax] = unknownDim
		}
		c.set(i, dt, out)
	}
}

func (c *inferCtx) tile() {
	dt := c.dtype(0)
	s, ok := c.shape(0)
	r, rok := c.constInts(1)
	if !ok {
		c.setRankOnly(0, dt)
		return
	}
	out := unknownShape(len(s))
	if rok && len(r) == len(s) {
		for i, d := range s {
			if d.Known() {
				out[i] = known(d.Value * r[i])
			} else if r[i] == 1 {
				out[i] = d
			}
		}
	}
	c.set(0, dt, out)
}

func (c *inferCtx) pad() {
	dt := c.dtype(0)
	s, ok := c.shape(0)
	if !ok {
		c.setRankOnly(0, dt)
		return
	}
	var pads []int64
	pok := false
	if c.opset < 11 {
		pads, pok = c.attrs().Ints("pads", nil), true
	} else {
		pads, pok = c.constInts(1)
	}
	if !pok || c.has(3) && c.opset >= 18 {
		c.set(0, dt, unknownShape(len(s)))
		return
	}
	if len(pads) != 2*len(s) {
		c.set(0, dt, unknownShape(len(s)))
		return
	}
	out := make(ir.Shape, len(s))
	for i, d := range s {
		p := pads[i] + pads[i+len(s)]
		switch {
		case d.Known():
			out[i] = known(d.Value + p)
		case p == 0:
			out[i] = d
		default:
			out[i] = unknownDim
		}
	}
	c.set(0, dt, out)
}

func (c *inferCtx) rnn() {
	dt := c.dtype(0)
	x, ok := c.shape(0)
	a := c.attrs()
	hidden := known(a.Int("hidden_size", 0))
	if !a.Has("hidden_size") {
		hidden = unknownDim
	}
	dirs := int64(1)
	if a.String("direction", "forward") == "bidirectional" {
		dirs = 2
	}
	if !ok || len(x) != 3 {
		for i := range c.n.Outputs {
			c.setRankOnly(i, dt)
		}
		return
	}
	seq, batch := x[0], x[1]
	if a.Int("layout", 0) != 0 {
		seq, batch = x[1], x[0]
	}
	y := ir.Shape{seq, known(dirs), batch, hidden}
	h := ir.Shape{known(dirs), batch, hidden}
	if a.Int("layout", 0) != 0 {
		y = ir.Shape{batch, seq, known(dirs), hidden}
		h = ir.Shape{batch, known(dirs), hidden}
	}
	c.set(0, dt, y)
	for i := 1; i < len(c.n.Outputs); i++ {
		c.set(i, dt, h)
	}
}

// runInferd types the fused ops of DomainInferd (see FUSED_OPS.md).
func (c *inferCtx) runInferd() {
	switch c.n.OpType {
	case "FusedConv":
		c.conv("Conv")
	case "FusedGemm":
		c.gemm()
	case "FusedMatMul":
		c.matmul(c.dtype(0))
	case "Attention":
		q, ok := c.shape(0)
		v, vok := c.shape(2)
		if ok && vok && len(q) > 0 && len(v) > 0 {
			out := append(ir.Shape{}, q...)
			out[len(out)-1] = v[len(v)-1]
			c.set(0, c.dtype(0), out)
		} else {
			c.setRankOnly(0, c.dtype(0))
		}
	case "SkipLayerNormalization", "BiasGelu", "Gelu", "LayerNormalization":
		s, _ := c.shape(0)
		c.set(0, c.dtype(0), s)
		if c.n.OpType == "SkipLayerNormalization" && len(c.n.Outputs) > 1 {
			c.set(1, c.dtype(0), s)
		}
	default:
		c.inferQLinear()
	}
}

// shapeOfElems reads tracked element values as a shape.
func shapeOfElems(v []elem) ir.Shape {
	s := make(ir.Shape, len(v))
	for i, e := range v {
		s[i] = e.dim()
	}
	return s
}
