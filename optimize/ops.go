package optimize

// Properties of ai.onnx operators that passes consult, kept as tables so a
// pass tests membership instead of listing ops (tinygrad's GroupOp).

func set(ops ...string) map[string]bool {
	m := make(map[string]bool, len(ops))
	for _, op := range ops {
		m[op] = true
	}
	return m
}

// unaryOps have one tensor input and one output of the same type and shape.
var unaryOps = set(
	"Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh",
	"Erf", "Exp", "Floor", "Identity", "Log", "Neg", "Reciprocal", "Round", "Sign",
	"Sin", "Sinh", "Sqrt", "Tan", "Tanh", "Relu", "LeakyRelu", "Elu", "Selu", "Celu",
	"Sigmoid", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Mish", "Gelu",
	"ThresholdedRelu", "Shrink", "Clip", "Softmax", "LogSoftmax", "Hardmax", "LRN",
	"InstanceNormalization", "MeanVarianceNormalization", "GroupNormalization",
	"CumSum", "Trilu", "Not", "BitwiseNot", "ReverseSequence", "Dropout",
	"BatchNormalization", "LayerNormalization", "PRelu", "Bernoulli",
)

// boolUnaryOps have one input and a bool output of the same shape.
var boolUnaryOps = set("IsNaN", "IsInf")

// broadcastOps are elementwise over inputs broadcast to a common shape; the
// output has the element type of input 0.
var broadcastOps = set("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mean", "Sum", "Mod",
	"BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor")

// compareOps broadcast their inputs and return bool.
var compareOps = set("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor")

// elementwiseOps map each element of one input to one element of the
// output, independently of its position: transposes commute with them.
var elementwiseOps = set(
	"Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh",
	"Erf", "Exp", "Floor", "Identity", "Log", "Neg", "Reciprocal", "Round", "Sign",
	"Sin", "Sinh", "Sqrt", "Tan", "Tanh", "Relu", "LeakyRelu", "Elu", "Selu", "Celu",
	"Sigmoid", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Mish", "Gelu",
	"ThresholdedRelu", "Shrink", "Clip", "Not", "Cast", "IsNaN", "IsInf",
)

// commutativeOps are binary ops whose two inputs may be swapped.
var commutativeOps = set("Add", "Mul", "Max", "Min", "Sum", "Mean", "Equal", "And", "Or", "Xor",
	"BitwiseAnd", "BitwiseOr", "BitwiseXor")

// randomOps draw random numbers: their outputs are never constant, and two
// of them with equal inputs are not equal.
var randomOps = set("RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
	"Multinomial", "Bernoulli")

// noFoldOps are never folded even with constant inputs: quantization ops
// (a QDQ model must keep its QDQ form), ops with state or side effects, and
// ops whose outputs are not plain tensors.
var noFoldOps = set("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
	"If", "Loop", "Scan", "SequenceConstruct", "SequenceEmpty", "SequenceInsert", "SequenceErase",
	"SequenceAt", "SequenceLength", "SplitToSequence", "ConcatFromSequence", "Optional",
	"OptionalGetElement", "OptionalHasElement", "Dropout")
