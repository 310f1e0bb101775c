package optimize

import (
	"math"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// QDQ lowering. A statically quantized model in QDQ form computes every
// heavy op in float between DequantizeLinear and QuantizeLinear nodes:
//
//	DequantizeLinear(x_q) ┐
//	DequantizeLinear(w_q) ├ Conv → [Relu] → QuantizeLinear
//	DequantizeLinear(b_q) ┘
//
// The rules below compile such groups into operators that compute on the
// integers (8-bit GEMMs, requantization and activation in the epilogue),
// the way ONNX Runtime's QDQ transformers do, so that no heavy op
// dequantizes its operands to float32:
//
//   - qdq-conv:   Conv → QLinearConv (ai.inferd.QLinearConv with a fused
//     activation)
//   - qdq-matmul: MatMul/Gemm → QLinearMatMul (ai.inferd.QLinearMatMul with
//     an int32 bias or an activation), or, when the product stays float,
//     com.microsoft.MatMulIntegerToFloat
//   - qdq-dynamic-matmul: dynamic quantization's MatMulInteger → Cast → Mul
//     [→ Add(bias)] → com.microsoft.MatMulIntegerToFloat
//   - qdq-add:    Add → ai.inferd.QLinearAdd (with a fused activation)
//   - qdq-pool:   GlobalAveragePool → ai.inferd.QLinearGlobalAveragePool
//   - qdq-move:   ops that move values without arithmetic (MaxPool,
//     Reshape, Flatten, Transpose …) run on the integers when the
//     QuantizeLinear after them has the DequantizeLinear's parameters.
//
// Each rule declines unless every scale and zero point it reads is a
// constant of the expected type and shape: per-tensor activations (one
// positive float32 scale, one 8-bit zero point), weights per tensor or per
// output channel along the right axis, biases int32 at x_scale·w_scale
// (requantized when their scale differs) or float32. The activation after
// the op, Relu or Clip, is absorbed whether it sits between the op and its
// QuantizeLinear or between a QuantizeLinear→DequantizeLinear pair and a
// second QuantizeLinear with the same parameters (the form `inferd
// quantize` writes): both quantize activation(y) with one set of
// parameters. The DequantizeLinear nodes left without readers go with
// eliminate-dead.

// qParams are per-tensor quantization parameters: the input names of a
// QuantizeLinear or DequantizeLinear node and their values.
type qParams struct {
	scale, zero string
	s           float32
	z           int32
	dt          tensor.DType // Int8 or Uint8
}

// same reports whether p and o quantize identically.
func (p qParams) same(o qParams) bool {
	return math.Float32bits(p.s) == math.Float32bits(o.s) && p.z == o.z && p.dt == o.dt
}

// qPerTensor reads the parameters of QuantizeLinear or DequantizeLinear n
// if they are one constant positive float32 scale and one constant 8-bit
// zero point.
func qPerTensor(g *Graph, n *ir.Node) (qParams, bool) {
	a := ir.Attrs(n)
	block := a.Int("block_size", 0)
	outDT := a.Int("output_dtype", 0)
	if a.Err() != nil || block != 0 || n.Input(2) == "" {
		return qParams{}, false
	}
	st, zt := g.Const(n.Input(1)), g.Const(n.Input(2))
	if st == nil || zt == nil || st.DType != tensor.Float32 || st.Len() != 1 || zt.Len() != 1 {
		return qParams{}, false
	}
	s := st.Data.([]float32)[0]
	if !(s > 0) || math.IsInf(float64(s), 1) {
		return qParams{}, false
	}
	p := qParams{scale: n.Input(1), zero: n.Input(2), s: s, dt: zt.DType}
	switch v := zt.Data.(type) {
	case []int8:
		p.z = int32(v[0])
	case []uint8:
		p.z = int32(v[0])
	default:
		return qParams{}, false
	}
	if outDT != 0 && tensor.DType(outDT) != zt.DType {
		return qParams{}, false
	}
	return p, true
}

// dqInput returns the DequantizeLinear node computing name and its
// parameters, if they are per tensor.
func dqInput(g *Graph, name string) (*ir.Node, qParams, bool) {
	d := g.Producer(name)
	if !isOnnx(d, "DequantizeLinear") || len(d.Outputs) != 1 {
		return nil, qParams{}, false
	}
	p, ok := qPerTensor(g, d)
	return d, p, ok
}

// quantizeOf returns q's parameters if q is a per-tensor QuantizeLinear
// of v.
func quantizeOf(g *Graph, q *ir.Node, v string) (qParams, bool) {
	if !isOnnx(q, "QuantizeLinear") || q.Input(0) != v || len(q.Outputs) != 1 || !g.SingleUse(v, q) {
		return qParams{}, false
	}
	return qPerTensor(g, q)
}

// qOut is where a float result returns to the integers: its parameters,
// the activation applied before, the nodes a rewrite absorbs (in order)
// and the last of them, whose output the rewrite computes.
type qOut struct {
	p      qParams
	act    string // "", "Relu" or "Clip"
	lo, hi float32
	nodes  []*ir.Node
	last   *ir.Node
}

func (o qOut) attrs() []*ir.Attribute {
	switch o.act {
	case "":
		return nil
	case "Clip":
		return []*ir.Attribute{attrString("activation", "Clip"), attrFloats("activation_params", o.lo, o.hi)}
	}
	return []*ir.Attribute{attrString("activation", o.act)}
}

// quantizedOutput matches the nodes that quantize v, the only output of
// the node being rewritten:
//
//	v → QuantizeLinear
//	v → Relu|Clip → QuantizeLinear
//	v → QuantizeLinear → DequantizeLinear → Relu|Clip → QuantizeLinear (one set of parameters)
func quantizedOutput(g *Graph, v string) (qOut, bool) {
	c := g.SoleConsumer(v)
	if c == nil || c.Input(0) != v || len(c.Outputs) != 1 {
		return qOut{}, false
	}
	if name, lo, hi, ok := qActivation(g, c); ok && g.SingleUse(v, c) {
		q := g.SoleConsumer(c.Outputs[0])
		p, ok := quantizeOf(g, q, c.Outputs[0])
		if !ok {
			return qOut{}, false
		}
		return qOut{p: p, act: name, lo: lo, hi: hi, nodes: []*ir.Node{c, q}, last: q}, true
	}
	p, ok := quantizeOf(g, c, v)
	if !ok {
		return qOut{}, false
	}
	o := qOut{p: p, nodes: []*ir.Node{c}, last: c}
	d := g.SoleConsumer(c.Outputs[0])
	if !isOnnx(d, "DequantizeLinear") || d.Input(0) != c.Outputs[0] || len(d.Outputs) != 1 || !g.SingleUse(c.Outputs[0], d) {
		return o, true
	}
	if pd, ok := qPerTensor(g, d); !ok || !pd.same(p) {
		return o, true
	}
	a := g.SoleConsumer(d.Outputs[0])
	if a == nil || a.Input(0) != d.Outputs[0] || len(a.Outputs) != 1 || !g.SingleUse(d.Outputs[0], a) {
		return o, true
	}
	name, lo, hi, ok := qActivation(g, a)
	if !ok {
		return o, true
	}
	q2 := g.SoleConsumer(a.Outputs[0])
	if p2, ok := quantizeOf(g, q2, a.Outputs[0]); !ok || !p2.same(p) {
		return o, true
	}
	o.act, o.lo, o.hi = name, lo, hi
	o.nodes = append(o.nodes, d, a, q2)
	o.last = q2
	return o, true
}

// qActivation reports whether n is a Relu, or a Clip with constant bounds,
// on float32 values.
func qActivation(g *Graph, n *ir.Node) (name string, lo, hi float32, ok bool) {
	switch {
	case isOnnx(n, "Relu"):
		return "Relu", 0, 0, true
	case isOnnx(n, "Clip"):
		lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
		if g.Opset("") < 11 {
			a := ir.Attrs(n)
			lo, hi = a.Float("min", -math.MaxFloat32), a.Float("max", math.MaxFloat32)
			if a.Err() != nil {
				return "", 0, 0, false
			}
		} else {
			for i, p := range []*float32{&lo, &hi} {
				if in := n.Input(1 + i); in != "" {
					t := g.Const(in)
					if t == nil || t.DType != tensor.Float32 || t.Len() != 1 {
						return "", 0, 0, false
					}
					*p = t.Data.([]float32)[0]
				}
			}
		}
		if !(lo <= hi) {
			return "", 0, 0, false
		}
		return "Clip", lo, hi, true
	}
	return "", 0, 0, false
}

// qWeight is a constant 8-bit weight behind a DequantizeLinear, with
// scales and zero points per tensor or along one axis.
type qWeight struct {
	q, scale, zero string // input names (zero may be a new initializer)
	t              *tensor.Tensor
	scales         []float32
	zeros          []int32
}

// dqWeight reads the weight name if it is DequantizeLinear of a constant
// 8-bit tensor of rank ≥ minRank whose scale and zero point are per
// tensor or per index of dimension axis (negative counts from the end).
func dqWeight(g *Graph, name string, minRank, axis int) (qWeight, bool) {
	d := g.Producer(name)
	if !isOnnx(d, "DequantizeLinear") || len(d.Outputs) != 1 {
		return qWeight{}, false
	}
	a := ir.Attrs(d)
	dqAxis, block := a.Int("axis", 1), a.Int("block_size", 0)
	if a.Err() != nil || block != 0 {
		return qWeight{}, false
	}
	t := g.Const(d.Input(0))
	if t == nil || (t.DType != tensor.Int8 && t.DType != tensor.Uint8) || t.Rank() < minRank {
		return qWeight{}, false
	}
	if axis < 0 {
		axis += t.Rank()
	}
	st := g.Const(d.Input(1))
	if st == nil || st.DType != tensor.Float32 || st.Rank() > 1 {
		return qWeight{}, false
	}
	w := qWeight{q: d.Input(0), scale: d.Input(1), t: t, scales: st.Data.([]float32)}
	if st.Rank() == 1 && st.Len() != 1 {
		da, ok := normAxis(dqAxis, t.Rank())
		if !ok || da != axis || st.Len() != t.Shape[axis] {
			return qWeight{}, false
		}
	}
	for _, s := range w.scales {
		if !(s > 0) || math.IsInf(float64(s), 1) {
			return qWeight{}, false
		}
	}
	if z := d.Input(2); z != "" {
		zt := g.Const(z)
		if zt == nil || zt.DType != t.DType || zt.Len() != st.Len() || zt.Rank() != st.Rank() {
			return qWeight{}, false
		}
		w.zero = z
		switch v := zt.Data.(type) {
		case []int8:
			for _, x := range v {
				w.zeros = append(w.zeros, int32(x))
			}
		case []uint8:
			for _, x := range v {
				w.zeros = append(w.zeros, int32(x))
			}
		}
	} else {
		w.zeros = make([]int32, st.Len())
	}
	return w, true
}

// zeroName returns the name of w's zero point, adding an initializer of
// zeros when the DequantizeLinear had none.
func (w *qWeight) zeroName(g *Graph) string {
	if w.zero == "" {
		z := tensor.New(w.t.DType, slices.Clone(g.Const(w.scale).Shape)...)
		w.zero = g.AddInitializer(w.q+"_zero_point", z)
	}
	return w.zero
}

// scaleAt returns the weight scale of output channel i.
func (w qWeight) scaleAt(i int) float32 { return w.scales[min(i, len(w.scales)-1)] }

// qBias returns the name of an int32 bias of m values at scale
// x_scale·w_scale[i] for the bias input name: a DequantizeLinear of a
// constant int32 vector (reused when its scales are exactly those, else
// requantized) or a constant float32 vector (quantized). "" is no bias.
func qBias(g *Graph, name string, sx float32, w qWeight, m int) (string, bool) {
	if name == "" {
		return "", true
	}
	out := make([]int32, m)
	round := func(v float64) int32 {
		return int32(min(math.MaxInt32, max(math.MinInt32, math.RoundToEven(v))))
	}
	if d := g.Producer(name); d != nil {
		if !isOnnx(d, "DequantizeLinear") || len(d.Outputs) != 1 {
			return "", false
		}
		a := ir.Attrs(d)
		axis, block := a.Int("axis", 1), a.Int("block_size", 0)
		bt, st := g.Const(d.Input(0)), g.Const(d.Input(1))
		if a.Err() != nil || block != 0 || bt == nil || st == nil || bt.DType != tensor.Int32 || bt.Rank() != 1 ||
			bt.Len() != m || st.DType != tensor.Float32 || st.Rank() > 1 || (st.Len() != 1 && st.Len() != m) {
			return "", false
		}
		if st.Len() != 1 {
			if ax, ok := normAxis(axis, 1); !ok || ax != 0 {
				return "", false
			}
		}
		if z := d.Input(2); z != "" {
			zt := g.Const(z)
			if zt == nil || zt.DType != tensor.Int32 {
				return "", false
			}
			for _, v := range zt.Data.([]int32) {
				if v != 0 {
					return "", false
				}
			}
		}
		bq, bs := bt.Data.([]int32), st.Data.([]float32)
		exact := true
		for i := range out {
			want, s := sx*w.scaleAt(i), bs[min(i, len(bs)-1)]
			if math.Float32bits(want) == math.Float32bits(s) {
				out[i] = bq[i]
				continue
			}
			exact = false
			out[i] = round(float64(bq[i]) * float64(s) / float64(want))
		}
		if exact {
			return d.Input(0), true
		}
	} else {
		bt := g.Const(name)
		if bt == nil || bt.DType != tensor.Float32 || bt.Rank() != 1 || bt.Len() != m {
			return "", false
		}
		for i, v := range bt.Data.([]float32) {
			out[i] = round(float64(v) / float64(sx*w.scaleAt(i)))
		}
	}
	return g.AddInitializer(name+"_int32", tensor.FromSlice(out, m)), true
}

// floatBias returns the name of a float32 vector of n values for the bias
// input name: a constant float32 vector, or the value of a
// DequantizeLinear of a constant (computed as the op does).
func floatBias(g *Graph, name string, n int) (string, bool) {
	if name == "" {
		return "", true
	}
	if t := g.Const(name); t != nil {
		return name, t.DType == tensor.Float32 && t.Rank() == 1 && t.Len() == n
	}
	d := g.Producer(name)
	if !isOnnx(d, "DequantizeLinear") || len(d.Outputs) != 1 {
		return "", false
	}
	a := ir.Attrs(d)
	axis, block := a.Int("axis", 1), a.Int("block_size", 0)
	bt, st := g.Const(d.Input(0)), g.Const(d.Input(1))
	if a.Err() != nil || block != 0 || bt == nil || st == nil || bt.Rank() != 1 || bt.Len() != n ||
		st.DType != tensor.Float32 || st.Rank() > 1 || (st.Len() != 1 && st.Len() != n) {
		return "", false
	}
	if st.Len() != 1 {
		if ax, ok := normAxis(axis, 1); !ok || ax != 0 {
			return "", false
		}
	}
	q, ok := numbersOf(bt)
	if !ok || !bt.DType.IsInt() {
		return "", false
	}
	var z []float64
	if zn := d.Input(2); zn != "" {
		zt := g.Const(zn)
		if zt == nil || zt.DType != bt.DType || zt.Len() != st.Len() {
			return "", false
		}
		z, _ = numbersOf(zt)
	}
	s := st.Data.([]float32)
	out := make([]float32, n)
	for i := range out {
		v := float32(q[i])
		if z != nil {
			v -= float32(z[min(i, len(z)-1)])
		}
		out[i] = v * s[min(i, len(s)-1)]
	}
	return g.AddInitializer(name+"_float", tensor.FromSlice(out, n)), true
}

// qReplace puts one node, op of domain, in place of first and the nodes
// after it that o absorbed; it computes the value of the last one's
// output (first's own when o absorbed nothing).
func qReplace(g *Graph, first *ir.Node, o qOut, domain, op string, inputs []string, attrs []*ir.Attribute) bool {
	for len(inputs) > 0 && inputs[len(inputs)-1] == "" {
		inputs = inputs[:len(inputs)-1]
	}
	last := o.last
	if last == nil {
		last = first
	}
	if domain == ir.DomainMicrosoft && g.Opset(ir.DomainMicrosoft) == 0 {
		m := g.Model()
		m.Opsets = append(m.Opsets, ir.OpsetImport{Domain: ir.DomainMicrosoft, Version: 1})
	}
	f := g.Add(last, domain, op, inputs, valueName(last.Outputs[0], op), attrs...)
	f.Name = g.NewName(first.Name + "_" + op)
	g.SetType(f.Outputs[0], g.Type(last.Outputs[0]))
	if !g.Forward(last.Outputs[0], f.Outputs[0]) {
		g.RemoveNode(f)
		return false
	}
	g.RemoveNode(first)
	for _, m := range o.nodes {
		g.RemoveNode(m)
	}
	return true
}

// hasDQInput is the rules' cheap first test: input i is computed by a
// DequantizeLinear.
func hasDQInput(g *Graph, n *ir.Node, i int) bool {
	return len(n.Outputs) >= 1 && isOnnx(g.Producer(n.Input(i)), "DequantizeLinear")
}

// ---- Conv ----

// qdqConv compiles DequantizeLinear → Conv → [activation] → QuantizeLinear
// into QLinearConv (ai.inferd.QLinearConv when there is an activation).
type qdqConv struct{}

func (qdqConv) Name() string      { return "qdq-conv" }
func (qdqConv) OpTypes() []string { return []string{"Conv"} }

func (qdqConv) Match(g *Graph, n *ir.Node) bool {
	return len(n.Outputs) == 1 && hasDQInput(g, n, 0) && hasDQInput(g, n, 1)
}

func (qdqConv) Apply(g *Graph, n *ir.Node) (bool, error) {
	dx, px, ok := dqInput(g, n.Input(0))
	if !ok {
		return false, nil
	}
	w, ok := dqWeight(g, n.Input(1), 3, 0)
	if !ok {
		return false, nil
	}
	if group := ir.Attrs(n).Int("group", 1); group > 1 && w.t.Shape[1] == 1 {
		// Depthwise: the 8-bit kernels run it as one tiny GEMM per
		// channel, slower than the float depthwise kernel between the
		// (fast) DequantizeLinear and QuantizeLinear.
		return false, nil
	}
	m := w.t.Shape[0]
	bias, ok := qBias(g, n.Input(2), px.s, w, m)
	if !ok {
		return false, nil
	}
	o, ok := quantizedOutput(g, n.Outputs[0])
	if !ok {
		return false, nil
	}
	inputs := []string{dx.Input(0), px.scale, px.zero, w.q, w.scale, w.zeroName(g), o.p.scale, o.p.zero, bias}
	attrs := append(slices.Clone(n.Attrs), o.attrs()...)
	domain := ""
	if o.act != "" {
		domain = ir.DomainInferd
	}
	return qReplace(g, n, o, domain, "QLinearConv", inputs, attrs), nil
}

// ---- MatMul and Gemm ----

// qdqMatMul compiles DequantizeLinear → MatMul|Gemm with a constant
// quantized weight: into QLinearMatMul (ai.inferd.QLinearMatMul with a
// bias or an activation) when a QuantizeLinear follows, into
// com.microsoft.MatMulIntegerToFloat when the product stays float.
type qdqMatMul struct{}

func (qdqMatMul) Name() string      { return "qdq-matmul" }
func (qdqMatMul) OpTypes() []string { return []string{"MatMul", "Gemm"} }

func (qdqMatMul) Match(g *Graph, n *ir.Node) bool {
	return len(n.Outputs) == 1 && hasDQInput(g, n, 0) && hasDQInput(g, n, 1)
}

func (qdqMatMul) Apply(g *Graph, n *ir.Node) (bool, error) {
	dx, px, ok := dqInput(g, n.Input(0))
	if !ok {
		return false, nil
	}
	transB, bias := false, ""
	if n.OpType == "Gemm" {
		a := ir.Attrs(n)
		alpha, beta := a.Float("alpha", 1), a.Float("beta", 1)
		transA, tb := a.Int("transA", 0), a.Int("transB", 0)
		if a.Err() != nil || alpha != 1 || transA != 0 || (n.Input(2) != "" && beta != 1) || g.Rank(n.Input(0)) != 2 {
			return false, nil
		}
		transB, bias = tb != 0, n.Input(2)
	}
	axis := 1
	if transB {
		axis = 0
	}
	w, ok := dqWeight(g, n.Input(1), 2, axis)
	if !ok || w.t.Rank() != 2 {
		return false, nil
	}
	nn := w.t.Shape[1]
	if transB {
		nn = w.t.Shape[0]
	}
	o, quantized := quantizedOutput(g, n.Outputs[0])
	var biasName string
	if quantized {
		biasName, ok = qBias(g, bias, px.s, w, nn)
	} else {
		biasName, ok = floatBias(g, bias, nn)
	}
	if !ok {
		return false, nil
	}
	wq := w.q
	if transB {
		wq = g.AddInitializer(w.q+"_transposed", transpose8(w.t))
	}
	if !quantized {
		inputs := []string{dx.Input(0), wq, px.scale, w.scale, px.zero, w.zeroName(g), biasName}
		return qReplace(g, n, qOut{}, ir.DomainMicrosoft, "MatMulIntegerToFloat", inputs, nil), nil
	}
	inputs := []string{dx.Input(0), px.scale, px.zero, wq, w.scale, w.zeroName(g), o.p.scale, o.p.zero, biasName}
	domain := ""
	if o.act != "" || biasName != "" {
		domain = ir.DomainInferd
	}
	return qReplace(g, n, o, domain, "QLinearMatMul", inputs, o.attrs()), nil
}

// transpose8 returns the transpose of a 2-D 8-bit tensor.
func transpose8(t *tensor.Tensor) *tensor.Tensor {
	r, c := t.Shape[0], t.Shape[1]
	out := tensor.New(t.DType, c, r)
	switch s := t.Data.(type) {
	case []int8:
		d := out.Data.([]int8)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				d[j*r+i] = s[i*c+j]
			}
		}
	case []uint8:
		d := out.Data.([]uint8)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				d[j*r+i] = s[i*c+j]
			}
		}
	}
	return out
}

