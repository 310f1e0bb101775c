package quantize

import (
	"fmt"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// DefaultFP16BlockOps stay in float32 in fp16 mode: ops whose float16
// results lose too much (range reductions and sorting-like ops over large
// ranges) or whose float16 support is patchy in other runtimes. It
// follows ONNX Runtime's float16 converter.
var DefaultFP16BlockOps = []string{
	"NonMaxSuppression", "TopK", "RoiAlign", "Resize", "Upsample", "Range", "CumSum", "Min", "Max",
	"RandomUniformLike", "RandomNormalLike",
}

// BF16Ops are the ops bf16 mode converts: those whose ONNX type
// constraints include bfloat16 (by opset 21) and whose bf16 form is
// numerically sound. Conv and the pools have no bfloat16 in ONNX, so
// they stay in float32 behind Casts.
var BF16Ops = []string{
	"Add", "Sub", "Mul", "Div", "MatMul", "Gemm", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Erf",
	"Softmax", "LogSoftmax", "Sqrt", "Pow", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Clip", "Where",
	"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Concat", "Gather", "Slice", "Split",
	"Identity", "Expand", "Tile", "Constant", "LayerNormalization", "BatchNormalization",
	"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "Equal", "Less", "Greater", "Sum", "Mean",
}

// attrTypedOps decide their output type by attribute, or work on
// quantized data: they are never converted.
var attrTypedOps = map[string]bool{
	"Cast": true, "CastLike": true, "ConstantOfShape": true, "RandomNormal": true, "RandomUniform": true,
	"RandomNormalLike": true, "RandomUniformLike": true, "EyeLike": true, "Multinomial": true, "Bernoulli": true,
	"QuantizeLinear": true, "DequantizeLinear": true, "DynamicQuantizeLinear": true, "MatMulInteger": true,
	"ConvInteger": true, "QLinearConv": true, "QLinearMatMul": true,
}

// anyTypeOps read any element type: they take a converted value as it is.
var anyTypeOps = map[string]bool{"Shape": true, "Size": true}

// float32Inputs lists, per op, input positions that stay float32 whatever
// the data type (Resize's scales, Upsample's scales).
var float32Inputs = map[string][]int{"Resize": {2}, "Upsample": {1}}

func convertFloat(m *ir.Model, opts *Options, rep *Report) error {
	g := m.Graph
	low := tensor.Float16
	if opts.Mode == BF16 {
		low = tensor.BFloat16
	}
	types := valueTypes(m)
	x := newGraphIndex(g)
	order, err := topoNodes(g)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	block := append(slices.Clone(DefaultFP16BlockOps), opts.BlockOps...)
	allowed := func(n *ir.Node) (bool, string) {
		if ir.CanonicalDomain(n.Domain) != "" {
			return false, "not an ai.onnx op"
		}
		if len(n.Subgraphs()) > 0 {
			return false, "has subgraphs"
		}
		if attrTypedOps[n.OpType] || anyTypeOps[n.OpType] {
			return false, ""
		}
		if opts.Mode == BF16 && !slices.Contains(BF16Ops, n.OpType) {
			return false, "no bfloat16 form in ONNX"
		}
		if slices.Contains(block, n.OpType) || slices.Contains(opts.BlockOps, n.OpType) {
			return false, "in the block list"
		}
		if slices.Contains(opts.ExcludeNodes, n.Name) || slices.Contains(opts.ExcludeOpTypes, n.OpType) {
			return false, "excluded"
		}
		if len(opts.OpTypes) > 0 && !slices.Contains(opts.OpTypes, n.OpType) {
			return false, ""
		}
		return true, ""
	}
	converted := map[*ir.Node]bool{}
	isLow := map[string]bool{} // float32 values that become 16-bit
	for _, in := range g.Inputs {
		if !opts.KeepIOTypes && isFloat32(types, in.Name) && x.inits[in.Name] == nil {
			isLow[in.Name] = true
			in.Type.DType = low
		}
	}
	for _, n := range order {
		ok, why := allowed(n)
		hasFloat := false
		for _, in := range n.Inputs {
			hasFloat = hasFloat || isFloat32(types, in)
		}
		if n.OpType == "Constant" {
			a := n.Attr("value")
			hasFloat = a != nil && a.T != nil && a.T.DType == tensor.Float32
		}
		if !ok || !hasFloat {
			if why != "" && hasFloat {
				rep.Nodes = append(rep.Nodes, NodeResult{Name: n.Name, OpType: n.OpType, Detail: why})
			}
			continue
		}
		converted[n] = true
		for _, o := range n.Outputs {
			if isFloat32(types, o) {
				isLow[o] = true
			}
		}
		rep.Nodes = append(rep.Nodes, NodeResult{Name: n.Name, OpType: n.OpType, Quantized: true, Detail: "computes in " + low.String()})
	}
	if len(converted) == 0 {
		return fmt.Errorf("quantize: no node to convert to %v", low)
	}

	// Initializers read only by converted nodes are converted in place;
	// those read by both kinds get a converted copy.
	lowInit := map[string]string{}
	for _, in := range g.Initializers {
		if in.Tensor.DType != tensor.Float32 {
			continue
		}
		var conv, kept bool
		for _, c := range x.consumers[in.Name] {
			if converted[c] && !keepsFloat32(c, in.Name) {
				conv = true
			} else {
				kept = true
			}
		}
		if !conv {
			continue
		}
		t := toLow(in.Tensor, low)
		if kept || x.outputs[in.Name] || x.constant(in.Name) == nil {
			lowInit[in.Name] = x.addInit(in.Name+"_"+low.String(), t)
		} else {
			in.Tensor = t
			lowInit[in.Name] = in.Name
		}
	}
	casts := map[string]string{} // value → its cast to the other precision
	var castNodes = map[*ir.Node][]*ir.Node{}
	castOf := func(v string, to tensor.DType) string {
		key := v + "→" + to.String()
		if c, ok := casts[key]; ok {
			return c
		}
		out := x.unique(v + "_" + to.String())
		cn := x.newNode("Cast", v+"_Cast_"+to.String(), []string{v}, []string{out}, intAttr("to", int64(to)))
		prod := x.producer[v]
		castNodes[prod] = append(castNodes[prod], cn)
		casts[key] = out
		return out
	}
	for _, n := range order {
		if converted[n] {
			if n.OpType == "Constant" {
				a := n.Attr("value")
				n.SetAttr(&ir.Attribute{Name: "value", Type: ir.AttrTensor, T: toLow(a.T, low)})
			}
			for i, in := range n.Inputs {
				if in == "" || !isFloat32(types, in) {
					continue
				}
				if slices.Contains(float32Inputs[n.OpType], i) {
					if isLow[in] {
						n.Inputs[i] = castOf(in, tensor.Float32)
					}
					continue
				}
				switch {
				case lowInit[in] != "":
					n.Inputs[i] = lowInit[in]
				case !isLow[in]:
					n.Inputs[i] = castOf(in, low)
				}
			}
			continue
		}
		if anyTypeOps[n.OpType] {
			continue
		}
		for i, in := range n.Inputs {
			if isLow[in] {
				n.Inputs[i] = castOf(in, tensor.Float32)
			}
		}
	}
	// Graph outputs: keep float32 behind a Cast, or declare the new type.
	for _, o := range g.Outputs {
		if !isLow[o.Name] {
			continue
		}
		if !opts.KeepIOTypes {
			o.Type.DType = low
			continue
		}
		// Rename the 16-bit value and cast it back under the output's name.
		lowName := x.unique(o.Name + "_" + low.String())
		prod := x.producer[o.Name]
		for _, n := range g.Nodes {
			for i, in := range n.Inputs {
				if in == o.Name {
					n.Inputs[i] = lowName
				}
			}
			for i, out := range n.Outputs {
				if out == o.Name {
					n.Outputs[i] = lowName
				}
			}
		}
		for _, cs := range castNodes {
			for _, c := range cs {
				if c.Inputs[0] == o.Name {
					c.Inputs[0] = lowName
				}
			}
		}
		cn := x.newNode("Cast", o.Name+"_Cast_float32", []string{lowName}, []string{o.Name}, intAttr("to", int64(tensor.Float32)))
		castNodes[prod] = append(castNodes[prod], cn)
	}
	for _, vi := range g.ValueInfo {
		if isLow[vi.Name] && vi.Type.Kind == ir.TensorKind {
			vi.Type.DType = low
		}
	}
	nodes := slices.Clone(castNodes[nil])
	for _, n := range g.Nodes {
		nodes = append(nodes, n)
		nodes = append(nodes, castNodes[n]...)
	}
	g.Nodes = nodes
	// Initializers whose every reader now takes the converted copy.
	drop := map[string]bool{}
	for name, l := range lowInit {
		if l != name {
			drop[name] = true
		}
	}
	x.removeUnusedInits(drop)
	rep.Weights = low
	sortNodeResults(rep, order)
	return nil
}

// keepsFloat32 reports whether node n reads value v at a position that
// stays float32.
func keepsFloat32(n *ir.Node, v string) bool {
	pos := float32Inputs[n.OpType]
	for i, in := range n.Inputs {
		if in == v && !slices.Contains(pos, i) {
			return false
		}
	}
	return len(pos) > 0
}

// toLow converts a float32 tensor to float16 or bfloat16.
func toLow(t *tensor.Tensor, low tensor.DType) *tensor.Tensor {
	v := t.Data.([]float32)
	out := &tensor.Tensor{DType: low, Shape: slices.Clone(t.Shape)}
	if low == tensor.BFloat16 {
		d := make([]tensor.BF16, len(v))
		for i, f := range v {
			d[i] = tensor.BF16FromFloat32(f)
		}
		out.Data = d
	} else {
		d := make([]tensor.F16, len(v))
		for i, f := range v {
			d[i] = tensor.F16FromFloat32(f)
		}
		out.Data = d
	}
	return out
}
