package ir

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/tensor"
)

// nodeCtx is what an inference function sees of one node: its inputs'
// values, attributes and opset, and the outputs it fills in.
type nodeCtx struct {
	r     *inferer
	n     *Node
	sc    *scope
	opset int64
	attrs *AttrReader
	// in has one entry per node input, nil for an omitted one.
	in []*value
	// out has one entry per node output; nil entries end up unknown.
	out []*value
}

// errorf reports a problem with the node.
func (c *nodeCtx) errorf(format string, args ...any) {
	c.r.report(&Error{Graph: c.sc.graph, Node: c.n, Msg: fmt.Sprintf(format, args...)})
}

// has reports whether input i is given.
func (c *nodeCtx) has(i int) bool { return i < len(c.in) && c.in[i] != nil }

// typ returns input i's type, unknown if absent.
func (c *nodeCtx) typ(i int) Type {
	if !c.has(i) {
		return Type{}
	}
	return c.in[i].typ
}

// dtype returns input i's element type, Undefined if unknown.
func (c *nodeCtx) dtype(i int) tensor.DType {
	t := c.typ(i)
	if t.Kind == TensorKind || t.Kind == SparseTensorKind {
		return t.DType
	}
	return tensor.Undefined
}

// shape returns input i's shape, nil if its rank is unknown.
func (c *nodeCtx) shape(i int) Shape {
	t := c.typ(i)
	if t.Kind == TensorKind || t.Kind == SparseTensorKind {
		return t.Shape
	}
	return nil
}

// desc describes input i for messages: `input "X" float32[2,3]`.
func (c *nodeCtx) desc(i int) string {
	return fmt.Sprintf("input %q %v", c.n.Input(i), c.typ(i))
}

// ints returns the elements of input i if it is a known integer tensor.
func (c *nodeCtx) ints(i int) ([]int64, bool) {
	if !c.has(i) {
		return nil, false
	}
	v := c.in[i]
	if v.t != nil {
		return tensorInts(v.t)
	}
	if v.data == nil {
		return nil, false
	}
	out := make([]int64, len(v.data))
	for j, e := range v.data {
		if !e.known {
			return nil, false
		}
		out[j] = e.v
	}
	return out, true
}

// elts returns the elements of integer input i of rank ≤ 1, some perhaps
// symbolic or unknown.
func (c *nodeCtx) elts(i int) ([]elt, bool) {
	if !c.has(i) {
		return nil, false
	}
	return valueElts(c.in[i])
}

func valueElts(v *value) ([]elt, bool) {
	if v.data != nil {
		return v.data, true
	}
	if v.t != nil && len(v.t.Shape) <= 1 && v.t.Len() <= maxDataLen {
		if xs, ok := tensorInts(v.t); ok {
			out := make([]elt, len(xs))
			for j, x := range xs {
				out[j] = knownElt(x)
			}
			return out, true
		}
	}
	return nil, false
}

// floats returns the elements of input i if it is a known tensor of
// numbers.
func (c *nodeCtx) floats(i int) ([]float64, bool) {
	if !c.has(i) || c.in[i].t == nil {
		if xs, ok := c.ints(i); ok {
			out := make([]float64, len(xs))
			for j, x := range xs {
				out[j] = float64(x)
			}
			return out, true
		}
		return nil, false
	}
	return tensorFloats(c.in[i].t)
}

// scalarInt returns input i's single integer element.
func (c *nodeCtx) scalarInt(i int) (int64, bool) {
	xs, ok := c.ints(i)
	if !ok || len(xs) != 1 {
		return 0, false
	}
	return xs[0], true
}

// set gives output i type t, and returns its value for the caller to
// add what else is known. Setting an output the node does not have is a
// no-op on a value nobody sees.
func (c *nodeCtx) set(i int, t Type) *value {
	v := &value{typ: t}
	if i < len(c.out) {
		c.out[i] = v
	}
	return v
}

// setTensor gives output i a tensor type.
func (c *nodeCtx) setTensor(i int, dt tensor.DType, s Shape) *value {
	return c.set(i, TensorType(dt, s))
}

// setData gives output i a tensor type and known elements.
func (c *nodeCtx) setData(i int, dt tensor.DType, s Shape, data []elt) {
	if v := c.setTensor(i, dt, s); data != nil && dimsLen(s) == len(data) {
		v.data = data
	}
}

// dimsLen returns the element count of a static shape of rank ≤ 1, or -1.
func dimsLen(s Shape) int {
	switch {
	case s == nil || len(s) > 1:
		return -1
	case len(s) == 0:
		return 1
	case s[0].Known():
		return int(s[0].Value)
	}
	return -1
}