// ---- dynamic quantization ----

// qdqDynamicMatMul compiles dynamic quantization's
//
//	MatMulInteger(a, W, za[, zw]) → Cast(float) → Mul(·, Mul(a_scale, w_scale)) [→ Add(·, bias)]
//
// into com.microsoft.MatMulIntegerToFloat(a, W, a_scale, w_scale, za, zw,
// bias), which scales and adds the bias in the GEMM's epilogue with the
// same float32 arithmetic. W must be a constant 2-D 8-bit tensor, w_scale
// and bias constant vectors over its columns (or scalars), a_scale a
// scalar.
type qdqDynamicMatMul struct{}

func (qdqDynamicMatMul) Name() string      { return "qdq-dynamic-matmul" }
func (qdqDynamicMatMul) OpTypes() []string { return []string{"MatMulInteger"} }

func (qdqDynamicMatMul) Match(g *Graph, n *ir.Node) bool {
	return len(n.Outputs) == 1 && g.SoleConsumer(n.Outputs[0]) != nil
}

func (qdqDynamicMatMul) Apply(g *Graph, n *ir.Node) (bool, error) {
	w := g.Const(n.Input(1))
	if w == nil || w.Rank() != 2 || (w.DType != tensor.Int8 && w.DType != tensor.Uint8) {
		return false, nil
	}
	cols := w.Shape[1]
	if z := n.Input(3); z != "" {
		zt := g.Const(z)
		if zt == nil || zt.DType != w.DType || zt.Rank() > 1 || (zt.Len() != 1 && zt.Len() != cols) {
			return false, nil
		}
	}
	if z := n.Input(2); z != "" && g.Rank(z) > 0 {
		return false, nil // a per-row zero point of A
	}
	out := n.Outputs[0]
	cast := g.SoleConsumer(out)
	if !isOnnx(cast, "Cast") || !g.SingleUse(out, cast) || len(cast.Outputs) != 1 {
		return false, nil
	}
	if to := ir.Attrs(cast).Int("to", 0); tensor.DType(to) != tensor.Float32 {
		return false, nil
	}
	mul := g.SoleConsumer(cast.Outputs[0])
	if !isOnnx(mul, "Mul") || !g.SingleUse(cast.Outputs[0], mul) || len(mul.Outputs) != 1 {
		return false, nil
	}
	sa, sw, ok := dynamicScales(g, otherInput(mul, cast.Outputs[0]), cols)
	if !ok {
		return false, nil
	}
	o := qOut{nodes: []*ir.Node{cast, mul}, last: mul}
	bias := ""
	if add := g.SoleConsumer(mul.Outputs[0]); isOnnx(add, "Add") && g.SingleUse(mul.Outputs[0], add) && len(add.Outputs) == 1 {
		b := otherInput(add, mul.Outputs[0])
		if t := g.Const(b); t != nil && t.DType == tensor.Float32 && t.Rank() == 1 && t.Len() == cols {
			bias = b
			o.nodes, o.last = append(o.nodes, add), add
		}
	}
	inputs := []string{n.Input(0), n.Input(1), sa, sw, n.Input(2), n.Input(3), bias}
	return qReplace(g, n, o, ir.DomainMicrosoft, "MatMulIntegerToFloat", inputs, nil), nil
}

