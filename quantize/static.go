package quantize

import (
	"context"
	"fmt"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// sameScaleOps move quantized values through without arithmetic: their
// output takes their input's parameters, so a runtime may run them on the
// integers directly (ONNX Runtime drops the QDQ pairs around them).
var sameScaleOps = map[string]bool{
	"MaxPool": true, "GlobalMaxPool": true, "Reshape": true, "Flatten": true, "Transpose": true,
	"Squeeze": true, "Unsqueeze": true, "Identity": true, "Slice": true, "Gather": true,
	"Split": true, "Resize": true, "DepthToSpace": true, "SpaceToDepth": true, "Expand": true, "Tile": true,
}

// allInputOps quantize every float activation input, not only the first.
var allInputOps = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Concat": true, "Max": true, "Min": true}

// staticNode is the plan for one selected node.
type staticNode struct {
	n      *ir.Node
	acts   []int // input positions quantized per tensor as activations
	weight int   // input position of a per-channel weight, or -1
	axis   int   // the weight's channel axis
	bias   int   // input position of a bias quantized to int32, or -1
	detail string
}

// planStatic picks the nodes static mode quantizes and how.
func planStatic(m *ir.Model, x *graphIndex, opts *Options, types map[string]ir.Type, order []*ir.Node, rep *Report) []*staticNode {
	var plans []*staticNode
	skip := func(n *ir.Node, why string) {
		rep.Nodes = append(rep.Nodes, NodeResult{Name: n.Name, OpType: n.OpType, Detail: why})
	}
	isAct := func(name string) bool { return name != "" && isFloat32(types, name) && x.constant(name) == nil }
	for _, n := range order {
		sel, why := opts.selects(n, DefaultStaticOps)
		if !sel {
			if why != "" {
				skip(n, why)
			}
			continue
		}
		p := &staticNode{n: n, weight: -1, bias: -1}
		switch n.OpType {
		case "Conv":
			w := x.constant(n.Input(1))
			if w == nil || w.DType != tensor.Float32 || w.Rank() < 3 {
				skip(n, fmt.Sprintf("weight %q is not a constant float32 tensor", n.Input(1)))
				continue
			}
			if !isAct(n.Input(0)) {
				skip(n, fmt.Sprintf("input %q is not a float32 activation", n.Input(0)))
				continue
			}
			p.acts, p.weight, p.axis = []int{0}, 1, 0
			if b := x.constant(n.Input(2)); b != nil && b.DType == tensor.Float32 && b.Rank() == 1 && b.Shape[0] == w.Shape[0] {
				p.bias = 2
			}
			p.detail = "int8 per-channel weight (axis 0)"
		case "Gemm", "MatMul":
			if !isAct(n.Input(0)) {
				skip(n, fmt.Sprintf("input %q is not a float32 activation", n.Input(0)))
				continue
			}
			p.acts = []int{0}
			w := x.constant(n.Input(1))
			switch {
			case w != nil && w.DType == tensor.Float32 && w.Rank() >= 2:
				p.weight, p.axis = 1, w.Rank()-1
				if n.OpType == "Gemm" && ir.Attrs(n).Int("transB", 0) != 0 {
					p.axis = 0
				}
				if n.OpType == "Gemm" && ir.Attrs(n).Int("transA", 0) != 0 {
					skip(n, "Gemm with transA is left in float")
					continue
				}
				p.detail = fmt.Sprintf("int8 per-channel weight (axis %d)", p.axis)
				if n.OpType == "Gemm" && w.Rank() == 2 {
					if b := x.constant(n.Input(2)); b != nil && b.DType == tensor.Float32 && b.Rank() == 1 && b.Shape[0] == w.Shape[p.axis] &&
						ir.Attrs(n).Float("alpha", 1) == 1 && ir.Attrs(n).Float("beta", 1) == 1 {
						p.bias = 2
					}
				}
			case isAct(n.Input(1)):
				p.acts = append(p.acts, 1)
				p.detail = "both inputs per-tensor activations"
			default:
				skip(n, fmt.Sprintf("input %q is neither a float32 weight nor an activation", n.Input(1)))
				continue
			}
		default:
			for i, in := range n.Inputs {
				if i > 0 && !allInputOps[n.OpType] {
					break
				}
				if isAct(in) {
					p.acts = append(p.acts, i)
				}
			}
			if len(p.acts) == 0 {
				skip(n, "no float32 activation input")
				continue
			}
			p.detail = "activations"
			if sameScaleOps[n.OpType] {
				p.detail = "activations, output shares the input's scale"
			}
		}
		plans = append(plans, p)
	}
	return plans
}

func quantizeStatic(ctx context.Context, m *ir.Model, opts *Options, rep *Report) error {
	g := m.Graph
	rep.Method, rep.Samples = opts.Method, len(opts.Samples)
	rep.Activations, rep.Weights = opts.Activations, tensor.Int8
	types := valueTypes(m)
	x := newGraphIndex(g)
	order, err := topoNodes(g)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	plans := planStatic(m, x, opts, types, order, rep)
	if len(plans) == 0 {
		return fmt.Errorf("quantize: no node to quantize (op types %v)", opsOrDefault(opts.OpTypes, DefaultStaticOps))
	}

	// Every activation input of a selected node is calibrated.
	var names []string
	seen := map[string]bool{}
	for _, p := range plans {
		for _, i := range p.acts {
			if in := p.n.Inputs[i]; !seen[in] {
				seen[in] = true
				names = append(names, in)
			}
		}
	}
	hist := opts.Method != MinMax
	cal, err := calibrate(ctx, m, opts, names, hist, nil)
	if err != nil {
		return err
	}
	params := map[string]actParams{}
	shared := map[string]string{}
	for _, n := range names {
		params[n] = paramsFor(cal.stats[n], opts.Activations, opts.Method, opts.Percentile)
	}
	// A Relu's input takes its output's parameters when the Relu is its
	// only reader: the negative codes the Relu zeroes lose nothing, and
	// the positive range gets every code.
	for _, p := range plans {
		n := p.n
		if n.OpType != "Relu" || len(n.Outputs) == 0 {
			continue
		}
		in, out := n.Input(0), n.Outputs[0]
		_, qin := params[in]
		_, qout := params[out]
		if qin && qout && len(x.consumers[in]) == 1 && !x.outputs[in] {
			params[in] = params[out]
			shared[in] = out
		}
	}
	// Ops that move data through share their input's parameters.
	for _, p := range plans {
		n := p.n
		if !sameScaleOps[n.OpType] {
			continue
		}
		in := n.Input(0)
		pin, qin := params[in]
		for _, out := range n.Outputs {
			if _, qout := params[out]; qin && qout {
				params[out] = pin
				shared[out] = in
			}
		}
	}
	for _, n := range names {
		s, p := cal.stats[n], params[n]
		rep.Tensors = append(rep.Tensors, TensorRange{Name: n, Min: s.min, Max: s.max, Lo: p.lo(), Hi: p.hi(),
			Scale: p.scale, ZeroPoint: p.zeroPoint, SharedFrom: shared[n]})
	}
	rewriteStatic(x, plans, names, params, opts)
	for _, p := range plans {
		rep.Nodes = append(rep.Nodes, NodeResult{Name: p.n.Name, OpType: p.n.OpType, Quantized: true, Detail: p.detail})
	}
	sortNodeResults(rep, order)
	return nil
}

// rewriteStatic inserts the QDQ pairs and the weight and bias
// DequantizeLinear nodes.
func rewriteStatic(x *graphIndex, plans []*staticNode, names []string, params map[string]actParams, opts *Options) {
	g := x.g
	dq := map[string]string{}          // activation → its dequantized name
	after := map[*ir.Node][]*ir.Node{} // producer (nil for graph inputs) → Q/DQ nodes
	var replaced = map[string]bool{}   // weights and biases that may now be unused
	for _, name := range names {
		p := params[name]
		scale := x.addInit(name+"_scale", tensor.Scalar(p.scale))
		zp := x.addInit(name+"_zero_point", p.zeroPointTensor())
		qName := x.unique(name + "_quantized")
		dqName := x.unique(name + "_dequantized")
		q := x.newNode("QuantizeLinear", name+"_QuantizeLinear", []string{name, scale, zp}, []string{qName})
		d := x.newNode("DequantizeLinear", name+"_DequantizeLinear", []string{qName, scale, zp}, []string{dqName})
		prod := x.producer[name]
		after[prod] = append(after[prod], q, d)
		dq[name] = dqName
	}
	before := map[*ir.Node][]*ir.Node{}
	qmax := 127
	if opts.ReduceRange {
		qmax = 63
	}
	for _, p := range plans {
		n := p.n
		var wScales []float32
		if p.weight >= 0 {
			wName := n.Inputs[p.weight]
			w := x.constant(wName)
			q, s := quantizeSymmetric(w.Data.([]float32), w.Shape, p.axis, qmax)
			qn := x.addInit(wName+"_quantized", &tensor.Tensor{DType: tensor.Int8, Shape: slices.Clone(w.Shape), Data: q})
			sn := x.addInit(wName+"_scale", tensor.FromSlice(s, len(s)))
			zn := x.addInit(wName+"_zero_point", tensor.FromSlice(make([]int8, len(s)), len(s)))
			out := x.unique(wName + "_dequantized")
			d := x.newNode("DequantizeLinear", wName+"_DequantizeLinear", []string{qn, sn, zn}, []string{out}, intAttr("axis", int64(p.axis)))
			before[n] = append(before[n], d)
			n.Inputs[p.weight] = out
			replaced[wName] = true
			wScales = s
		}
		if p.bias >= 0 && wScales != nil {
			bName := n.Inputs[p.bias]
			b := x.constant(bName)
			xScale := params[n.Inputs[p.acts[0]]].scale
			q, s := quantizeBias(b.Data.([]float32), xScale, wScales)
			qn := x.addInit(bName+"_quantized", tensor.FromSlice(q, len(q)))
			sn := x.addInit(bName+"_scale", tensor.FromSlice(s, len(s)))
			out := x.unique(bName + "_dequantized")
			d := x.newNode("DequantizeLinear", bName+"_DequantizeLinear", []string{qn, sn}, []string{out}, intAttr("axis", 0))
			before[n] = append(before[n], d)
			n.Inputs[p.bias] = out
			replaced[bName] = true
		}
		for _, i := range p.acts {
			n.Inputs[i] = dq[n.Inputs[i]]
		}
	}
	nodes := slices.Clone(after[nil])
	for _, n := range g.Nodes {
		nodes = append(nodes, before[n]...)
		nodes = append(nodes, n)
		nodes = append(nodes, after[n]...)
	}
	g.Nodes = nodes
	x.removeUnusedInits(replaced)
}

// sortNodeResults puts the report's nodes in graph order.
func sortNodeResults(rep *Report, order []*ir.Node) {
	pos := map[string]int{}
	for i, n := range order {
		pos[n.Name] = i
	}
	slices.SortStableFunc(rep.Nodes, func(a, b NodeResult) int { return pos[a.Name] - pos[b.Name] })
}

func opsOrDefault(ops, def []string) []string {
	if len(ops) > 0 {
		return ops
	}
	return def
}