// axis normalises the attribute or argument axis of an input of rank r
// (axis may be in [-r, r)), reporting an error if it is out of range.
func (c *nodeCtx) axis(name string, axis int64, r int) (int, bool) {
	if axis < -int64(r) || axis >= int64(r) {
		c.errorf("%s %d is out of range for rank %d", name, axis, r)
		return 0, false
	}
	if axis < 0 {
		axis += int64(r)
	}
	return int(axis), true
}

// tensorInts returns an integer tensor's elements.
func tensorInts(t *tensor.Tensor) ([]int64, bool) {
	conv := func(n int, at func(int) int64) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = at(i)
		}
		return out
	}
	switch d := t.Data.(type) {
	case []int64:
		return append([]int64(nil), d...), true
	case []int32:
		return conv(len(d), func(i int) int64 { return int64(d[i]) }), true
	case []int16:
		return conv(len(d), func(i int) int64 { return int64(d[i]) }), true
	case []int8:
		return conv(len(d), func(i int) int64 { return int64(d[i]) }), true
	case []uint8:
		return conv(len(d), func(i int) int64 { return int64(d[i]) }), true
	case []uint16:
		return conv(len(d), func(i int) int64 { return int64(d[i]) }), true
	case []uint32:
		return conv(len(d), func(i int) int64 { return int64(d[i]) }), true
	case []uint64:
		return conv(len(d), func(i int) int64 { return int64(d[i]) }), true
	case []bool:
		return conv(len(d), func(i int) int64 {
			if d[i] {
				return 1
			}
			return 0
		}), true
	}
	return nil, false
}

// tensorFloats returns a numeric tensor's elements as float64.
func tensorFloats(t *tensor.Tensor) ([]float64, bool) {
	switch d := t.Data.(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out, true
	case []float64:
		return append([]float64(nil), d...), true
	case []tensor.F16:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x.Float32())
		}
		return out, true
	case []tensor.BF16:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x.Float32())
		}
		return out, true
	}
	xs, ok := tensorInts(t)
	if !ok {
		return nil, false
	}
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out, true
}

// Dimensions.

// unknownDim is a dimension nothing is known of.
var unknownDim = Dim{Value: -1}

func dimOf(v int64) Dim { return Dim{Value: v} }

// unknownShape returns a shape of rank r with every dimension unknown.
func unknownShape(r int) Shape {
	s := make(Shape, r)
	for i := range s {
		s[i] = unknownDim
	}
	return s
}

// identicalDim reports whether a and b say the same: the same size, the
// same symbol, or both unknown.
func identicalDim(a, b Dim) bool {
	switch {
	case a.Known() || b.Known():
		return a.Known() && b.Known() && a.Value == b.Value
	case a.Param != "" || b.Param != "":
		return a.Param == b.Param
	}
	return true
}

// sameDim reports whether a and b are certainly equal.
func sameDim(a, b Dim) bool {
	if a.Known() {
		return b.Known() && a.Value == b.Value
	}
	return a.Param != "" && a.Param == b.Param
}

// conflict reports whether a and b are certainly different.
func conflict(a, b Dim) bool { return a.Known() && b.Known() && a.Value != b.Value }

// unify returns the dimension two dimensions known to be equal have: the
// known or symbolic one.
func unify(a, b Dim) Dim {
	switch {
	case a.Known():
		return a
	case b.Known():
		return b
	case a.Param != "":
		return a
	}
	return b
}

// broadcastDim combines dimensions under numpy broadcasting, as ONNX's
// shape inference does: a size above 1 wins (two different ones
// conflict); all 1 gives 1; otherwise one symbol (besides 1s) is kept,
// and anything else is unknown.
func broadcastDim(ds ...Dim) (Dim, bool) {
	var big Dim
	haveBig := false
	var sym Dim
	nsym, nunknown := 0, 0
	for _, d := range ds {
		switch {
		case d.Known() && d.Value == 1:
		case d.Known():
			if haveBig && big.Value != d.Value {
				return unknownDim, false
			}
			big, haveBig = d, true
		case d.Param != "":
			if nsym == 0 || sym.Param != d.Param {
				nsym++
			}
			sym = d
		default:
			nunknown++
		}
	}
	switch {
	case haveBig:
		return big, true
	case nsym == 1 && nunknown == 0:
		return sym, true
	case nsym == 0 && nunknown == 0:
		return dimOf(1), true
	}
	return unknownDim, true
}