// dynamicScales splits the scale s of a dynamically quantized product into
// A's (a float32 scalar) and W's (a constant float32 scalar or vector of
// cols values): s = Mul(a_scale, w_scale), or a constant s itself with a
// new a_scale of 1.
func dynamicScales(g *Graph, s string, cols int) (sa, sw string, ok bool) {
	isW := func(name string) bool {
		t := g.Const(name)
		return t != nil && t.DType == tensor.Float32 && t.Rank() <= 1 && (t.Len() == 1 || t.Len() == cols)
	}
	isA := func(name string) bool {
		if t := g.Const(name); t != nil {
			return t.DType == tensor.Float32 && t.Len() == 1 && t.Rank() <= 1
		}
		if p := g.Producer(name); isOnnx(p, "DynamicQuantizeLinear") && p.Outputs[1] == name {
			return true // y_scale, a float32 scalar
		}
		return g.DType(name) == tensor.Float32 && g.Rank(name) == 0
	}
	if s == "" {
		return "", "", false
	}
	if isW(s) {
		return g.AddInitializer(s+"_one", tensor.Scalar(float32(1))), s, true
	}
	m := g.Producer(s)
	if !isOnnx(m, "Mul") || len(m.Inputs) != 2 {
		return "", "", false
	}
	x, y := m.Input(0), m.Input(1)
	switch {
	case isA(x) && isW(y):
		return x, y, true
	case isA(y) && isW(x):
		return y, x, true
	}
	return "", "", false
}

