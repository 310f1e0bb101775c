package ir

import "github.com/inferd/inferd/tensor"

// Shape functions of elementwise operators: unary maps, broadcasting
// binary and variadic operators, comparisons, Where and casts.

func init() {
	registerInfer(DomainONNX, inferUnary,
		"Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh",
		"Erf", "Exp", "Floor", "Log", "Reciprocal", "Relu", "Round", "Sigmoid",
		"Sign", "Sin", "Sinh", "Softplus", "Softsign", "Sqrt", "Tan", "Tanh", "Elu", "Selu",
		"Celu", "LeakyRelu", "HardSigmoid", "HardSwish", "ThresholdedRelu", "Shrink", "Mish",
		"Gelu", "Clip", "BitwiseNot", "Not", "LRN", "MeanVarianceNormalization",
		"LpNormalization", "CumSum", "CumProd", "Trilu", "ReverseSequence", "Scatter",
		"ScatterElements", "ScatterND", "InstanceNormalization")
	registerInfer(DomainONNX, inferNeg, "Neg")
	registerInfer(DomainONNX, inferSoftmax, "Softmax", "LogSoftmax", "Hardmax")
	registerInfer(DomainONNX, inferIdentity, "Identity")
	registerInfer(DomainONNX, inferBinary(false, eltAdd), "Add")
	registerInfer(DomainONNX, inferBinary(false, eltSub), "Sub")
	registerInfer(DomainONNX, inferBinary(false, eltMul), "Mul")
	registerInfer(DomainONNX, inferBinary(false, eltDiv), "Div")
	registerInfer(DomainONNX, inferBinary(false, nil),
		"Mod", "BitShift", "And", "Or", "Xor", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
		"Max", "Min", "Sum", "Mean")
	registerInfer(DomainONNX, inferPow, "Pow")
	registerInfer(DomainONNX, inferBinary(true, eltEqual), "Equal")
	registerInfer(DomainONNX, inferBinary(true, nil), "Less", "Greater", "LessOrEqual", "GreaterOrEqual")
	registerInfer(DomainONNX, inferPRelu, "PRelu")
	registerInfer(DomainONNX, inferWhere, "Where")
	registerInfer(DomainONNX, inferCast, "Cast", "CastLike")
	registerInfer(DomainONNX, inferBoolLike, "IsNaN", "IsInf")
	registerInfer(DomainONNX, inferDropout, "Dropout")
}

// inferUnary: output 0 has input 0's type.
func inferUnary(c *nodeCtx) { passType(c) }

// passType gives output 0 input 0's type (without its value) and returns
// the output's value.
func passType(c *nodeCtx) *value {
	t := c.typ(0)
	return c.set(0, Type{Kind: t.Kind, DType: t.DType, Shape: copyShape(t.Shape), Elem: t.Elem, KeyType: t.KeyType})
}

func inferNeg(c *nodeCtx) {
	v := passType(c)
	if d, ok := c.elts(0); ok && dimsLen(c.shape(0)) == len(d) {
		out := make([]elt, len(d))
		for i, x := range d {
			out[i] = eltSub(knownElt(0), x)
		}
		v.data = out
	}
}

// inferIdentity passes input 0 through, constant value included.
func inferIdentity(c *nodeCtx) {
	if c.has(0) && len(c.out) > 0 {
		c.out[0] = c.in[0]
	}
}

func inferSoftmax(c *nodeCtx) {
	inferUnary(c)
	def := int64(1)
	if c.opset >= 13 {
		def = -1
	}
	if s := c.shape(0); s != nil {
		c.axis("axis", c.attrs.Int("axis", def), max(len(s), 1))
	}
}

func inferBoolLike(c *nodeCtx) {
	if c.has(0) {
		c.setTensor(0, tensor.Bool, copyShape(c.shape(0)))
	}
}

func inferDropout(c *nodeCtx) {
	inferUnary(c)
	mask := tensor.Bool
	if c.opset < 10 {
		mask = c.dtype(0)
	}
	if len(c.out) > 1 && c.has(0) {
		c.setTensor(1, mask, copyShape(c.shape(0)))
	}
}

// sameElemTypes reports an error if two given inputs have different known
// element types, and returns the element type they share.
func (c *nodeCtx) sameElemTypes(idx ...int) tensor.DType {
	dt := tensor.Undefined
	first := -1
	for _, i := range idx {
		d := c.dtype(i)
		if d == tensor.Undefined {
			continue
		}
		if dt == tensor.Undefined {
			dt, first = d, i
			continue
		}
		if d != dt {
			c.errorf("element types differ: %s is %v but %s is %v", c.desc(first), dt, c.desc(i), d)
			break
		}
	}
	return dt
}

// broadcastInputs broadcasts the shapes of the given inputs, reporting a
// conflict as an error naming them.
func (c *nodeCtx) broadcastInputs(idx ...int) Shape {
	shapes := make([]Shape, 0, len(idx))
	for _, i := range idx {
		if !c.has(i) {
			continue
		}
		shapes = append(shapes, c.shape(i))
	}
	s, err := broadcastShapes(shapes...)
	if err != nil {
		msg := ""
		for k, i := range idx {
			if k > 0 {
				msg += " with "
			}
			msg += c.desc(i)
		}
		c.errorf("cannot broadcast %s: %v", msg, err)
		return nil
	}
	return s
}

func allInputs(c *nodeCtx) []int {
	idx := make([]int, 0, len(c.in))
	for i := range c.in {
		if c.has(i) {
			idx = append(idx, i)
		}
	}
	return idx
}

