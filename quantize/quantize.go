package quantize

import (
	"context"
	"fmt"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Mode is what Quantize does to a model.
type Mode string

// The modes.
const (
	// Static quantizes activations with ranges fixed by calibration and
	// weights per output channel, in QDQ form: QuantizeLinear /
	// DequantizeLinear pairs around the ops that run in int8.
	Static Mode = "static"
	// Dynamic quantizes MatMul and Gemm weights per output channel
	// offline and their activations at run time (DynamicQuantizeLinear →
	// MatMulInteger → Cast → Mul).
	Dynamic Mode = "dynamic"
	// Int4 quantizes MatMul and Gemm weights only, in blocks along the
	// reduction axis, into 4-bit integers read by a blocked
	// DequantizeLinear (opset 21).
	Int4 Mode = "int4"
	// FP16 and BF16 store weights and compute in 16-bit floats, with
	// Casts where converted and unconverted parts of the graph meet.
	FP16 Mode = "fp16"
	BF16 Mode = "bf16"
)

// Options configure Quantize. The zero value of each field is a sensible
// default; Mode is required.
type Options struct {
	Mode Mode

	// Samples are the calibration inputs (static mode, and int4 with
	// GPTQ); Compiler compiles the model that observes them.
	Samples  []Sample
	Compiler Compiler
	// Method picks activation ranges (default MinMax); Percentile is the
	// percentile of |x| the Percentile method keeps (default 99.999).
	Method     Method
	Percentile float64
	// Activations is the activation type of static mode: Int8 (the
	// default) quantizes them symmetrically (zero point 0), Uint8
	// asymmetrically. See the package documentation for why Int8 is the
	// default.
	Activations tensor.DType
	// ReduceRange keeps int8 weights to 7 bits ([-64, 63]), for int8
	// kernels that multiply pairs into 16 bits (AVX2 VPMADDUBSW).
	ReduceRange bool

	// OpTypes, if set, replaces the mode's default set of op types to
	// quantize (static: DefaultStaticOps; dynamic and int4: MatMul and
	// Gemm). ExcludeNodes and ExcludeOpTypes leave nodes alone by name
	// or op type.
	OpTypes        []string
	ExcludeNodes   []string
	ExcludeOpTypes []string

	// BlockSize is int4's block length along the reduction axis: 32, 64
	// or 128 (default 32). Asymmetric uses uint4 with a zero point per
	// block instead of symmetric int4. GPTQ corrects each weight column's
	// rounding error on the columns not yet quantized, using calibration
	// inputs (Samples); without it, int4 rounds to nearest.
	BlockSize  int
	Asymmetric bool
	GPTQ       bool

	// KeepIOTypes keeps float32 graph inputs and outputs in fp16/bf16
	// mode (Casts at the boundary). BlockOps adds op types that stay in
	// float32 to the mode's default block list.
	KeepIOTypes bool
	BlockOps    []string

	// Progress, if set, is called after each calibration run with the
	// runs done and the total.
	Progress func(done, total int)
}

// DefaultStaticOps are the op types static mode quantizes by default:
// the heavy ops (Conv, Gemm, MatMul), the ops that move quantized data
// through unchanged and share their input's scale (pools, reshapes,
// transposes), and a few cheap ops with their own scales (Relu, Clip, Add,
// Concat, average pools).
var DefaultStaticOps = []string{
	"Conv", "Gemm", "MatMul",
	"MaxPool", "GlobalMaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
	"Relu", "Clip", "Add", "Concat", "AveragePool", "GlobalAveragePool",
}

func (o *Options) validate() error {
	switch o.Mode {
	case Static, Dynamic, Int4, FP16, BF16:
	case "":
		return fmt.Errorf("quantize: no mode given (static, dynamic, int4, fp16 or bf16)")
	default:
		return fmt.Errorf("quantize: unknown mode %q (want static, dynamic, int4, fp16 or bf16)", o.Mode)
	}
	switch o.Method {
	case "":
		o.Method = MinMax
	case MinMax, Percentile, Entropy, MSE:
	default:
		return fmt.Errorf("quantize: unknown calibration method %q (want minmax, percentile, entropy or mse)", o.Method)
	}
	if o.Percentile == 0 {
		o.Percentile = 99.999
	}
	if o.Percentile <= 50 || o.Percentile > 100 {
		return fmt.Errorf("quantize: percentile %g is not in (50, 100]", o.Percentile)
	}
	switch o.Activations {
	case tensor.Undefined:
		o.Activations = tensor.Int8
	case tensor.Int8, tensor.Uint8:
	default:
		return fmt.Errorf("quantize: activation type %v is not int8 or uint8", o.Activations)
	}
	switch o.BlockSize {
	case 0:
		o.BlockSize = 32
	case 32, 64, 128:
	default:
		return fmt.Errorf("quantize: int4 block size %d is not 32, 64 or 128", o.BlockSize)
	}
	if o.Mode == Static && len(o.Samples) == 0 {
		return fmt.Errorf("quantize: static mode needs calibration samples (--calibration DIR)")
	}
	if o.Mode == Int4 && o.GPTQ && len(o.Samples) == 0 {
		return fmt.Errorf("quantize: GPTQ needs calibration samples (--calibration DIR)")
	}
	return nil
}

// selects reports whether options pick node n for quantization, given the
// mode's default op types.
func (o *Options) selects(n *ir.Node, defaults []string) (bool, string) {
	if ir.CanonicalDomain(n.Domain) != "" {
		return false, "not an ai.onnx op"
	}
	ops := defaults
	if len(o.OpTypes) > 0 {
		ops = o.OpTypes
	}
	if !slices.Contains(ops, n.OpType) {
		return false, ""
	}
	if slices.Contains(o.ExcludeNodes, n.Name) {
		return false, "excluded by name"
	}
	if slices.Contains(o.ExcludeOpTypes, n.OpType) {
		return false, "excluded by op type"
	}
	return true, ""
}

// Report says what Quantize did.
type Report struct {
	Mode    Mode
	Method  Method // static mode
	Samples int    // calibration samples used
	// Activations and Weights are the integer types used (static,
	// dynamic, int4).
	Activations, Weights tensor.DType
	// Tensors lists the activation ranges calibration chose (static).
	Tensors []TensorRange
	// Nodes lists every node considered, quantized or not, in graph order.
	Nodes []NodeResult
	// ParamBytes is the size of the initializers before and after.
	ParamBytesBefore, ParamBytesAfter int64
	// Opset is the default-domain opset of the result.
	Opset int64
}

// TensorRange is one calibrated activation.
type TensorRange struct {
	Name string
	// Min and Max are the observed range, Lo and Hi the range kept
	// (after clipping by the method and the parameters' rounding).
	Min, Max, Lo, Hi float64
	Scale            float32
	ZeroPoint        int32
	// SharedFrom names the tensor whose parameters this one reuses (the
	// input of a pool or reshape, the output of a Relu), if any.
	SharedFrom string
}

// NodeResult is what happened to one node.
type NodeResult struct {
	Name, OpType string
	Quantized    bool
	// Detail says how (per-channel int8 weight, blocked int4 …) or, for a
	// node left alone, why.
	Detail string
}

// Quantize returns a quantized copy of m (m is not modified) and a report.
func Quantize(ctx context.Context, m *ir.Model, opts Options) (*ir.Model, *Report, error) {
	if err := opts.validate(); err != nil {
		return nil, nil, err
	}
	if m == nil || m.Graph == nil {
		return nil, nil, fmt.Errorf("quantize: model has no graph")
	}
	if v := m.OpsetVersion(""); v < 13 {
		return nil, nil, fmt.Errorf("quantize: the model imports ai.onnx opset %d; quantize needs 13 or later (per-axis QuantizeLinear)", v)
	}
	out := CloneModel(m)
	rep := &Report{Mode: opts.Mode, ParamBytesBefore: ParamBytes(m)}
	var err error
	switch opts.Mode {
	case Static:
		err = quantizeStatic(ctx, out, &opts, rep)
	case Dynamic:
		err = quantizeDynamic(out, &opts, rep)
	case Int4:
		err = quantizeInt4(ctx, out, &opts, rep)
	case FP16, BF16:
		err = convertFloat(out, &opts, rep)
	}
	if err != nil {
		return nil, nil, err
	}
	order, err := topoNodes(out.Graph)
	if err != nil {
		return nil, nil, fmt.Errorf("quantize: result is not a valid graph: %w", err)
	}
	out.Graph.Nodes = order
	if err := ir.Verify(out); err != nil {
		return nil, nil, fmt.Errorf("quantize: result is not a valid graph: %w", err)
	}
	rep.ParamBytesAfter = ParamBytes(out)
	rep.Opset = out.OpsetVersion("")
	return out, rep, nil
}

// valueTypes infers the element type of every value of m's main graph;
// values it cannot work out are missing from the map.
func valueTypes(m *ir.Model) map[string]ir.Type {
	types := map[string]ir.Type{}
	// Problems are not fatal here: a value whose type is unknown is just
	// not quantized.
	_ = ir.InferShapes(m, &ir.InferConfig{Error: func(error) {}}, &ir.InferInfo{Types: types})
	for _, in := range m.Graph.Inputs {
		if _, ok := types[in.Name]; !ok {
			types[in.Name] = in.Type
		}
	}
	for _, in := range m.Graph.Initializers {
		types[in.Name] = ir.TensorType(in.Tensor.DType, ir.ShapeOf(in.Tensor.Shape...))
	}
	return types
}

func isFloat32(types map[string]ir.Type, name string) bool {
	t, ok := types[name]
	return ok && t.Kind == ir.TensorKind && t.DType == tensor.Float32
}
