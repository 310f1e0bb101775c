package tensor

// Sequence is an ONNX sequence value: an ordered list of tensors of one
// element type (their shapes may differ). ElemType records the element type
// even when the sequence is empty.
type Sequence struct {
	ElemType DType
	Tensors  []*Tensor
}

// Optional is an ONNX optional value. Value is nil when the optional is
// empty, else a *Tensor or *Sequence.
type Optional struct {
	Value any
}

// Map is an ONNX map value (ai.onnx.ml), keys and values as two tensors of
// equal length.
type Map struct {
	Keys   *Tensor
	Values *Tensor
}