// inferBinary handles broadcasting n-ary operators whose inputs share an
// element type; cmp makes the output bool. elem, if not nil, computes the
// elements of integer shape values (Shape arithmetic) from the inputs'.
func inferBinary(cmp bool, elem func(a, b elt) elt) inferFunc {
	return func(c *nodeCtx) {
		idx := allInputs(c)
		dt := c.sameElemTypes(idx...)
		if cmp {
			dt = tensor.Bool
		}
		var s Shape
		if c.opset < 7 && c.attrs.Int("broadcast", 0) != 0 {
			// Legacy broadcasting: B is broadcast to A's shape.
			s = copyShape(c.shape(0))
		} else {
			s = c.broadcastInputs(idx...)
		}
		if len(idx) == 0 {
			return
		}
		v := c.setTensor(0, dt, s)
		if elem != nil && len(idx) == 2 {
			v.data = elementwiseData(c, idx[0], idx[1], s, elem)
		}
	}
}

// elementwiseData computes an elementwise result's elements from two
// inputs with known elements, when the result has rank ≤ 1.
func elementwiseData(c *nodeCtx, i, j int, s Shape, f func(a, b elt) elt) []elt {
	n := dimsLen(s)
	if n < 0 {
		return nil
	}
	a, ok1 := c.elts(i)
	b, ok2 := c.elts(j)
	if !ok1 || !ok2 {
		return nil
	}
	at := func(d []elt, k int) (elt, bool) {
		switch len(d) {
		case n:
			return d[k], true
		case 1:
			return d[0], true
		}
		return elt{}, false
	}
	out := make([]elt, n)
	for k := range out {
		x, ok1 := at(a, k)
		y, ok2 := at(b, k)
		if !ok1 || !ok2 {
			return nil
		}
		out[k] = f(x, y)
	}
	return out
}

// eltEqual compares two elements of shape values, giving 1 or 0. A
// symbolic size is never negative, so it differs from any negative
// constant.
func eltEqual(a, b elt) elt {
	switch {
	case a.known && b.known:
		if a.v == b.v {
			return knownElt(1)
		}
		return knownElt(0)
	case a.param != "" && b.known && b.v < 0, b.param != "" && a.known && a.v < 0:
		return knownElt(0)
	case a.same(b):
		return knownElt(1)
	}
	return unknownElt
}

func inferPow(c *nodeCtx) {
	s := c.broadcastInputs(0, 1)
	if c.has(0) {
		c.setTensor(0, c.dtype(0), s)
	}
}

// inferPRelu: the slope broadcasts to X, whose shape the output keeps.
func inferPRelu(c *nodeCtx) {
	dt := c.sameElemTypes(0, 1)
	if c.opset < 7 {
		// Before opset 7 the slope runs along the channel axis.
		c.setTensor(0, dt, copyShape(c.shape(0)))
		return
	}
	s := c.broadcastInputs(0, 1)
	if x := c.shape(0); x != nil && s != nil && len(s) != len(x) {
		c.errorf("slope %s does not broadcast to %s", c.desc(1), c.desc(0))
	}
	if x := c.shape(0); x != nil {
		s = copyShape(x)
	}
	c.setTensor(0, dt, s)
}

func inferWhere(c *nodeCtx) {
	if dt := c.dtype(0); dt != tensor.Undefined && dt != tensor.Bool {
		c.errorf("condition %s is not bool", c.desc(0))
	}
	dt := c.sameElemTypes(1, 2)
	s := c.broadcastInputs(0, 1, 2)
	v := c.setTensor(0, dt, s)
	n := dimsLen(s)
	cond, ok0 := c.elts(0)
	x, ok1 := c.elts(1)
	y, ok2 := c.elts(2)
	if n < 0 || !ok0 || !ok1 || !ok2 {
		return
	}
	out := make([]elt, n)
	for k := range out {
		pick := func(d []elt) (elt, bool) {
			if len(d) == 1 {
				return d[0], true
			}
			if len(d) == n {
				return d[k], true
			}
			return elt{}, false
		}
		cd, ok0 := pick(cond)
		xd, ok1 := pick(x)
		yd, ok2 := pick(y)
		if !ok0 || !ok1 || !ok2 {
			return
		}
		switch {
		case !cd.known:
			out[k] = unknownElt
		case cd.v != 0:
			out[k] = xd
		default:
			out[k] = yd
		}
	}
	v.data = out
}

func inferCast(c *nodeCtx) {
	var dt tensor.DType
	if c.n.OpType == "CastLike" {
		dt = c.dtype(1)
	} else {
		dt = tensor.DType(c.attrs.Int("to", 0))
		if a := c.n.Attr("to"); a != nil && a.Type == AttrString {
			// Opset 1 spells the type as a string ("FLOAT").
			dt = dtypeByONNXName(string(a.S))
		}
	}
	if !c.has(0) {
		return
	}
	v := c.setTensor(0, dt, copyShape(c.shape(0)))
	if d, ok := c.elts(0); ok && (dt.IsInt() || dt == tensor.Undefined) && (c.dtype(0).IsInt() || c.dtype(0) == tensor.Bool) {
		v.data = d
	}
}

func dtypeByONNXName(s string) tensor.DType {
	names := map[string]tensor.DType{
		"FLOAT": tensor.Float32, "UINT8": tensor.Uint8, "INT8": tensor.Int8, "UINT16": tensor.Uint16,
		"INT16": tensor.Int16, "INT32": tensor.Int32, "INT64": tensor.Int64, "STRING": tensor.String,
		"BOOL": tensor.Bool, "FLOAT16": tensor.Float16, "DOUBLE": tensor.Float64, "UINT32": tensor.Uint32,
		"UINT64": tensor.Uint64, "COMPLEX64": tensor.Complex64, "COMPLEX128": tensor.Complex128,
		"BFLOAT16": tensor.BFloat16,
	}
	return names[s]
}
