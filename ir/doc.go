// Package ir is inferd's in-memory model: a Model holding a Graph of Nodes
// that read and write named values, with initializers, typed graph inputs
// and outputs, attributes (subgraphs included) and opset imports.
//
// ir knows nothing of protobuf; package onnx converts between the ONNX wire
// format and these types. Every stage of inferd (optimizer, quantizer,
// engine) reads and writes ir.Graph, and every graph it holds must still be
// expressible as a valid ONNX model.
package ir