// broadcastShapes applies numpy broadcasting to shapes. It returns nil
// (unknown rank) if any rank is unknown, and an error naming the first
// conflicting axis.
func broadcastShapes(shapes ...Shape) (Shape, error) {
	r := 0
	for _, s := range shapes {
		if s == nil {
			return nil, nil
		}
		r = max(r, len(s))
	}
	out := make(Shape, r)
	ds := make([]Dim, 0, len(shapes))
	for i := range out {
		ds = ds[:0]
		for _, s := range shapes {
			if j := i - (r - len(s)); j >= 0 {
				ds = append(ds, s[j])
			}
		}
		d, ok := broadcastDim(ds...)
		if !ok {
			return nil, fmt.Errorf("dimension %d (from the right) is %v", r-i, dimList(ds))
		}
		out[i] = d
	}
	return out, nil
}

func dimList(ds []Dim) string {
	s := ""
	for i, d := range ds {
		if i > 0 {
			s += " vs "
		}
		s += d.String()
	}
	return s
}

// dimProduct multiplies dimensions: known if all are known (or one is 0),
// a symbol if it is the only factor besides 1s, else unknown.
func dimProduct(ds []Dim) Dim {
	p := int64(1)
	var sym Dim
	nsym, nunknown := 0, 0
	for _, d := range ds {
		switch {
		case d.Known():
			if d.Value == 0 {
				return dimOf(0)
			}
			p = mulClamp(p, d.Value)
		case d.Param != "":
			nsym++
			sym = d
		default:
			nunknown++
		}
	}
	switch {
	case nsym == 0 && nunknown == 0:
		return dimOf(p)
	case nsym == 1 && nunknown == 0 && p == 1:
		return sym
	}
	return unknownDim
}

func mulClamp(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// elt is one element of an integer shape value (see value.data): a
// known integer, which may be negative, a symbolic size, or unknown.
type elt struct {
	known bool
	v     int64
	param string
}

func knownElt(v int64) elt { return elt{known: true, v: v} }

var unknownElt = elt{}

// eltOf returns the element holding dimension d.
func eltOf(d Dim) elt {
	switch {
	case d.Known():
		return knownElt(d.Value)
	case d.Param != "":
		return elt{param: d.Param}
	}
	return unknownElt
}

// dim returns e as a dimension; a negative element is unknown.
func (e elt) dim() Dim {
	switch {
	case e.known && e.v >= 0:
		return dimOf(e.v)
	case !e.known && e.param != "":
		return Dim{Value: -1, Param: e.param}
	}
	return unknownDim
}

func (e elt) is(v int64) bool { return e.known && e.v == v }

// same reports whether a and b are certainly equal.
func (e elt) same(b elt) bool {
	if e.known || b.known {
		return e.known && b.known && e.v == b.v
	}
	return e.param != "" && e.param == b.param
}

func eltsOf(s Shape) []elt {
	out := make([]elt, len(s))
	for i, d := range s {
		out[i] = eltOf(d)
	}
	return out
}

// eltAdd, eltSub, eltMul and eltDiv are arithmetic on elements, exact on
// known ones and keeping a symbol only where the other operand is
// neutral. eltDiv truncates, as integer Div does.
func eltAdd(a, b elt) elt {
	switch {
	case a.known && b.known:
		return knownElt(a.v + b.v)
	case b.is(0):
		return a
	case a.is(0):
		return b
	}
	return unknownElt
}

func eltSub(a, b elt) elt {
	switch {
	case a.known && b.known:
		return knownElt(a.v - b.v)
	case b.is(0):
		return a
	case a.same(b):
		return knownElt(0)
	}
	return unknownElt
}

func eltMul(a, b elt) elt {
	switch {
	case a.known && b.known:
		return knownElt(a.v * b.v)
	case b.is(1):
		return a
	case a.is(1):
		return b
	case a.is(0), b.is(0):
		return knownElt(0)
	}
	return unknownElt
}

func eltDiv(a, b elt) elt {
	switch {
	case a.known && b.known && b.v != 0:
		return knownElt(a.v / b.v)
	case b.is(1):
		return a
	case a.same(b) && a.param != "":
		return knownElt(1)
	}
	return unknownElt
}

// dimAdd adds two dimensions.
func dimAdd(a, b Dim) Dim { return eltAdd(eltOf(a), eltOf(b)).dim() }

// ceilDiv returns ⌈a/b⌉ for b > 0.
func ceilDiv(a, b int64) int64 {
	if a >= 0 {
		return (a + b - 1) / b
	}
	return -((-a) / b)
}

// floorDiv returns ⌊a/b⌋ for b > 0.
func floorDiv(a, b int64) int64 {
	if a >= 0 {
		return a / b
	}
	return -((-a + b - 1) / b)
}

// copyShape returns a copy of s (nil stays nil).
func copyShape(s Shape) Shape {
	if s == nil {
		return nil
	}
	return append(Shape{}, s...)
}
