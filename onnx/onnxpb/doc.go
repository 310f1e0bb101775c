// Package onnxpb holds the Go protocol buffer bindings for the ONNX model
// format (the ONNX-ML variant of onnx.proto, proto2, protobuf package
// "onnx"), covering IR versions up to 11 (ONNX 1.18).
//
// The message types (ModelProto, GraphProto, NodeProto, TensorProto, ...)
// are generated from onnx-ml.proto by protoc-gen-go and are used with
// google.golang.org/protobuf/proto:
//
//	var m onnxpb.ModelProto
//	if err := proto.Unmarshal(data, &m); err != nil { ... }
//	for _, n := range m.GetGraph().GetNode() { ... n.GetOpType() ... }
//
// Tensor element types are stored as int32 (TensorProto.data_type,
// TypeProto.Tensor.elem_type); compare them with the TensorProto_DataType
// constants, e.g. int32(onnxpb.TensorProto_FLOAT).
//
// To regenerate onnx-ml.pb.go after editing onnx-ml.proto, run
// "go generate" in this directory. It needs protoc on PATH; protoc-gen-go
// is built from the version of google.golang.org/protobuf pinned in go.mod
// (declared there as a tool). The generated file records the protoc version
// in its header comment (v3.21.12 for the committed file).
package onnxpb

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --go_out=. --go_opt=paths=source_relative onnx-ml.proto onnx-data.proto"
