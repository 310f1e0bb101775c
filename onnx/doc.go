// Package onnx converts between ONNX's protobuf wire format and inferd's
// ir.Model: it loads models from files or bytes (external data included),
// saves them back, and reads and writes single TensorProto, SequenceProto
// and OptionalProto values such as the ONNX test-data .pb files.
//
// The protobuf bindings live in the onnxpb subpackage, generated from
// onnx-ml.proto; nothing outside this package needs them.
package onnx
