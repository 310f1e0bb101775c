package onnx

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/inferd/inferd/onnx/onnxpb"
	"github.com/inferd/inferd/tensor"
)

// DecodeTensor parses a serialized TensorProto (an ONNX test-data .pb file).
func DecodeTensor(data []byte) (*tensor.Tensor, error) {
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(data, &tp); err != nil {
		return nil, fmt.Errorf("onnx: %w: %v", ErrMalformed, err)
	}
	t, err := TensorFromProto(&tp)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return t, nil
}

// ReadTensorFile reads a TensorProto .pb file and returns its name and value.
func ReadTensorFile(path string) (string, *tensor.Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("onnx: %w", err)
	}
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(data, &tp); err != nil {
		return "", nil, fmt.Errorf("onnx: %s: %w: %v", path, ErrMalformed, err)
	}
	t, err := TensorFromProto(&tp)
	if err != nil {
		return "", nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	return tp.GetName(), t, nil
}

// EncodeTensor serializes t as a TensorProto named name.
func EncodeTensor(name string, t *tensor.Tensor) ([]byte, error) {
	tp, err := TensorToProto(name, t)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(tp)
}

// DecodeSequence parses a serialized SequenceProto of tensors.
func DecodeSequence(data []byte) (string, *tensor.Sequence, error) {
	var sp onnxpb.SequenceProto
	if err := proto.Unmarshal(data, &sp); err != nil {
		return "", nil, fmt.Errorf("onnx: %w: %v", ErrMalformed, err)
	}
	s, err := sequenceFromProto(&sp)
	return sp.GetName(), s, err
}

func sequenceFromProto(sp *onnxpb.SequenceProto) (*tensor.Sequence, error) {
	s := &tensor.Sequence{ElemType: tensor.DType(sp.GetElemType())}
	if sp.GetElemType() != int32(onnxpb.SequenceProto_TENSOR) && sp.GetElemType() != int32(onnxpb.SequenceProto_UNDEFINED) {
		return nil, fmt.Errorf("onnx: sequences of non-tensors are not supported (elem_type %d)", sp.GetElemType())
	}
	s.ElemType = tensor.Undefined
	for i, tp := range sp.GetTensorValues() {
		t, err := TensorFromProto(tp)
		if err != nil {
			return nil, fmt.Errorf("onnx: sequence element %d: %w", i, err)
		}
		s.ElemType = t.DType
		s.Tensors = append(s.Tensors, t)
	}
	return s, nil
}

// DecodeOptional parses a serialized OptionalProto holding a tensor, a
// sequence of tensors, or nothing.
func DecodeOptional(data []byte) (string, *tensor.Optional, error) {
	var op onnxpb.OptionalProto
	if err := proto.Unmarshal(data, &op); err != nil {
		return "", nil, fmt.Errorf("onnx: %w: %v", ErrMalformed, err)
	}
	o := &tensor.Optional{}
	switch {
	case op.GetTensorValue() != nil:
		t, err := TensorFromProto(op.GetTensorValue())
		if err != nil {
			return "", nil, fmt.Errorf("onnx: %w", err)
		}
		o.Value = t
	case op.GetSequenceValue() != nil:
		s, err := sequenceFromProto(op.GetSequenceValue())
		if err != nil {
			return "", nil, err
		}
		o.Value = s
	}
	return op.GetName(), o, nil
}