// ---- Add ----

// qdqAdd compiles DequantizeLinear(a), DequantizeLinear(b) → Add →
// [activation] → QuantizeLinear into ai.inferd.QLinearAdd.
type qdqAdd struct{}

func (qdqAdd) Name() string      { return "qdq-add" }
func (qdqAdd) OpTypes() []string { return []string{"Add"} }

func (qdqAdd) Match(g *Graph, n *ir.Node) bool {
	return len(n.Outputs) == 1 && hasDQInput(g, n, 0) && hasDQInput(g, n, 1)
}

func (qdqAdd) Apply(g *Graph, n *ir.Node) (bool, error) {
	da, pa, ok1 := dqInput(g, n.Input(0))
	db, pb, ok2 := dqInput(g, n.Input(1))
	if !ok1 || !ok2 {
		return false, nil
	}
	o, ok := quantizedOutput(g, n.Outputs[0])
	if !ok {
		return false, nil
	}
	inputs := []string{da.Input(0), pa.scale, pa.zero, db.Input(0), pb.scale, pb.zero, o.p.scale, o.p.zero}
	return qReplace(g, n, o, ir.DomainInferd, "QLinearAdd", inputs, o.attrs()), nil
}

// ---- GlobalAveragePool ----

// qdqPool compiles DequantizeLinear → GlobalAveragePool → QuantizeLinear
// into ai.inferd.QLinearGlobalAveragePool.
type qdqPool struct{}

func (qdqPool) Name() string      { return "qdq-pool" }
func (qdqPool) OpTypes() []string { return []string{"GlobalAveragePool"} }

func (qdqPool) Match(g *Graph, n *ir.Node) bool { return hasDQInput(g, n, 0) }

func (qdqPool) Apply(g *Graph, n *ir.Node) (bool, error) {
	d, p, ok := dqInput(g, n.Input(0))
	if !ok || len(n.Outputs) != 1 {
		return false, nil
	}
	o, ok := quantizedOutput(g, n.Outputs[0])
	if !ok || o.act != "" {
		return false, nil
	}
	inputs := []string{d.Input(0), p.scale, p.zero, o.p.scale, o.p.zero}
	return qReplace(g, n, o, ir.DomainInferd, "QLinearGlobalAveragePool", inputs, nil), nil
}

// ---- ops that move values ----

// qdqMoveOps select, reshape or reorder the elements of input 0 without
// arithmetic, and are defined on 8-bit integers at the opsets given.
var qdqMoveOps = map[string]int64{
	"MaxPool": 12, "Reshape": 5, "Flatten": 9, "Transpose": 1, "Squeeze": 1, "Unsqueeze": 1,
	"Identity": 1, "Slice": 1, "Gather": 1, "Expand": 8, "Tile": 6, "DepthToSpace": 1, "SpaceToDepth": 1,
}

// qdqMove runs an op of qdqMoveOps on the integers:
// DequantizeLinear(x_q) → op → QuantizeLinear with the same parameters is
// op(x_q).
type qdqMove struct{}

func (qdqMove) Name() string { return "qdq-move" }
func (qdqMove) OpTypes() []string {
	var ops []string
	for op := range qdqMoveOps {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}

func (qdqMove) Match(g *Graph, n *ir.Node) bool {
	return hasDQInput(g, n, 0) && g.Opset("") >= qdqMoveOps[n.OpType]
}

func (qdqMove) Apply(g *Graph, n *ir.Node) (bool, error) {
	d, p, ok := dqInput(g, n.Input(0))
	if !ok || len(n.Outputs) == 0 {
		return false, nil
	}
	for _, o := range n.Outputs[1:] {
		if o != "" && (len(g.Consumers(o)) > 0 || g.IsOutput(o)) {
			return false, nil
		}
	}
	q := g.SoleConsumer(n.Outputs[0])
	pq, ok := quantizeOf(g, q, n.Outputs[0])
	if !ok || !pq.same(p) {
		return false, nil
	}
	inputs := slices.Clone(n.Inputs)
	inputs[0] = d.Input(0)
	// Trailing empty inputs are dropped by qReplace; inner ones keep
	// their place.
	return qReplace(g, n, qOut{nodes: []*ir.Node{q}, last: q}, n.Domain, n.OpType, inputs, slices.Clone(n.Attrs)), nil
}
